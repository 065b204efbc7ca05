"""Figure 2: cost of one fluent ``log_metric("loss", v, step=i)`` call inside an active run."""

from __future__ import annotations

import sys
import time
from typing import Any

from benchmarks.dataset import EXPERIMENT
from benchmarks.harness import (
    NOT_INSTALLED,
    Context,
    Figure,
    Job,
    median,
    mlflow_env,
    progress,
    run_job,
    tracker_env,
)

TARGET_SECONDS = 2e-6


def _log_loop(module: Any, batches: int, batch_size: int) -> dict[str, Any]:
    """Per-call time of each batch of ``batch_size`` calls, and the cost of ending the run."""
    module.set_experiment(EXPERIMENT)
    module.start_run()
    per_call = []
    step = 0
    for _ in range(batches):
        started = time.perf_counter()
        for i in range(step, step + batch_size):
            module.log_metric("loss", 0.5, step=i)
        per_call.append((time.perf_counter() - started) / batch_size)
        step += batch_size
    started = time.perf_counter()
    module.end_run()
    return {"per_call": per_call, "end_run": time.perf_counter() - started, "calls": step}


def tracker_log_metric(store: str, batches: int, batch_size: int) -> dict[str, Any]:
    import tracker

    tracker.set_tracking_uri(store)
    return _log_loop(tracker, batches, batch_size)


def mlflow_log_metric(batches: int, batch_size: int) -> dict[str, Any]:
    import mlflow  # tracking URI: MLFLOW_TRACKING_URI (sqlite in a temp folder)

    return _log_loop(mlflow, batches, batch_size)


def run(ctx: Context) -> list[Figure]:
    batches = 5
    size = ctx.pick(200_000, 20_000)
    folder = ctx.folder("log_metric")
    progress(f"tracker.log_metric x{batches * size:,}")
    ours = run_job(
        Job(sys.executable, f"{__name__}:tracker_log_metric",
            {"store": str(folder / "store"), "batches": batches, "batch_size": size},
            tracker_env(), folder)
    )
    theirs: dict[str, Any] | None = None
    if ctx.mlflow_python is not None:
        ml_batches, ml_size = 4, ctx.pick(50, 10)
        progress(f"mlflow.log_metric x{ml_batches * ml_size}")
        theirs = run_job(
            Job(ctx.mlflow_python, f"{__name__}:mlflow_log_metric",
                {"batches": ml_batches, "batch_size": ml_size}, mlflow_env(folder), folder)
        )
    note = f"median of {batches} batches of {size:,} calls; end_run {ours['end_run'] * 1e3:.0f} ms"
    if theirs is not None:
        note += f"; MLflow: {theirs['calls']} calls"
    return [
        Figure(
            f"log_metric per call ({batches * size:,} calls)",
            "time",
            median(ours["per_call"]),
            median(theirs["per_call"]) if theirs else NOT_INSTALLED,
            TARGET_SECONDS,
            note,
            {"tracker": ours, "mlflow": theirs},
        )
    ]
