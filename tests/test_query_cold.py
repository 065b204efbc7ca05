"""Cold paths of the query layer (#16): what a new process's first search imports, the footer
version read without pyarrow, snapshots saved after the result (and never half-saved), and
new runs found by a warm process without walking every run folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracker.client import TrackerClient
from tracker.query import StoreQuery, footer_version
from tracker.store.footer import UNSURE

REPO = Path(__file__).resolve().parent.parent


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env["TRACKER_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def _log_runs(uri: str, count: int, experiment: str = "cold") -> str:
    client = TrackerClient(uri)
    found = client.get_experiment_by_name(experiment)
    eid = found.experiment_id if found else client.create_experiment(experiment)
    for i in range(count):
        run_id = client.create_run(eid, run_name=f"r{i}").info.run_id
        client.log_param(run_id, "p", str(i % 2))
        client.log_metric(run_id, "m", i / 10)
        client.set_terminated(run_id)
    client.flush()
    return str(eid)


# -- footer_version ----------------------------------------------------------------------------


def _parquet(path: Path, metadata: dict[bytes, bytes] | None) -> str:
    table = pa.table({"x": [1, 2]})
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return str(path)


def test_footer_version_reads_what_pyarrow_reads(tmp_path: Path) -> None:
    key = b"tracker.format_version"
    assert footer_version(_parquet(tmp_path / "a.parquet", {key: b"1"})) == b"1"
    assert footer_version(_parquet(tmp_path / "b.parquet", {key: b"99"})) == b"99"
    assert footer_version(_parquet(tmp_path / "c.parquet", {b"other": b"1"})) is None
    long = b"[" + b'"a",' * 100 + b'"b"]'  # a length of two bytes
    assert footer_version(_parquet(tmp_path / "d.parquet", {key: long})) == long
    twice = {key: b"1", b"x": b"tracker.format_version"}
    assert footer_version(_parquet(tmp_path / "e.parquet", twice)) is UNSURE
    (tmp_path / "f.parquet").write_bytes(b"PAR1 not really")
    assert footer_version(str(tmp_path / "f.parquet")) is UNSURE
    for name in "abcde":
        path = str(tmp_path / f"{name}.parquet")
        found = footer_version(path)
        if found is not UNSURE:
            assert found == (pq.read_metadata(path).metadata or {}).get(key), name


def _newer_loose_file(uri: str) -> Path:
    """A copy of a run's file beside it, marked with a format version newer than ours."""
    folder = next(Path(uri, "runs").glob("experiment_id=*/run_id=*"))
    table = pq.read_table(next(folder.glob("*.parquet")))
    newer = folder / "seg-18ebdd0000000000cafef00d.parquet"
    pq.write_table(table.replace_schema_metadata({b"tracker.format_version": b"99"}), newer)
    return newer


