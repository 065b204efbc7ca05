"""The records of a published snapshot, in a file of their own (#14).

A build applies the files added since its published snapshot to a copy of the snapshot's file
(``snapshot.working_copy``), and ``records`` (every record of the store, redacted) was 87 % of
that file: at 100,000 runs a rebuild copied 727 MB to add one run's records, 2.4 s of its store
load. Between two full loads ``records`` is only appended to (a removed file, or a change of
which experiments are published, loads everything again: ``StoreQuery._republish``), so a
published snapshot keeps it in two parts:

* the base: a DuckDB file of its own beside the snapshot, ``<snapshot>.records-<16 hex
  digits>``, written once under a new name and never changed, named with its row count in the
  snapshot's metadata (``ref``) and holding its own name (``NAME_TABLE``: a file renamed or
  copied there is not taken for it);
* the delta: the table ``records_delta`` of the snapshot's file, the records builds applied
  since the base was written.

``records`` is the view of both (``view_sql``), read where they are. A build's working copy is
the snapshot's file alone (the folded tables and the delta: ~60 MB at 100,000 runs), and the new
records go into its delta. Once the delta outgrows ``1 / MERGE_FRACTION`` of the base (and
``MERGE_MIN_ROWS``), the build putting it in place first writes base and delta into a new base
(``merge_if_big``): the delta a build copies stays small, and the rewrite of the base is paid
once every few thousand new runs. A base no snapshot names any more is removed when another is
put in place (``others``); a process that attached it keeps reading it (POSIX). One left
by a process killed between writing it and putting its snapshot in place goes with the next
merge or full save, or once it is ``ORPHAN_SECONDS`` old (it may be another build's, about to
be named).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from typing import TYPE_CHECKING, Any

from tracker.query.dbfiles import attached as _attached
from tracker.query.dbfiles import file_bytes, sql_string, unlink

if TYPE_CHECKING:
    import duckdb

ALIAS = "tracker_records"  # the attached base
DELTA = "records_delta"  # the records added since the base, in the snapshot's file
# The delta is merged into a new base once it holds more rows than both of these.
MERGE_FRACTION = 16
MERGE_MIN_ROWS = 100_000
NAME_TABLE = "records_file"  # in the base: its file name
# A base no snapshot names is left this long (seconds) by a build that did not replace it.
ORPHAN_SECONDS = 3600.0
_OUT = "tracker_records_out"
_SUFFIX = re.compile(r"records-[0-9a-f]{16}")


def new_name(path: str) -> str:
    """A name for a new base of the snapshot at ``path`` (file name only, never used before)."""
    return f"{os.path.basename(path)}.records-{secrets.token_hex(8)}"


def ref(name: str, rows: int) -> dict[str, Any]:
    """What the snapshot's metadata says of its base (``attach`` checks the file against it)."""
    return {"file": name, "rows": rows}


def with_ref(meta: str, base: dict[str, Any]) -> str:
    """The snapshot metadata ``meta`` naming the base ``base``."""
    info = json.loads(meta)
    info["records"] = base
    return json.dumps(info)


def _file(path: str, base: Any) -> tuple[str, int]:
    """The full path and row count of the base ``base`` names; ValueError when it names none
    (a damaged or foreign snapshot: it only ever names a file beside itself)."""
    if not isinstance(base, dict):
        raise ValueError("names no records file of its own")
    name, rows = base.get("file"), base.get("rows")
    prefix = f"{os.path.basename(path)}."
    if (not isinstance(name, str) or not name.startswith(prefix)
            or not _SUFFIX.fullmatch(name[len(prefix):])
            or not isinstance(rows, int) or isinstance(rows, bool)):
        raise ValueError("names no records file of its own")
    return os.path.join(os.path.dirname(path), name), rows


def attach(con: duckdb.DuckDBPyConnection, path: str, base: Any) -> None:
    """Attach the base that the metadata of the snapshot at ``path`` names (``base``) read-only
    as ``ALIAS``. ValueError (nothing attached) when it is missing, truncated or not the one."""
    file, rows = _file(path, base)
    detach(con)
    con.execute(f"ATTACH '{sql_string(file)}' AS {ALIAS} (READ_ONLY)")
    try:
        if os.path.getsize(file) < file_bytes(con, ALIAS):
            raise ValueError("its records file is truncated")
        (count,) = con.execute(f"SELECT count(*) FROM {ALIAS}.records").fetchone() or (-1,)
        (named,) = con.execute(f"SELECT max(name) FROM {ALIAS}.{NAME_TABLE}").fetchone() or ("",)
        if count != rows or named != os.path.basename(file):
            raise ValueError("its records file is another snapshot's")
    except BaseException:
        detach(con)
        raise


