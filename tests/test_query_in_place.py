"""A big first load read in place (#16, ``tracker.query.in_place``): ``records`` a view over the
store's files and ``params``/``tags``/``latest_metrics`` views of their fold until the background
snapshot save copies them; every table, the search DataFrame and the saved snapshot are those
of a load into tables, and a change of the store meanwhile is applied as before."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tracker.query as query_module
from tracker.client import TrackerClient
from tracker.query import StoreQuery, reads, snapshot
from tracker.store.compact import compact

TABLES = ("runs", "params", "tags", "latest_metrics", "metrics", "experiments", "artifacts",
          "records")


def _log(uri: str, names: list[str], experiment: str = "in-place") -> str:
    client = TrackerClient(uri)
    found = client.get_experiment_by_name(experiment)
    eid = found.experiment_id if found else client.create_experiment(experiment)
    for i, name in enumerate(names):
        run_id = client.create_run(eid, run_name=name).info.run_id
        client.log_param(run_id, "p", str(i % 2))
        client.log_param(run_id, "q", f"it's {i}")
        client.log_metric(run_id, "m", i / 10, step=0)
        client.log_metric(run_id, "m", i / 5, step=3)  # the latest of two points
        client.log_metric(run_id, "loss", 1 - i / 10)
        client.set_tag(run_id, "t", "keep")
        client.set_tag(run_id, "gone", "x")
        client.delete_tag(run_id, "gone")
        client.set_terminated(run_id)
    client.flush()
    return str(eid)


def _tables(query: StoreQuery) -> dict[str, list[tuple[object, ...]]]:
    return {t: sorted(tuple(map(str, row)) for row in
                      query.sql(f"SELECT * FROM {t}").astype(object).values.tolist())
            for t in TABLES}


def _frame(query: StoreQuery, eid: str) -> pd.DataFrame:
    return reads.runs_dataframe(query, reads.search_runs(query, [eid], "metrics.m >= 0.4"))


def _kinds(query: StoreQuery) -> dict[str, str]:
    """Table or view, for the tables read in place."""
    rows = query.con.execute(
        "SELECT table_name, 'table' FROM duckdb_tables() WHERE schema_name = 'main' "
        "UNION ALL SELECT view_name, 'view' FROM duckdb_views() WHERE schema_name = 'main' "
        "AND NOT internal").fetchall()
    return {name: kind for name, kind in rows
            if name in ("records", "params", "tags", "latest_metrics")}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A part holding 6 runs (one deleted) and two loose runs beside it; snapshots on."""
    monkeypatch.setenv("TRACKER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACKER_QUERY_SNAPSHOTS", raising=False)
    monkeypatch.setattr(snapshot, "MIN_LOAD_SECONDS", 0.0)
    uri = str(tmp_path / "store")
    eid = _log(uri, [f"r{i}" for i in range(6)])
    client = TrackerClient(uri)
    client.delete_run(client.search_runs([eid], "attributes.run_name = 'r1'")[0].info.run_id)
    compact(client.store, min_runs=1)
    _log(uri, ["late0", "late1"])
    return uri, eid


def _expected(uri: str, eid: str) -> tuple[dict[str, list[tuple[object, ...]]], pd.DataFrame]:
    """The tables and DataFrame of a load into tables (small loads are never read in place)."""
    plain = StoreQuery(TrackerClient(uri).store, snapshots=False)
    assert not plain.refresh().reads_in_place()
    return _tables(plain), _frame(plain, eid)


