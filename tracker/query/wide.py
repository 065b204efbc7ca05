"""``runs_wide``: one row per run with every latest metric, param and tag as a column.

``search_runs`` returns MLflow's wide DataFrame. Pivoting the ``latest_metrics``, ``params`` and
``tags`` tables for every call cost most of a search (100,000 runs: ~0.55 s of 0.77 s), so the
pivot is done once per change of the store and kept as a table; a search then selects its rows
and the columns its runs have. Query snapshots save it too, so a new process starts with it.

Columns are named ``c0``, ``c1``… (DuckDB names are case-insensitive: ``loss`` and ``Loss`` are
two MLflow columns); ``WideTable.columns`` maps them to ``metrics.<key>``, ``params.<key>`` and
``tags.<key>``, in that order and sorted by key, as MLflow orders them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.query import StoreQuery

TABLE = "runs_wide"
# ``build_selected``: the wide rows of just the runs of a search, while ``runs_wide`` waits.
SELECTED_TABLE = "_selected_wide"
BASE_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")
SOURCES = (("metrics", "latest_metrics"), ("params", "params"), ("tags", "tags"))
# The budget of the table (#15): past this many distinct keys, or keys × runs cells, a search
# pivots the long rows of just its runs instead (``select_long``), which costs about the same.
# DuckDB's pivot costs grow with keys × rows (one FILTER aggregate per key): one run with 1,900
# metric keys took 30 s and 7.5 GB to pivot; ``select_long`` takes well under a second.
MAX_COLUMNS = 500
MAX_CELLS = 20_000_000


def base_columns(prefix: str) -> list[str]:
    """The base columns of table alias ``prefix``, the times as UTC timestamps: converted here
    rather than by pandas, which cost a new process's first search ~5 ms (#16)."""
    return [f"epoch_ms({prefix}.{c})::TIMESTAMPTZ AS {c}" if c.endswith("_time") else f"{prefix}.{c}"
            for c in BASE_COLUMNS]


@dataclass(frozen=True)
class WideTable:
    """The columns of ``runs_wide``: alias → MLflow column name, in MLflow's order."""

    columns: tuple[tuple[str, str], ...]

    def as_json(self) -> list[list[str]]:
        return [list(pair) for pair in self.columns]

    @classmethod
    def from_json(cls, data: Any) -> WideTable:
        return cls(tuple((str(alias), str(name)) for alias, name in data))


def build(q: StoreQuery, execute: Callable[..., Any] | None = None, *,
          sources: dict[str, str] | None = None, into: str = TABLE,
          only: str | None = None) -> WideTable | None:
    """Create ``runs_wide`` from the current tables; None when it would exceed its budget
    (``MAX_COLUMNS`` keys or ``MAX_CELLS`` keys × runs).

    ``execute``: runs the SQL (default ``q._execute``); a background snapshot save passes
    its own cursor's. ``sources``: tables to read instead of ``latest_metrics``, ``params``
    and ``tags``; ``into``: the (temporary) table to create instead; ``only``: a table whose
    ``run_id`` column lists the runs to keep (``build_selected``).
    """
    run = execute or q._execute
    named = {name: name for _, name in SOURCES} | (sources or {})
    keys = run(
        f"SELECT 'metrics', key FROM (SELECT DISTINCT key FROM {named['latest_metrics']}) "
        f"UNION ALL SELECT 'params', key FROM (SELECT DISTINCT key FROM {named['params']}) "
        f"UNION ALL SELECT 'tags', key FROM (SELECT DISTINCT key FROM {named['tags']}) "
        "ORDER BY 1, 2"
    ).fetchall()
    if len(keys) > MAX_COLUMNS:
        return None
    (runs,) = run(f"SELECT count(*) FROM {only or 'runs'}").fetchone() or (0,)
    if len(keys) * runs > MAX_CELLS:
        return None
    columns: list[tuple[str, str]] = []
    params: list[Any] = []
    joins, selected = [], [f"r.{c}" for c in BASE_COLUMNS]
    for table, source in SOURCES:
        table_keys = [k for t, k in keys if t == table]
        if not table_keys:
            continue
        aliases = []
        for key in table_keys:
            aliases.append(f"c{len(columns)}")
            columns.append((aliases[-1], f"{table}.{key}"))
        pivots = ", ".join(f"first(value) FILTER (WHERE key = ?) AS {a}" for a in aliases)
        params.extend(table_keys)
        joins.append(f"LEFT JOIN (SELECT run_id, {pivots} FROM {named[source]} "
                     f"GROUP BY run_id) AS {table} USING (run_id)")
        selected.append(f"{table}.* EXCLUDE (run_id)")
    runs_from = "runs" if only is None else (
        f"(SELECT * FROM runs WHERE run_id IN (SELECT run_id FROM {only}))")
    kind = "TABLE" if only is None else "TEMP TABLE"
    run(
        f"CREATE OR REPLACE {kind} {into} AS SELECT {', '.join(selected)} FROM {runs_from} r "
        f"{' '.join(joins)}",
        params,
    )
    return WideTable(tuple(columns))


def build_selected(q: StoreQuery) -> WideTable | None:
    """``build`` for the runs in ``_selected`` alone, into ``SELECTED_TABLE``, while the
    ``in_place.LAZY`` tables are views of their fold over the ``records`` table (a first load
    of many files, whose background save builds ``runs_wide``): their rows are folded from
    these runs' records only (``in_place.selected``). DuckDB pivots them on the thread that
    loaded the store, ahead of pandas; ``select_long``'s pivot with pyarrow and numpy cost
    the first process ever on 2,000 loose runs ~70 ms more after the import (#16)."""
    from tracker.query import in_place

    # The SQL names the lazy tables only as aliases and text ('params'): nothing to fold first.
    with q.lazy_reads():
        sources = in_place.selected(q, "_selected")
        try:
            return build(q, sources=sources, into=SELECTED_TABLE, only="_selected")
        finally:
            for temporary in sources.values():
                q._execute(f"DROP TABLE {temporary}")