def attached(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a base is attached (the tables served or worked on keep records apart)."""
    return ALIAS in _attached(con)


def name_it(con: duckdb.DuckDBPyConnection, database: str, name: str) -> None:
    """Write the file name ``name`` into the base being written as ``database``."""
    con.execute(f"CREATE TABLE {database}.{NAME_TABLE} AS SELECT $name AS name", {"name": name})


def detach(con: duckdb.DuckDBPyConnection) -> None:
    if attached(con):
        con.execute(f"DETACH {ALIAS}")


def view_sql(delta_db: str, into: str = "") -> str:
    """``CREATE VIEW records``: the attached base, then the delta of the database
    ``delta_db``; in the database ``into`` (default: the current one)."""
    name = f"{into}.main.records" if into else "records"
    return f"CREATE VIEW {name} AS FROM {ALIAS}.records UNION ALL FROM {delta_db}.{DELTA}"


def set_aside(con: duckdb.DuckDBPyConnection, empty_records: str) -> None:
    """In the working copy (the current database): ``records`` becomes an empty table
    (``empty_records``: its SQL) for the records of new files, the view set aside."""
    con.execute("DROP VIEW records")
    con.execute(empty_records)


def put_back(con: duckdb.DuckDBPyConnection, delta_db: str) -> None:
    """Append the new (published) records to the delta, and ``records`` is the view again."""
    con.execute(f"INSERT INTO {delta_db}.{DELTA} BY NAME FROM records")
    con.execute("DROP TABLE records")
    con.execute(view_sql(delta_db))


def forget_view(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the view ``records`` of the current database, if it is one (before an empty
    table of that name is made)."""
    (count,) = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND view_name = 'records'").fetchone() or (0,)
    if count:
        con.execute("DROP VIEW records")


def current(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """``ref`` of the attached base."""
    (file,) = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = $name", {"name": ALIAS}
    ).fetchone() or ("",)
    (rows,) = con.execute(f"SELECT count(*) FROM {ALIAS}.records").fetchone() or (0,)
    return ref(os.path.basename(str(file)), int(rows))


def merge_if_big(con: duckdb.DuckDBPyConnection, path: str, delta_db: str) -> dict[str, Any]:
    """``ref`` of the base the snapshot at ``path`` should name with the delta of the attached
    database ``delta_db``: the attached one, or, when the delta outgrew it, a new base holding
    both, written beside it under a new name (then the delta is emptied)."""
    base = current(con)
    (delta,) = con.execute(f"SELECT count(*) FROM {delta_db}.{DELTA}").fetchone() or (0,)
    if delta <= max(MERGE_MIN_ROWS, base["rows"] // MERGE_FRACTION):
        return base
    name = new_name(path)
    tmp = f"{path}.tmp-{os.getpid()}.records"
    try:
        con.execute(f"ATTACH '{sql_string(tmp)}' AS {_OUT}")
        try:
            # Written to the file as it is read (compressed), in the order the view reads.
            con.execute(f"CREATE TABLE {_OUT}.records AS FROM {ALIAS}.records")
            con.execute(f"INSERT INTO {_OUT}.records FROM {delta_db}.{DELTA}")
            name_it(con, _OUT, name)
        finally:
            con.execute(f"DETACH {_OUT}")
        os.replace(tmp, os.path.join(os.path.dirname(path), name))
    except BaseException:
        unlink(tmp)
        unlink(f"{tmp}.wal")
        raise
    # Emptied whole (its blocks freed), keeping its columns.
    con.execute(f"CREATE OR REPLACE TABLE {delta_db}.{DELTA} AS FROM {delta_db}.{DELTA} LIMIT 0")
    return ref(name, base["rows"] + int(delta))


def others(path: str, keep: str, *, min_age: float = 0.0) -> list[str]:
    """The bases of the snapshot at ``path`` other than ``keep`` (a file name) changed at least
    ``min_age`` seconds ago (full paths: the caller deletes them)."""
    import time

    folder, name = os.path.split(path)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    prefix = f"{name}."
    found = [os.path.join(folder, other) for other in names
             if other != keep and other.startswith(prefix)
             and _SUFFIX.fullmatch(other[len(prefix):])]
    if min_age > 0:
        now = time.time()
        found = [file for file in found if now - _mtime(file, now) >= min_age]
    return found


def _mtime(file: str, default: float) -> float:
    try:
        return os.stat(file).st_mtime
    except OSError:
        return default


def remove(path: str, base: dict[str, Any]) -> None:
    """Delete the base ``base`` of the snapshot at ``path`` (written for a snapshot that was not
    put in place)."""
    try:
        file, _ = _file(path, base)
    except ValueError:
        return
    unlink(file)
