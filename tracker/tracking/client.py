"""MLflow's ``mlflow.tracking.client`` import path: ``MlflowClient`` (and ``ViewType``)."""

from __future__ import annotations

from tracker.client import MlflowClient, TrackerClient
from tracker.entities import ViewType

__all__ = ["MlflowClient", "TrackerClient", "ViewType"]
