"""Model folders in MLflow's format (#12): MLflow 3 loads what tracker logs, tracker loads what
MLflow wrote and what older tracker versions wrote, and the checksum and loader rules hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
import yaml
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

import tracker
import tracker.pyfunc
import tracker.sklearn
import tracker.xgboost
from tracker.exceptions import InvalidArgumentError, ModelIntegrityError

ROOT = Path(__file__).resolve().parents[1]
X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
Y = [0, 0, 0, 1, 1, 1]


@pytest.fixture
def store(tmp_path: Path) -> str:
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    yield uri
    while tracker.active_run() is not None:
        tracker.end_run()


def folder_of(model_uri: str) -> Path:
    from tracker.model_uri import resolve

    return Path(resolve(tracker.TrackerClient(tracker.get_tracking_uri()), model_uri).local_path)


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "MLmodel").read_text())


def rewrite_manifest(folder: Path, change: Any) -> None:
    manifest = manifest_of(folder)
    change(manifest)
    (folder / "MLmodel").write_text(json.dumps(manifest))


def mlflow_python() -> str | None:
    """MLflow 3's interpreter: $MLFLOW_VENV/bin/python, else /tmp/compat-mlflow-venv."""
    for venv in (os.environ.get("MLFLOW_VENV"), "/tmp/compat-mlflow-venv"):
        if venv and (Path(venv) / "bin" / "python").exists():
            return str(Path(venv) / "bin" / "python")
    return None


# -- what tracker writes --------------------------------------------------------------------------


def test_sklearn_folder_is_mlflows(store: str) -> None:
    model = LogisticRegression().fit(X, Y)
    with tracker.start_run():
        info = tracker.sklearn.log_model(model, name="model", input_example=X.head(2))
    folder = folder_of(info.model_uri)
    manifest = manifest_of(folder)
    assert manifest["flavors"]["python_function"] == {
        "loader_module": "mlflow.sklearn", "model_path": "model.pkl", "predict_fn": "predict",
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "python_version": manifest["python_version"],
    }
    sk = manifest["flavors"]["sklearn"]
    assert (sk["pickled_model"], sk["serialization_format"], sk["code"]) == (
        "model.pkl", "cloudpickle", None)
    assert sorted(p.name for p in folder.iterdir()) == [
        "MLmodel", "conda.yaml", "input_example.json", "model.pkl", "python_env.yaml",
        "requirements.txt"]
    requirements = (folder / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("scikit-learn==") for line in requirements)
    conda = yaml.safe_load((folder / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": requirements}
    assert conda["dependencies"][0] == f"python={manifest['python_version']}"
    venv = yaml.safe_load((folder / "python_env.yaml").read_text())
    assert venv["python"] == manifest["python_version"]
    assert venv["dependencies"] == ["-r requirements.txt"]
    # The environment files are checksummed like every other file.
    assert {"conda.yaml", "python_env.yaml"} <= set(manifest["files"])


def test_xgboost_sklearn_api_folder_is_mlflows(store: str) -> None:
    model = xgb.XGBClassifier(n_estimators=3).fit(X, Y)
    with tracker.start_run():
        info = tracker.xgboost.log_model(model, artifact_path="model")
    manifest = manifest_of(folder_of(info.model_uri))
    assert manifest["flavors"]["python_function"]["loader_module"] == "mlflow.xgboost"
    assert manifest["flavors"]["python_function"]["data"] == "model.ubj"
    assert manifest["flavors"]["xgboost"]["model_class"] == "xgboost.sklearn.XGBClassifier"
    assert isinstance(tracker.xgboost.load_model(info.model_uri), xgb.XGBClassifier)


CUSTOM_MODEL = """
    import json, sys
    import pandas as pd
    import tracker as mlflow

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return (model_input["a"] * 2 + 1).tolist()

    mlflow.set_tracking_uri(sys.argv[1])
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="custom", python_model=Doubler(),
                                       input_example=pd.DataFrame({"a": [1.0], "b": [0.0]}))
    print(json.dumps(info.model_uri))
"""


def test_custom_model_pickle_names_mlflows_base_class_not_trackers(
    store: str, tmp_path: Path
) -> None:
    """A class defined in a script is pickled by value; its base class is recorded under MLflow's
    name, so MLflow unpickles it without tracker installed — and tracker maps it back."""
    script = tmp_path / "custom.py"
    script.write_text(textwrap.dedent(CUSTOM_MODEL))
    done = subprocess.run([sys.executable, str(script), store], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    uri = json.loads(done.stdout.splitlines()[-1])
    folder = folder_of(uri)
    payload = (folder / "python_model.pkl").read_bytes()
    assert b"mlflow.pyfunc.model" in payload and b"tracker" not in payload
    assert manifest_of(folder)["flavors"]["python_function"]["env"]["virtualenv"] == "python_env.yaml"
    loaded = tracker.pyfunc.load_model(uri)
    assert isinstance(loaded.unwrap_python_model(), tracker.pyfunc.PythonModel)
    assert loaded.predict(X) == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]


# -- what tracker reads ---------------------------------------------------------------------------


def test_older_tracker_folders_still_load(store: str) -> None:
    """Folders written before #12 name tracker's modules as loader_module."""
    sk = LogisticRegression().fit(X, Y)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=Y), 3)
    with tracker.start_run():
        sk_info = tracker.sklearn.log_model(sk, "sk")
        xgb_info = tracker.xgboost.log_model(booster, "xgb")
    for info, old in ((sk_info, "tracker.sklearn"), (xgb_info, "tracker.xgboost")):
        def to_old(manifest: dict[str, Any], old: str = old) -> None:
            conf = manifest["flavors"]["python_function"]
            conf["loader_module"] = old
            conf.pop("model_path", None)
            conf.pop("env")
        rewrite_manifest(folder_of(info.model_uri), to_old)
    np.testing.assert_array_equal(tracker.pyfunc.load_model(sk_info.model_uri).predict(X),
                                  sk.predict(X))
    np.testing.assert_array_equal(tracker.pyfunc.load_model(xgb_info.model_uri).predict(X),
                                  booster.predict(xgb.DMatrix(X)))


