"""SQL of the tables and views the query layer builds over the store's records.

``records`` is loaded from the files the store's read plan names; everything else is a fold of
it. Tables are rebuilt only when the store's files change.
"""

from __future__ import annotations

# The files to read, given as one JSON text (``$files``: ``json.dumps`` of the full paths), not
# a Python list: DuckDB binds a list parameter only once pandas is imported, so a first load
# running ahead of a pandas import on another thread read nothing until the import ended (#16).
FILES = """from_json($files, '["VARCHAR"]')"""

LOAD_RECORDS = """
CREATE OR REPLACE TABLE records AS
SELECT experiment_id, run_id, seg, kind, key, value, num, step, "timestamp", seq, filename
FROM read_parquet(""" + FILES + """, union_by_name = true, filename = true)
"""

INSERT_RECORDS = """
INSERT INTO records
SELECT experiment_id, run_id, seg, kind, key, value, num, step, "timestamp", seq, filename
FROM read_parquet(""" + FILES + """, union_by_name = true, filename = true)
"""

# The same when every file has the columns of the first (all files of one schema version):
# ``union_by_name`` opens every file before reading any, which cost 40 MB more at 2,000 files.
# A file with other columns makes it fail, and INSERT_RECORDS is used instead.
INSERT_RECORDS_SAME_SCHEMA = INSERT_RECORDS.replace("union_by_name = true", "union_by_name = false")

# Rows [start, stop) of one file (a big file loaded in chunks, ``StoreQuery._insert_in_chunks``).
INSERT_RECORD_RANGE = """
INSERT INTO records
SELECT experiment_id, run_id, seg, kind, key, value, num, step, "timestamp", seq, filename
FROM read_parquet(""" + FILES + """, filename = true, file_row_number = true)
WHERE file_row_number >= $start AND file_row_number < $stop
"""

# Records read through pyarrow (remote stores: DuckDB has no S3 access without httpfs), as the
# Arrow table registered under this name.
INSERT_ARROW_RECORDS = """
INSERT INTO records
SELECT experiment_id, run_id, seg, kind, key, value, num, step, "timestamp", seq, filename
FROM incoming_records
"""

EMPTY_RECORDS = """
CREATE OR REPLACE TABLE records (
    experiment_id VARCHAR, run_id VARCHAR, seg VARCHAR, kind VARCHAR, key VARCHAR,
    value VARCHAR, num DOUBLE, step BIGINT, "timestamp" BIGINT, seq BIGINT, filename VARCHAR
)
"""

DELETE_FILES = "DELETE FROM records WHERE filename IN (SELECT unnest($files))"

DELETE_SEGS = "DELETE FROM records WHERE filename = $file AND seg IN (SELECT unnest($segs))"

