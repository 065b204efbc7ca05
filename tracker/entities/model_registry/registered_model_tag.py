"""MLflow's ``mlflow.entities.model_registry.registered_model_tag`` import path."""

from __future__ import annotations

from tracker.entities.model_registry import RegisteredModelTag

__all__ = ["RegisteredModelTag"]
