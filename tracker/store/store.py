"""The store: writes immutable record files and lists which of them a reader should read.

See ``tracker/store/__init__.py`` for the on-disk layout. This module knows nothing of queries,
pages or the API's run stack.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracker.exceptions import CorruptFileError, StoreError
from tracker.store import schema
from tracker.store.fs import FileEntry, StoreFS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

log = logging.getLogger("tracker.store")

MARKER = "tracker-store.json"
EXPERIMENTS = "experiments"
RUNS = "runs"
PARTS = "parts"
ARTIFACTS = "artifacts"
LOCKS = ".locks"
READ_THREADS = 16  # concurrent GETs when reading a remote store's files

# level of a file: a consolidated file supersedes the lower-level files it covers.
LEVEL_SEGMENT, LEVEL_FINAL, LEVEL_PART = 0, 1, 2
_PREFIX_LEVEL = {"seg-": LEVEL_SEGMENT, "final-": LEVEL_FINAL, "part-": LEVEL_PART}
_NAME = re.compile(r"^(seg|final|part)-([0-9a-zA-Z_]+)\.parquet$")


def new_seg_id() -> str:
    """A unique, time-ordered segment id: 16 hex digits of nanoseconds + 8 random hex digits."""
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


def experiment_dir(experiment_id: str) -> str:
    return f"{EXPERIMENTS}/experiment_id={experiment_id}"


def run_dir(experiment_id: str, run_id: str) -> str:
    return f"{RUNS}/experiment_id={experiment_id}/run_id={run_id}"


def parts_dir(experiment_id: str) -> str:
    return f"{PARTS}/experiment_id={experiment_id}"


@dataclass(frozen=True)
class StoreFile:
    """A record file found in the store."""

    path: str
    size: int
    level: int
    file_id: str
    folder: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ReadPlan:
    """The files a reader should read, and rows to drop from some of them (by segment id)."""

    files: tuple[str, ...]
    exclude: dict[str, frozenset[str]] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()


def parse_store_file(entry: FileEntry) -> StoreFile | None:
    folder, _, name = entry.path.rpartition("/")
    match = _NAME.match(name)
    if match is None:
        return None
    level = _PREFIX_LEVEL[match.group(1) + "-"]
    return StoreFile(entry.path, entry.size, level, match.group(2), folder)


class Store:
    """A tracker store on a filesystem adapter.

    Args:
        fs: where the store lives.
        uri: the URI the user gave, for messages.
    """

    def __init__(self, fs: StoreFS, uri: str | None = None) -> None:
        self.fs = fs
        self.uri = uri or fs.uri()
        self._covers_cache: dict[tuple[str, int], frozenset[str]] = {}
        self._covers_loaded = False
        self._bad_files: dict[tuple[str, int], str] = {}
        self.warnings: list[str] = []
        self._initialized = False
        self._lock = threading.Lock()

    # -- format marker -------------------------------------------------------------------

    def ensure_initialized(self) -> None:
        """Write the format marker once; refuse a store written by a newer format."""
        if self._initialized:
            return
        marker = {"format": schema.FORMAT_NAME, "format_version": schema.SCHEMA_VERSION}
        data = json.dumps(marker, indent=2).encode() + b"\n"
        if not self.fs.create_exclusive(MARKER, data):
            self.check_format()
        self._initialized = True

    def check_format(self) -> None:
        """Raise ``StoreError`` when the store's format is newer than this tracker understands."""
        try:
            marker = json.loads(self.fs.read_bytes(MARKER))
        except FileNotFoundError:
            return
        except (ValueError, OSError) as exc:
            raise StoreError(f"The store marker {self.fs.uri(MARKER)} is unreadable: {exc}") from exc
        version = marker.get("format_version")
        if not isinstance(version, int) or version > schema.SCHEMA_VERSION:
            raise StoreError(
                f"The store at {self.uri} has format version {version!r}; this tracker reads "
                f"versions up to {schema.SCHEMA_VERSION}. Upgrade tracker to read it."
            )

    # -- writing ---------------------------------------------------------------------------

    def write_records(
        self,
        folder: str,
        experiment_id: str,
        run_id: str | None,
        rows: Sequence[tuple[Any, ...]],
        *,
        prefix: str = "seg",
        seg: str | None = None,
        covers: Iterable[str] | None = None,
    ) -> str:
        """Publish ``rows`` (tuples in ``schema.ROW_FIELDS`` order) as one new file; return its id."""
        self.ensure_initialized()
        seg = seg or new_seg_id()
        data = encode_rows(experiment_id, run_id, seg, rows, covers=covers)
        self.fs.write_atomic(f"{folder}/{prefix}-{seg}.parquet", data)
        return seg

    def write_table(self, folder: str, prefix: str, table: Any, covers: Iterable[str]) -> str:
        """Publish an Arrow table of records as one consolidated file; return its id."""
        self.ensure_initialized()
        file_id = new_seg_id()
        self.fs.write_atomic(f"{folder}/{prefix}-{file_id}.parquet", encode_table(table, covers))
        return file_id

    # -- listing and planning reads -------------------------------------------------------

    def list_record_files(self, prefixes: Sequence[str] = (EXPERIMENTS, RUNS, PARTS)) -> list[StoreFile]:
        files: list[StoreFile] = []
        for prefix in prefixes:
            for entry in self.fs.list_files(prefix):
                parsed = parse_store_file(entry)
                if parsed is not None:
                    files.append(parsed)
        return files

    def covers(self, file: StoreFile) -> frozenset[str]:
        """Ids a consolidated file supersedes (read from its footer once, then cached)."""
        key = (file.path, file.size)
        cached = self._covers_cache.get(key)
        if cached is None:
            cached = read_covers(self.fs, file.path)
            self._covers_cache[key] = cached
        return cached

    def _load_covers(self) -> int:
        """Fill the covers cache from disk (once per store object); return its size."""
        if not self._covers_loaded:
            from tracker.store import covers_cache

            self._covers_loaded = True
            for key, ids in covers_cache.load(self.fs.uri()).items():
                self._covers_cache.setdefault(key, ids)
        return len(self._covers_cache)

    def _save_covers(self, sizes: dict[str, int]) -> None:
        """Keep the covers of the files that still exist, for the next process."""
        from tracker.store import covers_cache

        current = {k: v for k, v in self._covers_cache.items() if sizes.get(k[0]) == k[1]}
        covers_cache.save(self.fs.uri(), current)

    def plan(self, files: Sequence[StoreFile] | None = None) -> ReadPlan:
        """Decide which files to read so that each segment's rows are read exactly once.

        A consolidated file (run ``final`` or compacted ``part``) lists in its footer the ids it
        covers; covered files are skipped, and when two consolidated files overlap (two compactors
        at once), the rows of the later one that the earlier one already holds are excluded.
        A consolidated file that another one covers (a part absorbed by a newer part, a final
        of a resumed run) is skipped whatever the names' order (#19), so ``tracker gc`` sees it
        as superseded.
        """
        if files is None:
            files = self.list_record_files()
        by_folder: dict[str, int] = {}
        for f in files:
            by_folder[f.folder] = by_folder.get(f.folder, 0) + 1
        consolidated = sorted(
            (f for f in files if f.level > LEVEL_SEGMENT), key=lambda f: (-f.level, f.path)
        )
        known = self._load_covers()
        if not self.fs.is_local:
            self._prefetch_covers(consolidated, by_folder)
        footers, unreadable = self._footers(consolidated, by_folder)
        absorbed = set().union(*footers.values()) if footers else set()
        # Files no other file covers first: a newer part then hides the part it absorbed.
        consolidated.sort(key=lambda f: f.file_id in absorbed)
        covered: set[str] = set()
        chosen: list[str] = []
        exclude: dict[str, frozenset[str]] = {}
        skipped: list[str] = [f.path for f in unreadable]
        for f in consolidated:
            if f.file_id in covered or f in unreadable:
                continue
            ids = footers.get(f.path)
            if ids is None:
                # A lone final in its run folder that no part covers needs no footer read.
                if not covered:
                    chosen.append(f.path)
                    continue
                try:
                    ids = self.covers(f)
                except CorruptFileError as exc:
                    self._warn_bad(f, str(exc))
                    skipped.append(f.path)
                    continue
            overlap = ids & covered
            if overlap:
                exclude[f.path] = frozenset(overlap)
            covered |= ids
            covered.add(f.file_id)
            chosen.append(f.path)
        for f in files:
            if f.level == LEVEL_SEGMENT and f.file_id not in covered:
                chosen.append(f.path)
        sizes = {f.path: f.size for f in files}
        if len(self._covers_cache) > known:
            self._save_covers(sizes)
        bad = [p for p in chosen if (p, sizes[p]) in self._bad_files] if self._bad_files else []
        if bad:
            chosen = [p for p in chosen if p not in bad]
            skipped.extend(bad)
        return ReadPlan(tuple(sorted(chosen)), exclude, tuple(sorted(skipped)))

    def _footers(
        self, consolidated: Sequence[StoreFile], by_folder: dict[str, int]
    ) -> tuple[dict[str, frozenset[str]], set[StoreFile]]:
        """The covers of every consolidated file but lone finals, and the unreadable ones.

        A final covers only files of its own run folder, so a final alone in its folder covers
        no file that exists: its footer is read later, and only when a part covers something.
        """
        footers: dict[str, frozenset[str]] = {}
        unreadable: set[StoreFile] = set()
        for f in consolidated:
            if f.level == LEVEL_FINAL and by_folder[f.folder] == 1:
                continue
            try:
                footers[f.path] = self.covers(f)
            except CorruptFileError as exc:
                self._warn_bad(f, str(exc))
                unreadable.add(f)
        return footers, unreadable

    def _prefetch_covers(self, consolidated: Sequence[StoreFile], by_folder: dict[str, int]) -> None:
        """Read the footers ``plan`` will need in parallel (one round trip each on S3).

        Lone finals need no footer unless a part exists (it might cover them).
        """
        from concurrent.futures import ThreadPoolExecutor  # remote stores only (see read_tables)

        any_part = any(f.level == LEVEL_PART for f in consolidated)
        wanted = [
            f for f in consolidated
            if (f.path, f.size) not in self._covers_cache
            and (any_part or f.level == LEVEL_PART or by_folder[f.folder] > 1)
        ]

        def fetch(f: StoreFile) -> None:
            try:
                self.covers(f)
            except CorruptFileError:
                pass  # plan() reads it again and reports it

        if wanted:
            with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(wanted))) as pool:
                list(pool.map(fetch, wanted))

    def mark_bad(self, path: str, size: int, reason: str) -> None:
        """Remember that a file cannot be read, so later plans skip it (until its size changes)."""
        if (path, size) not in self._bad_files:
            self._bad_files[(path, size)] = reason
            message = f"Skipping unreadable store file {self.fs.full_path(path)}: {reason}"
            self.warnings.append(message)
            log.warning("%s", message)

    def _warn_bad(self, f: StoreFile, reason: str) -> None:
        self.mark_bad(f.path, f.size, reason)

    # -- small reads through pyarrow (no DuckDB) --------------------------------------------

    def read_folder_records(self, folder: str) -> list[dict[str, Any]]:
        """All records of one folder (an experiment or a run), resolved, as dicts."""
        files = [f for f in self.list_record_files_in(folder)]
        plan = self.plan(files)
        rows: list[dict[str, Any]] = []
        for path in plan.files:
            try:
                table = read_table(self.fs, path)
            except FileNotFoundError:
                continue
            except CorruptFileError as exc:
                self.mark_bad(path, next(f.size for f in files if f.path == path), str(exc))
                continue
            excluded = plan.exclude.get(path, frozenset())
            for row in table.to_pylist():
                if row["seg"] not in excluded:
                    rows.append(row)
        return rows

    def read_tables(self, paths: Sequence[str]) -> dict[str, Any]:
        """Arrow tables of record files read in parallel (remote stores pay a round trip each).

        Unreadable files are marked bad and left out; a file that vanished (compacted away
        since the listing) raises ``FileNotFoundError`` so the caller plans again.
        """
        def read(path: str) -> tuple[str, Any]:
            try:
                return path, read_table(self.fs, path)
            except CorruptFileError as exc:
                return path, exc

        out: dict[str, Any] = {}
        results: Iterable[tuple[str, Any]]
        if self.fs.is_local or len(paths) <= 1:
            results = map(read, paths)  # local reads gain nothing from threads
        else:
            # Imported only here: importing concurrent.futures.thread at interpreter exit (runs
            # end there) raises "can't register atexit after shutdown".
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(paths))) as pool:
                results = list(pool.map(read, paths))
        for path, result in results:
            if isinstance(result, CorruptFileError):
                self.mark_bad(path, self.fs.stat(path)[1], str(result))
            else:
                out[path] = result
        return out

    def list_record_files_in(self, folder: str) -> list[StoreFile]:
        out = []
        for entry in self.fs.list_files(folder):
            parsed = parse_store_file(entry)
            if parsed is not None and parsed.folder == folder:
                out.append(parsed)
        return out

    def experiment_ids(self) -> list[str]:
        return _ids_from_dirs(self.fs.list_dir(EXPERIMENTS), "experiment_id=")

    def find_run_folder(self, run_id: str) -> str | None:
        """The folder of ``run_id``, looked up without reading any file (None when absent)."""
        for eid in _ids_from_dirs(self.fs.list_dir(RUNS), "experiment_id="):
            folder = run_dir(eid, run_id)
            if self.fs.list_dir(folder):
                return folder
        return None

    # -- artifacts -------------------------------------------------------------------------

    def default_artifact_location(self, experiment_id: str) -> str:
        return self.fs.uri(f"{ARTIFACTS}/{experiment_id}")


