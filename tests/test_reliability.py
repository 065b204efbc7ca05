"""Reliability: real processes and real files writing one store at once, crashes, bad files, full disks.

No mocks of tracker: child processes run small scripts through the fluent API (``sys.executable``),
and the checks read the store back through ``TrackerClient``, a fresh ``StoreQuery``, plain
``pyarrow.parquet`` and plain DuckDB. The only patched function is ``os.write`` (to simulate a
full disk for files inside one store).
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracker
import tracker.api
from tracker.exceptions import ImmutableParamError, StoreError
from tracker.query import StoreQuery
from tracker.store import LocalFS, Store
from tracker.store.compact import compact
from tracker.store.store import new_seg_id, run_dir

STEPS = 5  # metric steps per run in the stress test; two metrics per step
POINTS_PER_RUN = 2 * STEPS


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_fluent_state() -> Iterator[None]:
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    yield
    while tracker.active_run() is not None:
        tracker.end_run()
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("TRACKER_", "MLFLOW_"))
    }
    env.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


def _spawn(script: str, *args: Any, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, script, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"child process timed out\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}")
    return proc.returncode, out, err


def _run(script: str, *args: Any, timeout: float = 120, **env: str) -> tuple[int, str, str]:
    return _finish(_spawn(script, *args, **env), timeout)


def _ok(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 0, f"child exited with {code}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-5000:]}"
    return out


def _wait_for(path: Path, procs: list[subprocess.Popen[str]], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        for proc in procs:
            if proc.poll() is not None:
                _, out, err = _finish(proc)
                pytest.fail(f"child exited early with {proc.returncode}\n{out[-2000:]}\n{err[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} did not appear within {timeout} s")
        time.sleep(0.02)


def _fresh_query(store: Path) -> StoreQuery:
    """A query over the store that shares no cache with this process's clients."""
    return StoreQuery(Store(LocalFS(str(store))))


def _scalar(frame: Any) -> Any:
    return frame.iloc[0, 0]


def _walk(store: Path) -> list[Path]:
    return sorted(Path(d, f) for d, _, files in os.walk(store) for f in files)


def _parquet_files(store: Path) -> list[Path]:
    return [p for p in _walk(store) if p.suffix == ".parquet" and not p.name.startswith(".tmp-")]


def _temp_files(store: Path) -> list[Path]:
    return [p for p in _walk(store) if p.name.startswith(".tmp-")]


def _assert_all_parquet_readable(store: Path) -> int:
    import pyarrow.parquet as pq

    rows = 0
    files = _parquet_files(store)
    assert files
    for path in files:
        rows += pq.read_table(path).num_rows
    return rows


def _run_folder(store: Path, experiment_id: str, run_id: str) -> Path:
    return store.joinpath(*run_dir(experiment_id, run_id).split("/"))


def _names_path(message: str, path: Path) -> bool:
    """A message names a file by its path or its file: URI."""
    return str(path) in message or path.as_uri() in message


# -- 1. many writers, then compaction under concurrent writers and readers --------------------

WRITER = """
    import sys
    import tracker as mlflow

    store, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("stress")
    for i in range(n):
        with mlflow.start_run(run_name=f"w{worker}-r{i}") as run:
            mlflow.log_params({"worker": worker, "index": i, "lr": 0.001 * (i + 1)})
            mlflow.set_tags({"worker": str(worker), "phase": "one"})
            for step in range(STEPS):
                mlflow.log_metrics(
                    {"loss": worker * 1e6 + i * 1e3 + step, "acc": step / STEPS}, step=step
                )
                if i % 10 == 0 and step == 2:
                    mlflow.flush()  # some runs publish a segment mid-run, then consolidate
        print(worker, i, run.info.run_id, flush=True)
"""