def test_a_newer_loose_file_is_still_reported_by_the_first_load(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    _log_runs(uri, 2)
    newer = _newer_loose_file(uri)
    query = StoreQuery(TrackerClient(uri).store)
    query.refresh()
    assert any("format version '99'" in w and newer.name in w for w in query.warnings)


# -- the first load on another thread, beside the pandas import --------------------------------


def test_a_load_started_ahead_gives_the_same_tables_and_reports_its_warnings(
    tmp_path: Path,
) -> None:
    import threading

    from tracker import query as query_module

    uri = str(tmp_path / "store")
    _log_runs(uri, 3)
    newer = _newer_loose_file(uri)
    # Held, so a connection of an earlier test freed meanwhile does not change the count
    # (background snapshot and express writes hold their query until they end).
    before = set(query_module._connections)
    query = StoreQuery(TrackerClient(uri).store)
    query.load_ahead()
    query.load_ahead()  # a second call while the first runs starts nothing more
    assert _names(query) == ["r0", "r1", "r2"]
    assert not any(t.name == "tracker-load" for t in threading.enumerate())
    new = set(query_module._connections) - before
    assert len(new) == 1  # the thread's connection, used here
    assert any("format version '99'" in w and newer.name in w for w in query.warnings)


def test_what_a_load_started_ahead_raises_is_raised_by_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.exceptions import StoreError

    uri = str(tmp_path / "store")
    _log_runs(uri, 2)
    calls: list[str] = []

    def broken(self: StoreQuery, plan: object, **_: object) -> None:
        import threading

        calls.append(threading.current_thread().name)
        raise StoreError("the store cannot be read")

    monkeypatch.setattr(StoreQuery, "_apply", broken)
    query = StoreQuery(TrackerClient(uri).store)
    query.load_ahead()
    with pytest.raises(StoreError, match="cannot be read"):
        query.refresh()
    assert calls == ["tracker-load", "MainThread"]


_FIRST_AND_WARM = """
import sys, pickle, tracker
from tracker.exceptions import InvalidArgumentError
tracker.set_tracking_uri(sys.argv[1])
frames = []
for filter_string in sys.argv[3:]:
    try:
        frames.append(tracker.search_runs([sys.argv[2]], filter_string))
    except InvalidArgumentError as exc:
        frames.append(f"error: {exc}")
sys.stdout.buffer.write(pickle.dumps(frames))
"""


@pytest.mark.parametrize("first", ["params.p = '1'", "metrics.m > 100", "params.p = = 1"],
                         ids=["rows", "no rows", "bad filter"])
def test_the_first_search_of_a_process_gives_what_a_warm_search_gives(
    tmp_path: Path, first: str
) -> None:
    """The first search runs its DuckDB side ahead on another thread (``Ahead``): its rows,
    columns and errors are those of the same search made again in the same process."""
    import pickle

    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 7)
    cache = tmp_path / "cache"
    for attempt in ("no snapshot", "from the snapshot"):
        done = subprocess.run([sys.executable, "-c", _FIRST_AND_WARM, uri, eid, first, first],
                              env=_env(cache), capture_output=True, check=True)
        cold, warm = pickle.loads(done.stdout)
        if isinstance(warm, str):
            assert cold == warm and "p = = 1" in warm, attempt
            continue
        pd.testing.assert_frame_equal(cold, warm)
        assert len(cold) == {"rows": 3, "no rows": 0}.get(
            "rows" if first.startswith("params") else "no rows"), attempt
        if len(cold):
            assert list(cold.columns[:6]) == ["run_id", "experiment_id", "status",
                                              "artifact_uri", "start_time", "end_time"]
            assert {"params.p", "metrics.m"} <= set(cold.columns)


def test_a_search_and_its_dataframe_send_duckdb_no_list_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB reads a Python list parameter only once pandas is imported: a first search
    running ahead of the pandas import on another thread waited for all of it (#16)."""
    from tracker.query import reads

    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 5)
    sent: list[object] = []
    execute = StoreQuery._execute

    def spy(self: StoreQuery, sql: str, params: object = None) -> object:
        sent.extend(params.values() if isinstance(params, dict) else params or [])
        return execute(self, sql, params)

    monkeypatch.setattr(StoreQuery, "_execute", spy)
    query = StoreQuery(TrackerClient(uri).store)
    query.refresh()  # the load's list of files too: it runs ahead of the pandas import
    assert any(isinstance(p, str) and p.startswith('["') for p in sent)
    run_ids = reads.search_runs(query, [eid, "no such id"], "params.p = '1'")
    frame = reads.runs_dataframe(query, run_ids)
    assert len(run_ids) == 2 and list(frame["run_id"]) == run_ids
    assert sent and not [p for p in sent if isinstance(p, (list, tuple))]


# -- what the first search of a process imports ------------------------------------------------

_IMPORTS = """
import sys, tracker
tracker.set_tracking_uri(sys.argv[1])
frame = tracker.search_runs([sys.argv[2]], "metrics.m >= 0.1")
print(len(frame))
print(" ".join(sorted(sys.modules)))
"""

# Modules a search has no use for: the site, plotting, templates, DuckDB extensions, the
# network, and pyarrow's Parquet and filesystem layers (the tables come from DuckDB).
_FORBIDDEN = (
    "tracker.site", "tracker.figures", "tracker.models", "jinja2",
    "matplotlib", "plotly", "markdown", "sklearn", "scipy", "pyspark", "boto3", "botocore",
    "requests", "urllib3", "http.client", "pyarrow.parquet", "pyarrow.fs", "pyarrow.dataset",
    "tracker.store.compact", "tracker.store.s3",
)


