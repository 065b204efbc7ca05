"""Shared machinery: figures, the run context, and workers run in fresh subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULT_MARKER = "BENCH-RESULT "
WORKER_TIMEOUT = 1800
NOT_INSTALLED = "not installed"

# Workers that reported their result and then died of SIGABRT while the interpreter shut down.
EXIT_ABORTS: list[str] = []

# Switches MLflow's usage telemetry off (3.x reads MLFLOW_DISABLE_TELEMETRY and DO_NOT_TRACK=true).
MLFLOW_QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}


class BenchmarkError(RuntimeError):
    """A worker failed or returned something unexpected."""


@dataclass
class Figure:
    """One row of the table: our figure, MLflow's (a number or why there is none), a target.

    ``ours``/``theirs`` are in base units: seconds for times, runs/s for rates.
    """

    name: str
    kind: str  # "time" (lower is better), "memory" (MB, lower is better) or "rate" (higher)
    ours: float | None
    theirs: float | str | None = None
    target: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    benchmark: str = ""  # the --only name that produced it (set by __main__)

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "rate"

    @property
    def ratio(self) -> float | None:
        """How many times better ours is than MLflow's (> 1: we are faster)."""
        if not isinstance(self.theirs, (int, float)) or not self.ours:
            return None
        return self.ours / self.theirs if self.higher_is_better else self.theirs / self.ours

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.ours is None:
            return None
        return self.ours >= self.target if self.higher_is_better else self.ours <= self.target


@dataclass
class Context:
    """What every benchmark gets: sizes, where MLflow lives, a scratch folder."""

    quick: bool
    mlflow_python: str | None
    scratch: Path

    def folder(self, name: str) -> Path:
        """A new empty folder under the scratch folder (also the cwd of workers using it)."""
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.scratch))

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# -- interpreters and environments ------------------------------------------------------------


def find_mlflow_python(disabled: bool = False) -> str | None:
    """The interpreter that measures MLflow, or None when MLflow is not available.

    Order: ``TRACKER_BENCH_MLFLOW_PYTHON``; ``.venv-bench/bin/python`` in the checkout; this
    interpreter when it can import mlflow (the ``bench`` extra is installed here).
    """
    if disabled:
        return None
    explicit = os.environ.get("TRACKER_BENCH_MLFLOW_PYTHON")
    if explicit:
        if not has_module(explicit, "mlflow"):
            raise BenchmarkError(
                f"TRACKER_BENCH_MLFLOW_PYTHON={explicit} cannot import mlflow; install it there "
                "or unset the variable."
            )
        return explicit
    side_venv = REPO / ".venv-bench" / "bin" / "python"
    if side_venv.exists() and has_module(str(side_venv), "mlflow"):
        return str(side_venv)
    if has_module(sys.executable, "mlflow"):
        return sys.executable
    return None


def has_module(python: str, module: str) -> bool:
    """Whether ``python`` can find ``module`` (without importing it)."""
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, timeout=60, check=False)
    except OSError:
        return False
    return done.returncode == 0


def base_env() -> dict[str, str]:
    """This environment without tracker/MLflow settings, with the checkout on PYTHONPATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith(("TRACKER_", "MLFLOW_")) or k.startswith("TRACKER_BENCH_"))
        # Installed packages run from compiled bytecode: a shell that turns it off would make
        # every fresh process compile tracker's modules again (~40 ms of a first search, #16).
        and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def tracker_env(auto_compact: bool = True) -> dict[str, str]:
    env = base_env()
    if not auto_compact:
        env["TRACKER_AUTO_COMPACT"] = "0"
    return env


def mlflow_env(folder: Path) -> dict[str, str]:
    """MLflow on a sqlite database in ``folder``, telemetry off."""
    env = base_env()
    env.update(MLFLOW_QUIET_ENV)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    return env


# -- workers ------------------------------------------------------------------------------------


@dataclass
class Job:
    """A call of ``module:function(**kwargs)`` in a fresh ``python`` with ``env`` in ``cwd``."""

    python: str
    target: str
    kwargs: dict[str, Any]
    env: dict[str, str]
    cwd: Path
    retries: int = 0  # only for jobs safe to repeat (read-only or idempotent)

    def argv(self) -> list[str]:
        return [self.python, "-m", "benchmarks.worker", self.target, json.dumps(self.kwargs)]


def run_job(job: Job) -> dict[str, Any]:
    """Run one worker and return the dict its function returned."""
    for attempt in range(job.retries + 1):
        try:
            return run_parallel([job])[0]
        except BenchmarkError as exc:
            if attempt == job.retries:
                raise
            progress(f"retrying once: {exc}")
    raise AssertionError("unreachable")


def run_parallel(jobs: list[Job]) -> list[dict[str, Any]]:
    """Run workers at the same time (e.g. one per core to generate runs); results in order."""
    procs = [
        subprocess.Popen(
            job.argv(), cwd=job.cwd, env=job.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for job in jobs
    ]
    outputs = [proc.communicate(timeout=WORKER_TIMEOUT) for proc in procs]
    return [
        _parse(job, proc.returncode, out, err)
        for job, proc, (out, err) in zip(jobs, procs, outputs)
    ]


def _parse(job: Job, returncode: int, out: str, err: str) -> dict[str, Any]:
    lines = [line for line in out.splitlines() if line.startswith(RESULT_MARKER)]
    if lines and returncode == -signal.SIGABRT:
        # The work was done and reported; the interpreter then aborted while shutting down.
        EXIT_ABORTS.append(f"{job.target}: {err.strip().splitlines()[-1] if err.strip() else ''}")
    elif returncode != 0 or not lines:
        tail = "\n".join((err or out).strip().splitlines()[-15:])
        raise BenchmarkError(f"{job.target} failed (exit {returncode}) under {job.python}:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT_MARKER):])
    return result


def python_snippet(python: str, code: str, env: dict[str, str], cwd: Path) -> str:
    """Run ``python -c code`` and return its stdout (for the import-time measurement)."""
    done = subprocess.run(
        [python, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=WORKER_TIMEOUT, check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise BenchmarkError(f"{python} -c ... failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
