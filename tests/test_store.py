"""The store on disk: layout, format, read plans, consolidation and compaction."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

import tracker
from tracker.store import LocalFS, Store
from tracker.store.compact import compact
from tracker.store.schema import COLUMNS, SCHEMA_VERSION


def _files(root: str, pattern: str = "**/*.parquet") -> list[Path]:
    return sorted(Path(root).glob(pattern))


def test_layout_is_hive_style_with_a_versioned_marker(tmp_store: str) -> None:
    marker = json.loads(Path(tmp_store, "tracker-store.json").read_text())
    assert marker == {"format": "tracker-store", "format_version": SCHEMA_VERSION}
    runs = _files(tmp_store, "runs/experiment_id=*/run_id=*/*.parquet")
    assert len(runs) == 12  # one final file per finished run
    assert all(p.name.startswith("final-") for p in runs)
    assert len(_files(tmp_store, "experiments/experiment_id=*/seg-*.parquet")) == 2
    meta = pq.read_metadata(runs[0]).metadata
    assert meta[b"tracker.format_version"] == str(SCHEMA_VERSION).encode()
    assert pq.read_schema(runs[0]).names == list(COLUMNS)
    assert not list(Path(tmp_store).rglob(".tmp-*"))


def test_store_is_readable_by_plain_duckdb(tmp_store: str) -> None:
    con = duckdb.connect(config={"autoload_known_extensions": False})
    rows = con.execute(
        "select run_id, max(num) filter (where key = 'r2') as r2, count(*) filter "
        "(where kind = 'metric') as points from read_parquet(?, hive_partitioning = true, "
        "union_by_name = true) where kind = 'metric' group by run_id",
        [f"{tmp_store}/runs/*/*/*.parquet"],
    ).fetchall()
    assert len(rows) == 12 and all(points == 4 for _, _, points in rows)


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    (root / "tracker-store.json").write_text('{"format": "tracker-store", "format_version": 99}')
    store = Store(LocalFS(str(root)))
    with pytest.raises(tracker.exceptions.StoreError, match="format version 99"):
        store.ensure_initialized()


def test_long_runs_flush_segments_then_consolidate(store_uri: str) -> None:
    with tracker.start_run() as run:
        for step in range(3):
            tracker.log_metric("m", step, step=step)
            tracker.flush()
        folder = next(Path(store_uri).glob(f"runs/*/run_id={run.info.run_id}"))
        assert len(list(folder.glob("seg-*.parquet"))) == 3
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 1 and files[0].startswith("final-")
    history = tracker.MlflowClient(store_uri).get_metric_history(run.info.run_id, "m")
    assert [m.value for m in history] == [0.0, 1.0, 2.0]


def test_compaction_merges_finished_runs_and_keeps_every_row(tmp_store: str) -> None:
    client = tracker.TrackerClient(tmp_store)
    before = client.sql("select count(*) as n from records")["n"][0]
    frame_before = tracker.search_runs(search_all_experiments=True).sort_values("run_id")
    with tracker.start_run(experiment_id=tracker.get_experiment_by_name("alpha").experiment_id) as live:
        tracker.log_metric("live", 1.0)
        tracker.flush()
        result = compact(client.store)
    assert result.runs == 12 and result.files_written == 2
    finals = _files(tmp_store, "runs/*/run_id=*/final-*.parquet")
    assert [p.parent.name for p in finals] == [f"run_id={live.info.run_id}"]
    # the running run was not touched, and its folder was not removed
    assert _files(tmp_store, f"runs/*/run_id={live.info.run_id}/*.parquet")
    parts = _files(tmp_store, "parts/experiment_id=*/part-*.parquet")
    assert len(parts) == 2
    covers = json.loads(pq.read_metadata(parts[0]).metadata[b"tracker.covers"])
    assert len(covers) >= 6
    after = client.sql("select count(*) as n from records where run_id is distinct from ?", [live.info.run_id])
    assert after["n"][0] == before
    frame_after = tracker.search_runs(search_all_experiments=True)
    frame_after = frame_after[frame_after.run_id != live.info.run_id].sort_values("run_id")
    cols = [c for c in frame_before.columns if c.startswith(("metrics.", "params.", "tags."))]
    assert frame_after[cols].reset_index(drop=True).equals(frame_before[cols].reset_index(drop=True))


def test_compaction_is_incremental_and_idempotent(tmp_store: str) -> None:
    client = tracker.TrackerClient(tmp_store)
    compact(client.store)
    tracker.set_experiment("alpha")
    with tracker.start_run():
        tracker.log_metric("new", 1.0)
    second = compact(client.store)
    assert second.runs == 1
    assert len(_files(tmp_store, "parts/*/part-*.parquet")) == 2
    third = compact(client.store)
    assert third.runs == 0 and third.files_written == 0
    assert client.sql("select count(*) as n from runs")["n"][0] == 13


def test_reader_resolves_duplicates_left_by_a_crashed_compactor(tmp_store: str) -> None:
    """A part published but the files it covers not yet deleted: rows are counted once."""
    client = tracker.TrackerClient(tmp_store)
    expected = client.sql("select count(*) as n from records")["n"][0]
    finals = _files(tmp_store, "runs/*/*/final-*.parquet")
    saved = {p: p.read_bytes() for p in finals}
    compact(client.store)
    for path, data in saved.items():  # the covered files come back (crash before deletion)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    fresh = tracker.TrackerClient(tmp_store)
    fresh.store._covers_cache.clear()
    assert fresh.sql("select count(*) as n from records")["n"][0] == expected
    # and two overlapping parts (two compactors at once) are resolved too
    parts = _files(tmp_store, "parts/*/part-*.parquet")
    dup = parts[0].with_name(parts[0].name.replace("part-", "part-z"))
    dup.write_bytes(parts[0].read_bytes())
    assert fresh.sql("select count(*) as n from records")["n"][0] == expected
    compact(fresh.store)
    assert fresh.sql("select count(*) as n from records")["n"][0] == expected


def test_temp_files_and_foreign_files_are_ignored(tmp_store: str) -> None:
    run_dir = _files(tmp_store, "runs/*/*/final-*.parquet")[0].parent
    (run_dir / ".tmp-1234-seg-x.parquet").write_bytes(b"partial")
    (run_dir / "notes.txt").write_text("hello")
    assert tracker.TrackerClient(tmp_store).sql("select count(*) as n from runs")["n"][0] == 12


def test_automatic_compaction_after_many_runs(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracker.store.compact as compaction

    monkeypatch.setattr(compaction, "AUTO_COMPACT_RUNS", 20)
    tracker.set_experiment("auto")
    for i in range(20):
        with tracker.start_run():
            tracker.log_metric("i", i)
    assert compaction._auto_thread is not None
    compaction._auto_thread.join(timeout=30)
    assert len(_files(store_uri, "parts/*/part-*.parquet")) == 1
    assert len(_files(store_uri, "runs/*/*/*.parquet")) == 0
    df = tracker.search_runs(order_by=["metrics.i"])
    assert list(df["metrics.i"]) == [float(i) for i in range(20)]


def test_readme_plain_duckdb_query_works(tmp_store: str) -> None:
    compact(tracker.TrackerClient(tmp_store).store)
    tracker.set_experiment("alpha")
    with tracker.start_run():
        tracker.log_metric("rmse", 1.0)
    con = duckdb.connect(config={"autoload_known_extensions": False})
    rows = con.execute(
        "select run_id, arg_max(num, step) as rmse from read_parquet(?, union_by_name = true) "
        "where kind = 'metric' and key = 'rmse' group by run_id",
        [[f"{tmp_store}/runs/*/*/*.parquet", f"{tmp_store}/parts/*/*.parquet"]],
    ).fetchall()
    assert len(rows) == 13


def test_a_new_process_plans_from_cached_footers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ids a part file covers are cached on local disk: the next Store object (a new
    process) plans the same files without reading any footer; a changed file is read again."""
    import tracker.store.store as store_module

    monkeypatch.setenv("TRACKER_CACHE_DIR", str(tmp_path / "cache"))
    uri = str(tmp_path / "store")
    client = tracker.TrackerClient(uri)
    eid = client.create_experiment("covers")
    for i in range(4):
        run = client.create_run(eid).info.run_id
        client.log_metric(run, "m", float(i))
        client.set_terminated(run)
    client.flush()
    compact(client.store, min_runs=1)
    late = client.create_run(eid).info.run_id  # a loose run on top of the part
    client.log_metric(late, "m", 9.0)
    client.flush()
    first = Store(LocalFS(uri), uri).plan()
    assert list((tmp_path / "cache" / "covers").glob("*.json"))

    def no_footer_reads(fs: object, path: str) -> frozenset[str]:
        raise AssertionError(f"read the footer of {path}")

    monkeypatch.setattr(store_module, "read_covers", no_footer_reads)
    assert Store(LocalFS(uri), uri).plan() == first

    (part,) = Path(uri).glob("parts/*/part-*.parquet")
    part.write_bytes(part.read_bytes() + b"\0")  # another size: not the file that was cached
    with pytest.raises(AssertionError, match="read the footer"):
        Store(LocalFS(uri), uri).plan()


def test_a_record_file_in_a_folder_named_like_a_glob_pattern_is_not_read(tmp_store: str) -> None:
    """DuckDB reads a path as a pattern: a hostile store's ``run_id=*`` folder holding a copy of
    a run's file made the load read every run folder's file of that name, and a ``run_id=[z]``
    folder (a pattern matching nothing, not even itself) made every search fail."""
    import shutil

    eid = tracker.TrackerClient(tmp_store).get_experiment_by_name("alpha").experiment_id
    before = tracker.search_runs([eid])
    run_file = _files(tmp_store, f"runs/experiment_id={eid}/run_id=*/*.parquet")[0]
    for pattern in ("*", "[z]"):
        hostile = run_file.parent.parent / f"run_id={pattern}"
        hostile.mkdir()
        shutil.copy(run_file, hostile / run_file.name)
    store = Store(LocalFS(tmp_store))
    assert not [f.path for f in store.list_record_files() if "=*" in f.path or "[" in f.path]
    after = tracker.search_runs([eid])
    assert len(after) == len(before)
    assert sorted(after["run_id"]) == sorted(before["run_id"])
