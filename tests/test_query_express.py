"""Express searches (#16): a new process's first ``search_runs`` answered from the Arrow file
written beside the query snapshot, without DuckDB, must return exactly what the DuckDB path
returns, and must leave to DuckDB every store it cannot answer for."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests import test_filter as corpus
from tracker.client import TrackerClient
from tracker.entities import ViewType
from tracker.exceptions import FilterSyntaxError, InvalidArgumentError
from tracker.query import StoreQuery, express, reads, wide
from tracker.query.filter import parse_filter, parse_order_by
from tracker.simple_filter import like_regex

# -- the evaluator against the filter corpus of test_filter.py ---------------------------------


def _express_table(conn: duckdb.DuckDBPyConnection) -> tuple[Any, tuple[tuple[str, str], ...]]:
    """The rows an express file of ``conn``'s tables holds, and its wide columns."""
    built = wide.build(None, execute=conn.execute)  # type: ignore[arg-type]
    assert built is not None
    return conn.sql(express.EXPORT).to_arrow_table(), built.columns


@pytest.fixture(scope="module")
def corpus_table() -> Iterator[tuple[duckdb.DuckDBPyConnection, Any, Any]]:
    conn = corpus.make_db(corpus.RUNS, corpus.METRICS, corpus.PARAMS, corpus.TAGS)
    table, columns = _express_table(conn)
    yield conn, table, columns
    conn.close()


def _ids(table: Any, columns: Any, filter_string: str | None = None,
         order_by: list[str] | None = None, experiment_ids: list[str] | None = None,
         view: int = ViewType.ACTIVE_ONLY, max_results: int | None = None) -> list[str]:
    frame = express.answer(table, columns, parse_filter(filter_string), parse_order_by(order_by),
                           experiment_ids, view, max_results)
    return list(frame["run_id"]) if len(frame) else []


CASES = [
    *corpus.METRIC_CASES, *corpus.PARAM_CASES, *corpus.TAG_CASES, *corpus.ATTRIBUTE_CASES,
    *[(f, expected) for f, expected in corpus.BOOLEAN_CASES if expected is not None],
]


@pytest.mark.parametrize(("filter_string", "expected"), CASES)
def test_every_filter_of_the_corpus_keeps_the_runs_duckdb_keeps(
    corpus_table: tuple[duckdb.DuckDBPyConnection, Any, Any], filter_string: str,
    expected: list[str],
) -> None:
    conn, table, columns = corpus_table
    try:
        got = _ids(table, columns, filter_string)
    except express._Decline:  # only ILIKE over text past ASCII is left to DuckDB
        assert "ILIKE" in filter_string.upper() and not all(
            str(run[2]).isascii() and str(run[6]).isascii() for run in corpus.RUNS)
        return
    assert got == expected == corpus.search(conn, filter_string)


@pytest.mark.parametrize(("order_by", "expected"), corpus.ORDER_CASES)
def test_every_order_of_the_corpus_sorts_as_duckdb_sorts(
    corpus_table: tuple[duckdb.DuckDBPyConnection, Any, Any], order_by: list[str],
    expected: list[str],
) -> None:
    conn, table, columns = corpus_table
    assert _ids(table, columns, None, order_by) == expected == corpus.search(conn, None, order_by)


def test_experiments_views_and_limits(
    corpus_table: tuple[duckdb.DuckDBPyConnection, Any, Any],
) -> None:
    _, table, columns = corpus_table
    got = _ids(table, columns, "params.alpha IN ('0.1', '0.2', '10') AND metrics.acc > -5",
               ["metrics.acc ASC", "params.model DESC"], experiment_ids=["0", "1"])
    assert got == ["r3", "r2", "r1"]
    assert _ids(table, columns, "params.alpha = '0.1'", ["tags.team"], ["1"]) == ["r3"]
    assert _ids(table, columns, None, ["metrics.rmse"], experiment_ids=[]) == []
    assert _ids(table, columns, view=ViewType.DELETED_ONLY) == ["rd"]
    assert _ids(table, columns, view=ViewType.ALL) == ["rd", *corpus.ALL]
    assert _ids(table, columns, max_results=2) == corpus.ALL[:2]
    assert _ids(table, columns, max_results=0) == []


