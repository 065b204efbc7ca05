"""MLflow's ``mlflow.entities.experiment`` import path."""

from __future__ import annotations

from tracker.entities import Experiment

__all__ = ["Experiment"]