def test_loader_modules_off_the_allow_list_are_refused(store: str) -> None:
    with tracker.start_run():
        info = tracker.sklearn.log_model(LogisticRegression().fit(X, Y), "model")
    for loader in ("os", "mlflow.pytorch", "tracker.api"):
        rewrite_manifest(folder_of(info.model_uri), lambda m, v=loader: m["flavors"][
            "python_function"].update(loader_module=v))
        with pytest.raises(InvalidArgumentError, match=f"names loader_module '{loader}'"):
            tracker.pyfunc.load_model(info.model_uri)


def test_folders_without_checksums_load_pickles_only_when_the_user_opts_in(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder MLflow wrote lists no checksums: XGBoost's files (no code runs) load; pickles
    need MLflow 3's own switch, MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true."""
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", raising=False)
    sk = LogisticRegression().fit(X, Y)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=Y), 3)
    with tracker.start_run():
        sk_info = tracker.sklearn.log_model(sk, "sk")
        xgb_info = tracker.xgboost.log_model(booster, "xgb")
    for info in (sk_info, xgb_info):
        rewrite_manifest(folder_of(info.model_uri), lambda m: m.pop("files"))
    np.testing.assert_array_equal(tracker.xgboost.load_model(xgb_info.model_uri).predict(
        xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))
    with pytest.raises(ModelIntegrityError, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true"):
        tracker.sklearn.load_model(sk_info.model_uri)
    with pytest.raises(ModelIntegrityError, match="has no checksum"):
        tracker.pyfunc.load_model(sk_info.model_uri)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    np.testing.assert_array_equal(tracker.pyfunc.load_model(sk_info.model_uri).predict(X),
                                  sk.predict(X))
    # Even then, a manifest cannot point outside the folder.
    rewrite_manifest(folder_of(sk_info.model_uri), lambda m: m["flavors"]["sklearn"].update(
        pickled_model="../xgb/model.ubj"))
    with pytest.raises(ModelIntegrityError, match="outside the model folder"):
        tracker.sklearn.load_model(sk_info.model_uri)


def test_skops_folders_need_skops(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow 3 saves scikit-learn models as skops by default; without skops the error says so."""
    pytest.importorskip("numpy")
    if "skops" in sys.modules or _has("skops"):
        pytest.skip("skops is installed here")
    with tracker.start_run():
        info = tracker.sklearn.log_model(LogisticRegression().fit(X, Y), "model")
    rewrite_manifest(folder_of(info.model_uri), lambda m: m["flavors"]["sklearn"].update(
        serialization_format="skops"))
    with pytest.raises(InvalidArgumentError, match="skops format; loading it needs the skops"):
        tracker.sklearn.load_model(info.model_uri)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- unfitted scikit-learn estimators (MLflow logs them) --------------------------------------


def test_unfitted_estimator_is_logged_and_registered(store: str) -> None:
    with tracker.start_run():
        info = tracker.sklearn.log_model(LogisticRegression(C=0.5), name="template",
                                         registered_model_name="churn-template")
    assert info.registered_model_version == 1
    loaded = tracker.sklearn.load_model("models:/churn-template/1")
    assert isinstance(loaded, LogisticRegression) and loaded.C == 0.5
    assert loaded.fit(X, Y).predict(X).tolist() == LogisticRegression(C=0.5).fit(X, Y).predict(
        X).tolist()
    with pytest.raises(NotFittedError):
        tracker.pyfunc.load_model("models:/churn-template/1").predict(X)
    with pytest.raises(InvalidArgumentError, match="pyfunc_predict_fn must be one of"):
        tracker.sklearn.log_model(LogisticRegression(), "m2", pyfunc_predict_fn="transform_all")
    with pytest.raises(InvalidArgumentError, match="an object with fit or predict"):
        tracker.sklearn.log_model(object(), "m3")


# -- differential: MLflow 3 itself ------------------------------------------------------------


TRACKER_SIDE = """
    import json, sys
    import pandas as pd, xgboost as xgb
    from sklearn.ensemble import RandomForestClassifier
    import tracker as mlflow

    X = pd.DataFrame({"a": [0.0, 1, 2, 3, 4, 5, 6, 7], "b": [1.0, 0, 1, 0, 1, 0, 1, 1]})
    y = [0, 0, 0, 1, 1, 1, 1, 0]

    class Scaled(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            self.factor = float(context.model_config["factor"])

        def predict(self, context, model_input, params=None):
            return (model_input["a"] * self.factor - model_input["b"]).tolist()

    mlflow.set_tracking_uri(sys.argv[1])
    uris = {}
    with mlflow.start_run():
        booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(X, label=y), 5)
        uris["xgboost"] = mlflow.xgboost.log_model(booster, name="xgb", input_example=X.head(2)).model_uri
        clf = xgb.XGBClassifier(n_estimators=4).fit(X, y)
        uris["xgboost_sklearn"] = mlflow.xgboost.log_model(clf, name="xgbc").model_uri
        forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
        uris["sklearn"] = mlflow.sklearn.log_model(forest, name="sk", input_example=X.head(2)).model_uri
        uris["pyfunc"] = mlflow.pyfunc.log_model(name="custom", python_model=Scaled(),
                                                 model_config={"factor": 1.5},
                                                 input_example=X.head(2)).model_uri
    out = {}
    for kind, uri in uris.items():
        model = mlflow.pyfunc.load_model(uri)
        out[kind] = {"path": model.metadata["artifact_path"], "uri": uri,
                     "predicted": pd.Series(list(model.predict(X))).astype(float).tolist()}
    print(json.dumps(out))
"""

MLFLOW_SIDE = """
    import json, sys
    import mlflow, pandas as pd

    X = pd.DataFrame({"a": [0.0, 1, 2, 3, 4, 5, 6, 7], "b": [1.0, 0, 1, 0, 1, 0, 1, 1]})
    out = {}
    for kind, path in json.loads(sys.argv[1]).items():
        model = mlflow.pyfunc.load_model(path)
        out[kind] = {"loader": model.loader_module,
                     "predicted": pd.Series(list(model.predict(X))).astype(float).tolist()}
    print(json.dumps(out))
"""


def test_mlflow_loads_and_predicts_with_tracker_logged_models(tmp_path: Path) -> None:
    """MLflow 3 in its own venv, without tracker on its path, loads tracker-logged XGBoost
    (Booster and XGBClassifier), scikit-learn and custom pyfunc models and predicts the same."""
    python = mlflow_python()
    if python is None:
        pytest.skip("no MLflow venv (set MLFLOW_VENV, or create /tmp/compat-mlflow-venv)")
    script = tmp_path / "log.py"
    script.write_text(textwrap.dedent(TRACKER_SIDE))
    store = str(tmp_path / "store")
    done = subprocess.run([sys.executable, str(script), store], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    ours = json.loads(done.stdout.splitlines()[-1])
    tracker.set_tracking_uri(store)
    paths = {kind: str(folder_of(entry["uri"])) for kind, entry in ours.items()}
    reader = tmp_path / "read.py"
    reader.write_text(textwrap.dedent(MLFLOW_SIDE))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true", OMP_NUM_THREADS="1")
    done = subprocess.run([python, str(reader), json.dumps(paths)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout.splitlines()[-1])
    assert {k: v["loader"] for k, v in theirs.items()} == {
        "xgboost": "mlflow.xgboost", "xgboost_sklearn": "mlflow.xgboost",
        "sklearn": "mlflow.sklearn", "pyfunc": "mlflow.pyfunc.model"}
    for kind in ours:
        np.testing.assert_allclose(theirs[kind]["predicted"], ours[kind]["predicted"],
                                   rtol=1e-6, err_msg=kind)


MLFLOW_WRITES = """
    import json, sys
    import mlflow, pandas as pd, xgboost as xgb
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": [0.0, 1, 2, 3, 4, 5], "b": [1.0, 0, 1, 0, 1, 0]})
    y = [0, 0, 0, 1, 1, 1]
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), 3)
    mlflow.xgboost.save_model(booster, "mlflow_xgb", input_example=X.head(2))
    clf = LogisticRegression().fit(X, y)
    mlflow.sklearn.save_model(clf, "mlflow_sk", serialization_format="cloudpickle",
                              input_example=X.head(2))
    print(json.dumps({"xgb": booster.predict(xgb.DMatrix(X)).tolist(),
                      "sk": clf.predict(X).tolist()}))
