"""S3 stores (issue #6): the whole product against a real S3 API.

A moto server runs on 127.0.0.1 for the session (``moto_endpoint`` in conftest.py); each test gets
a fresh bucket and fake credentials through the environment. Everything goes over HTTP exactly as
it would to AWS or MinIO: pyarrow's S3 client for reads and writes, boto3 for conditional
creates and deletes. Checks read the bucket back with boto3, plain pyarrow, Polars and DuckDB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import tracker
import tracker.pyfunc
import tracker.sklearn
import tracker.xgboost
from tests.test_site_build import link_problems, seed_site_store
from tracker.cli import cli
from tracker.exceptions import InvalidArgumentError, NotFoundError, StoreError
from tracker.query import StoreQuery
from tracker.store.s3 import S3Options, configure, open_s3_fs, open_s3_store


def _keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    """Every object key in the bucket under ``prefix`` (a paginated listing)."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)


def _children_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def _run_children(code: str, args: list[list[str]], timeout: float = 240) -> list[str]:
    """Run ``code`` in one Python process per argument list, all at once; return their stdout."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *a],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_children_env(),
        )
        for a in args
    ]
    outputs = [p.communicate(timeout=timeout) for p in procs]
    failed = [err[-3000:] for p, (_, err) in zip(procs, outputs) if p.returncode != 0]
    assert not failed, failed
    return [out for out, _ in outputs]


# -- logging ----------------------------------------------------------------------------------


def test_full_run_lifecycle_lands_in_the_bucket(s3_bucket: str, moto_endpoint: str) -> None:
    uri = f"s3://{s3_bucket}/team/store"
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("taxi")
    with tracker.start_run(run_name="lasso") as run:
        tracker.log_params({"alpha": 0.1, "model": "lasso"})
        tracker.set_tags({"owner": "ana"})
        for step in range(20):
            tracker.log_metric("rmse", 10.0 - step * 0.1, step=step)
        running = tracker.search_runs(filter_string="attributes.status = 'RUNNING'")
        assert list(running["run_id"]) == [run.info.run_id]  # flushed before reading
    run_id = run.info.run_id

    keys = _keys(moto_endpoint, s3_bucket, "team/store/")
    assert "team/store/tracker-store.json" in keys
    run_keys = [k for k in keys if f"/run_id={run_id}/" in k]
    assert run_keys and all(k.startswith("team/store/runs/experiment_id=") for k in run_keys)
    assert any(k.rsplit("/", 1)[1].startswith("final-") for k in run_keys)
    assert not any(k.endswith("/") or ".tmp-" in k for k in keys)

    df = tracker.search_runs(filter_string="metrics.rmse < 9 and params.model = 'lasso'")
    assert list(df["run_id"]) == [run_id]
    assert df.loc[0, "status"] == "FINISHED"
    assert df.loc[0, "metrics.rmse"] == pytest.approx(8.1)
    assert df.loc[0, "tags.owner"] == "ana"
    assert df.loc[0, "artifact_uri"].startswith(f"s3://{s3_bucket}/team/store/artifacts/")
    history = tracker.MlflowClient().get_metric_history(run_id, "rmse")
    assert [m.step for m in history] == list(range(20))
    assert tracker.sql("select count(*) as n from metrics")["n"][0] == 20


def test_a_fresh_reader_sees_what_another_client_wrote(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/store"
    client = tracker.MlflowClient(uri)
    eid = client.create_experiment("e")
    run_id = client.create_run(eid, run_name="r").info.run_id
    client.log_metric(run_id, "loss", 0.5, step=1)
    client.set_terminated(run_id)
    reader = StoreQuery(open_s3_store(uri))
    df = reader.sql("select r.status, m.value from runs r join metrics m using (run_id)")
    assert df.to_dict("records") == [{"status": "FINISHED", "value": 0.5}]


def test_dead_runs_are_detected_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{s3_bucket}/store"
    code = f"""
        import os, tracker
        tracker.set_tracking_uri({uri!r})
        run = tracker.start_run(run_name="doomed")
        tracker.log_metric("loss", 1.0)
        tracker.MlflowClient().flush()
        print(run.info.run_id, flush=True)
        os._exit(0)  # no end_run, no atexit: the process is gone, the run says RUNNING
    """
    (out,) = _run_children(code, [[]])
    run_id = out.strip()
    client = tracker.MlflowClient(uri)
    assert client.get_run(run_id).info.status == "RUNNING"
    assert run_id in client.dead_run_ids()


def test_an_outage_keeps_buffered_records_until_s3_is_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_S3", endpoint),
    ):
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="outage")
    uri = "s3://outage/store"
    tracker.set_tracking_uri(uri)
    run_id = tracker.start_run().info.run_id
    for step in range(5):
        tracker.log_metric("m", float(step), step=step)
    tracker.flush()

    server.stop()  # the service goes away; moto keeps the bucket's content in this process
    try:
        for step in range(5, 10):
            tracker.log_metric("m", float(step), step=step)
        started = time.perf_counter()
        with pytest.raises(StoreError, match=f"Cannot reach the S3 endpoint {endpoint}"):
            tracker.flush()
        assert time.perf_counter() - started < 10
    finally:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    try:
        tracker.end_run()
        history = tracker.MlflowClient().get_metric_history(run_id, "m")
        assert [m.step for m in history] == list(range(10))
        fresh = StoreQuery(open_s3_store(uri))
        assert fresh.sql("select count(*) as n from metrics")["n"][0] == 10
    finally:
        server.stop()


# -- artifacts and models ------------------------------------------------------------------------


def test_artifacts_round_trip(s3_bucket: str, tmp_path: Path) -> None:
    tracker.set_tracking_uri(f"s3://{s3_bucket}/store")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "sub" / "b.txt").write_text("deep")
    single = tmp_path / "model.pkl"
    single.write_bytes(b"\x00\x01binary")
    with tracker.start_run() as run:
        tracker.log_artifact(str(single))
        tracker.log_artifacts(str(folder), "plots")
        tracker.log_text("hello s3", "notes/readme.md")
        tracker.log_dict({"depth": 4}, "config.json")
    client = tracker.MlflowClient()
    run_id = run.info.run_id
    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [
        ("config.json", False),
        ("model.pkl", False),
        ("notes", True),
        ("plots", True),
    ]
    assert top[1].file_size == 8 and top[2].file_size is None
    assert [f.path for f in client.list_artifacts(run_id, "plots")] == ["plots/a.csv", "plots/sub"]
    assert client.list_artifacts(run_id, "model.pkl") == []

    got = client.download_artifacts(run_id, "plots", str(tmp_path / "out"))
    assert Path(got, "a.csv").read_text() == "x,y\n1,2\n"
    assert Path(got, "sub", "b.txt").read_text() == "deep"
    whole = Path(client.download_artifacts(run_id, "", str(tmp_path / "all")))
    assert json.loads((whole / "config.json").read_text()) == {"depth": 4}
    assert (whole / "notes" / "readme.md").read_text() == "hello s3"
    assert (whole / "model.pkl").read_bytes() == b"\x00\x01binary"
    with pytest.raises(NotFoundError, match="nope"):
        client.download_artifacts(run_id, "nope", str(tmp_path / "x"))
    logged = tracker.sql("select path, file_size from artifacts order by path")
    assert list(logged["path"]) == [
        "config.json",
        "model.pkl",
        "notes/readme.md",
        "plots/a.csv",
        "plots/sub/b.txt",
    ]


def test_artifacts_on_s3_with_metadata_in_a_local_folder(
    s3_bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    tracker.set_tracking_uri(str(tmp_path / "store"))
    tracker.create_experiment("remote-artifacts", artifact_location=f"s3://{s3_bucket}/arts")
    tracker.set_experiment("remote-artifacts")
    with tracker.start_run() as run:
        tracker.log_text("on s3", "hello.txt")
        tracker.log_metric("m", 1.0)
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"s3://{s3_bucket}/arts/{run_id}/artifacts"
    assert _keys(moto_endpoint, s3_bucket) == [f"arts/{run_id}/artifacts/hello.txt"]
    assert not list((tmp_path / "store").rglob("hello.txt"))
    client = tracker.MlflowClient()
    assert [f.path for f in client.list_artifacts(run_id)] == ["hello.txt"]
    path = client.download_artifacts(run_id, "hello.txt", str(tmp_path / "dl"))
    assert Path(path).read_text() == "on s3"


def test_models_log_load_register_and_resolve_from_s3(s3_bucket: str) -> None:
    import xgboost as xgb
    from sklearn.linear_model import LinearRegression

    tracker.set_tracking_uri(f"s3://{s3_bucket}/store")
    rng = np.random.RandomState(3)
    X = pd.DataFrame(rng.rand(40, 3), columns=["a", "b", "c"])
    y = X["a"] * 2 + X["b"]
    booster = xgb.train({"max_depth": 2, "nthread": 1, "seed": 1}, xgb.DMatrix(X, label=y), 3)
    linear = LinearRegression().fit(X, y)
    with tracker.start_run() as run:
        tracker.xgboost.log_model(booster, artifact_path="xgb", input_example=X.head(2))
        tracker.sklearn.log_model(
            linear, artifact_path="linear", registered_model_name="linear-model"
        )
    run_id = run.info.run_id

    loaded = tracker.xgboost.load_model(f"runs:/{run_id}/xgb")
    assert np.allclose(loaded.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))
    pyfunc = tracker.pyfunc.load_model(f"runs:/{run_id}/xgb")
    assert np.allclose(pyfunc.predict(X), booster.predict(xgb.DMatrix(X)))
    assert np.allclose(
        tracker.sklearn.load_model("models:/linear-model/1").predict(X), linear.predict(X)
    )

    client = tracker.MlflowClient()
    client.transition_model_version_stage("linear-model", 1, "Production")
    client.set_registered_model_alias("linear-model", "champion", 1)
    assert np.allclose(
        tracker.pyfunc.load_model("models:/linear-model@champion").predict(X), linear.predict(X)
    )
    assert np.allclose(
        tracker.sklearn.load_model("models:/linear-model/Production").predict(X), linear.predict(X)
    )
    version = client.get_model_version_by_alias("linear-model", "champion")
    assert version.current_stage == "Production"
    # Registration read the model's manifest from the bucket and recorded its file checksums.
    recorded = client.registry.version_info("linear-model", 1).get("files") or {}
    assert recorded and all(len(digest) == 64 for digest in recorded.values())
    with pytest.raises(NotFoundError, match="its artifacts"):
        tracker.sklearn.load_model(f"runs:/{run_id}/missing")
    with pytest.raises(tracker.exceptions.AlreadyExistsError), tracker.start_run(run_id=run_id):
        tracker.sklearn.log_model(linear, artifact_path="linear")


# -- concurrency -----------------------------------------------------------------------------------


_REGISTER = """
    import sys, tracker
    tracker.set_tracking_uri(sys.argv[1])
    print(tracker.register_model(sys.argv[2], "shared").version)
