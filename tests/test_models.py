"""Model format and flavors (issue #3): tracker.xgboost, tracker.sklearn, tracker.pyfunc.

Round trips for each flavor, the MLmodel manifest, the seed's "Model Management" and "Model
registry" snippets with only the import changed, model URIs, signature enforcement, and the
checksum check that keeps a tampered pickle from being unpickled.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
import yaml
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import Lasso, LinearRegression
from sklearn.pipeline import make_pipeline

import tracker
import tracker as mlflow
import tracker.pyfunc
import tracker.sklearn
import tracker.xgboost
from tracker.artifacts import sha256_file
from tracker.exceptions import AlreadyExistsError, InvalidArgumentError, NotFoundError
from tracker.model_uri import resolve
from tracker.models.manifest import ModelIntegrityError, load_input_example
from tracker.models.signature import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature

# -- data and models (tiny, fitted once) ----------------------------------------------------------

_rng = np.random.RandomState(7)
X_DF = pd.DataFrame(_rng.rand(60, 3), columns=["a", "b", "c"])
Y = X_DF["a"] * 3 + X_DF["b"] - X_DF["c"]
DISTANCES = np.round(_rng.rand(80) * 10, 2)
RECORDS: list[dict[str, Any]] = [
    {"PU_DO": f"{i % 7}_{i % 4}", "trip_distance": float(d)} for i, d in enumerate(DISTANCES)
]
Y_RECORDS = DISTANCES * 2.5 + np.arange(80) % 7


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    params = {"max_depth": 2, "nthread": 1, "seed": 42}
    return xgb.train(params, xgb.DMatrix(X_DF, label=Y), num_boost_round=4)


@pytest.fixture(scope="module")
def regressor() -> xgb.XGBRegressor:
    return xgb.XGBRegressor(n_estimators=4, max_depth=2, n_jobs=1).fit(X_DF, Y)


@pytest.fixture(scope="module")
def pipeline() -> Any:
    # sparse=False: with scikit-learn 1.9 + SciPy 1.17, Lasso refuses DictVectorizer's int64
    # sparse indices (see examples/nyc_taxi/data.py); the pipeline still takes a list of dicts.
    return make_pipeline(DictVectorizer(sparse=False), Lasso(alpha=0.01)).fit(RECORDS, Y_RECORDS)


@pytest.fixture
def store(tmp_path: Path) -> str:
    uri = str(tmp_path / "store")
    mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture
def no_autolog() -> Any:
    yield
    tracker.xgboost.autolog(disable=True)
    assert xgb.train is xgb.training.train


def _folder(model_uri: str) -> Path:
    return Path(resolve(mlflow.TrackerClient(mlflow.get_tracking_uri()), model_uri).local_path)


def _manifest(model_uri: str) -> dict[str, Any]:
    return json.loads((_folder(model_uri) / "MLmodel").read_text())


# -- round trips ----------------------------------------------------------------------------------


def test_booster_round_trip_flavor_and_pyfunc(store: str, booster: xgb.Booster) -> None:
    with mlflow.start_run():
        info = tracker.xgboost.log_model(booster, artifact_path="model", input_example=X_DF.head(3))
    expected = booster.predict(xgb.DMatrix(X_DF))

    loaded = tracker.xgboost.load_model(info.model_uri)
    assert type(loaded) is xgb.Booster
    np.testing.assert_array_equal(loaded.predict(xgb.DMatrix(X_DF)), expected)

    model = tracker.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(model.predict(X_DF), expected)
    # Columns reordered and an extra one: the signature's order is used, extras dropped.
    np.testing.assert_array_equal(model.predict(X_DF[["c", "a", "b"]].assign(z=1.0)), expected)
    np.testing.assert_array_equal(model.predict(X_DF.to_dict(orient="list")), expected)
    assert type(model.get_raw_model()) is xgb.Booster
    assert model.metadata["flavors"]["xgboost"]["model_class"] == "xgboost.core.Booster"


def test_xgb_regressor_round_trip_json(store: str, regressor: xgb.XGBRegressor) -> None:
    with mlflow.start_run():
        info = tracker.xgboost.log_model(regressor, name="reg", model_format="json")
    loaded = tracker.xgboost.load_model(info.model_uri)
    assert type(loaded) is xgb.XGBRegressor
    np.testing.assert_array_equal(loaded.predict(X_DF), regressor.predict(X_DF))
    np.testing.assert_array_equal(
        tracker.pyfunc.load_model(info.model_uri).predict(X_DF), regressor.predict(X_DF)
    )
    conf = info.flavors["xgboost"]
    assert conf["data"] == "model.json" and conf["model_format"] == "json"
    assert conf["model_class"] == "xgboost.sklearn.XGBRegressor"
    assert json.loads((_folder(info.model_uri) / "model.json").read_text())["learner"]
    assert info.signature is None and info.artifact_path == "reg"


def test_sklearn_linear_regression_numpy_signature(store: str) -> None:
    X = X_DF.to_numpy()
    lr = LinearRegression().fit(X, Y)
    with mlflow.start_run():
        info = tracker.sklearn.log_model(lr, artifact_path="model", input_example=X[:2])
    assert info.signature == ModelSignature(
        Schema((TensorSpec("float64", (-1, 3)),)), Schema((TensorSpec("float64", (-1,)),))
    )
    loaded = tracker.sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(X), lr.predict(X))
    model = tracker.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(model.predict(X), lr.predict(X))
    as32 = X.astype(np.float32)  # widened to the signature's float64 before predict
    np.testing.assert_array_equal(model.predict(as32), lr.predict(as32.astype(np.float64)))
    with pytest.raises(InvalidArgumentError, match=r"shape \(60, 2\).*\(-1, 3\)"):
        model.predict(X[:, :2])
    example = json.loads((_folder(info.model_uri) / "input_example.json").read_text())
    assert example == X[:2].tolist()
    np.testing.assert_array_equal(load_input_example(str(_folder(info.model_uri)), model.metadata), X[:2])


def test_dictvectorizer_pipeline_round_trip(store: str, pipeline: Any) -> None:
    with mlflow.start_run():
        info = tracker.sklearn.log_model(
            pipeline, artifact_path="model", input_example=RECORDS[:3], serialization_format="pickle"
        )
    expected = pipeline.predict(RECORDS)
    loaded = tracker.sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(RECORDS), expected)

    model = tracker.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(model.predict(pd.DataFrame(RECORDS)), expected)
    np.testing.assert_array_equal(model.predict(RECORDS), expected)
    one = model.predict({"PU_DO": "1_2", "trip_distance": 3})  # int widened to double
    np.testing.assert_array_equal(one, pipeline.predict([{"PU_DO": "1_2", "trip_distance": 3.0}]))
    assert info.signature is not None
    assert info.signature.inputs == Schema(
        (ColSpec("string", "PU_DO"), ColSpec("double", "trip_distance"))
    )
    assert info.flavors["sklearn"]["serialization_format"] == "pickle"
    assert info.flavors["sklearn"]["model_class"] == "sklearn.pipeline.Pipeline"


# -- the folder format ----------------------------------------------------------------------------


def test_manifest_content(store: str, booster: xgb.Booster) -> None:
    with mlflow.start_run() as run:
        info = tracker.xgboost.log_model(
            booster, artifact_path="model", input_example=X_DF.head(2), metadata={"team": "ml"}
        )
    folder = _folder(info.model_uri)
    manifest = json.loads((folder / "MLmodel").read_text())
    assert yaml.safe_load((folder / "MLmodel").read_text()) == manifest  # JSON is YAML
    assert manifest["run_id"] == run.info.run_id == info.run_id
    assert manifest["artifact_path"] == "model"
    assert info.model_uri == f"models:/{info.model_id}" and info.model_id.startswith("m-")
    assert manifest["model_uuid"] == info.model_uuid and len(info.model_uuid) == 32
    assert manifest["utc_time_created"] == info.utc_time_created
    # MLflow's loader module, so MLflow loads the folder (tracker maps it to tracker.xgboost).
    assert manifest["flavors"]["python_function"]["loader_module"] == "mlflow.xgboost"
    assert manifest["flavors"]["python_function"]["data"] == "model.ubj"
    assert manifest["flavors"]["python_function"]["env"] == {
        "conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert manifest["flavors"]["xgboost"]["xgb_version"] == xgb.__version__
    assert manifest["library_versions"]["xgboost"] == xgb.__version__
    assert manifest["tracker_version"] == tracker.__version__
    assert manifest["metadata"] == {"team": "ml"}
    # JSON strings inside the manifest, as MLflow writes them (so MLflow can read it).
    assert json.loads(manifest["signature"]["inputs"]) == [
        {"type": "double", "name": n, "required": True} for n in ("a", "b", "c")
    ]
    outputs = json.loads(manifest["signature"]["outputs"])
    assert outputs[0]["tensor-spec"] == {"dtype": "float32", "shape": [-1]}
    assert manifest["saved_input_example_info"] == {
        "artifact_path": "input_example.json", "type": "dataframe", "pandas_orient": "split"
    }
    on_disk = sorted(p.name for p in folder.iterdir())
    assert on_disk == ["MLmodel", "conda.yaml", "input_example.json", "model.ubj",
                       "python_env.yaml", "requirements.txt"]
    assert manifest["files"] == {n: sha256_file(str(folder / n)) for n in on_disk if n != "MLmodel"}
    assert f"xgboost=={xgb.__version__}" in (folder / "requirements.txt").read_text().splitlines()
    example = json.loads((folder / "input_example.json").read_text())
    assert example == {"columns": ["a", "b", "c"], "data": X_DF.head(2).to_numpy().tolist()}
    # Logged through log_artifacts: the run's artifact records carry the same checksums.
    listed = {f.path for f in mlflow.list_artifacts(info.run_id, "model")}
    assert listed == {f"model/{n}" for n in on_disk}


def test_save_model_then_load_from_path_and_file_uri(tmp_path: Path, regressor: Any) -> None:
    path = tmp_path / "saved"
    tracker.xgboost.save_model(regressor, path, input_example=X_DF.head(2))
    manifest = json.loads((path / "MLmodel").read_text())
    assert manifest["run_id"] is None and manifest["artifact_path"] is None
    for uri in (str(path), path, path.as_uri()):
        np.testing.assert_array_equal(tracker.xgboost.load_model(uri).predict(X_DF), regressor.predict(X_DF))
    with pytest.raises(AlreadyExistsError, match="not empty"):
        tracker.xgboost.save_model(regressor, path)
    with pytest.raises(NotFoundError, match="No MLmodel manifest"):
        tracker.pyfunc.load_model(tmp_path)
    assert not (tmp_path / "store").exists()  # loading a path needs no tracking store


def test_log_model_without_active_run_starts_one(store: str, booster: xgb.Booster) -> None:
    assert mlflow.active_run() is None
    info = tracker.xgboost.log_model(booster, "model")
    active = mlflow.active_run()
    assert active is not None and active.info.run_id == info.run_id


def test_infer_signature_forms() -> None:
    sig = infer_signature(pd.DataFrame({"n": [1, 2], "s": ["x", "y"], "f": np.array([1, 2], dtype=np.float32)}))
    assert sig.inputs == Schema((ColSpec("long", "n"), ColSpec("string", "s"), ColSpec("float", "f")))
    assert infer_signature({"a": [1.0, 2.0]}).inputs == Schema((ColSpec("double", "a"),))
    records = infer_signature([{"a": 1.0, "b": "x"}, {"a": 2.0}], np.zeros(2))
    assert records.inputs == Schema((ColSpec("double", "a"), ColSpec("string", "b", required=False)))
    assert records.outputs == Schema((TensorSpec("float64", (-1,)),))
    assert infer_signature(np.zeros((4, 2), np.int32)).inputs == Schema(
        (TensorSpec("int32", (-1, 2)),)
    )
    assert ModelSignature.from_dict(json.loads(json.dumps(sig.to_dict()))) == sig
    mlflow_style = {k: json.dumps(v) for k, v in sig.to_dict().items() if v is not None}
    assert ModelSignature.from_dict(mlflow_style) == sig  # MLflow stores JSON strings
    with pytest.raises(InvalidArgumentError, match="column 'm'"):
        infer_signature(pd.DataFrame({"m": [1, "x"]}, dtype=object))


def test_explicit_signature_dict(store: str, booster: xgb.Booster) -> None:
    signature = {"inputs": [{"type": "double", "name": n} for n in ("a", "b", "c")]}
    with mlflow.start_run():
        info = tracker.xgboost.log_model(booster, "model", signature=signature)
    assert info.signature is not None and info.signature.outputs is None
    model = tracker.pyfunc.load_model(info.model_uri)
    with pytest.raises(InvalidArgumentError, match=r"missing required column\(s\) \['b'\]"):
        model.predict(X_DF[["a", "c"]])
    with mlflow.start_run():
        bare = tracker.xgboost.log_model(booster, "bare", input_example=X_DF.head(2), signature=False)
    assert bare.signature is None and bare.saved_input_example_info is not None
    unchecked = tracker.pyfunc.load_model(bare.model_uri)
    assert unchecked.signature is None
    np.testing.assert_array_equal(unchecked.predict(X_DF), booster.predict(xgb.DMatrix(X_DF)))


# -- signature enforcement -----------------------------------------------------------------------


def test_signature_enforcement_messages(store: str, pipeline: Any) -> None:
    with mlflow.start_run():
        info = tracker.sklearn.log_model(pipeline, "model", input_example=RECORDS[:2])
    model = tracker.pyfunc.load_model(info.model_uri)
    frame = pd.DataFrame(RECORDS)
    with pytest.raises(InvalidArgumentError, match=r"missing required column\(s\) \['trip_distance'\]"):
        model.predict(frame[["PU_DO"]])
    bad = frame.assign(trip_distance=frame["trip_distance"].astype(str))
    with pytest.raises(InvalidArgumentError, match="'trip_distance' has type string.*expects double"):
        model.predict(bad)
    with pytest.raises(InvalidArgumentError, match="'PU_DO' has type double.*expects string"):
        model.predict(frame.assign(PU_DO=1.5))
    widened = frame.assign(trip_distance=frame["trip_distance"].round().astype("int64"))
    np.testing.assert_array_equal(
        model.predict(widened), pipeline.predict(widened.astype({"trip_distance": float}).to_dict("records"))
    )
    np.testing.assert_array_equal(model.predict(frame.assign(extra="ignored")), pipeline.predict(RECORDS))


# -- the seed's workflow, only the import changed ------------------------------------------------


def test_seed_log_artifact_pickle_stays_plain_artifact(store: str, tmp_path: Path) -> None:
    lr = LinearRegression().fit(X_DF, Y)
    model_file = tmp_path / "lin_reg.bin"
    with open(model_file, "wb") as f_out:
        pickle.dump(lr, f_out)
    with mlflow.start_run() as run:
        mlflow.log_artifact(local_path=str(model_file), artifact_path="models_pickle")
    [entry] = mlflow.list_artifacts(run.info.run_id, "models_pickle")
    assert entry.path == "models_pickle/lin_reg.bin" and not entry.is_dir
    local = mlflow.TrackerClient(store).download_artifacts(run.info.run_id, entry.path, str(tmp_path / "dl"))
    with open(local, "rb") as f_in:
        np.testing.assert_array_equal(pickle.load(f_in).predict(X_DF), lr.predict(X_DF))


def test_seed_model_management_snippet(store: str, booster: xgb.Booster) -> None:
    model = booster
    with mlflow.start_run() as run:
        # equivalent to output from autologging
        mlflow.xgboost.log_model(model, artifact_path="./path/to/artifact")
    logged_model_uri = f"runs:/{run.info.run_id}/path/to/artifact"
    # loaded_model = python function
    loaded_model = mlflow.pyfunc.load_model(logged_model_uri)
    np.testing.assert_array_equal(loaded_model.predict(X_DF), booster.predict(xgb.DMatrix(X_DF)))
    # loaded_model = object
    loaded_model = mlflow.xgboost.load_model(logged_model_uri)
    assert isinstance(loaded_model, xgb.Booster)


# The seed passes n_estimators (a scikit-learn wrapper argument) to xgboost.train; XGBoost warns.
@pytest.mark.filterwarnings("ignore:(?s).*n_estimators:UserWarning")
def test_seed_register_models_snippet_autolog(store: str, no_autolog: None) -> None:
    train = xgb.DMatrix(X_DF[:40], label=Y[:40])
    valid = xgb.DMatrix(X_DF[40:], label=Y[40:])
    with pytest.raises(InvalidArgumentError, match=r"got builtins\.str 'model'.*log_model\(booster"):  # noqa: SIM117
        # Start an MLflow run
        with mlflow.start_run():
            # Autologging will log the model automatically
            mlflow.xgboost.autolog()
            params = {"max_depth": 10, "learning_rate": 0.1, "n_estimators": 100, "nthread": 1}
            booster = xgb.train(
                params=params,
                dtrain=train,
                num_boost_round=5,
                evals=[(valid, "validation")],
                early_stopping_rounds=2,
                verbose_eval=False,
            )
            # The seed passes a string as the model: refused, naming what is expected.
            mlflow.xgboost.log_model("model", artifact_path="model")
    run = mlflow.last_active_run()
    assert run is not None and run.info.status == "FAILED"
    assert run.data.params["max_depth"] == "10" and run.data.params["num_boost_round"] == "5"
    assert "validation-rmse" in run.data.metrics and "best_iteration" in run.data.metrics
    loaded = mlflow.xgboost.load_model(f"runs:/{run.info.run_id}/model")  # autologged
    np.testing.assert_array_equal(loaded.predict(valid), booster.predict(valid))


def test_seed_registry_snippets(store: str, booster: xgb.Booster, pipeline: Any) -> None:
    experiment_name = "nyc-taxi-experiment"
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run() as run:
        info = mlflow.xgboost.log_model(booster, artifact_path="model", input_example=X_DF.head(2),
                                        registered_model_name="my_model_name")
    assert info.registered_model_version == 1
    run_id = run.info.run_id

    # Using the registry API (seed, only the import changed)
    mlflow_tracking_uri = store
    mlflow.set_tracking_uri(mlflow_tracking_uri)
    model_uri = "runs:/{}/model".format(run_id)  # noqa: UP032 - the seed's line
    model_name = "my_model_name"
    mv = mlflow.register_model(model_uri=model_uri, name=model_name)
    assert mv.version == 2

    runs = mlflow.search_runs(experiment_names=[experiment_name])
    assert isinstance(runs, pd.DataFrame)
    assert not runs.empty and len(runs) == 1
    for _, row in runs.iterrows():  # the seed's `for run in runs` iterates column names
        assert row["run_id"] == run_id and row["status"] == "FINISHED"

    # Promoting a Model
    client = mlflow.tracking.MlflowClient(tracking_uri=mlflow_tracking_uri)
    client.transition_model_version_stage(name=model_name, version=2, stage="Staging")
    latest_version = client.get_latest_versions(model_name, stages=["Staging"])[0].version
    assert latest_version == 2
    client.transition_model_version_stage(name=model_name, version=latest_version, stage="Production")
    client.update_model_version(
        name=model_name,
        version=latest_version,
        description=f"Model '{model_name}' version {latest_version} transitioned to 'Production'.",
    )
    assert client.get_model_version(model_name, 2).description.endswith("to 'Production'.")
    client.set_registered_model_alias(model_name, "champion", 1)

    # The registry recorded the model's files and flavors at registration (lineage).
    recorded = client.registry.version_info(model_name, 1)
    assert recorded["files"] == _manifest(model_uri)["files"]
    assert recorded["flavors"] == ["python_function", "xgboost"]

    expected = booster.predict(xgb.DMatrix(X_DF))
    for uri in (f"models:/{model_name}/1", f"models:/{model_name}/Production",
                f"models:/{model_name}@champion", f"models:/{model_name}/latest",
                f"models:/{model_name}/production"):
        np.testing.assert_array_equal(mlflow.pyfunc.load_model(uri).predict(X_DF), expected)
        assert isinstance(mlflow.xgboost.load_model(uri), xgb.Booster)

    # models:/name/latest follows new versions
    with mlflow.start_run():
        mlflow.sklearn.log_model(pipeline, "model", registered_model_name=model_name)
    latest = mlflow.pyfunc.load_model(f"models:/{model_name}/latest")
    assert latest.loader_module == "tracker.sklearn"
    with pytest.raises(NotFoundError, match=r"no 'xgboost' flavor; its flavors: \['python_function', 'sklearn'\]"):
        mlflow.xgboost.load_model(f"models:/{model_name}/3")


# -- integrity ----------------------------------------------------------------------------------


class _Payload:
    """Unpickling this creates a folder: the proof that an unpickle happened."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.mkdir, (str(self.marker),))