@pytest.mark.parametrize("compacted", [False, True], ids=["loose", "compacted"])
def test_the_first_search_of_a_process_imports_only_what_it_needs(
    tmp_path: Path, compacted: bool
) -> None:
    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 12)
    if compacted:
        from tracker.store.compact import compact

        compact(TrackerClient(uri).store, min_runs=1)
    cache = tmp_path / "cache"
    # The first process loads the store with DuckDB; the next one finds the store as that
    # one's snapshot left it and answers from the express file without DuckDB (#16); after
    # a new run, DuckDB again (and the new run is found).
    attempts = [("no snapshot", "11", True), ("from the snapshot", "11", False),
                ("a run added since", "12", True)]
    for attempt, expected, duckdb_used in attempts:
        if attempt == "a run added since":
            _log_runs(uri, 2)  # r0 (m = 0, not found) and r1 (m = 0.1)
        done = subprocess.run([sys.executable, "-c", _IMPORTS, uri, eid], env=_env(cache),
                              capture_output=True, text=True, check=True)
        count, modules = done.stdout.splitlines()
        assert count == expected, attempt
        loaded = modules.split()
        bad = [m for m in loaded if m.startswith(_FORBIDDEN) or m in _FORBIDDEN]
        assert bad == [], f"{attempt}: {bad}"
        assert {"pandas", "tracker.query"} <= set(loaded)
        assert ("duckdb" in loaded) is duckdb_used, attempt


# -- a warm process lists only the folders that changed ---------------------------------------

_LOG_IN_ANOTHER_PROCESS = """
import sys
from tracker.client import TrackerClient
client = TrackerClient(sys.argv[1])
eid = client.get_experiment_by_name("cold").experiment_id
for name in sys.argv[2:]:
    run = client.create_run(eid, run_name=name).info.run_id
    client.log_metric(run, "m", 1.0)
    client.set_terminated(run)
client.flush()
"""


def _names(query: StoreQuery) -> list[str]:
    return sorted(query.sql("SELECT run_name FROM runs WHERE lifecycle_stage = 'active'")
                  ["run_name"])


def test_a_warm_process_sees_runs_added_deleted_and_compacted_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.store import fs as store_fs
    from tracker.store.compact import compact

    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
    uri = str(tmp_path / "store")
    _log_runs(uri, 3)
    warm = StoreQuery(TrackerClient(uri).store)
    assert _names(warm) == ["r0", "r1", "r2"]
    scans: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(path: str) -> object:
        scans.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(store_fs.os, "scandir", counting_scandir)
    # Folders listed more than RACY_SECONDS after they changed are trusted while their mtime
    # holds: pretend that much time has passed rather than sleeping.
    monkeypatch.setattr(store_fs, "RACY_SECONDS", -3600.0)
    _names(warm)  # lists the (now trusted) folders once more
    scans.clear()
    assert _names(warm) == ["r0", "r1", "r2"]
    assert scans == [], "nothing changed: no folder is listed again"

    subprocess.run([sys.executable, "-c", _LOG_IN_ANOTHER_PROCESS, uri, "new1", "new2"],
                   env=_env(tmp_path / "cache"), check=True)
    scans.clear()
    assert _names(warm) == ["new1", "new2", "r0", "r1", "r2"]
    run_folders = [p for p in scans if "run_id=" in p]
    assert len(run_folders) == 2, "only the two new run folders are listed"

    client = TrackerClient(uri)
    gone = client.search_runs([client.get_experiment_by_name("cold").experiment_id],
                              "attributes.run_name = 'r1'")[0].info.run_id
    client.delete_run(gone)
    assert _names(warm) == ["new1", "new2", "r0", "r2"]
    compact(TrackerClient(uri).store, min_runs=1)  # run folders replaced by one part
    assert not list(Path(uri, "runs").glob("experiment_id=*/run_id=*/*.parquet"))
    assert _names(warm) == ["new1", "new2", "r0", "r2"]
    fresh = StoreQuery(TrackerClient(uri).store)
    assert _names(fresh) == _names(warm)