LOGGER = """
    import os
    import sys
    import time
    import tracker as mlflow

    store, worker, ready, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("stress")
    i = 0
    while True:
        with mlflow.start_run(run_name=f"late{worker}-r{i}") as run:
            mlflow.log_params({"worker": worker, "index": i, "lr": 0.5})
            mlflow.set_tags({"worker": str(worker), "phase": "two"})
            for step in range(STEPS):
                mlflow.log_metrics({"loss": float(step), "acc": step / STEPS}, step=step)
                if step == 2:
                    mlflow.flush()  # a segment, then consolidation at end_run, racing the compactor
        print(worker, i, run.info.run_id, flush=True)
        i += 1
        if i == 1:
            open(ready, "w").close()
        if os.path.exists(stop):
            break
        time.sleep(0.25)  # a steady trickle of runs, not a flood that starves the compactor
"""

READER = """
    import os
    import sys
    import time
    import tracker

    store, ready, stop, base = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = tracker.TrackerClient(store)
    tracker.set_tracking_uri(store)
    eid = client.get_experiment_by_name("stress").experiment_id
    last, iterations = 0, 0
    while True:
        frame = tracker.search_runs(experiment_ids=[eid], max_results=1_000_000)
        ids = frame["run_id"].tolist()
        assert len(ids) == len(set(ids)), f"duplicate runs in search_runs: {len(ids)}"
        assert len(ids) >= base, f"only {len(ids)} runs of {base} were seen"
        assert len(ids) >= last, f"runs went from {last} down to {len(ids)}"
        dup = client.sql(
            "select count(*) from (select run_id, key, step from metrics "
            "group by all having count(*) > 1)"
        ).iloc[0, 0]
        assert dup == 0, f"{dup} duplicated metric points"
        short = client.sql(
            "select count(*) from (select r.run_id from runs r join metrics m using (run_id) "
            "where r.status = 'FINISHED' group by r.run_id having count(*) != $n)",
            {"n": POINTS},
        ).iloc[0, 0]
        assert short == 0, f"{short} finished runs without exactly {POINTS} points"
        last = len(ids)
        iterations += 1
        if iterations == 1:
            open(ready, "w").close()
        if os.path.exists(stop):
            break
        time.sleep(0.1)
    print(iterations, last, flush=True)
"""


def _run_ids(out: str) -> dict[str, tuple[int, int]]:
    ids = {}
    for line in out.splitlines():
        worker, index, run_id = line.split()
        ids[run_id] = (int(worker), int(index))
    return ids


def _check_counts(q: Any, expected: dict[str, Any], eid: str) -> None:
    """Every expected run and point is there exactly once (``q`` has a DuckDB-backed ``sql``)."""
    n = len(expected)
    runs = q.sql("select run_id, status from runs where experiment_id = $e", {"e": eid})
    assert len(runs) == n
    assert set(runs["run_id"]) == set(expected)
    assert set(runs["status"]) == {"FINISHED"}
    assert _scalar(q.sql("select count(*) from metrics where experiment_id = $e", {"e": eid})) == (
        n * POINTS_PER_RUN
    )
    per_run = q.sql(
        "select run_id, count(*) as n, count(distinct (key, step)) as d from metrics "
        "where experiment_id = $e group by run_id",
        {"e": eid},
    )
    assert len(per_run) == n
    assert set(per_run["n"]) == {POINTS_PER_RUN}
    assert set(per_run["d"]) == {POINTS_PER_RUN}
    params = q.sql(
        "select count(*) from params p join runs r using (run_id) where r.experiment_id = $e",
        {"e": eid},
    )
    assert _scalar(params) == 3 * n
    tags = q.sql(
        "select count(*) from tags t join runs r using (run_id) "
        "where r.experiment_id = $e and t.key = 'worker'",
        {"e": eid},
    )
    assert _scalar(tags) == n


