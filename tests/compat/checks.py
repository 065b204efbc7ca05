"""What each corpus script must have logged, read back from its store after it exited.

``check_<script name>(logged)`` raises AssertionError when the store (or the script's output)
is not what the same script logs under MLflow.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tracker.client import TrackerClient
from tracker.entities import Run, ViewType


class Logged:
    """A finished script's store and output.

    Args:
        workdir: the folder the script ran in (its store is the one folder under it that holds
            ``tracker-store.json``).
        proc: the finished process (``stdout``/``stderr``).
    """

    def __init__(self, workdir: Path, proc: subprocess.CompletedProcess[str]) -> None:
        self.workdir = workdir
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self._client: TrackerClient | None = None

    @property
    def client(self) -> TrackerClient:
        """A client of the script's store."""
        if self._client is None:
            stores = sorted(p.parent for p in self.workdir.rglob("tracker-store.json"))
            assert len(stores) == 1, f"expected one store under {self.workdir}, found {stores}"
            self._client = TrackerClient(str(stores[0]))
        return self._client

    def runs(self, experiment: str | None = None, view: int = ViewType.ALL) -> list[Run]:
        """Every run (of ``experiment``, by name), oldest first."""
        ids = None
        if experiment is not None:
            exp = self.client.get_experiment_by_name(experiment)
            assert exp is not None, f"no experiment {experiment!r}"
            ids = [exp.experiment_id]
        runs = self.client.search_runs(ids, run_view_type=view, max_results=10_000)
        return sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))

    def run(self, experiment: str | None = None) -> Run:
        """The one run (of ``experiment``)."""
        runs = self.runs(experiment)
        assert len(runs) == 1, f"expected one run, found {len(runs)}"
        return runs[0]

    def artifacts(self, run: Run, path: str | None = None) -> set[str]:
        """Paths of every artifact file of ``run`` (under ``path``)."""
        out: set[str] = set()
        for info in self.client.list_artifacts(run.info.run_id, path):
            if info.is_dir:
                out |= self.artifacts(run, info.path)
            else:
                out.add(info.path)
        return out

    def read(self, run: Run, path: str) -> bytes:
        return Path(self.client.download_artifacts(run.info.run_id, path)).read_bytes()

    def json(self, run: Run, path: str) -> Any:
        return json.loads(self.read(run, path))

    def output(self, name: str) -> Any:
        """A JSON file the script wrote to its folder (what it saw through the API)."""
        return json.loads((self.workdir / name).read_text(encoding="utf-8"))


# -- the checks, one per script --------------------------------------------------------------------


def check_s01_quickstart(logged: Logged) -> None:
    run = logged.run("quickstart")
    assert run.info.run_name == "first-run" and run.info.status == "FINISHED"
    assert run.data.params == {"learning_rate": "0.01", "epochs": "3", "optimizer": "adam"}
    assert run.data.metrics == {"loss": 1 / 3, "accuracy": 0.91, "f1": 0.88}
    history = logged.client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert {"team": "search", "stage": "dev", "owner": "ana"}.items() <= run.data.tags.items()


def check_s02_seed_nyc_taxi(logged: Logged) -> None:
    assert (logged.workdir / "mlflow.db.tracker").is_dir()
    run = logged.run("nyc-taxi-experiment")
    assert run.data.params["alpha"] == "0.01"
    assert run.data.params["train_data_path"].endswith("2021-01.parquet")
    assert 0 < run.data.metrics["rmse"] < 1
    assert run.data.tags["developer"] == "me"
    assert logged.artifacts(run) == {"models_pickle/lin_reg.bin"}


def check_s03_nested_runs(logged: Logged) -> None:
    runs = logged.runs("nested")
    parent = next(r for r in runs if r.info.run_name == "parent")
    children = [r for r in runs if r is not parent]
    assert len(children) == 3
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)
    assert sorted(c.data.params["alpha"] for c in children) == ["0.1", "0.5", "1.0"]
    assert parent.data.metrics == {"best_rmse": 1.0}


