"""Record schema of every Parquet file in a store, and its version.

A store holds one kind of row, the *record*: an event about an experiment or a run. Tables
(runs, params, metrics, tags, …) are folds of records, computed by the query layer.

Columns (plain Parquet types so any engine can read them):

============== ======== ============================================================
column          type     meaning
============== ======== ============================================================
experiment_id   string   experiment the record belongs to
run_id          string   run the record belongs to (null for experiment records)
seg             string   id of the segment file that first published the record
kind            string   ``experiment``, ``experiment_tag``, ``run``, ``param``, ``metric``,
                         ``tag``, ``input``, ``artifact``, ``model_output``; in
                         ``logged_models/``: ``model``, ``model_param``, ``model_tag``,
                         ``model_metric`` (``tracker.logged_models``)
key             string   attribute, param, metric or tag name; artifact path; dataset id
value           string   param/tag/attribute value, JSON for inputs; null deletes a tag; for
                         a metric, null or the JSON link to a logged model and dataset
num             double   metric value (NaN and ±inf kept), artifact size
step            int64    metric step
timestamp       int64    milliseconds since the epoch (metric time; time of the event)
seq             int64    nanoseconds since the epoch when the event was logged; the latest
                         wins among records of the same kind and key
============== ======== ============================================================
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1
FORMAT_NAME = "tracker-store"

COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "run_id",
    "seg",
    "kind",
    "key",
    "value",
    "num",
    "step",
    "timestamp",
    "seq",
)

# The order of a record tuple as buffered in memory (experiment_id, run_id and seg are per file).
ROW_FIELDS: tuple[str, ...] = ("kind", "key", "value", "num", "step", "timestamp", "seq")

KINDS = frozenset(
    {"experiment", "experiment_tag", "run", "param", "metric", "tag", "input", "artifact",
     # MLflow 3 logged models (tracker.logged_models): a run's model outputs, and the records
     # of logged_models/ folders. Readers skip kinds they do not know, so no version bump.
     "model_output", "model", "model_param", "model_tag", "model_metric"}
)

# Parquet key-value metadata written into every file.
META_FORMAT = b"tracker.format"
META_VERSION = b"tracker.format_version"
META_COVERS = b"tracker.covers"  # JSON list of segment ids a consolidated file holds

_ARROW_SCHEMA: Any = None


#: The record columns as Spark SQL types (``tracker.spark``, ``tracker.spark_source``).
SPARK_TYPES = {
    "experiment_id": "string", "run_id": "string", "seg": "string", "kind": "string",
    "key": "string", "value": "string", "num": "double", "step": "bigint",
    "timestamp": "bigint", "seq": "bigint",
}


def spark_schema() -> str:
    """The record schema as Spark DDL."""
    return ", ".join(f"`{name}` {kind}" for name, kind in SPARK_TYPES.items())


def arrow_schema() -> Any:
    """The pyarrow schema of a record file (pyarrow is imported on first use)."""
    global _ARROW_SCHEMA
    if _ARROW_SCHEMA is None:
        import pyarrow as pa

        _ARROW_SCHEMA = pa.schema(
            [
                ("experiment_id", pa.string()),
                ("run_id", pa.string()),
                ("seg", pa.string()),
                ("kind", pa.string()),
                ("key", pa.string()),
                ("value", pa.string()),
                ("num", pa.float64()),
                ("step", pa.int64()),
                ("timestamp", pa.int64()),
                ("seq", pa.int64()),
            ]
        )
    return _ARROW_SCHEMA
