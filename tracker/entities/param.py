"""MLflow's ``mlflow.entities.param`` import path."""

from __future__ import annotations

from tracker.entities import Param

__all__ = ["Param"]
