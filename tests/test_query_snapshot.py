"""Query snapshots (#2): a process's first query restores the tables a previous process saved,
then reads only the files added since — and always returns what a fresh load returns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tracker.client import TrackerClient
from tracker.query import StoreQuery, reads, snapshot, views
from tracker.store.compact import compact


def _log(uri: str, names: list[str], *, finish: bool = True) -> list[str]:
    client = TrackerClient(uri)
    eid = client.create_experiment("snap") if client.get_experiment_by_name("snap") is None \
        else client.get_experiment_by_name("snap").experiment_id
    ids = []
    for i, name in enumerate(names):
        run_id = client.create_run(eid, run_name=name, start_time=1_000 + i).info.run_id
        client.log_param(run_id, "alpha", str(i))
        for step in range(3):
            client.log_metric(run_id, "loss", 1.0 / (step + 1 + i), timestamp=2_000 + step, step=step)
        client.set_tag(run_id, "team", "a" if i % 2 else "b")
        if finish:
            client.set_terminated(run_id, end_time=5_000 + i)
        ids.append(run_id)
    client.flush()
    return ids


def _tables(query: StoreQuery) -> dict[str, pd.DataFrame]:
    """Every public table, sorted, so two loads can be compared."""
    query.refresh()
    out = {}
    for table in views.PUBLIC_TABLES:
        frame = query.sql(f"SELECT * FROM {table}")
        out[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    assert query.wait_for_snapshot(30)  # saved in the background, after the results
    return out


def _fresh(uri: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, pd.DataFrame]:
    with monkeypatch.context() as m:
        m.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
        return _tables(StoreQuery(TrackerClient(uri).store))


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table], obj=table)


def test_a_second_process_restores_the_snapshot_and_reads_only_new_files(
    tmp_path: Path, always_snapshot: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    _log(uri, ["a", "b", "c"])
    first = StoreQuery(TrackerClient(uri).store)
    _tables(first)
    (saved,) = always_snapshot.glob("query/*.duckdb")

    restored = StoreQuery(TrackerClient(uri).store)
    traced: list[str] = []
    restored.tracer = traced.append
    _assert_same(_tables(restored), _fresh(uri, monkeypatch))
    assert not any("read_parquet" in sql for sql in traced), "nothing was read from the store"

    _log(uri, ["d"])
    later = StoreQuery(TrackerClient(uri).store)
    traced.clear()
    later.tracer = traced.append
    tables = _tables(later)
    _assert_same(tables, _fresh(uri, monkeypatch))
    assert sorted(tables["runs"]["run_name"]) == ["a", "b", "c", "d"]
    inserts = [sql for sql in traced if "INSERT INTO records" in sql]
    assert len(inserts) == 1 and saved.exists()


def test_compaction_and_deletes_after_a_snapshot_read_like_a_fresh_load(
    tmp_path: Path, always_snapshot: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    ids = _log(uri, [f"r{i}" for i in range(6)])
    _tables(StoreQuery(TrackerClient(uri).store))
    client = TrackerClient(uri)
    client.delete_run(ids[0])
    compact(client.store, min_runs=1)
    _log(uri, ["late"], finish=False)
    tables = _tables(StoreQuery(TrackerClient(uri).store))
    _assert_same(tables, _fresh(uri, monkeypatch))
    deleted = tables["runs"].set_index("run_id").loc[ids[0], "lifecycle_stage"]
    assert deleted == "deleted"


def test_a_damaged_or_foreign_snapshot_is_ignored(
    tmp_path: Path, always_snapshot: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    _log(uri, ["a", "b"])
    _tables(StoreQuery(TrackerClient(uri).store))
    (saved,) = always_snapshot.glob("query/*.duckdb")
    saved.write_bytes(os.urandom(4096))
    _assert_same(_tables(StoreQuery(TrackerClient(uri).store)), _fresh(uri, monkeypatch))

    # Another store's snapshot at this store's path (a hash collision, a copied cache): ignored.
    other = str(tmp_path / "other")
    _log(other, ["x", "y", "z"])
    _tables(StoreQuery(TrackerClient(other).store))
    (other_saved,) = [p for p in always_snapshot.glob("query/*.duckdb") if p != saved]
    os.replace(other_saved, saved)
    tables = _tables(StoreQuery(TrackerClient(uri).store))
    assert sorted(tables["runs"]["run_name"]) == ["a", "b"]


def test_snapshots_can_be_turned_off(
    tmp_path: Path, always_snapshot: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    _log(uri, ["a"])
    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
    _tables(StoreQuery(TrackerClient(uri).store))
    assert list(always_snapshot.glob("query/*")) == []


def test_search_runs_in_a_new_process_starts_from_the_snapshot(
    tmp_path: Path, always_snapshot: Path,
) -> None:
    uri = str(tmp_path / "store")
    _log(uri, ["a", "b", "c"])
    _tables(StoreQuery(TrackerClient(uri).store))
    (saved,) = always_snapshot.glob("query/*.duckdb")
    _log(uri, ["d"])  # the new process restores three runs and reads the fourth
    code = (
        "import sys, tracker\n"
        "tracker.set_tracking_uri(sys.argv[1])\n"
        "frame = tracker.search_runs(experiment_names=['snap'], order_by=['metrics.loss', 'attributes.run_name'])\n"
        "print(','.join(frame['tags.mlflow.runName']))\n"
    )
    env = {**os.environ, "TRACKER_CACHE_DIR": str(always_snapshot)}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                         env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code, uri], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "c,b,a,d"  # a and d tie at loss 1/3
    assert saved.exists()


def test_one_process_folding_changes_run_by_run_matches_a_fresh_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After each kind of change, the tables a long-lived process refolded (only the runs in the
    new files) equal a fresh load of the store."""
    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
    uri = str(tmp_path / "store")
    ids = _log(uri, ["a", "b", "c"])
    client = TrackerClient(uri)
    eid = client.get_experiment_by_name("snap").experiment_id
    live = StoreQuery(TrackerClient(uri).store)
    _tables(live)
    changes = [
        lambda: client.log_metric(ids[0], "loss", 0.01, timestamp=9_000, step=9),
        lambda: client.set_tag(ids[1], "team", "c"),
        lambda: client.delete_tag(ids[2], "team"),
        lambda: client.update_run(ids[0], name="a-renamed"),
        lambda: client.delete_run(ids[1]),
        lambda: client.restore_run(ids[1]),
        lambda: client.log_text(ids[2], "hi", "notes.txt"),
        lambda: client.set_experiment_tag(eid, "owner", "me"),
        lambda: client.rename_experiment(eid, "snap-2"),
        lambda: _log(uri, ["d", "e"], finish=False),
        lambda: compact(TrackerClient(uri).store, min_runs=1),
        lambda: client.set_terminated(ids[2], "FAILED"),
    ]
    traced: list[str] = []
    live.tracer = traced.append
    refolds = 0
    for change in changes:
        traced.clear()
        change()
        client.flush()
        _assert_same(_tables(live), _tables(StoreQuery(TrackerClient(uri).store)))
        refolds += any("touched_records" in sql for sql in traced)
        assert not any("CREATE OR REPLACE TABLE runs" in sql for sql in traced)
    assert refolds == len(changes) - 2  # the experiment tag and rename touch no run


