"""MLflow's ``mlflow.tracking`` spelling: ``tracker.tracking.MlflowClient``."""

from __future__ import annotations

from tracker.client import MlflowClient, TrackerClient

__all__ = ["MlflowClient", "TrackerClient"]
