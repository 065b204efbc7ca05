"""Tests for tracker.query.filter: MLflow filter / order_by strings compiled to DuckDB SQL.

Every test runs the compiled fragments inside the exact SQL shape ``search_runs`` uses, on a
small in-memory DuckDB with the ``runs``, ``latest_metrics``, ``params`` and ``tags`` tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.exceptions import FilterSyntaxError, InvalidArgumentError
from tracker.query.filter import compile_filter, compile_order_by

NAN = math.nan
INF = math.inf

# run_id, experiment_id, run_name, status, start_time, end_time, user_id, artifact_uri, stage
RUNS: list[tuple[Any, ...]] = [
    ("r1", "0", "alpha", "FINISHED", 1000, 2000, "alice", "file:///a/r1", "active"),
    ("r2", "0", "beta", "FAILED", 2000, 3000, "bob", "s3://b/r2", "active"),
    ("r3", "1", "gamma", "RUNNING", 3000, None, "alice", "file:///a/r3", "active"),
    ("r4", "1", "Δelta", "FINISHED", 4000, 5000, "Carol", "file:///c/r4", "active"),
    ("r5", "0", None, "KILLED", 5000, 6000, "bob", "s3://e/r5", "active"),
    ("rd", "0", "gone", "FINISHED", 6000, 7000, "alice", "file:///a/rd", "deleted"),
]
METRICS: list[tuple[str, str, float]] = [
    ("r1", "rmse", 0.5),
    ("r1", "acc", 0.9),
    ("r1", "val.rmse", 0.4),
    ("r1", "loss rate", 2.0),
    ("r2", "rmse", NAN),
    ("r2", "acc", 0.7),
    ("r3", "rmse", 1.5),
    ("r3", "acc", -1.0),
    ("r5", "rmse", INF),
    ("r5", "acc", 0.9),
    ("rd", "rmse", 0.1),
]
PARAMS: list[tuple[str, str, str]] = [
    ("r1", "alpha", "0.1"),
    ("r1", "my param", "x y"),
    ("r1", "model", "It's"),
    ("r1", "path", "C:\\tmp\\a"),
    ("r2", "alpha", "0.2"),
    ("r2", "model", 'say "hi"'),
    ("r3", "alpha", "0.1"),
    ("r3", "model", "Linear"),
    ("r4", "alpha", "10"),
    ("r4", "model", "linear"),
    ("rd", "alpha", "0.1"),
]
TAGS: list[tuple[str, str, str]] = [
    ("r1", "mlflow.runName", "alpha"),
    ("r1", "team", "ml"),
    ("r1", "note", "Ünïcødé ✓"),
    ("r2", "mlflow.runName", "beta"),
    ("r2", "team", "ML"),
    ("r4", "team", "data"),
    ("r4", "key with space", "v"),
    ("r4", "note", "日本語"),
    ("r5", "team", "ml_ops"),
    ("rd", "team", "ml"),
]
ALL = ["r5", "r4", "r3", "r2", "r1"]  # active runs in the default order (start_time DESC)


def make_db(
    runs: list[tuple[Any, ...]],
    metrics: list[tuple[str, str, float]],
    params: list[tuple[str, str, str]],
    tags: list[tuple[str, str, str]],
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the four tables the compiled SQL refers to."""
    conn = duckdb.connect()
    conn.execute(
        "CREATE TABLE runs (run_id VARCHAR, experiment_id VARCHAR, run_name VARCHAR, "
        "status VARCHAR, start_time BIGINT, end_time BIGINT, user_id VARCHAR, "
        "artifact_uri VARCHAR, lifecycle_stage VARCHAR, parent_run_id VARCHAR, dead BOOLEAN)"
    )
    conn.execute(
        "CREATE TABLE latest_metrics (run_id VARCHAR, key VARCHAR, value DOUBLE, "
        "step BIGINT, timestamp BIGINT)"
    )
    conn.execute("CREATE TABLE params (run_id VARCHAR, key VARCHAR, value VARCHAR)")
    conn.execute("CREATE TABLE tags (run_id VARCHAR, key VARCHAR, value VARCHAR)")
    if runs:
        conn.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, FALSE)", runs)
    if metrics:
        conn.executemany("INSERT INTO latest_metrics VALUES (?, ?, ?, 0, 0)", metrics)
    if params:
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)", params)
    if tags:
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", tags)
    return conn


