"""Spark SQL of the views ``tracker.spark.register_views`` defines over a store's records.

Each view is the Spark SQL spelling of the DuckDB table of the same name in ``views.py`` (the
same folds: latest value by ``seq``, params first-wins, tags deleted by a null value, latest
metric = highest step, then latest timestamp, then highest value). The dialects differ where
noted; ``tests/test_spark.py`` checks that every view returns the same rows in both engines on
a store with deletes, compactions, resumed runs and NaNs. Change both files together.

DuckDB → Spark: ``arg_max(v, seq)`` (skips null ``v``) → ``max_by(v, seq) FILTER (WHERE v IS
NOT NULL)``; ``arg_max_null`` → ``max_by``; ``QUALIFY`` → a ``row_number()`` subquery;
``json_extract_string`` → ``get_json_object``; ``TRY_CAST`` → ``try_cast``; a double cast to
BIGINT rounds half to even in DuckDB → ``bround``.
"""

from __future__ import annotations

# ``records`` (the store's rows, read from the files of ``Store.plan()``) is registered first.
VIEWS: dict[str, str] = {
    "experiments": """
SELECT
    experiment_id,
    max_by(value, seq) FILTER (WHERE key = 'name' AND value IS NOT NULL) AS name,
    min_by(value, seq) FILTER (WHERE key = 'artifact_location' AND value IS NOT NULL)
        AS artifact_location,
    coalesce(max_by(value, seq) FILTER (WHERE key = 'lifecycle_stage' AND value IS NOT NULL),
             'active') AS lifecycle_stage,
    min(`timestamp`) AS creation_time,
    max(`timestamp`) AS last_update_time
FROM records
WHERE kind = 'experiment'
GROUP BY experiment_id
""",
    "experiment_tags": """
SELECT experiment_id, key, value FROM (
    SELECT experiment_id, key, max_by(value, seq) AS value
    FROM records WHERE kind = 'experiment_tag' GROUP BY experiment_id, key
) WHERE value IS NOT NULL
""",
    "tags_base": """
SELECT run_id, key, value FROM (
    SELECT run_id, key, max_by(value, seq) AS value
    FROM records WHERE kind = 'tag' GROUP BY run_id, key
) WHERE value IS NOT NULL
""",
    # ``dead`` is added by tracker.spark (it needs this machine's process table).
    "runs_folded": """
WITH attrs AS (
    SELECT
        run_id,
        min_by(experiment_id, seq) FILTER (WHERE experiment_id IS NOT NULL) AS experiment_id,
        max_by(value, seq) FILTER (WHERE key = 'run_name' AND value IS NOT NULL) AS run_name,
        max_by(value, seq) FILTER (WHERE key = 'status' AND value IS NOT NULL) AS status,
        min(try_cast(value AS BIGINT)) FILTER (WHERE key = 'start_time') AS start_time,
        try_cast(max_by(value, seq) FILTER (WHERE key = 'end_time') AS BIGINT) AS end_time,
        min_by(value, seq) FILTER (WHERE key = 'user_id' AND value IS NOT NULL) AS user_id,
        min_by(value, seq) FILTER (WHERE key = 'artifact_uri' AND value IS NOT NULL)
            AS artifact_uri,
        coalesce(max_by(value, seq) FILTER (WHERE key = 'lifecycle_stage' AND value IS NOT NULL),
                 'active') AS lifecycle_stage,
        max_by(value, seq) FILTER (WHERE key = 'host' AND value IS NOT NULL) AS host,
        try_cast(max_by(value, seq) FILTER (WHERE key = 'pid' AND value IS NOT NULL) AS BIGINT)
            AS pid,
        max(`timestamp`) AS last_seen
    FROM records
    WHERE kind = 'run'
    GROUP BY run_id
)
SELECT
    a.run_id,
    a.experiment_id,
    coalesce(a.run_name, t.value, '') AS run_name,
    coalesce(a.status, 'RUNNING') AS status,
    a.start_time,
    a.end_time,
    coalesce(a.user_id, '') AS user_id,
    coalesce(a.artifact_uri, '') AS artifact_uri,
    a.lifecycle_stage,
    p.value AS parent_run_id,
    a.host,
    a.pid,
    a.last_seen,
    timestamp_millis(a.start_time) AS start_at,
    timestamp_millis(a.end_time) AS end_at
FROM attrs a
LEFT JOIN tags_base t ON t.run_id = a.run_id AND t.key = 'mlflow.runName'
LEFT JOIN tags_base p ON p.run_id = a.run_id AND p.key = 'mlflow.parentRunId'
""",
    "runs": """
SELECT r.*, (d.run_id IS NOT NULL) AS dead
FROM runs_folded r LEFT JOIN dead_runs d ON d.run_id = r.run_id
""",
    "params_base": """
SELECT run_id, key, min_by(value, seq) FILTER (WHERE value IS NOT NULL) AS value
FROM records WHERE kind = 'param'
GROUP BY run_id, key
""",
    "metrics_base": """
SELECT run_id, experiment_id, key, num AS value, step, `timestamp`,
       get_json_object(value, '$.model_id') AS model_id,
       get_json_object(value, '$.dataset_name') AS dataset_name,
       get_json_object(value, '$.dataset_digest') AS dataset_digest
FROM records WHERE kind = 'metric'
""",
    "latest_metrics_base": """
SELECT run_id, key, value, step, `timestamp`, points FROM (
    SELECT run_id, key, num AS value, step, `timestamp`,
           count(*) OVER (PARTITION BY run_id, key) AS points,
           row_number() OVER (
               PARTITION BY run_id, key ORDER BY step DESC, `timestamp` DESC, num DESC
           ) AS latest
    FROM records WHERE kind = 'metric'
) WHERE latest = 1
""",
    "artifacts": """
SELECT run_id, key AS path,
       CAST(bround(max_by(num, seq) FILTER (WHERE num IS NOT NULL)) AS BIGINT) AS file_size,
       max_by(value, seq) FILTER (WHERE value IS NOT NULL) AS info,
       max(`timestamp`) AS `timestamp`
FROM records WHERE kind = 'artifact'
GROUP BY run_id, key
""",
    "inputs": """
SELECT run_id,
       get_json_object(value, '$.name') AS name,
       get_json_object(value, '$.digest') AS digest,
       get_json_object(value, '$.context') AS context,
       get_json_object(value, '$.source_type') AS source_type,
       get_json_object(value, '$.source') AS source,
       get_json_object(value, '$.schema') AS schema,
       get_json_object(value, '$.profile') AS profile,
       min(`timestamp`) AS `timestamp`
FROM records WHERE kind = 'input'
GROUP BY ALL
""",
}

