"""Big first loads read in place (#16): ``records`` as a view over a few big Parquet files.

The first process ever on a compacted 100,000-run store copied its 3.7 M records into DuckDB,
compressing them chunk by chunk to stay under 1 GB (``StoreQuery._insert_in_chunks``), then
folded all of them into ``runs``, ``params``, ``tags``… before its first result. The store's
files are immutable and, once compacted, few, so such a load (``applies``) does only what a
first search needs (``create``, ``fold``):

* ``records`` is a view over the files: nothing is copied;
* ``runs``, ``experiments`` and the small tables are folded from the files;
* ``params``, ``tags`` and ``latest_metrics`` (``LAZY``) are views of their fold: a filter on
  one key folds only that key's records (DuckDB pushes the key through the view), and the
  DataFrame's columns are folded from the records of the selected runs only (``selected``).
  Any other query naming one folds them into tables first (``StoreQuery.lazy_reads``), as a
  load into tables did.

Then, after the result was returned, the background snapshot save folds the lazy tables into
tables (``materialize``) and copies the records from the files straight into the snapshot file
(``snapshot._copy_table`` copies a view in one statement, written out as it is read), never into
memory: ``records`` stays a view over the immutable files. New files copy the records into the
table first (compressed chunk by chunk, as before); a removed file (compaction) loads
everything again. Until then a query reads the files and gets the same rows. This is only used
when a snapshot will be saved (the save is what folds the lazy tables).

Not read in place: loads with publish rules (they rewrite ``records``), with segments excluded
from some file (a compaction in progress), of remote files, of ``MANY_FILES`` or more (loose
runs: every query would open every file) or of less than ``tracker.query.BIG_LOAD_BYTES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracker.query import views

if TYPE_CHECKING:
    from tracker.query import StoreQuery

# Fewer files than this, and no smaller in all than ``tracker.query.BIG_LOAD_BYTES``.
MANY_FILES = 64
# Derived tables left as views of their fold until ``materialize``.
LAZY = ("tags", "params", "latest_metrics")
# Tables being made by ``materialize``, each renamed to its name once complete.
SUFFIX = "_loading"
# The records of the runs a search selected (``selected``).
SELECTED = "_selected_records"


def applies(q: StoreQuery, files: list[str], exclude: dict[str, frozenset[str]],
            min_bytes: int) -> bool:
    """Whether a load from scratch of the local ``files`` reads them in place (``min_bytes``:
    ``tracker.query.BIG_LOAD_BYTES``)."""
    return (
        q.publish is None and not exclude and 0 < len(files) < MANY_FILES
        and q._snapshots() and total_size(files) >= min_bytes
    )


def total_size(paths: list[str]) -> int:
    """The bytes of the local files ``paths`` (a file gone meanwhile counts 0)."""
    import os

    total = 0
    for path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:
            pass
    return total


def names_lazy(sql: str) -> bool:
    """Whether ``sql`` names one of the ``LAZY`` tables (as a word: ``experiment_tags`` or
    ``_selected_tags`` do not count)."""
    text = sql.lower()
    for name in LAZY:
        start = text.find(name)
        while start >= 0:
            before = text[start - 1] if start else " "
            end = start + len(name)
            after = text[end] if end < len(text) else " "
            if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
                return True
            start = text.find(name, start + 1)
    return False


def view_sql(files: list[str]) -> str:
    """``CREATE VIEW records`` over ``files`` (full local paths), with the columns and types of
    the ``records`` table (``views.EMPTY_RECORDS``)."""
    from tracker.query.snapshot import _sql_string

    listed = ", ".join(f"'{_sql_string(f)}'" for f in files)
    return (
        "CREATE VIEW records AS SELECT experiment_id::VARCHAR AS experiment_id, "
        "run_id::VARCHAR AS run_id, seg::VARCHAR AS seg, kind::VARCHAR AS kind, "
        "key::VARCHAR AS key, value::VARCHAR AS value, num::DOUBLE AS num, step::BIGINT AS step, "
        '"timestamp"::BIGINT AS "timestamp", seq::BIGINT AS seq, filename::VARCHAR AS filename '
        f"FROM read_parquet([{listed}], union_by_name = true, filename = true)"
    )


def fold_select(name: str, records: str = "records") -> str:
    """The SELECT of the derived table ``name``, reading the records from ``records``."""
    create = views.DERIVED[name].strip()
    prefix = f"CREATE OR REPLACE TABLE {name} AS"
    if not create.startswith(prefix) or create.count("FROM records") != 1:
        raise ValueError(f"derived table {name} cannot be folded from {records}")
    return create[len(prefix):].replace("FROM records", f"FROM {records}")


def create(q: StoreQuery, files: list[str]) -> None:
    """Make ``records`` the view over ``files`` (the table it replaces is empty: a load from
    scratch). Raises ``duckdb.Error`` when a file's footer cannot be read (the caller loads
    the files one statement at a time, which finds the bad one)."""
    q._execute("DROP TABLE IF EXISTS records")
    try:
        q._execute(view_sql(files))
    except Exception:
        q._execute(views.EMPTY_RECORDS)
        raise


def fold(q: StoreQuery) -> None:
    """The derived tables over the view: ``LAZY`` ones as views of their fold."""
    for name, sql in views.DERIVED.items():
        if name in LAZY:
            if name not in _views(q, LAZY):
                q._execute(f"DROP TABLE IF EXISTS {name}")
            q._execute(f"CREATE OR REPLACE VIEW {name} AS {fold_select(name)}")
        else:
            q._execute(sql)


def drop(q: StoreQuery) -> None:
    """Back to an empty ``records`` table, without the lazy views (a load from scratch
    follows, which folds every table again)."""
    for name in _views(q, ("records", *LAZY)):  # the lazy ones may be tables by now
        q._execute(f"DROP VIEW {name}")
    q._execute(views.EMPTY_RECORDS)


def _views(q: StoreQuery, names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` that are views of the tables' database."""
    rows = q._execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main'").fetchall()
    return [name for (name,) in rows if name in names]