@pytest.fixture(scope="module")
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = make_db(RUNS, METRICS, PARAMS, TAGS)
    yield connection
    connection.close()


def search(
    conn: duckdb.DuckDBPyConnection,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
    experiment_ids: list[str] | None = None,
) -> list[str]:
    """The SQL ``tracker.query.reads.search_runs`` builds, with the same parameter order."""
    where_sql, where_params = compile_filter(filter_string)
    order_sql, order_params = compile_order_by(order_by)
    sql = f"SELECT r.run_id FROM runs r WHERE r.lifecycle_stage = 'active' AND ({where_sql})"
    params: list[Any] = list(where_params)
    if experiment_ids is not None:
        sql += " AND r.experiment_id IN (SELECT unnest(?))"
        params.append(list(experiment_ids))
    sql += f" ORDER BY {', '.join([*order_sql, 'r.start_time DESC', 'r.run_id'])}"
    params.extend(order_params)
    return [row[0] for row in conn.execute(sql, params).fetchall()]


# --------------------------------------------------------------------------- empty input


@pytest.mark.parametrize("empty", [None, "", "   ", "\n\t"])
def test_empty_filter_is_true(conn: duckdb.DuckDBPyConnection, empty: str | None) -> None:
    assert compile_filter(empty) == ("TRUE", [])
    assert search(conn, empty) == ALL


@pytest.mark.parametrize("empty", [None, []])
def test_empty_order_by(empty: list[str] | None) -> None:
    assert compile_order_by(empty) == ([], [])


# --------------------------------------------------------------------------- metrics

METRIC_CASES = [
    ("metrics.rmse < 1", ["r1"]),
    ("metrics.rmse <= 1.5", ["r3", "r1"]),
    ("metrics.rmse > 1", ["r5", "r3"]),  # inf matches, NaN does not
    ("metrics.rmse > 0", ["r5", "r3", "r1"]),
    ("metrics.rmse >= 0.5", ["r5", "r3", "r1"]),
    ("metrics.rmse = 0.5", ["r1"]),
    ("metrics.rmse != 0.5", ["r5", "r3", "r2"]),  # NaN != 0.5; r4 has no rmse
    ("metrics.rmse > 1e308", ["r5"]),
    ("metrics.rmse = 1e999", ["r5"]),  # overflows to inf
    ("metrics.rmse < 0.2", []),  # the deleted run is never returned
    ("metrics.acc = -1", ["r3"]),
    ("metrics.acc < -0.5", ["r3"]),
    ("metrics.acc > -1e0", ["r5", "r2", "r1"]),
    ("metrics.acc = 9e-1", ["r5", "r1"]),
    ("metrics.acc >= .9", ["r5", "r1"]),
    ("metrics.acc >= +0.9", ["r5", "r1"]),
    ("metrics.acc=0.7", ["r2"]),
    ("  metrics.acc\t<\n0  ", ["r3"]),
    ("metric.rmse < 1", ["r1"]),
    ("metrics.`val.rmse` < 0.45", ["r1"]),
    ('metrics."val.rmse" < 0.45', ["r1"]),
    ("metrics.val.rmse < 0.45", ["r1"]),
    ("metrics.'loss rate' = 2", ["r1"]),
    ("metrics.`loss rate` = 2.0", ["r1"]),
    ("metrics.rmse IS NULL", ["r4"]),
    ("metrics.rmse is not null", ["r5", "r3", "r2", "r1"]),
    ("metrics.nope > -1e300", []),
    ("metrics.nope != 1", []),
]


@pytest.mark.parametrize(("filter_string", "expected"), METRIC_CASES)
def test_metric_filters(
    conn: duckdb.DuckDBPyConnection, filter_string: str, expected: list[str]
) -> None:
    assert search(conn, filter_string) == expected


# --------------------------------------------------------------------------- params