# Registered after ``runs_folded``: tables with a run id also name the run and its experiment
# (#13), after their own columns, as in ``views.py``.
_NAMES = """LEFT JOIN runs_folded r ON r.run_id = b.run_id
LEFT JOIN experiments e ON e.experiment_id = r.experiment_id"""
NAMED_VIEWS: dict[str, str] = {
    "tags": f"SELECT b.*, r.run_name, e.name AS experiment_name FROM tags_base b {_NAMES}",
    "params": f"SELECT b.*, r.run_name, e.name AS experiment_name FROM params_base b {_NAMES}",
    "metrics": f"""SELECT b.run_id, b.experiment_id, b.key, b.value, b.step, b.`timestamp`,
       r.run_name, e.name AS experiment_name, timestamp_millis(b.`timestamp`) AS logged_at,
       b.model_id, b.dataset_name, b.dataset_digest FROM metrics_base b {_NAMES}""",
    "latest_metrics": f"""SELECT b.*, r.run_name, e.name AS experiment_name,
       timestamp_millis(b.`timestamp`) AS logged_at FROM latest_metrics_base b {_NAMES}""",
}

# RUNNING runs, for the ``dead`` column (checked in Python like ``StoreQuery._mark_dead``).
RUNNING = "SELECT run_id, host, pid, last_seen FROM runs_folded WHERE status = 'RUNNING'"

# What ``register_views`` registers for users (``runs_folded`` and ``dead_runs`` are helpers).
PUBLIC_VIEWS = (
    "records",
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "metrics",
    "latest_metrics",
    "tags",
    "artifacts",
    "inputs",
)