def selected(q: StoreQuery, runs: str) -> dict[str, str]:
    """For a search's DataFrame while the ``LAZY`` tables are views: fold the rows of the runs
    in the table ``runs`` (column ``run_id``) from their records alone, into temporary tables;
    returns table name → the table to read instead."""
    # Only the columns and kinds the three folds read: the file name and segment of every
    # record cost more to read than the rest (100,000 runs: ~0.45 -> ~0.2 s of CPU).
    q._execute(f"CREATE OR REPLACE TEMP TABLE {SELECTED} AS "
               'SELECT run_id, kind, key, value, num, step, "timestamp", seq FROM records '
               f"WHERE kind IN ('tag', 'param', 'metric') AND run_id IN (SELECT run_id FROM {runs})")
    out = {}
    for name in LAZY:
        out[name] = f"_selected_{name}"
        q._execute(f"CREATE OR REPLACE TEMP TABLE {out[name]} AS {fold_select(name, SELECTED)}")
    q._execute(f"DROP TABLE {SELECTED}")
    return out


def materialize(q: StoreQuery, files: list[str], execute: Callable[..., Any], *,
                records: bool, lazy: bool, database: str) -> None:
    """Replace views by tables holding the same rows, through ``execute`` (the background
    save's cursor, or the query layer's own): with ``lazy`` the ``LAZY`` tables, folded; with
    ``records`` the records of ``files``, copied chunk by chunk, compressed
    (``StoreQuery._insert_in_chunks``). Each view stays until every table is complete, and all
    are swapped in one transaction, so a query running meanwhile reads the files, never a
    partial table. Raises ``duckdb.Error`` (the views left in place) when a file cannot be read.
    ``database``: the in-memory database of the tables (``tracker.query.TABLES_DB``).
    """
    names = [*(LAZY if lazy else ()), *(("records",) if records else ())]
    try:
        for name in names:
            if name == "records":
                execute(views.EMPTY_RECORDS.replace("TABLE records", f"TABLE records{SUFFIX}"))
                q._insert_in_chunks(files, execute=execute, table=f"records{SUFFIX}")
            else:
                execute(f"CREATE OR REPLACE TABLE {name}{SUFFIX} AS FROM {name}")
                execute(f"CHECKPOINT {database}")  # compressed before the next one is folded
        execute("BEGIN TRANSACTION")
        try:
            for name in names:
                execute(f"DROP VIEW {name}")
                execute(f"ALTER TABLE {name}{SUFFIX} RENAME TO {name}")
            execute("COMMIT")
        except Exception:
            execute("ROLLBACK")
            raise
    except Exception:
        for name in names:
            execute(f"DROP TABLE IF EXISTS {name}{SUFFIX}")
        raise