def _ids_from_dirs(names: Iterable[str], prefix: str) -> list[str]:
    return sorted(n[len(prefix):] for n in names if n.startswith(prefix))


# -- encoding ------------------------------------------------------------------------------


def _metadata(covers: Iterable[str] | None) -> dict[bytes, bytes]:
    meta = {
        schema.META_FORMAT: schema.FORMAT_NAME.encode(),
        schema.META_VERSION: str(schema.SCHEMA_VERSION).encode(),
    }
    if covers is not None:
        meta[schema.META_COVERS] = json.dumps(sorted(set(covers))).encode()
    return meta


def encode_rows(
    experiment_id: str,
    run_id: str | None,
    seg: str,
    rows: Sequence[tuple[Any, ...]],
    *,
    covers: Iterable[str] | None = None,
) -> bytes:
    """Parquet bytes for buffered rows of one experiment/run."""
    import pyarrow as pa

    arrow_schema = schema.arrow_schema()
    n = len(rows)
    kind, key, value, num, step, ts, seq = (list(c) for c in zip(*rows)) if n else ([],) * 7
    arrays = [
        pa.array([experiment_id] * n, pa.string()),
        pa.array([run_id] * n, pa.string()),
        pa.array([seg] * n, pa.string()),
        pa.array(kind, pa.string()),
        pa.array(key, pa.string()),
        pa.array(value, pa.string()),
        pa.array(num, pa.float64()),
        pa.array(step, pa.int64()),
        pa.array(ts, pa.int64()),
        pa.array(seq, pa.int64()),
    ]
    table = pa.Table.from_arrays(arrays, schema=arrow_schema)
    return encode_table(table, covers, small=True)


