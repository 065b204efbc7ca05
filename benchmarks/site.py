"""Site benchmarks (issue #5): how long ``tracker build`` takes on big stores, how long the
rebuild after one new run takes, how big a run page is, and how fast the 10,000-run
leaderboard sorts and filters in Chromium.

    .venv/bin/python -m benchmarks.site [--sizes 2000 10000] [--workers N] [--keep DIR]
    .venv/bin/python -m benchmarks.site --sizes 100000 --reuse DIR   # opt-in (#14)

Each store holds one experiment of N runs (sweeps of 100: a parent and 99 trials), each with
3 metrics × 100 steps and 10 params, logged through ``TrackerClient`` by a few processes, then
compacted (as ``tracker compact`` or automatic compaction leaves a store). Builds run as
``python -m tracker build`` in a fresh process and are timed from outside (wall clock, imports
included); the build's own figure, its CPU time and its peak RSS are shown next to it (#14:
a 100,000-run full build should take at most 10 min and 4 GiB). When a figure misses its target the
operation is run again under cProfile and the top lines are printed. Takes ~5-8 minutes on
2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SIZES = (2_000, 10_000)
METRICS = ("loss", "rmse", "accuracy")
STEPS = 100
PARAMS = 10
SWEEP = 100  # runs per sweep: one parent, then its trials
T0 = 1_767_225_600_000  # 2026-01-01 UTC: start times are synthetic and deterministic
EXPERIMENT = "bench"
CHROMIUM = os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TARGET_BUILD = {2_000: 20.0, 10_000: 90.0, 100_000: 600.0}  # 100,000: opt-in (--sizes)
TARGET_RSS = {100_000: 4.0}  # GiB, of the full build (#14)
TARGET_REBUILD = 3.0
TARGET_PAGE = 100 * 1024
TARGET_BROWSER_MS = 200.0


@dataclass
class Row:
    """One line of the table."""

    figure: str
    value: float | None
    unit: str  # "s", "KB", "ms" or "GiB"
    target: float | None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value <= self.target


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[tuple[str, str]] = field(default_factory=list)


# -- the synthetic store ----------------------------------------------------------------------


def _series(rng: random.Random, key: str) -> list[float]:
    """100 steps of a plausible training curve (loss/rmse fall, accuracy rises)."""
    start, floor = (rng.uniform(0.5, 0.7), rng.uniform(0.75, 0.97)) if key == "accuracy" else (
        rng.uniform(2.0, 10.0), rng.uniform(0.2, 1.5))
    speed = rng.uniform(10, 40)
    return [floor + (start - floor) * math.exp(-step / speed) + rng.gauss(0, 0.01)
            for step in range(STEPS)]


def log_runs(store: str, experiment_id: str, start: int, stop: int) -> float:
    """Log runs ``start``…``stop - 1`` (a worker process); returns the seconds it took."""
    from tracker.client import TrackerClient
    from tracker.entities import Metric

    client = TrackerClient(store)
    began = time.perf_counter()
    parent: str | None = None
    for i in range(start, stop):
        rng = random.Random(i)
        begin = T0 + i * 60_000
        is_parent = i % SWEEP == 0
        run = client.create_run(experiment_id, start_time=begin, run_name=f"run-{i:05d}",
                                parent_run_id=None if is_parent else parent,
                                tags={"mlflow.source.git.commit": f"{i // 500:08x}" + "0" * 32})
        run_id = run.info.run_id
        parent = run_id if is_parent else parent
        metrics = [Metric(key, value, begin + 100 * step, step)
                   for key in METRICS for step, value in enumerate(_series(rng, key))]
        params = [(f"p{k}", str(round(rng.uniform(0, 10 ** (k % 4)), 4)) if k % 3 else
                   rng.choice(["adam", "sgd", "lbfgs", "rmsprop"])) for k in range(PARAMS)]
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id, end_time=begin + 45_000)
    client.flush()
    return time.perf_counter() - began


def make_store(store: str, runs: int, workers: int) -> dict[str, Any]:
    """A store of ``runs`` runs in one experiment, logged by ``workers`` processes, compacted."""
    from tracker.client import TrackerClient
    from tracker.store.compact import compact

    client = TrackerClient(store)
    experiment_id = client.create_experiment(EXPERIMENT)
    # Chunks are whole sweeps, so every trial's parent is logged by the same worker first.
    chunk = max(SWEEP, math.ceil(runs / workers / SWEEP) * SWEEP)
    ranges = [(a, min(a + chunk, runs)) for a in range(0, runs, chunk)]
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(log_runs, [store] * len(ranges), [experiment_id] * len(ranges),
                      [a for a, _ in ranges], [b for _, b in ranges]))
    logged = time.perf_counter() - began
    began = time.perf_counter()
    compact(TrackerClient(store).store)
    return {"experiment_id": experiment_id, "log_seconds": logged,
            "compact_seconds": time.perf_counter() - began}


def add_run(store: str, experiment_id: str, index: int) -> str:
    """One more finished top-level run (what a training job adds between two builds)."""
    from tracker.client import TrackerClient
    from tracker.entities import Metric

    client = TrackerClient(store)
    rng = random.Random(index)
    begin = T0 + index * 60_000
    run_id = client.create_run(experiment_id, start_time=begin,
                               run_name=f"run-{index:05d}").info.run_id
    client.log_batch(run_id, metrics=[
        Metric(key, value, begin + 100 * step, step)
        for key in METRICS for step, value in enumerate(_series(rng, key))
    ], params=[(f"p{k}", str(k)) for k in range(PARAMS)])
    client.set_terminated(run_id, end_time=begin + 45_000)
    client.flush()
    return run_id


# -- builds ------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    # Without PYTHONDONTWRITEBYTECODE: builds run from compiled modules, as an installed
    # tracker does (a shell that sets it made every build compile the site's modules again).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRACKER_", "MLFLOW_"))
           and k not in ("SOURCE_DATE_EPOCH", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class Build:
    """One ``tracker build`` process, measured from outside."""

    wall: float  # seconds, imports included
    own: float  # the build's own figure (its summary line)
    summary: str
    cpu: float  # user + system seconds of the process
    max_rss: int  # peak resident set size, bytes


def measured_build(store: str, out: Path, profile: Path | None = None) -> Build:
    """``tracker build`` in a fresh process: wall and CPU time, peak RSS, its summary line."""
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["-m", "tracker", "--store", store, "build", "--out", str(out)]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=_env(),
                                   cwd=out.parent)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        text, errors = stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"tracker build failed ({process.returncode}): {errors[-2000:]}")
    summary = text.strip().splitlines()[-1]
    match = re.search(r" in ([\d.]+) s ", summary)
    return Build(wall, float(match.group(1)) if match else float("nan"), summary,
                 usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def timed_build(store: str, out: Path, profile: Path | None = None) -> tuple[float, float, str]:
    """(wall seconds, the build's own seconds, its summary line) of ``tracker build``."""
    done = measured_build(store, out, profile)
    return done.wall, done.own, done.summary


def profile_top(path: Path, lines: int = 25) -> str:
    """The top lines of a cProfile dump: tracker's and the templates' functions by cumulative
    time (the CLI frames above ``build`` left out), then everything by own time."""
    import io

    buffer = io.StringIO()
    stats = pstats.Stats(str(path), stream=buffer)
    stats.sort_stats("cumulative").print_stats(r"tracker/site/|\.html|writer|bulk", lines)
    stats.sort_stats("tottime").print_stats(12)
    text = buffer.getvalue()
    parts = [p[p.find("   ncalls"):] for p in text.split("\n\n\n") if "   ncalls" in p]
    body = "\n".join(parts) if parts else text
    return re.sub(r"\S*/(tracker|site-packages|site_templates|lib/python[\d.]+)/", r"\1/", body)


def page_sizes(out: Path) -> list[int]:
    return sorted(p.stat().st_size for p in (out / "runs").glob("*.html"))


# -- the browser ---------------------------------------------------------------------------------

_TIMED = """([selector, filter]) => {
  const t0 = performance.now();
  if (selector) {
    const th = document.querySelector(selector);
    (th.querySelector("button") || th).click();
  }
  if (filter !== null) {
    const input = document.querySelector(".lb-filter");
    input.value = filter;
    input.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
    input.dispatchEvent(new Event("change", {bubbles: true}));
  }
  document.body.offsetHeight;  // style and layout included, not just the script
  return performance.now() - t0;
}"""

ACTIONS = (
    ("sort by rmse", "th[data-key='metrics.rmse']", None),
    ("sort by rmse, reversed", "th[data-key='metrics.rmse']", None),
    ("sort by a text param", "th[data-key='params.p0']", None),
    ("filter rmse < 1", None, "metrics.rmse < 1"),
    ("filter rmse < 1 and p0 = adam", None, "metrics.rmse < 1 and params.p0 = 'adam'"),
    ("filter text 'lbfgs'", None, "lbfgs"),
    ("clear the filter", None, ""),
)


def browser_timings(page_path: Path) -> tuple[dict[str, float], str]:
    """ms per leaderboard action in Chromium, and a note (or why nothing was measured)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {}, "playwright is not installed: browser timing skipped"
    if not Path(CHROMIUM).exists():
        return {}, f"no Chromium at {CHROMIUM}: browser timing skipped"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            began = time.perf_counter()
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            first_rows = page.evaluate(  # the first screen is in the HTML (#14)
                "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
            page.wait_for_function(  # a long board loads its row chunks first (#14)
                "() => !window.tracker || !window.tracker.leaderboards || (window.tracker"
                ".leaderboards.length === document.querySelectorAll('table.leaderboard').length"
                " && window.tracker.leaderboards.every(b => b.warmed !== false))",
                timeout=120_000)
            loaded = time.perf_counter() - began
            began = time.perf_counter()  # the filter data a search_runs filter reads (#10)
            page.wait_for_function(
                "() => !window.tracker || !window.tracker.leaderboards"
                " || window.tracker.leaderboards.every(b => b.records() !== null)",
                timeout=120_000)
            filter_data = time.perf_counter() - began
            timings = {}
            for name, selector, text in ACTIONS:
                if selector is not None:
                    samples = [page.evaluate(_TIMED, [selector, text])]
                else:  # the same filter twice in a row is a no-op: step away between samples
                    samples = []
                    for _ in range(3):
                        page.evaluate(_TIMED, [None, "lbfgs" if text == "" else ""])
                        samples.append(page.evaluate(_TIMED, [None, text]))
                timings[name] = statistics.median(samples)
        finally:
            browser.close()
    note = (f"first rows shown at {first_rows / 1000:.2f} s, every row loaded and ready in "
            f"{loaded:.1f} s, filter data loaded in "
            f"{filter_data:.1f} s")
    return timings, note + (f"; page errors: {errors}" if errors else "")


# -- one store size ------------------------------------------------------------------------------


def bench_size(runs: int, root: Path, workers: int, report: Report, reuse: str | None = None
               ) -> Path:
    """Every figure for one store size; returns the built site folder. ``reuse``: a folder
    whose ``store-<runs>`` (as ``make_store`` left it) is copied instead of logging a new one."""
    from tracker.client import TrackerClient

    store = str(root / f"store-{runs}")
    kept = Path(reuse) / f"store-{runs}" if reuse else None
    if kept is not None and (kept / "tracker-store.json").is_file():
        shutil.copytree(kept, store)  # a copy: the rebuild rows add runs to it
        experiment_id = TrackerClient(store).get_experiment_by_name(EXPERIMENT).experiment_id
        report.notes.append(f"{runs:,} runs: the store is a copy of {kept}")
    else:
        made = make_store(store, runs, workers)
        experiment_id = made["experiment_id"]
        report.notes.append(f"{runs:,} runs: logged in {made['log_seconds']:.0f} s by {workers} "
                            f"processes, compacted in {made['compact_seconds']:.1f} s")
    out = root / f"site-{runs}"
    done = measured_build(store, out)
    wall = done.wall
    report.rows.append(Row(f"full build, {runs:,} runs", wall, "s", TARGET_BUILD.get(runs),
                           f"build itself {done.own:.1f} s, CPU {done.cpu:.1f} s, peak RSS "
                           f"{done.max_rss / 2**30:.2f} GiB (load average "
                           f"{os.getloadavg()[0]:.1f}); {done.summary}"))
    report.rows.append(Row(f"full build peak RSS, {runs:,} runs", done.max_rss / 2**30, "GiB",
                           TARGET_RSS.get(runs)))
    if wall > TARGET_BUILD.get(runs, math.inf):
        profile = root / f"full-{runs}.prof"
        timed_build(store, root / f"site-{runs}-profiled", profile)
        report.profiles.append((f"full build, {runs:,} runs", profile_top(profile)))
    sizes = page_sizes(out)
    if sizes:
        report.rows.append(Row(f"run page, {runs:,} runs (median)", statistics.median(sizes)
                               / 1024, "KB", TARGET_PAGE / 1024,
                               f"max {sizes[-1] / 1024:.0f} KB over {len(sizes):,} run pages"))
    same_wall, same_own, _ = timed_build(store, out)
    report.notes.append(f"{runs:,} runs: rebuild with nothing new {same_wall:.1f} s "
                        f"(build itself {same_own:.1f} s)")
    add_run(store, experiment_id, runs)
    wall, own, summary = timed_build(store, out)
    report.rows.append(Row(f"rebuild after one new run, {runs:,} runs", wall, "s", TARGET_REBUILD,
                           f"build itself {own:.1f} s; {summary}"))
    if wall > TARGET_REBUILD:
        add_run(store, experiment_id, runs + 1)
        profile = root / f"rebuild-{runs}.prof"
        timed_build(store, out, profile)
        report.profiles.append((f"rebuild after one new run, {runs:,} runs",
                                profile_top(profile)))
    return out


def print_report(report: Report) -> None:
    print()
    print(f"{'figure':52s} {'value':>10s} {'target':>10s}  result")
    print("-" * 84)
    for row in report.rows:
        value = "—" if row.value is None else f"{row.value:.1f} {row.unit}"
        target = "—" if row.target is None else f"≤ {row.target:g} {row.unit}"
        result = {True: "PASS", False: "FAIL", None: "—"}[row.passed]
        print(f"{row.figure:52s} {value:>10s} {target:>10s}  {result}")
    print()
    for row in report.rows:
        if row.note:
            print(f"* {row.figure}: {row.note}")
    for note in report.notes:
        print(f"* {note}")
    for title, text in report.profiles:
        print(f"\nProfile (cProfile, cumulative) of: {title}\n{text}")


def main(argv: list[str] | None = None) -> int:
    """Run the site benchmarks and print the table; exit status 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep the stores and sites")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--reuse", metavar="DIR", help="copy DIR/store-<N> when it exists "
                        "instead of logging a new store (a 100,000-run store takes ~20 min)")
    args = parser.parse_args(argv)
    root = Path(args.keep or tempfile.mkdtemp(prefix="tracker-site-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    report = Report()
    began = time.perf_counter()
    try:
        out = None
        for runs in sorted(args.sizes):
            out = bench_size(runs, root, args.workers, report, args.reuse)
        if out is not None:
            _browser_rows(out, max(args.sizes), report)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report.notes.append(f"total {time.perf_counter() - began:.0f} s on {os.cpu_count()} cores")
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps([row.__dict__ for row in report.rows], indent=2))
    return 1 if any(row.passed is False for row in report.rows) else 0


def _browser_rows(out: Path, runs: int, report: Report) -> None:
    page = next(iter(sorted((out / "experiments").glob(f"{EXPERIMENT}.html"))), None)
    if page is None:
        report.notes.append("no leaderboard page found: browser timing skipped")
        return
    timings, note = browser_timings(page)
    report.notes.append(f"leaderboard in Chromium, {runs:,} runs: {note}")
    for name, ms in timings.items():
        report.rows.append(Row(f"leaderboard {name}, {runs:,} runs", ms, "ms", TARGET_BROWSER_MS))


if __name__ == "__main__":
    sys.exit(main())
