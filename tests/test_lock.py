"""The compaction lock (issue #19): who holds it, heartbeats, and taking over a dead holder's lock.

Holders are real processes where it matters (a child that took the lock and was SIGKILLed, six
processes competing for one dead lock); locks of "another machine" are written as that machine
writes them, with its host name and heartbeat.
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
from click.testing import CliRunner

import tracker
from tracker.cli import cli
from tracker.exceptions import InvalidArgumentError
from tracker.store import LocalFS, Store
from tracker.store import lock as locks
from tracker.store.compact import compact, compaction_lock
from tracker.store.lock import StoreLock, holder_gone, read_lock

REPO = Path(__file__).resolve().parents[1]
HOST = os.uname().nodename


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    path = [str(REPO), os.environ.get("PYTHONPATH", "")]
    env.update(PYTHONPATH=os.pathsep.join(p for p in path if p), PYTHONDONTWRITEBYTECODE="1")
    return env


def _store(tmp_path: Path) -> Store:
    return Store(LocalFS(str(tmp_path / "store")))


def _write_lock(store: Store, **body: object) -> Path:
    path = Path(store.fs.full_path(".locks/compact.lock"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return path


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )
    return int(done.stdout)


HOLDER = """
    import sys, time
    from tracker.client import TrackerClient
    from tracker.store.compact import compaction_lock
    lock = compaction_lock(TrackerClient(sys.argv[1]).store)
    assert lock.acquire(wait=False)
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_lock_records_its_holder_and_goes_on_release(tmp_path: Path) -> None:
    store = _store(tmp_path)
    lock = compaction_lock(store)
    before = time.time()
    assert lock.acquire(wait=False)
    body = json.loads(Path(store.fs.full_path(lock.path)).read_text())
    assert (body["host"], body["pid"]) == (HOST, os.getpid())
    assert before <= body["started"] <= body["heartbeat"] <= time.time()
    assert body["token"] == lock.token and lock.still_held()
    assert not compaction_lock(store).acquire(wait=False)  # held: a second one gives up
    lock.release()
    assert not Path(store.fs.full_path(lock.path)).exists()
    assert compaction_lock(store).acquire(wait=False)


def test_a_sigkilled_holders_lock_is_taken_over_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), store.fs.root],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    info = read_lock(store.fs, ".locks/compact.lock")
    assert info is not None and (info.host, info.pid) == (HOST, holder.pid)
    assert holder_gone(info) is None  # alive: nobody may take it
    assert not compaction_lock(store).acquire(wait=False)
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=60)

    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tracker.store"):
        lock = compaction_lock(store)
        assert lock.acquire(wait=True)
    assert time.monotonic() - began < 1.0
    assert lock.took_over is not None
    assert f"from process {holder.pid} on {HOST}, holding it since " in lock.took_over
    assert lock.took_over.endswith(f"its process {holder.pid} on {HOST} is gone")
    assert [r.getMessage() for r in caplog.records] == [f"tracker: {lock.took_over}"]
    lock.release()


