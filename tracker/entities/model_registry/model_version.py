"""MLflow's ``mlflow.entities.model_registry.model_version`` import path."""

from __future__ import annotations

from tracker.entities.model_registry import ModelVersion

__all__ = ["ModelVersion"]
