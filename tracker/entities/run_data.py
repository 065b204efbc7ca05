"""MLflow's ``mlflow.entities.run_data`` import path."""

from __future__ import annotations

from tracker.entities import RunData

__all__ = ["RunData"]
