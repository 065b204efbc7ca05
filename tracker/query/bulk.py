"""Bulk reads for the site builder: whole tables at once, grouped in Python.

One query per table instead of one per run keeps a 10,000-run build fast. Results are plain
Python structures (no DuckDB relations leave this module).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.query import StoreQuery


def experiments(q: StoreQuery) -> list[dict[str, Any]]:
    """Active experiments that have a name, sorted by name."""
    q.refresh()
    return q.rows(
        "SELECT * FROM experiments WHERE name IS NOT NULL AND lifecycle_stage = 'active' "
        "ORDER BY name, experiment_id"
    )


def runs(q: StoreQuery) -> list[dict[str, Any]]:
    """Every active run with its attributes, newest first."""
    q.refresh()
    return q.rows(
        "SELECT run_id, experiment_id, run_name, status, start_time, end_time, user_id, "
        "artifact_uri, parent_run_id, last_seen, dead FROM runs "
        "WHERE lifecycle_stage = 'active' ORDER BY start_time DESC NULLS LAST, run_id"
    )


def _grouped(q: StoreQuery, sql: str) -> dict[str, dict[str, Any]]:
    q.refresh()
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for run_id, key, value in q._execute(sql).fetchall():
        out[run_id][key] = value
    return dict(out)


def params(q: StoreQuery) -> dict[str, dict[str, str]]:
    return _grouped(q, "SELECT run_id, key, value FROM params ORDER BY run_id, key")


def tags(q: StoreQuery) -> dict[str, dict[str, str]]:
    return _grouped(q, "SELECT run_id, key, value FROM tags ORDER BY run_id, key")


def latest_metrics(q: StoreQuery) -> dict[str, dict[str, float]]:
    return _grouped(q, "SELECT run_id, key, value FROM latest_metrics ORDER BY run_id, key")


def metric_points(
    q: StoreQuery, run_ids: list[str] | None = None
) -> dict[str, dict[str, list[tuple[int, int, float]]]]:
    """run id → metric key → [(step, timestamp, value)] sorted by step then time.

    Args:
        q: the query layer.
        run_ids: only these runs (default: every run).
    """
    out: dict[str, dict[str, list[tuple[int, int, float]]]] = defaultdict(lambda: defaultdict(list))
    q.refresh()
    where, params = ("", []) if run_ids is None else (
        "WHERE run_id IN (SELECT unnest(?::VARCHAR[])) ", [list(run_ids)])
    cur = q._execute(
        f'SELECT run_id, key, step, "timestamp", value FROM metrics {where}'
        'ORDER BY run_id, key, step, "timestamp"', params
    )
    while batch := cur.fetchmany(100_000):
        for run_id, key, step, ts, value in batch:
            out[run_id][key].append((step, ts, value))
    return {run: dict(keys) for run, keys in out.items()}


def metric_digests(q: StoreQuery) -> dict[str, str]:
    """run id → a digest of all its metric points (any added or changed point changes it)."""
    q.refresh()
    rows = q._execute(
        'SELECT run_id, count(*), sum(hash(key, step, "timestamp", value)) FROM metrics '
        "GROUP BY run_id"
    ).fetchall()
    return {run_id: f"{count}:{total}" for run_id, count, total in rows}


def artifacts(q: StoreQuery) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    q.refresh()
    for row in q.rows("SELECT run_id, path, file_size, info FROM artifacts ORDER BY run_id, path"):
        out[row["run_id"]].append(row)
    return dict(out)


def inputs(q: StoreQuery) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    q.refresh()
    for row in q.rows('SELECT * FROM inputs ORDER BY run_id, "timestamp", name'):
        out[row["run_id"]].append(row)
    return dict(out)