def test_a_folder_changed_within_the_same_clock_tick_is_listed_again(tmp_path: Path) -> None:
    """A folder whose mtime is too close to its listing is never trusted (a change in the
    same tick leaves the mtime as it was)."""
    from tracker.store.fs import LocalFS

    fs = LocalFS(str(tmp_path))
    folder = tmp_path / "runs" / "a"
    folder.mkdir(parents=True)
    (folder / "one.parquet").write_bytes(b"1")
    stamp = os.stat(folder).st_mtime_ns
    assert [e.path for e in fs.list_files_cached("runs")] == ["runs/a/one.parquet"]
    (folder / "two.parquet").write_bytes(b"2")
    os.utime(folder, ns=(stamp, stamp))  # the same mtime as when it was listed
    assert [e.path for e in fs.list_files_cached("runs")] == [
        "runs/a/one.parquet", "runs/a/two.parquet"]


def _settled(fs: object, prefix: str = "runs") -> list[str]:
    """List ``prefix`` until its folders are trusted and settled (pretending the listings were
    made long after every change: ``RACY_SECONDS`` is negative in these tests)."""
    for _ in range(3):
        found = [e.path for e in fs.list_files_cached(prefix)]  # type: ignore[attr-defined]
    return found


def test_writers_stamp_the_folder_above_the_one_they_change(tmp_path: Path) -> None:
    """A file published or deleted in ``runs/<e>/<r>/`` sets the time of ``runs/<e>``, which
    a warm reader stats instead of every run folder; never a folder outside the store."""
    from tracker.store.fs import LocalFS

    fs = LocalFS(str(tmp_path / "store"))
    fs.write_atomic("runs/e/r/seg-1.parquet", b"1")
    fs.write_atomic("top.json", b"{}")
    old = 1_000_000_000_000_000_000  # 2001, in ns
    for folder in (tmp_path, tmp_path / "store", tmp_path / "store/runs", tmp_path / "store/runs/e"):
        os.utime(folder, ns=(old, old))

    def mtime(folder: Path) -> int:
        return os.stat(folder).st_mtime_ns

    fs.write_atomic("runs/e/r/seg-2.parquet", b"2")
    assert mtime(tmp_path / "store/runs/e") > old
    os.utime(tmp_path / "store/runs/e", ns=(old, old))
    fs.delete("runs/e/r/seg-1.parquet")
    assert mtime(tmp_path / "store/runs/e") > old
    os.utime(tmp_path / "store/runs/e", ns=(old, old))
    fs.delete_many(["runs/e/r/seg-2.parquet"])
    assert mtime(tmp_path / "store/runs/e") > old
    assert fs.create_exclusive("runs/e/r2/v-1.json", b"1")
    fs.write_atomic("top.json", b"{}")  # its folder is the root: nothing above is touched
    fs.write_atomic("runs/one.parquet", b"1")  # the folder above is the root
    assert mtime(tmp_path) == old and mtime(tmp_path / "store") > old
    assert mtime(tmp_path / "store/runs") > old  # the kernel's own change (new r2 folder)


def test_a_warm_listing_stats_no_run_folder_until_a_writer_changes_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settled folders (their sub-folders checked after their last change) are trusted with
    their run folders: no ``stat`` of those; a file the store publishes in or deletes from an
    existing run folder stamps the experiment folder, and the next listing has it (#16)."""
    from tracker.store import fs as store_fs

    monkeypatch.setattr(store_fs, "RACY_SECONDS", -3600.0)
    fs = store_fs.LocalFS(str(tmp_path / "store"))
    for run in range(20):
        fs.write_atomic(f"runs/experiment_id=1/run_id=r{run}/seg-{run}.parquet", b"x")
    assert len(_settled(fs)) == 20
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path: object, *args: object, **kwargs: object) -> object:
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_fs.os, "stat", counting_stat)
    listed = fs.list_files_cached("runs")
    assert len(listed) == 20 and not [p for p in stats if "run_id=" in p]
    assert fs.list_files_cached("runs") is listed  # the very list: callers memoize on it

    fs.write_atomic("runs/experiment_id=1/run_id=r3/final-9.parquet", b"f")  # a run finishes
    assert "runs/experiment_id=1/run_id=r3/final-9.parquet" in _settled(fs)
    fs.delete("runs/experiment_id=1/run_id=r4/seg-4.parquet")  # compacted away
    assert "runs/experiment_id=1/run_id=r4/seg-4.parquet" not in _settled(fs)
    stats.clear()
    assert len(fs.list_files_cached("runs")) == 20 and not [p for p in stats if "run_id=" in p]

    # A writer that died between its rename and its second stamp: the first one is enough.
    folder = tmp_path / "store/runs/experiment_id=1/run_id=r5"
    fs._stamp_above(str(folder / "seg-x.parquet"))
    (folder / "seg-x.parquet").write_bytes(b"x")
    assert "runs/experiment_id=1/run_id=r5/seg-x.parquet" in _settled(fs)
    # Another tool that writes without stamping is seen by the periodic full walk.
    (folder / "seg-y.parquet").write_bytes(b"y")
    monkeypatch.setattr(store_fs, "FULL_WALK_SECONDS", 0.0)
    assert "runs/experiment_id=1/run_id=r5/seg-y.parquet" in _settled(fs)


