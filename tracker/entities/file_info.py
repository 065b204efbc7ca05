"""MLflow's ``mlflow.entities.file_info`` import path."""

from __future__ import annotations

from tracker.entities import FileInfo

__all__ = ["FileInfo"]
