"""MLflow's ``mlflow.entities.run`` import path."""

from __future__ import annotations

from tracker.entities import Run

__all__ = ["Run"]
