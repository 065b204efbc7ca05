"""``tracker gc`` and ``tracker doctor`` on real stores: each kind of garbage and of problem.

Garbage and problems are made the way they happen: files copied back as a git merge or a
crashed compactor leaves them, temporary files with old modification times, a child process
that exits without ending its run, Parquet files with a newer format version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

import tracker
from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.ops.conflicts import find_conflicts
from tracker.ops.gc import gc, parse_duration
from tracker.store.compact import compact

HOUR_AGO = time.time() - 3 * 3600
TEMP = ".tmp-0123456789abcdef0123456789abcdef-seg-1.parquet"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _age(path: Path, when: float = HOUR_AGO) -> Path:
    os.utime(path, (when, when))
    return path


def _metrics(uri: str) -> list[tuple[str, float]]:
    frame = TrackerClient(uri).sql("SELECT run_id, value FROM metrics ORDER BY run_id, step, value")
    return [(str(r), float(v)) for r, v in frame.itertuples(index=False, name=None)]


def _files(root: str, under: str = "") -> set[str]:
    base = Path(root)
    return {p.relative_to(base).as_posix() for p in (base / under).rglob("*") if p.is_file()}


# -- gc ------------------------------------------------------------------------------------------


def test_gc_on_a_healthy_store_deletes_nothing(tmp_store: str) -> None:
    before = _files(tmp_store)
    result = run("--store", tmp_store, "gc")
    assert result.exit_code == 0
    assert result.stdout == "Nothing to delete.\n"
    assert _files(tmp_store) == before


def test_gc_removes_only_old_temporary_files(tmp_store: str) -> None:
    run_folder = next(Path(tmp_store, "runs").glob("experiment_id=*/run_id=*"))
    old = run_folder / TEMP
    old.write_bytes(b"x" * 10)
    _age(old)
    young = run_folder / TEMP.replace("0123", "4567")
    young.write_bytes(b"y" * 7)
    artifact = Path(tmp_store, "artifacts", ".tmp-notes.txt")  # a user's file, not our temp name
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text("keep")
    _age(artifact)

    dry = run("--store", tmp_store, "gc", "--dry-run")
    assert dry.exit_code == 0
    rel = old.relative_to(tmp_store).as_posix()
    assert dry.stdout.splitlines()[2].split() == ["temp", "10", rel]
    assert dry.stdout.splitlines()[-1] == "Would delete 1 path, 10 bytes."
    assert old.exists()

    real = run("--store", tmp_store, "gc")
    assert real.stdout.splitlines()[-1] == "Deleted 1 path, 10 bytes."
    assert not old.exists() and young.exists() and artifact.exists()
    # A shorter minimum age takes the young one too.
    assert run("--store", tmp_store, "gc", "--min-age", "0s").exit_code == 0
    assert not young.exists() and artifact.exists()


def _compact_but_keep_inputs(store: str) -> list[Path]:
    """Compact, then put the compacted run files back, as a crashed compactor leaves them."""
    saved = Path(store).parent / "saved-runs"
    shutil.copytree(Path(store, "runs"), saved)
    assert compact(TrackerClient(store).store).files_written == 2
    shutil.copytree(saved, Path(store, "runs"), dirs_exist_ok=True)
    return sorted(Path(store, "runs").rglob("*.parquet"))


def test_gc_removes_files_a_readable_part_really_holds(tmp_store: str) -> None:
    before = _metrics(tmp_store)
    restored = _compact_but_keep_inputs(tmp_store)
    assert len(restored) == 12
    assert _metrics(tmp_store) == before  # readers already skip them

    dry = gc(TrackerClient(tmp_store).store, dry_run=True)
    assert sorted(i.path for i in dry.items if i.kind == "superseded") == sorted(
        p.relative_to(tmp_store).as_posix() for p in restored
    )
    assert all(p.exists() for p in restored)

    result = run("--store", tmp_store, "gc")
    assert result.exit_code == 0
    assert "superseded" in result.stdout
    assert not list(Path(tmp_store, "runs").rglob("*.parquet"))
    assert not list(Path(tmp_store, "runs").glob("*/*"))  # emptied run folders went too
    assert _metrics(tmp_store) == before


def _plain_metric_rows(store: str) -> int:
    """Metric rows that plain DuckDB reads from every Parquet file of the store (no tracker)."""
    import duckdb

    return int(
        duckdb.sql(
            f"select count(*) from read_parquet('{store}/**/*.parquet', union_by_name = true) "
            "where kind = 'metric'"
        ).fetchall()[0][0]
    )


def test_gc_removes_a_part_that_a_newer_part_absorbed(tmp_store: str) -> None:
    """A compactor killed after publishing leaves the older part it merged (#19)."""
    store = TrackerClient(tmp_store).store
    compact(store)
    old_parts = {p: p.read_bytes() for p in Path(tmp_store, "parts").rglob("part-*.parquet")}
    tracker.set_experiment("alpha")
    with tracker.start_run():
        tracker.log_metric("rmse", 1.0)
    compact(TrackerClient(tmp_store).store)
    for path, data in old_parts.items():
        path.write_bytes(data)  # as the killed compactor left it
    expected = len(_metrics(tmp_store))
    assert expected == 12 * 4 + 1
    assert _plain_metric_rows(tmp_store) == expected + 6 * 4  # alpha's old part counted twice
    [warning] = [f for f in _findings(tmp_store) if f["subject"] == "superseded"]
    assert warning["severity"] == "warning"
    assert warning["message"].startswith("files superseded by compaction are still present: 1 (")

    result = run("--store", tmp_store, "gc")
    assert result.exit_code == 0
    [line] = [line for line in result.stdout.splitlines() if line.startswith("superseded")]
    [gone] = [p for p in old_parts if not p.exists()]  # alpha's; beta's part is still current
    assert line.split()[2] == gone.relative_to(tmp_store).as_posix()
    assert _plain_metric_rows(tmp_store) == expected == len(_metrics(tmp_store))
    assert [f for f in _findings(tmp_store) if f["subject"] == "superseded"] == []


def test_compaction_beside_a_big_part_does_not_merge_what_it_holds(
    tmp_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run files a big (not merged again) part holds are left to gc, not put in a second part."""
    import tracker.store.compact as compaction

    monkeypatch.setattr(compaction, "SMALL_PART_BYTES", 1)  # every part is big
    _compact_but_keep_inputs(tmp_store)  # a compactor killed after publishing
    tracker.set_experiment("alpha")
    with tracker.start_run():
        tracker.log_metric("rmse", 1.0)
    result = compact(TrackerClient(tmp_store).store)
    assert (result.runs, result.files_written) == (1, 1)  # only the new run
    expected = len(_metrics(tmp_store))
    assert run("--store", tmp_store, "gc").exit_code == 0
    assert not list(Path(tmp_store, "runs").rglob("*.parquet"))
    assert _plain_metric_rows(tmp_store) == expected == 12 * 4 + 1


def test_gc_keeps_files_whose_cover_is_a_lie_or_unreadable(tmp_store: str) -> None:
    client = TrackerClient(tmp_store)
    store = client.store
    run_file = next(Path(tmp_store, "runs").rglob("final-*.parquet"))
    eid = run_file.parent.parent.name.split("=", 1)[1]
    file_id = run_file.name[len("final-") : -len(".parquet")]
    # A part whose footer claims the run but holds none of its rows.
    from tracker.store.schema import arrow_schema

    store.write_table(f"parts/experiment_id={eid}", "part", arrow_schema().empty_table(), [file_id])
    assert gc(store).items == ()
    assert run_file.exists()


def test_gc_removes_registry_event_files_folded_into_a_part(store_uri: str) -> None:
    client = TrackerClient(store_uri)
    for i in range(3):
        client.create_model_version("taxi", f"s3://bucket/model-{i}")
    folder = next(Path(store_uri, "registry").glob("model_id=*"))
    segments = sorted(folder.glob("seg-*.parquet"))
    saved = {p: p.read_bytes() for p in segments}
    client.registry.compact_model(folder.name.split("=", 1)[1])
    for path, data in saved.items():
        path.write_bytes(data)
    items = gc(TrackerClient(store_uri).store).items
    assert sorted(i.path for i in items) == sorted(
        p.relative_to(store_uri).as_posix() for p in segments
    )
    assert not any(p.exists() for p in segments)
    versions = TrackerClient(store_uri).search_model_versions("name = 'taxi'")
    assert sorted(v.version for v in versions) == [1, 2, 3]


def _lock(store: str, **body: object) -> Path:
    path = Path(store, ".locks", "compact.lock")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(body))
    return path


def test_gc_removes_a_crashed_compactors_lock_and_then_compacts_safely(tmp_store: str) -> None:
    _compact_but_keep_inputs(tmp_store)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    lock = _lock(tmp_store, host=os.uname().nodename, pid=int(dead.stdout), time=time.time())
    result = run("--store", tmp_store, "gc")
    assert result.exit_code == 0
    kinds = [line.split()[0] for line in result.stdout.splitlines()[2:-1]]
    assert kinds.count("lock") == 1 and kinds.count("superseded") == 12
    assert not lock.exists()


def test_gc_leaves_a_live_lock_and_superseded_files_alone(tmp_store: str) -> None:
    _compact_but_keep_inputs(tmp_store)
    lock = _lock(tmp_store, host=os.uname().nodename, pid=os.getppid(), time=time.time())
    result = CliRunner().invoke(cli, ["--store", tmp_store, "gc"])
    assert result.exit_code == 0
    assert "a compaction is running" in result.stderr
    assert result.stdout == "Nothing to delete.\n"
    assert lock.exists()
    assert len(list(Path(tmp_store, "runs").rglob("*.parquet"))) == 12
    # An old lock is stale whoever holds it.
    _lock(tmp_store, host="elsewhere", pid=1, time=time.time() - 3600)
    assert "lock" in run("--store", tmp_store, "gc").stdout
    assert not list(Path(tmp_store, "runs").rglob("*.parquet"))


def test_gc_removes_old_empty_folders_only(tmp_store: str) -> None:
    old = Path(tmp_store, "runs", "experiment_id=9", "run_id=abc")
    old.mkdir(parents=True)
    _age(old)
    _age(old.parent)
    young = Path(tmp_store, "artifacts", "new")
    young.mkdir(parents=True)
    items = gc(TrackerClient(tmp_store).store).items
    assert [(i.kind, i.path) for i in items] == [
        ("folder", "runs/experiment_id=9/run_id=abc"),
        ("folder", "runs/experiment_id=9"),
    ]
    assert not old.parent.exists() and young.exists()


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("0.5s", 0.5)]
)
def test_min_age_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_gc_rejects_a_bad_min_age(tmp_store: str) -> None:
    result = CliRunner().invoke(cli, ["--store", tmp_store, "gc", "--min-age", "soon"])
    assert result.exit_code == 1
    assert "Invalid duration 'soon'" in result.stderr and "30m, 1h, 2d" in result.stderr
    with pytest.raises(tracker.exceptions.InvalidArgumentError, match="min_age"):
        gc(TrackerClient(tmp_store).store, min_age=-1)


WRITER = textwrap.dedent("""
    import sys, tracker
    tracker.set_tracking_uri(sys.argv[1])
    tracker.set_experiment("busy")
    for i in range(int(sys.argv[2])):
        with tracker.start_run(run_name=f"w{i}"):
            for step in range(3):
                tracker.log_metric("loss", i + step / 10, step=step)
                tracker.flush()
""")


def test_gc_and_compaction_while_a_writer_logs_lose_nothing(store_uri: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "TRACKER_AUTO_COMPACT": "0"}
    writer = subprocess.Popen(
        [sys.executable, str(script), store_uri, "20"], env=env, stderr=subprocess.PIPE, text=True
    )
    store = TrackerClient(store_uri).store
    passes = 0
    while writer.poll() is None:
        compact(store)
        gc(store, min_age=3600)
        passes += 1
    assert writer.wait() == 0, writer.stderr.read() if writer.stderr else ""
    compact(store)
    gc(store, min_age=3600)
    expected = sorted((f"w{i}", i + step / 10) for i in range(20) for step in range(3))
    frame = TrackerClient(store_uri).sql(
        "SELECT r.run_name, m.value FROM metrics m JOIN runs r USING (run_id)"
    )
    assert (
        sorted((str(n), float(v)) for n, v in frame.itertuples(index=False, name=None)) == expected
    )
    assert passes > 1


# -- doctor --------------------------------------------------------------------------------------


def doctor(store: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--store", store, "doctor", *args])


def _findings(store: str) -> list[dict[str, str]]:
    result = doctor(store, "--format", "json")
    return list(json.loads(result.stdout))


def test_doctor_finds_nothing_in_a_healthy_store(tmp_store: str) -> None:
    result = doctor(tmp_store)
    assert (result.exit_code, result.stdout) == (0, "No problems found.\n")
    assert _findings(tmp_store) == []


def test_doctor_names_an_unreadable_file_and_fails(tmp_store: str) -> None:
    folder = next(Path(tmp_store, "runs").glob("experiment_id=*/run_id=*"))
    bad = folder / "seg-18ebdd0000000000deadbeef.parquet"
    bad.write_bytes(b"PAR1 not really")
    result = doctor(tmp_store)
    assert result.exit_code == 1
    rel = bad.relative_to(tmp_store).as_posix()
    assert f"ERROR [file] {rel}: not a readable Parquet file" in result.stdout
    assert "move it out of the store" in result.stdout


def _newer_file(store: str) -> str:
    folder = next(Path(store, "runs").glob("experiment_id=*/run_id=*"))
    table = pq.read_table(next(folder.glob("*.parquet")))
    table = table.replace_schema_metadata({b"tracker.format_version": b"99"})
    path = folder / "seg-18ebdd0000000000cafef00d.parquet"
    pq.write_table(table, path)
    return path.relative_to(store).as_posix()


def test_doctor_says_upgrade_for_newer_files_and_markers(tmp_store: str) -> None:
    rel = _newer_file(tmp_store)
    Path(tmp_store, "tracker-store.json").write_text(
        json.dumps({"format": "tracker-store", "format_version": 2})
    )
    found = {(f["check"], f["subject"]): f for f in _findings(tmp_store)}
    assert found["file", rel]["message"] == (
        "format version '99' is unknown to this tracker (it reads up to 1)"
    )
    marker = found["marker", "tracker-store.json"]
    assert marker["severity"] == "error" and "format version 2" in marker["message"]
    assert all(f["fix"].startswith("upgrade tracker") for f in found.values())
    assert doctor(tmp_store).exit_code == 1


def test_doctor_warns_of_a_missing_marker_and_fix_writes_it(tmp_store: str) -> None:
    marker = Path(tmp_store, "tracker-store.json")
    marker.unlink()
    result = doctor(tmp_store)
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "WARNING [marker] tracker-store.json: tracker-store.json is missing"
    )
    fixed = doctor(tmp_store, "--fix")
    assert "fixed: wrote tracker-store.json (format version 1)" in fixed.stderr
    assert fixed.stdout == "No problems found.\n"
    assert json.loads(marker.read_text())["format_version"] == 1


DIES = textwrap.dedent("""
    import os, sys, tracker
    tracker.set_tracking_uri(sys.argv[1])
    run = tracker.start_run(run_name="crashed")
    tracker.log_metric("loss", 1.0)
    tracker.flush()
    print(run.info.run_id, flush=True)
    os._exit(0)  # no end_run, no atexit: as after kill -9
""")


def test_doctor_lists_runs_left_running_by_a_dead_process(tmp_store: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", DIES, tmp_store],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    run_id = out.stdout.strip()
    result = doctor(tmp_store)
    assert result.exit_code == 0
    assert f"WARNING [dead-run] {run_id}: run is still RUNNING but its process is gone" in (
        result.stdout
    )
    assert f"set_terminated('{run_id}', 'KILLED')" in result.stdout


def test_doctor_points_to_gc_for_garbage(tmp_store: str) -> None:
    _compact_but_keep_inputs(tmp_store)
    temp = Path(tmp_store, "runs", TEMP)
    temp.write_bytes(b"12345")
    _age(temp)
    found = [(f["severity"], f["subject"], f["message"], f["fix"]) for f in _findings(tmp_store)]
    assert [f[:2] for f in found] == [
        ("warning", "superseded"), ("info", "folder"), ("info", "temp")
    ]
    assert found[0][2].startswith("files superseded by compaction are still present: 12 (")
    assert found[0][2].endswith("plain Parquet engines over the store's files (DuckDB, Polars, "
                                "Spark) count their rows twice")
    assert found[0][3] == "run tracker gc: it removes them (tracker gc --dry-run lists them)"
    assert found[2][2] == "temporary files left by interrupted writes: 1 (5 bytes)"
    assert found[1][3] == "run tracker gc (tracker gc --dry-run lists them)"
    assert doctor(tmp_store).exit_code == 0
    run("--store", tmp_store, "gc")
    assert _findings(tmp_store) == []


def _branch_registration(tmp_path: Path) -> tuple[str, str, str, str]:
    """Two copies of a store each register version 2 of 'taxi'; copy B's files into A as a
    git merge does (the claim file with conflict markers). Returns (store, claim, run a, run b).
    """
    a = str(tmp_path / "a")
    TrackerClient(a).create_model_version("taxi", "s3://bucket/base", run_id="base")
    b = str(tmp_path / "b")
    shutil.copytree(a, b)
    TrackerClient(a).create_model_version("taxi", "s3://bucket/a", run_id="run-a")
    TrackerClient(b).create_model_version("taxi", "s3://bucket/b", run_id="run-b")
    folder = next(Path(b, "registry").glob("model_id=*"))
    claim_a = Path(a, folder.relative_to(b), "versions", "v-00000002.json")
    ours, theirs = claim_a.read_text(), (folder / "versions" / "v-00000002.json").read_text()
    for seg in folder.glob("seg-*.parquet"):
        shutil.copy(seg, Path(a, seg.relative_to(b)))
    claim_a.write_text(f"<<<<<<< HEAD\n{ours}\n=======\n{theirs}\n>>>>>>> b\n")
    return a, str(claim_a), "run-a", "run-b"


def test_doctor_detects_and_fixes_a_registry_version_conflict(tmp_path: Path) -> None:
    store, claim, run_a, run_b = _branch_registration(tmp_path)
    result = doctor(store)
    assert result.exit_code == 1
    assert (
        "ERROR [registry] taxi v2: version 2 of model 'taxi' is registered 2 times "
        f"(runs {run_a}, {run_b}); its claim file "
    ) in result.stdout
    assert f"has git conflict markers (HEAD: run {run_a}, b: run {run_b})" in result.stdout
    assert "git checkout --theirs" in result.stdout and "tracker doctor --fix" in result.stdout

    fixed = doctor(store, "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert (
        f"fixed: model 'taxi': kept v2 (run {run_a}), registered the other registration "
        "again as v3" in fixed.stderr
    )
    assert fixed.stdout == "No problems found.\n"
    client = TrackerClient(store)
    versions = {v.version: v.run_id for v in client.search_model_versions("name = 'taxi'")}
    assert versions == {1: "base", 2: run_a, 3: run_b}
    assert json.loads(Path(claim).read_text())["run_id"] == run_a
    assert client.registry.version_info("taxi", 3)["renumbered_from"] == 2
    reasons = [e.reason for e in client.get_model_history("taxi") if e.version == 3]
    assert reasons == [
        "version 2 was registered on two branches merged in git; this "
        "registration moved to version 3"
    ]
    assert find_conflicts(client.registry) == []
    assert doctor(store, "--fix").stderr == ""  # nothing left to fix


def test_the_claim_file_decides_which_registration_keeps_the_number(tmp_path: Path) -> None:
    store, claim, run_a, run_b = _branch_registration(tmp_path)
    theirs = Path(claim).read_text().split("=======\n")[1].split("\n>>>>>>>")[0]
    Path(claim).write_text(theirs)  # git checkout --theirs
    [conflict] = find_conflicts(TrackerClient(store).registry)
    assert not conflict.claim_conflicted
    assert doctor(store, "--fix").exit_code == 0
    versions = {v.version: v.run_id for v in TrackerClient(store).search_model_versions()}
    assert versions == {1: "base", 2: run_b, 3: run_a}


def test_a_claim_file_merged_by_a_union_driver_is_a_conflict_too(tmp_path: Path) -> None:
    store, claim, run_a, run_b = _branch_registration(tmp_path)
    sides = Path(claim).read_text().split("\n")
    Path(claim).write_text(f"{sides[1]}\n{sides[4]}\n")  # what merge=union leaves: both claims
    result = doctor(store)
    assert result.exit_code == 1
    assert "is not one JSON object (merged by a merge=union driver, or damaged)" in result.stdout
    fixed = doctor(store, "--fix")
    assert (fixed.exit_code, fixed.stdout) == (0, "No problems found.\n")
    assert "as one claim (git add it)" in fixed.stderr
    assert json.loads(Path(claim).read_text())["run_id"] == run_a  # the older registration
    versions = {v.version: v.run_id for v in TrackerClient(store).search_model_versions()}
    assert versions == {1: "base", 2: run_a, 3: run_b}
