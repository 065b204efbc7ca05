"""MLflow's ``mlflow.entities.dataset_input`` import path."""

from __future__ import annotations

from tracker.entities import DatasetInput

__all__ = ["DatasetInput"]
