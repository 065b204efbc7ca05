"""Spark (#14): hyperopt sweeps on ``SparkTrials`` logged from executors, and Spark SQL views
over a store that return the rows DuckDB returns. Real Spark in local mode (``local[4]``)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

import tracker
from tests.test_query_registry import HOSTILE, registry_store

pyspark = pytest.importorskip("pyspark")  # CI installs it (.ci/run checks the import)

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parent.parent
PARENT = "mlflow.parentRunId"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local[4] Spark session for the module; executors run this checkout's tracker."""
    from pyspark.sql import SparkSession

    saved = {k: os.environ.get(k) for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    with warnings.catch_warnings():
        # pyspark 4.x: "PySpark does not yet fully support pandas >= 3.0.0" (nothing here
        # converts through pandas on the Spark side)
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                                FutureWarning)
        session = (
            SparkSession.builder.master("local[4]")
            .appName("tracker-tests")
            .config("spark.driver.memory", "1g")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")  # tiny stores: fewer tasks
            .config("spark.sql.session.timeZone", "UTC")
            # tracker from this checkout, and this module (objectives defined here)
            .config("spark.executorEnv.PYTHONPATH", f"{ROOT}{os.pathsep}{ROOT / 'tests'}")
            .config("spark.python.task.killTimeout", "1s")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _quiet_pandas_warning() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                                FutureWarning)
        # SparkTrials' task threads (pyspark.inheritable_thread_target) in pyspark 4.x
        warnings.filterwarnings("ignore", "Spark session is not provided", UserWarning)
        yield


# -------------------------------------------------------------------------- sweeps on Spark


def cheap_objective(params: dict[str, Any]) -> float:
    """A loss from a formula; fails for one booster/depth combination."""
    if params["booster"] == "dart" and params["max_depth"] % 7 == 0:
        raise ValueError(f"max_depth {params['max_depth']} with dart is unlucky")
    return abs(params["max_depth"] - 20) + params["learning_rate"]


def sweep_space() -> dict[str, Any]:
    from hyperopt import hp
    from hyperopt.pyll import scope

    return {
        "max_depth": scope.int(hp.quniform("max_depth", 4, 60, 1)),
        "learning_rate": hp.loguniform("learning_rate", -3, 0),
        "booster": hp.choice("booster", ["gbtree", "dart"]),
    }


def children(client: tracker.TrackerClient, parent_id: str) -> list[Any]:
    return client.search_runs(filter_string=f"tags.`{PARENT}` = '{parent_id}'",
                              max_results=10_000)


