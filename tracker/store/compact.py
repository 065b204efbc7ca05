"""Compaction: merge many small record files into few large ones, safely under concurrency.

Readers never need a lock: a consolidated file lists in its footer every id it covers, so from
the moment it is published readers skip the files it replaces (``Store.plan``), and deleting
those files afterwards changes nothing they see. Two compactors at once are harmless too (the
plan drops the rows one already holds from the other); a lock file just avoids wasted work.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.store.covers import covers_of
from tracker.store.store import (
    LEVEL_FINAL,
    LEVEL_PART,
    LEVEL_SEGMENT,
    LOCKS,
    RUNS,
    Store,
    StoreFile,
    parts_dir,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger("tracker.store")

PART_TARGET_ROWS = 2_000_000
LOCK_STALE_SECONDS = 600


@dataclass(frozen=True)
class CompactionResult:
    """What one compaction did."""

    runs: int
    files_read: int
    files_written: int
    files_deleted: int
    seconds: float


def _load(store: Store, files: Sequence[StoreFile]) -> tuple[list[Any], set[str], list[StoreFile]]:
    """Read the planned files among ``files``; return tables, covered ids, consumed files."""
    import pyarrow.compute as pc

    plan = store.plan(files)
    tables, covers, consumed = [], set(), []
    planned = set(plan.files)
    # Read in parallel: on S3 each file is a round trip. Unreadable ones are marked bad and left out.
    read = store.read_tables([f.path for f in files if f.path in planned])
    for f in files:
        if f.path in plan.skipped:
            continue  # unreadable: left in place, never deleted, skipped by readers
        if f.path in planned and f.path not in read:
            continue
        consumed.append(f)
        covers.add(f.file_id)
        if f.level > LEVEL_SEGMENT:
            # The footer came with the table when it was read: no second request for it.
            covers |= covers_of(read[f.path]) if f.path in read else store.covers(f)
        if f.path not in planned:
            continue
        table = read[f.path]
        excluded = plan.exclude.get(f.path)
        if excluded:
            mask = pc.invert(pc.is_in(table["seg"], value_set=_pa_array(sorted(excluded))))
            table = table.filter(mask)
        tables.append(table.replace_schema_metadata(None))
    return tables, covers, consumed


def _pa_array(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


def _concat(tables: list[Any]) -> Any:
    import pyarrow as pa

    from tracker.store.schema import arrow_schema

    if not tables:
        return arrow_schema().empty_table()
    table = pa.concat_tables(tables, promote_options="default")
    return table.select(list(arrow_schema().names)).cast(arrow_schema())


def _sorted(table: Any, keys: Sequence[str]) -> Any:
    """``table`` ordered by ``keys`` (ascending, nulls last, ties in their order), in this thread.

    ``Table.sort_by`` (and, less often, ``pc.rank`` with ``combine_chunks``) start pyarrow's
    CPU thread pool, and a process that exits while those threads are alive aborts now and then
    ("terminate called without an active exception": about 1 in 100 processes that ended a
    run at exit, 0 in 660 with this sort). Python's sort of the column values is fast enough
    for what compaction handles at once (350,000 rows: ~1 s).
    """
    import pyarrow as pa

    if table.num_rows == 0:
        return table
    columns = [table.column(key).to_pylist() for key in keys]

    def order(i: int) -> tuple[Any, ...]:
        return tuple((c[i] is None, c[i] if c[i] is not None else 0) for c in columns)

    return table.take(pa.array(sorted(range(table.num_rows), key=order), pa.int64()))


def consolidate_run(store: Store, folder: str) -> bool:
    """Merge a finished run's files into one ``final`` file; True when something was merged."""
    files = store.list_record_files_in(folder)
    if len(files) <= 1:
        return False
    tables, covers, consumed = _load(store, files)
    run = files[0]
    table = _sorted(_concat(tables), ("kind", "key", "step"))
    store.write_table(run.folder, "final", table, covers)
    store.fs.delete_many([f.path for f in consumed])
    return True


def _finished_run_folders(files: Sequence[StoreFile]) -> dict[str, list[StoreFile]]:
    """Run folders that hold a final file (the run ended), with all their files."""
    folders: dict[str, list[StoreFile]] = {}
    for f in files:
        if f.path.startswith(RUNS + "/"):
            folders.setdefault(f.folder, []).append(f)
    return {k: v for k, v in folders.items() if any(f.level == LEVEL_FINAL for f in v)}