# Derived tables, rebuilt in this order after the records change.
DERIVED: dict[str, str] = {
    "experiments": """
CREATE OR REPLACE TABLE experiments AS
SELECT
    experiment_id,
    arg_max(value, seq) FILTER (WHERE key = 'name') AS name,
    arg_min(value, seq) FILTER (WHERE key = 'artifact_location') AS artifact_location,
    coalesce(arg_max(value, seq) FILTER (WHERE key = 'lifecycle_stage'), 'active')
        AS lifecycle_stage,
    min("timestamp") AS creation_time,
    max("timestamp") AS last_update_time
FROM records
WHERE kind = 'experiment'
GROUP BY experiment_id
""",
    "experiment_tags": """
CREATE OR REPLACE TABLE experiment_tags AS
SELECT experiment_id, key, value FROM (
    SELECT experiment_id, key, arg_max_null(value, seq) AS value
    FROM records WHERE kind = 'experiment_tag' GROUP BY experiment_id, key
) WHERE value IS NOT NULL
""",
    "runs": """
CREATE OR REPLACE TABLE runs AS
WITH recs AS (
    SELECT * FROM records
    WHERE kind = 'run' OR (kind = 'tag' AND key IN ('mlflow.runName', 'mlflow.parentRunId'))
),
attrs AS (
    SELECT
        run_id,
        arg_min(experiment_id, seq) AS experiment_id,
        arg_max(value, seq) FILTER (WHERE key = 'run_name') AS run_name,
        arg_max(value, seq) FILTER (WHERE key = 'status') AS status,
        min(TRY_CAST(value AS BIGINT)) FILTER (WHERE key = 'start_time') AS start_time,
        TRY_CAST(arg_max_null(value, seq) FILTER (WHERE key = 'end_time') AS BIGINT) AS end_time,
        arg_min(value, seq) FILTER (WHERE key = 'user_id') AS user_id,
        arg_min(value, seq) FILTER (WHERE key = 'artifact_uri') AS artifact_uri,
        coalesce(arg_max(value, seq) FILTER (WHERE key = 'lifecycle_stage'), 'active')
            AS lifecycle_stage,
        arg_max(value, seq) FILTER (WHERE key = 'host') AS host,
        TRY_CAST(arg_max(value, seq) FILTER (WHERE key = 'pid') AS BIGINT) AS pid,
        max("timestamp") AS last_seen
    FROM recs
    WHERE kind = 'run'
    GROUP BY run_id
),
-- The two tags a run's row needs, folded as the tags table folds them (latest wins, NULL
-- deletes), so that tags can be built after runs and carry the run's name.
named AS (
    SELECT
        run_id,
        arg_max_null(value, seq) FILTER (WHERE key = 'mlflow.runName') AS name_tag,
        arg_max_null(value, seq) FILTER (WHERE key = 'mlflow.parentRunId') AS parent_run_id
    FROM recs
    WHERE kind = 'tag'
    GROUP BY run_id
)
SELECT
    a.run_id,
    a.experiment_id,
    coalesce(a.run_name, n.name_tag, '') AS run_name,
    coalesce(a.status, 'RUNNING') AS status,
    a.start_time,
    a.end_time,
    coalesce(a.user_id, '') AS user_id,
    coalesce(a.artifact_uri, '') AS artifact_uri,
    a.lifecycle_stage,
    n.parent_run_id,
    a.host,
    a.pid,
    a.last_seen,
    to_timestamp(a.start_time / 1000) AS start_at,
    to_timestamp(a.end_time / 1000) AS end_at
FROM attrs a
LEFT JOIN named n ON n.run_id = a.run_id
""",
    # Tables with a run id also name the run and its experiment (#13), after their own columns.
    "tags": """
CREATE OR REPLACE TABLE tags AS
SELECT t.run_id, t.key, t.value, r.run_name, e.name AS experiment_name FROM (
    SELECT run_id, key, arg_max_null(value, seq) AS value
    FROM records WHERE kind = 'tag' GROUP BY run_id, key
) t
LEFT JOIN runs r ON r.run_id = t.run_id
LEFT JOIN experiments e ON e.experiment_id = r.experiment_id
WHERE t.value IS NOT NULL
""",
    "params": """
CREATE OR REPLACE TABLE params AS
SELECT p.run_id, p.key, p.value, r.run_name, e.name AS experiment_name FROM (
    SELECT run_id, key, arg_min(value, seq) AS value
    FROM records WHERE kind = 'param'
    GROUP BY run_id, key
) p
LEFT JOIN runs r ON r.run_id = p.run_id
LEFT JOIN experiments e ON e.experiment_id = r.experiment_id
""",
    "latest_metrics": """
CREATE OR REPLACE TABLE latest_metrics AS
SELECT m.run_id, m.key, m.value, m.step, m."timestamp", m.points, r.run_name,
       e.name AS experiment_name, to_timestamp(m."timestamp" / 1000) AS logged_at
FROM (
    SELECT run_id, key, num AS value, step, "timestamp",
           count(*) OVER (PARTITION BY run_id, key) AS points
    FROM records WHERE kind = 'metric'
    QUALIFY row_number() OVER (
        PARTITION BY run_id, key ORDER BY step DESC, "timestamp" DESC, num DESC
    ) = 1
) m
LEFT JOIN runs r ON r.run_id = m.run_id
LEFT JOIN experiments e ON e.experiment_id = r.experiment_id
""",
    "artifacts": """
CREATE OR REPLACE TABLE artifacts AS
SELECT run_id, key AS path, arg_max(num, seq)::BIGINT AS file_size,
       arg_max(value, seq) AS info, max("timestamp") AS "timestamp"
FROM records WHERE kind = 'artifact'
GROUP BY run_id, key
""",
    "inputs": """
CREATE OR REPLACE TABLE inputs AS
SELECT run_id,
       json_extract_string(value, '$.name') AS name,
       json_extract_string(value, '$.digest') AS digest,
       json_extract_string(value, '$.context') AS context,
       json_extract_string(value, '$.source_type') AS source_type,
       json_extract_string(value, '$.source') AS source,
       json_extract_string(value, '$.schema') AS schema,
       json_extract_string(value, '$.profile') AS profile,
       min("timestamp") AS "timestamp"
FROM records WHERE kind = 'input'
GROUP BY ALL
""",
    # MLflow 3's run model outputs: the logged models a run logged, at which step
    # (``model_output`` records, tracker.logged_models); ``Run.outputs`` of get_run/search_runs
    "model_outputs": """
CREATE OR REPLACE TABLE model_outputs AS
SELECT run_id, key AS model_id, min(num) AS step, min(seq) AS seq
FROM records WHERE kind = 'model_output' AND key IS NOT NULL
GROUP BY run_id, key
""",
}

