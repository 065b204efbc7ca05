"""MLflow's ``mlflow.entities.run_status`` import path."""

from __future__ import annotations

from tracker.entities import RunStatus

__all__ = ["RunStatus"]