def _plain_duckdb_counts(store: Path) -> tuple[int, int, int]:
    """Metric rows, distinct metric points and runs, read by plain DuckDB (no tracker)."""
    import duckdb

    rows = duckdb.connect().sql(
        "select count(*) filter (where kind = 'metric'), "
        "count(distinct (run_id, key, step)) filter (where kind = 'metric'), "
        "count(distinct run_id) filter (where kind = 'run') "
        f"from read_parquet('{store}/**/*.parquet', union_by_name = true)"
    ).fetchall()
    return rows[0][0], rows[0][1], rows[0][2]


def _check_history(client: tracker.TrackerClient, run_id: str, worker: int, index: int) -> None:
    loss = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in loss] == [
        (s, worker * 1e6 + index * 1e3 + s) for s in range(STEPS)
    ]
    acc = client.get_metric_history(run_id, "acc")
    assert [(m.step, m.value) for m in acc] == [(s, s / STEPS) for s in range(STEPS)]


@pytest.mark.slow
def test_many_processes_then_compaction_under_load(tmp_path: Path) -> None:
    store = tmp_path / "store"
    header = f"STEPS = {STEPS}\nPOINTS = {POINTS_PER_RUN}\n"
    writer = _script(tmp_path, "writer", header + textwrap.dedent(WRITER))
    eid = tracker.TrackerClient(str(store)).create_experiment("stress")

    # 16 processes x 200 runs, all at once. Compaction is left to the second half (where the
    # loggers keep automatic compaction on), so that here each run is exactly one final file.
    procs = [_spawn(writer, store, w, 200, TRACKER_AUTO_COMPACT="0") for w in range(16)]
    expected: dict[str, tuple[int, int]] = {}
    for proc in procs:
        expected.update(_run_ids(_ok(_finish(proc, timeout=240))))
    assert len(expected) == 3200
    phase_one = dict(expected)

    client = tracker.TrackerClient(str(store))
    _check_counts(client, expected, eid)
    assert _scalar(client.sql("select count(*) from metrics")) == 3200 * POINTS_PER_RUN
    for run_id, (worker, index) in sorted(expected.items())[::800]:
        _check_history(client, run_id, worker, index)
    assert _temp_files(store) == []
    _assert_all_parquet_readable(store)
    n = 3200 * POINTS_PER_RUN
    assert _plain_duckdb_counts(store) == (n, n, 3200)

    # Compaction while 4 processes keep logging and one keeps searching.
    logger = _script(tmp_path, "logger", header + textwrap.dedent(LOGGER))
    reader = _script(tmp_path, "reader", header + textwrap.dedent(READER))
    stop = tmp_path / "stop"
    readies = [tmp_path / f"ready-{w}" for w in range(4)]
    loggers = [_spawn(logger, store, w, readies[w], stop) for w in range(4)]
    reader_proc = _spawn(reader, store, tmp_path / "ready-reader", stop, 3200)
    try:
        for ready in [*readies, tmp_path / "ready-reader"]:
            _wait_for(ready, [*loggers, reader_proc])
        result = compact(Store(LocalFS(str(store))), wait_lock=True)
    finally:
        stop.touch()
    for proc in loggers:
        expected.update(_run_ids(_ok(_finish(proc))))
    iterations, seen = map(int, _ok(_finish(reader_proc)).split())
    assert iterations >= 2
    assert 3200 <= seen <= len(expected)
    assert result.files_written >= 1
    assert len(expected) > 3200

    _check_counts(client, expected, eid)  # the same client, refreshed incrementally
    _check_counts(_fresh_query(store), expected, eid)  # and a reader with no cache
    assert _temp_files(store) == []
    _assert_all_parquet_readable(store)

    # A quiet compaction leaves one copy of everything: even a plain reader counts exactly.
    compact(Store(LocalFS(str(store))))
    _check_counts(_fresh_query(store), expected, eid)
    _check_counts(client, expected, eid)
    assert list((store / "parts").rglob("part-*.parquet"))
    _assert_all_parquet_readable(store)
    n = len(expected) * POINTS_PER_RUN
    assert _plain_duckdb_counts(store) == (n, n, len(expected))
    for run_id, (worker, index) in sorted(phase_one.items())[::100]:
        _check_history(client, run_id, worker, index)


