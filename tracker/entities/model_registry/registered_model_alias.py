"""MLflow's ``mlflow.entities.model_registry.registered_model_alias`` import path."""

from __future__ import annotations

from tracker.entities.model_registry import RegisteredModelAlias

__all__ = ["RegisteredModelAlias"]