def test_like_patterns_are_duckdbs() -> None:
    """No escape character; ``_`` one character, a newline or a letter past ASCII too."""
    conn = duckdb.connect()
    texts = ["a_b", "axb", "a\nb", "aéb", "a\\b", "a%b", "A_B", "(a)b", "a.b", "ab", "", "a+b"]
    patterns = ["a_b", "a%b", "a\\b", "a\\_b", "(a)%", "a.b", "%", "_", "", "a+b", "A%", "%b"]
    for pattern in patterns:
        regex = like_regex(pattern)
        import pyarrow as pa
        import pyarrow.compute as pc

        for ignore_case in (False, True):
            ours = pc.match_substring_regex(pa.array(texts), pattern=regex,
                                            ignore_case=ignore_case).to_pylist()
            op = "ILIKE" if ignore_case else "LIKE"
            theirs = [conn.execute(f"SELECT ? {op} ?", [text, pattern]).fetchone()[0]
                      for text in texts]
            if ignore_case:  # DuckDB's case folding past ASCII is left to DuckDB (declined)
                ours = [o for o, t in zip(ours, texts) if t.isascii()]
                theirs = [o for o, t in zip(theirs, texts) if t.isascii()]
            assert ours == theirs, (pattern, op)


# -- random stores and filters against DuckDB's SQL ----------------------------------------------

_KEYS = ["a", "b", "A"]
_TEXTS = ["", "x", "X", "x_y", "x%", "%", "_", "é", "É", "a\\b", "xy", "yx", "0.1", "10"]
_NUMBERS = [0.0, -0.0, 1.5, -2.0, 1e308, math.nan, math.inf, -math.inf]


def _literal(text: str) -> str:
    return corpus.quote(text, "'", doubled=False)


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["metrics", "params", "tags", "attr", "time"]))
    if kind == "metrics":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IS NULL", "IS NOT NULL"]))
        field = f"metrics.{draw(st.sampled_from(_KEYS))}"
        if "NULL" in op:
            return f"{field} {op}"
        value = draw(st.sampled_from(["0", "-0.0", "1.5", "-2", "1e308", "1e999", "-1e999"]))
        return f"{field} {op} {value}"
    if kind == "time":
        field = draw(st.sampled_from(["start_time", "end_time"]))
        op = draw(st.sampled_from(["=", "!=", "<", ">=", "IS NULL", "IS NOT NULL"]))
        if "NULL" in op:
            return f"{field} {op}"
        return f"{field} {op} {draw(st.sampled_from(['1', '2', '2.5', '-1']))}"
    field = (f"{kind}.{draw(st.sampled_from(_KEYS))}" if kind != "attr"
             else draw(st.sampled_from(["run_name", "user_id", "status", "run_id"])))
    op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL",
                               "IS NOT NULL"]))
    if "NULL" in op:
        return f"{field} {op}"
    if op in ("IN", "NOT IN"):
        values = draw(st.lists(st.sampled_from(_TEXTS), min_size=1, max_size=3))
        return f"{field} {op} ({', '.join(_literal(v) for v in values)})"
    return f"{field} {op} {_literal(draw(st.sampled_from(_TEXTS)))}"


_FILTERS = st.recursive(
    _comparison(),
    lambda inner: st.builds(
        lambda op, items: "(" + f" {op} ".join(items) + ")",
        st.sampled_from(["AND", "OR"]), st.lists(inner, min_size=2, max_size=3)),
    max_leaves=5,
)
_ORDERS = st.lists(
    st.builds(lambda field, way: f"{field} {way}",
              st.sampled_from([*(f"{k}.{key}" for k in ("metrics", "params", "tags")
                                 for key in _KEYS), "start_time", "end_time", "run_name",
                               "status"]),
              st.sampled_from(["ASC", "DESC", ""])),
    max_size=3,
)