def test_tampered_pickle_is_not_unpickled(store: str, tmp_path: Path, pipeline: Any) -> None:
    with mlflow.start_run():
        info = tracker.sklearn.log_model(pipeline, artifact_path="model")
    pkl = _folder(info.model_uri) / "model.pkl"
    recorded = sha256_file(str(pkl))

    probe = tmp_path / "probe-marker"
    pickle.loads(pickle.dumps(_Payload(probe)))
    assert probe.is_dir()  # the payload does run when unpickled

    marker = tmp_path / "marker"
    pkl.write_bytes(pickle.dumps(_Payload(marker)))
    actual = sha256_file(str(pkl))
    for load in (tracker.sklearn.load_model, tracker.pyfunc.load_model):
        with pytest.raises(ModelIntegrityError, match="model.pkl") as err:
            load(info.model_uri)
        assert recorded in str(err.value) and actual in str(err.value)
        assert isinstance(err.value, tracker.TrackerError)
    assert not marker.exists()


def test_one_changed_byte_is_refused(store: str, booster: xgb.Booster, pipeline: Any) -> None:
    with mlflow.start_run():
        xgb_info = tracker.xgboost.log_model(booster, artifact_path="xgb")
        sk_info = tracker.sklearn.log_model(pipeline, artifact_path="sk")
    for info, name in ((xgb_info, "model.ubj"), (sk_info, "model.pkl")):
        path = _folder(info.model_uri) / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        with pytest.raises(ModelIntegrityError, match=f"'{name}'.*was modified"):
            tracker.pyfunc.load_model(info.model_uri)


