"""MLflow's ``mlflow.entities.model_registry.registered_model`` import path."""

from __future__ import annotations

from tracker.entities.model_registry import RegisteredModel

__all__ = ["RegisteredModel"]