# -- runs_wide: search_runs' DataFrame from a table pivoted once per change ----------------------


def _frames(query: StoreQuery, searches: list[dict[str, object]]) -> list[pd.DataFrame]:
    """search_runs' DataFrames, as ``tracker.search_runs`` makes them."""
    from tracker.query import reads

    query.refresh()
    return [reads.runs_dataframe(query, reads.search_runs(query, **kwargs))  # type: ignore[arg-type]
            for kwargs in searches]


def test_search_frames_from_the_wide_table_equal_the_per_call_pivot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker.query import wide

    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")  # each query pivots for itself
    uri = str(tmp_path / "store")
    _log(uri, ["a", "b", "c"])
    client = TrackerClient(uri)
    other = client.create_experiment("other")
    run = client.create_run(other, run_name="o").info.run_id
    client.log_param(run, "only_here", "1")
    client.log_metric(run, "Loss", 2.0)  # differs from "loss" only in case
    client.set_terminated(run)
    client.flush()
    snap = client.get_experiment_by_name("snap").experiment_id
    searches: list[dict[str, object]] = [
        {"experiment_ids": [snap]},
        {"experiment_ids": [other]},
        {"experiment_ids": None, "order_by": ["metrics.loss DESC"]},
        {"experiment_ids": [snap], "filter_string": "params.alpha = '1'"},
        {"experiment_ids": [snap], "filter_string": "metrics.loss > 100"},
    ]
    with_wide = _frames(StoreQuery(TrackerClient(uri).store), searches)
    monkeypatch.setattr(wide, "MAX_COLUMNS", 0)  # too many keys: pivot per call instead
    fallback = StoreQuery(TrackerClient(uri).store)
    per_call = _frames(fallback, searches)
    assert fallback.wide_table() is None
    for a, b in zip(with_wide, per_call):
        pd.testing.assert_frame_equal(a, b)
    assert "params.only_here" not in with_wide[0].columns
    assert {"metrics.Loss", "params.only_here"} <= set(with_wide[1].columns)
    assert with_wide[4].empty


