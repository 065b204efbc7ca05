"""Garbage collection: remove what crashes and compaction leave behind, never live data.

Four kinds of garbage:

* ``temp``: ``.tmp-*`` files of writes that never finished (a crash between writing and
  renaming). Only files older than ``min_age`` go, so a live process's in-flight write is safe.
* ``superseded``: record files (run segments and finals, parts absorbed by a newer part,
  registry event files) whose rows a published consolidated file holds, left when a compactor
  or a run's end stopped between publishing and deleting (``kill -9``, a full disk), or merged
  in from another git branch. Plain Parquet engines count their rows twice until they go (#19).
  A file goes only when the covering file reads and its ``seg`` column really holds every
  segment of the file, and only files some published file covers (a live run's segments are
  covered by nothing); this runs under the compaction lock, so no compactor works meanwhile.
* ``lock``: lock files whose holder is gone (its process on this machine exited, or no
  heartbeat for ``LOCK_TIMEOUT_SECONDS``; see ``tracker.store.lock``), and takeover files of
  finished takeovers. The compaction lock is taken over through the lock itself, so a
  compactor starting at the same moment and gc never both hold it.
* ``folder``: empty folders (emptied run folders), local stores only.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.exceptions import CorruptFileError, InvalidArgumentError
from tracker.registry import REGISTRY
from tracker.store.compact import compaction_lock
from tracker.store.fs import TMP_PREFIX
from tracker.store.lock import TAKEOVER_SUFFIX, holder_gone, read_lock
from tracker.store.store import (
    EXPERIMENTS,
    LEVEL_SEGMENT,
    LOCKS,
    PARTS,
    RUNS,
    StoreFile,
)

if TYPE_CHECKING:
    from tracker.store.store import Store

DEFAULT_MIN_AGE = 3600.0
# Temporary names the filesystem adapter makes: .tmp-<uuid4 hex>-<final name>.tmp (before #19
# without the .tmp suffix).
_TEMP_NAME = re.compile(rf"^{re.escape(TMP_PREFIX)}[0-9a-f]{{32}}-")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Garbage:
    """One path gc removes (or would remove): its kind, size in bytes and why."""

    path: str
    size: int
    kind: str
    reason: str


@dataclass(frozen=True)
class GcResult:
    """What one gc pass found and whether it deleted it."""

    items: tuple[Garbage, ...]
    deleted: bool
    notes: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        return sum(item.size for item in self.items)


@dataclass(frozen=True)
class _Entry:
    path: str
    size: int
    mtime: float
    is_dir: bool


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"15m"``, ``"1h"`` or ``"2d"``.

    Args:
        text: a number with an optional unit s, m, h or d.
    """
    match = _DURATION.match(str(text))
    if match is None:
        raise InvalidArgumentError(
            f"Invalid duration {text!r}: use a number with an optional unit s, m, h or d "
            "(e.g. 30m, 1h, 2d)."
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def gc(store: Store, *, min_age: float = DEFAULT_MIN_AGE, dry_run: bool = False) -> GcResult:
    """Find the store's garbage and delete it (unless ``dry_run``).

    Args:
        store: the store to clean.
        min_age: seconds; younger temp files, unreadable locks and empty folders are left alone.
        dry_run: only report what would be deleted.
    """
    if not isinstance(min_age, (int, float)) or isinstance(min_age, bool) or min_age < 0:
        raise InvalidArgumentError(f"min_age must be a number of seconds >= 0, got {min_age!r}.")
    entries = _walk(store)
    now = time.time()
    items = [*_temp_files(entries, now - min_age), *_stale_locks(store, entries, now, min_age)]
    notes: list[str] = []
    if dry_run:
        items.extend(_superseded(store))
        items.extend(_empty_folders(store, entries, items, now - min_age))
        return GcResult(tuple(items), False, ())
    lock = compaction_lock(store)
    for item in items:
        if item.path != lock.path:  # a dead compactor's lock is taken over below
            _delete(store, item)
    if lock.acquire(wait=False):
        try:
            superseded = _superseded(store)
            for item in superseded:
                _delete(store, item)
        finally:
            lock.release()
        items.extend(superseded)
        if lock.took_over is None:  # the lock went meanwhile: someone else removed it
            items = [item for item in items if item.path != lock.path]
    else:
        items = [item for item in items if item.path != lock.path]
        notes.append(
            "a compaction is running (it holds the lock): superseded files were not "
            "checked; run tracker gc again when it is done."
        )
    folders = _empty_folders(store, entries, items, now - min_age)
    for item in folders:
        _delete(store, item)
    return GcResult(tuple(items + folders), True, tuple(notes))


def find_garbage(store: Store, *, min_age: float = DEFAULT_MIN_AGE) -> GcResult:
    """What ``gc`` would delete now (a dry run)."""
    return gc(store, min_age=min_age, dry_run=True)


def _walk(store: Store) -> list[_Entry]:
    """Every file and folder of the store, temporary files included, with modification times."""
    import pyarrow.fs as pafs

    filesystem, base = store.fs.arrow()
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    cut = len(base.rstrip("/")) + 1
    out = []
    for info in filesystem.get_file_info(selector):
        if info.type not in (pafs.FileType.File, pafs.FileType.Directory):
            continue  # vanished while listed
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        is_dir = info.type == pafs.FileType.Directory
        out.append(_Entry(info.path[cut:], 0 if is_dir else int(info.size or 0), mtime, is_dir))
    out.sort(key=lambda e: e.path)
    return out


def _temp_files(entries: list[_Entry], cutoff: float) -> list[Garbage]:
    return [
        Garbage(e.path, e.size, "temp", "unfinished write (temporary file)")
        for e in entries
        if not e.is_dir and _TEMP_NAME.match(e.path.rsplit("/", 1)[-1]) and e.mtime < cutoff
    ]


def _stale_locks(store: Store, entries: list[_Entry], now: float, min_age: float) -> list[Garbage]:
    found = []
    for e in entries:
        if e.is_dir or not e.path.startswith(LOCKS + "/"):
            continue
        reason = _lock_staleness(store, e.path, now, min_age, e.mtime)
        if reason is not None:
            found.append(Garbage(e.path, e.size, "lock", reason))
    return found


def _lock_staleness(
    store: Store, path: str, now: float, min_age: float, mtime: float
) -> str | None:
    """Why the lock (or takeover) file at ``path`` is garbage, or None while it may be in use."""
    if path.endswith(TAKEOVER_SUFFIX):
        lock_path, _, token = path[: -len(TAKEOVER_SUFFIX)].rpartition(".")
        current = read_lock(store.fs, lock_path)
        if current is None or current.token != token:
            return "a finished takeover of a dead holder's lock"
        claim = read_lock(store.fs, path)
        if claim is not None and holder_gone(claim, now) is not None:
            return "a takeover whose process is gone"
        return None
    if not path.endswith(".lock"):
        return None
    info = read_lock(store.fs, path)
    if info is None:
        return None
    if not info.readable:
        return "unreadable lock file" if now - mtime > min_age else None
    return holder_gone(info, now)


def _superseded(store: Store) -> list[Garbage]:
    """Record files a published, readable consolidated file really holds."""
    files = store.list_record_files((EXPERIMENTS, RUNS, PARTS, REGISTRY))
    plan = store.plan(files)
    chosen = set(plan.files)
    skipped = set(plan.skipped)
    coverer: dict[str, StoreFile] = {}
    for f in sorted(files, key=lambda f: f.path):
        if f.path in chosen and f.level > LEVEL_SEGMENT:
            try:
                for covered in store.covers(f):
                    coverer.setdefault(covered, f)
            except CorruptFileError:
                continue
    segs: dict[str, frozenset[str] | None] = {}
    found = []
    for f in files:
        if f.path in chosen or f.path in skipped:
            continue
        holder = coverer.get(f.file_id)
        if holder is None:
            continue
        mine = _segs(store, f, segs)
        theirs = _segs(store, holder, segs)
        if mine is None or theirs is None or not mine <= theirs:
            continue
        found.append(Garbage(f.path, f.size, "superseded", f"rows held by {holder.path}"))
    return found


def _segs(
    store: Store, f: StoreFile, cache: dict[str, frozenset[str] | None]
) -> frozenset[str] | None:
    """The segment ids whose rows ``f`` holds (None when it cannot be read)."""
    if f.path not in cache:
        try:
            column = _read_column(store.fs, f.path, "seg")
            cache[f.path] = frozenset(str(s) for s in column)
        except (CorruptFileError, FileNotFoundError):
            cache[f.path] = None
    return cache[f.path]


def _empty_folders(
    store: Store, entries: list[_Entry], garbage: list[Garbage], cutoff: float
) -> list[Garbage]:
    """Folders that hold nothing but garbage and empty folders (local stores only).

    A folder younger than ``cutoff`` stays (a writer may be about to put a file in it) unless
    it held garbage: then it is emptied by us, as compaction removes the folders it empties.
    """
    if not isinstance(store.fs.arrow()[0], _local_type()):
        return []
    gone = {g.path for g in garbage}
    emptied = {p for g in garbage for p in _parents(g.path, include_self=False)}
    keeps: set[str] = set()
    for e in entries:
        young = e.is_dir and e.mtime >= cutoff and e.path not in emptied
        if (not e.is_dir and e.path not in gone) or young:
            keeps.update(_parents(e.path, include_self=e.is_dir))
    return [
        Garbage(e.path, 0, "folder", "empty folder")
        for e in sorted(entries, key=lambda e: e.path.count("/"), reverse=True)
        if e.is_dir and e.path not in keeps and e.path != LOCKS
    ]


def _local_type() -> Any:
    import pyarrow.fs as pafs

    return pafs.LocalFileSystem


def _parents(path: str, *, include_self: bool) -> list[str]:
    parts = path.split("/")
    start = len(parts) if include_self else len(parts) - 1
    return ["/".join(parts[:i]) for i in range(1, start + 1)]


def _delete(store: Store, item: Garbage) -> None:
    if item.kind == "folder":
        try:
            os.rmdir(store.fs.full_path(item.path))
        except OSError:
            pass  # something was written into it meanwhile: it stays
        return
    if item.kind == "lock" and _lock_staleness(store, item.path, time.time(), 0, 0) is None:
        return  # taken again by a live compactor since we looked
    store.fs.delete(item.path)


def _read_column(fs: Any, path: str, name: str) -> list[Any]:
    """One column of a record file; ``CorruptFileError`` when the file cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with fs.open_input(path) as source:
            # Not pq.read_table: it starts a pyarrow pool thread (see store.read_table).
            table = pq.ParquetFile(source).read(columns=[name], use_threads=False)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
        raise CorruptFileError(
            f"{fs.full_path(path)} is not a readable Parquet file ({exc})"
        ) from exc
    return list(table.column(name).to_pylist())