"""


def test_tracker_loads_models_mlflow_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = mlflow_python()
    if python is None:
        pytest.skip("no MLflow venv (set MLFLOW_VENV, or create /tmp/compat-mlflow-venv)")
    script = tmp_path / "write.py"
    script.write_text(textwrap.dedent(MLFLOW_WRITES))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([python, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={**env, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    expected = json.loads(done.stdout.splitlines()[-1])
    assert "files" not in yaml.safe_load((tmp_path / "mlflow_xgb" / "MLmodel").read_text())
    xgb_model = tracker.pyfunc.load_model(tmp_path / "mlflow_xgb")
    np.testing.assert_allclose(xgb_model.predict(X), expected["xgb"], rtol=1e-6)
    assert xgb_model.signature is not None and xgb_model.signature.inputs.input_names() == ["a", "b"]
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", raising=False)
    with pytest.raises(ModelIntegrityError, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        tracker.pyfunc.load_model(tmp_path / "mlflow_sk")
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    assert tracker.pyfunc.load_model(tmp_path / "mlflow_sk").predict(X).tolist() == expected["sk"]


@pytest.mark.slow
def test_mlflow_models_predict_serves_a_tracker_model(tmp_path: Path) -> None:
    """``mlflow models predict`` (the scoring server's input handling) on a tracker folder."""
    python = mlflow_python()
    if python is None:
        pytest.skip("no MLflow venv (set MLFLOW_VENV, or create /tmp/compat-mlflow-venv)")
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(X, label=Y), 4)
    tracker.xgboost.save_model(booster, tmp_path / "model", input_example=X.head(2))
    request = {"dataframe_split": {"columns": ["a", "b"], "data": X.to_numpy().tolist()}}
    (tmp_path / "in.json").write_text(json.dumps(request))
    mlflow = str(Path(python).parent / "mlflow")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [mlflow, "models", "predict", "-m", str(tmp_path / "model"), "-i",
         str(tmp_path / "in.json"), "-t", "json", "--env-manager", "local",
         "-o", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    predicted = json.loads((tmp_path / "out.json").read_text())["predictions"]
    np.testing.assert_allclose(predicted, booster.predict(xgb.DMatrix(X)), rtol=1e-6)