class _HeldSave:
    """Holds background saves before they start, until ``release``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.go = threading.Event()
        wait = snapshot.wait_until_idle

        def held(idle_for: object) -> None:
            self.go.wait(30)
            wait(idle_for)  # type: ignore[arg-type]

        monkeypatch.setattr(snapshot, "wait_until_idle", held)

    def release(self) -> None:
        self.go.set()


def _assert_restored(uri: str, eid: str, frame: Any, tables: Any) -> None:
    """A new query layer restores the snapshot the save wrote, with these tables and frame."""
    restored = StoreQuery(TrackerClient(uri).store)
    pd.testing.assert_frame_equal(_frame(restored, eid), frame)
    assert restored._restored and _tables(restored) == tables


def test_a_big_first_load_reads_the_files_in_place_then_saves_the_same_tables(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, eid = store
    tables, frame = _expected(uri, eid)
    assert len(tables["runs"]) == 8 and len(frame) == 4

    monkeypatch.setattr(query_module, "BIG_LOAD_BYTES", 0)
    held = _HeldSave(monkeypatch)
    traced: list[str] = []
    query = StoreQuery(TrackerClient(uri).store, tracer=traced.append)
    pd.testing.assert_frame_equal(_frame(query, eid), frame)
    assert query.reads_in_place()
    assert not any(sql.startswith("INSERT INTO records") for sql in traced), "nothing copied"
    assert _kinds(query) == {"records": "view", "params": "view", "tags": "view",
                             "latest_metrics": "view"}
    # Any other query naming a lazy table folds them first (each query would fold again).
    assert _tables(query) == tables  # read from the files, the same rows
    assert not query.reads_in_place()
    assert _kinds(query) == {"records": "view", "params": "table", "tags": "table",
                             "latest_metrics": "table"}

    held.release()
    assert query.wait_for_snapshot(60)
    assert _tables(query) == tables
    pd.testing.assert_frame_equal(_frame(query, eid), frame)

    _assert_restored(uri, eid, frame, tables)


def test_runs_logged_while_reading_in_place_are_folded_as_before(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, eid = store
    monkeypatch.setattr(query_module, "BIG_LOAD_BYTES", 0)
    held = _HeldSave(monkeypatch)
    query = StoreQuery(TrackerClient(uri).store)
    assert len(_frame(query, eid)) == 4 and query.reads_in_place()

    _log(uri, ["new"])  # a new file: the records are copied first, then the run folded in
    assert len(_frame(query, eid)) == 4
    assert not query.reads_in_place()
    assert _kinds(query) == dict.fromkeys(("records", "params", "tags", "latest_metrics"),
                                          "table")
    stored = query.sql("SELECT DISTINCT compression FROM pragma_storage_info('records') "
                       "WHERE segment_type = 'VARCHAR'")
    assert set(stored["compression"]) - {"Uncompressed"}, "the records are kept compressed"
    with monkeypatch.context() as m:
        m.setattr(query_module, "BIG_LOAD_BYTES", 1 << 40)
        assert _tables(query) == _expected(uri, eid)[0]
    held.release()
    assert query.wait_for_snapshot(60)


def test_runs_logged_after_the_save_are_folded_as_before(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, eid = store
    monkeypatch.setattr(query_module, "BIG_LOAD_BYTES", 0)
    query = StoreQuery(TrackerClient(uri).store)
    assert len(_frame(query, eid)) == 4
    assert query.wait_for_snapshot(60) and query._in_place is not None
    # The save folded the lazy tables; the records went from the files to the snapshot only.
    assert _kinds(query) == {"records": "view", "params": "table", "tags": "table",
                             "latest_metrics": "table"}
    _log(uri, ["new", "newer", "newest"])  # the third matches
    assert len(_frame(query, eid)) == 5
    assert query._in_place is None
    with monkeypatch.context() as m:
        m.setattr(query_module, "BIG_LOAD_BYTES", 1 << 40)
        assert _tables(query) == _expected(uri, eid)[0]


def test_a_compaction_while_reading_in_place_loads_everything_again(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, eid = store
    monkeypatch.setattr(query_module, "BIG_LOAD_BYTES", 0)
    held = _HeldSave(monkeypatch)
    query = StoreQuery(TrackerClient(uri).store)
    _frame(query, eid)
    before = query._in_place
    assert before is not None

    compact(TrackerClient(uri).store, min_runs=1)  # the loose files are gone, a new part
    expected_tables, expected_frame = _expected(uri, eid)
    pd.testing.assert_frame_equal(_frame(query, eid), expected_frame)
    assert query.reads_in_place() and query._in_place != before  # the new files, in place
    assert _tables(query) == expected_tables
    held.release()
    assert query.wait_for_snapshot(60)
    assert _tables(query) == expected_tables

    # Again after the save folded the lazy tables (tables now, the records still a view).
    _log(uri, ["after0", "after1", "after2"])
    compact(TrackerClient(uri).store, min_runs=1)
    expected_tables, expected_frame = _expected(uri, eid)
    pd.testing.assert_frame_equal(_frame(query, eid), expected_frame)
    assert _tables(query) == expected_tables
    assert query.wait_for_snapshot(60)


def test_a_damaged_file_is_skipped_as_in_a_load_into_tables(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, eid = store
    # Data pages damaged behind an intact footer: found only when the records are read.
    part = next(Path(uri).glob("parts/*/*.parquet"))
    data = bytearray(part.read_bytes())
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    data[footer // 2:footer] = bytes(footer - footer // 2)
    part.write_bytes(bytes(data))
    with monkeypatch.context() as m:
        m.setattr(query_module, "BIG_LOAD_BYTES", 0)
        damaged = StoreQuery(TrackerClient(uri).store)
        got = _frame(damaged, eid)
        assert any(part.name in w for w in damaged.warnings)
        assert not damaged.reads_in_place()  # loaded into the table, which found the bad file
        assert damaged.wait_for_snapshot(60)
    tables, frame = _expected(uri, eid)
    assert len(tables["runs"]) == 2 and len(frame) == 0  # the loose runs only
    pd.testing.assert_frame_equal(got, frame)
    assert _tables(damaged) == tables


def test_only_a_few_big_local_files_without_rules_are_read_in_place(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.query import in_place

    uri, _ = store
    monkeypatch.setattr(query_module, "BIG_LOAD_BYTES", 0)
    monkeypatch.setattr(in_place, "MANY_FILES", 2)  # the store has 3 files of records
    assert not StoreQuery(TrackerClient(uri).store).refresh().reads_in_place()
    monkeypatch.setattr(in_place, "MANY_FILES", 64)
    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")  # nothing would copy them later
    assert not StoreQuery(TrackerClient(uri).store).refresh().reads_in_place()


def test_the_view_quotes_file_names() -> None:
    from tracker.query import in_place

    sql = in_place.view_sql(["/s/it's.parquet"])
    assert "['/s/it''s.parquet']" in sql


# -- a big first load into tables folds the lazy tables later (``StoreQuery._fold_later``) ----


def test_a_first_load_of_many_records_folds_params_tags_and_metrics_after_the_result(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """#16: the records go into the table, ``params``/``tags``/``latest_metrics`` stay views of
    their fold and the search's wide rows are pivoted for its runs only; every table, the
    DataFrame and the snapshot the save writes are those of a load folded at once."""
    uri, eid = store
    tables, frame = _expected(uri, eid)
    monkeypatch.setattr(query_module, "LAZY_FOLD_ROWS", 1)
    held = _HeldSave(monkeypatch)
    traced: list[str] = []
    query = StoreQuery(TrackerClient(uri).store, tracer=traced.append)
    pd.testing.assert_frame_equal(_frame(query, eid), frame)
    assert query.folds_from_table() and query.reads_in_place()
    assert any(sql.startswith("INSERT INTO records") for sql in traced), "loaded into the table"
    assert not any("TABLE runs_wide" in sql or "TABLE params" in sql for sql in traced)
    assert _kinds(query) == {"records": "table", "params": "view", "tags": "view",
                             "latest_metrics": "view"}
    pd.testing.assert_frame_equal(_frame(query, eid), frame)  # a second search: still lazy
    assert query.folds_from_table()
    assert _tables(query) == tables  # another query naming one folds them first
    assert not query.folds_from_table()
    assert _kinds(query) == dict.fromkeys(("records", "params", "tags", "latest_metrics"),
                                          "table")
    held.release()
    assert query.wait_for_snapshot(60)
    _assert_restored(uri, eid, frame, tables)


def test_runs_logged_while_folding_later_and_the_save_give_the_tables_of_a_plain_load(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, eid = store
    monkeypatch.setattr(query_module, "LAZY_FOLD_ROWS", 1)
    held = _HeldSave(monkeypatch)
    query = StoreQuery(TrackerClient(uri).store)
    assert len(_frame(query, eid)) == 4 and query.folds_from_table()
    _log(uri, ["new", "newer", "newest"])  # folded first, then the new runs refolded as before
    assert len(_frame(query, eid)) == 5 and not query.folds_from_table()
    expected_tables, expected_frame = _expected(uri, eid)
    assert _tables(query) == expected_tables
    pd.testing.assert_frame_equal(_frame(query, eid), expected_frame)
    held.release()
    assert query.wait_for_snapshot(60)
    # The save after the first load was dropped (the tables changed); a compaction now loads
    # everything again, folded later once more.
    compact(TrackerClient(uri).store, min_runs=1)
    pd.testing.assert_frame_equal(_frame(query, eid), expected_frame)
    assert query.wait_for_snapshot(60)
    assert _tables(query) == _expected(uri, eid)[0]  # the records name the part now


def test_small_or_unsaved_first_loads_fold_at_once(
    store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, eid = store
    assert not StoreQuery(TrackerClient(uri).store).refresh().folds_from_table()  # 8 runs
    monkeypatch.setattr(query_module, "LAZY_FOLD_ROWS", 1)
    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")  # nothing would fold them later
    assert not StoreQuery(TrackerClient(uri).store).refresh().folds_from_table()