# -- concurrent set_experiment of the same names ------------------------------------------------

SET_EXPERIMENT = """
    import os
    import sys
    import time
    import tracker as mlflow

    store, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mlflow.set_tracking_uri(store)
    mlflow.get_experiment("0")  # warm up imports and the store
    import pyarrow.parquet  # noqa: F401
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(n):
        exp = mlflow.set_experiment(f"exp-{i}")
        print(i, exp.experiment_id, flush=True)
"""


@pytest.mark.slow
def test_concurrent_set_experiment_agrees_on_one_experiment(tmp_path: Path) -> None:
    """Processes that start at once and set the same new experiment names all succeed."""
    store = tmp_path / "store"
    script = _script(tmp_path, "set_experiment", SET_EXPERIMENT)
    go = tmp_path / "go"
    procs = [_spawn(script, store, go, 30) for _ in range(6)]
    time.sleep(2.0)
    go.touch()
    seen: dict[str, set[str]] = {}
    for proc in procs:
        for line in _ok(_finish(proc)).splitlines():
            i, eid = line.split()
            seen.setdefault(i, set()).add(eid)
    assert all(len(ids) == 1 for ids in seen.values()), seen
    client = tracker.TrackerClient(str(store))
    names = [e.name for e in client.search_experiments()]
    assert sorted(names) == sorted({*names}), "two experiments with the same name"
    assert len(names) == 31  # 30 + Default


# -- 2. SIGKILL mid-run ---------------------------------------------------------------------------

KILLED_CHILD = """
    import sys
    import time
    import tracker as mlflow

    store, checkpoint = sys.argv[1], int(sys.argv[2])
    mlflow.set_tracking_uri(store)
    run = mlflow.start_run()
    print("RUN", run.info.run_id, flush=True)
    mlflow.log_params({"lr": 0.1, "name": "killed"})
    step = 0
    while True:
        mlflow.log_metric("x", step * 0.5, step=step)
        step += 1
        if step == checkpoint:
            mlflow.flush()
            print("FLUSHED", step, flush=True)
        time.sleep(0.001)
"""


@pytest.mark.slow
def test_sigkill_mid_run_loses_at_most_one_flush_interval(tmp_path: Path) -> None:
    store = tmp_path / "store"
    script = _script(tmp_path, "killed", KILLED_CHILD)
    checkpoint = 300
    proc = _spawn(script, store, checkpoint, TRACKER_FLUSH_INTERVAL="0.2")
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "RUN", first
        run_id = first[1]
        assert proc.stdout.readline().split() == ["FLUSHED", str(checkpoint)]
        # Let the background flusher publish at least two more segments, then kill mid-logging.
        folder = _run_folder(store, "0", run_id)
        published = len(list(folder.glob("seg-*.parquet")))
        deadline = time.monotonic() + 15
        while len(list(folder.glob("seg-*.parquet"))) < published + 2:
            assert time.monotonic() < deadline, "no background flush after the checkpoint"
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        code, _, err = _finish(proc)
    assert code == -signal.SIGKILL, err

    _assert_all_parquet_readable(store)
    client = tracker.TrackerClient(str(store))

    def check() -> None:
        history = client.get_metric_history(run_id, "x")
        steps = [m.step for m in history]
        assert steps == list(range(len(steps))), "a gap or a duplicate in the flushed points"
        assert all(m.value == m.step * 0.5 for m in history)
        assert len(steps) > checkpoint, "the background flusher published nothing after the checkpoint"
        run = client.get_run(run_id)
        assert run.info.status == "RUNNING"
        assert run.data.params == {"lr": "0.1", "name": "killed"}
        dead = client.sql("select dead from runs where run_id = ?", [run_id])
        assert dead["dead"].tolist() == [True]
        frame = tracker.search_runs(experiment_ids=["0"])
        assert frame["status"].tolist() == ["RUNNING"]
        fresh = _fresh_query(store)
        assert _scalar(fresh.sql("select count(*) from metrics")) == len(steps)
        assert fresh.sql("select dead from runs")["dead"].tolist() == [True]

    tracker.set_tracking_uri(str(store))
    check()
    before = len(client.get_metric_history(run_id, "x"))
    compact(Store(LocalFS(str(store))))
    check()
    assert len(client.get_metric_history(run_id, "x")) == before
    _assert_all_parquet_readable(store)