# Derived tables with one row per run (and key): after a few files change, only the rows of
# the runs in those files are redone (``refold``); the others are folded from all records.
RUN_TABLES = ("runs", "tags", "params", "latest_metrics", "artifacts", "inputs", "model_outputs")

# The tables that carry ``experiment_name``: after a rename, the rows of runs no file touched
# are renamed with this (``touched_experiments`` holds the renamed experiments' ids).
NAMED_TABLES = ("tags", "params", "latest_metrics")

EXPERIMENT_NAME_ROWS = "SELECT experiment_id, name FROM experiments"

TOUCHED_EXPERIMENTS = (
    "CREATE OR REPLACE TEMP TABLE touched_experiments AS SELECT unnest($ids) AS experiment_id"
)


def rename_experiments(name: str) -> str:
    """UPDATE of table ``name``'s ``experiment_name`` for the experiments in
    ``touched_experiments``."""
    return (
        f"UPDATE {name} SET experiment_name = e.name FROM runs r, experiments e "
        f"WHERE {name}.run_id = r.run_id AND e.experiment_id = r.experiment_id "
        "AND r.experiment_id IN (SELECT experiment_id FROM touched_experiments)"
    )

TOUCHED = (
    "CREATE OR REPLACE TEMP TABLE touched_runs AS SELECT unnest($runs) AS run_id",
    "CREATE OR REPLACE TEMP TABLE touched_records AS "
    "SELECT * FROM records SEMI JOIN touched_runs USING (run_id)",
)


def refold(name: str) -> tuple[str, str]:
    """(DELETE, INSERT) statements that redo table ``name`` for the runs in ``touched_runs``
    (whose records are in ``touched_records``)."""
    create = DERIVED[name].strip()
    prefix = f"CREATE OR REPLACE TABLE {name} AS"
    if not create.startswith(prefix) or create.count("FROM records") != 1:
        raise ValueError(f"derived table {name} cannot be refolded run by run")
    select = create[len(prefix):].replace("FROM records", "FROM touched_records")
    return (
        f"DELETE FROM {name} WHERE run_id IN (SELECT run_id FROM touched_runs)",
        f"INSERT INTO {name} BY NAME {select}",
    )


VIEWS: dict[str, str] = {
    "metrics": """
CREATE OR REPLACE VIEW metrics AS
SELECT m.run_id, m.experiment_id, m.key, m.num AS value, m.step, m."timestamp", r.run_name,
       e.name AS experiment_name, to_timestamp(m."timestamp" / 1000) AS logged_at,
       -- a metric logged with model_id=/dataset= carries its link as JSON in ``value``
       -- (tracker.logged_models); anything else there (a hostile store) links nothing
       CASE WHEN json_valid(m.value) THEN json_extract_string(m.value, '$.model_id') END
           AS model_id,
       CASE WHEN json_valid(m.value) THEN json_extract_string(m.value, '$.dataset_name') END
           AS dataset_name,
       CASE WHEN json_valid(m.value) THEN json_extract_string(m.value, '$.dataset_digest') END
           AS dataset_digest
FROM records m
LEFT JOIN runs r ON r.run_id = m.run_id
LEFT JOIN experiments e ON e.experiment_id = m.experiment_id
WHERE m.kind = 'metric'
""",
}

# MLflow 3 logged models (tracker.logged_models): their records are loaded apart from the run
# records (``tracker.query.logged``), whole, whenever their files change; the views fold them.
EMPTY_LOGGED_MODEL_RECORDS = """
CREATE OR REPLACE TABLE logged_model_records (
    experiment_id VARCHAR, model_id VARCHAR, seg VARCHAR, kind VARCHAR, key VARCHAR,
    value VARCHAR, num DOUBLE, step BIGINT, "timestamp" BIGINT, seq BIGINT
)
"""

LOAD_LOGGED_MODEL_RECORDS = """
CREATE OR REPLACE TABLE logged_model_records AS
SELECT experiment_id, model_id, seg, kind, key, value, num, step, "timestamp", seq
FROM incoming_model_records
"""

