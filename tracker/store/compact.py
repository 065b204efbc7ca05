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

from tracker.exceptions import CorruptFileError, InvalidArgumentError, StoreError
from tracker.store.covers import covers_of
from tracker.store.lock import StoreLock
from tracker.store.store import (
    LEVEL_FINAL,
    LEVEL_PART,
    LEVEL_SEGMENT,
    RUNS,
    Store,
    StoreFile,
    parts_dir,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tracker.store.store import ReadPlan

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


class _FileFailed(Exception):
    """A file failed after its first rows were added: it is marked bad; plan again."""


# Files of a remote store up to this size are fetched in parallel (one round trip each).
_PREFETCH_BYTES = 4 * 1024 * 1024
_PREFETCH_FILES = 64
_READ_BATCH_ROWS = 65_536


def _merge_into(
    store: Store, files: Sequence[StoreFile], folder: str, prefix: str, keys: Sequence[str],
    before_publish: Callable[[], bool] | None = None,
) -> tuple[list[StoreFile], int] | None:
    """Publish the rows of ``files`` (as their read plan resolves them) sorted by ``keys`` as
    one ``prefix`` file in ``folder``, with bounded memory (``tracker.store.merge``).

    Returns the files the new one supersedes (``consumed``: safe to delete) and how many were
    read. Unreadable files are left in place, and not covered, so readers keep skipping them.
    None when ``before_publish`` (a compactor's check that it still holds its lock, #19) said
    no: nothing was published.
    """
    from tracker.store.merge import SortedWriter

    for _attempt in range(5):
        plan = store.plan(files)
        try:
            with SortedWriter(keys) as sorter:
                covers, consumed, read = _feed(store, files, plan, sorter)
                if not consumed:
                    return [], 0
                if before_publish is not None and not before_publish():
                    return None
                store.write_sorted(folder, prefix, sorter, covers)
            return consumed, read
        except _FileFailed:
            continue  # the broken file is marked bad: the next plan skips it
    raise StoreError(f"Could not merge the files of {store.fs.uri(folder)}: files kept failing.")


def _feed(
    store: Store, files: Sequence[StoreFile], plan: ReadPlan, sorter: Any
) -> tuple[set[str], list[StoreFile], int]:
    """Add the planned rows of ``files`` to ``sorter`` file by file; return covers, consumed
    files and the number of files read."""
    planned, skipped = set(plan.files), set(plan.skipped)
    covers: set[str] = set()
    consumed: list[StoreFile] = []
    prefetched: dict[str, Any] = {}
    read = 0
    for index, f in enumerate(files):
        if f.path in skipped:
            continue  # unreadable: left in place, never deleted, skipped by readers
        if f.path not in planned:  # covered by another consolidated file among ``files``
            consumed.append(f)
            covers.add(f.file_id)
            if f.level > LEVEL_SEGMENT:
                covers |= store.covers(f)
            continue
        if not store.fs.is_local and f.size <= _PREFETCH_BYTES and f.path not in prefetched:
            prefetched = _prefetch(store, files[index:], planned)
        ids = _add_file(store, f, plan.exclude.get(f.path), sorter, prefetched.pop(f.path, None))
        if ids is None:
            continue
        consumed.append(f)
        covers.add(f.file_id)
        covers |= ids
        read += 1
    return covers, consumed, read


def _prefetch(store: Store, files: Sequence[StoreFile], planned: set[str]) -> dict[str, Any]:
    """Read the next small planned files of a remote store in parallel (unreadable: absent)."""
    wanted = [f.path for f in files if f.path in planned and f.size <= _PREFETCH_BYTES]
    tables = store.read_tables(wanted[:_PREFETCH_FILES])
    return {path: tables.get(path, False) for path in wanted[:_PREFETCH_FILES]}


def _add_file(
    store: Store, f: StoreFile, excluded: frozenset[str] | None, sorter: Any, table: Any
) -> frozenset[str] | None:
    """Stream one file's rows into ``sorter``; return the ids it covers (None: unreadable).

    ``table``: the file already read (``False``: it was unreadable, and marked bad).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from tracker.store.arrays import string_array

    if table is False:
        return None
    if table is not None:
        meta, batches = table.schema.metadata, iter([table])
    else:
        try:
            parquet = pq.ParquetFile(store.fs.open_input(f.path), pre_buffer=False)  # no IO pool
            meta = parquet.schema_arrow.metadata
            batches = parquet.iter_batches(batch_size=_READ_BATCH_ROWS, use_threads=False)
        except FileNotFoundError:
            raise  # compacted away since the listing: the caller plans again
        except (pa.ArrowException, OSError, ValueError) as exc:
            store.mark_bad(f.path, f.size, f"not a readable Parquet file ({exc})")
            return None
    ids: frozenset[str] = frozenset()
    if f.level > LEVEL_SEGMENT:
        ids = covers_of(_WithMeta(meta))
    skip = string_array(sorted(excluded)) if excluded else None
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError, ValueError) as exc:
            store.mark_bad(f.path, f.size, f"not a readable Parquet file ({exc})")
            raise _FileFailed(f.path) from exc
        if batch is None:
            return ids
        if skip is not None:
            batch = batch.filter(pc.invert(pc.is_in(batch.column("seg"), value_set=skip)))
        sorter.add(batch)


class _WithMeta:
    """Quacks like a table for ``covers_of``: just the schema metadata of a file."""

    def __init__(self, metadata: dict[bytes, bytes] | None) -> None:
        self.schema = self
        self.metadata = metadata


def consolidate_run(store: Store, folder: str) -> bool:
    """Merge a finished run's files into one ``final`` file; True when something was merged."""
    files = store.list_record_files_in(folder)
    if len(files) <= 1:
        return False
    merged = _merge_into(store, files, files[0].folder, "final", ("kind", "key", "step"))
    if not merged or not merged[0]:
        return False
    consumed = merged[0]
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
    merged = _merge_into(
        store, files, parts_dir(eid), "part", ("run_id", "kind", "key", "step"),
        before_publish=lock.still_held,
    )
    if merged is None:
        return None
    consumed, read = merged
    runs = len({f.folder for f in consumed if f.path.startswith(RUNS + "/")})
    if not consumed:
        return 0, 0, 0, 0
    store.fs.delete_many([f.path for f in consumed])
    for folder in sorted({f.folder for f in consumed if f.path.startswith(RUNS + "/")}):
        store.fs.remove_empty_dirs(folder)
    return 1, read, len(consumed), runs


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
