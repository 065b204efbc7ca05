"""The fluent API and the client, as MLflow users call them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import tracker
import tracker as mlflow
from tracker.entities import Metric, Param, RunTag, ViewType
from tracker.exceptions import (
    AlreadyExistsError,
    ImmutableParamError,
    InvalidArgumentError,
    NotFoundError,
    TrackerError,
)


def test_seed_tracking_snippet_runs_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_experiment("nyc-taxi-experiment")
    with mlflow.start_run():
        mlflow.set_tag("developer", "me")
        mlflow.log_param("train_data_path", "../week1/data/green_tripdata_2021-01.parquet")
        mlflow.log_param("valid_data_path", "../week1/data/green_tripdata_2021-02.parquet")
        alpha = 0.01
        mlflow.log_param("alpha", alpha)
        mlflow.log_metric("rmse", 9.5)
    assert (tmp_path / "mlflow.db.tracker" / "tracker-store.json").exists()
    runs = mlflow.search_runs(experiment_names=["nyc-taxi-experiment"])
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["status"] == "FINISHED"
    assert row["params.alpha"] == "0.01"
    assert row["metrics.rmse"] == 9.5
    assert row["tags.developer"] == "me"
    # The seed iterates the DataFrame; the correct form is iterrows() or output_format="list".
    listed = mlflow.search_runs(experiment_names=["nyc-taxi-experiment"], output_format="list")
    assert listed[0].info.status == "FINISHED"
    assert listed[0].data.params["alpha"] == "0.01"
    assert listed[0].data.metrics == {"rmse": 9.5}


def test_search_runs_dataframe_has_mlflow_columns(tmp_store: str) -> None:
    tracker.set_experiment("alpha")
    df = tracker.search_runs()
    assert list(df.columns[:6]) == [
        "run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"
    ]
    assert {"metrics.rmse", "metrics.r2", "params.lr", "params.depth", "tags.model"} <= set(df.columns)
    assert len(df) == 6
    assert str(df["start_time"].dtype) == "datetime64[ms, UTC]" or "UTC" in str(df["start_time"].dtype)
    # default order: newest first
    assert df["start_time"].is_monotonic_decreasing
    everything = tracker.search_runs(search_all_experiments=True)
    assert len(everything) == 12


def test_run_status_follows_the_with_block(store_uri: str) -> None:
    with tracker.start_run() as ok:
        pass
    with pytest.raises(ZeroDivisionError), tracker.start_run() as failed:
        _ = 1 / 0
    with pytest.raises(KeyboardInterrupt), tracker.start_run() as killed:
        raise KeyboardInterrupt
    assert tracker.get_run(ok.info.run_id).info.status == "FINISHED"
    assert tracker.get_run(failed.info.run_id).info.status == "FAILED"
    assert tracker.get_run(killed.info.run_id).info.status == "KILLED"
    assert tracker.get_run(ok.info.run_id).info.end_time is not None


def test_only_one_active_run_unless_nested(store_uri: str) -> None:
    with tracker.start_run() as parent:
        with pytest.raises(TrackerError, match="already active"):
            tracker.start_run()
        with tracker.start_run(nested=True) as child:
            assert tracker.active_run().info.run_id == child.info.run_id
        assert tracker.active_run().info.run_id == parent.info.run_id
    got = tracker.get_run(child.info.run_id)
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert tracker.active_run() is None
    assert tracker.last_active_run().info.run_id == parent.info.run_id


def test_params_are_immutable(store_uri: str) -> None:
    with tracker.start_run() as run:
        tracker.log_param("alpha", 0.5)
        tracker.log_param("alpha", 0.5)  # same value: no-op
        with pytest.raises(ImmutableParamError) as err:
            tracker.log_param("alpha", 0.7)
    message = str(err.value)
    assert run.info.run_id in message and "'alpha'" in message
    assert "'0.5'" in message and "'0.7'" in message
    assert tracker.get_run(run.info.run_id).data.params == {"alpha": "0.5"}


def test_params_stay_immutable_when_the_run_is_resumed(store_uri: str) -> None:
    with tracker.start_run() as run:
        tracker.log_param("alpha", 1)
    with tracker.start_run(run_id=run.info.run_id):
        tracker.log_param("beta", 2)
        with pytest.raises(ImmutableParamError):
            tracker.log_param("alpha", 3)
        tracker.log_metric("m", 1.0)
    got = tracker.get_run(run.info.run_id)
    assert got.data.params == {"alpha": "1", "beta": "2"}
    assert got.info.status == "FINISHED"
    assert got.data.metrics == {"m": 1.0}


@pytest.mark.parametrize(
    "bad", ["", "a" * 251, "bad*key", "../escape", "a/../b", "/abs", "semi;colon", 5]
)
def test_invalid_keys_are_refused_with_the_key_named(store_uri: str, bad: object) -> None:
    with tracker.start_run(), pytest.raises(InvalidArgumentError) as err:
        tracker.log_metric(bad, 1.0)  # type: ignore[arg-type]
    if isinstance(bad, str) and bad and len(bad) < 50:
        assert repr(bad) in str(err.value)


def test_allowed_key_characters(store_uri: str) -> None:
    key = "val/rmse:fold 1.best-score_x"
    with tracker.start_run() as run:
        tracker.log_metric(key, 1.5)
        tracker.log_param(key, "p")
        tracker.set_tag(key, "t")
    got = tracker.get_run(run.info.run_id)
    assert got.data.metrics[key] == 1.5 and got.data.params[key] == "p"


def test_metric_values_are_stored_faithfully(store_uri: str) -> None:
    import numpy as np

    with tracker.start_run() as run:
        tracker.log_metric("nan", float("nan"))
        tracker.log_metric("inf", float("inf"))
        tracker.log_metric("ninf", -math.inf)
        tracker.log_metric("np", np.float32(0.25))
        tracker.log_metric("int", 3)
        with pytest.raises(InvalidArgumentError, match="'abc'"):
            tracker.log_metric("s", "abc")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            tracker.log_metric("none", None)  # type: ignore[arg-type]
    metrics = tracker.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == math.inf and metrics["ninf"] == -math.inf
    assert metrics["np"] == 0.25 and metrics["int"] == 3.0
    assert "s" not in metrics and "none" not in metrics


def test_latest_metric_is_highest_step_then_latest_timestamp_then_max_value(store_uri: str) -> None:
    with tracker.start_run() as run:
        tracker.log_metric("a", 5.0, step=10, timestamp=1000)
        tracker.log_metric("a", 1.0, step=2, timestamp=9000)
        tracker.log_metric("b", 1.0, step=1, timestamp=1000)
        tracker.log_metric("b", 2.0, step=1, timestamp=2000)
        tracker.log_metric("c", 3.0, step=1, timestamp=1000)
        tracker.log_metric("c", 7.0, step=1, timestamp=1000)
    metrics = tracker.get_run(run.info.run_id).data.metrics
    assert metrics == {"a": 5.0, "b": 2.0, "c": 7.0}
    history = tracker.MlflowClient(store_uri).get_metric_history(run.info.run_id, "a")
    assert [(m.step, m.value) for m in history] == [(2, 1.0), (10, 5.0)]


def test_tags_set_overwrite_and_delete(store_uri: str) -> None:
    with tracker.start_run() as run:
        tracker.set_tags({"a": "1", "b": "2"})
        tracker.set_tag("a", "3")
        tracker.delete_tag("b")
        with pytest.raises(NotFoundError, match="'zzz'"):
            tracker.delete_tag("zzz")
    tags = tracker.get_run(run.info.run_id).data.tags
    assert tags["a"] == "3" and "b" not in tags


def test_system_tags_record_user_source_and_git(store_uri: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    script = repo / "train.py"
    script.write_text(
        "import sys, tracker\n"
        "tracker.set_tracking_uri(sys.argv[1])\n"
        "with tracker.start_run(run_name='r', description='**hello**') as run:\n"
        "    print(run.info.run_id)\n"
    )
    git = ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://github.com/acme/proj.git"], check=True)
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = subprocess.run(
        [sys.executable, str(script), store_uri], capture_output=True, text=True, check=True
    )
    run = tracker.get_run(out.stdout.strip())
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://github.com/acme/proj.git"
    assert tags["tracker.source.git.dirty"] == "false"
    assert tags["mlflow.source.name"] == str(script)
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.user"]
    assert tags["mlflow.runName"] == "r" and run.info.run_name == "r"
    assert tags["mlflow.note.content"] == "**hello**"


def test_http_tracking_uri_is_refused_with_an_explanation() -> None:
    with pytest.raises(InvalidArgumentError, match="no server|has none"):
        tracker.set_tracking_uri("http://127.0.0.1:5000")


def test_tracking_uri_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_TRACKING_URI", str(tmp_path / "env-store"))
    assert tracker.get_tracking_uri() == str(tmp_path / "env-store")
    with tracker.start_run():
        tracker.log_metric("x", 1)
    assert (tmp_path / "env-store" / "tracker-store.json").exists()


def test_file_uri_is_a_folder(tmp_path: Path) -> None:
    tracker.set_tracking_uri((tmp_path / "f").as_uri())
    with tracker.start_run():
        tracker.log_param("p", 1)
    assert (tmp_path / "f" / "runs").is_dir()


def test_experiments_create_get_delete_restore(store_uri: str, tmp_path: Path) -> None:
    client = tracker.MlflowClient(store_uri)
    eid = client.create_experiment("exp", artifact_location=str(tmp_path / "big"), tags={"t": "1"})
    with pytest.raises(AlreadyExistsError):
        client.create_experiment("exp")
    exp = client.get_experiment_by_name("exp")
    assert exp is not None and exp.experiment_id == eid and exp.tags == {"t": "1"}
    assert exp.artifact_location == (tmp_path / "big").as_uri()
    client.delete_experiment(eid)
    assert client.get_experiment_by_name("exp") is None
    assert [e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)] == ["exp"]
    with pytest.raises(InvalidArgumentError, match="deleted"):
        tracker.set_experiment("exp")
    client.restore_experiment(eid)
    assert tracker.set_experiment("exp").experiment_id == eid
    names = [e.name for e in tracker.search_experiments()]
    assert "exp" in names and "Default" in names
    assert [e.name for e in tracker.search_experiments(filter_string="name LIKE 'ex%'")] == ["exp"]


def test_experiment_artifact_location_holds_the_artifacts(store_uri: str, tmp_path: Path) -> None:
    tracker.create_experiment("big-artifacts", artifact_location=str(tmp_path / "bulk"))
    tracker.set_experiment("big-artifacts")
    with tracker.start_run() as run:
        tracker.log_text("hello", "notes/readme.txt")
        uri = tracker.get_artifact_uri("notes/readme.txt")
    assert uri.startswith((tmp_path / "bulk").as_uri())
    files = list((tmp_path / "bulk").rglob("readme.txt"))
    assert len(files) == 1 and files[0].read_text() == "hello"
    assert not list(Path(store_uri).rglob("readme.txt"))
    assert tracker.list_artifacts(run.info.run_id, "notes")[0].path == "notes/readme.txt"


def test_artifacts_log_list_download(store_uri: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.csv").write_text("x,y\n1,2\n")
    model = tmp_path / "model.bin"
    model.write_bytes(b"\x00" * 100)
    with tracker.start_run() as run:
        tracker.log_artifact(str(model), artifact_path="./path/to/artifact")
        tracker.log_artifacts(str(src), artifact_path="data")
        tracker.log_dict({"k": [1, 2]}, "config.json")
    client = tracker.MlflowClient(store_uri)
    top = {f.path: f for f in client.list_artifacts(run.info.run_id)}
    assert set(top) == {"config.json", "data", "path"}
    assert top["data"].is_dir and top["config.json"].file_size == len(json.dumps({"k": [1, 2]}, indent=2))
    nested = client.list_artifacts(run.info.run_id, "path/to/artifact")
    assert [(f.path, f.file_size) for f in nested] == [("path/to/artifact/model.bin", 100)]
    local = client.download_artifacts(run.info.run_id, "data", str(tmp_path / "dl"))
    assert Path(local, "sub", "b.csv").read_text() == "x,y\n1,2\n"
    single = client.download_artifacts(run.info.run_id, "config.json", str(tmp_path / "dl2"))
    assert json.loads(Path(single).read_text()) == {"k": [1, 2]}
    recorded = tracker.sql(
        "select path, file_size from artifacts where run_id = ? order by path", [run.info.run_id]
    )
    assert list(recorded["path"]) == [
        "config.json", "data/a.txt", "data/sub/b.csv", "path/to/artifact/model.bin"
    ]
    with pytest.raises(NotFoundError):
        client.download_artifacts(run.info.run_id, "nope", str(tmp_path / "dl3"))
    with pytest.raises(InvalidArgumentError, match="no such file"), tracker.start_run():
        tracker.log_artifact(str(tmp_path / "missing.txt"))


def test_log_figure_matplotlib_and_plotly(store_uri: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    pfig = go.Figure(go.Scatter(y=[1, 3, 2]))
    with tracker.start_run() as run:
        tracker.log_figure(fig, "plots/line.png")
        tracker.log_figure(pfig, "plots/line.json")
        with pytest.raises(InvalidArgumentError, match="html or .json"):
            tracker.log_figure(pfig, "plots/line.png")
    plt.close(fig)
    repo_dir = Path(tracker.get_run(run.info.run_id).info.artifact_uri.removeprefix("file://"))
    assert (repo_dir / "plots" / "line.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((repo_dir / "plots" / "line.json").read_text())["data"][0]["y"] == [1, 3, 2]


def test_log_input_records_dataset_and_context(store_uri: str) -> None:
    import numpy as np

    df = pd.DataFrame({"trip_distance": [1.0, 2.5, 3.0], "duration": [5.0, 9.0, 12.0]})
    ds = tracker.data.from_pandas(df, source="data/green_tripdata_2021-01.parquet",
                                  name="green-2021-01", targets="duration")
    with tracker.start_run() as run:
        tracker.log_input(ds, context="training")
        tracker.log_input(tracker.data.from_numpy(np.ones((4, 2)), source="s3://b/x.npy"),
                          context="validation")
    inputs = tracker.get_run(run.info.run_id).inputs.dataset_inputs
    by_context = {i.context: i.dataset for i in inputs}
    train = by_context["training"]
    assert train.name == "green-2021-01" and train.source_type == "local"
    assert train.digest == ds.digest and len(train.digest) == 16
    assert json.loads(train.profile)["num_rows"] == 3
    assert [c["name"] for c in json.loads(train.schema)["columns"]] == ["trip_distance", "duration"]
    assert by_context["validation"].source_type == "s3"
    changed = tracker.data.from_pandas(df.assign(duration=[5.0, 9.0, 13.0]))
    assert changed.digest != ds.digest
    with pytest.raises(InvalidArgumentError, match="'nope'"):
        tracker.data.from_pandas(df, targets="nope")


def test_client_api_like_mlflow(store_uri: str) -> None:
    client = tracker.tracking.MlflowClient(tracking_uri=store_uri)
    eid = client.create_experiment("client-exp")
    run = client.create_run(eid, run_name="c1", tags={"k": "v"})
    rid = run.info.run_id
    client.log_param(rid, "p", 1)
    client.log_metric(rid, "m", 0.5, step=1)
    client.log_batch(
        rid,
        metrics=[Metric("m", 0.25, 1_700_000_000_000, 2)],
        params=[Param("q", "x")],
        tags=[RunTag("t", "y")],
    )
    client.set_tag(rid, "s", "z")
    assert client.get_run(rid).info.status == "RUNNING"
    client.set_terminated(rid, "FINISHED")
    got = client.get_run(rid)
    assert got.info.status == "FINISHED" and got.info.run_name == "c1"
    assert got.data.params == {"p": "1", "q": "x"}
    assert got.data.metrics == {"m": 0.25}
    assert {"k": "v", "t": "y", "s": "z"}.items() <= got.data.tags.items()
    assert [m.value for m in client.get_metric_history(rid, "m")] == [0.5, 0.25]
    found = client.search_runs([eid], "params.q = 'x'")
    assert [r.info.run_id for r in found] == [rid]
    client.delete_run(rid)
    assert client.search_runs([eid]) == []
    assert [r.info.run_id for r in client.search_runs([eid], run_view_type=ViewType.DELETED_ONLY)] == [rid]
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    client.restore_run(rid)
    assert len(client.search_runs([eid])) == 1
    with pytest.raises(NotFoundError, match="not found"):
        client.get_run("0" * 32)
    with pytest.raises(InvalidArgumentError):
        client.get_run("../etc")


def test_deleted_runs_are_hidden_by_default(tmp_store: str) -> None:
    tracker.set_experiment("alpha")
    first = tracker.search_runs().iloc[0]["run_id"]
    tracker.delete_run(first)
    assert first not in set(tracker.search_runs()["run_id"])
    deleted = tracker.search_runs(run_view_type=ViewType.DELETED_ONLY)
    assert list(deleted["run_id"]) == [first]
    assert len(tracker.search_runs(run_view_type=ViewType.ALL)) == 6


def test_logging_without_start_run_starts_one(store_uri: str) -> None:
    tracker.log_metric("auto", 1.0)
    run = tracker.active_run()
    assert run is not None
    tracker.end_run()
    assert tracker.get_run(run.info.run_id).data.metrics == {"auto": 1.0}


def test_sql_over_the_store(tmp_store: str) -> None:
    df = tracker.sql(
        "select e.name, count(*) as n from runs r join experiments e using (experiment_id) "
        "group by e.name order by e.name"
    )
    assert df.to_dict("records") == [{"name": "alpha", "n": 6}, {"name": "beta", "n": 6}]
    assert tracker.sql("select count(*) as n from metrics")["n"][0] == 12 * 4
    with pytest.raises(InvalidArgumentError, match="Tables: experiments"):
        tracker.sql("select * from nope")


def test_run_without_end_is_finished_at_exit(tmp_path: Path) -> None:
    store = tmp_path / "s"
    code = (
        "import sys, tracker\n"
        "tracker.set_tracking_uri(sys.argv[1])\n"
        "tracker.start_run()\n"
        "for i in range(100): tracker.log_metric('m', i, step=i)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(store)], check=True)
    tracker.set_tracking_uri(str(store))
    runs = tracker.search_runs(search_all_experiments=True)
    assert list(runs["status"]) == ["FINISHED"] and list(runs["metrics.m"]) == [99.0]


def test_buffered_points_are_published_within_the_flush_interval(tmp_path: Path) -> None:
    store = tmp_path / "s"
    code = (
        "import sys, time, tracker\n"
        "tracker.set_tracking_uri(sys.argv[1])\n"
        "run = tracker.start_run()\n"
        "tracker.log_metric('m', 1.0)\n"
        "print(run.info.run_id, flush=True)\n"
        "time.sleep(30)\n"
    )
    env = {**os.environ, "TRACKER_FLUSH_INTERVAL": "0.5"}
    proc = subprocess.Popen([sys.executable, "-c", code, str(store)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        import time

        deadline = time.monotonic() + 10
        client = tracker.TrackerClient(str(store))
        while time.monotonic() < deadline:
            if list(client.sql("select count(*) as n from metrics")["n"]) == [1]:
                break
            time.sleep(0.1)
        run = client.get_run(run_id)
        assert run.data.metrics == {"m": 1.0} and run.info.status == "RUNNING"
    finally:
        proc.kill()
        proc.wait()
