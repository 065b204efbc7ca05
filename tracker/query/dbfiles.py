"""Small helpers for the DuckDB files the query layer attaches (snapshots and their records)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def file_bytes(con: duckdb.DuckDBPyConnection, alias: str) -> int:
    """The bytes the blocks of the attached database ``alias`` take (its file is longer)."""
    (blocks, block_size) = con.execute(
        "SELECT total_blocks, block_size FROM pragma_database_size() "
        "WHERE database_name = $name", {"name": alias}
    ).fetchone() or (0, 0)
    return int(blocks) * int(block_size)


def attached(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of the databases attached to ``con``."""
    return {row[0] for row in con.execute("SELECT database_name FROM duckdb_databases()")
            .fetchall()}


def sql_string(text: str) -> str:
    """``text`` for use inside a single-quoted SQL string."""
    return text.replace("'", "''")


def unlink(path: str) -> None:
    """Delete the file at ``path`` if it is there."""
    try:
        os.unlink(path)
    except OSError:
        pass


def abandoned(name: str, prefix: str) -> bool:
    """Whether ``name`` is the temporary file (``<prefix>.tmp-<pid>[.…]``) of a write whose
    process, on this host, is gone."""
    from tracker.store.store import pid_alive

    if not name.startswith(f"{prefix}.tmp-"):
        return False
    pid = name[len(prefix) + 5:].split(".", 1)[0]
    return pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid))
