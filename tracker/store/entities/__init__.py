"""MLflow's ``mlflow.store.entities`` import path: ``PagedList``."""

from __future__ import annotations

from tracker.store.entities.paged_list import PagedList

__all__ = ["PagedList"]