# -- 3. run status from how a process ends ------------------------------------------------------

STATUS_SCRIPTS = {
    "exception": """
        import sys
        import tracker as mlflow
        mlflow.set_tracking_uri(sys.argv[1])
        with mlflow.start_run() as run:
            print(run.info.run_id, flush=True)
            mlflow.log_metric("m", 1.0)
            raise ValueError("boom in training 42")
    """,
    "keyboard_interrupt": """
        import sys
        import tracker as mlflow
        mlflow.set_tracking_uri(sys.argv[1])
        with mlflow.start_run() as run:
            print(run.info.run_id, flush=True)
            mlflow.log_metric("m", 1.0)
            raise KeyboardInterrupt
    """,
    "sigterm": """
        import sys
        import time
        import tracker as mlflow
        mlflow.set_tracking_uri(sys.argv[1])
        with mlflow.start_run() as run:
            print(run.info.run_id, flush=True)
            mlflow.log_param("p", "v")
            for step in range(50):
                mlflow.log_metric("m", float(step), step=step)
            print("READY", flush=True)
            while True:
                time.sleep(0.05)
    """,
    "no_end_run": """
        import sys
        import tracker as mlflow
        mlflow.set_tracking_uri(sys.argv[1])
        run = mlflow.start_run()
        print(run.info.run_id, flush=True)
        mlflow.log_param("p", "v")
        mlflow.set_tag("t", "x")
        for step in range(50):
            mlflow.log_metric("m", float(step), step=step)
    """,
    "implicit_run": """
        import sys
        import tracker as mlflow
        mlflow.set_tracking_uri(sys.argv[1])
        mlflow.log_param("p", "v")
        print(mlflow.active_run().info.run_id, flush=True)
        for step in range(50):
            mlflow.log_metric("m", float(step), step=step)
    """,
}


@pytest.mark.slow
def test_run_status_follows_how_the_process_ends(tmp_path: Path) -> None:
    store = tmp_path / "store"
    tracker.TrackerClient(str(store)).get_experiment("0")  # create Default before the children race
    procs = {
        name: _spawn(_script(tmp_path, name, body), store) for name, body in STATUS_SCRIPTS.items()
    }
    term = procs["sigterm"]
    assert term.stdout is not None
    term_run = term.stdout.readline().strip()
    assert term.stdout.readline().strip() == "READY"
    term.send_signal(signal.SIGTERM)
    results = {name: _finish(proc) for name, proc in procs.items()}
    run_ids = {name: out.split()[0] for name, (_, out, _) in results.items() if name != "sigterm"}
    run_ids["sigterm"] = term_run

    client = tracker.TrackerClient(str(store))

    def status(name: str) -> str:
        return str(client.get_run(run_ids[name]).info.status)

    code, _, err = results["exception"]
    assert code != 0
    assert "Traceback" in err and "ValueError: boom in training 42" in err
    assert status("exception") == "FAILED"
    assert [m.value for m in client.get_metric_history(run_ids["exception"], "m")] == [1.0]

    code, _, err = results["keyboard_interrupt"]
    assert code != 0 and "KeyboardInterrupt" in err
    assert status("keyboard_interrupt") == "KILLED"

    code, _, err = results["sigterm"]
    assert code != 0, err
    assert status("sigterm") == "KILLED"
    assert [m.step for m in client.get_metric_history(term_run, "m")] == list(range(50))
    assert client.get_run(term_run).data.params == {"p": "v"}

    for name in ("no_end_run", "implicit_run"):
        code, _, err = results[name]
        assert code == 0, (name, err)
        assert "not written" not in err, err  # the exit flush worked the first time
        assert status(name) == "FINISHED", name
        history = client.get_metric_history(run_ids[name], "m")
        assert [(m.step, m.value) for m in history] == [(s, float(s)) for s in range(50)]
        assert client.get_run(run_ids[name]).data.params == {"p": "v"}
    assert client.get_run(run_ids["no_end_run"]).data.tags["t"] == "x"
    assert _scalar(client.sql("select count(*) from runs where dead")) == 0
    assert _temp_files(store) == []


