"""Report SQL in a sandbox: its own DuckDB database that can read nothing but copies of the tables.

A report is trusted text, but its SQL runs over an untrusted store and its results are published,
so it gets the least power that answers it. Each ``Sandbox`` is a separate in-memory DuckDB
database that holds copies of the query layer's public tables (already redacted by the build's
publish rules) and is locked before any report SQL runs:

- ``enable_external_access = false``: no file reads or writes (``read_text``, ``glob``,
  ``read_parquet`` of the store's raw files, ``COPY … TO``), no ``ATTACH``, no extension
  ``INSTALL``/``LOAD``;
- ``python_enable_replacements = false``: a name in the SQL never reaches a Python variable;
- ``lock_configuration = true``: the SQL cannot turn either back on.

Statements are split by DuckDB's own parser (a regex misses dollar-quoted strings such as
``$$;$$``): a block must be exactly one reading statement. ``tracker sql`` is the user's own
full-power query over their store and does not use this.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tracker.exceptions import TrackerError
from tracker.query import connect
from tracker.query.views import PUBLIC_TABLES

if TYPE_CHECKING:
    import duckdb

    from tracker.query import StoreQuery

__all__ = ["Sandbox", "SandboxError"]


class SandboxError(TrackerError):
    """Report SQL that is not exactly one reading statement, or that DuckDB rejected."""


class Sandbox:
    """A locked DuckDB database with copies of ``query``'s public tables, made as SQL needs them.

    Args:
        query: the query layer whose tables (with the build's redaction applied) are copied.
    """

    def __init__(self, query: StoreQuery) -> None:
        self.query = query
        self._con: duckdb.DuckDBPyConnection | None = None
        self._copied: set[str] = set()
        self._version = -1

    def _connection(self) -> duckdb.DuckDBPyConnection:
        self.query.refresh()
        if self._con is None or self._version != self.query._version:
            if self._con is not None:
                self._con.close()
            con = connect()
            con.execute("SET python_enable_replacements = false")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            self._con, self._copied, self._version = con, set(), self.query._version
        return self._con

    def _copy(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        """Copy each public table whose name the SQL mentions (a name must be spelled to be read)."""
        words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
        for name in PUBLIC_TABLES:
            if name in words and name not in self._copied:
                data = self.query.con.sql(f"SELECT * FROM {name}").to_arrow_table()
                con.register("_tracker_copy", data)
                try:
                    con.execute(f"CREATE TABLE {name} AS SELECT * FROM _tracker_copy")
                finally:
                    con.unregister("_tracker_copy")
                self._copied.add(name)

    def run(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of one reading statement.

        Raises:
            SandboxError: the text is empty, not exactly one SELECT/WITH statement, or DuckDB
                refused it (a file, extension or setting it may not touch included).
        """
        import duckdb

        if not isinstance(sql, str) or not sql.strip():
            raise SandboxError("the block is empty; write one SELECT statement.")
        con = self._connection()
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise SandboxError(f"the SQL does not parse: {_first_line(exc)}") from exc
        if len(statements) != 1:
            raise SandboxError(
                f"one statement per block, found {len(statements)}: split them into blocks.")
        kind = statements[0].type
        is_pivot = kind == duckdb.StatementType.MULTI and sql.lstrip().lower().startswith("pivot")
        if kind != duckdb.StatementType.SELECT and not is_pivot:
            raise SandboxError(
                f"only reading statements may run in a report (SELECT, WITH, FROM, PIVOT…), "
                f"not {kind.name}.")
        self._copy(con, sql)
        try:
            cur = con.execute(sql)
            return [d[0] for d in cur.description or ()], cur.fetchall()
        except duckdb.Error as exc:
            raise SandboxError(f"the query failed: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n")[0] or type(exc).__name__