PARAM_CASES = [
    ("params.alpha = '0.1'", ["r3", "r1"]),
    ('params.alpha = "0.1"', ["r3", "r1"]),
    ("params.alpha != '0.1'", ["r4", "r2"]),  # r5 has no alpha: != does not match
    ("param.alpha = '10'", ["r4"]),
    ("parameter.alpha = '10'", ["r4"]),
    ("parameters.alpha = '10'", ["r4"]),
    ("params.model = 'linear'", ["r4"]),  # = is case-sensitive
    ("params.model LIKE 'Lin%'", ["r3"]),
    ("params.model like 'lin%'", ["r4"]),
    ("params.model ILIKE 'lin%'", ["r4", "r3"]),
    ("params.model LIKE '%i_e%'", ["r4", "r3"]),
    ("params.model = 'It''s'", ["r1"]),
    ("params.model = 'It\\'s'", ["r1"]),
    ('params.model = "It\'s"', ["r1"]),
    ("params.model = 'say \"hi\"'", ["r2"]),
    ('params.model = "say \\"hi\\""', ["r2"]),
    ('params.model = "say ""hi"""', ["r2"]),
    ("params.path = 'C:\\\\tmp\\\\a'", ["r1"]),  # escaped backslashes
    ("params.path = 'C:\\tmp\\a'", ["r1"]),  # a lone backslash stays literal
    ("params.`my param` = 'x y'", ["r1"]),
    ("params.\"my param\" = 'x y'", ["r1"]),
    ("params.'my param' LIKE 'x%'", ["r1"]),
    ("params.alpha IN ('0.2', '10')", ["r4", "r2"]),
    ("params.alpha in ('0.2',\"10\",'nope')", ["r4", "r2"]),
    ("params.alpha NOT IN ('0.1')", ["r4", "r2"]),
    ("params.alpha IS NULL", ["r5"]),
    ("params.alpha IS NOT NULL", ["r4", "r3", "r2", "r1"]),
    ("params.nope = ''", []),
]


@pytest.mark.parametrize(("filter_string", "expected"), PARAM_CASES)
def test_param_filters(
    conn: duckdb.DuckDBPyConnection, filter_string: str, expected: list[str]
) -> None:
    assert search(conn, filter_string) == expected


# --------------------------------------------------------------------------- tags

TAG_CASES = [
    ("tags.team = 'ml'", ["r1"]),
    ("tags.team ILIKE 'ml'", ["r2", "r1"]),
    ("tags.team LIKE 'ml%'", ["r5", "r1"]),
    ("tags.team LIKE 'm_'", ["r1"]),
    ("tag.team != 'ml'", ["r5", "r4", "r2"]),  # r3 has no tags at all
    ("tags.mlflow.runName = 'alpha'", ["r1"]),
    ("tags.`mlflow.runName` LIKE '%a'", ["r2", "r1"]),
    ("tags.note = 'Ünïcødé ✓'", ["r1"]),
    ("tags.note LIKE '日本%'", ["r4"]),
    ("tags.`key with space` = 'v'", ["r4"]),
    ("tags.team IS NULL", ["r3"]),
    ("tags.note IS NOT NULL", ["r4", "r1"]),
    ("tags.team IN ('ml', 'data')", ["r4", "r1"]),
    ("tags.team NOT IN ('ml')", ["r5", "r4", "r2"]),
]


@pytest.mark.parametrize(("filter_string", "expected"), TAG_CASES)
def test_tag_filters(
    conn: duckdb.DuckDBPyConnection, filter_string: str, expected: list[str]
) -> None:
    assert search(conn, filter_string) == expected


# --------------------------------------------------------------------------- attributes

ATTRIBUTE_CASES = [
    ("status = 'FINISHED'", ["r4", "r1"]),
    ("attributes.status != 'FINISHED'", ["r5", "r3", "r2"]),
    ("attribute.status = 'FAILED'", ["r2"]),
    ("attr.status = 'FAILED'", ["r2"]),
    ("run.status = 'FAILED'", ["r2"]),
    ("status IN ('RUNNING', 'KILLED')", ["r5", "r3"]),
    ("attributes.run_name = 'Δelta'", ["r4"]),
    ("run_name LIKE '%a'", ["r4", "r3", "r2", "r1"]),
    ("run_name ILIKE 'ALPHA'", ["r1"]),
    ("run_name != 'alpha'", ["r4", "r3", "r2"]),  # r5 has no name
    ("attributes.`Run name` = 'beta'", ["r2"]),
    ("attributes.\"run name\" = 'beta'", ["r2"]),
    ("run_name IS NULL", ["r5"]),
    ("end_time IS NULL", ["r3"]),
    ("end_time IS NOT NULL", ["r5", "r4", "r2", "r1"]),
    ("run_id = 'r2'", ["r2"]),
    ("attributes.run_id IN ('r1', 'r3', 'nope')", ["r3", "r1"]),
    ("run_id NOT IN ('r1', 'r2')", ["r5", "r4", "r3"]),
    ("run_id IN ('rd')", []),
    ("start_time > 2000", ["r5", "r4", "r3"]),
    ("start_time >= 2000", ["r5", "r4", "r3", "r2"]),
    ("start_time > 1.5e3", ["r5", "r4", "r3", "r2"]),
    ("start_time != 3000", ["r5", "r4", "r2", "r1"]),
    ("created < 2500", ["r2", "r1"]),
    ("attributes.Created = 1000", ["r1"]),
    ("end_time <= 3000", ["r2", "r1"]),
    ("start_time < 99999999999999999999999", ALL),
    ("user_id = 'alice'", ["r3", "r1"]),
    ("user_id ILIKE 'carol'", ["r4"]),
    ("artifact_uri LIKE 'file://%'", ["r4", "r3", "r1"]),
    ("lifecycle_stage = 'active'", ALL),
]