def test_a_warm_search_sees_runs_finished_and_deleted_in_settled_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm query layer whose run folders are settled (not stat'ed) sees a run finished and
    a run deleted by other processes, and a new run, at its next search."""
    from tracker.store import fs as store_fs

    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
    monkeypatch.setattr(store_fs, "RACY_SECONDS", -3600.0)
    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 3)
    writer = TrackerClient(uri)
    running = writer.create_run(eid, run_name="running").info.run_id
    writer.log_metric(running, "m", 5.0)
    writer.flush()
    warm = StoreQuery(TrackerClient(uri).store)
    for _ in range(3):  # settled
        statuses = dict(warm.sql("SELECT run_name, status FROM runs").values.tolist())
    assert statuses["running"] == "RUNNING"
    finish = """
import sys
from tracker.client import TrackerClient
client = TrackerClient(sys.argv[1])
client.set_terminated(sys.argv[2])
client.delete_run(sys.argv[3])
client.flush()
"""
    gone = writer.search_runs([eid], "attributes.run_name = 'r0'")[0].info.run_id
    subprocess.run([sys.executable, "-c", finish, uri, running, gone], env=_env(tmp_path / "c"),
                   check=True)
    rows = warm.sql("SELECT run_name, status, lifecycle_stage FROM runs ORDER BY run_name")
    assert rows.values.tolist() == [["r0", "FINISHED", "deleted"], ["r1", "FINISHED", "active"],
                                    ["r2", "FINISHED", "active"],
                                    ["running", "FINISHED", "active"]]


# -- snapshots saved after the result ---------------------------------------------------------

_SEARCH = """
import os, signal, sys, time
import tracker
from tracker.query import snapshot
snapshot.MIN_LOAD_SECONDS = 0.0
snapshot.STALE_FILES = 1  # any new file makes a process save again
if sys.argv[3] == "kill-mid-save":
    copy = snapshot._copy_table
    def copy_then_die(con, alias, table, **options):
        copy(con, alias, table, **options)
        if table == "runs":  # some tables written, the file not yet renamed into place
            os.kill(os.getpid(), signal.SIGKILL)
    snapshot._copy_table = copy_then_die
tracker.set_tracking_uri(sys.argv[1])
started = time.perf_counter()
frame = tracker.search_runs([sys.argv[2]], "metrics.m >= 0.1")
print(len(frame), flush=True)
"""


def _search(uri: str, eid: str, cache: Path, mode: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _SEARCH, uri, eid, mode or "-"], env=_env(cache),
                          capture_output=True, text=True, timeout=120)


def test_the_first_process_saves_its_snapshot_before_exiting_cleanly(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 6)
    cache = tmp_path / "cache"
    done = _search(uri, eid, cache)
    assert (done.returncode, done.stdout.strip()) == (0, "5")
    assert done.stderr == ""  # no "Exception ignored", no atexit or thread complaints
    # The snapshot, and the express file a new process's first search reads (#16).
    names = sorted(p.name for p in (cache / "query").iterdir())
    assert len(names) == 2 and names[0].endswith(".duckdb")
    assert names[1].startswith(names[0].removesuffix(".duckdb") + ".express-")
    assert names[1].endswith(".arrow")
    again = _search(uri, eid, cache)
    assert (again.returncode, again.stdout.strip(), again.stderr) == (0, "5", "")


def test_a_process_killed_while_saving_leaves_no_snapshot_that_is_used(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 6)
    cache = tmp_path / "cache"
    killed = _search(uri, eid, cache, "kill-mid-save")
    assert killed.returncode == -signal.SIGKILL and killed.stdout.strip() == "5"
    left = [p.name for p in (cache / "query").iterdir()]
    assert left and all(".tmp-" in name for name in left), left  # only the abandoned temp file

    _log_runs(uri, 2)  # the store moved on: a half-written snapshot would now give 5 rows
    after = _search(uri, eid, cache)
    assert (after.returncode, after.stdout.strip(), after.stderr) == (0, "6", "")
    left = sorted(p.name for p in (cache / "query").iterdir())
    assert len(left) == 2 and left[0].endswith(".duckdb"), left  # saved; the temp file removed
    assert ".express-" in left[1] and left[1].endswith(".arrow"), left  # then the express file

    # Killed while replacing a good snapshot: the good one stays and is used.
    _log_runs(uri, 3)
    killed = _search(uri, eid, cache, "kill-mid-save")
    assert killed.returncode == -signal.SIGKILL and killed.stdout.strip() == "8"
    final = _search(uri, eid, cache)
    assert (final.returncode, final.stdout.strip(), final.stderr) == (0, "8", "")


def test_a_background_save_is_dropped_when_the_tables_change_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.query import snapshot

    monkeypatch.setenv("TRACKER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACKER_QUERY_SNAPSHOTS", raising=False)
    monkeypatch.setattr(snapshot, "MIN_LOAD_SECONDS", 0.0)
    uri = str(tmp_path / "store")
    _log_runs(uri, 3)
    query = StoreQuery(TrackerClient(uri).store)
    copy = snapshot._copy_table

    def copy_while_a_load_lands(con: object, alias: str, table: str, **options: bool) -> None:
        copy(con, alias, table, **options)  # type: ignore[arg-type]
        if table == "runs":
            _log_runs(uri, 1)
            query.refresh()  # this process loads the new run while the save copies

    monkeypatch.setattr(snapshot, "_copy_table", copy_while_a_load_lands)
    assert len(_names(query)) == 3
    assert query.wait_for_snapshot(30)
    assert not (tmp_path / "cache" / "query").exists() or not [
        p for p in (tmp_path / "cache" / "query").iterdir() if p.suffix == ".duckdb"
    ], "a snapshot mixing two states of the tables was kept"
    monkeypatch.setattr(snapshot, "_copy_table", copy)
    assert len(_names(StoreQuery(TrackerClient(uri).store))) == 4


# -- big loads, compressed chunk by chunk ------------------------------------------------------


def _tables(query: StoreQuery) -> dict[str, list[tuple[object, ...]]]:
    tables = ("runs", "params", "tags", "latest_metrics", "metrics", "experiments")
    return {t: sorted(map(tuple, query.sql(f"SELECT * FROM {t}").astype(str).values.tolist()))
            for t in tables}


def test_a_big_load_in_compressed_chunks_gives_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import tracker.query as query_module
    from tracker.store.compact import compact

    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
    uri = str(tmp_path / "store")
    _log_runs(uri, 6)
    compact(TrackerClient(uri).store, min_runs=1)  # one part holding every record
    _log_runs(uri, 3, experiment="later")  # and loose run files beside it
    whole = _tables(StoreQuery(TrackerClient(uri).store))
    assert len(whole["runs"]) == 9

    monkeypatch.setattr(query_module, "BIG_LOAD_BYTES", 0)
    monkeypatch.setattr(query_module, "CHUNK_ROWS", 5)  # the part is read in ranges of rows
    traced: list[str] = []
    chunked = StoreQuery(TrackerClient(uri).store, tracer=traced.append)
    assert _tables(chunked) == whole
    assert sum(sql.startswith("CHECKPOINT") for sql in traced) >= 4, "loaded in chunks"
    stored = chunked.sql("SELECT DISTINCT compression FROM pragma_storage_info('records') "
                         "WHERE segment_type = 'VARCHAR'")
    assert set(stored["compression"]) - {"Uncompressed"}, "the records are kept compressed"

    # A damaged file among them: the chunks loaded are undone and the load finds the bad file.
    victim = next(Path(uri).glob("runs/*/run_id=*/*.parquet"))
    victim.write_bytes(victim.read_bytes()[:40])
    damaged = StoreQuery(TrackerClient(uri).store)
    assert len(damaged.sql("SELECT * FROM runs")) == 8
    assert any(victim.name in w for w in damaged.warnings)


def test_after_a_big_load_the_first_search_leaves_the_wide_table_to_the_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#16: after a load read in compressed chunks, the first search pivots the rows of its
    own runs and the background snapshot save builds ``runs_wide``; the DataFrames are those
    of a small load, and the next process starts with the wide table."""
    import tracker.query as query_module
    from tracker.query import reads, snapshot

    monkeypatch.setenv("TRACKER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACKER_QUERY_SNAPSHOTS", raising=False)
    monkeypatch.setattr(snapshot, "MIN_LOAD_SECONDS", 0.0)
    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 6)

    def frame(query: StoreQuery) -> pd.DataFrame:
        return reads.runs_dataframe(query, reads.search_runs(query, [eid], "metrics.m >= 0.1"))

    with monkeypatch.context() as m:
        m.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
        small = StoreQuery(TrackerClient(uri).store)
        expected = frame(small)
        assert small.wide_table() is not None and not small.wide_table_later()

    monkeypatch.setattr(query_module, "BIG_LOAD_BYTES", 0)
    traced: list[str] = []
    big = StoreQuery(TrackerClient(uri).store, tracer=traced.append)
    got = frame(big)
    assert not any("CREATE OR REPLACE TABLE runs_wide" in sql for sql in traced)
    pd.testing.assert_frame_equal(got, expected)
    assert len(got) == 5
    assert big.wait_for_snapshot(30)  # the save built runs_wide on its own cursor
    assert not big.wide_table_later() and big.wide_table() is not None
    pd.testing.assert_frame_equal(frame(big), expected)
    restored = StoreQuery(TrackerClient(uri).store)
    pd.testing.assert_frame_equal(frame(restored), expected)
    assert restored.wide_table() is not None


