"""Autologging (issue #4): tracker.xgboost.autolog, tracker.sklearn.autolog, tracker.autologging.

Exact contents of what each training logs, run handling (inside the user's run or a run of its
own, FINISHED or FAILED), robustness (our failures warn, the user's errors propagate), nested
fits that must not create runs, and ``disable=True`` putting the libraries back as they were.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy import sparse
from sklearn import metrics as skm
from sklearn.datasets import load_iris
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import tracker
import tracker.autologging
import tracker.exceptions
import tracker.pyfunc
import tracker.sklearn
import tracker.xgboost
from tracker.autologging import AutologWarning
from tracker.autologging.datasets import training_dataset
from tracker.model_uri import resolve
from tracker.models.flavors import open_model
from tracker.xgboost._autolog import metric_key


def _folder(model_uri: str) -> str:
    return resolve(_client(), model_uri).local_path

# -- data (tiny) -----------------------------------------------------------------------------------

_rng = np.random.RandomState(0)
X = pd.DataFrame(_rng.rand(120, 4), columns=["a", "b", "c", "d"])
Y = X["a"] * 3 + X["b"] - X["c"] + _rng.rand(120) * 0.3
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = X[:90], X[90:], Y[:90], Y[90:]
RECORDS: list[dict[str, Any]] = [
    {"PU_DO": f"{i % 7}_{i % 4}", "trip_distance": float(d)}
    for i, d in enumerate(np.round(_rng.rand(80) * 10, 2))
]
Y_RECORDS = np.array([r["trip_distance"] for r in RECORDS]) * 2.5 + np.arange(80) % 7
BINARY = (Y_TRAIN - Y_TRAIN.median() > 0).astype(int)
PARAMS = {"max_depth": 2, "eta": 0.3, "nthread": 1, "seed": 0}

@pytest.fixture(autouse=True)
def store(tmp_path: Path) -> Any:
    """A fresh store; every autolog patch is removed afterwards, whatever the test did."""
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    yield uri
    tracker.xgboost.autolog(disable=True)
    tracker.sklearn.autolog(disable=True)
    assert xgb.train is xgb.training.train


@pytest.fixture
def dtrain() -> xgb.DMatrix:
    return xgb.DMatrix(X_TRAIN, label=Y_TRAIN)


@pytest.fixture
def dvalid() -> xgb.DMatrix:
    return xgb.DMatrix(X_VALID, label=Y_VALID)


def _client() -> tracker.TrackerClient:
    return tracker.TrackerClient(tracker.get_tracking_uri())


def _runs() -> list[Any]:
    tracker.flush()
    found = tracker.search_runs(output_format="list")
    assert isinstance(found, list)
    return found


def _only_run() -> Any:
    [run] = _runs()
    return _client().get_run(run.info.run_id)


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in _client().get_metric_history(run_id, key)]


def assert_png(run_id: str, path: str, tmp_path: Path) -> None:
    """The artifact is a PNG image of a real figure (not an empty file)."""
    local = Path(_client().download_artifacts(run_id, path, str(tmp_path / "png")))
    data = local.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, (path, len(data))


def _artifact_json(run_id: str, path: str, tmp_path: Path) -> Any:
    local = _client().download_artifacts(run_id, path, str(tmp_path / "dl"))
    return json.loads(Path(local).read_text())


def _inputs(run: Any) -> dict[tuple[str, str], Any]:
    """(dataset name, context) -> dataset of a run's inputs."""
    found = {}
    for item in run.inputs.dataset_inputs:
        context = {t.key: t.value for t in item.tags}["mlflow.data.context"]
        found[(item.dataset.name, context)] = item.dataset
    return found


# -- xgboost.train ---------------------------------------------------------------------------------


