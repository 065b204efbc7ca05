"""Figure 4: ``search_runs`` over 2,000 runs, all of them and filtered, cold and warm,
before and after compaction (MLflow has no compaction: its figures repeat on both sides).

First process: the first ``search_runs`` of a fresh process when no query snapshot exists
(tracker: pandas and DuckDB load, then the whole store is read and folded; it saves a snapshot).
Cold: the first call of each later fresh process (tracker restores the snapshot). Warm: later
calls in one process. Both sides return MLflow's DataFrame.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import dataset, stores
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

TARGET_SECONDS = 0.050
QUERIES = {"all": "", "filtered": dataset.FILTER}
TEMPS = {
    "first": "first process (no snapshot)",
    "cold": "cold (new process)",
    "warm": "warm",
}

# -- workers ------------------------------------------------------------------------------------


def _time_searches(search: Callable[[], Any], warm_calls: int) -> dict[str, Any]:
    """The first call (cold), then ``warm_calls`` more (warm), each timed on its own."""
    started = time.perf_counter()
    frame = search()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(warm_calls):
        started = time.perf_counter()
        search()
        warm.append(time.perf_counter() - started)
    return {"cold": cold, "warm": warm, "rows": len(frame), "columns": len(frame.columns)}


def tracker_search(store: str, experiment_id: str, filter_string: str, warm_calls: int) -> dict[str, Any]:
    import tracker

    tracker.set_tracking_uri(store)
    return _time_searches(lambda: tracker.search_runs([experiment_id], filter_string), warm_calls)


def mlflow_search(experiment_id: str, filter_string: str, warm_calls: int) -> dict[str, Any]:
    import mlflow

    return _time_searches(lambda: mlflow.search_runs([experiment_id], filter_string), warm_calls)


# -- parent side --------------------------------------------------------------------------------


@dataclass
class Side:
    """How to run searches on one side: the interpreter, its environment, the worker."""

    python: str
    target: str
    env: dict[str, str]
    cwd: Path
    kwargs: dict[str, Any]


def tracker_side(folder: Path, store: str, experiment_id: str) -> Side:
    return Side(sys.executable, f"{__name__}:tracker_search", tracker_env(auto_compact=False),
                folder, {"store": store, "experiment_id": experiment_id})


def measure(side: Side, filter_string: str, processes: int, warm_calls: int) -> dict[str, Any]:
    """First: a fresh process with no query snapshot (it leaves one behind); cold: median over
    ``processes`` more fresh processes (tracker restores that snapshot); warm: median of all
    later calls."""
    cache = tempfile.mkdtemp(prefix="query-cache-", dir=side.cwd)
    env = {**side.env, "TRACKER_CACHE_DIR": cache}
    results = [
        run_job(Job(side.python, side.target,
                    {**side.kwargs, "filter_string": filter_string, "warm_calls": warm_calls},
                    env, side.cwd, retries=1))
        for _ in range(processes + 1)
    ]
    return {
        "first": results[0]["cold"],
        "cold": median([r["cold"] for r in results[1:]]),
        "warm": median([w for r in results for w in r["warm"]]),
        "rows": results[0]["rows"],
        "columns": results[0]["columns"],
    }


def measure_queries(side: Side, processes: int, warm_calls: int) -> dict[str, dict[str, Any]]:
    return {name: measure(side, fs, processes, warm_calls) for name, fs in QUERIES.items()}


def count_check(side: str, found: dict[str, Any], expected: int) -> str:
    """Empty when a search returned the rows the data set implies, else a loud note."""
    return "" if found["rows"] == expected else f"{side} WRONG: {found['rows']:,} rows, not {expected:,}"


def search_figures(
    label: str,
    ours: dict[str, dict[str, Any]],
    theirs: dict[str, dict[str, Any]] | str,
    target: float | None,
    runs: int,
) -> list[Figure]:
    """Six rows (all/filtered x first/cold/warm) for one state of the store."""
    expected = {"all": runs, "filtered": dataset.expected_matches(runs)}
    figures = []
    for name in QUERIES:
        mine = ours[name]
        other = theirs[name] if isinstance(theirs, dict) else None
        checks = [count_check("tracker", mine, expected[name])]
        if other is not None:
            checks.append(count_check("MLflow", other, expected[name]))
        query = "all" if name == "all" else f"filtered ({expected[name]:,})"
        for temp in ("first", "cold", "warm"):
            figures.append(
                Figure(f"{label}, {query}, {TEMPS[temp]}", "time", mine[temp],
                       other[temp] if other is not None else str(theirs), target,
                       "; ".join(filter(None, checks)), {"tracker": mine, "mlflow": other})
            )
    return figures


def mlflow_results(ctx: Context, runs: int, processes: int, warm_calls: int) -> dict[str, Any] | str:
    if ctx.mlflow_python is None:
        return NOT_INSTALLED
    folder = ctx.folder("search-mlflow")
    env = mlflow_env(folder)
    progress(f"mlflow: logging {runs:,} runs (MlflowClient.log_batch)")
    generated = run_job(Job(ctx.mlflow_python, f"{stores.__name__}:mlflow_generate",
                            {"runs": runs}, env, folder))
    progress("mlflow: searching")
    side = Side(ctx.mlflow_python, f"{__name__}:mlflow_search", env, folder,
                {"experiment_id": generated["experiment_id"]})
    return measure_queries(side, processes, warm_calls)


def run(ctx: Context) -> list[Figure]:
    runs = ctx.pick(2_000, 500)
    processes, warm_calls = ctx.pick(3, 1), 5
    folder = ctx.folder("search")
    store, experiment_id = stores.create_tracker_store(folder)
    progress(f"tracker: logging {runs:,} runs")
    stores.add_tracker_runs(folder, store, experiment_id, 0, runs)
    side = tracker_side(folder, store, experiment_id)
    progress("tracker: searching before compaction")
    before = measure_queries(side, processes, warm_calls)
    compacted = stores.compact_tracker_store(folder, store)
    progress("tracker: searching after compaction")
    after = measure_queries(side, processes, warm_calls)
    theirs = mlflow_results(ctx, runs, processes, ctx.pick(3, 1))
    size = f"{runs:,}"
    return [
        *search_figures(f"search_runs {size}, loose files", before, theirs, TARGET_SECONDS, runs),
        Figure(f"compact {size} runs (one-off)", "time", compacted["seconds"], "n/a",
               note=f"{compacted['files_read']:,} files -> {compacted['files_written']}",
               extra=compacted),
        *search_figures(f"search_runs {size}, compacted", after, theirs, TARGET_SECONDS, runs),
    ]
