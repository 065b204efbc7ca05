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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.query import StoreQuery

TABLE = "runs_wide"
BASE_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")
SOURCES = (("metrics", "latest_metrics"), ("params", "params"), ("tags", "tags"))
# Past this many distinct keys a store-wide table would be mostly empty cells: pivot per call.
MAX_COLUMNS = 2_000


@dataclass(frozen=True)
class WideTable:
    """The columns of ``runs_wide``: alias → MLflow column name, in MLflow's order."""

    columns: tuple[tuple[str, str], ...]

    def as_json(self) -> list[list[str]]:
        return [list(pair) for pair in self.columns]

    @classmethod
    def from_json(cls, data: Any) -> WideTable:
        return cls(tuple((str(alias), str(name)) for alias, name in data))


def build(q: StoreQuery) -> WideTable | None:
    """Create ``runs_wide`` from the current tables; None when the store has too many keys."""
    keys = q._execute(
        "SELECT 'metrics', key FROM (SELECT DISTINCT key FROM latest_metrics) "
        "UNION ALL SELECT 'params', key FROM (SELECT DISTINCT key FROM params) "
        "UNION ALL SELECT 'tags', key FROM (SELECT DISTINCT key FROM tags) ORDER BY 1, 2"
    ).fetchall()
    if len(keys) > MAX_COLUMNS:
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
        joins.append(f"LEFT JOIN (SELECT run_id, {pivots} FROM {source} GROUP BY run_id) "
                     f"AS {table} USING (run_id)")
        selected.append(f"{table}.* EXCLUDE (run_id)")
    q._execute(
        f"CREATE OR REPLACE TABLE {TABLE} AS SELECT {', '.join(selected)} FROM runs r "
        f"{' '.join(joins)}",
        params,
    )
    return WideTable(tuple(columns))


def select(q: StoreQuery, wide: WideTable) -> Any:
    """The rows of the runs in ``_selected`` (in its order) with the columns they have, as an
    Arrow table, and the alias → name map of those columns."""
    if wide.columns:
        counts = q._execute(
            "SELECT " + ", ".join(f"count({alias})" for alias, _ in wide.columns)
            + f" FROM {TABLE} SEMI JOIN _selected USING (run_id)"
        ).fetchone() or ()
    else:
        counts = ()
    present = [(alias, name) for (alias, name), n in zip(wide.columns, counts) if n]
    cols = ", ".join([f"w.{c}" for c in BASE_COLUMNS] + [f"w.{alias}" for alias, _ in present])
    cursor = q._execute(
        f"SELECT {cols} FROM _selected s JOIN {TABLE} w USING (run_id) ORDER BY s.ord"
    )
    # DuckDB < 2.0 names it fetch_arrow_table.
    to_arrow = getattr(cursor, "to_arrow_table", None) or cursor.fetch_arrow_table  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "extra copy of the rows": still faster
        return to_arrow(), dict(present)
