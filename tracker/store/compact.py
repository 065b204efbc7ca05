"""Compaction: merge many small record files into few large ones, safely under concurrency.

Readers never need a lock: a consolidated file lists in its footer every id it covers, so from
the moment it is published readers skip the files it replaces (``Store.plan``), and deleting
those files afterwards changes nothing they see. Two compactors at once would be harmless to
tracker's readers (the plan drops the rows one already holds from the other) but would leave two
overlapping parts that plain Parquet engines count twice until the next compaction, so
compactors take a lock (``tracker.store.lock``: a holder that died is taken over at once on its
own machine, elsewhere after a heartbeat timeout) and check they still hold it before each
publish.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.exceptions import CorruptFileError, InvalidArgumentError
from tracker.store.lock import StoreLock
from tracker.store.store import (
    LEVEL_FINAL,
    LEVEL_PART,
    LEVEL_SEGMENT,
    RUNS,
    Store,
    StoreFile,
    covers_of,
    parts_dir,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger("tracker.store")

PART_TARGET_ROWS = 2_000_000
SMALL_PART_BYTES = 64 * 1024 * 1024  # smaller parts are merged again; bigger ones stay


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
    if isinstance(min_runs, bool) or not isinstance(min_runs, int) or min_runs < 1:
        raise InvalidArgumentError(f"min_runs must be an integer >= 1, got {min_runs!r}.")
    started = time.perf_counter()
    totals = [0, 0, 0, 0]
    lock = compaction_lock(store)
    if not lock.acquire(wait=wait_lock):
        return CompactionResult(0, 0, 0, 0, seconds=time.perf_counter() - started)
    try:
        files = store.list_record_files((RUNS, "parts"))
        by_experiment: dict[str, list[StoreFile]] = {}
        for folder, run_files in _finished_run_folders(files).items():
            eid = folder.split("/")[1].split("=", 1)[1]
            by_experiment.setdefault(eid, []).extend(run_files)
        for eid, run_files in sorted(by_experiment.items()):
            inputs = _inputs(store, eid, run_files, files)
            runs = len({f.folder for f in inputs if f.path.startswith(RUNS + "/")})
            if runs < min_runs:
                continue
            done = _compact_experiment(store, eid, inputs, lock)
            if done is None:
                log.warning(
                    "tracker: compaction stopped before experiment %s: another process took "
                    "over the lock (the store is intact; compact again later)", eid,
                )
                break
            wrote, read, deleted, runs = done
            totals[0] += runs
            totals[1] += read
            totals[2] += wrote
            totals[3] += deleted
    finally:
        lock.release()
    runs, read, written, deleted = totals
    return CompactionResult(runs, read, written, deleted, seconds=time.perf_counter() - started)


def _inputs(
    store: Store, eid: str, run_files: list[StoreFile], files: Sequence[StoreFile]
) -> list[StoreFile]:
    """The files to merge into a new part of ``eid``: its finished runs' files and small parts.

    Files a big part (left out, so it is not rewritten) already covers are left out too, as a
    compactor killed after publishing that part leaves them: merged again, their rows would
    be in two parts that neither covers, which plain engines count twice for good (#19).
    ``tracker gc`` removes them instead.
    """
    parts = [f for f in files if f.level == LEVEL_PART and f.folder == parts_dir(eid)]
    absorbed: set[str] = set()
    for part in parts:
        if part.size >= SMALL_PART_BYTES:
            try:
                absorbed |= store.covers(part)
            except CorruptFileError:
                continue  # covers nothing we can know of; readers skip it
    small = [f for f in parts if f.size < SMALL_PART_BYTES]
    return [f for f in run_files + small if f.file_id not in absorbed]


def _compact_experiment(
    store: Store, eid: str, files: list[StoreFile], lock: StoreLock
) -> tuple[int, int, int, int] | None:
    """Write one part from ``files``; return (files written, read, deleted, runs compacted).

    None when ``lock`` was lost before the part was published (nothing written).
    """
    tables, covers, consumed = _load(store, files)
    runs = len({f.folder for f in consumed if f.path.startswith(RUNS + "/")})
    if not consumed:
        return 0, 0, 0, 0
    table = _sorted(_concat(tables), ("run_id", "kind", "key", "step"))
    if not lock.still_held():
        return None
    store.write_table(parts_dir(eid), "part", table, covers)
    store.fs.delete_many([f.path for f in consumed])
    for folder in sorted({f.folder for f in consumed if f.path.startswith(RUNS + "/")}):
        store.fs.remove_empty_dirs(folder)
    return 1, len(tables), len(consumed), runs


def compaction_lock(store: Store) -> StoreLock:
    """The lock compactors take; ``tracker gc`` takes it too before deleting superseded files."""
    return StoreLock(store, "compact")


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
