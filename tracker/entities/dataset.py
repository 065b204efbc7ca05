"""MLflow's ``mlflow.entities.dataset`` import path."""

from __future__ import annotations

from tracker.entities import Dataset

__all__ = ["Dataset"]