def compact(store: Store, *, min_runs: int = 1, wait_lock: bool = False) -> CompactionResult:
    """Merge the files of finished runs (and small parts) into one part per experiment.

    Args:
        store: the store to compact.
        min_runs: do nothing for an experiment with fewer finished, uncompacted runs.
        wait_lock: wait for another compactor instead of returning at once.
    """
    started = time.perf_counter()
    totals = [0, 0, 0, 0]
    lock = _Lock(store, "compact")
    if not lock.acquire(wait=wait_lock):
        return CompactionResult(0, 0, 0, 0, seconds=time.perf_counter() - started)
    try:
        files = store.list_record_files((RUNS, "parts"))
        by_experiment: dict[str, list[StoreFile]] = {}
        for folder, run_files in _finished_run_folders(files).items():
            eid = folder.split("/")[1].split("=", 1)[1]
            by_experiment.setdefault(eid, []).extend(run_files)
        for eid, run_files in sorted(by_experiment.items()):
            runs = len({f.folder for f in run_files})
            if runs < min_runs:
                continue
            small_parts = [
                f for f in files
                if f.level == LEVEL_PART and f.folder == parts_dir(eid)
                and f.size < 64 * 1024 * 1024
            ]
            wrote, read, deleted, runs = _compact_experiment(store, eid, run_files + small_parts)
            totals[0] += runs
            totals[1] += read
            totals[2] += wrote
            totals[3] += deleted
    finally:
        lock.release()
    runs, read, written, deleted = totals
    return CompactionResult(runs, read, written, deleted, seconds=time.perf_counter() - started)


def _compact_experiment(
    store: Store, eid: str, files: list[StoreFile]
) -> tuple[int, int, int, int]:
    """Write one part from ``files``; return (files written, read, deleted, runs compacted)."""
    tables, covers, consumed = _load(store, files)
    runs = len({f.folder for f in consumed if f.path.startswith(RUNS + "/")})
    if not consumed:
        return 0, 0, 0, 0
    table = _sorted(_concat(tables), ("run_id", "kind", "key", "step"))
    store.write_table(parts_dir(eid), "part", table, covers)
    store.fs.delete_many([f.path for f in consumed])
    for folder in sorted({f.folder for f in consumed if f.path.startswith(RUNS + "/")}):
        store.fs.remove_empty_dirs(folder)
    return 1, len(tables), len(consumed), runs


def compaction_lock(store: Store) -> _Lock:
    """The lock compactors take; ``tracker gc`` takes it too before deleting superseded files."""
    return _Lock(store, "compact")


class _Lock:
    """A create-if-absent lock file with a staleness timeout (a crashed holder loses it)."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.path = f"{LOCKS}/{name}.lock"
        self.held = False

    def acquire(self, *, wait: bool) -> bool:
        from tracker.store.store import local_owner

        host, pid = local_owner()
        body = json.dumps({"host": host, "pid": pid, "time": time.time()}).encode()
        deadline = time.monotonic() + (LOCK_STALE_SECONDS if wait else 0)
        while True:
            if self.store.fs.create_exclusive(self.path, body):
                self.held = True
                return True
            if self._stale():
                self.store.fs.delete(self.path)
                continue
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def _stale(self) -> bool:
        try:
            info = json.loads(self.store.fs.read_bytes(self.path))
            return bool(time.time() - float(info["time"]) > LOCK_STALE_SECONDS)
        except FileNotFoundError:
            return False
        except (ValueError, KeyError, TypeError):
            return True

    def release(self) -> None:
        if self.held:
            self.store.fs.delete(self.path)
            self.held = False


# -- automatic compaction --------------------------------------------------------------------

AUTO_COMPACT_RUNS = int(os.environ.get("TRACKER_AUTO_COMPACT", "1000") or 0)
_auto_counts: dict[str, int] = {}
_auto_thread: threading.Thread | None = None
_auto_lock = threading.Lock()
# Registered with the first background compaction, not at import: this module is first
# imported while runs end, which can be at exit, when atexit.register raises RuntimeError.
_join_registered = False


def maybe_compact(store: Store, experiment_id: str) -> bool:
    """After a run ends: compact in the background once an experiment has many loose runs.

    Cheap by design: one directory listing every ``AUTO_COMPACT_RUNS // 10`` ended runs.
    ``TRACKER_AUTO_COMPACT=0`` turns it off; the number sets the threshold (default 1000).
    """
    global _auto_thread, _join_registered
    if AUTO_COMPACT_RUNS <= 0:
        return False
    key = store.fs.root
    with _auto_lock:
        _auto_counts[key] = count = _auto_counts.get(key, 0) + 1
        if count % max(1, AUTO_COMPACT_RUNS // 10):
            return False
        if _auto_thread is not None and _auto_thread.is_alive():
            return False
    loose = len(store.fs.list_dir(f"{RUNS}/experiment_id={experiment_id}"))
    if loose < AUTO_COMPACT_RUNS:
        return False
    with _auto_lock:
        if not _join_registered:
            try:
                atexit.register(_join_at_exit)
            except RuntimeError:  # the interpreter is already exiting: compact another time
                return False
            _join_registered = True
        _auto_thread = threading.Thread(
            target=_compact_quietly, args=(store,), name="tracker-compact", daemon=True
        )
        _auto_thread.start()
    return True


def _compact_quietly(store: Store) -> None:
    try:
        result = compact(store, min_runs=max(1, AUTO_COMPACT_RUNS // 2))
        if result.runs:
            log.info("tracker: compacted %d runs in %.2f s", result.runs, result.seconds)
    except Exception as exc:  # noqa: BLE001 - background work must never break training
        log.warning("tracker: automatic compaction failed (the store is intact): %s", exc)


def _join_at_exit() -> None:
    thread = _auto_thread
    if thread is not None and thread.is_alive():
        thread.join(timeout=60)