@st.composite
def _store(draw: st.DrawFn) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    runs, metrics, params, tags = [], [], [], []
    for i in range(draw(st.integers(1, 7))):
        run = f"r{i}"
        end = draw(st.sampled_from([None, 1, 2, 3]))
        runs.append((run, draw(st.sampled_from(["0", "1"])),
                     draw(st.sampled_from([None, *_TEXTS])), draw(st.sampled_from(
                         ["FINISHED", "FAILED", "KILLED"])), draw(st.sampled_from([1, 2, 3])),
                     end, draw(st.sampled_from([None, "u", "U"])), "file:///a",
                     draw(st.sampled_from(["active", "active", "deleted"]))))
        for key in draw(st.sets(st.sampled_from(_KEYS))):
            metrics.append((run, key, draw(st.sampled_from(_NUMBERS))))
        for key in draw(st.sets(st.sampled_from(_KEYS))):
            params.append((run, key, draw(st.sampled_from(_TEXTS))))
        for key in draw(st.sets(st.sampled_from(_KEYS))):
            tags.append((run, key, draw(st.sampled_from(_TEXTS))))
    return runs, metrics, params, tags


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store=_store(), filter_string=_FILTERS, order_by=_ORDERS)
def test_random_filters_on_random_stores_keep_and_sort_as_duckdb(
    store: tuple[list[Any], list[Any], list[Any], list[Any]], filter_string: str,
    order_by: list[str],
) -> None:
    conn = corpus.make_db(*store)
    try:
        table, columns = _express_table(conn)
        try:
            got = _ids(table, columns, filter_string, order_by)
        except express._Decline:  # ILIKE over text past ASCII
            assume(False)
        assert got == corpus.search(conn, filter_string, order_by), (filter_string, order_by)
    finally:
        conn.close()


# -- end to end: a store, its snapshot and express file, a new process's search ----------------


@pytest.fixture
def cache(always_snapshot: Path) -> Path:
    """Snapshots and express files in a folder of this test, saved after every load."""
    return always_snapshot