LOGGED_MODEL_VIEWS: dict[str, str] = {
    "logged_models": """
CREATE OR REPLACE VIEW logged_models AS
SELECT model_id, experiment_id,
       arg_max(value, seq) FILTER (WHERE kind = 'model' AND key = 'name') AS name,
       arg_max(value, seq) FILTER (WHERE kind = 'model' AND key = 'status') AS status,
       arg_max(value, seq) FILTER (WHERE kind = 'model' AND key = 'source_run_id')
           AS source_run_id,
       arg_max(value, seq) FILTER (WHERE kind = 'model' AND key = 'model_type') AS model_type,
       arg_max(value, seq) FILTER (WHERE kind = 'model' AND key = 'artifact_location')
           AS artifact_location,
       min("timestamp") FILTER (WHERE kind <> 'model_metric') AS creation_timestamp,
       max("timestamp") FILTER (WHERE kind <> 'model_metric') AS last_updated_timestamp
FROM logged_model_records
WHERE kind IN ('model', 'model_param', 'model_tag', 'model_metric')
GROUP BY model_id, experiment_id
HAVING name IS NOT NULL
   -- delete_logged_model: soft, the records stay
   AND coalesce(arg_max(value, seq) FILTER (WHERE kind = 'model' AND key = 'lifecycle_stage'),
                'active') <> 'deleted'
""",
    "logged_model_params": """
CREATE OR REPLACE VIEW logged_model_params AS
SELECT model_id, key, arg_max(value, seq) AS value
FROM logged_model_records WHERE kind = 'model_param' AND value IS NOT NULL
GROUP BY model_id, key
""",
    "logged_model_tags": """
CREATE OR REPLACE VIEW logged_model_tags AS
SELECT model_id, key, value FROM (
    SELECT model_id, key, arg_max_null(value, seq) AS value
    FROM logged_model_records WHERE kind = 'model_tag' GROUP BY model_id, key
) WHERE value IS NOT NULL
""",
    # run metrics logged with model_id=, and those log_model linked after the fact
    "logged_model_metrics": """
CREATE OR REPLACE VIEW logged_model_metrics AS
SELECT model_id, run_id, key, value, step, "timestamp", dataset_name, dataset_digest
FROM metrics WHERE model_id IS NOT NULL
UNION ALL
SELECT model_id,
       CASE WHEN json_valid(value) THEN json_extract_string(value, '$.run_id') END,
       key, num, step, "timestamp",
       CASE WHEN json_valid(value) THEN json_extract_string(value, '$.dataset_name') END,
       CASE WHEN json_valid(value) THEN json_extract_string(value, '$.dataset_digest') END
FROM logged_model_records WHERE kind = 'model_metric'
""",
}

PUBLIC_TABLES = (
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "metrics",
    "latest_metrics",
    "tags",
    "artifacts",
    "inputs",
    "logged_models",
    "logged_model_params",
    "logged_model_tags",
    "logged_model_metrics",
)

# Publishing (``StoreQuery(..., publish=…)``, used by ``tracker build``; see ``query.published``):
# hidden experiments and metrics are deleted from ``records`` and text values rewritten before the
# tables are folded, so every table, and every query a report runs, sees only what may be
# published. ``{scope}`` is '' for every record, or ``NEW_FILES`` for the records of the files
# just loaded on top of published ones (``$files``): those already published are never redone.
NEW_FILES = "AND records.filename IN (SELECT unnest($files))"

EXPERIMENT_NAMES = """
SELECT experiment_id,
       arg_max(value, seq) FILTER (WHERE kind = 'experiment' AND key = 'name') AS name
FROM records WHERE experiment_id IS NOT NULL {scope} GROUP BY experiment_id ORDER BY experiment_id
"""

# Whether the files just loaded hold an experiment's record (created, renamed, deleted): which
# experiments are published may change, so the published tables are made again from scratch.
EXPERIMENT_RECORDS = """
SELECT count(*) FROM records WHERE kind = 'experiment' {scope}
"""

DELETE_EXPERIMENTS = "DELETE FROM records WHERE experiment_id IN (SELECT unnest($ids))"

METRIC_KEYS = "SELECT DISTINCT key FROM records WHERE kind = 'metric' {scope} ORDER BY key"

DELETE_METRICS = """
DELETE FROM records WHERE kind = 'metric' AND key IN (SELECT unnest($keys)) {scope}
"""

# Every text value (``run`` records hold the run name and user; any kind, since a store is
# untrusted and the raw ``records`` table is readable too).
TEXT_VALUES = """
SELECT DISTINCT kind, key, value FROM records WHERE value IS NOT NULL {scope}
"""

# ``scrubbed`` (kind, key, old, new) is registered by the caller for this statement only.
REPLACE_VALUES = """
UPDATE records SET value = s.new FROM scrubbed s
WHERE records.kind = s.kind AND records.key = s.key AND records.value = s.old {scope}
"""

# Every key: param, tag and metric keys and artifact paths are names a user chose, an input's
# key holds the dataset's name, and a hostile record may hold anything.
NAMED_KEYS = "SELECT DISTINCT kind, key FROM records WHERE key IS NOT NULL {scope}"

# ``renamed`` (kind, old, new) is registered by the caller for this statement only.
REPLACE_KEYS = """
UPDATE records SET key = r.new FROM renamed r
WHERE records.kind = r.kind AND records.key = r.old {scope}
"""
