"""search_runs and SQL over a real store: filters, ordering, shapes, tolerance."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import tracker
from tracker.exceptions import FilterSyntaxError, NotFoundError
from tracker.query import StoreQuery


@pytest.fixture
def scored(store_uri: str) -> dict[str, str]:
    """Four runs with rmse 3, 1, NaN and none; returns name -> run id."""
    tracker.set_experiment("scores")
    ids = {}
    for name, rmse, model in (("a", 3.0, "xgboost"), ("b", 1.0, "lasso"),
                              ("c", math.nan, "xgboost"), ("d", None, "lasso")):
        with tracker.start_run(run_name=name) as run:
            tracker.log_param("model", model)
            tracker.set_tag("team", "Green Taxi" if name in "ab" else "yellow")
            if rmse is not None:
                tracker.log_metric("rmse", 100.0, step=0)
                tracker.log_metric("rmse", rmse, step=1)
            ids[name] = run.info.run_id
    return ids


def names(df) -> list[str]:  # type: ignore[no-untyped-def]
    return [] if df.empty else list(df["tags.mlflow.runName"])


def test_metric_filter_sees_the_latest_value(scored: dict[str, str]) -> None:
    assert names(tracker.search_runs(filter_string="metrics.rmse < 50")) in (["b", "a"], ["a", "b"])
    assert set(names(tracker.search_runs(filter_string="metrics.rmse >= 3"))) == {"a"}


def test_param_tag_and_attribute_filters(scored: dict[str, str]) -> None:
    run = tracker.search_runs(filter_string="params.model = 'lasso' and tags.team LIKE 'Green%'")
    assert names(run) == ["b"]
    assert set(names(tracker.search_runs(filter_string="tags.team ILIKE '%taxi'"))) == {"a", "b"}
    assert names(tracker.search_runs(filter_string="tags.team LIKE '%taxi'")) == []
    only = tracker.search_runs(filter_string=f"attributes.run_id IN ('{scored['c']}')")
    assert names(only) == ["c"]
    finished = tracker.search_runs(filter_string="attributes.status = 'FINISHED'")
    assert len(finished) == 4
    either = tracker.search_runs(filter_string="params.model = 'lasso' OR metrics.rmse > 2")
    assert set(names(either)) == {"a", "b", "d"}
    assert set(names(tracker.search_runs(filter_string="params.model IN ('lasso')"))) == {"b", "d"}


def test_order_by_puts_nan_and_missing_last(scored: dict[str, str]) -> None:
    asc = tracker.search_runs(order_by=["metrics.rmse ASC"])
    assert names(asc) == ["b", "a", "c", "d"]
    desc = tracker.search_runs(order_by=["metrics.rmse DESC"])
    assert names(desc)[:2] == ["a", "b"] and set(names(desc)[2:]) == {"c", "d"}
    top = tracker.search_runs(order_by=["metrics.rmse"], max_results=1)
    assert names(top) == ["b"]
    by_param = tracker.search_runs(order_by=["params.model DESC", "attributes.run_name ASC"])
    assert names(by_param) == ["a", "c", "b", "d"]


def test_malformed_filters_point_at_the_bad_token(scored: dict[str, str]) -> None:
    with pytest.raises(FilterSyntaxError, match="'<>' at position 13"):
        tracker.search_runs(filter_string="metrics.rmse <> 3")
    with pytest.raises(FilterSyntaxError):
        tracker.search_runs(filter_string="metrics.rmse = 'abc'")
    with pytest.raises(FilterSyntaxError, match="bogus"):
        tracker.search_runs(filter_string="attributes.bogus = 'x'")
    with pytest.raises(NotFoundError, match="'nope'"):
        tracker.search_runs(experiment_names=["nope"])


def test_filter_values_are_parameters_not_sql(scored: dict[str, str]) -> None:
    evil = "x' OR '1'='1"
    assert len(tracker.search_runs(filter_string=f'params.model = "{evil}"')) == 0
    trace: list[str] = []
    client = tracker.TrackerClient(tracker.get_tracking_uri())
    client.query.tracer = trace.append
    client.search_runs_frame(None, 'params.model = "lasso"')
    client.query.tracer = None
    assert trace and not any("lasso" in sql for sql in trace)


def test_list_output_and_empty_results(scored: dict[str, str]) -> None:
    runs = tracker.search_runs(filter_string="params.model = 'lasso'", output_format="list",
                               order_by=["attributes.run_name"])
    assert [r.info.run_name for r in runs] == ["b", "d"]
    assert runs[0].data.metrics == {"rmse": 1.0}
    empty = tracker.search_runs(filter_string="params.model = 'none'")
    assert empty.empty and list(empty.columns)[:3] == ["run_id", "experiment_id", "status"]


def test_unreadable_files_are_skipped_with_a_warning(
    scored: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    root = Path(tracker.get_tracking_uri())
    victim = next(root.glob(f"runs/*/run_id={scored['a']}/*.parquet"))
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    junk = victim.with_name("seg-00000000000000000000junk.parquet")
    junk.write_bytes(b"not parquet at all")
    query = StoreQuery(tracker.TrackerClient(str(root)).store)
    with caplog.at_level("WARNING", logger="tracker.store"):
        df = query.sql("select run_name from runs order by run_name")
    assert list(df["run_name"]) == ["b", "c", "d"]
    assert any(victim.name in w for w in query.warnings)
    assert any(junk.name in r.getMessage() for r in caplog.records)


def test_sql_tables_name_the_run_and_experiment_and_give_times(store_uri: str) -> None:
    """#13: rows with a run id carry run_name and experiment_name after their own columns;
    runs, metrics and latest_metrics add TIMESTAMP WITH TIME ZONE columns (*_at)."""
    import datetime as dt

    client = tracker.TrackerClient(store_uri)
    exp = client.create_experiment("names")
    run_id = client.create_run(exp, start_time=1_700_000_000_000, run_name="first").info.run_id
    client.log_param(run_id, "alpha", "0.1")
    client.log_metric(run_id, "rmse", 2.0, timestamp=1_700_000_001_500, step=0)
    client.set_tag(run_id, "team", "a")
    client.set_terminated(run_id, end_time=1_700_000_002_000)
    client.flush()
    query = StoreQuery(client.store)
    expected = {
        "params": ["run_id", "key", "value", "run_name", "experiment_name"],
        "tags": ["run_id", "key", "value", "run_name", "experiment_name"],
        "latest_metrics": ["run_id", "key", "value", "step", "timestamp", "points", "run_name",
                           "experiment_name", "logged_at"],
        "metrics": ["run_id", "experiment_id", "key", "value", "step", "timestamp", "run_name",
                    "experiment_name", "logged_at", "model_id", "dataset_name",
                    "dataset_digest"],  # the MLflow 3 links (#12) come last
    }
    for table, columns in expected.items():
        frame = query.sql(f"SELECT * FROM {table} WHERE run_id = $id", {"id": run_id})
        assert list(frame.columns) == columns, table
        assert set(frame["run_name"]) == {"first"}, table
        assert set(frame["experiment_name"]) == {"names"}, table
    kinds = dict(query.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name IN ('runs', 'latest_metrics') AND column_name LIKE '%_at'"
    ).fetchall())
    assert kinds == {"start_at": "TIMESTAMP WITH TIME ZONE",
                     "end_at": "TIMESTAMP WITH TIME ZONE",
                     "logged_at": "TIMESTAMP WITH TIME ZONE"}
    start_at, end_at, start_time = query.con.execute(
        "SELECT start_at, end_at, start_time FROM runs WHERE run_id = $id", {"id": run_id}
    ).fetchone()
    utc = dt.timezone.utc
    assert start_at == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=utc)
    assert end_at == dt.datetime(2023, 11, 14, 22, 13, 22, tzinfo=utc)
    assert start_time == 1_700_000_000_000  # the ms columns stay for existing queries
    logged = query.con.execute("SELECT logged_at FROM metrics").fetchone()[0]
    assert logged == dt.datetime(2023, 11, 14, 22, 13, 21, 500_000, tzinfo=utc)

    # Renames reach every row: a run's through its own files, an experiment's through
    # the experiment's (rows of runs no new file touched).
    client.rename_experiment(exp, "names-2")
    for table in ("tags", "params", "latest_metrics", "metrics"):  # no file of the run changed
        frame = query.sql(f"SELECT DISTINCT experiment_name FROM {table}")
        assert frame.values.tolist() == [["names-2"]], table
    client.update_run(run_id, name="renamed")
    other = client.create_run(exp, run_name="second").info.run_id
    client.log_param(other, "alpha", "0.2")
    client.set_terminated(other)
    client.flush()
    rows = query.sql("SELECT run_id, run_name, experiment_name FROM params ORDER BY value")
    assert rows.values.tolist() == [[run_id, "renamed", "names-2"], [other, "second", "names-2"]]
    for table in ("tags", "latest_metrics", "metrics"):
        frame = query.sql(f"SELECT run_name, experiment_name FROM {table} WHERE run_id = $id",
                          {"id": run_id})
        assert set(map(tuple, frame.values.tolist())) == {("renamed", "names-2")}, table
    fresh = StoreQuery(client.store)  # a fold from scratch agrees with the refolds
    for table in ("tags", "params", "latest_metrics"):
        sql = f"SELECT * EXCLUDE (logged_at) FROM {table} ORDER BY ALL" if table == (
            "latest_metrics") else f"SELECT * FROM {table} ORDER BY ALL"
        assert fresh.sql(sql).values.tolist() == query.sql(sql).values.tolist(), table