# -- 4. corrupt files ------------------------------------------------------------------------------


def _store_with_runs(store: Path, n: int) -> list[str]:
    tracker.set_tracking_uri(str(store))
    ids = []
    for i in range(n):
        with tracker.start_run(run_name=f"r{i}") as run:
            tracker.log_params({"i": i, "name": f"run {i}"})
            tracker.set_tag("t", str(i))
            for step in range(4):
                tracker.log_metric("m", i + step / 10, step=step)
        ids.append(run.info.run_id)
    return ids


def _corrupt(store: Path, ids: list[str]) -> tuple[Path, Path]:
    """Truncate run 0's only file to half; put random bytes named like a segment in run 1's folder."""
    (truncated,) = _run_folder(store, "0", ids[0]).glob("*.parquet")
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    garbage = _run_folder(store, "0", ids[1]) / f"seg-{new_seg_id()}.parquet"
    garbage.write_bytes(os.urandom(4096))
    return truncated, garbage


def test_corrupt_files_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "store"
    ids = _store_with_runs(store, 6)
    truncated, garbage = _corrupt(store, ids)
    healthy = ids[1:]

    client = tracker.TrackerClient(str(store))
    with caplog.at_level(logging.WARNING, logger="tracker.store"):
        frame = tracker.search_runs(experiment_ids=["0"])
        assert sorted(frame["run_id"]) == sorted(healthy)
        assert _scalar(client.sql("select count(*) from metrics")) == 4 * len(healthy)
        assert _scalar(client.sql("select count(*) from params")) == 2 * len(healthy)
        for i, run_id in enumerate(ids[1:], start=1):
            run = client.get_run(run_id)
            assert run.info.status == "FINISHED"
            assert run.data.params == {"i": str(i), "name": f"run {i}"}
            assert run.data.metrics == {"m": i + 0.3}
            assert [m.step for m in client.get_metric_history(run_id, "m")] == [0, 1, 2, 3]
    messages = [r.getMessage() for r in caplog.records if r.name == "tracker.store"]
    for bad in (truncated, garbage):
        assert any(_names_path(m, bad) for m in messages), (bad, messages)
        assert any(_names_path(m, bad) for m in client.query.warnings), (bad, client.query.warnings)
    # A new reader (new process state) skips them too, and says so.
    fresh = _fresh_query(store)
    assert sorted(fresh.sql("select run_id from runs")["run_id"]) == sorted(healthy)
    for bad in (truncated, garbage):
        assert any(_names_path(m, bad) for m in fresh.warnings), (bad, fresh.warnings)


def test_compaction_skips_corrupt_files_and_compacts_the_rest(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    store = tmp_path / "store"
    ids = _store_with_runs(store, 6)
    _corrupt(store, ids)
    healthy = ids[1:]

    compact(Store(LocalFS(str(store))))  # a fresh compactor, which has not seen the bad files

    fresh = _fresh_query(store)
    assert sorted(fresh.sql("select run_id from runs")["run_id"]) == sorted(healthy)
    assert _scalar(fresh.sql("select count(*) from metrics")) == 4 * len(healthy)
    parts = list((store / "parts").rglob("part-*.parquet"))
    assert parts, "one corrupt file stopped the compaction of every other run of the experiment"
    compacted = {r for p in parts for r in pq.read_table(p, columns=["run_id"])["run_id"].to_pylist()}
    assert compacted == set(healthy)


# -- 5. full disk ------------------------------------------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``full_disk(root)`` makes every ``os.write`` to a file under ``root`` fail with ENOSPC."""
    real_write = os.write
    state: dict[str, str | None] = {"root": None}

    def write(fd: int, data: Any) -> int:
        root = state["root"]
        if root is not None:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                target = ""
            if target.startswith(root + os.sep):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)

    def set_full(root: Path | None) -> None:
        state["root"] = None if root is None else str(root)

    return set_full