def select(q: StoreQuery, wide: WideTable) -> Any:
    """The rows of the runs in ``_selected`` (in its order) with the columns they have, as an
    Arrow table, and the alias → name map of those columns."""
    return fetch(*execute_select(q, wide))


def execute_select(q: StoreQuery, wide: WideTable,
                   table: str = TABLE) -> tuple[Any, dict[str, str]]:
    """``select`` run and not fetched (no pyarrow needed yet): the cursor holding its result,
    and the alias → name map; ``fetch`` gives the Arrow table, before the next query.
    ``table``: the wide table to read (``SELECTED_TABLE`` after ``build_selected``)."""
    if wide.columns:
        counts = q._execute(
            "SELECT " + ", ".join(f"count({alias})" for alias, _ in wide.columns)
            + f" FROM {table} SEMI JOIN _selected USING (run_id)"
        ).fetchone() or ()
    else:
        counts = ()
    present = [(alias, name) for (alias, name), n in zip(wide.columns, counts) if n]
    cols = ", ".join(base_columns("w") + [f"w.{alias}" for alias, _ in present])
    cursor = q._execute(
        f"SELECT {cols} FROM _selected s JOIN {table} w USING (run_id) ORDER BY s.ord"
    )
    return cursor, dict(present)


def fetch(cursor: Any, present: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """(the Arrow table of ``execute_select``'s result, the alias → name map)."""
    return _arrow(cursor), present


def select_long(q: StoreQuery) -> Any:
    """What ``select`` returns, without ``runs_wide``: the long rows (run, key, value) of the
    runs in ``_selected`` pivoted with numpy, so the cost follows the values the runs have,
    not keys × aggregates. The columns, their order and types are those of ``select``."""
    import pyarrow as pa

    from tracker.query import in_place

    q._execute(
        "CREATE OR REPLACE TEMP TABLE _selected_pos AS SELECT run_id, "
        "row_number() OVER (ORDER BY ord) - 1 AS pos FROM _selected SEMI JOIN runs USING (run_id)"
    )
    base = _arrow(q._execute(
        f"SELECT {', '.join(base_columns('r'))} FROM _selected_pos p "
        "JOIN runs r USING (run_id) ORDER BY p.pos"
    ))
    n = base.num_rows
    # Tables still views of their fold (a big first load): fold just these runs' records.
    sources = in_place.selected(q, "_selected_pos") if q.reads_in_place() else {}
    aliases: dict[str, str] = {}
    arrays, names = list(base.columns), list(BASE_COLUMNS)
    for table, source in SOURCES:
        source = sources.get(source, source)
        keys = [k for (k,) in q._execute(
            f"SELECT DISTINCT key FROM {source} SEMI JOIN _selected_pos USING (run_id) ORDER BY key"
        ).fetchall()]
        if not keys:
            continue
        long = _arrow(q._execute(
            f"SELECT p.pos, dense_rank() OVER (ORDER BY s.key) - 1 AS col, s.value "
            f"FROM {source} s JOIN _selected_pos p USING (run_id) ORDER BY col, p.pos"
        ))
        columns = _pivot_numbers(long, len(keys), n) if table == "metrics" else _pivot_text(
            long, len(keys), n)
        for key, column in zip(keys, columns):
            alias = f"c{len(aliases)}"
            aliases[alias] = f"{table}.{key}"
            names.append(alias)
            arrays.append(column)
    q._execute("DROP TABLE _selected_pos")
    for temporary in sources.values():
        q._execute(f"DROP TABLE {temporary}")
    return pa.Table.from_arrays(arrays, names=names), aliases


def _arrow(cursor: Any) -> Any:
    # DuckDB < 2.0 names it fetch_arrow_table.
    to_arrow = getattr(cursor, "to_arrow_table", None) or cursor.fetch_arrow_table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "extra copy of the rows": still faster
        return to_arrow()


def _pivot_numbers(long: Any, keys: int, runs: int) -> list[Any]:
    """Float columns (one per key) from long rows ``pos, col, value``: NaN where absent, as
    a null of ``select`` becomes in the DataFrame."""
    import numpy as np
    import pyarrow as pa

    matrix = np.full((keys, runs), np.nan)
    pos = long.column("pos").to_numpy()
    col = long.column("col").to_numpy()
    matrix[col, pos] = long.column("value").to_numpy(zero_copy_only=False)
    return [pa.Array.from_buffers(pa.float64(), runs, [None, pa.py_buffer(row)]) for row in matrix]


def _pivot_text(long: Any, keys: int, runs: int) -> list[Any]:
    """String columns (one per key) from long rows ``pos, col, value`` sorted by col, pos."""
    import numpy as np
    import pyarrow as pa

    pos = long.column("pos").to_numpy()
    col = long.column("col").to_numpy()
    values = long.column("value").combine_chunks()
    bounds = np.searchsorted(col, np.arange(keys + 1))
    out = []
    for k in range(keys):
        start, stop = int(bounds[k]), int(bounds[k + 1])
        index = np.full(runs, -1, dtype=np.int64)
        index[pos[start:stop]] = np.arange(start, stop)
        out.append(values.take(pa.array(index, mask=index < 0)))
    return out
