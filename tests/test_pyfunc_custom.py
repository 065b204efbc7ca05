"""Custom pyfunc models (issue #12): ``PythonModel`` subclasses logged and loaded as MLflow does.

Each workflow is a script written the way MLflow's docs write it, run with ``import tracker as
mlflow`` in its own process; the model is then loaded and used in a second, fresh process, so
nothing in memory (classes, modules, sys.path) helps the load.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tracker as mlflow
import tracker.pyfunc
from tracker.exceptions import InvalidArgumentError, ModelIntegrityError, NotFoundError
from tracker.models.manifest import read_manifest
from tracker.store.covers_cache import cache_root

ROOT = Path(__file__).resolve().parents[1]


def run_script(folder: Path, name: str, code: str) -> dict[str, Any]:
    """Run ``code`` as ``folder/name`` in a fresh interpreter; return what it wrote to out.json."""
    script = folder / name
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("TRACKER_TRACKING_URI", None)
    done = subprocess.run([sys.executable, str(script)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = folder / "out.json"
    return json.loads(out.read_text()) if out.exists() else {}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    mlflow.set_tracking_uri(str(tmp_path / "tracking"))
    return tmp_path


# -- the three workflows from MLflow's docs ---------------------------------------------------------

SKLEARN_WRAPPER = """
    import json, pickle
    import numpy as np, pandas as pd
    from sklearn.linear_model import LinearRegression
    import tracker as mlflow
    from tracker.models import infer_signature

    mlflow.set_tracking_uri("./tracking")
    mlflow.set_experiment("custom-models")
    X = pd.DataFrame({"trip_distance": np.linspace(0.5, 12, 40), "passengers": np.arange(40) % 4})
    y = 3.5 * X["trip_distance"] + X["passengers"]
    lr = LinearRegression(n_jobs=1).fit(X, y)
    with open("lin_reg.pkl", "wb") as f:
        pickle.dump(lr, f)

    class TaxiModel(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            with open(context.artifacts["regressor"], "rb") as f:
                self.model = pickle.load(f)

        def predict(self, context, model_input, params=None):
            return self.model.predict(model_input).round(3)

    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            artifact_path="model",
            python_model=TaxiModel(),
            artifacts={"regressor": "lin_reg.pkl"},
            signature=infer_signature(X, lr.predict(X)),
            input_example=X.head(3),
            pip_requirements=["scikit-learn", "pandas"],
        )
    version = mlflow.register_model(info.model_uri, "taxi-custom")
    json.dump({"uri": info.model_uri, "run_id": run.info.run_id, "version": int(version.version),
               "expected": lr.predict(X.head(5)).round(3).tolist()}, open("out.json", "w"))
"""

LOAD_AND_PREDICT = """
    import json
    import numpy as np, pandas as pd
    import tracker as mlflow

    mlflow.set_tracking_uri("./tracking")
    logged = json.load(open("logged.json"))
    X = pd.DataFrame({"trip_distance": np.linspace(0.5, 12, 40), "passengers": np.arange(40) % 4})
    by_run = mlflow.pyfunc.load_model(logged["uri"])
    by_version = mlflow.pyfunc.load_model(f"models:/taxi-custom/{logged['version']}")
    json.dump({
        "run": by_run.predict(X.head(5)).tolist(),
        "version": by_version.predict(X.head(5)).tolist(),
        "class": type(by_run.unwrap_python_model()).__name__,
        "repr": repr(by_run),
    }, open("out.json", "w"))
