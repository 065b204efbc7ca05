"""MLflow's ``mlflow.entities.lifecycle_stage`` import path."""

from __future__ import annotations

from tracker.entities import LifecycleStage

__all__ = ["LifecycleStage"]
