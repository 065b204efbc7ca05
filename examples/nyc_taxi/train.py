"""The course's whole workflow, tracked with ``import tracker as mlflow``.

1. A Lasso baseline run (params, dataset inputs, rmse, pickled preprocessor and model).
2. A hyperopt sweep of XGBoost through ``tracker.hyperopt.fmin``: a parent run ``sweep-tpe``
   with one nested run per trial, made by the course's objective unchanged.
3. The best params trained again in a run with ``mlflow.xgboost.autolog()``.
4. That model registered as ``nyc-taxi-duration``, promoted Staging → Production, described and
   given the alias ``champion`` (``registry.py``).
5. A prediction through ``models:/nyc-taxi-duration@champion``; then the leaderboard and the
   registry (``report.py``).
"""

from __future__ import annotations

import getpass
import math
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

    from examples.nyc_taxi.registry import RegistrySummary
    from tracker.entities import Run

EXPERIMENT_NAME = "nyc-taxi-experiment"
TRAIN_MONTH = (2021, 1)
VALID_MONTH = (2021, 2)
BEST_RUN_NAME = "xgboost-best"


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
    sweep_run: Run | None = None
    best_run_id: str = ""
    best_rmse: float = math.nan
    booster: xgb.Booster | None = None
    model_version: str = ""
    predictions: pd.DataFrame | None = None
    leaderboard: pd.DataFrame | None = None
    registry: RegistrySummary | None = None


# --------------------------------------------------------------------------- data


def load(path: str | None, month: tuple[int, int], rows: int, seed: int) -> Month:
    """A prepared month: read from ``path``, or generated deterministically from ``seed``."""
    if path is not None:
        raw = data.load_month(path)
        name = os.path.splitext(os.path.basename(path))[0]
        return Month(data.prepare(raw), path, name)
    year, mon = month
    raw = data.generate_month(year, mon, rows, seed=seed)
    return Month(data.prepare(raw), data.synthetic_source(year, mon, rows, seed),
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


def dmatrices(features: data.Features) -> tuple[xgb.DMatrix, xgb.DMatrix]:
    """The course's ``train`` and ``valid`` DMatrix (built single-threaded)."""
    import xgboost as xgb

    train = xgb.DMatrix(features.X_train, label=features.y_train, nthread=1)
    valid = xgb.DMatrix(features.X_val, label=features.y_val, nthread=1)
    return train, valid


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


def sweep(train: xgb.DMatrix, valid: xgb.DMatrix, y_val: np.ndarray,
          settings: Settings) -> tuple[list[str], Run, dict[str, Any]]:
    """``max_evals`` TPE trials through ``tracker.hyperopt.fmin``.

    The sweep is a parent run (``sweep-tpe``) and each trial the run the objective starts,
    nested under it. Returns the trial run ids, the parent run and the best params, decoded
    with ``space_eval`` (``max_depth`` an int) as ``xgboost.train`` takes them.
    """
    from hyperopt import Trials, space_eval, tpe

    from tracker.hyperopt import fmin

    run_ids: list[str] = []
    space = search_space(settings.seed)
    best_result = fmin(
        fn=make_objective(train, valid, y_val, settings, run_ids),
        space=space,
        algo=tpe.suggest,
        max_evals=settings.max_evals,
        trials=Trials(),
        rstate=np.random.default_rng(settings.seed),
    )
    parent = mlflow.last_active_run()  # the sweep's parent run ended last
    assert parent is not None
    return run_ids, parent, dict(space_eval(space, best_result))


# --------------------------------------------------------------------------- the best model


def retrain(params: dict[str, Any], train: xgb.DMatrix, valid: xgb.DMatrix,
            features: data.Features, settings: Settings,
            artifacts_dir: str) -> tuple[str, float, xgb.Booster]:
    """The course's "Register models" step: train ``params`` again with ``autolog()``.

    Autologging records the params, ``validation-rmse`` per round, ``best_iteration`` and the
    model at ``model``; the run adds tag ``model``, metric ``rmse`` and the preprocessor that
    turns trips into the model's input. Returns the run id, its rmse and the booster.
    """
    import xgboost

    with mlflow.start_run(run_name=BEST_RUN_NAME) as run:
        mlflow.xgboost.autolog()
        try:
            mlflow.set_tag("model", "xgboost")
            booster = xgboost.train(
                params=params,
                dtrain=train,
                num_boost_round=settings.num_boost_round,
                evals=[(valid, "validation")],
                early_stopping_rounds=settings.early_stopping_rounds,
                verbose_eval=False,
            )
        finally:
            mlflow.xgboost.autolog(disable=True)  # only this training is autologged
        score = rmse(features.y_val, booster.predict(valid))
        mlflow.log_metric("rmse", score)
        preprocessor = os.path.join(artifacts_dir, "preprocessor.b")
        with open(preprocessor, "wb") as f_out:
            pickle.dump(features.dv, f_out)
        mlflow.log_artifact(preprocessor, artifact_path="preprocessor")
    return run.info.run_id, score, booster


def store_path() -> str:
    """The folder of the current tracking store."""
    from tracker.uri import resolve_local_path

    return resolve_local_path(mlflow.get_tracking_uri(), notice=False)


# --------------------------------------------------------------------------- the session


def run(settings: Settings) -> Outcome:
    """The whole workflow into the store, then the leaderboard and the registry read back."""
    from examples.nyc_taxi import registry, report

    mlflow.set_tracking_uri(settings.store or mlflow.get_tracking_uri())
    experiment = mlflow.set_experiment(EXPERIMENT_NAME)
    train, valid = load_months(settings)
    features = data.vectorize(train.df, valid.df)
    dtrain, dvalid = dmatrices(features)
    with tempfile.TemporaryDirectory(prefix="nyc-taxi-") as artifacts_dir:
        # 1. the baseline, 2. the sweep, 3. the best params again, autologged
        lasso_id, lasso_rmse = train_lasso(train, valid, features, settings.alpha, artifacts_dir)
        trial_ids, sweep_run, best = sweep(dtrain, dvalid, features.y_val, settings)
        best_id, best_rmse, booster = retrain(best, dtrain, dvalid, features, settings,
                                              artifacts_dir)
    # 4. register, Staging -> Production, description, alias; 5. predict through the alias
    version = registry.register_and_promote(best_id, best_rmse)
    predictions = registry.predict_with_champion(valid.df)
    return Outcome(
        store_path=store_path(),
        experiment_id=experiment.experiment_id,
        lasso_run_id=lasso_id,
        lasso_rmse=lasso_rmse,
        xgboost_run_ids=trial_ids,
        best_params=best,
        sweep_run=sweep_run,
        best_run_id=best_id,
        best_rmse=best_rmse,
        booster=booster,
        model_version=version,
        predictions=predictions,
        leaderboard=report.leaderboard(EXPERIMENT_NAME),
        registry=registry.registry_summary(),
    )