def _flush_reports(store_path: Path, caplog: pytest.LogCaptureFixture, what: str) -> None:
    """``tracker.flush()`` raises a StoreError naming the path, or logs one."""
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        try:
            tracker.flush()
        except StoreError as exc:
            assert str(store_path) in str(exc), exc
            return
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(str(store_path) in m and what in m for m in messages), messages


def test_unwritable_run_folder_keeps_rows_until_it_is_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's folder path is taken by a file (so no segment can be created there)."""
    store = tmp_path / "store"
    tracker.set_tracking_uri(str(store))
    run_id = tracker.start_run().info.run_id
    tracker.log_param("p", "1")
    for step in range(5):
        tracker.log_metric("m", float(step), step=step)
    folder = _run_folder(store, "0", run_id)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")

    with pytest.raises(StoreError) as info:
        tracker.log_metric("m", 5.0, step=5, synchronous=True)
    assert str(folder) in str(info.value)
    _flush_reports(folder, caplog, "")
    assert _temp_files(store) == []

    folder.unlink()
    tracker.flush()
    fresh = _fresh_query(store)
    assert _scalar(fresh.sql("select count(*) from metrics")) == 6
    assert fresh.sql("select value from params")["value"].tolist() == ["1"]
    tracker.end_run()
    run = tracker.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert [m.step for m in tracker.TrackerClient(str(store)).get_metric_history(run_id, "m")] == [
        0, 1, 2, 3, 4, 5,
    ]


