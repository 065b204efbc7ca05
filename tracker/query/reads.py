"""Typed reads over a ``StoreQuery``: experiments, runs, metric histories, MLflow-shaped searches."""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

from tracker.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    ViewType,
)
from tracker.exceptions import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from tracker.query import StoreQuery

RUN_COLUMNS = (
    "run_id, experiment_id, run_name, status, start_time, end_time, user_id, artifact_uri, "
    "lifecycle_stage, parent_run_id, dead"
)

_STAGE_FILTER = {
    ViewType.ACTIVE_ONLY: "lifecycle_stage = 'active'",
    ViewType.DELETED_ONLY: "lifecycle_stage = 'deleted'",
    ViewType.ALL: "lifecycle_stage IS NOT NULL",
}


def experiments(q: StoreQuery, view_type: int = ViewType.ACTIVE_ONLY) -> list[Experiment]:
    """All experiments of the store, sorted by name."""
    q.refresh()
    stage = _STAGE_FILTER[ViewType.from_any(view_type)]
    tags: dict[str, dict[str, str]] = {}
    for row in q.rows("SELECT experiment_id, key, value FROM experiment_tags ORDER BY key"):
        tags.setdefault(row["experiment_id"], {})[row["key"]] = row["value"]
    out = []
    for row in q.rows(
        f"SELECT * FROM experiments WHERE name IS NOT NULL AND {stage} ORDER BY name, experiment_id"
    ):
        out.append(_experiment(row, tags.get(row["experiment_id"], {})))
    return out


def _experiment(row: dict[str, Any], tags: dict[str, str]) -> Experiment:
    return Experiment(
        experiment_id=row["experiment_id"],
        name=row["name"],
        artifact_location=row["artifact_location"] or "",
        lifecycle_stage=row["lifecycle_stage"],
        tags=tags,
        creation_time=row["creation_time"],
        last_update_time=row["last_update_time"],
    )


