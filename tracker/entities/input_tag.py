"""MLflow's ``mlflow.entities.input_tag`` import path."""

from __future__ import annotations

from tracker.entities import InputTag

__all__ = ["InputTag"]
