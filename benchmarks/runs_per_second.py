"""Figure 3: whole runs per second, each with 10 params, 5 metrics and 3 tags (fluent API)."""

from __future__ import annotations

import sys
import time
from typing import Any

from benchmarks import dataset
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

TARGET_RATE = 500.0


def _runs_loop(module: Any, batches: int, batch_size: int) -> dict[str, Any]:
    """Runs per second of each batch; the data is built before the clock starts."""
    module.set_experiment(dataset.EXPERIMENT)
    total = batches * batch_size
    fields = [(dataset.params(i), dataset.metrics(i), dataset.tags(i)) for i in range(total)]
    with module.start_run():  # warm-up: first-run costs (git lookup, sessions) stay out
        pass
    rates = []
    started_all = time.perf_counter()
    for b in range(batches):
        started = time.perf_counter()
        for params, metrics, tags in fields[b * batch_size:(b + 1) * batch_size]:
            with module.start_run():
                module.log_params(params)
                module.log_metrics(metrics)
                module.set_tags(tags)
        rates.append(batch_size / (time.perf_counter() - started))
    return {"rates": rates, "overall": total / (time.perf_counter() - started_all), "runs": total}


def tracker_runs(store: str, batches: int, batch_size: int) -> dict[str, Any]:
    import tracker

    tracker.set_tracking_uri(store)
    return _runs_loop(tracker, batches, batch_size)


def mlflow_runs(batches: int, batch_size: int) -> dict[str, Any]:
    import mlflow

    return _runs_loop(mlflow, batches, batch_size)


def run(ctx: Context) -> list[Figure]:
    batches = 5
    size = ctx.pick(300, 60)
    folder = ctx.folder("runs")
    progress(f"tracker: {batches * size:,} runs")
    ours = run_job(
        Job(sys.executable, f"{__name__}:tracker_runs",
            {"store": str(folder / "store"), "batches": batches, "batch_size": size},
            tracker_env(), folder)
    )
    theirs: dict[str, Any] | None = None
    if ctx.mlflow_python is not None:
        ml_size = ctx.pick(20, 5)
        progress(f"mlflow: {batches * ml_size} runs")
        theirs = run_job(
            Job(ctx.mlflow_python, f"{__name__}:mlflow_runs",
                {"batches": batches, "batch_size": ml_size}, mlflow_env(folder), folder)
        )
    note = (
        f"median of {batches} batches of {size} runs; all {ours['runs']:,} runs together: "
        f"{ours['overall']:.0f} runs/s (default settings, auto-compaction included)"
    )
    if theirs is not None:
        note += f"; MLflow: {theirs['runs']} runs"
    return [
        Figure(
            "runs per second (10 params, 5 metrics, 3 tags)",
            "rate",
            median(ours["rates"]),
            median(theirs["rates"]) if theirs else NOT_INSTALLED,
            TARGET_RATE,
            note,
            {"tracker": ours, "mlflow": theirs},
        )
    ]
