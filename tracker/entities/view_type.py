"""MLflow's ``mlflow.entities.view_type`` import path."""

from __future__ import annotations

from tracker.entities import ViewType

__all__ = ["ViewType"]