def test_a_warm_refresh_looks_for_dead_runs_only_while_some_run_is_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a RUNNING run and with the tables unchanged there is no run to mark dead: the
    query is skipped (~1 ms of a warm search); a run logged meanwhile is checked again."""
    import tracker.query as query_module

    monkeypatch.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 2)
    traced: list[str] = []
    query = StoreQuery(TrackerClient(uri).store, tracer=traced.append)
    query.refresh()
    traced.clear()
    query.refresh()
    assert not [sql for sql in traced if "'RUNNING'" in sql]
    monkeypatch.setattr(query_module, "run_is_dead", lambda *args: True)
    writer = TrackerClient(uri)
    running = writer.create_run(eid, run_name="left running").info.run_id
    writer.flush()
    query.refresh()
    assert query.sql("SELECT run_id FROM runs WHERE dead")["run_id"].tolist() == [running]
    traced.clear()
    query.refresh()  # a RUNNING run: looked at on every refresh (it may die any time)
    assert [sql for sql in traced if "'RUNNING'" in sql]


def test_a_first_search_waits_for_the_plan_only_before_a_load_from_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cold search imports pandas once the store's reads are planned (``wait_until_planned``);
    it never waits its whole timeout for a search that fails first, nor when a snapshot is
    to be restored."""
    import time

    import tracker.client as client_module
    from tracker.exceptions import InvalidArgumentError
    from tracker.query import snapshot

    monkeypatch.setenv("TRACKER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACKER_QUERY_SNAPSHOTS", raising=False)
    monkeypatch.setattr(snapshot, "MIN_LOAD_SECONDS", 0.0)
    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 3)
    query = StoreQuery(TrackerClient(uri).store)
    started = time.monotonic()
    query.wait_until_planned(0.3)  # nothing planned yet: the whole timeout
    assert time.monotonic() - started >= 0.3
    monkeypatch.setattr(client_module, "PLAN_WAIT_SECONDS", 30.0)
    cold = TrackerClient(uri)
    assert cold.query.cold
    started = time.monotonic()
    with pytest.raises(InvalidArgumentError):
        cold.search_runs_frame([eid], "params.p = = 1")  # fails before its refresh
    assert time.monotonic() - started < 10
    assert len(TrackerClient(uri).search_runs_frame([eid], "params.p = '1'")) == 1
    assert query.wait_for_snapshot(30)
    restored = StoreQuery(TrackerClient(uri).store)
    started = time.monotonic()
    restored.wait_until_planned(30)  # a snapshot to restore: no wait
    assert time.monotonic() - started < 10
