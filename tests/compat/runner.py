"""Run the compatibility corpus: each script in a fresh folder and process, then check the store.

A script in ``scripts/`` is MLflow code as MLflow's docs, examples and courses write it
(``import mlflow``); the ``shim/`` on PYTHONPATH makes that ``tracker``. After the script exits,
the check of the same name in ``checks.py`` reads what it logged through ``TrackerClient``. A
script whose first lines contain ``# compat: slow`` (model training, autologging, sweeps) is marked
slow in pytest.

    python -m tests.compat            # all scripts, two at a time; prints "N of M pass"
    python -m tests.compat 07 18      # the scripts whose names contain these
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHIM = HERE / "shim"
SCRIPTS = sorted(p for p in (HERE / "scripts").glob("*.py") if not p.name.startswith("_"))
TIMEOUT = 180


@dataclass
class Outcome:
    """What one corpus script did: its process, and the check's verdict."""

    name: str
    ok: bool
    seconds: float
    detail: str


def is_slow(script: Path) -> bool:
    head = script.read_text(encoding="utf-8").splitlines()[:5]
    return any(line.strip() == "# compat: slow" for line in head)


def script_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "TRACKER_")) and k != "PYTHONPATH"}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(SHIM), str(ROOT)]),
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "TRACKER_CACHE_DIR": str(workdir / ".cache"),
        "PYTHONHASHSEED": "0",
    })
    return env


def run_script(script: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``workdir`` as its current folder and the shim on its path."""
    return subprocess.run(
        [sys.executable, str(script)], cwd=workdir, env=script_env(workdir),
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )


def check_script(script: Path, workdir: Path, proc: subprocess.CompletedProcess[str]) -> None:
    """Raise AssertionError unless the script exited 0 and its check accepts the store."""
    from tests.compat import checks

    if proc.returncode != 0:
        raise AssertionError(
            f"{script.name} exited with {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
    check = getattr(checks, "check_" + script.stem, None)
    if check is None:
        raise AssertionError(f"no check_{script.stem} in tests/compat/checks.py")
    check(checks.Logged(workdir, proc))


def _run_one(script: Path) -> tuple[Path, Path, subprocess.CompletedProcess[str] | None, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"compat-{script.stem}-"))
    start = time.perf_counter()
    try:
        proc: subprocess.CompletedProcess[str] | None = run_script(script, workdir)
    except subprocess.TimeoutExpired:
        proc = None
    return script, workdir, proc, time.perf_counter() - start


def main(argv: list[str]) -> int:
    scripts = [s for s in SCRIPTS if not argv or any(a in s.name for a in argv)]
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for script, workdir, proc, seconds in pool.map(_run_one, scripts):
            try:
                if proc is None:
                    raise AssertionError(f"{script.name} ran longer than {TIMEOUT} s")
                check_script(script, workdir, proc)
                outcomes.append(Outcome(script.stem, True, seconds, ""))
            except Exception:  # noqa: BLE001 - report every failure, then go on
                outcomes.append(Outcome(script.stem, False, seconds, traceback.format_exc(limit=3)))
            last = outcomes[-1]
            print(f"{'PASS' if last.ok else 'FAIL'} {last.name} ({last.seconds:.1f} s)", flush=True)
            if last.ok:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                print("    " + last.detail.strip().replace("\n", "\n    "), flush=True)
                print(f"    (its folder is kept: {workdir})", flush=True)
    passed = sum(o.ok for o in outcomes)
    print(f"{passed} of {len(outcomes)} pass ({time.perf_counter() - start:.0f} s)")
    return 0 if passed == len(outcomes) else 1
