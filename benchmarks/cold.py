"""Cold paths (#16): the first search of a new process, imports included, next to MLflow's.

Every sample is a fresh interpreter in which only ``time`` is loaded before the clock starts:
the figure is the time from ``import`` to the DataFrame of the filtered search (240 of 2,000
runs), and the peak RSS of the whole process (``ru_maxrss``, the background snapshot save
included: tracker's process waits for it before reporting). The states measured:

* **import floor**: ``import pandas, pyarrow, duckdb`` alone, what any search of ours must pay;
* **new process, snapshot**: the store was searched before, so a query snapshot and its
  express file exist: the search is answered from the express file, without DuckDB;
* **new process, changed since**: one run was logged after the snapshot was saved, so DuckDB
  restores it and reads the new file;
* **first process ever**: an empty cache folder (no snapshot, no cached footers);
* **warm**: the calls after the first in one process (before/after compaction).

Stores: 2,000 runs logged with automatic compaction off ("loose", one file per run) and a copy
compacted into one part; MLflow 3 (sqlite) holds the same 2,000 runs. Samples are interleaved:
each round runs every tracker state, then MLflow, so load on the machine hits both sides alike;
the figure is the median of the rounds and the load average is printed. With
``TRACKER_BENCH_COLD_100K=<folder>`` (holding ``store`` and ``eid``, see ``python -m
benchmarks.cold --make-100k``) the first process ever on 100,000 compacted runs is measured
too; without it that row is built from scratch (≈ 4 minutes) unless ``--quick``.

Standalone: ``python -m benchmarks.cold [--quick] [--no-mlflow] [--code PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import dataset, stores
from benchmarks.harness import (
    NOT_INSTALLED,
    REPO,
    Context,
    Figure,
    Job,
    find_mlflow_python,
    median,
    mlflow_env,
    progress,
    remove_tree,
    run_job,
    tracker_env,
)

RUNS = 2_000
LARGE = 100_000
TARGET_FIRST_SEARCH = 0.35
TARGET_FIRST_PROCESS = 0.9
TARGET_FIRST_PROCESS_MB = 240
TARGET_LARGE = 4.0
TARGET_LARGE_MB = 1024
TARGET_WARM = 0.020

FLOOR = """\
import time
t0 = time.perf_counter()
import pandas, pyarrow, duckdb
print(time.perf_counter() - t0)
"""

# {setup} points the library at the store; {after} runs once the figures are taken.
SEARCH = """\
import time
t0 = time.perf_counter()
import {module} as lib
{setup}
frame = lib.search_runs([{eid!r}], {filter!r})
first = time.perf_counter() - t0
warm = []
for _ in range({warm}):
    t = time.perf_counter()
    lib.search_runs([{eid!r}], {filter!r})
    warm.append(time.perf_counter() - t)
{after}
import json, resource, sys
print(json.dumps({{"first": first, "warm": warm, "rows": len(frame),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "pandas": "pandas" in sys.modules}}))
"""

TRACKER_SETUP = "lib.set_tracking_uri({store!r})"
# The background snapshot save belongs to the process: wait for it before reading the peak.
TRACKER_AFTER = "from tracker.query import snapshot\nsnapshot.wait_for_saves()"


def _snippet(python: str, code: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([python, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cold sample failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def tracker_sample(store: str, eid: str, cache: Path, cwd: Path, warm: int = 0,
                   code: str | None = None) -> dict[str, Any]:
    env = tracker_env(auto_compact=False)
    env["TRACKER_CACHE_DIR"] = str(cache)
    if code:
        env["PYTHONPATH"] = os.pathsep.join([code, env["PYTHONPATH"]])
    snippet = SEARCH.format(module="tracker", setup=TRACKER_SETUP.format(store=store), eid=eid,
                            filter=dataset.FILTER, warm=warm, after=TRACKER_AFTER)
    return dict(json.loads(_snippet(sys.executable, snippet, env, cwd)))


def mlflow_sample(python: str, eid: str, folder: Path) -> dict[str, Any]:
    snippet = SEARCH.format(module="mlflow", setup="", eid=eid, filter=dataset.FILTER, warm=0,
                            after="")
    return dict(json.loads(_snippet(python, snippet, mlflow_env(folder), folder)))


def floor_sample(cwd: Path) -> float:
    return float(_snippet(sys.executable, FLOOR, tracker_env(), cwd))


def _loadavg() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min)"


def build_2000(folder: Path) -> dict[str, str]:
    """Loose and compacted copies of the 2,000-run store: {state: store path}, and the id."""
    store, eid = stores.create_tracker_store(folder)
    progress(f"tracker: logging {RUNS:,} runs")
    stores.add_tracker_runs(folder, store, eid, 0, RUNS)
    loose = str(folder / "loose")
    shutil.copytree(store, loose)
    stores.compact_tracker_store(folder, store)
    return {"loose": loose, "compacted": store, "eid": eid}


def make_100k(folder: Path) -> tuple[str, str]:
    """A compacted 100,000-run store in ``folder`` (logged in compacted chunks of 10,000)."""
    from benchmarks import search_large

    folder.mkdir(parents=True, exist_ok=True)
    store, eid = stores.create_tracker_store(folder)
    search_large.build(folder, store, eid, 0, LARGE)
    (folder / "eid").write_text(eid)
    return store, eid


def run(ctx: Context, code: str | None = None) -> list[Figure]:
    rounds = ctx.pick(5, 2)
    folder = ctx.folder("cold")
    built = build_2000(folder)
    eid = built["eid"]
    mlflow_folder: Path | None = None
    mlflow_eid = ""
    if ctx.mlflow_python is not None:
        mlflow_folder = ctx.folder("cold-mlflow")
        progress(f"mlflow: logging {RUNS:,} runs (MlflowClient.log_batch)")
        mlflow_eid = run_job(Job(ctx.mlflow_python, f"{stores.__name__}:mlflow_generate",
                                 {"runs": RUNS}, mlflow_env(mlflow_folder), mlflow_folder))[
                                     "experiment_id"]
    # Snapshots for the "new process" rows: one untimed process per state saves them.
    caches = {state: Path(tempfile.mkdtemp(prefix=f"cache-{state}-", dir=folder))
              for state in ("loose", "compacted")}
    for state, cache in caches.items():
        tracker_sample(built[state], eid, cache, folder, code=code)
    # "changed": the compacted store with one run logged after its snapshot was saved; each
    # sample starts from a copy of that stale snapshot (the DuckDB path: restore, read 1 file).
    changed = str(folder / "changed")
    shutil.copytree(built["compacted"], changed)
    stale = Path(tempfile.mkdtemp(prefix="cache-changed-", dir=folder))
    tracker_sample(changed, eid, stale, folder, code=code)
    stores.add_tracker_runs(folder, changed, eid, RUNS, RUNS + 1)
    if mlflow_folder is not None:
        mlflow_sample(str(ctx.mlflow_python), mlflow_eid, mlflow_folder)  # warms the page cache
    load_before = _loadavg()
    progress(f"{rounds} interleaved rounds ({load_before})")
    samples: dict[str, list[dict[str, Any]]] = {}

    def add(name: str, value: dict[str, Any]) -> None:
        samples.setdefault(name, []).append(value)

    for _ in range(rounds):
        add("floor", {"first": floor_sample(folder)})
        for state in ("compacted", "loose"):
            add(f"snapshot-{state}", tracker_sample(built[state], eid, caches[state], folder,
                                                    warm=5, code=code))
            empty = Path(tempfile.mkdtemp(prefix="cache-empty-", dir=folder))
            add(f"first-{state}", tracker_sample(built[state], eid, empty, folder, code=code))
            remove_tree(empty)
        copy = Path(tempfile.mkdtemp(prefix="cache-stale-", dir=folder))
        shutil.copytree(stale, copy, dirs_exist_ok=True)
        add("changed", tracker_sample(changed, eid, copy, folder, code=code))
        remove_tree(copy)
        if mlflow_folder is not None:
            add("mlflow", mlflow_sample(str(ctx.mlflow_python), mlflow_eid, mlflow_folder))
    load_after = _loadavg()

    def med(name: str, key: str = "first") -> float:
        return median([s[key] for s in samples[name]])

    def warm(name: str) -> float:
        return median([w for s in samples[name] for w in s["warm"]])

    theirs: dict[str, Any] = {"first": NOT_INSTALLED, "peak_mb": NOT_INSTALLED}
    if "mlflow" in samples:
        theirs = {"first": med("mlflow"), "peak_mb": med("mlflow", "peak_mb")}
    floor = med("floor")
    loads = f"{load_before} before, {load_after} after"
    wrong = [f"{name} WRONG: {s['rows']} rows" for name, values in samples.items()
             for s in values if "rows" in s and s["rows"] != dataset.expected_matches(
                 RUNS + 1 if name == "changed" else RUNS)]
    note = f"median of {rounds} interleaved fresh processes; {loads}" + (
        "; " + "; ".join(sorted(set(wrong))) if wrong else "")
    figures = [
        Figure("import pandas + pyarrow + duckdb (the floor)", "time", floor, "n/a",
               note="what any first search in a new process pays before doing anything"),
    ]
    for state in ("compacted", "loose"):
        size = f"{RUNS:,} {state}"
        first = med(f"snapshot-{state}")
        figures.append(Figure(
            f"first search of a new process, {size} (snapshot), imports included", "time",
            first, theirs["first"], TARGET_FIRST_SEARCH if state == "compacted" else None,
            note=f"{first / floor:.2f}× the import floor; {note}",
            extra={"samples": samples[f"snapshot-{state}"], "floor": floor}))
        figures.append(Figure(
            f"first process ever, {size} (no snapshot), imports included", "time",
            med(f"first-{state}"), theirs["first"], TARGET_FIRST_PROCESS, note=note,
            extra={"samples": samples[f"first-{state}"]}))
        figures.append(Figure(
            f"first process ever, {size}: peak RSS", "memory", med(f"first-{state}", "peak_mb"),
            theirs["peak_mb"], TARGET_FIRST_PROCESS_MB,
            note="whole process, the background snapshot save included"))
    changed_first = med("changed")
    figures.append(Figure(
        f"first search of a new process, {RUNS:,} compacted + 1 run logged since the snapshot",
        "time", changed_first, theirs["first"], None,
        note=f"{changed_first / floor:.2f}× the import floor; the store changed since the "
             f"express file was written, so DuckDB restores the snapshot and reads the new "
             f"run's file; {note}",
        extra={"samples": samples["changed"]}))
    figures.append(Figure(f"warm search_runs, {RUNS:,} loose", "time", warm("snapshot-loose"),
                          "n/a", TARGET_WARM, note="5 calls after the first, in each process"))
    figures.append(Figure(f"warm search_runs, {RUNS:,} compacted", "time",
                          warm("snapshot-compacted"), "n/a", TARGET_WARM))
    figures += _large(ctx, folder, code)
    return figures


def _large(ctx: Context, folder: Path, code: str | None) -> list[Figure]:
    given = os.environ.get("TRACKER_BENCH_COLD_100K")
    if given:
        store, eid = str(Path(given) / "store"), Path(given, "eid").read_text().strip()
    elif ctx.quick:
        return []
    else:
        progress(f"tracker: building a {LARGE:,}-run store (set TRACKER_BENCH_COLD_100K to reuse one)")
        store, eid = make_100k(folder / "large")
    runs = []
    for _ in range(ctx.pick(3, 1)):
        empty = Path(tempfile.mkdtemp(prefix="cache-large-", dir=folder))
        runs.append(tracker_sample(store, eid, empty, folder, code=code))
        remove_tree(empty)
    seconds, peak = median([r["first"] for r in runs]), median([r["peak_mb"] for r in runs])
    expected = dataset.expected_matches(LARGE)
    wrong = [f"WRONG: {r['rows']} rows" for r in runs if r["rows"] != expected]
    note = f"median of {len(runs)} fresh processes; {_loadavg()}" + (
        "; " + "; ".join(wrong) if wrong else "")
    return [
        Figure(f"first process ever, {LARGE:,} compacted (no snapshot), imports included",
               "time", seconds, "not measured", TARGET_LARGE, note=note, extra={"samples": runs}),
        Figure(f"first process ever, {LARGE:,} compacted: peak RSS", "memory", peak,
               "not measured", TARGET_LARGE_MB,
               note="whole process, the background snapshot save included"),
    ]


def compile_bytecode(checkout: Path) -> None:
    """Compile the measured checkout's ``tracker`` package, as ``pip install`` does: the fresh
    processes then time tracker the way users run it (MLflow and the floor's packages were
    compiled when they were installed)."""
    import compileall

    compileall.compile_dir(str(checkout / "tracker"), quiet=1, workers=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds, no 100,000-run store")
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow even if available")
    parser.add_argument("--code", help="import tracker from this checkout instead")
    parser.add_argument("--make-100k", metavar="FOLDER",
                        help="only build the 100,000-run store in FOLDER, for TRACKER_BENCH_COLD_100K")
    args = parser.parse_args(argv)
    if args.make_100k:
        make_100k(Path(args.make_100k).resolve())
        return 0
    from benchmarks import report

    compile_bytecode(Path(args.code) if args.code else REPO)
    scratch = Path(tempfile.mkdtemp(prefix="tracker-bench-cold-"))
    mlflow_python = find_mlflow_python(disabled=args.no_mlflow)
    print(report.machine_line(report.machine(mlflow_python)), flush=True)
    try:
        figures = run(Context(args.quick, mlflow_python, scratch), args.code)
    finally:
        remove_tree(scratch)
    print()
    print(report.table(figures))
    print("\nNotes:\n" + report.notes(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
