"""MLflow's ``mlflow.entities.metric`` import path."""

from __future__ import annotations

from tracker.entities import Metric

__all__ = ["Metric"]
