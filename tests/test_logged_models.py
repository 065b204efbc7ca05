"""MLflow 3 logged models (#12): ``ModelInfo.model_id``, ``get_logged_model``,
``search_logged_models``, ``initialize_logged_model``, ``set_active_model``, metrics linked to a
model and a dataset, ``models:/<model_id>`` URIs, and the records they leave in the store."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LinearRegression

import tracker
import tracker as mlflow
from tracker import model_links
from tracker.entities import LoggedModel, LoggedModelOutput, LoggedModelStatus
from tracker.exceptions import FilterSyntaxError, InvalidArgumentError, NotFoundError
from tracker.store.schema import COLUMNS

X = pd.DataFrame({"a": np.arange(10.0)})
Y = X["a"] * 2


@pytest.fixture(autouse=True)
def _no_active_model() -> Any:
    model_links.clear_active_model()
    yield
    model_links.clear_active_model()
    model_links._outputs.clear()


@pytest.fixture
def fitted() -> LinearRegression:
    return LinearRegression().fit(X, Y)


def _model_files(store: str) -> list[Path]:
    return sorted((Path(store) / "logged_models").rglob("*.parquet"))


def test_log_model_creates_a_logged_model_with_params_tags_and_linked_metrics(
    store_uri: str, fitted: LinearRegression
) -> None:
    mlflow.set_experiment("e")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("pre", 1.0)  # logged before the model, at its step: linked by log_model
        info = mlflow.sklearn.log_model(fitted, name="m", params={"p": 1}, tags={"t": "x"})
        mlflow.log_metric("post", 2.0)  # same step as the model: linked to it
        mlflow.log_metric("later", 3.0, step=5)  # another step: not linked
        ds = mlflow.data.from_pandas(X, name="train")
        mlflow.log_metric("acc", 0.9, model_id=info.model_id, dataset=ds)
        mlflow.log_metrics({"f1": 0.8}, model_id=info.model_id, step=3)
    assert info.model_id.startswith("m-") and len(info.model_id) == 34
    assert info.model_uri == f"models:/{info.model_id}"
    model = mlflow.get_logged_model(info.model_id)
    assert isinstance(model, LoggedModel)
    assert (model.name, model.status, model.source_run_id) == ("m", LoggedModelStatus.READY,
                                                               run.info.run_id)
    assert model.params == {"alpha": "0.5", "p": "1"}
    assert model.tags["t"] == "x" and model.tags["mlflow.user"]
    assert model.artifact_location.endswith(f"{run.info.run_id}/artifacts/m")
    linked = {(m.key, m.value, m.step, m.dataset_name, m.dataset_digest, m.run_id)
              for m in model.metrics or []}
    assert linked == {
        ("pre", 1.0, 0, None, None, run.info.run_id),
        ("post", 2.0, 0, None, None, run.info.run_id),
        ("acc", 0.9, 0, "train", ds.digest, run.info.run_id),
        ("f1", 0.8, 3, None, None, run.info.run_id),
    }
    # the run's own history is unchanged: one point per logged value, no copies
    frame = mlflow.sql("SELECT key, model_id, dataset_name FROM metrics ORDER BY key")
    assert frame["key"].tolist() == ["acc", "f1", "later", "post", "pre"]
    assert frame["model_id"].tolist()[:2] == [info.model_id] * 2
    assert frame["dataset_name"].tolist()[0] == "train"
    assert mlflow.get_run(run.info.run_id).data.metrics["acc"] == 0.9
    # the dataset given with the metric became a run input, once; the model a run output
    got = mlflow.get_run(run.info.run_id)
    inputs = got.inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("train", ds.digest)]
    assert got.outputs.model_outputs == [LoggedModelOutput(info.model_id, 0)]
    assert got.outputs.to_dictionary() == {
        "model_outputs": [{"model_id": info.model_id, "step": 0}]}


def test_logged_models_are_append_only_record_files_old_readers_ignore(
    store_uri: str, fitted: LinearRegression
) -> None:
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(fitted, name="m")
    first = {p: p.read_bytes() for p in _model_files(store_uri)}
    assert first and all(f"model_id={info.model_id}" in str(p) for p in first)
    mlflow.set_logged_model_tags(info.model_id, {"stage": "dev"})
    mlflow.set_logged_model_tags(info.model_id, {"stage": "prod"})
    after = _model_files(store_uri)
    assert len(after) == len(first) + 2
    assert all(p.read_bytes() == data for p, data in first.items())  # never rewritten
    for path in after:
        table = pq.read_table(path)
        assert tuple(table.column_names) == COLUMNS
        assert set(table.column("kind").to_pylist()) <= set(tracker.logged_models.KINDS)
        assert table.schema.metadata[b"tracker.format_version"] == b"1"
    marker = json.loads((Path(store_uri) / "tracker-store.json").read_text())
    assert marker["format_version"] == 1  # additive: older trackers still read and write
    assert mlflow.get_logged_model(info.model_id).tags["stage"] == "prod"
    # the run tables see no logged-model record
    assert mlflow.sql("SELECT count(*) AS n FROM runs")["n"][0] == 1
    assert mlflow.sql("SELECT count(*) AS n FROM params")["n"][0] == 0


def test_search_logged_models_filters_orders_and_pages(store_uri: str) -> None:
    mlflow.set_experiment("search")
    ids = {}
    for alpha, rmse in ((0.1, 3.0), (0.5, 1.0), (1.0, 2.0)):
        with mlflow.start_run():
            mlflow.log_param("alpha", alpha)
            name = f"lasso-{alpha}".replace(".", "_")  # MLflow 3 refuses '.' in model names
            info = mlflow.sklearn.log_model(LinearRegression().fit(X, Y), name=name,
                                            tags={"family": "linear"})
            mlflow.log_metric("rmse", rmse, model_id=info.model_id)
            ids[alpha] = info.model_id
    frame = mlflow.search_logged_models()
    assert frame.columns.tolist() == [
        "artifact_location", "creation_timestamp", "experiment_id", "last_updated_timestamp",
        "metrics", "model_id", "model_type", "name", "params", "source_run_id", "status",
        "status_message", "tags",
    ]
    assert frame["model_id"].tolist() == [ids[1.0], ids[0.5], ids[0.1]]  # newest first
    assert set(frame["status"]) == {"READY"}

    def names(**kwargs: Any) -> list[str]:
        found = mlflow.search_logged_models(output_format="list", **kwargs)
        return [m.name for m in found]

    assert names(filter_string="metrics.rmse < 2.5") == ["lasso-1_0", "lasso-0_5"]
    assert names(filter_string="params.alpha = '0.5' AND tags.family = 'linear'") == ["lasso-0_5"]
    assert names(filter_string="name IN ('lasso-0_1', 'nope')") == ["lasso-0_1"]
    assert names(filter_string="name LIKE 'lasso-1%' AND status = 'READY'") == ["lasso-1_0"]
    assert names(filter_string=f"model_id = '{ids[0.1]}'") == ["lasso-0_1"]
    assert names(filter_string="creation_time > 0", max_results=2) == ["lasso-1_0", "lasso-0_5"]
    assert names(order_by=[{"field_name": "metrics.rmse", "ascending": True}]) == [
        "lasso-0_5", "lasso-1_0", "lasso-0_1"]
    assert names(order_by=["creation_timestamp ASC"]) == ["lasso-0_1", "lasso-0_5", "lasso-1_0"]
    assert names(filter_string="metrics.rmse < 5", datasets=[{"dataset_name": "other"}]) == []
    page = mlflow.MlflowClient().search_logged_models(
        [mlflow.get_experiment_by_name("search").experiment_id], max_results=2
    )
    assert len(page) == 2 and page.token is not None
    with pytest.raises(FilterSyntaxError, match="unknown field 'colour'"):
        mlflow.search_logged_models(filter_string="colour = 'red'")
    with pytest.raises(InvalidArgumentError, match="Cannot order logged models by 'colour'"):
        mlflow.search_logged_models(order_by=[{"field_name": "colour"}])
    with pytest.raises(InvalidArgumentError, match="output_format"):
        mlflow.search_logged_models(output_format="json")  # type: ignore[arg-type]


def test_metric_filters_and_ordering_by_dataset(store_uri: str) -> None:
    train = mlflow.data.from_pandas(X, name="train")
    test = mlflow.data.from_pandas(X.head(3), name="test")
    with mlflow.start_run():
        a = mlflow.initialize_logged_model(name="a")
        b = mlflow.initialize_logged_model(name="b")
        mlflow.log_metric("acc", 0.9, model_id=a.model_id, dataset=train)
        mlflow.log_metric("acc", 0.5, model_id=a.model_id, dataset=test)
        mlflow.log_metric("acc", 0.7, model_id=b.model_id, dataset=test)
    on_test = [{"dataset_name": "test"}]
    found = mlflow.search_logged_models(filter_string="metrics.acc > 0.6", datasets=on_test,
                                        output_format="list")
    assert [m.name for m in found] == ["b"]
    ordered = mlflow.search_logged_models(
        order_by=[{"field_name": "metrics.acc", "ascending": False, "dataset_name": "test"}],
        output_format="list",
    )
    assert [m.name for m in ordered] == ["b", "a"]


def test_initialize_then_log_model_into_it_then_load_by_model_id(
    store_uri: str, fitted: LinearRegression
) -> None:
    with mlflow.start_run() as run:
        pending = mlflow.initialize_logged_model(name="later", model_type="regressor",
                                                 params={"k": 3})
        assert pending.status == LoggedModelStatus.PENDING
        assert pending.source_run_id == run.info.run_id
        with pytest.raises(NotFoundError, match="has no files yet"):
            mlflow.pyfunc.load_model(pending.model_uri)
        info = mlflow.sklearn.log_model(fitted, name="later", model_id=pending.model_id)
    assert info.model_id == pending.model_id
    model = mlflow.get_logged_model(pending.model_id)
    assert (model.status, model.model_type, model.params) == (
        LoggedModelStatus.READY, "regressor", {"k": "3"})
    assert mlflow.last_logged_model().model_id == pending.model_id  # type: ignore[union-attr]
    expected = fitted.predict(X)
    assert np.allclose(mlflow.pyfunc.load_model(f"models:/{pending.model_id}").predict(X), expected)
    assert np.allclose(mlflow.sklearn.load_model(info.model_uri).predict(X), expected)
    version = mlflow.register_model(info.model_uri, "regressor")
    assert version.source == f"runs:/{run.info.run_id}/later"
    assert np.allclose(mlflow.pyfunc.load_model("models:/regressor/1").predict(X), expected)


def test_finalize_tags_params_and_errors(store_uri: str) -> None:
    client = mlflow.MlflowClient()
    model = mlflow.initialize_logged_model(name="x", tags={"a": "1"})
    failed = client.finalize_logged_model(model.model_id, "FAILED")
    assert failed.status == LoggedModelStatus.FAILED and failed.source_run_id is None
    with pytest.raises(InvalidArgumentError, match="READY or FAILED"):
        client.finalize_logged_model(model.model_id, LoggedModelStatus.PENDING)
    client.log_model_params(model.model_id, {"lr": 0.1})
    mlflow.delete_logged_model_tag(model.model_id, "a")
    got = client.get_logged_model(model.model_id)
    assert got.params == {"lr": "0.1"} and "a" not in got.tags
    with pytest.raises(NotFoundError, match="has no tag 'a'"):
        mlflow.delete_logged_model_tag(model.model_id, "a")
    with pytest.raises(NotFoundError, match="Logged model 'm-0123' not found"):
        mlflow.get_logged_model("m-0123")
    with pytest.raises(InvalidArgumentError, match="Invalid logged model id '../x'"):
        mlflow.get_logged_model("../x")
    with pytest.raises(InvalidArgumentError, match="Invalid logged model id"):
        mlflow.log_metric("m", 1.0, model_id="a/b")
    with pytest.raises(NotFoundError, match="not found.*models:/<name>/<version>"):
        mlflow.pyfunc.load_model(f"models:/m-{'0' * 32}")
    with pytest.raises(InvalidArgumentError, match="Invalid models URI 'models:/no-such-model'"):
        mlflow.pyfunc.load_model("models:/no-such-model")
    d = got.to_dictionary()
    assert d["status"] == 3 and "model_uri" not in d and d["params"] == {"lr": "0.1"}


def test_set_active_model_links_metrics_and_is_reused_by_name(store_uri: str) -> None:
    mlflow.set_experiment("active")
    active = mlflow.set_active_model(name="agent")
    assert mlflow.get_active_model_id() == active.model_id
    assert mlflow.get_logged_model(active.model_id).status == LoggedModelStatus.READY
    with mlflow.start_run():
        mlflow.log_metric("score", 0.75)
    again = mlflow.set_active_model(name="agent")
    assert again.model_id == active.model_id  # the existing model of that name
    assert [m.key for m in mlflow.get_logged_model(active.model_id).metrics or []] == ["score"]
    other = mlflow.initialize_logged_model(name="other")
    with mlflow.set_active_model(model_id=other.model_id):
        assert mlflow.get_active_model_id() == other.model_id
    assert mlflow.get_active_model_id() == active.model_id
    with pytest.raises(InvalidArgumentError, match="named 'other', not 'agent'"):
        mlflow.set_active_model(name="agent", model_id=other.model_id)
    with pytest.raises(InvalidArgumentError, match="name= or model_id="):
        mlflow.set_active_model()


def test_active_model_from_the_environment(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = mlflow.initialize_logged_model(name="env")
    monkeypatch.setenv("MLFLOW_ACTIVE_MODEL_ID", model.model_id)
    # read once per thread, as MLflow does: a fresh thread state stands for a new process
    monkeypatch.setattr(model_links, "_state", model_links._State())
    assert mlflow.get_active_model_id() == model.model_id
    with mlflow.start_run():
        mlflow.log_metrics({"a": 1.0, "b": 2.0})
    assert sorted(m.key for m in mlflow.get_logged_model(model.model_id).metrics or []) == ["a", "b"]


def test_client_log_metric_and_log_batch_keep_links(store_uri: str) -> None:
    from tracker.entities import Metric

    client = mlflow.MlflowClient()
    exp = client.create_experiment("client")
    run = client.create_run(exp)
    model = client.create_logged_model(exp, name="c", source_run_id=run.info.run_id)
    client.log_metric(run.info.run_id, "m1", 1.0, model_id=model.model_id, dataset_name="d",
                      dataset_digest="abc")
    client.log_batch(run.info.run_id, metrics=[
        Metric("m2", 2.0, 0, 1, model_id=model.model_id, dataset_name="d", dataset_digest="abc"),
    ])
    client.set_terminated(run.info.run_id)
    got = client.get_logged_model(model.model_id)
    assert {(m.key, m.step, m.dataset_name, m.dataset_digest) for m in got.metrics or []} == {
        ("m1", 0, "d", "abc"), ("m2", 1, "d", "abc")}


def test_links_survive_compaction_and_hostile_values_link_nothing(
    store_uri: str, fitted: LinearRegression
) -> None:
    from tracker.store.compact import compact

    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(fitted, name="m")
        mlflow.log_metric("acc", 0.5, model_id=info.model_id)
        mlflow.log_metric("plain", 1.0, step=9)
    client = mlflow.MlflowClient()
    compact(client.store)
    assert not list((Path(store_uri) / "runs").rglob("seg-*.parquet"))  # compacted
    assert [m.key for m in mlflow.get_logged_model(info.model_id).metrics or []] == ["acc"]
    # a store written by anything may hold any text in a metric's value column
    runlog = client._runlog(run.info.run_id)
    runlog._rows.append(("metric", "odd", "{not json", 1.0, 0, 1, 0))
    runlog._rows.append(("metric", "odd2", '["a"]', 1.0, 0, 1, 0))
    runlog.flush()
    frame = mlflow.sql("SELECT key, model_id FROM metrics WHERE key LIKE 'odd%' ORDER BY key")
    assert frame["key"].tolist() == ["odd", "odd2"] and frame["model_id"].isna().all()


def test_doctor_checks_logged_model_files(store_uri: str) -> None:
    from click.testing import CliRunner

    from tracker.cli import cli

    model = mlflow.initialize_logged_model(name="checked")
    healthy = CliRunner().invoke(cli, ["--store", store_uri, "doctor"])
    assert (healthy.exit_code, healthy.stdout) == (0, "No problems found.\n")
    folder = next(Path(store_uri, "logged_models").glob(f"experiment_id=*/model_id={model.model_id}"))
    bad = folder / "seg-18ebdd0000000000deadbeef.parquet"
    bad.write_bytes(b"PAR1 not really")
    result = CliRunner().invoke(cli, ["--store", store_uri, "doctor"])
    assert result.exit_code == 1
    assert f"ERROR [file] {bad.relative_to(store_uri).as_posix()}" in result.stdout
    # readers skip the unreadable file and keep what the others hold
    assert mlflow.get_logged_model(model.model_id).name == "checked"


def test_sql_views_of_logged_models(store_uri: str, fitted: LinearRegression) -> None:
    import pyarrow as pa

    with mlflow.start_run() as run:
        mlflow.log_metric("pre", 1.0)
        info = mlflow.sklearn.log_model(fitted, name="m", params={"p": 1}, tags={"t": "x"})
        mlflow.log_metric("acc", 0.9, model_id=info.model_id, dataset=mlflow.data.from_pandas(
            X, name="train"))
    mlflow.set_logged_model_tags(info.model_id, {"gone": "1"})
    mlflow.delete_logged_model_tag(info.model_id, "gone")
    models = mlflow.sql("SELECT model_id, name, status, source_run_id FROM logged_models")
    assert models.to_dict("records") == [
        {"model_id": info.model_id, "name": "m", "status": "READY",
         "source_run_id": run.info.run_id}]
    params = mlflow.sql("SELECT key, value FROM logged_model_params ORDER BY key")
    assert params.to_dict("records") == [{"key": "p", "value": "1"}]
    tags = set(mlflow.sql("SELECT key FROM logged_model_tags")["key"])
    assert "t" in tags and "gone" not in tags
    metrics = mlflow.sql(
        "SELECT key, value, run_id, coalesce(dataset_name, '-') AS dataset_name "
        "FROM logged_model_metrics ORDER BY key")
    assert metrics.to_dict("records") == [
        {"key": "acc", "value": 0.9, "run_id": run.info.run_id, "dataset_name": "train"},
        {"key": "pre", "value": 1.0, "run_id": run.info.run_id, "dataset_name": "-"},
    ]
    # a file of another shape in a model folder is reported and skipped, never fatal
    folder = next(Path(store_uri, "logged_models").glob("experiment_id=*/model_id=*"))
    pq.write_table(pa.table({"num": ["not a number"], "kind": ["model"]}),
                   folder / "seg-18ebdd0000000000deadbeef.parquet")
    assert mlflow.sql("SELECT count(*) AS n FROM logged_models")["n"][0] == 1
    assert mlflow.sql("SELECT count(*) AS n FROM runs")["n"][0] == 1


def test_logged_models_in_an_s3_store(s3_bucket: str) -> None:
    mlflow.set_tracking_uri(f"s3://{s3_bucket}/store")
    mlflow.set_experiment("remote")
    model = mlflow.initialize_logged_model(name="remote-model", params={"k": 1})
    with mlflow.start_run():
        mlflow.log_metric("acc", 0.5, model_id=model.model_id)
    mlflow.finalize_logged_model(model.model_id, "READY")
    got = mlflow.get_logged_model(model.model_id)
    assert (got.status, got.params, [m.key for m in got.metrics or []]) == (
        LoggedModelStatus.READY, {"k": "1"}, ["acc"])
    found = mlflow.search_logged_models(filter_string="metrics.acc = 0.5", output_format="list")
    assert [m.model_id for m in found] == [model.model_id]
    assert mlflow.sql("SELECT status FROM logged_models")["status"].tolist() == ["READY"]


def test_log_model_does_not_load_the_query_layer(tmp_path: Path) -> None:
    """Creating and finishing a logged model reads only the run's own files: a training script
    in a big store pays no DuckDB load for it."""
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(
        "import sys, numpy as np, tracker as mlflow\n"
        "from sklearn.linear_model import LinearRegression\n"
        "X = np.arange(10.0).reshape(5, 2)\n"
        "with mlflow.start_run():\n"
        "    mlflow.log_metric('pre', 1.0)\n"
        "    info = mlflow.sklearn.log_model(LinearRegression().fit(X, X[:, 0]), name='m')\n"
        "    mlflow.log_metric('acc', 0.5, model_id=info.model_id)\n"
        "print('duckdb' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(tracker.__file__).parent.parent),
           "TRACKER_TRACKING_URI": str(tmp_path / "store")}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False"]


# -- the last gaps of #12: versions' model_id, delete, search_runs outputs, shared steps, names --


def test_registered_versions_carry_the_logged_models_id(
    store_uri: str, fitted: LinearRegression
) -> None:
    client = mlflow.MlflowClient()
    client.create_model_version("lr", "/elsewhere/model")  # no logged model: as older versions
    with mlflow.start_run() as run:
        first = mlflow.sklearn.log_model(fitted, name="first", registered_model_name="lr")
        second = mlflow.sklearn.log_model(fitted, name="second")
    by_id = mlflow.register_model(second.model_uri, "lr")
    by_run = mlflow.register_model(f"runs:/{run.info.run_id}/second", "lr")
    by_prefix = mlflow.register_model(f"runs:/{run.info.run_id[:8]}/first", "lr")
    assert [client.get_model_version("lr", v).model_id for v in (1, 2, 3, 4, 5)] == [
        None, first.model_id, second.model_id, second.model_id, first.model_id]
    assert (by_id.model_id, by_run.model_id, by_prefix.model_id) == (
        second.model_id, second.model_id, first.model_id)
    assert by_id.source == f"runs:/{run.info.run_id}/second"  # the source stays the run's path
    found = client.search_model_versions("name = 'lr'")
    assert {v.version: v.model_id for v in found}[2] == first.model_id
    # a runs:/ path that holds no logged model registers without one
    with mlflow.start_run() as other:
        mlflow.log_text("x", "notes/readme.txt")
    plain = mlflow.register_model(f"runs:/{other.info.run_id}/notes", "notes")
    assert plain.model_id is None
    with pytest.raises(InvalidArgumentError, match="Invalid logged model id"):
        client.create_model_version("lr", "/x", model_id="../../etc")


def test_delete_logged_model_hides_it_and_appends_one_record(
    store_uri: str, fitted: LinearRegression
) -> None:
    from tracker.store.compact import compact

    with mlflow.start_run():
        kept = mlflow.sklearn.log_model(fitted, name="kept")
        gone = mlflow.sklearn.log_model(fitted, name="gone")
        mlflow.log_metric("acc", 0.7, model_id=gone.model_id)
    client = mlflow.MlflowClient()
    before = _model_files(store_uri)
    client.delete_logged_model(gone.model_id)
    after = _model_files(store_uri)
    assert set(before) < set(after) and len(after) == len(before) + 1  # append-only
    with pytest.raises(NotFoundError, match=f"{gone.model_id}.*deleted"):
        client.get_logged_model(gone.model_id)
    with pytest.raises(NotFoundError, match="deleted"):
        mlflow.get_logged_model(gone.model_id)
    with pytest.raises(NotFoundError):
        client.delete_logged_model(gone.model_id)  # already deleted, as in MLflow
    with pytest.raises(NotFoundError):
        client.delete_logged_model("m-" + "0" * 32)
    assert client.get_logged_model(gone.model_id, allow_deleted=True).name == "gone"
    listed = mlflow.search_logged_models(output_format="list")
    assert [m.model_id for m in listed] == [kept.model_id]
    assert mlflow.search_logged_models()["name"].tolist() == ["kept"]
    assert mlflow.sql("SELECT name FROM logged_models")["name"].tolist() == ["kept"]
    with pytest.raises(NotFoundError):
        mlflow.pyfunc.load_model(gone.model_uri)
    compact(client.store)
    assert [m.name for m in mlflow.search_logged_models(output_format="list")] == ["kept"]
    with pytest.raises(NotFoundError):
        mlflow.MlflowClient().get_logged_model(gone.model_id)


def test_search_runs_fills_model_outputs_with_one_query_per_page(
    store_uri: str, fitted: LinearRegression, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.query import StoreQuery

    logged = {}
    for i in range(4):
        with mlflow.start_run() as run:
            if i % 2 == 0:
                a = mlflow.sklearn.log_model(fitted, name="a")
                b = mlflow.sklearn.log_model(fitted, name="b", step=3)
                logged[run.info.run_id] = [(a.model_id, 0), (b.model_id, 3)]
            else:
                logged[run.info.run_id] = []
    listed = mlflow.search_runs(output_format="list")
    got = {r.info.run_id: [(o.model_id, o.step) for o in r.outputs.model_outputs]
           for r in listed}
    assert got == logged
    paged = mlflow.MlflowClient().search_runs([listed[0].info.experiment_id], max_results=2)
    assert [[(o.model_id, o.step) for o in r.outputs.model_outputs] for r in paged] == [
        logged[r.info.run_id] for r in paged]
    assert {r.info.run_id: r.outputs.model_outputs for r in listed} == {
        rid: mlflow.get_run(rid).outputs.model_outputs for rid in logged}

    def queries(n: int) -> int:
        calls: list[str] = []
        original = StoreQuery.rows

        def counting(self: StoreQuery, sql: str, *args: Any, **kwargs: Any) -> Any:
            calls.append(sql)
            return original(self, sql, *args, **kwargs)

        monkeypatch.setattr(StoreQuery, "rows", counting)
        mlflow.MlflowClient().search_runs([listed[0].info.experiment_id], max_results=n)
        monkeypatch.setattr(StoreQuery, "rows", original)
        return len(calls)

    assert queries(1) == queries(4)  # not one query per run


def test_metrics_at_a_step_with_several_models_link_as_mlflow_3(
    store_uri: str, fitted: LinearRegression
) -> None:
    """MLflow 3.17: ``log_model`` links the step's earlier metrics to each model;
    ``log_metrics`` links to each model logged at the step; ``log_metric`` to the first."""
    with mlflow.start_run() as run:
        mlflow.log_metric("before", 1.0)
        first = mlflow.sklearn.log_model(fitted, name="first")
        second = mlflow.sklearn.log_model(fitted, name="second")
        ds = mlflow.data.from_pandas(X, name="val")
        mlflow.log_metrics({"val_rmse": 0.7, "val_mae": 0.5}, dataset=ds)
        mlflow.log_metric("test_rmse", 0.9)
        mlflow.log_metrics({"elsewhere": 1.0}, step=4)

    def linked(info: Any) -> dict[str, Any]:
        return {m.key: (m.value, m.dataset_name, m.run_id)
                for m in mlflow.get_logged_model(info.model_id).metrics or []}

    rid = run.info.run_id
    assert linked(first) == {"before": (1.0, None, rid), "val_rmse": (0.7, "val", rid),
                             "val_mae": (0.5, "val", rid), "test_rmse": (0.9, None, rid)}
    assert linked(second) == {"before": (1.0, None, rid), "val_rmse": (0.7, "val", rid),
                              "val_mae": (0.5, "val", rid)}
    # the run's history keeps one point per value
    history = mlflow.MlflowClient().get_metric_history(rid, "val_rmse")
    assert [(m.value, m.step) for m in history] == [(0.7, 0)]
    frame = mlflow.sql("SELECT model_id, key FROM logged_model_metrics WHERE key = 'val_mae' "
                       "ORDER BY model_id")
    assert sorted(frame["model_id"]) == sorted([first.model_id, second.model_id])
    found = mlflow.search_logged_models(filter_string="metrics.val_mae = 0.5",
                                        output_format="list")
    assert {m.model_id for m in found} == {first.model_id, second.model_id}


@pytest.mark.parametrize("name", ["my.model", "a/b", "c:d", "50%", 'say"hi"', "it's", ""])
def test_logged_model_names_follow_mlflow_3s_rule(
    store_uri: str, fitted: LinearRegression, name: str
) -> None:
    experiment_id = mlflow.set_experiment("names").experiment_id
    client = mlflow.MlflowClient()
    for create in (lambda: mlflow.initialize_logged_model(name=name),
                   lambda: mlflow.create_external_model(name=name),
                   lambda: client.create_logged_model(experiment_id, name=name),
                   lambda: mlflow.sklearn.log_model(fitted, name=name)):
        with pytest.raises(InvalidArgumentError) as caught:
            create()
        message = str(caught.value)
        assert repr(name) in message and """/ : . % " '""" in message
    assert mlflow.search_logged_models(output_format="list") == []


def test_logged_model_names_mlflow_accepts_and_mlflow_2_paths(
    store_uri: str, fitted: LinearRegression
) -> None:
    mlflow.set_experiment("names")
    assert mlflow.initialize_logged_model(name="rf-model_v2 (final)").name == "rf-model_v2 (final)"
    with mlflow.start_run():
        # MLflow 2's artifact_path= keeps its path rule; the model is named after the path
        info = mlflow.sklearn.log_model(fitted, artifact_path="models/rf.v1")
    assert mlflow.get_logged_model(info.model_id).name == "models/rf.v1"
