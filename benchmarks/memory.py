"""Bounded memory (#15): peak RSS of the moments that used to grow with the data.

* ``end_run`` of one run of N points (default 10 M; ``--quick`` 1 M): the training process's
  peak RSS (``resource.getrusage``) above its RSS just before ``end_run`` (its steady state).
  Target: ≤ 500 MB at 10 M points.
* the first ``search_runs`` of a new process on a store with one run of K distinct metric keys
  (1,000 and 100,000): seconds and peak RSS. Targets: ≤ 2 s / ≤ 10 s, ≤ 1 GB.
* the site build of the N-point run: peak RSS, and the size of the largest metric CSV (capped
  by ``[tool.tracker.site] max_csv_size``).

Every figure comes from a fresh process. Standalone: ``python -m benchmarks.memory [--quick]
[--points N] [--only end_run|keys|site] [--code PATH]``; ``--code`` imports tracker from
another checkout (to measure the code before a change).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.harness import (
    Context,
    Figure,
    Job,
    median,
    progress,
    remove_tree,
    run_job,
    tracker_env,
)

_MODULE = "benchmarks.memory"  # workers import it by name (also when run as __main__)
END_RUN_TARGET_MB = 500
KEYS_TARGETS = {1_000: 2.0, 100_000: 10.0}
SEARCH_RSS_TARGET_MB = 1024


def _rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak resident set size of this process so far (``ru_maxrss`` is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- workers (run in fresh interpreters) ----------------------------------------------------


def long_run(store: str, points: int, keys: int) -> dict[str, Any]:
    """Log ``points`` metric points over ``keys`` keys in one run, then end it."""
    import tracker

    tracker.set_tracking_uri(store)
    names = [f"metric_{k}" for k in range(keys)]
    started = time.perf_counter()
    tracker.start_run()
    log = tracker.log_metric
    for step in range(points // keys):
        for name in names:
            log(name, step * 0.001, step=step)
    logged = time.perf_counter() - started
    steady, peak_before = _rss_mb(), _peak_mb()
    started = time.perf_counter()
    tracker.end_run()
    return {
        "log_seconds": logged, "end_seconds": time.perf_counter() - started,
        "steady_mb": steady, "peak_before_mb": peak_before, "peak_mb": _peak_mb(),
        "pandas": "pandas" in sys.modules, "duckdb": "duckdb" in sys.modules,
    }


def many_keys_run(store: str, keys: int, steps: int) -> dict[str, Any]:
    """One run with ``keys`` distinct metric keys (``steps`` points each), one param, one tag."""
    import tracker

    tracker.set_tracking_uri(store)
    with tracker.start_run():
        tracker.log_param("classes", keys)
        tracker.set_tag("kind", "per-class")
        for step in range(steps):
            for k in range(keys):
                tracker.log_metric(f"class_{k:06d}_f1", (k % 97) / 97, step=step)
    return {}


def first_search(store: str) -> dict[str, Any]:
    """The first ``search_runs`` of this process: seconds (imports included) and peak RSS."""
    started = time.perf_counter()
    import tracker

    tracker.set_tracking_uri(store)
    frame = tracker.search_runs(filter_string="params.classes != '0'")
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(),
            "rows": len(frame), "columns": len(frame.columns)}


def site_build(store: str, out: str) -> dict[str, Any]:
    """Build the site of ``store``: seconds, peak RSS and the largest metric CSV."""
    from tracker.site.build import build

    started = time.perf_counter()
    build(store, out)
    csvs = list(Path(out).rglob("*.csv"))
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(),
            "largest_csv": max((p.stat().st_size for p in csvs), default=0)}


# -- measurements ---------------------------------------------------------------------------


def _env(code: str | None, folder: Path) -> dict[str, str]:
    env = tracker_env(auto_compact=False)
    if code:
        env["PYTHONPATH"] = os.pathsep.join([code, env["PYTHONPATH"]])
    # Nothing from earlier runs: the first process on a store is the first process ever.
    # (inside ``folder``, so it goes when the benchmark's scratch folder is removed)
    env["TRACKER_CACHE_DIR"] = tempfile.mkdtemp(prefix="cache-", dir=folder)
    return env


def measure_end_run(folder: Path, points: int, keys: int, code: str | None) -> dict[str, Any]:
    store = str(folder / f"long-{points}")
    result = run_job(Job(sys.executable, f"{_MODULE}:long_run",
                         {"store": store, "points": points, "keys": keys}, _env(code, folder), folder))
    result["above_mb"] = result["peak_mb"] - result["steady_mb"]
    result["store"] = store
    return result


def measure_keys(folder: Path, keys: int, code: str | None, repeats: int) -> dict[str, Any]:
    store = str(folder / f"keys-{keys}")
    env = _env(code, folder)
    run_job(Job(sys.executable, f"{_MODULE}:many_keys_run",
                {"store": store, "keys": keys, "steps": 2}, env, folder))
    samples = []
    for i in range(repeats):
        env = _env(code, folder)  # a new cache folder each time: the first process ever on the store
        progress(f"first search_runs, {keys:,} keys ({i + 1}/{repeats})")
        samples.append(run_job(Job(sys.executable, f"{_MODULE}:first_search",
                                   {"store": store}, env, folder)))
    return {
        "seconds": median([s["seconds"] for s in samples]),
        "peak_mb": max(s["peak_mb"] for s in samples),
        "columns": samples[0]["columns"], "samples": samples,
    }


def measure_site(folder: Path, store: str, code: str | None) -> dict[str, Any]:
    return run_job(Job(sys.executable, f"{_MODULE}:site_build",
                       {"store": store, "out": str(folder / "site")}, _env(code, folder), folder))


def run(ctx: Context, only: list[str] | None = None, code: str | None = None,
        points: int | None = None) -> list[Figure]:
    """The memory figures (``python -m benchmarks --only memory``)."""
    points = points or ctx.pick(10_000_000, 1_000_000)
    figures: list[Figure] = []
    folder = ctx.folder("memory")
    long: dict[str, Any] | None = None
    if not only or "end_run" in only or "site" in only:
        progress(f"one run of {points:,} points over 10 keys, then end_run")
        long = measure_end_run(folder, points, 10, code)
        figures.append(Figure(
            f"end_run of {points:,} points: peak RSS above steady state", "memory",
            long["above_mb"], "n/a", END_RUN_TARGET_MB if points <= 10_000_000 else None,
            note=(f"end_run {long['end_seconds']:.1f} s; steady {long['steady_mb']:.0f} MB, "
                  f"peak {long['peak_mb']:.0f} MB; logging {long['log_seconds']:.1f} s; "
                  f"pandas imported: {long['pandas']}, duckdb: {long['duckdb']}"),
            extra=long,
        ))
    if not only or "keys" in only:
        for keys, target in KEYS_TARGETS.items():
            keys = ctx.pick(keys, min(keys, 10_000))
            result = measure_keys(folder, keys, code, ctx.pick(3, 1))
            figures.append(Figure(
                f"first search_runs, one run with {keys:,} metric keys", "time",
                result["seconds"], "n/a", target,
                note=f"peak RSS {result['peak_mb']:.0f} MB (target ≤ {SEARCH_RSS_TARGET_MB}); "
                     f"{result['columns']:,} columns",
                extra=result,
            ))
    if long is not None and (not only or "site" in only):
        progress(f"site build of the {points:,}-point run")
        site = measure_site(folder, long["store"], code)
        figures.append(Figure(
            f"site build, one run of {points:,} points: peak RSS", "memory",
            site["peak_mb"], "n/a",
            note=f"{site['seconds']:.1f} s; largest metric CSV {site['largest_csv'] / 2**20:.1f} MB",
            extra=site,
        ))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 M points, 10,000 keys at most")
    parser.add_argument("--points", type=int, help="points of the long run (default 10 M)")
    parser.add_argument("--only", action="append", choices=("end_run", "keys", "site"))
    parser.add_argument("--code", help="import tracker from this checkout instead")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="tracker-bench-memory-"))
    try:
        figures = run(Context(args.quick, None, scratch), args.only, args.code, args.points)
    finally:
        remove_tree(scratch)
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    for f in figures:
        value = report.format_value(f.ours, f.kind)
        target = f" (target ≤ {report.format_value(f.target, f.kind)})" if f.target else ""
        print(f"{f.name}: {value}{target}\n    {f.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
