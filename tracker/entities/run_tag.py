"""MLflow's ``mlflow.entities.run_tag`` import path."""

from __future__ import annotations

from tracker.entities import RunTag

__all__ = ["RunTag"]