def _hostile_store(uri: str) -> list[str]:
    """Two experiments of runs whose values test every corner: NaN and infinite metrics, keys
    differing only in case, quotes, backslashes, LIKE wildcards, text past ASCII, markup, equal
    start times, a nested run, a deleted run."""
    client = TrackerClient(uri)
    first, second = client.create_experiment("one"), client.create_experiment("two")
    values = [0.25, math.nan, math.inf, -math.inf, -0.0, 0.25, 1e-300]
    texts = ["x", "It's", 'say "hi"', "C:\\tmp", "50%_off", "Ünïcødé", "<script>x</script>"]
    for i, (value, text) in enumerate(zip(values, texts)):
        run = client.create_run(first if i % 3 else second, run_name=f"run {text}",
                                start_time=1_000 + i // 2).info.run_id
        client.log_metric(run, "loss", value, timestamp=2_000, step=0)
        if i % 2:
            client.log_metric(run, "Loss", float(i), timestamp=2_000, step=0)
        client.log_param(run, "p", text)
        client.log_param(run, "n", str(i))
        client.set_tag(run, "note", text.upper())
        if i == 4:
            client.set_tag(run, "mlflow.parentRunId", client.search_runs([first])[0].info.run_id)
        client.set_terminated(run, status="FAILED" if i == 3 else "FINISHED", end_time=3_000 + i)
        if i == 6:
            client.delete_run(run)
    client.flush()
    return [str(first), str(second)]


SEARCHES: list[tuple[str | None, list[str] | None, int, int | None]] = [
    (None, None, ViewType.ACTIVE_ONLY, None),
    ("metrics.loss < 1", ["metrics.loss DESC"], ViewType.ACTIVE_ONLY, None),
    ("metrics.loss != 0.25", ["metrics.Loss"], ViewType.ALL, None),
    ("metrics.Loss >= 3 OR params.p LIKE '%\\_%'", None, ViewType.ACTIVE_ONLY, None),
    ("params.p = 'It''s' OR params.p = 'C:\\\\tmp'", None, ViewType.ACTIVE_ONLY, None),
    ("params.p LIKE '50%' AND run_id ILIKE '%'", None, ViewType.ACTIVE_ONLY, None),
    ("tags.note IN ('X', 'ÜNÏCØDÉ') OR run_name LIKE 'run <%'", ["run_name DESC"],
     ViewType.ACTIVE_ONLY, None),
    ("tags.mlflow.parentRunId IS NOT NULL", None, ViewType.ACTIVE_ONLY, None),
    ("status = 'FAILED' OR end_time > 3004", ["end_time ASC"], ViewType.ALL, 2),
    ("params.n NOT IN ('0', '1')", ["params.n DESC", "start_time"], ViewType.ALL, 3),
    ("metrics.nope IS NULL", ["tags.note"], ViewType.DELETED_ONLY, None),
    ("params.p = 'nobody'", None, ViewType.ACTIVE_ONLY, None),
    (None, ["metrics.loss", "metrics.Loss DESC"], ViewType.ALL, 0),
]


def _duckdb_frame(uri: str, experiment_ids: list[str] | None, filter_string: str | None,
                  order_by: list[str] | None, view: int, max_results: int | None
                  ) -> pd.DataFrame:
    query = StoreQuery(TrackerClient(uri).store, snapshots=False)
    found = reads.search_runs(query, experiment_ids, filter_string, view, max_results, order_by)
    return reads.runs_dataframe(query, found)


def _express_frame(uri: str, experiment_ids: list[str] | None, filter_string: str | None,
                   order_by: list[str] | None = None, view: int = ViewType.ACTIVE_ONLY,
                   max_results: int | None = None) -> pd.DataFrame | None:
    query = StoreQuery(TrackerClient(uri).store)
    frame = express.search(query, experiment_ids, filter_string, view, max_results, order_by)
    assert query.cold  # nothing of DuckDB was started
    return frame


def _snapshot(uri: str) -> None:
    """What a first process does: load the store with DuckDB and save its snapshot."""
    query = StoreQuery(TrackerClient(uri).store)
    reads.search_runs(query, None)
    assert query.wait_for_snapshot(30)


@pytest.mark.parametrize(("filter_string", "order_by", "view", "max_results"), SEARCHES)
def test_the_express_frame_equals_duckdbs(
    tmp_path: Path, cache: Path, filter_string: str | None, order_by: list[str] | None,
    view: int, max_results: int | None,
) -> None:
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    for ids in (experiments, experiments[:1], None, []):
        got = _express_frame(uri, ids, filter_string, order_by, view, max_results)
        assert got is not None
        want = _duckdb_frame(uri, ids, filter_string, order_by, view, max_results)
        pd.testing.assert_frame_equal(got, want)


def test_markup_in_the_store_is_data(tmp_path: Path, cache: Path) -> None:
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    frame = _express_frame(uri, experiments, "params.p = '<script>x</script>'",
                           view=ViewType.ALL)  # that run is the deleted one
    assert frame is not None
    assert list(frame["tags.note"]) == ["<SCRIPT>X</SCRIPT>"]
    assert list(frame["tags.mlflow.runName"]) == ["run <script>x</script>"]


def test_bad_arguments_raise_as_the_duckdb_path_does(tmp_path: Path, cache: Path) -> None:
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    query = StoreQuery(TrackerClient(uri).store)
    with pytest.raises(FilterSyntaxError, match="unknown attribute 'nope'"):
        express.search(query, experiments, "nope = 1", ViewType.ACTIVE_ONLY, None, None)
    with pytest.raises(FilterSyntaxError, match="did you mean"):
        express.search(query, experiments, None, ViewType.ACTIVE_ONLY, None, "start_time")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="max_results must be a non-negative integer"):
        express.search(query, experiments, None, ViewType.ACTIVE_ONLY, -1, None)
    with pytest.raises(InvalidArgumentError, match="run_view_type"):
        express.search(query, experiments, None, 7, None, None)


def _file(cache: Path) -> Path:
    (found,) = cache.glob("query/*.express-*.arrow")
    return found


def test_a_store_changed_since_is_left_to_duckdb(tmp_path: Path, cache: Path) -> None:
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    assert _express_frame(uri, experiments, None) is not None
    client = TrackerClient(uri)
    run = client.create_run(experiments[0], run_name="late").info.run_id
    client.set_terminated(run)
    client.flush()
    assert _express_frame(uri, experiments, None) is None
    # The search a user makes takes the DuckDB path and finds the new run; that process
    # brings the express file up to date (in the background, waited for at exit).
    client = TrackerClient(uri)
    frame = client.search_runs_frame(experiments, "run_name = 'late'")
    assert list(frame["run_id"]) == [run]
    assert client.query.wait_for_snapshot(30)
    again = _express_frame(uri, experiments, "run_name = 'late'")
    assert again is not None and list(again["run_id"]) == [run]
    assert len(list(cache.glob("query/*.express-*"))) == 1  # the old state's file removed


