"""``python -m benchmarks.spark_sweep``: sweep throughput on Spark (local mode), with tracker.

Runs ``tracker.hyperopt.fmin`` with ``SparkTrials`` at parallelism 1, 2 and 4 (``--trials``
trials of an objective that sleeps ``--seconds``), and the same sweeps with plain
``hyperopt.fmin`` and no tracking, and prints trials per second for both: the difference is the
overhead tracker adds per trial (opening the run on the executor, logging, publishing, and the
driver's matching of trials to runs at the end).

    python -m benchmarks.spark_sweep --trials 8 --seconds 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any


def _objective(seconds: float) -> Any:
    def objective(params: dict[str, Any]) -> float:
        time.sleep(seconds)
        return float(params["x"]) ** 2

    return objective


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--master", default="local[4]")
    args = parser.parse_args(argv)

    import numpy as np
    from hyperopt import SparkTrials, fmin, hp, rand
    from pyspark.sql import SparkSession

    import tracker
    import tracker.hyperopt

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spark = (SparkSession.builder.master(args.master).config("spark.driver.memory", "1g")
             .config("spark.ui.enabled", "false")
             .config("spark.executorEnv.PYTHONPATH", here).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    space = {"x": hp.uniform("x", -1, 1)}
    objective = _objective(args.seconds)
    print(f"{args.trials} trials of a {args.seconds:g} s objective, Spark {args.master}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'parallelism':>12} {'hyperopt (trials/s)':>20} {'tracker (trials/s)':>20} "
          f"{'overhead per trial (s)':>24}")
    with tempfile.TemporaryDirectory(prefix="tracker-sweep-bench-") as tmp:
        tracker.set_tracking_uri(os.path.join(tmp, "store"))
        tracker.set_experiment("sweep-bench")
        for parallelism in (1, 2, 4):
            timings = []
            for tracked in (False, True):
                run = tracker.hyperopt.fmin if tracked else fmin
                started = time.perf_counter()
                run(objective, space, algo=rand.suggest, max_evals=args.trials,
                    trials=SparkTrials(parallelism=parallelism, spark_session=spark),
                    rstate=np.random.default_rng(parallelism), max_queue_len=parallelism,
                    show_progressbar=False)
                timings.append(time.perf_counter() - started)
            plain, tracked_s = timings
            overhead = (tracked_s - plain) * parallelism / args.trials
            print(f"{parallelism:>12} {args.trials / plain:>20.2f} "
                  f"{args.trials / tracked_s:>20.2f} {overhead:>24.2f}")
    spark.stop()


if __name__ == "__main__":
    main()
