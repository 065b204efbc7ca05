"""Figure 5: ``search_runs`` over 100,000 compacted runs (``--quick``: 10,000).

The runs are logged in chunks of 10,000, each compacted once logged (as automatic compaction
would), so no compaction ever faces 100,000 loose files. Before compaction the store holds one
file per run, which is slow to read: that state is measured on the first chunk (10,000 runs).
MLflow is not measured here: logging 100,000 runs into it would take most of an hour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import stores
from benchmarks.harness import Context, Figure, progress
from benchmarks.search_runs import measure_queries, search_figures, tracker_side

TARGET_SECONDS = 1.0
CHUNK = 10_000


def build(folder: Path, store: str, experiment_id: str, start: int, stop: int) -> dict[str, Any]:
    """Log runs ``start``..``stop`` chunk by chunk, compacting after each; total times."""
    logging = compacting = 0.0
    for lo in range(start, stop, CHUNK):
        hi = min(stop, lo + CHUNK)
        progress(f"tracker: logging runs {lo:,}..{hi:,} and compacting")
        logging += stores.add_tracker_runs(folder, store, experiment_id, lo, hi)
        compacting += stores.compact_tracker_store(folder, store)["seconds"]
    return {"logging": logging, "compacting": compacting}


def run(ctx: Context) -> list[Figure]:
    runs = ctx.pick(100_000, CHUNK)
    folder = ctx.folder("search-large")
    store, experiment_id = stores.create_tracker_store(folder)
    side = tracker_side(folder, store, experiment_id)
    figures: list[Figure] = []
    progress(f"tracker: logging {CHUNK:,} runs ({stores.workers()} processes)")
    logging = stores.add_tracker_runs(folder, store, experiment_id, 0, CHUNK)
    if not ctx.quick:
        progress(f"tracker: searching {CHUNK:,} runs before compaction")
        before = measure_queries(side, processes=1, warm_calls=2)
        figures += search_figures(
            f"search_runs {CHUNK:,}, loose files", before, "not measured", None, CHUNK
        )
    progress(f"tracker: compacting {CHUNK:,} runs")
    first = stores.compact_tracker_store(folder, store)
    rest = build(folder, store, experiment_id, CHUNK, runs)
    progress(f"tracker: searching {runs:,} runs after compaction")
    after = measure_queries(side, processes=ctx.pick(3, 1), warm_calls=3)
    note = f"{first['files_read']:,} files -> {first['files_written']}"
    if runs > CHUNK:
        note += (
            f"; building the {runs:,}-run store: logging {logging + rest['logging']:.0f} s on "
            f"{stores.workers()} processes, compacting every {CHUNK:,} runs "
            f"{first['seconds'] + rest['compacting']:.0f} s in all"
        )
    figures.append(
        Figure(f"compact {CHUNK:,} loose runs (one-off)", "time", first["seconds"], "n/a",
               note=note, extra={"first": first, **rest})
    )
    figures += search_figures(
        f"search_runs {runs:,}, compacted", after, "not measured", TARGET_SECONDS, runs
    )
    return figures
