"""The course's training workflow, tracked with ``import tracker as mlflow``.

A Lasso baseline run (params, dataset inputs, rmse, pickled preprocessor and model as artifacts),
then a hyperopt sweep of XGBoost with one run per trial, then a leaderboard of the experiment.
"""

from __future__ import annotations

import getpass
import os
import pickle
import tempfile
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

import tracker as mlflow
from examples.nyc_taxi import data

if TYPE_CHECKING:
    import pandas as pd
    import xgboost as xgb

EXPERIMENT_NAME = "nyc-taxi-experiment"
TRAIN_MONTH = (2021, 1)
VALID_MONTH = (2021, 2)
LEADERBOARD_PARAMS = [
    "alpha", "max_depth", "learning_rate", "min_child_weight", "reg_alpha", "reg_lambda",
]


@dataclass(frozen=True)
class Settings:
    """What to train on, how much, and where to track it.

    ``train_path``/``valid_path`` name real TLC files; without them months are generated with
    ``train_rows``/``valid_rows`` rows from ``seed``. ``store`` ``None`` means the default
    tracking URI (``./tracking``, or ``MLFLOW_TRACKING_URI``/``TRACKER_TRACKING_URI``).
    """

    store: str | None = None
    train_path: str | None = None
    valid_path: str | None = None
    train_rows: int = 10_000
    valid_rows: int = 10_000
    max_evals: int = 5
    num_boost_round: int = 100
    early_stopping_rounds: int = 10
    seed: int = 42
    alpha: float = 0.01

    @classmethod
    def full(cls, **overrides: Any) -> Settings:
        """Realistic sizes: rows of green Jan/Feb 2021, the course's 50 evals and 1000 rounds."""
        base = cls(train_rows=76_518, valid_rows=64_572, max_evals=50,
                   num_boost_round=1000, early_stopping_rounds=50)
        return replace(base, **overrides)


@dataclass(frozen=True)
class Month:
    """A prepared month: the DataFrame, where it came from, and its dataset name."""

    df: pd.DataFrame
    source: str
    name: str


@dataclass
class Outcome:
    """What a training session produced (ids refer to runs in ``store_path``)."""

    store_path: str
    experiment_id: str
    lasso_run_id: str
    lasso_rmse: float
    xgboost_run_ids: list[str] = field(default_factory=list)
    best_params: dict[str, Any] = field(default_factory=dict)
    leaderboard: pd.DataFrame | None = None


# --------------------------------------------------------------------------- data


def load(path: str | None, month: tuple[int, int], rows: int, seed: int) -> Month:
    """A prepared month: read from ``path``, or generated deterministically from ``seed``."""
    if path is not None:
        raw = data.load_month(path)
        name = os.path.splitext(os.path.basename(path))[0]
        return Month(data.prepare(raw), path, name)
    year, mon = month
    raw = data.generate_month(year, mon, rows, seed=seed)
    return Month(data.prepare(raw), data.synthetic_source(year, mon),
                 f"green_tripdata_{year:04d}-{mon:02d}")


def load_months(settings: Settings) -> tuple[Month, Month]:
    """Training (January) and validation (February) months; February uses ``seed + 1``."""
    train = load(settings.train_path, TRAIN_MONTH, settings.train_rows, settings.seed)
    valid = load(settings.valid_path, VALID_MONTH, settings.valid_rows, settings.seed + 1)
    return train, valid


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error (``squared=False`` is gone from scikit-learn)."""
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y_true, y_pred))


def _developer() -> str:
    """The value of the ``developer`` tag (the course writes its own name there)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "me"


# --------------------------------------------------------------------------- Lasso baseline


def train_lasso(train: Month, valid: Month, features: data.Features, alpha: float,
                artifacts_dir: str) -> tuple[str, float]:
    """The course's baseline run; returns its run id and validation rmse."""
    from sklearn.linear_model import Lasso

    dv, X_train, X_val, y_train, y_val = features
    with mlflow.start_run() as run:
        mlflow.set_tag("developer", _developer())

        mlflow.log_param("train_data_path", train.source)
        mlflow.log_param("valid_data_path", valid.source)
        for month, context in ((train, "training"), (valid, "validation")):
            dataset = mlflow.data.from_pandas(
                month.df, source=month.source, name=month.name, targets=data.TARGET
            )
            mlflow.log_input(dataset, context=context)

        mlflow.log_param("alpha", alpha)
        lr = Lasso(alpha)
        lr.fit(X_train, y_train)

        y_pred = lr.predict(X_val)
        score = rmse(y_val, y_pred)
        mlflow.log_metric("rmse", score)

        # "The simplest possibility is to save the pickle model as an artifact."
        preprocessor = os.path.join(artifacts_dir, "preprocessor.b")
        model = os.path.join(artifacts_dir, "lin_reg.bin")
        with open(preprocessor, "wb") as f_out:
            pickle.dump(dv, f_out)
        with open(model, "wb") as f_out:
            pickle.dump((dv, lr), f_out)
        mlflow.log_artifact(preprocessor, artifact_path="preprocessor")
        mlflow.log_artifact(model, artifact_path="models_pickle")
    return run.info.run_id, score