@pytest.mark.parametrize(("filter_string", "expected"), ATTRIBUTE_CASES)
def test_attribute_filters(
    conn: duckdb.DuckDBPyConnection, filter_string: str, expected: list[str]
) -> None:
    assert search(conn, filter_string) == expected


# --------------------------------------------------------------------------- AND / OR / ()

BOOLEAN_CASES = [
    ("metrics.rmse < 1 AND params.alpha = '0.1'", ["r1"]),
    ("metrics.rmse < 1 and params.alpha = '0.2'", []),
    ("metrics.acc > 0 AND metrics.acc < 1 AND status = 'FINISHED'", ["r1"]),
    ("params.alpha = '0.2' OR tags.team = 'data'", ["r4", "r2"]),
    ("params.alpha = '0.2' or tags.team = 'data' or run_id = 'r5'", ["r5", "r4", "r2"]),
    # AND binds tighter than OR
    ("status = 'FINISHED' OR status = 'FAILED' AND user_id = 'bob'", ["r4", "r2", "r1"]),
    ("status = 'FAILED' AND user_id = 'bob' OR status = 'FINISHED'", ["r4", "r2", "r1"]),
    ("(status = 'FINISHED' OR status = 'FAILED') AND user_id = 'alice'", ["r1"]),
    ("((params.alpha = '0.1'))", ["r3", "r1"]),
    ("user_id = 'alice' AND (metrics.rmse > 1 OR tags.team = 'ml')", ["r3", "r1"]),
    ("(metrics.rmse IS NULL OR metrics.rmse != metrics.rmse) AND run_id != 'x'", None),
    ("(tags.team IS NULL)and(params.alpha='0.1')", ["r3"]),
]


@pytest.mark.parametrize(("filter_string", "expected"), BOOLEAN_CASES)
def test_boolean_combinations(
    conn: duckdb.DuckDBPyConnection, filter_string: str, expected: list[str] | None
) -> None:
    if expected is None:  # comparing two fields is not part of the grammar
        with pytest.raises(FilterSyntaxError):
            compile_filter(filter_string)
    else:
        assert search(conn, filter_string) == expected


def test_parameters_interleave_with_experiment_ids(conn: duckdb.DuckDBPyConnection) -> None:
    got = search(
        conn,
        "params.alpha IN ('0.1', '0.2', '10') AND metrics.acc > -5",
        order_by=["metrics.acc ASC", "params.model DESC"],
        experiment_ids=["0", "1"],
    )
    assert got == ["r3", "r2", "r1"]
    assert search(conn, "params.alpha = '0.1'", ["tags.team"], experiment_ids=["1"]) == ["r3"]
    assert search(conn, None, ["metrics.rmse"], experiment_ids=[]) == []


# --------------------------------------------------------------------------- order_by