def test_train_logs_params_metrics_importance_dataset_and_model(
    dtrain: xgb.DMatrix, dvalid: xgb.DMatrix, tmp_path: Path
) -> None:
    tracker.xgboost.autolog()
    evals_result: dict[str, Any] = {}
    booster = xgb.train(PARAMS, dtrain, num_boost_round=8, evals=[(dvalid, "validation")],
                        evals_result=evals_result, verbose_eval=False)
    assert tracker.active_run() is None
    run = _only_run()
    run_id = run.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "xgboost"
    assert run.data.params == {
        "max_depth": "2", "eta": "0.3", "nthread": "1", "seed": "0", "num_boost_round": "8",
        "early_stopping_rounds": "None", "maximize": "None", "verbose_eval": "False",
        "custom_metric": "None",  # every train() argument MLflow logs, with its default
    }
    expected = evals_result["validation"]["rmse"]
    assert _history(run_id, "validation-rmse") == list(enumerate(expected))
    assert set(run.data.metrics) == {"validation-rmse"}

    # MLflow's default importance_types=["weight"]: one JSON file and its bar chart.
    root = {a.path for a in tracker.list_artifacts(run_id)}
    assert root == {"feature_importance_weight.json", "feature_importance_weight.png", "model"}
    assert _artifact_json(run_id, "feature_importance_weight.json", tmp_path) == pytest.approx(
        booster.get_score(importance_type="weight"))
    assert_png(run_id, "feature_importance_weight.png", tmp_path)

    inputs = _inputs(run)
    assert set(inputs) == {("train", "training"), ("validation", "eval")}
    assert json.loads(inputs[("train", "training")].profile)["num_rows"] == 90
    assert json.loads(inputs[("validation", "eval")].profile)["num_rows"] == 30

    loaded = tracker.xgboost.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, xgb.Booster)
    np.testing.assert_array_equal(loaded.predict(dvalid), booster.predict(dvalid))


