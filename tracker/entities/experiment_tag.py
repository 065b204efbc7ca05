"""MLflow's ``mlflow.entities.experiment_tag`` import path."""

from __future__ import annotations

from tracker.entities import ExperimentTag

__all__ = ["ExperimentTag"]