def test_a_compaction_since_is_left_to_duckdb(tmp_path: Path, cache: Path) -> None:
    from tracker.store.compact import compact

    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    before = _express_frame(uri, experiments, None)
    compact(TrackerClient(uri).store, min_runs=1)
    assert _express_frame(uri, experiments, None) is None
    _snapshot(uri)
    after = _express_frame(uri, experiments, None)
    assert before is not None and after is not None
    pd.testing.assert_frame_equal(before, after)


_CRASH = """
import os, sys
from tracker.client import TrackerClient
client = TrackerClient(sys.argv[1])
run = client.create_run(sys.argv[2], run_name="crashed").info.run_id
client.log_metric(run, "loss", 0.5)
client.flush()
os._exit(0)  # no end_run: the run stays RUNNING, its process gone
"""


def test_running_runs_alive_or_dead_are_answered_as_duckdb_answers(
    tmp_path: Path, cache: Path,
) -> None:
    """A RUNNING run whose process died is flagged ``dead`` at query time, a flag neither a
    filter nor the DataFrame reads: the express file holds RUNNING runs as they are."""
    import subprocess
    import sys

    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    client = TrackerClient(uri)
    client.create_run(experiments[0], run_name="still going")  # this process: alive
    client.flush()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", _CRASH, uri, experiments[0]], env=env, check=True)
    assert len(TrackerClient(uri).dead_run_ids()) == 1
    _snapshot(uri)
    for filter_string in (None, "status = 'RUNNING'", "metrics.loss = 0.5"):
        got = _express_frame(uri, experiments, filter_string)
        want = _duckdb_frame(uri, experiments, filter_string, None, ViewType.ACTIVE_ONLY, None)
        assert got is not None
        pd.testing.assert_frame_equal(got, want)
    running = _express_frame(uri, experiments, "status = 'RUNNING'")
    assert running is not None
    assert sorted(running["tags.mlflow.runName"]) == ["crashed", "still going"]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other format"])
def test_a_damaged_or_foreign_file_is_only_a_miss(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, damage: str,
) -> None:
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    path = _file(cache)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        monkeypatch.setattr(express, "FORMAT", express.FORMAT + 1)
    assert _express_frame(uri, experiments, None) is None
    frame = TrackerClient(uri).search_runs_frame(experiments, "params.n = '1'")
    assert len(frame) == 1


def test_a_snapshot_without_an_express_file_gets_one(tmp_path: Path, cache: Path) -> None:
    """A snapshot saved by a tracker that wrote none: the next process writes it."""
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    _file(cache).unlink()
    assert _express_frame(uri, experiments, None) is None
    _snapshot(uri)  # restored as it is: nothing to save but the express file
    assert _express_frame(uri, experiments, None) is not None


def test_without_snapshots_there_is_no_express_search(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
    assert _express_frame(uri, experiments, None) is None


def test_ilike_past_ascii_is_left_to_duckdb(tmp_path: Path, cache: Path) -> None:
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    assert _express_frame(uri, experiments, "tags.note ILIKE 'ünï%'") is None
    assert _express_frame(uri, experiments, "params.n ILIKE '1'") is not None
    frame = TrackerClient(uri).search_runs_frame(experiments, "tags.note ILIKE 'ünï%'")
    assert list(frame["params.p"]) == ["Ünïcødé"]


def test_bringing_the_file_up_to_date_leaves_duckdbs_threads_as_they_were(
    tmp_path: Path, cache: Path,
) -> None:
    """The background write builds ``runs_wide`` on one DuckDB thread, a setting of the whole
    database: the process's later queries get their threads back."""
    uri = str(tmp_path / "store")
    experiments = _hostile_store(uri)
    _snapshot(uri)
    query = StoreQuery(TrackerClient(uri).store)
    threads = query.sql("SELECT current_setting('threads') AS t")["t"][0]
    client = TrackerClient(uri)
    client.set_terminated(client.create_run(experiments[0], run_name="late").info.run_id)
    client.flush()
    reads.search_runs(query, experiments)  # applies the new run; the file follows in the back
    assert query.wait_for_snapshot(30)
    assert _express_frame(uri, experiments, "run_name = 'late'") is not None  # it was rebuilt
    assert query.sql("SELECT current_setting('threads') AS t")["t"][0] == threads
