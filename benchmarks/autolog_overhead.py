"""Overhead of XGBoost autologging: ``xgboost.train`` plain vs with ``tracker.xgboost.autolog``.

A synthetic regression (100,000 rows x 20 features by default, 80/20 train/validation split) is
trained for 300 rounds with an eval set and ``nthread=2``, in three modes, interleaved (plain,
per-round, full, plain, per-round, full, ...), and the median of each is compared with plain:

* ``plain``: autologging off;
* ``per-round``: ``tracker.xgboost.autolog(log_models=False, log_datasets=False)``: params,
  one metric per round, feature importance (target: at most 5 % slower than plain);
* ``full``: ``tracker.xgboost.autolog()``: the same plus the dataset digests and the model.

Each autologged call starts and ends its own run in a temporary store, so the figure includes
creating the run and publishing it. One short untimed training per mode first warms up imports
(pyarrow loads at the first flush) and caches. MLflow's ``mlflow.xgboost.autolog`` is timed the
same way in a separate process when ``import mlflow`` works; otherwise "not installed".

    python benchmarks/autolog_overhead.py [--quick] [--rows N] [--rounds N] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

MODES = ("plain", "per-round", "full")
TARGET_PERCENT = 5.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows (default 100000)")
    parser.add_argument("--features", type=int, default=20, help="features (default 20)")
    parser.add_argument("--rounds", type=int, default=300, help="boosting rounds (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="timed trainings per mode")
    parser.add_argument("--nthread", type=int, default=2, help="XGBoost threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="20000 rows, 100 rounds")
    parser.add_argument("--no-mlflow", action="store_true", help="do not time MLflow")
    parser.add_argument("--mlflow-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rounds = 20_000, 100
    return args


def make_data(rows: int, features: int) -> tuple[Any, Any]:
    """Train and validation ``DMatrix`` of a seeded linear-plus-noise regression."""
    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(42)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    y = x @ rng.standard_normal(features) + np.sin(x[:, 0] * 3) + rng.standard_normal(rows) * 0.1
    cut = rows * 4 // 5
    return xgb.DMatrix(x[:cut], label=y[:cut]), xgb.DMatrix(x[cut:], label=y[cut:])


def train_once(dtrain: Any, dvalid: Any, rounds: int, nthread: int) -> tuple[float, float]:
    """Wall and CPU seconds of one ``xgboost.train`` call (whatever autologging is on).

    CPU time (all threads of this process) is steadier than wall time on a busy machine.
    """
    import xgboost as xgb

    params = {"objective": "reg:squarederror", "max_depth": 6, "eta": 0.1, "nthread": nthread,
              "seed": 0}
    wall, cpu = time.perf_counter(), time.process_time()
    xgb.train(params, dtrain, rounds, evals=[(dvalid, "validation")], verbose_eval=False)
    return time.perf_counter() - wall, time.process_time() - cpu


def set_mode(mode: str) -> None:
    import tracker.xgboost

    tracker.xgboost.autolog(disable=True)
    if mode == "per-round":
        tracker.xgboost.autolog(log_models=False, log_datasets=False)
    elif mode == "full":
        tracker.xgboost.autolog()


Samples = dict[str, list[tuple[float, float]]]  # mode -> [(wall s, cpu s), ...]


def time_tracker(args: argparse.Namespace, store: str) -> Samples:
    """Interleaved timings of every mode (after one untimed warm-up training per mode)."""
    import tracker

    tracker.set_tracking_uri(store)
    dtrain, dvalid = make_data(args.rows, args.features)
    for mode in MODES:
        set_mode(mode)
        train_once(dtrain, dvalid, 5, args.nthread)
    samples: Samples = {mode: [] for mode in MODES}
    for repeat in range(args.repeats):
        for mode in MODES:
            set_mode(mode)
            samples[mode].append(train_once(dtrain, dvalid, args.rounds, args.nthread))
            wall, cpu = samples[mode][-1]
            print(f"  {repeat + 1}/{args.repeats} {mode:9s} {wall:7.2f} s wall {cpu:7.2f} s cpu",
                  file=sys.stderr, flush=True)
    set_mode("off")
    return samples


def mlflow_worker(args: argparse.Namespace) -> None:
    """In a separate process: plain vs ``mlflow.xgboost.autolog(log_models=False, ...)``."""
    import mlflow
    import mlflow.xgboost

    folder = tempfile.mkdtemp(prefix="autolog-mlflow-")
    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    dtrain, dvalid = make_data(args.rows, args.features)
    samples: Samples = {"plain": [], "per-round": []}
    for _ in range(args.repeats + 1):  # the first pair warms up
        for mode in samples:
            mlflow.xgboost.autolog(disable=mode == "plain", log_models=False, log_datasets=False,
                                   silent=True)
            samples[mode].append(train_once(dtrain, dvalid, args.rounds, args.nthread))
    print("RESULT " + json.dumps({mode: values[1:] for mode, values in samples.items()}))


def time_mlflow(args: argparse.Namespace) -> Samples | str:
    """MLflow's samples from a subprocess, or why there are none."""
    if args.no_mlflow:
        return "not measured"
    probe = subprocess.run([sys.executable, "-c", "import mlflow"], capture_output=True)
    if probe.returncode != 0:
        return "not installed"
    argv = [sys.executable, os.path.abspath(__file__), "--mlflow-worker", "--rows", str(args.rows),
            "--features", str(args.features), "--rounds", str(args.rounds),
            "--repeats", str(args.repeats), "--nthread", str(args.nthread)]
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ,
                          "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            found = json.loads(line[len("RESULT "):])
            return {mode: [(w, c) for w, c in values] for mode, values in found.items()}
    return f"failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"


