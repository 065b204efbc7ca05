"""MLflow's ``mlflow.entities.model_registry.model_version_tag`` import path."""

from __future__ import annotations

from tracker.entities.model_registry import ModelVersionTag

__all__ = ["ModelVersionTag"]