def test_disk_full_keeps_published_and_buffered_rows(
    tmp_path: Path, full_disk: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "store"
    tracker.set_tracking_uri(str(store))
    run_id = tracker.start_run().info.run_id
    tracker.log_param("p", "1")
    for step in range(5):
        tracker.log_metric("m", float(step), step=step)
    tracker.flush()
    folder = _run_folder(store, "0", run_id)
    published = sorted(folder.iterdir())

    full_disk(store)
    for step in range(5, 10):
        tracker.log_metric("m", float(step), step=step)
    with pytest.raises(StoreError) as info:
        tracker.log_metric("m", 10.0, step=10, synchronous=True)
    message = str(info.value)
    assert str(folder) in message and "No space left" in message
    _flush_reports(folder, caplog, "No space left")
    # What was published is still there and readable; nothing half-written is left.
    assert sorted(folder.iterdir()) == published
    assert _scalar(_fresh_query(store).sql("select count(*) from metrics")) == 5

    full_disk(None)
    tracker.flush()
    fresh = _fresh_query(store)
    assert _scalar(fresh.sql("select count(*) from metrics")) == 11
    assert fresh.sql("select value from params")["value"].tolist() == ["1"]
    tracker.end_run()
    history = tracker.TrackerClient(str(store)).get_metric_history(run_id, "m")
    assert [m.step for m in history] == list(range(11))
    assert _temp_files(store) == []


def test_disk_full_at_end_run_keeps_the_run_for_the_next_flush(
    tmp_path: Path, full_disk: Any
) -> None:
    store = tmp_path / "store"
    tracker.set_tracking_uri(str(store))
    tracker.start_run()
    for step in range(5):
        tracker.log_metric("m", float(step), step=step)
    tracker.flush()

    full_disk(store)
    for step in range(5, 10):
        tracker.log_metric("m", float(step), step=step)
    with pytest.raises(StoreError) as info:
        tracker.end_run()
    assert "No space left" in str(info.value)

    full_disk(None)
    tracker.flush()  # "the data stays in memory and is written at the next flush"
    fresh = _fresh_query(store)
    assert _scalar(fresh.sql("select count(*) from metrics")) == 10
    assert fresh.sql("select status from runs")["status"].tolist() == ["FINISHED"]


# -- 6. resuming a run in another process ---------------------------------------------------------

FIRST_SESSION = """
    import sys
    import tracker as mlflow
    mlflow.set_tracking_uri(sys.argv[1])
    with mlflow.start_run(run_name="resumable") as run:
        mlflow.log_params({"lr": "0.1", "depth": 3})
        mlflow.set_tag("session", "one")
        for step in range(5):
            mlflow.log_metric("loss", float(step), step=step)
    print(run.info.run_id, flush=True)
"""

SECOND_SESSION = """
    import sys
    import tracker as mlflow
    from tracker.exceptions import ImmutableParamError
    mlflow.set_tracking_uri(sys.argv[1])
    with mlflow.start_run(run_id=sys.argv[2]) as run:
        mlflow.log_param("lr", "0.1")  # the same value again is fine
        mlflow.log_param("batch", 64)
        mlflow.set_tag("session2", "two")
        for step in range(5, 10):
            mlflow.log_metric("loss", float(step), step=step)
        try:
            mlflow.log_param("lr", "0.2")
        except ImmutableParamError as exc:
            print("IMMUTABLE", str(exc).replace("\\n", " "), flush=True)
        else:
            print("NO ERROR", flush=True)
"""


@pytest.mark.slow
def test_resume_run_from_another_process(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = _script(tmp_path, "first", FIRST_SESSION)
    second = _script(tmp_path, "second", SECOND_SESSION)
    run_id = _ok(_run(first, store)).strip()
    out = _ok(_run(second, store, run_id))
    assert out.startswith("IMMUTABLE "), out
    message = out[len("IMMUTABLE "):]
    for part in (run_id, "lr", "0.1", "0.2"):
        assert part in message, (part, message)

    client = tracker.TrackerClient(str(store))
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "resumable"
    assert run.data.params == {"lr": "0.1", "depth": "3", "batch": "64"}
    assert run.data.tags["session"] == "one" and run.data.tags["session2"] == "two"
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, float(s)) for s in range(10)]
    # A third session (this process) sees both sessions' params as immutable too.
    with pytest.raises(ImmutableParamError) as info:
        client.log_param(run_id, "batch", 128)
    assert all(part in str(info.value) for part in (run_id, "batch", "64", "128"))
    _assert_all_parquet_readable(store)


EXIT_FLUSH_SCRIPT = """
    import sys
    import tracker as mlflow
    mlflow.set_tracking_uri(sys.argv[1])
    run = mlflow.start_run()
    print(run.info.run_id, "pandas" in sys.modules, flush=True)
    mlflow.log_param("p", "v")
    for step in range(20):
        mlflow.log_metric("m", float(step), step=step)
"""


def test_records_first_written_at_exit_are_written(tmp_path: Path) -> None:
    """A short script whose first flush is the one at exit: pyarrow then imports pandas, which
    used to fail there ("can't register atexit after shutdown") and leave the records unwritten
    until the run's end retried them."""
    store = tmp_path / "store"
    script = _script(tmp_path, "exit_flush", EXIT_FLUSH_SCRIPT)
    outcomes = [_finish(_spawn(script, store)) for _ in range(2)]
    client = tracker.TrackerClient(str(store))
    for code, out, err in outcomes:
        assert code == 0, err
        assert "not written" not in err and "Traceback" not in err, err
        run_id = out.split()[0]
        assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(20))
        assert client.get_run(run_id).info.status == "FINISHED"
    assert outcomes[1][1].split()[1] == "False"  # the case at hand: pandas not loaded before exit