"""


@pytest.mark.slow
def test_concurrent_registrations_from_8_processes_get_versions_1_to_8(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/store"
    tracker.set_tracking_uri(uri)
    with tracker.start_run() as run:
        tracker.log_text("weights", "model/MLmodel.txt")
    source = f"runs:/{run.info.run_id}/model"
    outputs = _run_children(_REGISTER, [[uri, source]] * 8)
    versions = sorted(int(out.strip()) for out in outputs)
    assert versions == list(range(1, 9))
    listed = tracker.MlflowClient().search_model_versions("name = 'shared'")
    assert sorted(int(v.version) for v in listed) == versions


_LOGGER = """
    import sys, tracker
    tracker.set_tracking_uri(sys.argv[1])
    tracker.set_experiment("stress")
    worker, runs, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for i in range(runs):
        with tracker.start_run(run_name=f"w{worker}-{i}"):
            tracker.log_param("worker", worker)
            for step in range(steps):
                tracker.log_metric("loss", 1.0 / (step + 1), step=step)
                tracker.log_metric("acc", step / steps, step=step)
"""


@pytest.mark.slow
def test_six_processes_log_at_once_and_compaction_keeps_every_point(
    s3_bucket: str, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"s3://{s3_bucket}/store"
    workers, runs, steps = 6, 30, 5
    started = time.perf_counter()
    _run_children(_LOGGER, [[uri, str(w), str(runs), str(steps)] for w in range(workers)])
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n{workers} processes x {runs} runs into moto: {seconds:.1f} s "
            f"({workers * runs / seconds:.0f} runs/s, process start-up included)"
        )

    def check(query: StoreQuery) -> None:
        counts = query.sql(
            "select count(distinct r.run_id) as runs, count(*) as points, "
            "count(distinct r.status) as statuses from runs r join metrics m using (run_id)"
        ).to_dict("records")[0]
        assert counts == {
            "runs": workers * runs,
            "points": workers * runs * steps * 2,
            "statuses": 1,
        }
        assert query.warnings == []

    check(StoreQuery(open_s3_store(uri)))
    result = CliRunner().invoke(cli, ["compact", "--store", uri])
    assert result.exit_code == 0, result.output
    keys = _keys(moto_endpoint, s3_bucket, "store/")
    assert not [k for k in keys if k.startswith("store/runs/")]  # every run is in a part now
    assert [k for k in keys if k.startswith("store/parts/")]
    assert not [k for k in keys if k.startswith("store/.locks/")]
    check(StoreQuery(open_s3_store(uri)))


def test_compaction_then_queries_and_cli(s3_bucket: str, moto_endpoint: str) -> None:
    uri = f"s3://{s3_bucket}/store"
    client = tracker.MlflowClient(uri)
    eid = client.create_experiment("e")
    for i in range(5):
        run_id = client.create_run(eid, run_name=f"r{i}").info.run_id
        client.log_param(run_id, "i", i)
        client.log_metric(run_id, "score", float(i))
        client.set_terminated(run_id)
    client.flush()
    runner = CliRunner()
    result = runner.invoke(cli, ["compact", "--store", uri])
    assert result.exit_code == 0, result.output
    assert not [k for k in _keys(moto_endpoint, s3_bucket, "store/runs/")]
    df = tracker.MlflowClient(uri).search_runs(
        [eid], "metrics.score >= 3", order_by=["metrics.score DESC"]
    )
    assert [r.data.params["i"] for r in df] == ["4", "3"]
    listed = runner.invoke(cli, ["runs", "list", "--store", uri, "--json"])
    assert listed.exit_code == 0, listed.output
    assert sorted(r["run_name"] for r in json.loads(listed.output)) == [f"r{i}" for i in range(5)]
    sql = runner.invoke(
        cli, ["sql", "--store", uri, "--json", "select sum(value) as total from metrics"]
    )
    assert sql.exit_code == 0, sql.output
    assert json.loads(sql.output) == [{"total": 10.0}]


def test_the_registry_tables_of_an_s3_store(s3_bucket: str) -> None:
    """``model_versions`` folds the registry through tracker's S3 access (no httpfs) (#14)."""
    uri = f"s3://{s3_bucket}/store"
    client = tracker.MlflowClient(uri)
    client.create_model_version("m", "s3://b/m/1", tags={"k": "v"})
    client.create_model_version("m", "s3://b/m/2")
    client.set_registered_model_alias("m", "champion", 2)
    client.delete_model_version("m", 1)
    result = CliRunner().invoke(cli, [
        "sql", "--store", uri, "--json",
        "SELECT version, aliases, tags['k'] AS k, lifecycle_stage FROM model_versions "
        "ORDER BY version"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"version": 1, "aliases": [], "k": "v", "lifecycle_stage": "deleted"},
        {"version": 2, "aliases": ["champion"], "k": None, "lifecycle_stage": "active"},
    ]