def encode_table(table: Any, covers: Iterable[str] | None, *, small: bool = False) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = table.replace_schema_metadata(_metadata(covers))
    sink = pa.BufferOutputStream()
    # Small flush files favour write speed (measured: 0.24 ms vs 0.55 ms with zstd and
    # dictionaries); consolidated files favour size and statistics for pushdown.
    pq.write_table(
        table,
        sink,
        compression="snappy" if small else "zstd",
        write_statistics=not small,
        use_dictionary=not small,
    )
    return bytes(sink.getvalue().to_pybytes())


def read_table(fs: StoreFS, path: str) -> Any:
    """Read one record file as an Arrow table; raise ``CorruptFileError`` if it is unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = fs.read_bytes(path)
    try:
        # ParquetFile.read in this thread, not pq.read_table: the latter starts a pyarrow pool
        # thread even with use_threads=False, and a process that exits with pool threads
        # alive aborts now and then ("terminate called without an active exception").
        table = pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptFileError(f"{fs.full_path(path)} is not a readable Parquet file ({exc})") from exc
    return table


def conform_records(tables: Sequence[tuple[str, Any]]) -> Any:
    """One Arrow table of records from (file name, table) pairs of any schema version.

    Columns are put in ``schema.arrow_schema()`` order and types (missing ones as nulls, unknown
    ones dropped, as DuckDB's ``union_by_name`` does) plus a ``filename`` column.
    """
    import pyarrow as pa

    target = schema.arrow_schema()
    parts = []
    for name, table in tables:
        n = table.num_rows
        columns = [
            table.column(f.name).cast(f.type) if f.name in table.column_names
            else pa.nulls(n, f.type)
            for f in target
        ]
        columns.append(pa.array([name] * n, pa.string()))
        parts.append(pa.Table.from_arrays(columns, names=[*target.names, "filename"]))
    return pa.concat_tables(parts)


def covers_of(table: Any) -> frozenset[str]:
    """Ids a consolidated file supersedes, from the metadata of its table as read."""
    raw = (table.schema.metadata or {}).get(schema.META_COVERS)
    return frozenset(json.loads(raw)) if raw is not None else frozenset()


def read_covers(fs: StoreFS, path: str) -> frozenset[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with fs.open_input(path) as source:
            meta = pq.read_metadata(source).metadata or {}
    except FileNotFoundError:
        return frozenset()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptFileError(f"{fs.full_path(path)} is not a readable Parquet file ({exc})") from exc
    raw = meta.get(schema.META_COVERS)
    if raw is None:
        return frozenset()
    return frozenset(json.loads(raw))


def local_owner() -> tuple[str, int]:
    """This process's host name and pid, recorded on runs so a dead process can be recognised."""
    return os.uname().nodename if hasattr(os, "uname") else "localhost", os.getpid()


def pid_alive(pid: int) -> bool:
    """True unless process ``pid`` on this machine has exited (a zombie counts as exited)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    # A zombie (exited, not yet reaped) counts as dead.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