ORDER_CASES = [
    (["metrics.rmse"], ["r1", "r3", "r5", "r2", "r4"]),  # NaN (r2), then missing (r4)
    (["metrics.rmse ASC"], ["r1", "r3", "r5", "r2", "r4"]),
    (["metrics.rmse DESC"], ["r5", "r3", "r1", "r2", "r4"]),
    (["metrics.rmse desc"], ["r5", "r3", "r1", "r2", "r4"]),
    (["metric.rmse DESC"], ["r5", "r3", "r1", "r2", "r4"]),
    (["metrics.acc DESC"], ["r5", "r1", "r2", "r3", "r4"]),  # tie broken by start_time DESC
    (["metrics.acc DESC", "start_time ASC"], ["r1", "r5", "r2", "r3", "r4"]),
    (["metrics.acc", "metrics.rmse DESC"], ["r3", "r2", "r5", "r1", "r4"]),
    (["metrics.`val.rmse` DESC"], ["r1", "r5", "r4", "r3", "r2"]),
    (['metrics."loss rate"'], ["r1", "r5", "r4", "r3", "r2"]),
    (["params.alpha"], ["r3", "r1", "r2", "r4", "r5"]),  # strings: '0.1' < '0.2' < '10'
    (["params.alpha DESC"], ["r4", "r2", "r3", "r1", "r5"]),
    (["params.alpha DESC", "run_id ASC"], ["r4", "r2", "r1", "r3", "r5"]),
    (["params.`my param` DESC"], ["r1", "r5", "r4", "r3", "r2"]),
    (["tags.team"], ["r2", "r4", "r1", "r5", "r3"]),  # binary collation: 'ML' < 'data'
    (["tags.team DESC"], ["r5", "r1", "r4", "r2", "r3"]),
    (["tags.mlflow.runName DESC"], ["r2", "r1", "r5", "r4", "r3"]),
    (["attributes.start_time DESC"], ["r5", "r4", "r3", "r2", "r1"]),
    (["start_time"], ["r1", "r2", "r3", "r4", "r5"]),
    (["created"], ["r1", "r2", "r3", "r4", "r5"]),
    (["end_time"], ["r1", "r2", "r4", "r5", "r3"]),  # r3 still running: NULL last
    (["end_time DESC"], ["r5", "r4", "r2", "r1", "r3"]),
    (["run_name"], ["r1", "r2", "r3", "r4", "r5"]),
    (["attr.run_name DESC"], ["r4", "r3", "r2", "r1", "r5"]),
    (["status", "run_id DESC"], ["r2", "r4", "r1", "r5", "r3"]),
    (["user_id DESC", "metrics.rmse"], ["r5", "r2", "r1", "r3", "r4"]),
    (["  metrics.rmse   DESC  "], ["r5", "r3", "r1", "r2", "r4"]),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDER_CASES)
def test_order_by(
    conn: duckdb.DuckDBPyConnection, order_by: list[str], expected: list[str]
) -> None:
    assert search(conn, None, order_by) == expected


def test_order_by_with_filter(conn: duckdb.DuckDBPyConnection) -> None:
    got = search(conn, "metrics.rmse IS NOT NULL", ["metrics.rmse DESC"])
    assert got == ["r5", "r3", "r1", "r2"]
    got = search(conn, "params.alpha = '0.1' OR tags.team LIKE 'ml%'", ["tags.team DESC"])
    assert got == ["r5", "r1", "r3"]


ORDER_ERRORS = [
    (["metrics.rmse DESCENDING"], "'DESCENDING'"),
    (["metrics.rmse DESC x"], "'x'"),
    (["foo"], "unknown attribute 'foo'"),
    (["bogus.x"], "unknown entity type 'bogus'"),
    ([""], "end of order_by item"),
    (["params."], "end of order_by item"),
    (["metrics.rmse = 1"], "'='"),
    (["metrics.rmse", "tags.`unterminated"], "unterminated"),
]