# -- the site --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_strict_site_build_from_an_s3_store(
    s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no reports/ folder: the checkout's are written for the demo store
    uri = f"s3://{s3_bucket}/store"
    ids = seed_site_store(uri)
    out = tmp_path / "site"
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["build", "--store", uri, "--out", str(out), "--strict"])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    with capsys.disabled():
        print(f"\nsite build from moto: {seconds:.2f} s")
    assert link_problems(out) == []
    copies = {p.relative_to(out).as_posix() for p in out.rglob("*") if "artifacts" in p.parts}
    assert any(p.endswith("notes/readme.md") for p in copies), copies
    page = next(out.rglob(f"*{ids['retrain']}*.html"), None) or next(
        p for p in out.rglob("*.html") if ids["retrain"] in p.read_text(encoding="utf-8")
    )
    assert "Retrained on all data." in page.read_text(encoding="utf-8")


# -- beyond tracker: other engines read the bucket --------------------------------------------------


def _seed_small(uri: str) -> str:
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("engines")
    for i in range(3):
        with tracker.start_run(run_name=f"r{i}"):
            tracker.log_param("i", i)
            tracker.log_metric("loss", 1.0 / (i + 1))
    return tracker.get_experiment_by_name("engines").experiment_id


def _check_frame(rows: list[dict[str, Any]], eid: str) -> None:
    metrics = sorted(r["num"] for r in rows if r["kind"] == "metric" and r["key"] == "loss")
    assert metrics == pytest.approx([1 / 3, 1 / 2, 1.0])
    assert {str(r["experiment_id"]) for r in rows if r["kind"] == "metric"} == {eid}


