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