def test_the_wide_table_follows_new_keys_and_comes_back_from_a_snapshot(
    tmp_path: Path, always_snapshot: Path,
) -> None:
    uri = str(tmp_path / "store")
    _log(uri, ["a"])
    query = StoreQuery(TrackerClient(uri).store)
    query.refresh()
    first = query.wide_table()
    assert first is not None and "params.alpha" in dict(first.columns).values()
    assert query.wait_for_snapshot(30)

    restored = StoreQuery(TrackerClient(uri).store)  # a new process, same store: no pivot
    traced: list[str] = []
    restored.tracer = traced.append
    restored.refresh()
    assert restored.wide_table() == first
    assert not any("CREATE OR REPLACE TABLE runs_wide" in sql for sql in traced)

    client = TrackerClient(uri)
    run = client.create_run(client.get_experiment_by_name("snap").experiment_id).info.run_id
    client.log_param(run, "beta", "2")
    client.flush()
    query.refresh()
    later = query.wide_table()
    assert later is not None and "params.beta" in dict(later.columns).values()
    restored.refresh()  # the snapshot plus the new files: pivoted again
    assert restored.wide_table() == later


def _served(query: StoreQuery) -> set[str]:
    """The tables a query layer reads in place from its attached snapshot (views over it)."""
    return {row[0] for row in query._connection().execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND sql LIKE '%tracker_snapshot.%'"
    ).fetchall()}


def test_a_restored_snapshot_is_read_in_place_and_gives_the_same_frames(
    tmp_path: Path, always_snapshot: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#16: a new process reads the snapshot's tables where they are (nothing copied) until one
    must change; its search DataFrame and every table equal those of a fresh load."""
    uri = str(tmp_path / "store")
    _log(uri, ["a", "b", "c", "d"])
    _tables(StoreQuery(TrackerClient(uri).store))
    search = ("metrics.loss < 0.3", ["metrics.loss", "attributes.run_name"])

    def frame(query: StoreQuery) -> pd.DataFrame:
        ids = reads.search_runs(query, None, search[0], order_by=search[1])
        return reads.runs_dataframe(query, ids)

    restored = StoreQuery(TrackerClient(uri).store)
    got = frame(restored)
    assert {"runs", "params", "tags", "latest_metrics", "records"} <= _served(restored)
    with monkeypatch.context() as m:
        m.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
        fresh = StoreQuery(TrackerClient(uri).store)
        expected = frame(fresh)
        assert _served(fresh) == set()
    pd.testing.assert_frame_equal(got, expected)
    assert list(got["tags.mlflow.runName"]) == ["d", "c", "b"]
    assert str(got["start_time"].dtype) == "datetime64[us, UTC]"
    # ``metrics`` and the logged-model views are made when a query first names them.
    assert restored.sql("SELECT count(*) AS n FROM metrics")["n"][0] == 12
    assert restored.sql("SELECT count(*) AS n FROM logged_model_metrics")["n"][0] == 0
    _assert_same(_tables(restored), _fresh(uri, monkeypatch))


def test_marking_a_dead_run_copies_runs_out_of_a_restored_snapshot(
    tmp_path: Path, always_snapshot: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tracker.query as query_module

    uri = str(tmp_path / "store")
    (live,) = _log(uri, ["live"], finish=False)
    _tables(StoreQuery(TrackerClient(uri).store))
    monkeypatch.setattr(query_module, "run_is_dead", lambda *args: True)
    restored = StoreQuery(TrackerClient(uri).store)
    restored.refresh()
    assert "runs" not in _served(restored)  # copied: dead-run marking updates it
    assert "params" in _served(restored)
    dead = restored.sql("SELECT run_id, dead FROM runs")
    assert dead.to_dict("records") == [{"run_id": live, "dead": True}]


def test_a_snapshot_saved_in_slices_holds_every_row(
    tmp_path: Path, always_snapshot: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A background save copies tables a few rows at a time (#16: less memory); rows deleted
    by a compaction leave gaps in the row ids that the slices must step over."""
    monkeypatch.setattr(snapshot, "SAVE_CHUNK_ROWS", 7)
    monkeypatch.setattr(snapshot, "STALE_FILES", 1)  # the second load saves again
    uri = str(tmp_path / "store")
    ids = _log(uri, [f"r{i}" for i in range(5)])
    first = StoreQuery(TrackerClient(uri).store)
    _tables(first)
    client = TrackerClient(uri)
    client.delete_run(ids[1])
    compact(client.store, min_runs=1)  # removes loose files: their records are deleted
    _log(uri, ["late"])
    _tables(first)  # refolded, saved again in slices of 7 rows
    restored = StoreQuery(TrackerClient(uri).store)
    tables = _tables(restored)
    assert "records" in _served(restored)
    _assert_same(tables, _fresh(uri, monkeypatch))
    records = restored.sql("SELECT count(*) AS n FROM records")["n"][0]
    with monkeypatch.context() as m:
        m.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
        fresh = StoreQuery(TrackerClient(uri).store)
        assert records == fresh.sql("SELECT count(*) AS n FROM records")["n"][0] > 7
