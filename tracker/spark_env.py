"""What a Spark driver shares with its executors: the tracking URI, experiment and active run.

A Spark task runs in an executor's own Python process, which inherits neither the driver's
tracking URI nor its active run. ``tracker.start_run``/``end_run`` call ``share_active_run``
(only once pyspark is imported) to put them into the active SparkContext's executor
environment, so a run an objective starts on an executor nests under the driver's run
(``TRACKER_PARENT_RUN_ID``, read by ``tracker.start_run``). ``tracker.hyperopt.spark`` suspends
the sharing while it opens or ends its own parent run. Standard library only; pyspark is
looked up in ``sys.modules``, never imported.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from tracker.exceptions import InvalidArgumentError

ENV_PARENT = "TRACKER_PARENT_RUN_ID"
ENV_URI = "TRACKER_TRACKING_URI"
ENV_EXPERIMENT = "TRACKER_EXPERIMENT_ID"

_sharing_suspended = False  # True while fmin_spark opens or ends its own parent run


@contextlib.contextmanager
def sharing_suspended() -> Iterator[None]:
    """Leave the executor environment alone inside the block (``fmin_spark``'s parent run)."""
    global _sharing_suspended
    _sharing_suspended = True
    try:
        yield
    finally:
        _sharing_suspended = False


def portable_uri(uri: str) -> str:
    """The tracking URI as an executor must see it: local paths made absolute."""
    from tracker.uri import resolve_local_path

    if uri.lower().startswith("s3://"):
        return uri
    return resolve_local_path(uri, notice=False)


def share_active_run(parent_run_id: str | None, uri: str, experiment_id: str | None) -> None:
    """Put the driver's active run into the executor environment of the active SparkContext.

    Called by ``tracker.start_run``/``end_run`` only when pyspark is already imported. PySpark
    sends ``SparkContext.environment`` with every job, so Python workers started for later jobs
    see these variables (``TRACKER_PARENT_RUN_ID`` nests their first run under the driver's).
    Spark keys its Python worker daemons by that environment: each active run under which
    Python jobs run gets its own daemon per executor until the SparkContext stops.
    ``TRACKER_SPARK_SHARE_RUN=0`` turns this off.

    Args:
        parent_run_id: the driver's active run (None: no run is active any more).
        uri: the tracking URI (made absolute for executors).
        experiment_id: the active run's experiment.
    """
    if _sharing_suspended or os.environ.get("TRACKER_SPARK_SHARE_RUN", "1").strip().lower() in (
        "0", "false", "no"
    ):
        return
    pyspark = sys.modules.get("pyspark")
    context = getattr(pyspark, "SparkContext", None)
    sc = getattr(context, "_active_spark_context", None)
    if sc is None:
        return
    env = sc.environment
    if parent_run_id is None:
        for name in (ENV_PARENT, ENV_EXPERIMENT):
            env.pop(name, None)
        return
    try:
        env[ENV_URI] = portable_uri(uri)
    except InvalidArgumentError:
        return
    env[ENV_PARENT] = parent_run_id
    if experiment_id is not None:
        env[ENV_EXPERIMENT] = experiment_id


def env_parent_run_id() -> str | None:
    """The run an executor's first run nests under (set by ``share_active_run``)."""
    return os.environ.get(ENV_PARENT) or None