@pytest.mark.parametrize(("order_by", "fragment"), ORDER_ERRORS)
def test_order_by_errors(order_by: list[str], fragment: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_order_by(order_by)
    message = str(info.value)
    assert fragment in message
    assert f"Invalid order_by item {order_by[-1]!r}" in message


def test_order_by_rejects_non_strings() -> None:
    with pytest.raises(FilterSyntaxError, match="order_by item 3"):
        compile_order_by([3])  # type: ignore[list-item]
    with pytest.raises(FilterSyntaxError, match="list of strings"):
        compile_order_by("metrics.rmse DESC")  # type: ignore[arg-type]


def test_order_by_unknown_attribute_lists_allowed() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_order_by(["attributes.duration DESC"])
    assert "start_time" in str(info.value) and "run_name" in str(info.value)


# --------------------------------------------------------------------------- errors


def test_error_message_format() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter("metrics.rmse <> 3")
    assert str(info.value).startswith(
        "Invalid filter 'metrics.rmse <> 3': unexpected token '<>' at position 13; "
        "expected one of = != < <= > >="
    )
    assert isinstance(info.value, InvalidArgumentError)


FILTER_ERRORS = [
    # (filter, text expected in the message, position)
    ("metrics.rmse <> 3", "'<>'", 13),
    ("metrics.rmse = 'abc'", "'abc'", 15),
    ("metrics.rmse < nan", "'nan'", 15),
    ("metrics.rmse < 1 AND", "end of filter", 20),
    ("metrics.rmse < 1 metrics.acc > 2", "'metrics.acc'", 17),
    ("(metrics.rmse < 1", "end of filter", 17),
    ("metrics.rmse < 1)", "')'", 16),
    ("metrics.rmse LIKE '%'", "LIKE", 13),
    ("metrics. < 1", "'<'", 9),
    ("metrics. `x` < 1", "'`x`'", 9),
    ("params.x > 3", "'>'", 9),
    ("params.x = 3", "'3'", 11),
    ("params.x == 'a'", "'=='", 9),
    ("params.x = `a`", "'`a`'", 11),
    ("params.x = 'abc", "unterminated", 11),
    ("params.x IN 'a'", "\"'a'\"", 12),
    ("params.x IN ()", "')'", 13),
    ("params.x NOT LIKE 'a'", "'LIKE'", 13),
    ("params.x IS 'a'", "\"'a'\"", 12),
    ("params.x IS NOT 'a'", "\"'a'\"", 16),
    ("run_id IN ('a' 'b')", "\"'b'\"", 15),
    ("run_id IN (1, 2)", "'1'", 11),
    ("status LIKE 3", "'3'", 12),
    ("start_time > 'yesterday'", "\"'yesterday'\"", 13),
    ("end_time LIKE '1%'", "'LIKE'", 9),
    ("foo = 'x'", "unknown attribute 'foo'", 0),
    ("bogus.x = 'a'", "unknown entity type 'bogus'", 0),
    ("Metrics.x < 1", "unknown entity type 'Metrics'", 0),
    ('metrics."" < 1', "empty key", 8),
    ("AND metrics.x < 1", "'AND'", 0),
    ("metrics.x < 1 OR", "end of filter", 16),
    ("'a' = params.x", "\"'a'\"", 0),
    ("metrics.x", "end of filter", 9),
    ("metrics.x <", "end of filter", 11),
    ("()", "')'", 1),
    ("metrics.x < 1; DROP TABLE runs", "'1;'", 12),
    ("metrics.x < 1 ; DROP TABLE runs", "';'", 14),
]


@pytest.mark.parametrize(("filter_string", "fragment", "position"), FILTER_ERRORS)
def test_filter_errors(filter_string: str, fragment: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(filter_string)
    message = str(info.value)
    assert message.startswith(f"Invalid filter {filter_string!r}: ")
    assert fragment in message
    assert f"at position {position}" in message


def test_unknown_attribute_lists_allowed_ones() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter("attributes.duration > 3")
    message = str(info.value)
    for name in ("status", "run_id", "run_name", "start_time", "end_time", "user_id"):
        assert name in message


def test_wrong_value_types_explain_what_is_allowed() -> None:
    with pytest.raises(FilterSyntaxError, match="only be compared with a number"):
        compile_filter("metrics.rmse = 'abc'")
    with pytest.raises(FilterSyntaxError, match="support only = != LIKE ILIKE"):
        compile_filter("params.x > 3")
    with pytest.raises(FilterSyntaxError, match="only be compared with a quoted string"):
        compile_filter("tags.x = 3")


def test_deep_nesting_is_a_syntax_error() -> None:
    with pytest.raises(FilterSyntaxError, match="nested deeper"):
        compile_filter("(" * 500 + "status = 'x'" + ")" * 500)
    assert compile_filter("(" * 20 + "status = 'x'" + ")" * 20)[1] == ["x"]


def test_non_string_filter_is_rejected() -> None:
    with pytest.raises(FilterSyntaxError):
        compile_filter(123)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- SQL hygiene


@pytest.mark.parametrize(
    "filter_string",
    [
        "params.`x'); DROP TABLE runs; --` = 'y'",
        "tags.evil = '\"; DELETE FROM runs; --'",
        "run_id IN ('a'' OR 1=1 --', 'b')",
        "metrics.`m$1` > 1e3 OR params.\"$name\" LIKE '%?%'",
    ],
)
def test_user_text_only_in_params(conn: duckdb.DuckDBPyConnection, filter_string: str) -> None:
    sql, params = compile_filter(filter_string)
    assert "$" not in sql and "--" not in sql and "DROP" not in sql and "DELETE" not in sql
    assert sql.count("?") == len(params)
    search(conn, filter_string)
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == (len(RUNS),)


def test_order_by_keys_only_in_params() -> None:
    items, params = compile_order_by(["params.`a'); --` DESC", "metrics.`$x`"])
    assert "--" not in " ".join(items) and "$" not in " ".join(items)
    assert sum(item.count("?") for item in items) == len(params)
    assert params == ["a'); --", "$x", "$x"]


# --------------------------------------------------------------------------- properties

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=30,
)


def quote(text: str, quote_char: str, doubled: bool) -> str:
    """A literal for ``text``: backslash-escaped, or with the quote character doubled."""
    text = text.replace("\\", "\\\\")
    escaped = quote_char * 2 if doubled else "\\" + quote_char
    return quote_char + text.replace(quote_char, escaped) + quote_char


@pytest.fixture(scope="module")
def roundtrip_conn() -> Iterator[duckdb.DuckDBPyConnection]:
    runs = [(f"run{i}", "0", None, "FINISHED", i, i, "u", "a", "active") for i in range(4)]
    connection = make_db(runs, [], [], [])
    yield connection
    connection.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=TEXT,
    key=TEXT.filter(bool),
    quote_char=st.sampled_from(["'", '"']),
    key_quote=st.sampled_from(["`", '"', "'"]),
    doubled=st.booleans(),
)
def test_quoted_values_and_keys_roundtrip(
    roundtrip_conn: duckdb.DuckDBPyConnection,
    value: str,
    key: str,
    quote_char: str,
    key_quote: str,
    doubled: bool,
) -> None:
    conn = roundtrip_conn
    conn.execute("DELETE FROM params")
    rows = [
        ("run0", key, value),  # the target
        ("run1", key, value + "z"),
        ("run2", key, "z" + value),
        ("run3", key + "k", value),
    ]
    conn.executemany("INSERT INTO params VALUES (?, ?, ?)", rows)
    literal = quote(value, quote_char, doubled)
    filter_string = f"params.{quote(key, key_quote, doubled)} = {literal}"
    assert search(conn, filter_string) == ["run0"]
    other_key = quote(key + "kk", key_quote, doubled)
    assert search(conn, f"params.{other_key} = {literal}") == []
    assert search(conn, f"params.{quote(key, key_quote, doubled)} IN ({literal})") == ["run0"]


