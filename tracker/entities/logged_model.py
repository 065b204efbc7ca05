"""MLflow 3's logged-model entities (``mlflow.entities.LoggedModel`` and friends).

A logged model is a model with its own id (``m-<32 hex>``), its own params, tags and status,
and the metrics linked to it by ``log_metric(..., model_id=)``; ``models:/<model_id>`` loads it.
``tracker.logged_models`` stores and folds them.
"""

from __future__ import annotations

from tracker.entities import (
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
)

__all__ = [
    "LoggedModel",
    "LoggedModelInput",
    "LoggedModelOutput",
    "LoggedModelParameter",
    "LoggedModelStatus",
    "LoggedModelTag",
]