"""


def test_sklearn_wrapper_with_artifact_round_trip_in_fresh_process(tmp_path: Path) -> None:
    logged = run_script(tmp_path, "train.py", SKLEARN_WRAPPER)
    (tmp_path / "logged.json").write_text(json.dumps(logged))
    (tmp_path / "lin_reg.pkl").unlink()  # the model carries its own copy
    loaded = run_script(tmp_path, "serve.py", LOAD_AND_PREDICT)
    assert loaded["run"] == loaded["version"] == logged["expected"]
    assert loaded["class"] == "TaxiModel" and "flavor=python_function" in loaded["repr"]

    folder = tmp_path / "tracking" / "artifacts"
    [model_dir] = [p.parent for p in folder.rglob("MLmodel")]
    manifest = read_manifest(str(model_dir))
    conf = manifest["flavors"]["python_function"]
    assert list(manifest["flavors"]) == ["python_function"]  # MLflow's layout: one flavor
    assert conf["loader_module"] == "mlflow.pyfunc.model"
    assert conf["python_model"] == "python_model.pkl" and conf["code"] is None
    assert conf["artifacts"] == {"regressor": {"path": "artifacts/lin_reg.pkl", "uri": "lin_reg.pkl"}}
    assert conf["cloudpickle_version"] and conf["streamable"] is False
    assert sorted(manifest["files"]) == [
        "artifacts/lin_reg.pkl", "conda.yaml", "input_example.json", "python_env.yaml",
        "python_model.pkl", "requirements.txt",
    ]
    assert (model_dir / "requirements.txt").read_text() == "scikit-learn\npandas\n"
    inputs = json.loads(manifest["signature"]["inputs"])  # a JSON string, as MLflow writes it
    assert [s["name"] for s in inputs] == ["trip_distance", "passengers"]


PARAMS_MODEL = """
    import json, warnings
    import pandas as pd
    import tracker as mlflow
    from tracker.models import infer_signature

    mlflow.set_tracking_uri("./tracking")

    class Scaler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            factor = params["factor"] if params else 1.0
            return (model_input["x"] * factor + params["offset"]).tolist()

    data = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    signature = infer_signature(data, [1.0, 2.0, 3.0], params={"factor": 2.0, "offset": 0})
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="scaler", python_model=Scaler(), signature=signature)
    json.dump({"uri": info.model_uri}, open("out.json", "w"))
"""

PARAMS_PREDICT = """
    import json, warnings
    import pandas as pd
    import tracker as mlflow

    mlflow.set_tracking_uri("./tracking")
    model = mlflow.pyfunc.load_model(json.load(open("logged.json"))["uri"])
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        unknown = model.predict(data, params={"factor": 3, "speed": 9})
    json.dump({
        "defaults": model.predict(data),
        "given": model.predict(data, params={"factor": 10.0, "offset": 1}),
        "int_to_double": model.predict(data, params={"factor": 3}),
        "unknown": unknown,
        "warnings": [str(w.message) for w in caught],
    }, open("out.json", "w"))
"""


def test_model_with_inference_params(tmp_path: Path) -> None:
    logged = run_script(tmp_path, "log.py", PARAMS_MODEL)
    (tmp_path / "logged.json").write_text(json.dumps(logged))
    out = run_script(tmp_path, "predict.py", PARAMS_PREDICT)
    assert out["defaults"] == [2.0, 4.0, 6.0]
    assert out["given"] == [11.0, 21.0, 31.0]
    assert out["int_to_double"] == out["unknown"] == [3.0, 6.0, 9.0]
    assert out["warnings"] == [
        "Ignoring params ['speed']: the model's signature declares only ['factor', 'offset']."
    ]
    mlflow.set_tracking_uri(str(tmp_path / "tracking"))
    model = tracker.pyfunc.load_model(logged["uri"])
    with pytest.raises(InvalidArgumentError, match="Param 'offset' expects a long value, got 'x'"):
        model.predict(pd.DataFrame({"x": [1.0]}), params={"offset": "x"})


CODE_PATHS_MODEL = """
    import json
    import tracker as mlflow
    from preprocessing import Normalizer  # a module next to the script, shipped via code_paths
    from tracker.models import infer_signature
    import pandas as pd

    mlflow.set_tracking_uri("./tracking")
    data = pd.DataFrame({"word": ["Taxi ", " RIDE", "fare"]})
    model = Normalizer()
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            "normalizer", python_model=model, code_paths=["preprocessing.py", "textutils"],
            input_example=data, model_config={"suffix": "!"},
        )
    json.dump({"uri": info.model_uri, "signature": info.signature.to_dict()}, open("out.json", "w"))
