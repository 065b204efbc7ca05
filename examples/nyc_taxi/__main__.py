"""``python -m examples.nyc_taxi``: the course's workflow into a store, then what it produced.

Trains the Lasso baseline and a hyperopt sweep of XGBoost, retrains the best params with
autologging, registers and promotes that model, predicts through its alias, and prints the
sweep, the predictions, the leaderboard and the registry.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from examples.nyc_taxi.train import EXPERIMENT_NAME, Settings


def build_parser() -> argparse.ArgumentParser:
    """The command line (defaults: small synthetic months, 5 trials, under a minute)."""
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m examples.nyc_taxi",
        description="NYC green-taxi trip duration, tracked with `import tracker as mlflow`: a "
        "Lasso baseline, a hyperopt sweep of XGBoost, the best params retrained with autologging, "
        "registered as 'nyc-taxi-duration' and promoted to Production with the alias 'champion', "
        "a prediction through that alias, then the leaderboard and the registry.",
    )
    parser.add_argument("--store", metavar="URI",
                        help="tracking store (default: the default tracking URI, ./tracking)")
    parser.add_argument("--train", metavar="PATH",
                        help="a real green_tripdata_YYYY-MM.parquet for training (needs --valid)")
    parser.add_argument("--valid", metavar="PATH",
                        help="a real green_tripdata_YYYY-MM.parquet for validation")
    parser.add_argument("--full", action="store_true",
                        help="realistic sizes: ~70k rows/month, 50 evals, 1000 rounds, "
                        "early stopping 50")
    parser.add_argument("--rows", type=int, metavar="N",
                        help=f"rows per generated month (default {defaults.train_rows})")
    parser.add_argument("--max-evals", type=int, metavar="N",
                        help=f"hyperopt trials (default {defaults.max_evals})")
    parser.add_argument("--num-boost-round", type=int, metavar="N",
                        help=f"XGBoost rounds per trial (default {defaults.num_boost_round})")
    parser.add_argument("--early-stopping-rounds", type=int, metavar="N",
                        help=f"XGBoost early stopping (default {defaults.early_stopping_rounds})")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help=f"data and search seed (default {defaults.seed})")
    return parser


def settings_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Settings:
    """Settings from parsed arguments; explicit options override ``--full``."""
    if (args.train is None) != (args.valid is None):
        parser.error("--train and --valid go together")
    for name in ("rows", "max_evals", "num_boost_round", "early_stopping_rounds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    settings = Settings.full() if args.full else Settings()
    overrides = {
        "store": args.store,
        "train_path": args.train,
        "valid_path": args.valid,
        "train_rows": args.rows,
        "valid_rows": args.rows,
        "max_evals": args.max_evals,
        "num_boost_round": args.num_boost_round,
        "early_stopping_rounds": args.early_stopping_rounds,
        "seed": args.seed,
    }
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, train, print the leaderboard; the exit code."""
    parser = build_parser()
    settings = settings_from_args(parser.parse_args(argv), parser)
    from examples.nyc_taxi.report import report
    from examples.nyc_taxi.train import run

    started = time.perf_counter()
    outcome = run(settings)
    print(report(outcome, time.perf_counter() - started, EXPERIMENT_NAME))
    return 0


if __name__ == "__main__":
    sys.exit(main())