def report(args: argparse.Namespace, ours: Samples, theirs: Samples | str) -> None:
    """Print medians (wall and CPU), overhead against plain, and the target check."""
    print(f"xgboost.train: {args.rows:,} rows x {args.features} features (80 % train), "
          f"{args.rounds} rounds, eval set, nthread={args.nthread}; median of {args.repeats}, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'mode':<20}{'wall s':>8}{'overhead':>10}{'cpu s':>8}{'overhead':>10}  wall samples")
    rows = [(f"tracker {mode}", ours[mode], ours["plain"]) for mode in MODES]
    if isinstance(theirs, dict):
        rows += [(f"mlflow {mode}", values, theirs["plain"]) for mode, values in theirs.items()]
    for label, values, base in rows:
        wall, cpu = _median(values, 0), _median(values, 1)
        print(f"{label:<20}{wall:>8.3f}{_percent(wall, _median(base, 0)):>10}{cpu:>8.3f}"
              f"{_percent(cpu, _median(base, 1)):>10}  " + " ".join(f"{w:.3f}" for w, _ in values))
    if not isinstance(theirs, dict):
        print(f"{'mlflow per-round':<20}{theirs:>8}")
    overhead = (_median(ours["per-round"], 0) / _median(ours["plain"], 0) - 1) * 100
    verdict = "PASS" if overhead <= TARGET_PERCENT else "FAIL"
    print(f"per-round logging overhead (wall) {overhead:+.1f} % (target <= {TARGET_PERCENT:.0f} %): "
          f"{verdict}")


def _median(values: list[tuple[float, float]], index: int) -> float:
    return statistics.median(v[index] for v in values)


def _percent(value: float, base: float) -> str:
    return "—" if value == base else f"{(value / base - 1) * 100:+.1f} %"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; the exit status is 0 (a missed target is printed)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args = parse_args(argv)
    if args.mlflow_worker:
        mlflow_worker(args)
        return 0
    with tempfile.TemporaryDirectory(prefix="autolog-bench-") as folder:
        ours = time_tracker(args, os.path.join(folder, "store"))
    report(args, ours, time_mlflow(args))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