def test_polars_and_pyarrow_read_a_local_store_without_tracker(tmp_path: Path) -> None:
    import polars as pl
    import pyarrow.dataset as ds

    root = tmp_path / "store"
    eid = _seed_small(str(root))
    table = ds.dataset(str(root / "runs"), format="parquet", partitioning="hive").to_table()
    _check_frame(table.to_pylist(), eid)
    frame = pl.read_parquet(str(root / "runs" / "**" / "*.parquet"), hive_partitioning=True)
    _check_frame(frame.to_dicts(), eid)


def test_polars_and_pyarrow_read_an_s3_store_without_tracker(
    s3_bucket: str, moto_endpoint: str
) -> None:
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    eid = _seed_small(f"s3://{s3_bucket}/store")
    s3 = pafs.S3FileSystem(
        endpoint_override=moto_endpoint,
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
    )
    table = ds.dataset(
        f"{s3_bucket}/store/runs", filesystem=s3, format="parquet", partitioning="hive"
    ).to_table()
    _check_frame(table.to_pylist(), eid)
    con = duckdb.connect()
    con.register(
        "runs",
        ds.dataset(f"{s3_bucket}/store/runs", filesystem=s3, format="parquet", partitioning="hive"),
    )
    counts = con.sql("select kind, count(*) as n from runs group by kind").fetchall()
    assert dict(counts)["metric"] == 3
    options = {
        "aws_endpoint_url": moto_endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    frame = pl.read_parquet(
        f"s3://{s3_bucket}/store/runs/**/*.parquet", hive_partitioning=True, storage_options=options
    )
    _check_frame(frame.to_dicts(), eid)


# -- configuration and errors ------------------------------------------------------------------------


def test_missing_bucket_is_named(s3_bucket: str) -> None:
    with pytest.raises(StoreError, match=r"bucket 'no-such-bucket-here' does not exist"):
        tracker.MlflowClient("s3://no-such-bucket-here/store")
    result = CliRunner().invoke(cli, ["runs", "list", "--store", "s3://no-such-bucket-here/x"])
    assert result.exit_code != 0
    assert "no-such-bucket-here" in result.output
    tracker.set_tracking_uri(f"s3://{s3_bucket}/store")
    with pytest.raises(StoreError, match=r"bucket 'no-such-bucket-here' does not exist"):
        tracker.create_experiment("x", artifact_location="s3://no-such-bucket-here/arts")


def test_unreachable_endpoint_fails_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    started = time.perf_counter()
    with pytest.raises(StoreError, match=r"Cannot reach the S3 endpoint http://127\.0\.0\.1:9"):
        open_s3_store("s3://bucket/store", endpoint_url="http://127.0.0.1:9")
    assert time.perf_counter() - started < 10


def test_bad_credentials_are_reported(
    s3_bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.request

    def set_auth(count: str) -> None:
        request = urllib.request.Request(
            f"{moto_endpoint}/moto-api/reset-auth",
            data=count.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=5).read()

    set_auth("0")  # moto checks credentials from now on; "testing" is no known key
    try:
        with pytest.raises(StoreError, match="S3 refused access .*AWS_ACCESS_KEY_ID"):
            open_s3_store(f"s3://{s3_bucket}/store")
    finally:
        set_auth("inf")


def test_endpoint_and_region_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    assert S3Options().resolved() == S3Options(endpoint_url=None, region="us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://general:9000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert S3Options().resolved().endpoint_url == "http://general:9000"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:9000")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    resolved = S3Options().resolved()
    assert (resolved.endpoint_url, resolved.region) == ("http://s3-only:9000", "eu-central-1")
    explicit = S3Options(endpoint_url="https://minio.example:9000", region="x").resolved()
    assert (explicit.endpoint_url, explicit.region) == ("https://minio.example:9000", "x")
    with pytest.raises(InvalidArgumentError, match="'minio:9000' must be an http:// or https://"):
        S3Options(endpoint_url="minio:9000").resolved()
    with pytest.raises(InvalidArgumentError, match="'connect_timeout': expected a positive"):
        configure(connect_timeout=0)
    with pytest.raises(InvalidArgumentError, match="'max_attempts': expected an integer"):
        S3Options(max_attempts=0)
    assert configure().connect_timeout == 5.0  # a refused setting changes nothing
    with pytest.raises(InvalidArgumentError, match="Unknown S3 option.*endpoint"):
        configure(endpont_url="http://x:1")
    with pytest.raises(InvalidArgumentError, match="'Bad_Bucket' is not a valid bucket name"):
        open_s3_fs("s3://Bad_Bucket/x", check=False)


def test_configure_sets_the_endpoint_for_tracking_uris(
    s3_bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    previous = configure()
    try:
        configure(endpoint_url=moto_endpoint)
        tracker.set_tracking_uri(f"s3://{s3_bucket}/configured")
        with tracker.start_run():
            tracker.log_metric("m", 1.0)
        assert len(tracker.search_runs()) == 1
    finally:
        configure(endpoint_url=previous.endpoint_url)


class _ConflictingClient:
    """Answers PutObject with S3's 409 ConditionalRequestConflict ``conflicts`` times.

    moto never sends that answer (real S3 does while another conditional write of the key is in
    flight), so this stands in for boto3's client in the one test of how tracker handles it.
    """

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.calls = 0

    def put_object(self, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls <= self.conflicts:
            error = Exception("ConditionalRequestConflict")
            error.response = {  # type: ignore[attr-defined]
                "Error": {"Code": "ConditionalRequestConflict"},
                "ResponseMetadata": {"HTTPStatusCode": 409},
            }
            raise error


def test_conditional_create_retries_a_409_then_decides(s3_bucket: str) -> None:
    import tracker.store.s3 as s3_module

    fs = open_s3_fs(f"s3://{s3_bucket}/store")
    client = _ConflictingClient(conflicts=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(s3_module, "_boto3_client", lambda options: client)
        assert fs.create_exclusive("claim", b"x") is True  # the third try wins
    assert client.calls == 3

    # Conflicts every time: the object's presence decides (another writer created it) ...
    assert fs.create_exclusive("taken", b"first") is True
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(s3_module, "_boto3_client", lambda options: _ConflictingClient(99))
        assert fs.create_exclusive("taken", b"second") is False
        # ... and with nothing there, it is an error that says to try again.
        with pytest.raises(StoreError, match="kept conflicting with other writers"):
            fs.create_exclusive("never", b"x")
    assert fs.read_bytes("taken") == b"first"


def test_the_cli_takes_the_endpoint_from_the_project_config(
    s3_bucket: str, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    import tracker.store.s3 as s3
    from tracker.cli import cli
    from tracker.client import TrackerClient

    client = TrackerClient(f"s3://{s3_bucket}/team")
    run_id = client.create_run(client.create_experiment("cfg")).info.run_id
    client.set_terminated(run_id)
    client.flush()
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")  # only the config knows where the bucket is
    monkeypatch.setattr(s3, "_defaults", S3Options())
    (tmp_path / "tracker.toml").write_text(
        f'store = "s3://{s3_bucket}/team"\n[s3]\nendpoint_url = "{moto_endpoint}"\n',
        encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["runs", "list", "--experiment", "cfg", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert run_id in result.output
    assert s3._defaults.default_endpoint_url == moto_endpoint
    # The environment wins over the config.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    assert s3._defaults.resolved().endpoint_url == "http://127.0.0.1:9"


def test_the_pages_build_script_builds_a_store_in_a_bucket(
    s3_bucket: str, tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    from tests.test_site_build import link_problems, seed_site_store

    uri = f"s3://{s3_bucket}/tracking"
    seed_site_store(uri)
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ["bash", str(root / "scripts" / "ci" / "build-site.sh")], cwd=tmp_path,
        env={**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(root),
             "TRACKER_STORE": uri, "SITE_BASE_URL": "https://me.github.io/proj/"},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    site = tmp_path / "_site"
    assert (site / "index.html").is_file() and (site / "sitemap.xml").is_file()
    assert link_problems(site) == []
