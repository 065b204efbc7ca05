"""Filling stores with the synthetic runs of ``dataset``, and compacting them.

Workers (run in subprocesses) and the parent-side helpers that start them. The tracker side
logs through the fluent API with automatic compaction off, so "before compaction" really is.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import dataset
from benchmarks.harness import Job, run_job, run_parallel, tracker_env

# -- workers ------------------------------------------------------------------------------------


def tracker_create_experiment(store: str) -> dict[str, Any]:
    import tracker

    tracker.set_tracking_uri(store)
    return {"experiment_id": tracker.set_experiment(dataset.EXPERIMENT).experiment_id}


def tracker_generate(store: str, experiment_id: str, start: int, stop: int) -> dict[str, Any]:
    import tracker

    tracker.set_tracking_uri(store)
    started = time.perf_counter()
    for i in range(start, stop):
        with tracker.start_run(experiment_id=experiment_id):
            tracker.log_params(dataset.params(i))
            tracker.log_metrics(dataset.metrics(i))
            tracker.set_tags(dataset.tags(i))
    return {"runs": stop - start, "seconds": time.perf_counter() - started}


def tracker_compact(store: str) -> dict[str, Any]:
    import tracker
    from tracker.store.compact import compact

    started = time.perf_counter()
    result = compact(tracker.TrackerClient(store).store)
    return {
        "seconds": time.perf_counter() - started,
        "runs": result.runs,
        "files_read": result.files_read,
        "files_written": result.files_written,
    }


def mlflow_generate(runs: int) -> dict[str, Any]:
    """MLflow's copy of the runs, through ``MlflowClient.log_batch`` (its fastest public path)."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment(dataset.EXPERIMENT)
    started = time.perf_counter()
    for i in range(runs):
        run_id = client.create_run(experiment_id).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in dataset.metrics(i).items()],
            params=[Param(k, v) for k, v in dataset.params(i).items()],
            tags=[RunTag(k, v) for k, v in dataset.tags(i).items()],
        )
        client.set_terminated(run_id)
    return {"experiment_id": experiment_id, "runs": runs, "seconds": time.perf_counter() - started}


# -- parent side --------------------------------------------------------------------------------


def workers() -> int:
    return max(1, os.cpu_count() or 1)


def create_tracker_store(folder: Path) -> tuple[str, str]:
    """A new store under ``folder`` with the benchmark experiment: (store path, experiment id)."""
    store = str(folder / "store")
    job = Job(sys.executable, f"{__name__}:tracker_create_experiment", {"store": store},
              tracker_env(auto_compact=False), folder, retries=1)
    return store, str(run_job(job)["experiment_id"])


def add_tracker_runs(folder: Path, store: str, experiment_id: str, start: int, stop: int) -> float:
    """Log runs ``start``..``stop`` with one process per core; return the wall time."""
    count = workers()
    bounds = [start + (stop - start) * k // count for k in range(count + 1)]
    jobs = [
        Job(sys.executable, f"{__name__}:tracker_generate",
            {"store": store, "experiment_id": experiment_id, "start": lo, "stop": hi},
            tracker_env(auto_compact=False), folder)
        for lo, hi in zip(bounds, bounds[1:])
        if hi > lo
    ]
    started = time.perf_counter()
    run_parallel(jobs)
    return time.perf_counter() - started


def compact_tracker_store(folder: Path, store: str) -> dict[str, Any]:
    job = Job(sys.executable, f"{__name__}:tracker_compact", {"store": store},
              tracker_env(auto_compact=False), folder)
    return run_job(job)
