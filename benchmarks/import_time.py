"""Figure 1: wall time of ``import tracker`` (vs ``import mlflow``) in a fresh interpreter."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    NOT_INSTALLED,
    Context,
    Figure,
    median,
    mlflow_env,
    progress,
    python_snippet,
    tracker_env,
)

TARGET_SECONDS = 0.3

# Only `time` is loaded before the clock starts, so nothing the package needs is preloaded.
SNIPPET = "import time\nt0 = time.perf_counter()\nimport {module}\nprint(time.perf_counter() - t0)\n"


def measure(python: str, module: str, env: dict[str, str], cwd: Path, repeats: int) -> dict[str, Any]:
    """Median import time over ``repeats`` fresh interpreters (after one discarded warm-up)."""
    code = SNIPPET.format(module=module)
    python_snippet(python, code, env, cwd)  # warm-up: writes .pyc files, fills the page cache
    imports, processes = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        out = python_snippet(python, code, env, cwd)
        processes.append(time.perf_counter() - started)
        imports.append(float(out.strip().splitlines()[-1]))
    return {"median": median(imports), "samples": imports, "process_median": median(processes)}


def run(ctx: Context) -> list[Figure]:
    repeats = ctx.pick(5, 3)
    folder = ctx.folder("import")
    progress(f"import tracker x{repeats}")
    ours = measure(sys.executable, "tracker", tracker_env(), folder, repeats)
    theirs: dict[str, Any] | None = None
    if ctx.mlflow_python is not None:
        progress(f"import mlflow x{repeats}")
        theirs = measure(ctx.mlflow_python, "mlflow", mlflow_env(folder), folder, repeats)
    note = (
        f"median of {repeats}; whole process incl. interpreter start: "
        f"ours {ours['process_median']:.2f} s"
    )
    if theirs is not None:
        note += f", MLflow {theirs['process_median']:.2f} s"
    return [
        Figure(
            "import tracker / import mlflow",
            "time",
            ours["median"],
            theirs["median"] if theirs else NOT_INSTALLED,
            TARGET_SECONDS,
            note,
            {"tracker": ours, "mlflow": theirs},
        )
    ]