def test_registered_checksums_catch_a_rewritten_manifest(store: str, pipeline: Any) -> None:
    with mlflow.start_run():
        info = tracker.sklearn.log_model(pipeline, "model", registered_model_name="guarded")
    folder = _folder(info.model_uri)
    other = make_pipeline(DictVectorizer(sparse=False), LinearRegression()).fit(RECORDS, Y_RECORDS)
    (folder / "model.pkl").write_bytes(pickle.dumps(other))
    manifest = json.loads((folder / "MLmodel").read_text())
    manifest["files"]["model.pkl"] = sha256_file(str(folder / "model.pkl"))
    (folder / "MLmodel").write_text(json.dumps(manifest))
    tracker.sklearn.load_model(f"runs:/{info.run_id}/model")  # self-consistent folder loads
    with pytest.raises(ModelIntegrityError, match=r"model\.pkl.*changed after registration"):
        tracker.sklearn.load_model("models:/guarded/1")


# -- bad arguments and URIs ---------------------------------------------------------------------


def test_bad_log_model_arguments(store: str, booster: xgb.Booster, pipeline: Any) -> None:
    for flavor in (tracker.xgboost, tracker.sklearn):
        with pytest.raises(InvalidArgumentError, match=r"got builtins\.str 'model'"):
            flavor.log_model("model", artifact_path="model")
    with pytest.raises(InvalidArgumentError, match="not both"):
        tracker.xgboost.log_model(booster, artifact_path="model", name="model")
    with pytest.raises(InvalidArgumentError, match="artifact_path='model'"):
        tracker.sklearn.log_model(pipeline)
    with pytest.raises(InvalidArgumentError, match=r"unexpected keyword argument\(s\) \['flavour'\]"):
        tracker.xgboost.log_model(booster, "model", flavour="x")
    with pytest.raises(InvalidArgumentError, match="model_format must be one of"):
        tracker.xgboost.log_model(booster, "model", model_format="pickle")
    with pytest.raises(InvalidArgumentError, match="XGBRegressor is not fitted"):
        tracker.xgboost.log_model(xgb.XGBRegressor(), "model")
    with pytest.raises(InvalidArgumentError, match="signature must be"):
        tracker.xgboost.log_model(booster, "model", signature="a,b,c")
    assert mlflow.active_run() is None  # argument errors come before a run is started
    with mlflow.start_run() as run:
        tracker.xgboost.log_model(booster, "model")
        with pytest.raises(AlreadyExistsError, match="already has artifacts at 'model'"):
            tracker.xgboost.log_model(booster, "model")
    assert [f.path for f in mlflow.list_artifacts(run.info.run_id)] == ["model"]