def check_s04_client_log_batch(logged: Logged) -> None:
    exp = logged.client.get_experiment_by_name("client-batch")
    assert exp is not None and exp.tags == {"project": "demo"}
    run = logged.run("client-batch")
    assert run.info.run_name == "batch" and run.info.status == "FINISHED"
    assert run.data.params == {"depth": "4", "seed": "42"}
    assert run.data.metrics == {"mse": 0.25, "mae": 0.3}
    assert run.data.tags["kind"] == "batch" and run.data.tags["reviewed"] == "no"


def check_s05_artifacts(logged: Logged) -> None:
    run = logged.run()
    assert logged.artifacts(run) == {
        "notes/readme.txt", "config.json", "data/part-0.csv", "data/part-1.csv", "figures/line.png",
    }
    assert logged.read(run, "notes/readme.txt") == b"hello from the notes"
    assert logged.json(run, "config.json") == {"features": ["a", "b"], "version": 2}
    assert logged.read(run, "figures/line.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert logged.stdout.strip() == run.info.artifact_uri


def check_s06_search_runs(logged: Logged) -> None:
    out = logged.output("out.json")
    assert out["depths"] == ["4", "8"]
    assert out["best"] == "4"
    assert out["columns"] == ["run_id", "experiment_id", "status", "artifact_uri", "start_time",
                              "end_time"]
    assert out["all"] == 4


def check_s07_zoomcamp_client_search(logged: Logged) -> None:
    assert logged.output("out.json") == [6.3, 6.9]
    assert "experiment id '1' read as MLflow's numbering" in logged.stderr


def check_s08_list_experiments_1x(logged: Logged) -> None:
    out = logged.output("out.json")
    assert out["client"] == out["fluent"] == ["Default", "old-course"]
    notices = [line for line in logged.stderr.splitlines() if "MLflow 1.x API" in line]
    assert len(notices) == 2, notices  # once per name, though the client's was called twice


def check_s09_list_run_infos_1x(logged: Logged) -> None:
    assert logged.output("out.json") == {"names": ["run-0", "run-1", "run-2"], "fluent": 3,
                                         "uuid": True}
    assert "list_run_infos() is MLflow 1.x API" in logged.stderr


def check_s10_registered_models_paging(logged: Logged) -> None:
    out = logged.output("out.json")
    assert out == {"listed": ["churn", "fraud", "taxi"], "paged": ["churn", "fraud", "taxi"]}
    assert logged.client.get_registered_model("taxi").tags == {"team": "ml"}


def check_s11_run_to_dictionary(logged: Logged) -> None:
    run = logged.run()
    as_dict = logged.json(run, "run.json")
    assert list(as_dict) == ["info", "data", "inputs", "outputs"]
    assert as_dict["info"]["run_id"] == run.info.run_id
    assert as_dict["info"]["status"] == "FINISHED" and as_dict["info"]["run_name"] == "as-dict"
    assert as_dict["data"]["params"] == {"alpha": "0.3"}
    assert as_dict["data"]["metrics"] == {"rmse": 2.5}
    assert logged.json(run, "data.json") == as_dict["data"]
    assert logged.json(run, "info.json") == as_dict["info"]
    assert as_dict["inputs"] == {"model_inputs": [], "dataset_inputs": []}


def check_s12_active_run_is_run(logged: Logged) -> None:
    run = logged.run()
    assert logged.output("out.json") == {
        "is_run": True, "same_info": True, "status": "RUNNING", "name_tag": "active",
        "active": True, "last": "FINISHED",
    }
    assert run.data.params == {"p": "1"}


def check_s13_import_paths(logged: Logged) -> None:
    assert logged.output("out.json") == {
        "paged": True, "token": None, "run": True, "experiment": True, "viewtype": True,
        "registry": ["ModelVersion", "RegisteredModel"],
    }


def check_s14_unknown_experiment_id(logged: Logged) -> None:
    outcome = logged.output("out.json")["outcome"]
    assert outcome.startswith("No experiment with id '17'"), outcome
    assert "real-one, MLflow number 1" in outcome and "Default" in outcome


def check_s15_projects(logged: Logged) -> None:
    outcome = logged.output("out.json")["outcome"]
    assert "not part of tracker" in outcome and "python train.py" in outcome


def check_s16_log_image_numpy(logged: Logged) -> None:
    import numpy as np
    from PIL import Image

    run = logged.run()
    assert logged.artifacts(run) == {"image.png", "masks/mask.png", "gradient.png"}
    image = np.asarray(Image.open(logged.client.download_artifacts(run.info.run_id, "image.png")))
    assert np.array_equal(image, np.load(logged.workdir / "image.npy"))
    mask = np.asarray(Image.open(logged.client.download_artifacts(run.info.run_id,
                                                                  "masks/mask.png")))
    assert mask.shape == (32, 32) and mask.max() == 255 and mask[0, 0] == 0
    gradient = np.asarray(Image.open(logged.client.download_artifacts(run.info.run_id,
                                                                      "gradient.png")))
    assert gradient.shape == (8, 8) and gradient[0, 0] == 0 and gradient[7, 7] == 255


def check_s17_log_image_key_step(logged: Logged) -> None:
    run = logged.run()
    files = sorted(logged.artifacts(run))
    pngs = [f for f in files if f.endswith(".png")]
    assert len(pngs) == 3
    assert [p.split("+")[2] for p in sorted(pngs, key=lambda p: int(p.split("+")[2]))] == ["0", "1",
                                                                                          "2"]
    assert all(p.startswith("images/val~prediction+step+") for p in pngs)
    assert len([f for f in files if f.endswith("+compressed.webp")]) in (0, 3)
    assert run.data.tags["mlflow.loggedImages"] == "True"


def check_s18_log_table_dict(logged: Logged) -> None:
    run = logged.run()
    assert logged.json(run, "qabot_eval_results.json") == {
        "columns": ["inputs", "outputs", "toxicity"],
        "data": [["What is MLflow?", "MLflow is ...", 0.0],
                 ["What is Databricks?", "Databricks is ...", 0.0]],
    }
    assert json.loads(run.data.tags["mlflow.loggedArtifacts"]) == [
        {"path": "qabot_eval_results.json", "type": "table"}
    ]
    out = logged.output("out.json")
    assert out["inputs"] == ["What is MLflow?", "What is Databricks?"]
    assert out["run_id"] == [run.info.run_id] * 2


def check_s19_log_table_dataframe(logged: Logged) -> None:
    assert logged.output("out.json") == {"rows": 6, "columns": ["question", "score", "run_id"],
                                         "runs": 2}
    for run in logged.runs("eval-tables"):
        table = logged.json(run, "eval/results.json")
        assert table["data"] == [["q1", 0.5], ["q2", 0.75], ["q3", 1.0]]


def check_s20_sklearn_autolog(logged: Logged) -> None:
    run = logged.run()
    assert logged.stdout.strip() == run.info.run_id
    assert run.data.params["n_estimators"] == "10" and run.data.params["max_depth"] == "6"
    assert "training_r2_score" in run.data.metrics
    assert run.data.tags["estimator_name"] == "RandomForestRegressor"
    assert "model/MLmodel" in logged.artifacts(run)


def check_s21_xgboost_autolog(logged: Logged) -> None:
    run = logged.run("nyc-taxi-experiment")
    assert run.data.params["max_depth"] == "3" and run.data.params["early_stopping_rounds"] == "5"
    assert "validation-rmse" in run.data.metrics
    history = logged.client.get_metric_history(run.info.run_id, "validation-rmse")
    assert len(history) >= 2
    assert "model/MLmodel" in logged.artifacts(run)


def check_s22_hyperopt_objective(logged: Logged) -> None:
    runs = logged.runs("hyperopt-sweep")
    trials = [r for r in runs if "rmse" in r.data.metrics]
    assert len(trials) == 4
    assert all(r.data.tags["model"] == "toy" for r in trials)
    assert all({"max_depth", "learning_rate", "seed"} <= set(r.data.params) for r in trials)


def check_s23_sklearn_log_model_register(logged: Logged) -> None:
    out = logged.output("out.json")
    assert [round(p, 6) for p in out["pred"]] == [1.0, 5.0] and out["uri"]
    assert [round(c, 6) for c in out["coef"]] == [1.0, 1.0]
    version = logged.client.get_model_version("linear", 1)
    assert version.run_id == logged.run().info.run_id


def check_s24_registry_stages(logged: Logged) -> None:
    v1 = logged.client.get_model_version("my_model_name", 1)
    v2 = logged.client.get_model_version("my_model_name", 2)
    assert v1.current_stage == "Production" and v2.current_stage == "None"
    assert v1.description.startswith("Model 'my_model_name' version 1 transitioned")
    assert logged.client.get_model_version_by_alias("my_model_name", "champion").version == 2


def check_s25_custom_pyfunc(logged: Logged) -> None:
    assert logged.output("out.json") == {"x": [6.0, 7.0, 8.0]}
    run = logged.run()
    files = logged.artifacts(run)
    assert {"add_n_model/MLmodel", "add_n_model/python_model.pkl"} <= files


def check_s26_datasets_log_input(logged: Logged) -> None:
    run = logged.run()
    (item,) = run.inputs.dataset_inputs
    assert item.dataset.name == "green-2021-01" and item.context == "training"
    assert item.dataset.source.endswith("green_tripdata_2021-01.parquet") or "green" in item.dataset.source


def check_s27_tags_and_rename(logged: Logged) -> None:
    run = logged.run()
    assert run.info.run_name == "final" and run.data.tags["mlflow.runName"] == "final"
    assert run.data.tags["status"] == "done" and "temporary" not in run.data.tags
    assert run.data.tags["mlflow.note.content"] == "first try"


def check_s28_metric_history(logged: Logged) -> None:
    assert logged.output("out.json") == [[s, 1.0 / (s + 1)] for s in range(5)]
    assert logged.run().data.metrics == {"train_loss": 0.2}


def check_s29_delete_restore(logged: Logged) -> None:
    assert logged.output("out.json") == {"active": 2, "deleted": 1, "all": 3}
    stages = sorted(r.info.lifecycle_stage for r in logged.runs("cleanup"))
    assert stages == ["active", "active", "deleted"]


def check_s30_experiments_tags_search(logged: Logged) -> None:
    out = logged.output("out.json")
    assert out["vision"] == ["exp-a"]
    assert out["b_tags"] == {"team": "nlp", "priority": "high"}
    assert out["b_dict"] == ["artifact_location", "creation_time", "experiment_id",
                             "last_update_time", "lifecycle_stage", "name", "tags"]


def check_s31_failed_run_status(logged: Logged) -> None:
    statuses = {r.info.run_name: r.info.status for r in logged.runs()}
    assert statuses == {"crashes": "FAILED", "killed": "KILLED"}
    assert logged.output("out.json") == {"terminated": True}


def check_s32_autolog_generic(logged: Logged) -> None:
    run = logged.run()
    assert run.info.run_name == "ridge"
    assert run.data.params["alpha"] == "0.5"
    assert "training_r2_score" in run.data.metrics
    assert "model/MLmodel" in logged.artifacts(run)


def check_s33_log_artifact_model_seed(logged: Logged) -> None:
    out = logged.output("out.json")
    assert out == {"content": "pickled bytes would go here", "listed": ["path/to/artifact/model"]}


def check_s34_experiment_numbers(logged: Logged) -> None:
    assert logged.output("out.json") == {"second": 1}
    assert [r.data.metrics["m"] for r in logged.runs("second-experiment")] == [1.0]
    assert [r.data.metrics["m"] for r in logged.runs("first-experiment")] == [2.0]


def check_s50_mlflow3_model_metrics(logged: Logged) -> None:
    out = logged.output("out.json")
    assert out["model_uri"].startswith("models:/m-") and out["status"] == "READY"
    assert out["name"] == "elasticnet" and out["source_run_id_ok"]
    assert out["params"] == {"alpha": "0.1", "l1_ratio": "0.5"}
    assert out["metrics"] == [["rmse", "eval_dataset", 1], ["rmse", "train_dataset", 1]]
    run = logged.run("mlflow3-models")
    names = sorted(i.dataset.name for i in run.inputs.dataset_inputs)
    assert names == ["eval_dataset", "train_dataset"]  # the datasets became run inputs
    frame = logged.client.sql("SELECT dataset_name, model_id FROM metrics ORDER BY dataset_name")
    assert frame["dataset_name"].tolist() == ["eval_dataset", "train_dataset"]
    assert set(frame["model_id"]) == {out["model_uri"].removeprefix("models:/")}


def check_s51_search_logged_models(logged: Logged) -> None:
    out = logged.output("out.json")
    assert out["ranked"] == ["ridge_0", "ridge_1", "ridge_2"]
    assert out["best_alpha"] == "0.01"
    assert out["df_names"] == ["ridge_2"] and out["df_status"] == ["READY"]
    assert out["prediction"] == 1.0  # y = x0 - 2*x1 + 3 at (0, 1), fitted almost exactly


def check_s52_initialize_logged_model(logged: Logged) -> None:
    assert logged.output("out.json") == {
        "pending": "PENDING", "final": "READY", "params": {"temperature": "0.2"},
        "tags": {"owner": "ana", "reviewed": "yes"}, "ready": ["llm-judge"], "other": "FAILED",
        "uri_ok": True,
    }


def check_s53_set_active_model(logged: Logged) -> None:
    assert logged.output("out.json") == {
        "same_id": True, "metrics": ["answer_relevance", "cost_usd", "latency_s"], "found": 1,
    }


def check_s54_models_uri_register(logged: Logged) -> None:
    assert logged.output("out.json") == {"version": 1, "same": True, "run_matches": True}
    (version,) = logged.client.search_model_versions("name = 'tree-model'")
    assert version.source.startswith("runs:/") and version.source.endswith("/tree")
    assert version.model_id is not None and version.model_id.startswith("m-")


def check_s55_logged_model_lifecycle(logged: Logged) -> None:
    # what MLflow 3.17 writes for the same script (its file store; its sqlite registry leaves
    # ModelVersion.model_id empty)
    assert logged.output("out.json") == {
        "versions": [True, True, True], "outputs": True,
        "linear_metrics": ["test_rmse", "train_rmse", "val_rmse"],
        "ridge_metrics": ["train_rmse", "val_rmse"], "searched": ["linear"],
        "deleted_hidden": True, "bad_name_refused": True,
    }
    run = logged.run("lifecycle")
    assert run.data.metrics == {"train_rmse": 0.5, "val_rmse": 0.7, "test_rmse": 0.9}
    assert len(run.outputs.model_outputs) == 2
    # each value is one point of the run's history, however many models it links to
    history = logged.client.get_metric_history(run.info.run_id, "val_rmse")
    assert [m.value for m in history] == [0.7]


def check_s35_sklearn_classifier_autolog(logged: Logged) -> None:
    run = logged.run("breast-cancer")
    assert int(logged.stdout.strip()) > 120  # of 143 test rows
    assert run.data.params["logisticregression__max_iter"] == "200"
    assert {"training_accuracy_score", "training_roc_auc", "training_log_loss"} <= set(
        run.data.metrics)
    files = logged.artifacts(run)
    figures = {"training_confusion_matrix.png", "training_roc_curve.png",
               "training_precision_recall_curve.png"}
    assert figures <= files, files
    for name in figures:
        assert logged.read(run, name)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "model/MLmodel" in files


def check_s36_xgboost_sklearn_autolog(logged: Logged) -> None:
    run = logged.run("iris-xgb")
    assert logged.stdout.strip() == "38"
    params = run.data.params
    assert params["objective"] == "multi:softprob" and params["num_boost_round"] == "8"
    assert params["custom_metric"] == "None" and "n_estimators" not in params
    assert "estimator_name" not in run.data.tags
    assert "validation_0-mlogloss" in run.data.metrics
    files = logged.artifacts(run)
    assert {"feature_importance_weight.json", "feature_importance_weight.png"} <= files
    assert not {f for f in files if f.startswith("feature_importance_") and "weight" not in f}
    assert set(logged.json(run, "feature_importance_weight.json")) <= {
        "sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"}
    # The signature comes from the DataFrame fit() got (float64 columns: double), not a DMatrix.
    inputs = json.loads(logged.json(run, "model/MLmodel")["signature"]["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [
        ("sepal length (cm)", "double"), ("sepal width (cm)", "double"),
        ("petal length (cm)", "double"), ("petal width (cm)", "double")]


def check_s37_sklearn_unfitted_register(logged: Logged) -> None:
    assert logged.output("out.json") == {"version": 1, "n_estimators": 5, "classes": [0, 1, 2]}
    assert logged.client.get_model_version("rf-template", 1).run_id == logged.run().info.run_id