# --------------------------------------------------------------------------- XGBoost sweep


def search_space(seed: int) -> dict[str, Any]:
    """The course's space, with the current objective name and a single thread."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    return {
        "max_depth": scope.int(hp.quniform("max_depth", 4, 100, 1)),
        "learning_rate": hp.loguniform("learning_rate", -3, 0),
        "reg_alpha": hp.loguniform("reg_alpha", -5, -1),
        "reg_lambda": hp.loguniform("reg_lambda", -6, -1),
        "min_child_weight": hp.loguniform("min_child_weight", -1, 3),
        "objective": "reg:squarederror",  # the course's 'reg:linear' is deprecated
        "seed": seed,
        "nthread": 1,
    }


def make_objective(train: xgb.DMatrix, valid: xgb.DMatrix, y_val: np.ndarray,
                   settings: Settings, run_ids: list[str]) -> Any:
    """The course's objective: one tracked run per hyperopt trial (ids appended to ``run_ids``)."""
    import xgboost as xgb
    from hyperopt import STATUS_OK

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        with mlflow.start_run() as run:
            mlflow.set_tag("model", "xgboost")
            mlflow.log_params(params)
            booster = xgb.train(
                params=params,
                dtrain=train,
                num_boost_round=settings.num_boost_round,
                evals=[(valid, "validation")],
                early_stopping_rounds=settings.early_stopping_rounds,
                verbose_eval=False,
            )
            y_pred = booster.predict(valid)
            score = rmse(y_val, y_pred)
            mlflow.log_metric("rmse", score)
        run_ids.append(run.info.run_id)
        return {"loss": score, "status": STATUS_OK}

    return objective


def sweep(features: data.Features, settings: Settings) -> tuple[list[str], dict[str, Any]]:
    """Run ``max_evals`` TPE trials; returns their run ids and the best point hyperopt found."""
    import xgboost as xgb
    from hyperopt import Trials, fmin, tpe

    train = xgb.DMatrix(features.X_train, label=features.y_train, nthread=1)
    valid = xgb.DMatrix(features.X_val, label=features.y_val, nthread=1)
    run_ids: list[str] = []
    best_result = fmin(
        fn=make_objective(train, valid, features.y_val, settings, run_ids),
        space=search_space(settings.seed),
        algo=tpe.suggest,
        max_evals=settings.max_evals,
        trials=Trials(),
        rstate=np.random.default_rng(settings.seed),
    )
    return run_ids, dict(best_result or {})


# --------------------------------------------------------------------------- leaderboard


def leaderboard(max_results: int = 10) -> pd.DataFrame:
    """The experiment's best runs by validation rmse."""
    runs = mlflow.search_runs(
        experiment_names=[EXPERIMENT_NAME], order_by=["metrics.rmse ASC"], max_results=max_results
    )
    assert not isinstance(runs, list)
    return runs


def _cell(value: Any) -> str:
    """A param value for the table: numbers to 3 significant digits, missing as '-'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.3g}"


def format_leaderboard(runs: pd.DataFrame) -> str:
    """An aligned text table: rank, run name, model tag, rmse and the swept params.

    A run without rmse (it failed, or is still running) shows its status instead.
    """
    header = ["#", "run name", "model", "rmse", *LEADERBOARD_PARAMS]
    rows = [header]
    for rank, (_, run) in enumerate(runs.iterrows(), start=1):
        metric = run.get("metrics.rmse")
        rows.append([
            str(rank),
            str(run.get("tags.mlflow.runName") or run["run_id"][:8]),
            _cell(run.get("tags.model")),
            run["status"] if metric is None or np.isnan(metric) else f"{metric:.4f}",
            *(_cell(run.get(f"params.{key}")) for key in LEADERBOARD_PARAMS),
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    left = {1, 2}  # text columns; numbers are right-aligned
    lines = [
        "  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def store_path() -> str:
    """The folder of the current tracking store."""
    from tracker.uri import resolve_local_path

    return resolve_local_path(mlflow.get_tracking_uri(), notice=False)


# --------------------------------------------------------------------------- the session


def run(settings: Settings) -> Outcome:
    """Train the baseline and the sweep into the store, and read back the leaderboard."""
    mlflow.set_tracking_uri(settings.store or mlflow.get_tracking_uri())
    experiment = mlflow.set_experiment(EXPERIMENT_NAME)

    train, valid = load_months(settings)
    features = data.vectorize(train.df, valid.df)
    with tempfile.TemporaryDirectory(prefix="nyc-taxi-") as artifacts_dir:
        lasso_id, lasso_rmse = train_lasso(train, valid, features, settings.alpha, artifacts_dir)
    xgb_ids, best = sweep(features, settings)
    return Outcome(
        store_path=store_path(),
        experiment_id=experiment.experiment_id,
        lasso_run_id=lasso_id,
        lasso_rmse=lasso_rmse,
        xgboost_run_ids=xgb_ids,
        best_params=best,
        leaderboard=leaderboard(),
    )
