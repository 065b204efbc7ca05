"""Query snapshots: the query layer's tables saved on local disk between processes.

Loading a big store into DuckDB (reading every record, then folding them into the ``runs``,
``params``, ``tags``… tables) is most of the cost of a process's first query. After an expensive
load, ``save`` writes the tables and the list of store files they came from into one DuckDB file
in the user's cache folder. The next process restores them (``restore``) and then reads only the
store files added since, exactly as a long-lived process would.

A snapshot is only a cache: it names the store files it holds, and those are immutable (every
store file has a unique name), so a restored snapshot plus the files added since equals a fresh
load. A missing, stale, foreign or unreadable snapshot is ignored. Set ``TRACKER_CACHE_DIR`` to
move the cache, or ``TRACKER_QUERY_SNAPSHOTS=0`` to turn snapshots off.

Saving is off the critical path (#16): the process that loaded the store returns its result
first, and a background thread (``in_background``) writes the snapshot from a DuckDB cursor in a
read transaction of its own, so the saved tables are those of one moment even when the process
goes on querying. Exit waits for it (``wait_for_saves``, at most ``EXIT_WAIT_SECONDS``, then the
save is interrupted). The file is written under a temporary name and renamed into place, so a
process killed mid-save leaves a ``.tmp-<pid>`` file that no reader opens (and the next save
removes), never a damaged snapshot.

A build with publish rules (``tracker build``) keeps its published tables in a snapshot of their
own (#14, ``tracker.query.published``): its file is named by a digest of the rules, and its
metadata names that digest, so a snapshot of plain tables is never served with rules, nor a
published one without them or with other rules. When files were added since such a snapshot,
they are applied to a copy of its file (``working_copy``), which is then renamed over it
(``put_in_place``): the snapshot file itself is never written, and the next build finds them in
it. Its ``records`` are kept in a file of their own beside it (``tracker.query.snapshot_records``),
so that copy is of the folded tables and the records added since, not of every record. Plain
tables are still copied into memory (``detach``), as a long-lived process goes on reading new
files.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError
from tracker.query import snapshot_records, views
from tracker.query.dbfiles import abandoned
from tracker.query.dbfiles import attached as _attached
from tracker.query.dbfiles import file_bytes as _file_bytes
from tracker.query.dbfiles import sql_string as _sql_string
from tracker.query.dbfiles import unlink as _unlink
from tracker.store.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("tracker.query")

# A load that took less than this is not worth a snapshot (saving costs the user nothing now
# that it happens after the result is returned, so even a compacted 2,000-run store is saved).
MIN_LOAD_SECONDS = 0.1
# At exit, how long to wait for a snapshot still being saved before interrupting it.
EXIT_WAIT_SECONDS = 60.0
# A save starts once the process has run no query for IDLE_SECONDS (on 2 cores it would slow
# down the queries that follow the first one), or after MAX_IDLE_WAIT_SECONDS, or at exit.
IDLE_SECONDS = 0.1
MAX_IDLE_WAIT_SECONDS = 5.0
# After a restore, the snapshot is saved again once this many files were added or removed since.
STALE_FILES = 200
TABLES = ("records", *views.DERIVED)
# A snapshot's table bigger than this is copied into memory in chunks (``_copy_rows``).
BIG_TABLE_ROWS = 4_000_000
COPY_CHUNK_ROWS = 1_000_000
# A background save copies tables this many rows at a time, in at most SAVE_SLICES slices
# (``_copy_table``).
SAVE_CHUNK_ROWS = 40_000
SAVE_SLICES = 8
WIDE = "runs_wide"  # tracker.query.wide; saved when it is current


def _format() -> str:
    """Changes with the tables' SQL, the record schema, tracker's and DuckDB's versions: other
    snapshots are ignored."""
    import duckdb

    from tracker._version import __version__

    h = hashlib.sha256(f"{SCHEMA_VERSION} {__version__} {duckdb.__version__}".encode())
    for sql in (views.EMPTY_RECORDS, *views.DERIVED.values()):
        h.update(sql.encode())
    return h.hexdigest()[:16]


def enabled() -> bool:
    return os.environ.get("TRACKER_QUERY_SNAPSHOTS", "1").strip().lower() not in ("0", "false", "no", "off")


def path_for(store_uri: str, publish_key: str | None = None) -> str:
    """The snapshot file of the store at ``store_uri`` (one per store and user), or of its
    tables published with the rules whose digest is ``publish_key`` (one per set of rules).

    Args:
        store_uri: the store's URI.
        publish_key: ``tracker.query.published.cache_key`` of the rules (hex digits), or None.
    """
    from tracker.store.covers_cache import cache_root, store_key

    name = store_key(store_uri)
    if publish_key is not None:
        if not isinstance(publish_key, str) or not _KEY.fullmatch(publish_key):
            raise InvalidArgumentError(
                f"A published snapshot's key must be 16-64 hex digits, got {publish_key!r}."
            )
        name = f"{name}-published-{publish_key}"
    return os.path.join(cache_root(), "query", f"{name}.duckdb")


ALIAS = "tracker_snapshot"
_KEY = re.compile(r"[0-9a-f]{16,64}")


def restore(
    con: duckdb.DuckDBPyConnection, path: str, store_uri: str, publish_key: str | None = None,
) -> tuple[dict[str, str], dict[str, frozenset[str]], Any, Any, str] | None:
    """Serve the tables saved at ``path`` in ``con``.

    Every table becomes a view over the attached snapshot, read only when queried (a first
    search reads a few thousand rows of four tables), until ``materialize`` copies one that
    must change (dead-run marking updates ``runs``) or ``detach`` copies them all. Copying
    ``runs`` up front and creating the views one statement at a time cost a new process
    ~10 ms (#16). Returns the files the snapshot holds (full path → store path) and the
    segments excluded from some of them, the columns of the saved ``runs_wide`` table (None
    when it was not saved), the ``published`` state saved with published tables and the
    snapshot's metadata as saved (``working_copy`` checks a copy against it), or None
    when there is no usable snapshot (``con`` unchanged). ``publish_key``: the digest of the
    rules the tables must have been published with (None: plain tables only). Published
    tables keep their records apart (``snapshot_records``): ``records`` is then the view of the
    file it names and of the snapshot's delta; a published snapshot without one is not used.
    """
    if not os.path.isfile(path):
        return None
    try:
        con.execute(f"ATTACH '{_sql_string(path)}' AS {ALIAS} (READ_ONLY)")
    except Exception as exc:  # noqa: BLE001 - a damaged cache file is only a miss
        log.debug("ignoring unreadable query snapshot %s: %s", path, exc)
        return None
    try:
        # Its tables are read in place, later: a truncated file must be found now (#16).
        if os.path.getsize(path) < _file_bytes(con, ALIAS):
            raise ValueError("truncated")
        (meta,) = con.execute(f"SELECT meta FROM {ALIAS}.snapshot_meta").fetchone() or ("{}",)
        info = json.loads(meta)
        if info.get("format") != _format() or info.get("store") != store_uri:
            raise ValueError("made for another store or format")
        if info.get("publish") != publish_key:  # plain tables for a build, or other rules
            raise ValueError("published with other rules")
        apart = publish_key is not None or "records" in info
        if apart:  # its records are in a file of their own
            snapshot_records.attach(con, path, info.get("records"))
        loaded = {str(k): str(v) for k, v in info["files"].items()}
        exclude = {str(k): frozenset(v) for k, v in info["exclude"].items()}
        wide = info.get("wide")
        served = (*TABLES, WIDE) if wide is not None else TABLES
        existing = {row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main'").fetchall()}
        # One call: each statement is still parsed and bound, but not sent one by one.
        con.execute(";\n".join(
            [f"DROP TABLE {table}" for table in served if table in existing]
            + [f"CREATE VIEW {table} AS FROM {ALIAS}.{table}" for table in served
               if not (apart and table == "records")]
            + ([snapshot_records.view_sql(ALIAS)] if apart else [])
        ))
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign snapshot is only a miss
        log.debug("ignoring query snapshot %s: %s", path, exc)
        detach(con, keep_records=False)
        return None
    return loaded, exclude, wide, info.get("published"), meta


def _served(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables still served from the snapshot (views over it)."""
    return {row[0] for row in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main'").fetchall()} & {*TABLES, WIDE}


def _copy_in(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Replace the view ``table`` by a copy of the snapshot's table (``_copy_rows``)."""
    _copy_rows(con, table)
    con.execute(f"DROP VIEW {table}")
    con.execute(f"ALTER TABLE {table}_copy RENAME TO {table}")
    if table == "runs":  # rows a refold inserts are not dead (tracker.query._mark_dead)
        con.execute("ALTER TABLE runs ALTER COLUMN dead SET DEFAULT false")


def materialize(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Make ``table`` a table of its own if it is still served from the snapshot (before an
    UPDATE of it)."""
    if table in _served(con):
        _copy_in(con, table)


def detach(con: duckdb.DuckDBPyConnection, *, keep_records: bool) -> None:
    """Stop serving tables from the snapshot, then detach it.

    With ``keep_records`` every table becomes a copy of its own (the caller then applies the
    files added since); without, ``records`` is left empty and the other views are dropped
    (the caller loads and folds everything).
    """
    for table in sorted(_served(con)):
        if keep_records and table != WIDE:  # runs_wide is rebuilt when next needed
            _copy_in(con, table)
        else:
            con.execute(f"DROP VIEW {table}")
    if not keep_records:
        con.execute(views.EMPTY_RECORDS)
    if ALIAS in _attached(con):
        con.execute(f"DETACH {ALIAS}")
    snapshot_records.detach(con)


def _copy_rows(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Copy the snapshot's ``table`` into ``{table}_copy`` of the current database (records
    kept apart: their file's, then the delta's).

    A table of more than ``BIG_TABLE_ROWS`` rows is copied ``COPY_CHUNK_ROWS`` at a time, each
    chunk compressed (``CHECKPOINT``) before the next: copied whole, the records of 100,000 runs
    would sit uncompressed in memory (3.3 M records of 10,000 runs took ~0.9 GB so, #14).
    """
    sources = [f"{ALIAS}.{table}"]
    if table == "records" and snapshot_records.attached(con):
        sources = [f"{snapshot_records.ALIAS}.records", f"{ALIAS}.{snapshot_records.DELTA}"]
    (database,) = con.execute("SELECT current_database()").fetchone() or ("memory",)
    con.execute(f"CREATE TABLE {table}_copy AS FROM {sources[0]} LIMIT 0")
    for source in sources:
        (stop,) = con.execute(
            f"SELECT coalesce(max(rowid) + 1, 0) FROM {source}").fetchone() or (0,)
        if stop <= BIG_TABLE_ROWS:
            con.execute(f"INSERT INTO {table}_copy FROM {source}")
            continue
        for start in range(0, stop, COPY_CHUNK_ROWS):
            con.execute(f"INSERT INTO {table}_copy FROM {source} WHERE rowid >= $1 "
                        "AND rowid < $2", [start, start + COPY_CHUNK_ROWS])
            con.execute(f'CHECKPOINT "{database}"')


# -- working copies (#14) ----------------------------------------------------------------------

WORK = "tracker_work"  # the attached working copy
_work_names = itertools.count()


def working_copy(con: duckdb.DuckDBPyConnection, path: str, meta: str) -> str | None:
    """Copy the snapshot file at ``path`` beside it and attach the copy read-write as ``WORK``.

    The copy is a plain file copy (page-cache speed: 0.03 s of CPU for the 71 MB of 10,000
    runs' published tables, where copying its tables into memory took ~3 s): the caller applies
    the files added since to the copy's tables, then ``put_in_place`` makes it the snapshot,
    so the snapshot file itself is never written. Records kept apart are not in that file: the
    copy's ``records`` is the view of their file (attached by ``restore``, read only) and of
    the copy's delta, which takes the new ones (``snapshot_records``). ``meta``: the metadata
    ``restore`` returned;
    a copy of another snapshot (saved in place meanwhile) is not used. Returns the copy's path
    (a ``.tmp-<pid>`` name, removed by the next save if this process dies), or None when there
    is no usable copy (nothing attached, nothing left on disk).
    """
    work = f"{path}.tmp-{os.getpid()}.work{next(_work_names)}"
    _remove_abandoned(path)
    try:
        shutil.copyfile(path, work)
        con.execute(f"ATTACH '{_sql_string(work)}' AS {WORK}")
    except Exception as exc:  # noqa: BLE001 - no room or a copy that fails: copy in memory
        log.debug("no working copy of the query snapshot %s: %s", path, exc)
        discard_working_copy(con, work)
        return None
    try:
        (copied,) = con.execute(f"SELECT meta FROM {WORK}.snapshot_meta").fetchone() or (None,)
        if copied != meta:
            raise ValueError("the snapshot was saved again since it was restored")
        # The metadata is written again by ``put_in_place``; runs_wide would be stale.
        con.execute(f"DROP TABLE {WORK}.snapshot_meta")
        con.execute(f"DROP TABLE IF EXISTS {WORK}.{WIDE}")
        # Rows a refold inserts are not dead (the save's copy lost the column's default).
        con.execute(f"ALTER TABLE {WORK}.runs ALTER COLUMN dead SET DEFAULT false")
        if snapshot_records.attached(con):
            con.execute(snapshot_records.view_sql(WORK, into=WORK))
    except Exception as exc:  # noqa: BLE001 - as above
        log.debug("not using a working copy of the query snapshot %s: %s", path, exc)
        discard_working_copy(con, work)
        return None
    return work


def discard_working_copy(con: duckdb.DuckDBPyConnection, work: str) -> None:
    """Detach the working copy at ``work`` if it is attached, and delete it."""
    try:
        if WORK in _attached(con):
            con.execute(f"DETACH {WORK}")
    except Exception as exc:  # noqa: BLE001 - the file goes anyway
        log.debug("could not detach the working copy %s: %s", work, exc)
    _unlink(work)
    _unlink(f"{work}.wal")


def put_in_place(con: duckdb.DuckDBPyConnection, work: str, path: str, meta: str) -> bool:
    """Make the attached working copy ``work`` the snapshot at ``path``, holding ``meta``.

    Objects a query made beside the tables (views, ``runs_wide``, a user's table) are dropped,
    the metadata written, the file written out (``CHECKPOINT``), detached and renamed over
    ``path``: no second copy. A reader that restored the old file keeps reading it. False (the
    copy deleted, ``path`` unchanged) when that was not possible. ``WORK`` must not be the
    current database. Records kept apart: the metadata names their file, a new one when the
    delta outgrew it (``snapshot_records.merge_if_big``), and the file it replaces is removed.
    """
    base: dict[str, Any] | None = None
    before = ""
    try:
        apart = snapshot_records.attached(con)
        if apart:
            before = snapshot_records.current(con)["file"]
        for (view,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE database_name = $db AND NOT internal",
            {"db": WORK},
        ).fetchall():
            con.execute(f"DROP VIEW {WORK}.main.{_identifier(view)}")
        for (table,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = $db", {"db": WORK}
        ).fetchall():
            if table not in TABLES and not (apart and table == snapshot_records.DELTA):
                con.execute(f"DROP TABLE {WORK}.main.{_identifier(table)}")
        if apart:
            base = snapshot_records.merge_if_big(con, path, WORK)
            meta = snapshot_records.with_ref(meta, base)
            snapshot_records.detach(con)
            if not os.path.isfile(os.path.join(os.path.dirname(path), base["file"])):
                raise ValueError("its records file was removed meanwhile")
        con.execute(f"CREATE TABLE {WORK}.snapshot_meta (meta VARCHAR)")
        con.execute(f"INSERT INTO {WORK}.snapshot_meta VALUES (?)", [meta])
        con.execute(f"CHECKPOINT {WORK}")
        con.execute(f"DETACH {WORK}")
        if os.path.exists(f"{work}.wal"):  # changes not in the file itself: not a snapshot
            raise ValueError("its write-ahead log was left behind")
        # DuckDB may cut free blocks off the end of the file, and ``restore`` takes a file
        # shorter than its blocks for a truncated one: they are put back (as a hole).
        con.execute(f"ATTACH '{_sql_string(work)}' AS {WORK} (READ_ONLY)")
        try:
            needed = _file_bytes(con, WORK)
        finally:
            con.execute(f"DETACH {WORK}")
        if os.path.getsize(work) < needed:
            os.truncate(work, needed)
        # The old file's blocks are freed in the background (``wait_for_saves`` waits for it),
        # not by the rename: 0.15-0.5 s of wall time for the 727 MB of 100,000 runs. A link
        # left by a killed process is removed by the next save (``_remove_abandoned``).
        old = f"{work}.old"
        try:
            os.link(path, old)
        except OSError:
            old = ""
        os.replace(work, path)
        if old and not in_background(lambda: _unlink(old), None):
            _unlink(old)
        if base is not None:  # the one it replaced, or one a killed process left
            _remove_all(snapshot_records.others(
                path, keep=base["file"],
                min_age=0.0 if base["file"] != before else snapshot_records.ORPHAN_SECONDS))
        return True
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written costs time only
        log.debug("could not save the working copy %s at %s: %s", work, path, exc)
        discard_working_copy(con, work)
        snapshot_records.detach(con)
        _unlink(f"{work}.old")  # a second link to the snapshot still in place
        if base is not None and base["file"] != before:  # merged for nothing
            snapshot_records.remove(path, base)
        return False


def meta_text(
    store_uri: str, loaded: dict[str, str], exclude: dict[str, frozenset[str]],
    publish_key: str | None = None, published: Any = None,
) -> str:
    """The metadata of a snapshot of these files (for ``put_in_place``; no ``runs_wide``)."""
    return _meta(store_uri, loaded, exclude, None, publish_key, published)


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def save(
    con: duckdb.DuckDBPyConnection, path: str, store_uri: str, loaded: dict[str, str],
    exclude: dict[str, frozenset[str]], wide: Any = None,
    still_current: Callable[[], bool] | None = None, publish_key: str | None = None,
    published: Any = None,
) -> bool:
    """Write the tables of ``con`` to ``path`` (atomically); False when that was not possible.

    ``wide``: the columns of ``runs_wide`` when that table is current and should be saved too.
    ``still_current``: for a save beside a process that may change its tables meanwhile (in
    the background): the tables are copied one by one, each written out before the next
    (``CHECKPOINT``, so the file's pages do not pile up in memory: 2,000 runs peaked 30-40 MB
    higher without), and the file is put in place only when ``still_current()`` says after
    the copy that no table changed since ``loaded`` was taken, else it is thrown away.
    ``publish_key``: the digest of the rules the tables were published with (None: plain
    tables), and ``published`` what ``restore`` should return with them (JSON). Published
    tables keep their records in a file of their own, with an empty delta
    (``snapshot_records``); it is put in place first, and the files of earlier ones removed.
    """
    tmp = f"{path}.tmp-{os.getpid()}"
    alias = "tracker_snapshot_out"
    apart = publish_key is not None
    records_tmp, records_alias = f"{tmp}.records", "tracker_snapshot_records_out"
    name = snapshot_records.new_name(path)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _remove_abandoned(path)
        for file in (tmp, records_tmp):
            _unlink(file)
        con.execute(f"ATTACH '{_sql_string(tmp)}' AS {alias}")
        try:
            base = None
            if apart:
                con.execute(f"ATTACH '{_sql_string(records_tmp)}' AS {records_alias}")
            try:
                for table in (*TABLES, WIDE) if wide is not None else TABLES:
                    into = records_alias if apart and table == "records" else alias
                    _copy_table(con, into, table, chunked=still_current is not None)
                if apart:
                    con.execute(f"CREATE TABLE {alias}.{snapshot_records.DELTA} AS "
                                f"FROM {records_alias}.records LIMIT 0")
                    (rows,) = con.execute(
                        f"SELECT count(*) FROM {records_alias}.records").fetchone() or (0,)
                    base = snapshot_records.ref(name, int(rows))
                    snapshot_records.name_it(con, records_alias, name)
            finally:
                if apart:
                    con.execute(f"DETACH {records_alias}")
            meta = _meta(store_uri, loaded, exclude, wide, publish_key, published, base)
            con.execute(f"CREATE TABLE {alias}.snapshot_meta (meta VARCHAR)")
            con.execute(f"INSERT INTO {alias}.snapshot_meta VALUES (?)", [meta])
        finally:
            con.execute(f"DETACH {alias}")
        if still_current is not None and not still_current():
            _unlink(tmp)
            _unlink(records_tmp)
            return False
        if apart:
            os.replace(records_tmp, os.path.join(os.path.dirname(path), name))
        os.replace(tmp, path)
        if apart:  # a save runs in the background already
            for file in snapshot_records.others(path, keep=name):
                _unlink(file)
        return True
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written costs time only
        log.debug("could not save a query snapshot at %s: %s", path, exc)
        for file in (tmp, records_tmp):
            _unlink(file)
            _unlink(f"{file}.wal")
        return False


def _meta(
    store_uri: str, loaded: dict[str, str], exclude: dict[str, frozenset[str]], wide: Any,
    publish_key: str | None, published: Any, records: dict[str, Any] | None = None,
) -> str:
    """The ``snapshot_meta`` text of a snapshot (what ``restore`` checks and returns);
    ``records``: the file of its records (``snapshot_records.ref``) when they are apart."""
    info = {
        "format": _format(), "store": store_uri, "files": loaded,
        "exclude": {k: sorted(v) for k, v in exclude.items()}, "wide": wide,
        "publish": publish_key, "published": published,
    }
    if records is not None:
        info["records"] = records
    return json.dumps(info)


def _copy_table(
    con: duckdb.DuckDBPyConnection, alias: str, table: str, *, chunked: bool = False
) -> None:
    """Copy ``table`` into the attached database ``alias``.

    ``chunked``: ``SAVE_CHUNK_ROWS`` rows at a time, each slice written out (``CHECKPOINT``)
    before the next is copied: a table is held uncompressed while it is copied, and the
    records of 2,000 loose runs (74,000 rows, their file names among them) took ~40 MB at
    once, ~27 MB in slices, which kept the first process on such a store under 240 MB (#16).
    """
    if not chunked or _is_view(con, table):
        # A view (``records`` over the store's files, tracker.query.in_place) has no rowids;
        # DuckDB writes its rows to the file as they are read, compressed (3.7 M records:
        # ~385 MB peak, and none of them held in memory afterwards).
        con.execute(f"CREATE TABLE {alias}.{table} AS FROM main.{table}")
        return
    con.execute(f"CREATE TABLE {alias}.{table} AS FROM main.{table} LIMIT 0")
    (end,) = con.execute(f"SELECT coalesce(max(rowid) + 1, 0) FROM main.{table}").fetchone() or (0,)
    # Each CHECKPOINT costs more as the file grows: a big table goes in at most SAVE_SLICES
    # slices (3.7 M records in slices of 40,000 took 25 s of CPU instead of 11).
    size = max(SAVE_CHUNK_ROWS, -(-int(end) // SAVE_SLICES))
    for start in range(0, int(end), size):  # rowids: in order, gaps after deletes
        stop = start + size
        con.execute(
            f"INSERT INTO {alias}.{table} FROM main.{table} "
            f"WHERE rowid >= {int(start)} AND rowid < {int(stop)}"
        )
        con.execute(f"CHECKPOINT {alias}")
    if not end:
        con.execute(f"CHECKPOINT {alias}")


def _is_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    (count,) = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND view_name = $name", {"name": name}).fetchone() or (0,)
    return bool(count)


def _remove_all(files: list[str]) -> None:
    """Delete ``files`` in a thread exit waits for (freeing hundreds of MB takes a moment)."""

    def remove() -> None:
        for file in files:
            _unlink(file)

    if files and not in_background(remove, None):
        remove()


def _remove_abandoned(path: str) -> None:
    """Delete the temporary files of saves whose process died (killed mid-save)."""
    folder, name = os.path.split(path)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for other in names:
        if abandoned(other, name):
            _unlink(os.path.join(folder, other))


# -- saving in the background ------------------------------------------------------------------

_saving: list[tuple[threading.Thread, Any]] = []  # (thread, the cursor it writes with)
_saving_lock = threading.Lock()
_exit_hook = False
_exiting = threading.Event()  # set at exit: saves waiting for an idle moment start now


def exiting() -> bool:
    """Whether the process is exiting (``wait_for_saves`` was called)."""
    return _exiting.is_set()


def wait_until_idle(idle_for: Callable[[], float]) -> None:
    """Sleep until ``idle_for()`` (seconds without a query) reaches ``IDLE_SECONDS``, at most
    ``MAX_IDLE_WAIT_SECONDS``, or until the process starts exiting."""
    deadline = time.monotonic() + MAX_IDLE_WAIT_SECONDS
    while not _exiting.is_set() and time.monotonic() < deadline:
        idle = idle_for()
        if idle >= IDLE_SECONDS:
            return
        _exiting.wait(max(0.01, IDLE_SECONDS - idle))


def in_background(work: Callable[[], Any], cursor: Any) -> bool:
    """Run ``work`` (a save writing through ``cursor``) in a thread that exit waits for.

    False when no thread can be started (the interpreter is shutting down): the snapshot is
    then skipped, as a cache may be.
    """
    global _exit_hook

    def run() -> None:
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written costs time only
            log.debug("query snapshot not saved: %s", exc)

    thread = threading.Thread(target=run, name="tracker-query-snapshot", daemon=True)
    with _saving_lock:
        try:
            if not _exit_hook:
                # Registered after the connection's own hook (tracker.query.connect), so it
                # runs first: the save finishes before connections are closed.
                atexit.register(wait_for_saves, EXIT_WAIT_SECONDS)
                _exit_hook = True
            thread.start()
        except RuntimeError:  # interpreter shutdown: no new threads, no new exit hooks
            return False
        _saving[:] = [(t, c) for t, c in _saving if t.is_alive()]
        _saving.append((thread, cursor))
    return True


def wait_for_saves(timeout: float | None = None) -> bool:
    """Wait for the snapshots being saved; True when none is left running.

    After ``timeout`` seconds a save still running is interrupted (its temporary file is
    removed, the previous snapshot stays in place), so exit never hangs on a cache.
    """
    _exiting.set()  # a save waiting for an idle moment starts now
    with _saving_lock:
        pending = list(_saving)
    for thread, cursor in pending:
        thread.join(timeout)
        if thread.is_alive():
            try:
                cursor.interrupt()
            except Exception:  # noqa: BLE001 - already finished or closed
                pass
            thread.join(5.0)
    with _saving_lock:
        _saving[:] = [(t, c) for t, c in _saving if t.is_alive()]
        if not _saving:
            _exiting.clear()
        return not _saving