GARBAGE_TOKENS = [
    "metrics.rmse", "params.alpha", "tags.team", "status", "start_time", "metrics.", "params.",
    "=", "!=", "<", "<=", ">", ">=", "<>", "==", "!", "LIKE", "ILIKE", "IN", "NOT", "IS",
    "NULL", "AND", "OR", "ASC", "DESC", "(", ")", ",", "'a'", '"b"', "`k`", "'", '"', "`",
    "\\", ".", "3", "-1e5", ".5", "1e999", "nan", "?", "$1", ";", "--",
]  # fmt: skip
GARBAGE = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(GARBAGE_TOKENS), max_size=12).map(" ".join),
    st.lists(st.sampled_from(GARBAGE_TOKENS), max_size=12).map("".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filter_string=GARBAGE)
def test_garbage_filters_raise_only_filter_syntax_error(
    conn: duckdb.DuckDBPyConnection, filter_string: str
) -> None:
    try:
        compile_filter(filter_string)
    except FilterSyntaxError as error:
        assert repr(filter_string) in str(error)
        return
    search(conn, filter_string)  # whatever compiles must also run


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(GARBAGE, min_size=1, max_size=3))
def test_garbage_order_by_raises_only_filter_syntax_error(
    conn: duckdb.DuckDBPyConnection, items: list[str]
) -> None:
    try:
        compile_order_by(items)
    except FilterSyntaxError:
        return
    assert sorted(search(conn, None, items)) == sorted(ALL)