def test_32_trials_on_spark_are_runs_logged_by_executors(
    spark: Any, store_uri: str, tmp_path: Path
) -> None:
    import numpy as np
    from hyperopt import SparkTrials, rand

    import tracker.hyperopt
    from tracker.site.build import build

    tracker.set_experiment("spark-sweep")
    driver_pid = os.getpid()

    def objective(params: dict[str, Any]) -> float:
        tracker.log_metric("pid", os.getpid())  # the trial run, started implicitly
        return cheap_objective(params)

    started = time.perf_counter()
    best = tracker.hyperopt.fmin(
        objective, sweep_space(), algo=rand.suggest, max_evals=32,
        trials=SparkTrials(parallelism=4, spark_session=spark),
        rstate=np.random.default_rng(7), max_queue_len=4, show_progressbar=False,
    )
    elapsed = time.perf_counter() - started
    client = tracker.TrackerClient(store_uri)
    (parent,) = client.search_runs(filter_string="tags.sweep = 'hyperopt'")
    trials = children(client, parent.info.run_id)
    print(f"32 trials at parallelism 4: {elapsed:.1f} s")
    assert len(trials) == 32, elapsed
    numbers = sorted(int(r.data.tags["trial_number"]) for r in trials)
    assert numbers == list(range(32))
    failed = [r for r in trials if r.info.status == "FAILED"]
    finished = [r for r in trials if r.info.status == "FINISHED"]
    assert len(failed) + len(finished) == 32
    for run in trials:
        assert run.data.metrics["pid"] != driver_pid  # logged from an executor's process
        assert isinstance(eval(run.data.params["max_depth"]), int)  # decoded: scope.int
        assert run.data.params["booster"] in ("gbtree", "dart")  # decoded: the choice
        assert run.info.experiment_id == parent.info.experiment_id
    for run in finished:
        assert run.data.tags["trial_status"] == "ok"
        assert run.data.metrics["loss"] == pytest.approx(cheap_objective({
            "booster": run.data.params["booster"],
            "max_depth": int(run.data.params["max_depth"]),
            "learning_rate": float(run.data.params["learning_rate"]),
        }))
    for run in failed:
        assert run.data.tags["trial_status"] == "fail"
        assert "unlucky" in run.data.tags["error"]
    best_run = min(finished, key=lambda r: r.data.metrics["loss"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["best_trial_run_id"] == best_run.info.run_id
    assert parent.data.metrics["best_loss"] == best_run.data.metrics["loss"]
    assert parent.data.metrics["n_trials"] == 32
    assert parent.data.metrics["n_failed"] == len(failed)
    assert best["max_depth"] == int(best_run.data.params["max_depth"])

    out = tmp_path / "site"
    build(store_uri, out)
    page = out / "sweeps" / f"{parent.info.run_id}.html"
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    linked = {a["href"].rsplit("/", 1)[-1].removesuffix(".html") for a in soup.find_all("a", href=True)
              if "/runs/" in a["href"] or a["href"].startswith("runs/")
              or a["href"].startswith("../runs/")}
    assert {r.info.run_id for r in trials} <= linked


def test_trials_cancelled_by_the_timeout_are_killed_not_lost(spark: Any, store_uri: str) -> None:
    import numpy as np
    from hyperopt import SparkTrials, hp, rand

    import tracker.hyperopt

    def objective(params: dict[str, Any]) -> float:
        with tracker.start_run():
            tracker.log_param("started", "yes")
            tracker.flush()
            time.sleep(120)  # cancelled by the sweep's timeout
        return float(params["x"])

    # No trial ends in time, so hyperopt has no loss to return (its own error).
    with pytest.raises(Exception, match="no evaluation tasks"):
        tracker.hyperopt.fmin(
            objective, {"x": hp.uniform("x", 0, 1)}, algo=rand.suggest, max_evals=4,
            trials=SparkTrials(parallelism=4, timeout=15, spark_session=spark),
            rstate=np.random.default_rng(3), max_queue_len=4, show_progressbar=False,
        )
    client = tracker.TrackerClient(store_uri)
    (parent,) = client.search_runs(filter_string="tags.sweep = 'hyperopt'")
    assert parent.info.status == "FAILED" and parent.data.metrics["n_failed"] == 4
    trials = children(client, parent.info.run_id)
    assert sorted(int(r.data.tags["trial_number"]) for r in trials) == [0, 1, 2, 3]
    for run in trials:  # started on an executor and stopped there, or never started
        assert run.info.status == "KILLED", run.data.params
        assert run.data.tags["trial_status"] == "cancelled"
        assert "x" in run.data.params


def test_plain_hyperopt_fmin_nests_executor_runs_under_the_active_run(
    spark: Any, store_uri: str
) -> None:
    import numpy as np
    from hyperopt import SparkTrials, fmin, hp, rand

    tracker.set_experiment("plain")

    def objective(params: dict[str, Any]) -> float:
        with tracker.start_run(nested=True):
            tracker.log_params(params)
            tracker.log_metric("loss", params["x"] ** 2)
        return float(params["x"] ** 2)

    with tracker.start_run(run_name="plain-sweep") as parent:
        fmin(objective, {"x": hp.uniform("x", -1, 1)}, algo=rand.suggest, max_evals=4,
             trials=SparkTrials(parallelism=4, spark_session=spark),
             rstate=np.random.default_rng(1), max_queue_len=4, show_progressbar=False)
    client = tracker.TrackerClient(store_uri)
    trials = children(client, parent.info.run_id)
    assert len(trials) == 4
    for run in trials:
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == parent.info.experiment_id
        assert run.data.metrics["loss"] == pytest.approx(float(run.data.params["x"]) ** 2)
    env = spark.sparkContext.environment
    assert "TRACKER_PARENT_RUN_ID" not in env  # the run ended: executors no longer nest under it


@contextlib.contextmanager
def _executor_s3_env(spark: Any) -> Iterator[None]:
    """The S3 endpoint and keys of this process given to the executors' Python workers, as
    ``spark.executorEnv.*`` does on a cluster; taken back after."""
    env = spark.sparkContext.environment
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3")
    saved = {name: env.get(name) for name in names}
    env.update({name: os.environ[name] for name in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value


def test_a_sweep_into_an_s3_store_is_logged_by_executors(spark: Any, s3_bucket: str) -> None:
    import numpy as np
    from hyperopt import SparkTrials, hp, rand

    import tracker.hyperopt

    uri = f"s3://{s3_bucket}/tracking"
    tracker.set_tracking_uri(uri)
    with _executor_s3_env(spark):
        tracker.hyperopt.fmin(
            lambda p: float(p["x"]) ** 2, {"x": hp.uniform("x", -1, 1)}, algo=rand.suggest,
            max_evals=4, trials=SparkTrials(parallelism=4, spark_session=spark),
            rstate=np.random.default_rng(5), max_queue_len=4, show_progressbar=False,
        )
    client = tracker.TrackerClient(uri)
    (parent,) = client.search_runs(filter_string="tags.sweep = 'hyperopt'")
    trials = children(client, parent.info.run_id)
    assert sorted(int(r.data.tags["trial_number"]) for r in trials) == [0, 1, 2, 3]
    for run in trials:
        assert run.info.status == "FINISHED"
        assert run.data.metrics["loss"] == pytest.approx(float(run.data.params["x"]) ** 2)
    assert parent.data.metrics["best_loss"] == min(r.data.metrics["loss"] for r in trials)


def test_what_sparktrials_refuses_is_a_tracker_error_before_any_run(
    spark: Any, store_uri: str
) -> None:
    from hyperopt import SparkTrials, hp

    import tracker.hyperopt
    from tracker.exceptions import InvalidArgumentError

    trials = SparkTrials(parallelism=1, spark_session=spark)
    space = {"x": hp.uniform("x", 0, 1)}
    with pytest.raises(InvalidArgumentError, match="does not support catch_eval_exceptions"):
        tracker.hyperopt.fmin(cheap_objective, space, max_evals=1, trials=trials,
                              catch_eval_exceptions=True)
    with pytest.raises(InvalidArgumentError, match="does not support pass_expr_memo_ctrl"):
        tracker.hyperopt.fmin(cheap_objective, space, max_evals=1, trials=trials,
                              pass_expr_memo_ctrl=True)
    assert tracker.TrackerClient(store_uri).search_runs() == []


# -------------------------------------------------------------------- Spark SQL over the store


def messy_store(uri: str) -> dict[str, str]:
    """A store with what the views must fold: deletes, compactions (parts covering runs and an
    absorbed part), a resumed compacted run, NaN/±inf metrics, equal steps, deleted tags, a
    deleted experiment, inputs, artifacts and a run left RUNNING. Returns some run ids."""
    import numpy as np

    from tracker.store.compact import compact

    tracker.set_tracking_uri(uri)
    client = tracker.TrackerClient(uri)
    ids: dict[str, str] = {}
    tracker.set_experiment("alpha")
    for i in range(6):
        with tracker.start_run(run_name=f"alpha-{i}") as run:
            ids[f"alpha-{i}"] = run.info.run_id
            tracker.log_params({"lr": 0.1 * (i + 1), "depth": i, "model": "x" if i % 2 else "y"})
            tracker.set_tags({"team": "a", "drop": "me"})
            for step in range(4):
                tracker.log_metric("rmse", 10.0 - step - i / 10, step=step)
            if i == 0:  # a metric linked to a logged model and a dataset (#12)
                client.log_metric(run.info.run_id, "acc", 0.5, model_id="m-" + "a" * 32,
                                  dataset_name="train", dataset_digest="abc")
            tracker.log_metric("odd", float("nan") if i % 2 else float("inf"))
            tracker.log_metric("same_step", 1.0, step=5, timestamp=1_000)
            tracker.log_metric("same_step", 2.0, step=5, timestamp=2_000)
            tracker.log_metric("same_step", 3.0, step=5, timestamp=2_000)  # ties: highest value
            tracker.log_metric("neg", float("-inf"), step=1)
            tracker.log_text(f"notes {i}", "notes/readme.txt")
            if i == 0:
                tracker.log_input(
                    tracker.data.from_numpy(np.ones((4, 2)), source="s3://b/x.npy"),
                    context="training",
                )
            if i % 3 == 0:
                tracker.delete_tag("drop")
    client.delete_run(ids["alpha-5"])
    tracker.set_experiment("beta")
    with tracker.start_run(run_name="beta-0") as run:
        ids["beta-0"] = run.info.run_id
        tracker.log_metric("loss", 0.5)
    compact(client.store)  # finished runs → parts
    with tracker.start_run(run_id=ids["alpha-1"]):  # resumed after compaction
        tracker.log_metric("rmse", 0.25, step=9)
        tracker.log_param("late", "yes")
        tracker.set_tag("team", "b")
    tracker.set_experiment("alpha")
    with tracker.start_run(run_name="parent") as parent:
        ids["parent"] = parent.info.run_id
        with tracker.start_run(run_name="child", nested=True) as child:
            ids["child"] = child.info.run_id
            tracker.log_metric("rmse", float("nan"), step=0)
    compact(client.store)  # a newer part absorbs the first one
    beta = client.get_experiment_by_name("beta")
    assert beta is not None
    client.delete_experiment(beta.experiment_id)
    running = client.create_run(client.get_experiment_by_name("alpha").experiment_id,  # type: ignore[union-attr]
                                run_name="still-running")
    ids["running"] = running.info.run_id
    client.log_metric(ids["running"], "rmse", 5.0, step=1)
    client.flush()
    return ids


def _normalized(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows comparable across engines: NaN as a marker (NaN != NaN), floats rounded, maps as
    sorted pairs (their order is not part of a map), sorted."""
    def value(v: Any) -> Any:
        if isinstance(v, float):
            return "NaN" if v != v else round(v, 9)
        if isinstance(v, datetime) and v.tzinfo is not None:  # DuckDB: UTC; Spark: session UTC
            return v.astimezone(timezone.utc).replace(tzinfo=None)
        if isinstance(v, dict):
            return ("map", sorted(v.items()))
        if isinstance(v, list):
            return [value(x) for x in v]
        return v

    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


VIEW_NAMES = ("experiments", "experiment_tags", "runs", "params", "metrics", "latest_metrics",
              "tags", "artifacts", "inputs", "model_versions", "registered_models")


def test_spark_views_return_the_rows_duckdb_returns(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.runlog
    import tracker.spark

    # The run left RUNNING would write a heartbeat a minute in (a loaded machine takes that
    # long here), after Spark's read plan and before DuckDB's: not the same store any more.
    monkeypatch.setattr(tracker.runlog, "HEARTBEAT_INTERVAL", 3600.0)
    uri = str(tmp_path / "store")
    ids = messy_store(uri)
    facts = registry_store(uri)  # renames, deletes, moved aliases, a renumbered version, …
    client = tracker.TrackerClient(uri)
    plan = client.store.plan()
    assert any("/parts/" in f or f.startswith("parts/") for f in plan.files)  # compacted
    registered = tracker.spark.register_views(spark, uri)
    assert set(VIEW_NAMES) <= set(registered)
    _same_views(spark, client)
    # the folds the store was built to exercise, as Spark sees them
    latest = {(r["run_id"], r["key"]): r for r in spark.sql("SELECT * FROM latest_metrics").collect()}
    assert latest[(ids["alpha-1"], "rmse")]["value"] == 0.25  # the resumed run's later step
    assert latest[(ids["alpha-0"], "same_step")]["value"] == 3.0
    assert latest[(ids["alpha-1"], "odd")]["value"] != latest[(ids["alpha-1"], "odd")]["value"]
    runs = {r["run_id"]: r for r in spark.sql("SELECT * FROM runs").collect()}
    assert runs[ids["alpha-5"]]["lifecycle_stage"] == "deleted"
    assert runs[ids["running"]]["status"] == "RUNNING" and runs[ids["running"]]["dead"] is False
    assert runs[ids["child"]]["parent_run_id"] == ids["parent"]
    tags = {(r["run_id"], r["key"]) for r in spark.sql("SELECT * FROM tags").collect()}
    assert (ids["alpha-0"], "drop") not in tags and (ids["alpha-1"], "drop") in tags
    counts = spark.sql("SELECT count(*) AS n FROM metrics WHERE key = 'rmse'").collect()[0]["n"]
    assert counts == 6 * 4 + 1 + 1 + 1  # each point once despite parts, finals and segments
    # the registry, as Spark queries it: a map, an array, deleted rows kept
    picked = spark.sql("SELECT version, tags['reviewed'] AS reviewed FROM model_versions "
                       "WHERE name = 'taxi' AND array_contains(aliases, 'challenger')").collect()
    assert [tuple(r) for r in picked] == [(2, "yes")]
    versions = {(r["name"], r["version"], r["lifecycle_stage"]): r
                for r in spark.sql("SELECT * FROM model_versions").collect()}
    assert versions[("taxi", 4, "deleted")]["source"] == "/models/taxi/4"
    assert versions[("dup", 2, "active")]["run_id"] == "branch-b"
    hostile = versions[(facts["hostile_name"], 1, "active")]
    assert hostile["description"] == HOSTILE and hostile["aliases"] == [HOSTILE]
    live = spark.sql("SELECT name, version FROM model_versions WHERE lifecycle_stage = 'active'")
    assert sorted(tuple(r) for r in live.collect()) == sorted(
        (mv.name, mv.version) for mv in client.search_model_versions())


def _same_views(spark: Any, client: Any) -> None:
    """Every view Spark has registered returns the rows DuckDB's returns over ``client``'s store."""
    query = client.query.refresh()
    client.sql("SELECT 1 FROM model_versions, registered_models")  # made for queries naming them
    for view in VIEW_NAMES:
        columns = [d[0] for d in query._execute(f"SELECT * FROM {view} LIMIT 0").description]
        duck = _normalized([tuple(r.values()) for r in query.rows(f"SELECT * FROM {view}")])
        frame = spark.sql(f"SELECT * FROM {view}")
        assert frame.columns == columns, view
        sparked = _normalized([tuple(r) for r in frame.collect()])
        assert sparked == duck, view
        assert duck or view == "experiment_tags", view  # every view has rows to compare


def test_spark_views_of_an_s3_store_need_no_hadoop(
    spark: Any, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ``s3://`` store's records are read on the executors by tracker's own S3 access (a
    Spark Python data source, ``tracker.spark_source``), not Hadoop's s3a (not installed here):
    the views return what DuckDB's return over the same files, and a damaged file is left out,
    or fails the query when asked to."""
    import boto3

    import tracker.runlog
    import tracker.spark

    monkeypatch.setattr(tracker.runlog, "HEARTBEAT_INTERVAL", 3600.0)
    local = tmp_path / "store"
    messy_store(str(local))
    registry_store(str(local))
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"],
                      region_name="us-east-1")
    for path in sorted(local.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), s3_bucket, f"tracking/{path.relative_to(local).as_posix()}")
    uri = f"s3://{s3_bucket}/tracking"
    assert tracker.TrackerClient(uri).store.plan().files == \
        tracker.TrackerClient(str(local)).store.plan().files
    with _executor_s3_env(spark):
        tracker.spark.register_views(spark, uri)
        _same_views(spark, tracker.TrackerClient(str(local)))
        records = spark.sql("SELECT count(*) FROM records").collect()[0][0]
        run_folder = next(p for p in local.rglob("run_id=*") if p.is_dir())
        damaged = f"tracking/{run_folder.relative_to(local).as_posix()}/seg-damaged.parquet"
        s3.put_object(Bucket=s3_bucket, Key=damaged, Body=b"PAR1 not a parquet file PAR1")
        assert any(f.endswith("seg-damaged.parquet")
                   for f in tracker.TrackerClient(uri).store.plan().files)
        tracker.spark.register_views(spark, uri)
        assert spark.sql("SELECT count(*) FROM records").collect()[0][0] == records
        with pytest.raises(Exception, match="Parquet"):  # its dead-run check reads them
            tracker.spark.register_views(spark, uri, ignore_corrupt_files=False)
            spark.sql("SELECT count(*) FROM records").collect()


def test_the_registry_views_of_an_s3_store_need_no_hadoop(spark: Any, s3_bucket: str) -> None:
    """The registry views of an S3 store are folded on the driver through tracker's own S3
    access (no executor reads them)."""
    import tracker.spark
    from tracker.uri import open_store

    uri = f"s3://{s3_bucket}/tracking"
    client = tracker.TrackerClient(uri)
    client.create_model_version("m", "s3://b/m/1", tags={"k": "v"})
    client.create_model_version("m", "s3://b/m/2")
    client.delete_model_version("m", 1)
    tracker.spark._register_registry(spark, open_store(uri))
    rows = spark.sql("SELECT version, tags, lifecycle_stage FROM model_versions").collect()
    assert sorted(tuple(r) for r in rows) == [(1, {"k": "v"}, "deleted"), (2, {}, "active")]
    duck = client.sql("SELECT version, lifecycle_stage FROM model_versions ORDER BY version")
    assert duck.values.tolist() == [[1, "deleted"], [2, "active"]]


def test_register_views_refuses_bad_arguments(tmp_path: Path) -> None:
    import tracker.spark
    from tracker.exceptions import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="SparkSession as `spark`, got 'nope'"):
        tracker.spark.register_views("nope", str(tmp_path))
    with pytest.raises(InvalidArgumentError, match="non-empty string, got 42"):
        tracker.spark.register_views(_FakeSession(), 42)  # type: ignore[arg-type]


class _FakeSession:
    """Has the attributes register_views checks before the URI (never used to run SQL)."""

    read = sql = createDataFrame = None


def test_import_tracker_does_not_import_pyspark() -> None:
    import subprocess

    code = ("import sys, tracker, tracker.hyperopt, tracker.hyperopt.spark; tracker.spark; "
            "print('pyspark' in sys.modules, 'hyperopt' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "False"]


def test_the_spark_record_schema_names_every_record_column_in_order() -> None:
    from tracker.store import schema

    assert tuple(schema.SPARK_TYPES) == schema.COLUMNS
    assert schema.spark_schema().startswith("`experiment_id` string, `run_id` string")