def test_tracker_compact_says_it_took_over_and_does_not_wait(
    tmp_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(LocalFS(tmp_store))
    pid = _dead_pid()
    _write_lock(store, host=HOST, pid=pid, time=time.time())  # a lock from before #19
    began = time.time()
    with caplog.at_level(logging.WARNING, logger="tracker.store"):
        result = CliRunner().invoke(cli, ["--store", tmp_store, "compact"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Compacted 12 runs")
    # The notice goes to stderr through logging (pytest's handler catches it here).
    [notice] = caplog.records
    assert notice.getMessage().startswith(
        f"tracker: took over the lock {Path(tmp_store, '.locks', 'compact.lock').as_uri()} "
        f"from process {pid} on {HOST}, holding it since "
    )
    assert notice.getMessage().endswith(f"its process {pid} on {HOST} is gone")
    assert notice.created - began < 1.0  # it used to wait 600 s


def test_a_lock_left_by_an_earlier_process_with_our_pid_is_taken_over(tmp_path: Path) -> None:
    store = _store(tmp_path)  # pids repeat: pid 1 in every container, for one
    _write_lock(store, host=HOST, pid=os.getpid(), started=time.time(), heartbeat=time.time(),
                token="9a" * 16, time=time.time())
    lock = compaction_lock(store)
    assert lock.acquire(wait=False)
    assert lock.took_over is not None and "(this process has that pid now)" in lock.took_over
    assert not compaction_lock(store).acquire(wait=False)  # our own live lock is respected
    lock.release()


def test_another_hosts_lock_is_kept_while_its_heartbeat_is_fresh(tmp_path: Path) -> None:
    store = _store(tmp_path)
    now = time.time()
    _write_lock(store, host="elsewhere", pid=1, started=now - 3600, heartbeat=now - 5,
                token="ab" * 16, time=now - 5)
    assert not compaction_lock(store).acquire(wait=False)
    info = read_lock(store.fs, ".locks/compact.lock")
    assert info is not None and holder_gone(info) is None
    assert holder_gone(info, now + 61) == "no heartbeat for 66 s (a holder is gone after 60 s)"


def test_another_hosts_lock_is_taken_over_after_the_heartbeat_timeout(tmp_path: Path) -> None:
    store = _store(tmp_path)
    old = time.time() - 61
    _write_lock(store, host="elsewhere", pid=1, started=old - 600, heartbeat=old,
                token="cd" * 16, time=old)
    lock = compaction_lock(store)
    assert lock.acquire(wait=False)
    assert lock.took_over is not None
    assert "from process 1 on elsewhere" in lock.took_over
    assert "no heartbeat for 61 s" in lock.took_over
    lock.release()


def test_a_heartbeat_from_a_clock_ahead_of_ours_is_judged_by_watching_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "LOCK_TIMEOUT_SECONDS", 0.5)
    store = _store(tmp_path)
    ahead = time.time() + 3600  # the dead holder's clock ran an hour ahead
    _write_lock(store, host="elsewhere", pid=1, started=ahead, heartbeat=ahead,
                token="ef" * 16, time=ahead)
    lock = compaction_lock(store)
    assert not lock.acquire(wait=False)  # one look cannot tell
    began = time.monotonic()
    assert lock.acquire(wait=True, wait_seconds=5)
    assert 0.5 <= time.monotonic() - began < 5.0
    assert lock.took_over is not None
    assert "from process 1 on elsewhere" in lock.took_over
    assert ": its heartbeat did not change for " in lock.took_over
    lock.release()


def test_a_live_holder_heartbeats_and_keeps_its_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "LOCK_HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(locks, "LOCK_TIMEOUT_SECONDS", 1.0)
    store = _store(tmp_path)
    holder = compaction_lock(store)
    assert holder.acquire(wait=False)
    first = read_lock(store.fs, holder.path)
    waiter = compaction_lock(store)
    assert not waiter.acquire(wait=True, wait_seconds=2.0)  # two timeouts: never stale
    assert waiter.took_over is None
    second = read_lock(store.fs, holder.path)
    assert first is not None and second is not None
    assert second.heartbeat - first.heartbeat >= 1.5 and second.started == first.started
    assert holder.still_held()
    holder.release()


def test_a_holder_whose_lock_was_taken_over_notices_and_leaves_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    slow = compaction_lock(store)
    assert slow.acquire(wait=False)
    # Another machine judged it dead and took the lock over (its file, its token).
    now = time.time()
    path = _write_lock(store, host="elsewhere", pid=7, started=now, heartbeat=now,
                       token="12" * 16, time=now)
    assert not slow.still_held()
    slow.release()
    assert json.loads(path.read_text())["token"] == "12" * 16  # not removed by the loser


def test_compaction_publishes_nothing_once_its_lock_is_lost(
    tmp_store: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(LocalFS(tmp_store))

    def lost(self: StoreLock) -> bool:
        return False

    monkeypatch.setattr(StoreLock, "still_held", lost)
    with caplog.at_level(logging.WARNING, logger="tracker.store"):
        result = compact(store)
    assert (result.files_written, result.files_deleted) == (0, 0)
    assert not Path(tmp_store, "parts").exists()
    assert "another process took over the lock (the store is intact" in caplog.text


SIX = """
    import json, sys, time
    from pathlib import Path
    from tracker.store import LocalFS, Store
    from tracker.store.compact import compaction_lock
    root, go, log = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    lock = compaction_lock(Store(LocalFS(root)))
    while not go.exists():
        time.sleep(0.005)
    assert lock.acquire(wait=True, wait_seconds=60)
    entered = time.time()
    time.sleep(0.2)
    left = time.time()
    lock.release()
    print(json.dumps([entered, left, lock.took_over is not None]))
"""


def test_six_processes_take_a_dead_lock_one_at_a_time(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _write_lock(store, host=HOST, pid=_dead_pid(), started=time.time(), heartbeat=time.time(),
                token="34" * 16, time=time.time())
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(SIX), store.fs.root, str(go), str(tmp_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )
        for _ in range(6)
    ]
    time.sleep(1.0)
    go.touch()
    spans = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        spans.append(json.loads(out))
    spans.sort()
    assert sum(took for _, _, took in spans) == 1  # one takeover, then ordinary waiting
    for (_, left, _), (entered, _, _) in zip(spans, spans[1:]):
        assert left <= entered  # never two holders at once
    assert list(Path(store.fs.full_path(".locks")).iterdir()) == []  # nothing left behind


def test_lock_and_compaction_arguments_are_checked(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(InvalidArgumentError, match="Invalid lock name '../x'"):
        StoreLock(store, "../x")
    with pytest.raises(InvalidArgumentError, match="min_runs must be an integer >= 1, got 0"):
        compact(store, min_runs=0)
    with pytest.raises(InvalidArgumentError, match="wait_seconds"):
        compaction_lock(store).acquire(wait=True, wait_seconds=-1)


def test_gc_finishes_a_takeover_whose_process_died(tmp_path: Path) -> None:
    from tracker.ops.gc import gc

    store = _store(tmp_path)
    tracker.TrackerClient(store.fs.root).create_experiment("x")
    token = "56" * 16
    _write_lock(store, host=HOST, pid=_dead_pid(), started=time.time(), heartbeat=time.time(),
                token=token, time=time.time())
    # A waiter claimed the takeover, then died before removing the lock.
    claim = Path(store.fs.full_path(f".locks/compact.lock.{token}.takeover"))
    claim.write_text(json.dumps({"host": HOST, "pid": _dead_pid(), "time": time.time()}))
    items = [(i.kind, i.path, i.reason) for i in gc(store).items]
    assert [(kind, path) for kind, path, _ in items] == [
        ("lock", ".locks/compact.lock"),
        ("lock", f".locks/compact.lock.{token}.takeover"),
    ]
    assert items[0][2].startswith("its process ") and items[1][2] == (
        "a takeover whose process is gone"
    )
    assert list(claim.parent.iterdir()) == []


def test_a_takeover_left_half_done_does_not_block_the_next_one(tmp_path: Path) -> None:
    store = _store(tmp_path)
    token = "78" * 16
    _write_lock(store, host=HOST, pid=_dead_pid(), started=time.time(), heartbeat=time.time(),
                token=token, time=time.time())
    claim = Path(store.fs.full_path(f".locks/compact.lock.{token}.takeover"))
    claim.write_text(json.dumps({"host": HOST, "pid": _dead_pid(), "time": time.time()}))
    lock = compaction_lock(store)
    assert lock.acquire(wait=False) and lock.took_over is not None
    assert [p.name for p in claim.parent.iterdir()] == ["compact.lock"]
    lock.release()


def _spawn_holder(uri: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), uri],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )
    assert holder.stdout is not None
    line = holder.stdout.readline()
    if line != "held\n":
        holder.kill()
        pytest.fail(f"the holder did not take the lock: {holder.communicate()[1][-3000:]}")
    return holder


def test_on_s3_a_killed_holder_is_taken_over_and_gc_removes_an_absorbed_part(
    s3_bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    from tracker.ops.gc import gc
    from tracker.store.s3 import open_s3_store

    uri = f"s3://{s3_bucket}/store"
    client = tracker.MlflowClient(uri)
    eid = client.create_experiment("e")

    def log(first: int) -> None:
        for i in range(first, first + 3):
            run_id = client.create_run(eid).info.run_id
            client.log_metric(run_id, "m", float(i))
            client.set_terminated(run_id)
        client.flush()

    def plain_metric_rows() -> int:
        s3 = pafs.S3FileSystem(endpoint_override=moto_endpoint, access_key="testing",
                               secret_key="testing", region="us-east-1")
        table = ds.dataset(f"{s3_bucket}/store/parts", filesystem=s3, format="parquet").to_table()
        return sum(1 for kind in table.column("kind").to_pylist() if kind == "metric")

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    log(0)
    compact(open_s3_store(uri))
    [old] = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="store/parts/")["Contents"]]
    body = s3.get_object(Bucket=s3_bucket, Key=old)["Body"].read()
    log(3)
    compact(open_s3_store(uri))
    s3.put_object(Bucket=s3_bucket, Key=old, Body=body)  # as a compactor killed after publishing
    assert plain_metric_rows() == 9

    holder = _spawn_holder(uri)
    raw = s3.get_object(Bucket=s3_bucket, Key="store/.locks/compact.lock")["Body"].read()
    assert (json.loads(raw)["host"], json.loads(raw)["pid"]) == (HOST, holder.pid)
    assert not compaction_lock(open_s3_store(uri)).acquire(wait=False)
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=60)

    monkeypatch.setattr(locks, "LOCK_HEARTBEAT_SECONDS", 0.1)
    lock = compaction_lock(open_s3_store(uri))
    began = time.monotonic()
    assert lock.acquire(wait=True)
    assert time.monotonic() - began < 1.0
    assert lock.took_over is not None and f"its process {holder.pid} on {HOST} is gone" in (
        lock.took_over
    )
    first = read_lock(lock.store.fs, lock.path)
    time.sleep(0.5)
    later = read_lock(lock.store.fs, lock.path)
    assert first is not None and later is not None and later.heartbeat > first.heartbeat
    lock.release()

    items = gc(open_s3_store(uri)).items
    assert ("superseded", old[len("store/"):]) in [(i.kind, i.path) for i in items]
    assert plain_metric_rows() == 6
    assert not [
        o for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="store/.locks/").get("Contents", [])
    ]