def run_info(row: dict[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=row["run_id"],
        experiment_id=row["experiment_id"],
        run_name=row["run_name"],
        user_id=row["user_id"],
        status=row["status"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        artifact_uri=row["artifact_uri"],
        lifecycle_stage=row["lifecycle_stage"],
    )


def runs_by_id(q: StoreQuery, run_ids: list[str]) -> list[Run]:
    """Full ``Run`` entities for ``run_ids`` in that order (tables must be fresh)."""
    if not run_ids:
        return []
    ids = {"ids": list(run_ids)}
    infos = {
        r["run_id"]: r
        for r in q.rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id IN (SELECT unnest($ids))", ids
        )
    }
    metrics: dict[str, dict[str, float]] = {}
    for r in q.rows(
        "SELECT run_id, key, value FROM latest_metrics WHERE run_id IN (SELECT unnest($ids)) "
        "ORDER BY key",
        ids,
    ):
        metrics.setdefault(r["run_id"], {})[r["key"]] = r["value"]
    params: dict[str, dict[str, str]] = {}
    for r in q.rows(
        "SELECT run_id, key, value FROM params WHERE run_id IN (SELECT unnest($ids)) ORDER BY key",
        ids,
    ):
        params.setdefault(r["run_id"], {})[r["key"]] = r["value"]
    tags: dict[str, dict[str, str]] = {}
    for r in q.rows(
        "SELECT run_id, key, value FROM tags WHERE run_id IN (SELECT unnest($ids)) ORDER BY key",
        ids,
    ):
        tags.setdefault(r["run_id"], {})[r["key"]] = r["value"]
    inputs: dict[str, list[DatasetInput]] = {}
    for r in q.rows(
        "SELECT * FROM inputs WHERE run_id IN (SELECT unnest($ids)) ORDER BY \"timestamp\", name",
        ids,
    ):
        dataset = Dataset(
            name=r["name"] or "",
            digest=r["digest"] or "",
            source_type=r["source_type"] or "",
            source=r["source"] or "",
            schema=r["schema"],
            profile=r["profile"],
        )
        input_tags = [InputTag("mlflow.data.context", r["context"])] if r["context"] else []
        inputs.setdefault(r["run_id"], []).append(DatasetInput(dataset, input_tags))
    out = []
    for run_id in run_ids:
        info = infos.get(run_id)
        if info is None:
            continue
        out.append(
            Run(
                run_info(info),
                RunData(
                    metrics=metrics.get(run_id, {}),
                    params=params.get(run_id, {}),
                    tags=tags.get(run_id, {}),
                ),
                RunInputs(inputs.get(run_id, [])),
            )
        )
    return out


def experiment_stats(q: StoreQuery) -> dict[str, tuple[int, int | None]]:
    """Per experiment: the number of runs not deleted and the last time any run wrote (ms)."""
    q.refresh()
    rows = q._execute(
        "SELECT experiment_id, count(*) FILTER (WHERE lifecycle_stage = 'active'), "
        "max(last_seen) FROM runs GROUP BY experiment_id"
    ).fetchall()
    return {str(eid): (int(n), last) for eid, n, last in rows}


def dead_run_ids(q: StoreQuery) -> set[str]:
    """Runs still marked RUNNING whose process is gone (crashed, killed, machine lost)."""
    q.refresh()
    rows = q._execute("SELECT run_id FROM runs WHERE status = 'RUNNING' AND dead").fetchall()
    return {row[0] for row in rows}


def get_run(q: StoreQuery, run_id: str) -> Run:
    q.refresh()
    found = runs_by_id(q, [run_id])
    if not found:
        raise NotFoundError(f"Run {run_id!r} not found in the store at {q.store.uri}.")
    return found[0]


def run_exists(q: StoreQuery, run_id: str) -> dict[str, Any] | None:
    q.refresh()
    rows = q.rows(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $id", {"id": run_id})
    return rows[0] if rows else None


def metric_history(q: StoreQuery, run_id: str, key: str) -> list[Metric]:
    q.refresh()
    rows = q.rows(
        'SELECT key, value, "timestamp", step FROM metrics WHERE run_id = $id AND key = $key '
        'ORDER BY step, "timestamp"',
        {"id": run_id, "key": key},
    )
    return [Metric(r["key"], r["value"], r["timestamp"], r["step"]) for r in rows]


def artifacts(q: StoreQuery, run_id: str) -> list[dict[str, Any]]:
    q.refresh()
    rows = q.rows(
        "SELECT path, file_size, info FROM artifacts WHERE run_id = $id ORDER BY path",
        {"id": run_id},
    )
    for r in rows:
        r["info"] = json.loads(r["info"]) if r["info"] else {}
    return rows


def search_runs(
    q: StoreQuery,
    experiment_ids: list[str] | None,
    filter_string: str | None = None,
    run_view_type: Any = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    order_by: list[str] | None = None,
) -> list[str]:
    """Run ids matching an MLflow filter, in ``order_by`` order (default: newest first)."""
    from tracker.query.filter import compile_filter, compile_order_by

    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0
    ):
        raise InvalidArgumentError(
            f"max_results must be a non-negative integer, got {max_results!r}."
        )
    where_sql, where_params = compile_filter(filter_string)
    order_sql, order_params = compile_order_by(order_by)
    stage = _STAGE_FILTER[ViewType.from_any(run_view_type)]
    q.refresh()
    sql = f"SELECT r.run_id FROM runs r WHERE r.{stage} AND ({where_sql})"
    params: list[Any] = list(where_params)
    if experiment_ids is not None:
        sql += " AND r.experiment_id IN (SELECT unnest(?))"
        params.append([str(e) for e in experiment_ids])
    sql += f" ORDER BY {', '.join([*order_sql, 'r.start_time DESC', 'r.run_id'])}"
    params.extend(order_params)
    if max_results is not None:
        sql += f" LIMIT {int(max_results)}"
    return [row[0] for row in q._execute(sql, params).fetchall()]


def runs_dataframe(q: StoreQuery, run_ids: list[str]) -> pd.DataFrame:
    """MLflow's ``search_runs`` DataFrame for ``run_ids`` in that order, built in one query."""
    import pandas as pd

    base_cols = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    if not run_ids:
        return pd.DataFrame(columns=base_cols)
    q._execute(
        "CREATE OR REPLACE TEMP TABLE _selected AS "
        "SELECT unnest($ids) AS run_id, generate_subscripts($ids, 1) AS ord",
        {"ids": list(run_ids)},
    )
    wide_table = q.wide_table()
    if wide_table is not None:
        from tracker.query import wide

        table, present = wide.select(q, wide_table)
        return _to_frame(table, present)
    keys = q._execute(
        "SELECT DISTINCT 'metrics' AS t, key FROM latest_metrics SEMI JOIN _selected USING (run_id) "
        "UNION ALL SELECT DISTINCT 'params', key FROM params SEMI JOIN _selected USING (run_id) "
        "UNION ALL SELECT DISTINCT 'tags', key FROM tags SEMI JOIN _selected USING (run_id) "
        "ORDER BY 1, 2"
    ).fetchall()
    params: list[Any] = []
    joins = []
    # DuckDB column names are case-insensitive, so keys differing only in case ("loss",
    # "Loss") get positional aliases here and their real names in pandas.
    names: dict[str, str] = {}
    selected = ["r.run_id", "r.experiment_id", "r.status", "r.artifact_uri",
                "r.start_time", "r.end_time"]
    for table, source in (("metrics", "latest_metrics"), ("params", "params"), ("tags", "tags")):
        table_keys = [k for t, k in keys if t == table]
        if not table_keys:
            continue
        aliases = []
        for k in table_keys:
            alias = f"c{len(names)}"
            names[alias] = f"{table}.{k}"
            aliases.append(alias)
        cols = ", ".join(
            f"first(value) FILTER (WHERE key = ?) AS {alias}" for alias in aliases
        )
        params.extend(table_keys)
        joins.append(
            f"LEFT JOIN (SELECT run_id, {cols} FROM {source} SEMI JOIN _selected USING (run_id) "
            f"GROUP BY run_id) AS {table} USING (run_id)"
        )
        selected.append(f"{table}.* EXCLUDE (run_id)")
    cursor = q._execute(
        f"SELECT {', '.join(selected)} FROM _selected s JOIN runs r USING (run_id) "
        f"{' '.join(joins)} ORDER BY s.ord",
        params,
    )
    # DuckDB < 2.0 names it fetch_arrow_table.
    to_arrow = getattr(cursor, "to_arrow_table", None) or cursor.fetch_arrow_table  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "extra copy of the rows": still faster
        table = to_arrow()
    return _to_frame(table, names)


def _to_frame(table: Any, names: dict[str, str]) -> pd.DataFrame:
    """MLflow's DataFrame from the Arrow result: real column names, times as UTC datetimes."""
    import pandas as pd

    # Through Arrow: ~3x faster than .df() for wide string columns (100,000 runs: 0.15 vs 0.42 s).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "extra copy of the rows": still faster
        frame = table.to_pandas()
    frame = frame.rename(columns=names)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    return frame