def test_train_digest_follows_data_and_labels(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog(log_models=False)
    xgb.train(PARAMS, dtrain, num_boost_round=1)
    xgb.train(PARAMS, xgb.DMatrix(X_TRAIN, label=Y_TRAIN), num_boost_round=1)
    xgb.train(PARAMS, xgb.DMatrix(X_TRAIN, label=Y_TRAIN + 1), num_boost_round=1)
    digests = [_inputs(_client().get_run(r.info.run_id))[("train", "training")].digest
               for r in _runs()]
    assert len(set(digests)) == 2 and sorted(digests.count(d) for d in digests) == [1, 2, 2]


def test_train_early_stopping_logs_best_iteration_and_final_step(
    dtrain: xgb.DMatrix, dvalid: xgb.DMatrix
) -> None:
    tracker.xgboost.autolog(log_models=False, log_datasets=False)
    booster = xgb.train({**PARAMS, "eta": 0.8}, dtrain, num_boost_round=200,
                        evals=[(dtrain, "train"), (dvalid, "validation")],
                        early_stopping_rounds=3, verbose_eval=False)
    run = _only_run()
    best, stopped = booster.best_iteration, booster.num_boosted_rounds() - 1
    assert stopped < 199  # training did stop early
    assert run.data.params["early_stopping_rounds"] == "3"
    assert run.data.metrics["best_iteration"] == best
    assert run.data.metrics["stopped_iteration"] == stopped
    for key in ("train-rmse", "validation-rmse"):
        history = _history(run.info.run_id, key)
        assert [step for step, _ in history] == [*range(stopped + 1), stopped + 1]
        assert history[-1][1] == history[best][1]  # the final step repeats the best round
        assert run.data.metrics[key] == history[best][1]  # so "latest" is the kept model's
    assert run.data.metrics["validation-rmse"] == pytest.approx(booster.best_score)


def test_train_input_example_and_signature(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog(log_input_examples=True, log_datasets=False)
    xgb.train(PARAMS, dtrain, num_boost_round=2)
    manifest = open_model(f"runs:/{_only_run().info.run_id}/model", "xgboost").manifest
    inputs = manifest["signature"]["inputs"]
    inputs = json.loads(inputs) if isinstance(inputs, str) else inputs
    assert [spec["name"] for spec in inputs] == ["a", "b", "c", "d"]
    assert manifest["saved_input_example_info"] is not None


@pytest.mark.parametrize("built", ["after_autolog", "before_autolog"])
def test_seed_workflow_predicts_on_the_same_pandas_frame(built: str) -> None:
    """Issue #12: the signature came from the DMatrix (float32), so predicting on the float64
    frame the DMatrix was built from failed. It now comes from that frame, as in MLflow."""
    frame = X_TRAIN.assign(trip_distance=np.round(X_TRAIN["a"] * 10, 2),
                           PULocationID=np.arange(len(X_TRAIN)) % 7 + 1)
    if built == "before_autolog":  # the seed's notebook builds `train` first
        train = xgb.DMatrix(frame, label=Y_TRAIN)
    tracker.xgboost.autolog(log_input_examples=True)
    if built == "after_autolog":
        train = xgb.DMatrix(frame, label=Y_TRAIN)
    with tracker.start_run() as run:
        booster = xgb.train(PARAMS, dtrain=train, num_boost_round=3)
    model = tracker.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    types = {spec.name: spec.type for spec in model.signature.inputs.inputs}
    assert types == {"a": "double", "b": "double", "c": "double", "d": "double",
                     "trip_distance": "double", "PULocationID": "long"}
    np.testing.assert_array_equal(model.predict(frame), booster.predict(xgb.DMatrix(frame)))
    example = json.loads(Path(_folder(model.model_uri), "input_example.json").read_text())
    if built == "after_autolog":  # the original rows, not float32 copies
        assert example["data"][0][-2] == frame["trip_distance"].iloc[0]
    assert len(example["data"]) == 5
    tracker.xgboost.autolog(disable=True)
    assert xgb.DMatrix.__init__ is xgb.core.DMatrix.__dict__["__init__"]
    assert not getattr(xgb.DMatrix.__init__, "__tracker_autolog__", None)


def test_sparse_dmatrix_signature_accepts_the_sparse_matrix() -> None:
    matrix = sparse.csr_matrix(X_TRAIN.to_numpy())
    tracker.xgboost.autolog()
    train = xgb.DMatrix(matrix, label=Y_TRAIN)
    with tracker.start_run() as run:
        booster = xgb.train(PARAMS, dtrain=train, num_boost_round=2)
    model = tracker.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.signature.inputs.inputs[0].dtype == "float64"
    valid = sparse.csr_matrix(X_VALID.to_numpy())
    np.testing.assert_array_equal(model.predict(valid), booster.predict(xgb.DMatrix(valid)))


def test_train_signature_only_by_default_and_registration(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog(registered_model_name="taxi", model_format="json")
    booster = xgb.train(PARAMS, dtrain, num_boost_round=2)
    run_id = _only_run().info.run_id
    manifest = open_model(f"runs:/{run_id}/model", "xgboost").manifest
    assert manifest["signature"] is not None and manifest.get("saved_input_example_info") is None
    assert manifest["flavors"]["xgboost"]["model_format"] == "json"
    assert _client().get_model_version("taxi", 1).run_id == run_id
    loaded = tracker.xgboost.load_model("models:/taxi/1")
    np.testing.assert_array_equal(loaded.predict(dtrain), booster.predict(dtrain))


def test_metric_names_are_sanitized() -> None:
    assert metric_key("validation", "ndcg@3") == "validation-ndcg_at_3"
    assert metric_key("eval", "error@0.6") == "eval-error_at_0.6"
    assert metric_key("my set", "custom(x)") == "my set-custom_x_"


def test_importance_types_are_checked(dtrain: xgb.DMatrix, tmp_path: Path) -> None:
    with pytest.raises(tracker.exceptions.InvalidArgumentError, match=r"\['split'\]"):
        tracker.xgboost.autolog(importance_types=["gain", "split"])
    tracker.xgboost.autolog(importance_types=["gain"], log_models=False)
    xgb.train(PARAMS, dtrain, num_boost_round=2)
    run_id = _only_run().info.run_id
    assert _artifact_json(run_id, "feature_importance_gain.json", tmp_path) == pytest.approx(
        xgb.train(PARAMS, dtrain, num_boost_round=2).get_score(importance_type="gain"))
    assert {a.path for a in tracker.list_artifacts(run_id)} == {
        "feature_importance_gain.json", "feature_importance_gain.png"
    }


@pytest.mark.parametrize("features", [
    X_TRAIN, X_TRAIN.to_numpy(), sparse.csr_matrix(X_TRAIN.to_numpy()), X_TRAIN.to_dict("records"),
], ids=["DataFrame", "ndarray", "csr", "records"])
def test_training_dataset_describes_each_input_type(features: Any) -> None:
    first = training_dataset(features, Y_TRAIN)
    again = training_dataset(copy.deepcopy(features), Y_TRAIN.copy())
    relabeled = training_dataset(features, Y_TRAIN + 1)
    assert first is not None and again is not None and relabeled is not None
    assert first.digest == again.digest != relabeled.digest
    assert first.profile["num_rows"] == 90
    assert training_dataset(np.array([object()] * 3)) is None


# -- XGBoost scikit-learn wrappers -----------------------------------------------------------------


def test_regressor_fit_logs_one_run(tmp_path: Path) -> None:
    tracker.xgboost.autolog()
    model = xgb.XGBRegressor(n_estimators=6, max_depth=2, n_jobs=1, random_state=0)
    model.fit(X_TRAIN, Y_TRAIN, eval_set=[(X_VALID, Y_VALID)], verbose=False)
    run = _only_run()
    run_id = run.info.run_id
    # As MLflow 3: the params fit() hands to xgboost.train, not get_params(); no estimator tags.
    assert run.data.params["max_depth"] == "2" and run.data.params["num_boost_round"] == "6"
    assert run.data.params["objective"] == "reg:squarederror"
    assert run.data.params["custom_metric"] == "None"
    assert "n_estimators" not in run.data.params and "importance_type" not in run.data.params
    assert "estimator_name" not in run.data.tags
    expected = model.evals_result()["validation_0"]["rmse"]
    assert _history(run_id, "validation_0-rmse") == list(enumerate(expected))
    assert set(_inputs(run)) == {("train", "training"), ("validation_0", "eval")}
    assert set(_artifact_json(run_id, "feature_importance_weight.json", tmp_path)) <= set(
        X_TRAIN.columns)
    loaded = tracker.xgboost.load_model(f"runs:/{run_id}/model")
    assert type(loaded) is xgb.XGBRegressor
    np.testing.assert_array_equal(loaded.predict(X_VALID), model.predict(X_VALID))


def test_classifier_early_stopping_and_rf_subclass() -> None:
    tracker.xgboost.autolog(log_models=False)
    labels = BINARY
    clf = xgb.XGBClassifier(n_estimators=50, max_depth=2, n_jobs=1, early_stopping_rounds=2,
                            learning_rate=0.9)
    clf.fit(X_TRAIN, labels, eval_set=[(X_TRAIN, labels)], verbose=False)
    xgb.XGBRFClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(X_TRAIN, labels)
    found = sorted(_runs(), key=lambda r: r.info.start_time)
    assert len(found) == 2  # super().fit() adds no run
    metrics = _client().get_run(found[0].info.run_id).data.metrics
    assert metrics["best_iteration"] == clf.best_iteration
    assert found[1].data.params["num_parallel_tree"] == "3"  # the random forest


# -- runs: the user's or our own -------------------------------------------------------------------


def test_inside_user_run_logs_there_and_leaves_it_open(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog(log_models=False)
    with tracker.start_run() as run:
        tracker.log_param("developer", "me")
        xgb.train(PARAMS, dtrain, num_boost_round=2, evals=[(dtrain, "train")])
        assert tracker.active_run() is not None
        assert tracker.active_run().info.run_id == run.info.run_id
        tracker.log_metric("rmse", 1.5)
    logged = _only_run()
    assert logged.info.run_id == run.info.run_id and logged.info.status == "FINISHED"
    assert logged.data.params["developer"] == "me" and logged.data.params["max_depth"] == "2"
    assert set(logged.data.metrics) == {"train-rmse", "rmse"}
    assert "mlflow.autologging" not in logged.data.tags


def test_exclusive_skips_user_runs(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog(exclusive=True, log_models=False, extra_tags={"team": "taxi"})
    with tracker.start_run() as run:
        xgb.train(PARAMS, dtrain, num_boost_round=2)
    assert _client().get_run(run.info.run_id).data.params == {}
    xgb.train(PARAMS, dtrain, num_boost_round=2)
    own = [r for r in _runs() if r.info.run_id != run.info.run_id]
    assert len(own) == 1 and own[0].data.tags["team"] == "taxi"


def test_user_param_with_other_value_is_kept_with_a_warning(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog(log_models=False)
    with tracker.start_run():
        tracker.log_param("max_depth", 5)
        with pytest.warns(AutologWarning, match=r"already has other values.*max_depth='2'"):
            booster = xgb.train(PARAMS, dtrain, num_boost_round=2)
    assert booster.num_boosted_rounds() == 2
    params = _only_run().data.params
    assert params["max_depth"] == "5" and params["num_boost_round"] == "2"


def test_user_error_propagates_and_run_fails(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog()
    with pytest.raises(xgb.core.XGBoostError, match="nonsense"):
        xgb.train({**PARAMS, "objective": "reg:nonsense"}, dtrain, num_boost_round=2)
    assert tracker.active_run() is None
    assert _only_run().info.status == "FAILED"


def test_user_error_inside_user_run_leaves_the_run_to_the_user(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog()
    with pytest.raises(xgb.core.XGBoostError), tracker.start_run() as run:
        xgb.train({**PARAMS, "objective": "reg:nonsense"}, dtrain, num_boost_round=2)
    assert _only_run().info.run_id == run.info.run_id  # no run of our own
    assert _only_run().info.status == "FAILED"  # ended by the user's with-block


# -- robustness: our failures never stop training --------------------------------------------------


def test_failing_metric_logging_warns_and_training_completes(
    dtrain: xgb.DMatrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.xgboost._autolog as integration

    def broken(*args: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(integration._Recorder, "_record", broken)
    tracker.xgboost.autolog(log_models=False)
    with pytest.warns(AutologWarning, match=r"boosting round 0.*OSError: disk full") as caught:
        booster = xgb.train(PARAMS, dtrain, num_boost_round=5, evals=[(dtrain, "train")])
    assert len(caught) == 1  # reported once, not once per round
    assert isinstance(booster, xgb.Booster) and booster.num_boosted_rounds() == 5
    run = _only_run()
    assert run.info.status == "FINISHED" and run.data.params["num_boost_round"] == "5"


def test_failing_model_logging_warns_and_returns_the_booster(
    dtrain: xgb.DMatrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no space left")

    monkeypatch.setattr(tracker.xgboost, "log_model", broken)
    tracker.xgboost.autolog()
    with pytest.warns(AutologWarning, match=r"could not log the model for run \w+: RuntimeError"):
        booster = xgb.train(PARAMS, dtrain, num_boost_round=3, evals=[(dtrain, "train")])
    assert booster.num_boosted_rounds() == 3
    run = _only_run()
    assert run.info.status == "FINISHED" and "train-rmse" in run.data.metrics


def test_silent_turns_warnings_into_debug_records(
    dtrain: xgb.DMatrix, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no space left")

    monkeypatch.setattr(tracker.xgboost, "log_model", broken)
    tracker.xgboost.autolog(silent=True)
    with warnings.catch_warnings(), caplog.at_level(logging.DEBUG, "tracker.autologging"):
        warnings.simplefilter("error")
        xgb.train(PARAMS, dtrain, num_boost_round=2)
    assert any("could not log the model" in r.getMessage() for r in caplog.records)


# -- disable ---------------------------------------------------------------------------------------


def test_disable_restores_the_original_functions(dtrain: xgb.DMatrix) -> None:
    fit, lr_fit = xgb.XGBModel.fit, LinearRegression.fit
    tracker.autologging.autolog()
    assert xgb.train is not xgb.training.train and LinearRegression.fit is not lr_fit
    tracker.autologging.autolog(disable=True)
    assert xgb.train is xgb.training.train and xgb.sklearn.train is xgb.training.train
    assert xgb.XGBModel.fit is fit and "fit" not in vars(xgb.XGBRegressor)
    assert LinearRegression.fit is lr_fit and "fit" not in vars(Lasso)
    xgb.train(PARAMS, dtrain, num_boost_round=2)
    LinearRegression().fit(X_TRAIN, Y_TRAIN)
    assert _runs() == []


def test_autolog_again_changes_options_without_double_patching(dtrain: xgb.DMatrix) -> None:
    tracker.xgboost.autolog()
    patched = xgb.train
    tracker.xgboost.autolog(log_models=False, log_datasets=False)
    assert xgb.train is patched
    xgb.train(PARAMS, dtrain, num_boost_round=2)
    run = _only_run()
    assert tracker.list_artifacts(run.info.run_id, "model") == [] and _inputs(run) == {}


def test_import_tracker_does_not_import_the_libraries() -> None:
    code = ("import sys, tracker, tracker.autologging, tracker.xgboost, tracker.sklearn; "
            "print('xgboost' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- scikit-learn ----------------------------------------------------------------------------------


@pytest.mark.parametrize("regressor", [LinearRegression(), Lasso(alpha=0.01)], ids=lambda r: type(r).__name__)
def test_dictvectorizer_pipeline_logs_params_metrics_tags_and_model(regressor: Any) -> None:
    tracker.sklearn.autolog()
    pipeline = make_pipeline(DictVectorizer(sparse=False), regressor).fit(RECORDS, Y_RECORDS)
    run = _only_run()  # no runs for the pipeline's steps
    step = type(regressor).__name__.lower()
    params = run.data.params
    assert params[f"{step}__fit_intercept"] == "True" and params["dictvectorizer__sparse"] == "False"
    assert params["memory"] == "None" and step in params and "steps" in params
    if isinstance(regressor, Lasso):
        assert params["lasso__alpha"] == "0.01"
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    predicted = pipeline.predict(RECORDS)
    mse = skm.mean_squared_error(Y_RECORDS, predicted)
    assert run.data.metrics == pytest.approx({
        "training_mean_squared_error": mse,
        "training_root_mean_squared_error": math.sqrt(mse),
        "training_mean_absolute_error": skm.mean_absolute_error(Y_RECORDS, predicted),
        "training_r2_score": skm.r2_score(Y_RECORDS, predicted),
        "training_score": pipeline.score(RECORDS, Y_RECORDS),
    }, rel=1e-12)
    [dataset] = _inputs(run).values()
    assert [c["name"] for c in json.loads(dataset.schema)["columns"]] == ["PU_DO", "trip_distance"]
    loaded = tracker.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(RECORDS), predicted)


def test_classifier_metrics() -> None:
    tracker.sklearn.autolog(log_models=False)
    features, labels = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=500).fit(features, labels)
    metrics = _only_run().data.metrics
    predicted, proba = clf.predict(features), clf.predict_proba(features)
    assert metrics == pytest.approx({
        "training_accuracy_score": skm.accuracy_score(labels, predicted),
        "training_precision_score": skm.precision_score(labels, predicted, average="weighted"),
        "training_recall_score": skm.recall_score(labels, predicted, average="weighted"),
        "training_f1_score": skm.f1_score(labels, predicted, average="weighted"),
        "training_log_loss": skm.log_loss(labels, proba),
        "training_roc_auc": skm.roc_auc_score(labels, proba, multi_class="ovr",
                                              average="weighted"),
        "training_score": clf.score(features, labels),
    }, rel=1e-12)


def test_binary_classifier_roc_auc_uses_the_positive_class() -> None:
    tracker.sklearn.autolog(log_models=False)
    labels = BINARY
    clf = LogisticRegression().fit(X_TRAIN, labels)
    expected = skm.roc_auc_score(labels, clf.predict_proba(X_TRAIN)[:, 1])
    assert _only_run().data.metrics["training_roc_auc"] == pytest.approx(expected, rel=1e-12)


def _pngs(run_id: str) -> set[str]:
    return {a.path for a in tracker.list_artifacts(run_id) if a.path.endswith(".png")}


def test_classifier_figures_as_mlflow_logs_them(tmp_path: Path) -> None:
    """Binary: confusion matrix, ROC and precision-recall curves; more classes: the confusion
    matrix only; regressors: none."""
    tracker.sklearn.autolog(log_models=False)
    binary = LogisticRegression().fit(X_TRAIN, BINARY)
    assert binary.classes_.tolist() == [0, 1]
    run_id = _only_run().info.run_id
    assert _pngs(run_id) == {"training_confusion_matrix.png", "training_roc_curve.png",
                             "training_precision_recall_curve.png"}
    for name in _pngs(run_id):
        assert_png(run_id, name, tmp_path / name)
    with tracker.start_run() as multi:
        LogisticRegression(max_iter=500).fit(*load_iris(return_X_y=True))
    assert _pngs(multi.info.run_id) == {"training_confusion_matrix.png"}
    with tracker.start_run() as regression:
        LinearRegression().fit(X_TRAIN, Y_TRAIN)
    assert _pngs(regression.info.run_id) == set()


def test_without_matplotlib_figures_are_skipped_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker.autologging import plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    monkeypatch.setattr(plots, "_MISSING_WARNED", [])
    tracker.sklearn.autolog(log_models=False)
    with pytest.warns(AutologWarning, match="matplotlib is not installed") as caught:
        LogisticRegression().fit(X_TRAIN, BINARY)
        LogisticRegression(C=2.0).fit(X_TRAIN, BINARY)
    assert len([w for w in caught if "matplotlib" in str(w.message)]) == 1
    runs = _runs()
    assert len(runs) == 2
    for run in runs:
        assert _pngs(run.info.run_id) == set()
        assert "training_accuracy_score" in run.data.metrics  # the rest is logged


def test_grid_search_parent_and_child_runs(tmp_path: Path) -> None:
    tracker.sklearn.autolog(max_tuning_runs=2)
    search = GridSearchCV(make_pipeline(DictVectorizer(sparse=False), Lasso()),
                          {"lasso__alpha": [0.01, 0.1, 1.0]}, cv=3).fit(RECORDS, Y_RECORDS)
    runs = _runs()
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2  # 3 candidates, max_tuning_runs=2

    parent = _client().get_run(parent.info.run_id)
    assert parent.data.params["best_lasso__alpha"] == "0.01"
    assert parent.data.params["cv"] == "3" and "lasso__alpha" not in parent.data.params
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_, rel=1e-12)
    assert parent.data.tags["estimator_name"] == "GridSearchCV"
    artifacts = {a.path for a in tracker.list_artifacts(parent.info.run_id)}
    assert {"cv_results.csv", "model", "best_estimator", "estimator.html"} <= artifacts
    local = _client().download_artifacts(parent.info.run_id, "cv_results.csv", str(tmp_path))
    assert len(pd.read_csv(local)) == 3
    best = tracker.sklearn.load_model(f"runs:/{parent.info.run_id}/best_estimator")
    np.testing.assert_array_equal(best.predict(RECORDS), search.predict(RECORDS))

    results = pd.DataFrame(search.cv_results_)
    by_alpha = {c.data.params["lasso__alpha"]: c for c in children}
    assert set(by_alpha) == {"0.01", "0.1"}  # the two best, by rank_test_score
    for alpha, child in by_alpha.items():
        row = results[results["param_lasso__alpha"] == float(alpha)].iloc[0]
        assert child.info.status == "FINISHED"
        assert child.data.params["dictvectorizer__sparse"] == "False"
        assert child.data.tags["estimator_name"] == "Pipeline"
        assert child.data.metrics["mean_test_score"] == pytest.approx(row["mean_test_score"])
        assert child.data.metrics["std_test_score"] == pytest.approx(row["std_test_score"])
        assert child.data.metrics["rank_test_score"] == row["rank_test_score"]
        assert not any(k.startswith("split") for k in child.data.metrics)


def test_sklearn_inside_user_run_and_failure() -> None:
    tracker.sklearn.autolog(log_models=False)
    with tracker.start_run() as run:
        LinearRegression().fit(X_TRAIN, Y_TRAIN)
        assert tracker.active_run() is not None
    assert _only_run().info.run_id == run.info.run_id
    with pytest.raises(ValueError):
        Lasso(alpha=-1.0).fit(X_TRAIN, Y_TRAIN)  # scikit-learn refuses the param
    failed = [r for r in _runs() if r.info.run_id != run.info.run_id]
    assert [r.info.status for r in failed] == ["FAILED"]


def test_standalone_preprocessing_fit_is_not_a_run() -> None:
    tracker.sklearn.autolog()
    DictVectorizer().fit(RECORDS)
    assert _runs() == []


# -- tracker.autologging.autolog: every integration ------------------------------------------------


def test_autolog_enables_both_and_nested_fits_log_once() -> None:
    tracker.autologging.autolog(log_models=False)
    assert getattr(xgb.train, "__tracker_autolog__", None) == "xgboost"
    assert getattr(LinearRegression.fit, "__tracker_autolog__", None) == "sklearn"
    pipeline = make_pipeline(DictVectorizer(sparse=False),
                             xgb.XGBRegressor(n_estimators=3, max_depth=2, n_jobs=1))
    pipeline.fit(RECORDS, Y_RECORDS)
    run = _only_run()  # the XGBRegressor inside the Pipeline adds no run and no metrics
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert "xgbregressor__n_estimators" in run.data.params
    assert not any("rmse" in k and k.startswith("validation") for k in run.data.metrics)


def test_seed_hyperopt_objective_with_autolog(dtrain: xgb.DMatrix, dvalid: xgb.DMatrix) -> None:
    from hyperopt import STATUS_OK, Trials, fmin, hp, tpe
    from hyperopt.pyll import scope

    tracker.xgboost.autolog(log_models=False)

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        with tracker.start_run():
            tracker.set_tag("model", "xgboost")
            tracker.log_params(params)
            booster = xgb.train(params=params, dtrain=dtrain, num_boost_round=20,
                                evals=[(dvalid, "validation")], early_stopping_rounds=3,
                                verbose_eval=False)
            rmse = skm.root_mean_squared_error(Y_VALID, booster.predict(dvalid))
            tracker.log_metric("rmse", rmse)
        return {"loss": rmse, "status": STATUS_OK}

    space = {"max_depth": scope.int(hp.quniform("max_depth", 2, 4, 1)),
             "learning_rate": hp.loguniform("learning_rate", -3, 0), "nthread": 1, "seed": 42}
    fmin(fn=objective, space=space, algo=tpe.suggest, max_evals=2, trials=Trials(),
         rstate=np.random.default_rng(0), show_progressbar=False)
    runs = _runs()
    assert len(runs) == 2
    for run in runs:
        assert {"rmse", "validation-rmse", "best_iteration"} <= set(run.data.metrics)
        assert run.data.params["num_boost_round"] == "20"
