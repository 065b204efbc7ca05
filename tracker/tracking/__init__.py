"""MLflow's ``mlflow.tracking`` spelling: ``tracker.tracking.MlflowClient`` and the URI functions."""

from __future__ import annotations

import os

from tracker.api import get_tracking_uri, set_registry_uri, set_tracking_uri
from tracker.client import MlflowClient, TrackerClient

__all__ = [
    "MlflowClient",
    "TrackerClient",
    "get_registry_uri",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "set_registry_uri",
    "set_tracking_uri",
]


def is_tracking_uri_set() -> bool:
    """True when ``set_tracking_uri`` was called or a tracking URI variable is set."""
    from tracker import api

    return api._tracking_uri is not None or any(
        os.environ.get(v) for v in ("TRACKER_TRACKING_URI", "MLFLOW_TRACKING_URI")
    )


def get_registry_uri() -> str:
    """The registry lives in the tracking store, so this is the tracking URI."""
    return get_tracking_uri()
