"""A compactor killed with SIGKILL at each step, over and over (issue #19).

Each round logs a few runs, starts a real compactor process that pauses at one step (its temp
file written; its part published; half of the covered files deleted), kills it with SIGKILL
there, and checks what a user would: tracker reads every row once at once; plain DuckDB and
Polars over the raw files count every row exactly once after ``tracker gc`` (before it, a
published-but-not-cleaned part is counted twice, and ``tracker doctor`` says so); and the next
compaction (or gc) takes over the dead compactor's lock within a second.

The child pauses by wrapping one store method in its own script: nothing in tracker knows
about this test.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tracker
from tracker.client import TrackerClient
from tracker.ops.doctor import diagnose
from tracker.ops.gc import gc
from tracker.query import StoreQuery
from tracker.store import LocalFS, Store
from tracker.store.compact import compact

REPO = Path(__file__).resolve().parents[1]
STEPS_PER_RUN = 4
RUNS_PER_ROUND = 3

COMPACTOR = """
    import os, sys, time
    from pathlib import Path
    from tracker.store import LocalFS, Store
    from tracker.store.compact import compact

    root, step, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])

    def pause(what):
        marker.write_text(what)
        time.sleep(600)  # killed here

    if step == "temp":  # the part's bytes are in its temporary file, not yet renamed
        write_temp = LocalFS._write_temp
        def _write_temp(self, full, data):
            tmp = write_temp(self, full, data)
            if f"{os.sep}parts{os.sep}" in full:
                pause(tmp)
            return tmp
        LocalFS._write_temp = _write_temp
    elif step == "publish":  # the part is published, nothing it covers is deleted yet
        write_sorted = Store.write_sorted
        def _write_sorted(self, folder, prefix, rows, covers):
            file_id = write_sorted(self, folder, prefix, rows, covers)
            if prefix == "part":
                pause(file_id)
            return file_id
        Store.write_sorted = _write_sorted
    elif step == "delete":  # half of the covered files are deleted
        delete_many = LocalFS.delete_many
        def _delete_many(self, paths):
            delete_many(self, paths[: len(paths) // 2])
            pause(str(len(paths)))
        LocalFS.delete_many = _delete_many
    compact(Store(LocalFS(root)), wait_lock=True)
    print("not killed")
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env.update(
        OMP_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        TRACKER_AUTO_COMPACT="0",
    )
    return env


def _log_runs(root: Path, first: int) -> None:
    tracker.set_tracking_uri(str(root))
    tracker.set_experiment("crashes")
    for i in range(first, first + RUNS_PER_ROUND):
        with tracker.start_run(run_name=f"r{i}"):
            tracker.log_param("i", i)
            for step in range(STEPS_PER_RUN):
                tracker.log_metric("loss", i + step / 10, step=step)


def _kill_compactor_at(root: Path, step: str, tmp_path: Path) -> int:
    """Start a compactor, SIGKILL it at ``step``; return its pid."""
    script = tmp_path / "compactor.py"
    script.write_text(textwrap.dedent(COMPACTOR))
    marker = tmp_path / f"paused-{step}-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), step, str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the compactor never paused at {step!r}:\n{out}\n{err[-3000:]}")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)  # reaped: its pid is gone, not a zombie
    assert proc.returncode == -signal.SIGKILL
    return proc.pid


def _plain_counts(root: Path) -> dict[str, tuple[int, int]]:
    """(rows, distinct rows) per engine over every ``*.parquet`` file, read without tracker."""
    import duckdb
    import polars as pl

    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    duck = con.execute(
        "select count(*), count(distinct (run_id, seg, kind, key, step, seq)) "
        f"from read_parquet('{root}/**/*.parquet', union_by_name = true) "
        "where kind = 'metric'"
    ).fetchone()
    assert duck is not None
    frame = pl.read_parquet(
        f"{root}/**/*.parquet", hive_partitioning=False, missing_columns="insert"
    ).filter(pl.col("kind") == "metric")
    unique = frame.select("run_id", "seg", "kind", "key", "step", "seq").unique().height
    return {"duckdb": (duck[0], duck[1]), "polars": (frame.height, unique)}


def _tracker_metrics(root: Path) -> int:
    frame = StoreQuery(Store(LocalFS(str(root)))).sql("select count(*) from metrics")
    return int(frame.iloc[0, 0])


@pytest.mark.slow
def test_a_compactor_killed_at_each_step_leaves_rows_counted_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "store"
    lock = root / ".locks" / "compact.lock"
    runs = 0
    takeover_seconds: list[float] = []
    for round_ in range(2):
        for step in ("temp", "publish", "delete"):
            _log_runs(root, runs)
            runs += RUNS_PER_ROUND
            expected = runs * STEPS_PER_RUN
            started = time.time()
            pid = _kill_compactor_at(root, step, tmp_path)

            # The dead compactor's lock says who held it and since when.
            held = json.loads(lock.read_text())
            assert (held["host"], held["pid"]) == (os.uname().nodename, pid)
            assert started <= held["started"] <= held["heartbeat"] <= time.time()
            # tracker's own readers count every row once, whatever the crash left.
            assert _tracker_metrics(root) == expected
            plain = _plain_counts(root)
            if step == "publish":  # the part and everything it absorbed are both there
                assert plain["duckdb"][0] > expected and plain["polars"][0] > expected
                [finding] = [f for f in diagnose(TrackerClient(str(root))) if
                             f.subject == "superseded"]
                assert finding.severity == "warning" and "tracker gc" in finding.fix
            if step == "temp":  # an unpublished part is invisible to plain engines too
                assert list((root / "parts").rglob(".tmp-*"))
                assert plain == {"duckdb": (expected, expected), "polars": (expected, expected)}

            if round_ == 1:
                # The next compaction does not wait for the dead holder.
                caplog.clear()
                began = time.time()
                with caplog.at_level(logging.WARNING, logger="tracker.store"):
                    result = compact(Store(LocalFS(str(root))), wait_lock=True)
                [notice] = [r for r in caplog.records if "took over the lock" in r.getMessage()]
                assert f"process {pid} on {os.uname().nodename}" in notice.getMessage()
                assert f"its process {pid} on" in notice.getMessage()
                took = notice.created - began
                takeover_seconds.append(took)
                assert took < 1.0
                assert result.files_written >= 1
            # gc removes whatever the crash left (and takes a dead lock over itself).
            cleaned = gc(Store(LocalFS(str(root))))
            kinds = {item.kind for item in cleaned.items}
            if round_ == 0:
                assert "lock" in kinds
                if step in ("publish", "delete"):
                    assert "superseded" in kinds
            assert not lock.exists()
            assert _plain_counts(root) == {
                "duckdb": (expected, expected), "polars": (expected, expected)
            }
            assert _tracker_metrics(root) == expected
            assert [f for f in diagnose(TrackerClient(str(root))) if f.subject == "superseded"] == []
    assert len(takeover_seconds) == 3
    print(f"takeover after SIGKILL: {', '.join(f'{s * 1000:.0f} ms' for s in takeover_seconds)}")
