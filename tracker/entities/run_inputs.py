"""MLflow's ``mlflow.entities.run_inputs`` import path."""

from __future__ import annotations

from tracker.entities import RunInputs

__all__ = ["RunInputs"]
