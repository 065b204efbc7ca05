"""MLflow's ``mlflow.entities.run_info`` import path."""

from __future__ import annotations

from tracker.entities import RunInfo

__all__ = ["RunInfo"]
