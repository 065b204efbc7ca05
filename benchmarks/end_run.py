"""``end_run`` after 3,000 ``log_metric`` calls, and the whole logging process (#16).

Each sample is a fresh interpreter that imports the library, selects an existing experiment
(created by an untimed process before), starts a run, logs 3,000 points and ends the run: the figure is ``end_run``'s time (median of 5); a note gives the whole
process's wall time (interpreter start included) and what it imported. MLflow (sqlite) does
the same when it is available. Standalone: ``python -m benchmarks.end_run [--no-mlflow]
[--code PATH]`` (``--code``: import tracker from another checkout, to compare before/after).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    NOT_INSTALLED,
    Context,
    Figure,
    find_mlflow_python,
    median,
    mlflow_env,
    progress,
    remove_tree,
    tracker_env,
)

POINTS = 3_000
REPEATS = 5
TARGET_END_RUN = 0.030
TARGET_PROCESS = 0.3

# Only `time` is loaded before the clock starts; printed: end_run seconds, then the imports.
SNIPPET = """\
import time
t0 = time.perf_counter()
import sys
import {module} as lib
lib.set_experiment("bench")
lib.start_run()
for i in range({points}):
    lib.log_metric("loss", 1.0 / (i + 1), step=i)
t1 = time.perf_counter()
lib.end_run()
t2 = time.perf_counter()
print(t2 - t1, t2 - t0, ",".join(m for m in ("pandas", "duckdb") if m in sys.modules) or "-")
"""


# Run first, untimed: the experiment exists, as when a training script runs again.
SETUP = 'import {module} as lib\nlib.set_experiment("bench")\n'


def sample(python: str, module: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """One fresh process: end_run seconds, in-process seconds, process wall time, imports."""
    subprocess.run([python, "-c", SETUP.format(module=module)], cwd=cwd, env=env,
                   capture_output=True, timeout=600, check=True)
    code = SNIPPET.format(module=module, points=POINTS)
    started = time.perf_counter()
    done = subprocess.run([python, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{module} end_run sample failed:\n{done.stderr[-2000:]}")
    end, inside, imported = done.stdout.strip().splitlines()[-1].split()
    return {"end_run": float(end), "inside": float(inside), "process": wall,
            "imported": imported}


def measure(python: str, module: str, env_for: Any, folder: Path, repeats: int) -> dict[str, Any]:
    samples = []
    for i in range(repeats + 1):  # the first one warms the page cache and .pyc files
        cwd = Path(tempfile.mkdtemp(prefix=f"{module}-", dir=folder))
        result = sample(python, module, env_for(cwd), cwd)
        if i:
            samples.append(result)
    return {
        "end_run": median([s["end_run"] for s in samples]),
        "process": median([s["process"] for s in samples]),
        "imported": sorted({s["imported"] for s in samples}),
        "samples": samples,
    }


def _tracker_env(cwd: Path, code: str | None = None) -> dict[str, str]:
    env = tracker_env()
    env["TRACKER_TRACKING_URI"] = str(cwd / "store")
    if code:
        env["PYTHONPATH"] = os.pathsep.join([code, env["PYTHONPATH"]])
    return env


def run(ctx: Context, code: str | None = None) -> list[Figure]:
    """The figures; ``code``: import tracker from this checkout (to measure older code)."""
    repeats = ctx.pick(REPEATS, 3)
    folder = ctx.folder("end_run")
    progress(f"tracker: {POINTS:,} log_metric + end_run, {repeats} fresh processes")
    ours = measure(sys.executable, "tracker", lambda cwd: _tracker_env(cwd, code), folder, repeats)
    theirs: dict[str, Any] | None = None
    if ctx.mlflow_python is not None:
        progress(f"mlflow: {POINTS:,} log_metric + end_run, {repeats} fresh processes")
        theirs = measure(ctx.mlflow_python, "mlflow", mlflow_env, folder, repeats)
    note = (f"median of {repeats} fresh processes; imported by the logging process: "
            f"{'/'.join(ours['imported'])}")
    return [
        Figure(f"end_run after {POINTS:,} log_metric", "time", ours["end_run"],
               theirs["end_run"] if theirs else NOT_INSTALLED, TARGET_END_RUN,
               note=note, extra={"tracker": ours, "mlflow": theirs}),
        Figure(f"whole process: import, {POINTS:,} log_metric, end_run", "time",
               ours["process"], theirs["process"] if theirs else NOT_INSTALLED, TARGET_PROCESS,
               note="wall time of the process, interpreter start included",
               extra={"tracker": ours, "mlflow": theirs}),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.end_run", description=__doc__)
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow even if available")
    parser.add_argument("--code", help="import tracker from this checkout instead")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="tracker-bench-end-run-"))
    mlflow_python = find_mlflow_python(disabled=args.no_mlflow)
    try:
        figures = run(Context(False, mlflow_python, scratch), args.code)
    finally:
        remove_tree(scratch)
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores; MLflow: "
          f"{mlflow_python or NOT_INSTALLED}")
    for f in figures:
        theirs = f"{f.theirs * 1e3:.0f} ms" if isinstance(f.theirs, float) else f.theirs
        print(f"{f.name}: tracker {f.ours * 1e3:.0f} ms, MLflow {theirs} "
              f"(target ≤ {f.target * 1e3:.0f} ms)\n    {f.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