def test_bad_uris_list_what_exists(store: str, booster: xgb.Booster) -> None:
    with mlflow.start_run() as run:
        tracker.xgboost.log_model(booster, "model", registered_model_name="known")
    run_id = run.info.run_id
    with pytest.raises(NotFoundError, match="Run 'f+' not found"):
        tracker.pyfunc.load_model("runs:/" + "f" * 32 + "/model")
    with pytest.raises(NotFoundError, match=r"no artifact 'modle'; its artifacts: \['model'\]"):
        tracker.xgboost.load_model(f"runs:/{run_id}/modle")
    with pytest.raises(NotFoundError, match="'unknown' not found; registered models: 'known'"):
        tracker.pyfunc.load_model("models:/unknown/1")
    with pytest.raises(NotFoundError, match="no version 7; versions: 1"):
        tracker.pyfunc.load_model("models:/known/7")
    with pytest.raises(NotFoundError, match="no alias 'champion'; aliases: none"):
        tracker.pyfunc.load_model("models:/known@champion")
    with pytest.raises(NotFoundError, match="no version in stage 'Staging'.*'None': 1"):
        tracker.pyfunc.load_model("models:/known/Staging")
    for bad in ("models:/", "models:/known/1/extra", "models:/known/champion"):
        with pytest.raises(InvalidArgumentError, match="Invalid models URI"):
            tracker.pyfunc.load_model(bad)
    with pytest.raises(InvalidArgumentError, match="Unsupported model URI"):
        tracker.pyfunc.load_model("http://example.com/model")
    with pytest.raises(InvalidArgumentError, match="points at a file"):
        tracker.pyfunc.load_model(f"runs:/{run_id}/model/model.ubj")
