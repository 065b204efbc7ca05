"""``mlflow.projects`` is not part of tracker: every use raises ``ProjectsNotSupportedError``.

MLflow Projects run code from an ``MLproject`` file in a conda, virtualenv or Docker environment
they build. tracker records runs and does not build environments or launch code; run the entry
point yourself (``python train.py --alpha 0.5``, a Makefile target or a CI job) with tracking
calls inside it, and put the parameters in ``log_params``.

Importing this module works, so a script that only imports it keeps running; calling
``run()`` (or any other name here) raises the error, which says what to use instead.
"""

from __future__ import annotations

from typing import Any, NoReturn

from tracker.exceptions import TrackerError

__all__ = ["ProjectsNotSupportedError", "run"]


class ProjectsNotSupportedError(TrackerError, NotImplementedError):
    """MLflow Projects (``mlflow.projects.run``, ``MLproject`` files) are not part of tracker."""

    error_code = "NOT_IMPLEMENTED"


def _message(name: str) -> str:
    return (
        f"mlflow.projects.{name} is not supported: MLflow Projects (MLproject files, conda/"
        "docker environments, `mlflow run`) are not part of tracker. Run the entry point "
        "yourself, e.g. `python train.py --alpha 0.5` or a Makefile/CI step, with the "
        "tracking calls (start_run, log_params, log_metric) inside the script."
    )


def run(uri: Any = None, entry_point: str = "main", *args: Any, **kwargs: Any) -> NoReturn:
    """Always raises ``ProjectsNotSupportedError`` (MLflow Projects are not part of tracker)."""
    raise ProjectsNotSupportedError(_message("run()"))


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise ProjectsNotSupportedError(_message(name))
