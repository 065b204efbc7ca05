"""MLflow's ``mlflow.entities.run_outputs`` import path."""

from __future__ import annotations

from tracker.entities import RunOutputs

__all__ = ["RunOutputs"]