"""

PREPROCESSING = """
    import tracker as mlflow
    from textutils.clean import clean

    class Normalizer(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            self.suffix = context.model_config["suffix"]

        def predict(self, context, model_input, params=None):
            return [clean(w) + self.suffix for w in model_input["word"]]
"""

CODE_PATHS_PREDICT = """
    import json, sys
    import tracker as mlflow

    logged = json.load(open("logged.json"))
    mlflow.set_tracking_uri(logged["store"])
    uri = logged["uri"]
    assert "preprocessing" not in sys.modules
    model = mlflow.pyfunc.load_model(uri)
    other = mlflow.pyfunc.load_model(uri, model_config={"suffix": "?"})
    json.dump({"out": model.predict({"word": ["  Hello", "WORLD"]}),
               "other": other.predict({"word": ["x"]}),
               "module": sys.modules["preprocessing"].__file__}, open("out.json", "w"))
"""


def test_code_paths_helper_module_imported_in_fresh_process(tmp_path: Path) -> None:
    work = tmp_path / "project"
    (work / "textutils").mkdir(parents=True)
    (work / "textutils" / "__init__.py").write_text("")
    (work / "textutils" / "clean.py").write_text("def clean(w):\n    return w.strip().lower()\n")
    (work / "preprocessing.py").write_text(textwrap.dedent(PREPROCESSING))
    logged = run_script(work, "log.py", CODE_PATHS_MODEL)
    assert logged["signature"]["inputs"] == [{"type": "string", "name": "word", "required": True}]
    assert logged["signature"]["outputs"] == [{"type": "string", "required": True}]
    (work / "preprocessing.py").unlink()  # gone: only the model's code/ copy is left
    shutil.rmtree(work / "textutils")
    serve = tmp_path / "serve"
    serve.mkdir()
    (serve / "logged.json").write_text(json.dumps({**logged, "store": str(work / "tracking")}))
    out = run_script(serve, "predict.py", CODE_PATHS_PREDICT)
    assert out["out"] == ["hello!", "world!"] and out["other"] == ["x?"]
    assert "model-code" in out["module"]  # a copy: nothing is written into the store
    assert not list((work / "tracking").rglob("__pycache__"))
    [model_dir] = [p.parent for p in (work / "tracking").rglob("MLmodel")]
    assert sorted(p.relative_to(model_dir).as_posix() for p in (model_dir / "code").rglob("*.py")) == [
        "code/preprocessing.py", "code/textutils/__init__.py", "code/textutils/clean.py",
    ]
    assert read_manifest(str(model_dir))["flavors"]["python_function"]["config"] == {"suffix": "!"}


SEED_AUTOLOG = """
    import json
    import numpy as np, pandas as pd, xgboost
    import tracker as mlflow

    def frame():
        rng = np.random.RandomState(3)
        return pd.DataFrame({"trip_distance": rng.rand(60) * 10, "PULocationID": rng.randint(1, 50, 60)})

    X_train = frame()
    y_train = X_train["trip_distance"] * 2.5
    mlflow.set_tracking_uri("./tracking")
    mlflow.set_experiment("nyc-taxi-experiment")
    train = xgboost.DMatrix(X_train, label=y_train)
    with mlflow.start_run() as run:
        mlflow.xgboost.autolog()
        booster = xgboost.train(params={"max_depth": 3, "nthread": 1}, dtrain=train,
                                num_boost_round=5)
    mlflow.register_model(f"runs:/{run.info.run_id}/model", "nyc-taxi-xgb")
    json.dump({"expected": booster.predict(xgboost.DMatrix(X_train.head(5))).tolist()},
              open("out.json", "w"))
"""

SEED_PREDICT = """
    import json
    import numpy as np, pandas as pd
    import tracker as mlflow

    def frame():
        rng = np.random.RandomState(3)
        return pd.DataFrame({"trip_distance": rng.rand(60) * 10, "PULocationID": rng.randint(1, 50, 60)})

    mlflow.set_tracking_uri("./tracking")
    loaded_model = mlflow.pyfunc.load_model("models:/nyc-taxi-xgb/1")
    json.dump({"predicted": loaded_model.predict(frame().head(5)).tolist()}, open("out.json", "w"))
"""


def test_seed_autolog_workflow_predicts_on_the_pandas_frame_in_a_fresh_process(tmp_path: Path) -> None:
    """Issue #12's seed bug: the signature said float (the DMatrix's float32) and predicting on
    the float64 frame failed with "column 'trip_distance' has type double ... expects float"."""
    trained = run_script(tmp_path, "train.py", SEED_AUTOLOG)
    assert run_script(tmp_path, "predict.py", SEED_PREDICT)["predicted"] == trained["expected"]


# -- in-process API ------------------------------------------------------------------------------------


class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n: int) -> None:
        self.n = n

    def predict(self, model_input: Any, params: Any = None) -> Any:  # MLflow 3: no context
        return model_input + self.n


def test_save_model_predict_without_context_and_function_models(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]})
    tracker.pyfunc.save_model(tmp_path / "add", python_model=AddN(5), input_example=frame)
    model = tracker.pyfunc.load_model(tmp_path / "add")
    pd.testing.assert_frame_equal(model.predict(frame), frame + 5)
    assert model.signature is not None and model.signature.outputs is not None
    assert isinstance(model.get_raw_model(), AddN) and model.get_raw_model().n == 5

    def shout(model_input: Any) -> Any:
        return [w.upper() for w in model_input[0]]

    tracker.pyfunc.save_model(tmp_path / "fn", python_model=shout, input_example=["hi", "yo"])
    fn = tracker.pyfunc.load_model((tmp_path / "fn").as_uri())
    assert fn.predict(["abc"]) == ["ABC"]
    with pytest.warns(UserWarning, match=r"Ignoring params \['k'\]: this model's signature declares no inference params"):
        fn.predict(["abc"], params={"k": 1})


class Upper(mlflow.pyfunc.PythonModel):
    def predict(self, model_input: list[str], params: dict[str, Any] | None = None) -> list[str]:
        return [text.upper() for text in model_input]


def test_mlflow3_type_hints_give_signature_and_list_input(tmp_path: Path) -> None:
    tracker.pyfunc.save_model(tmp_path / "upper", python_model=Upper())
    model = tracker.pyfunc.load_model(tmp_path / "upper")
    assert model.signature is not None
    assert model.signature.to_dict() == {
        "inputs": [{"type": "string", "required": True}],
        "outputs": [{"type": "string", "required": True}],
    }
    assert model.predict(["taxi", "fare"]) == ["TAXI", "FARE"]
    assert model.predict(pd.DataFrame({"text": ["ride"]})) == ["RIDE"]  # the text column, as a list


def test_input_example_with_params_tuple_records_params(store: Path) -> None:
    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return [params["greeting"]] * len(model_input)

    with mlflow.start_run():
        info = tracker.pyfunc.log_model(
            name="echo", python_model=Echo(), input_example=(pd.DataFrame({"q": ["a"]}), {"greeting": "hi"})
        )
    assert info.signature is not None and info.signature.params is not None
    assert info.signature.params.params[0].default == "hi"
    model = tracker.pyfunc.load_model(info.model_uri)
    assert model.predict(pd.DataFrame({"q": ["x", "y"]})) == ["hi", "hi"]
    assert model.predict(pd.DataFrame({"q": ["x"]}), params={"greeting": "yo"}) == ["yo"]


def test_bad_arguments_name_the_value(store: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"got the class .*AddN\. Pass an instance: python_model=AddN\(\)"):
        tracker.pyfunc.log_model("model", python_model=AddN)
    with pytest.raises(InvalidArgumentError, match="got builtins.int"):
        tracker.pyfunc.log_model("model", python_model=42)
    with pytest.raises(InvalidArgumentError, match="'model.py' is a path.*models-from-code"):
        tracker.pyfunc.log_model("model", python_model="model.py")
    with pytest.raises(InvalidArgumentError, match="needs python_model="):
        tracker.pyfunc.log_model("model")
    with pytest.raises(InvalidArgumentError, match="does not define predict"):
        tracker.pyfunc.log_model("model", python_model=mlflow.pyfunc.PythonModel())
    with pytest.raises(NotFoundError, match=r"Artifact 'weights' points at 'nope\.bin', which does not exist"):
        tracker.pyfunc.save_model(tmp_path / "m1", python_model=AddN(1), artifacts={"weights": "nope.bin"})
    assert not (tmp_path / "m1").exists()  # nothing half-written
    with pytest.raises(InvalidArgumentError, match="artifacts must be a dict.*got list"):
        tracker.pyfunc.save_model(tmp_path / "m2", python_model=AddN(1), artifacts=["a.bin"])
    with pytest.raises(InvalidArgumentError, match="Artifact 'w' has URI 'http://x/w'"):
        tracker.pyfunc.save_model(tmp_path / "m3", python_model=AddN(1), artifacts={"w": "http://x/w"})
    with pytest.raises(InvalidArgumentError, match=r"code_paths entry 'missing\.py' is not an existing"):
        tracker.pyfunc.save_model(tmp_path / "m4", python_model=AddN(1), code_paths=["missing.py"])
    with pytest.raises(InvalidArgumentError, match="pip_requirements must be a list.*got int 3"):
        tracker.pyfunc.save_model(tmp_path / "m5", python_model=AddN(1), pip_requirements=3)
    with pytest.raises(InvalidArgumentError, match="unexpected keyword argument.*'colour'"):
        tracker.pyfunc.save_model(tmp_path / "m6", python_model=AddN(1), colour="red")
    with pytest.raises(InvalidArgumentError, match="loader_module=/data_path= models are not supported"):
        tracker.pyfunc.log_model("model", loader_module="my_loader", python_model=AddN(1))
    with pytest.raises(InvalidArgumentError, match="got loader_module='my_loader'"):
        tracker.pyfunc.save_model(tmp_path / "m7", loader_module="my_loader", data_path="d")
    assert mlflow.active_run() is None  # refused before a run was started


def test_unpicklable_model_is_refused_with_the_cause(tmp_path: Path) -> None:
    import threading

    model = AddN(1)
    model.lock = threading.Lock()  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgumentError, match="AddN cannot be pickled with cloudpickle.*load_context"):
        tracker.pyfunc.save_model(tmp_path / "m", python_model=model)


def test_tampered_files_are_refused_before_unpickling(tmp_path: Path) -> None:
    code = tmp_path / "helper.py"
    code.write_text("X = 1\n")
    path = tmp_path / "model"
    tracker.pyfunc.save_model(path, python_model=AddN(1), code_paths=[str(code)])
    original = (path / "python_model.pkl").read_bytes()
    (path / "python_model.pkl").write_bytes(original + b".")
    with pytest.raises(ModelIntegrityError, match=r"'python_model.pkl'.*modified.*nothing was deserialized"):
        tracker.pyfunc.load_model(path)
    (path / "python_model.pkl").write_bytes(original)
    (path / "code" / "sneaky.py").write_text("raise SystemExit('imported!')\n")
    with pytest.raises(ModelIntegrityError, match=r"\['code/sneaky.py'\].*does not list"):
        tracker.pyfunc.load_model(path)
    (path / "code" / "sneaky.py").unlink()
    np.testing.assert_array_equal(tracker.pyfunc.load_model(path).predict(np.array([1])), [2])
    # The importable copy in the user's cache is checked at every load, and replaced if changed.
    [copy] = Path(cache_root(), "model-code").glob("*/helper.py")
    copy.write_text("X = 2\n")
    tracker.pyfunc.load_model(path)
    assert copy.read_text() == "X = 1\n"


def test_artifact_from_a_run_and_name_collisions(store: Path, tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "vocab.txt").write_text(sub)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "a" / "vocab.txt"), "prep")

    class Reader(mlflow.pyfunc.PythonModel):
        def load_context(self, context: Any) -> None:
            self.texts = {k: Path(v).read_text() for k, v in sorted(context.artifacts.items())}

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return self.texts

    artifacts = {"from_run": f"runs:/{run.info.run_id}/prep/vocab.txt",
                 "local": str(tmp_path / "b" / "vocab.txt"), "again": str(tmp_path / "b" / "vocab.txt")}
    tracker.pyfunc.save_model(tmp_path / "model", python_model=Reader(), artifacts=artifacts)
    conf = read_manifest(str(tmp_path / "model"))["flavors"]["python_function"]["artifacts"]
    assert {k: v["path"] for k, v in conf.items()} == {
        "from_run": "artifacts/0/vocab.txt", "local": "artifacts/1/vocab.txt",
        "again": "artifacts/1/vocab.txt",
    }
    out = tracker.pyfunc.load_model(tmp_path / "model").predict(pd.DataFrame({"x": [1]}))
    assert out == {"again": "b", "from_run": "a", "local": "b"}


SAVE_FOR_MLFLOW = """
    from pathlib import Path
    import pandas as pd
    import tracker as mlflow

    class Doubler(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            self.offset = float(Path(context.artifacts["offset"]).read_text())

        def predict(self, context, model_input, params=None):
            return (model_input["x"] * 2 + self.offset).tolist()

    Path("offset.txt").write_text("0.5")
    mlflow.pyfunc.save_model("model", python_model=Doubler(), artifacts={"offset": "offset.txt"},
                             input_example=pd.DataFrame({"x": [1.0, 2.0]}))
"""


def test_mlflow_loads_a_tracker_custom_model(tmp_path: Path) -> None:
    """MLflow itself (its own venv, as for `make bench`) reads the folder tracker wrote: the
    manifest, signature, artifacts and the pickled model (its base class is recorded under
    MLflow's name; tests/test_models_mlflow_format.py also checks it without tracker on the path)."""
    from benchmarks.harness import find_mlflow_python

    python = find_mlflow_python()
    if python is None:
        pytest.skip("no interpreter with mlflow (make bench-env or TRACKER_BENCH_MLFLOW_PYTHON)")
    run_script(tmp_path, "save.py", SAVE_FOR_MLFLOW)
    code = textwrap.dedent("""
        import json, sys
        import mlflow, pandas as pd
        model = mlflow.pyfunc.load_model(sys.argv[1])
        print(json.dumps({"predicted": model.predict(pd.DataFrame({"x": [1.0, 2.0]})),
                          "inputs": model.metadata.get_input_schema().input_names()}))
    """)
    done = subprocess.run([python, "-c", code, str(tmp_path / "model")], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"predicted": [2.5, 4.5], "inputs": ["x"]}


def test_import_tracker_pyfunc_stays_light() -> None:
    code = ("import sys, tracker, tracker.pyfunc\n"
            "class M(tracker.pyfunc.PythonModel):\n    pass\n"
            "heavy = [m for m in ('pandas', 'numpy', 'cloudpickle', 'duckdb') if m in sys.modules]\n"
            "print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr
