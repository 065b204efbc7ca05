"""The registry's tables, ``model_versions`` and ``registered_models``, for DuckDB and Spark (#14).

The registry is an event log per model (``tracker.registry``): its current state is a fold done
in Python (renames, deletes, stage moves that archive other versions, aliases moved or dropped
with their version, numbers kept or moved after a git merge). Spelling that fold again in
DuckDB SQL and in Spark SQL would make two more definitions to keep equal, so there is one: both
engines load the rows made here from ``Registry.every_model()`` (handed over by the client
layer: the query layer does not import the registry). ``StoreQuery.sql`` creates them
as DuckDB tables from an Arrow table (``arrow_table``), ``tracker.spark.register_views`` as Spark
temp views from the same rows (``createDataFrame`` with ``spark_schema``). A registry holds
thousands of versions, not millions, so folding it on one machine (the driver) is enough (2,000
versions of 200 models: ~0.2 s cold), and it works for every store tracker reads (a folder, or
S3 without Hadoop).

Deleted versions and the versions of deleted models are rows too, with ``lifecycle_stage =
'deleted'``, as ``runs`` keeps deleted runs: ``WHERE lifecycle_stage = 'active'`` gives what
``search_model_versions()`` and ``search_registered_models()`` return. ``aliases`` and ``tags``
are a sorted list and a map (``tags['team']`` reads one in both engines).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from tracker.entities.model_registry import ModelVersion, RegisteredModel

__all__ = ["TABLES", "Folded", "arrow_table", "mentioned", "rows", "spark_schema"]

# One model of the registry's fold (``tracker.registry.FoldedModel``): the model, whether it is
# deleted, and each version with whether it is deleted (itself or its model).
Folded = tuple["RegisteredModel", bool, list[tuple["ModelVersion", bool]]]

# Column kinds: string, bigint, strings (a list), tags (string → string), versions (string → bigint)
MODEL_VERSIONS: tuple[tuple[str, str], ...] = (
    ("name", "string"),
    ("version", "bigint"),
    ("current_stage", "string"),
    ("aliases", "strings"),
    ("tags", "tags"),
    ("description", "string"),
    ("source", "string"),
    ("run_id", "string"),
    ("status", "string"),
    ("status_message", "string"),
    ("user_id", "string"),
    ("model_id", "string"),
    ("creation_timestamp", "bigint"),
    ("last_updated_timestamp", "bigint"),
    ("lifecycle_stage", "string"),
)

REGISTERED_MODELS: tuple[tuple[str, str], ...] = (
    ("name", "string"),
    ("description", "string"),
    ("aliases", "versions"),
    ("tags", "tags"),
    ("creation_timestamp", "bigint"),
    ("last_updated_timestamp", "bigint"),
    ("lifecycle_stage", "string"),
)

TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "model_versions": MODEL_VERSIONS,
    "registered_models": REGISTERED_MODELS,
}

_SPARK = {"string": "string", "bigint": "bigint", "strings": "array<string>",
          "tags": "map<string,string>", "versions": "map<string,bigint>"}


def rows(folded: Iterable[Folded]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of each table in ``TABLES``, in column order, sorted by name then version.

    Args:
        folded: the registry's fold, ``Registry.every_model()``.
    """
    versions: list[tuple[Any, ...]] = []
    models: list[tuple[Any, ...]] = []
    for model, model_deleted, model_versions in folded:
        models.append((
            _text(model.name), _text(model.description), _versions(model.aliases),
            _tags(model.tags), _int(model.creation_timestamp),
            _int(model.last_updated_timestamp), _stage(model_deleted),
        ))
        for mv, deleted in model_versions:
            versions.append((
                _text(mv.name), _int(mv.version), _text(mv.current_stage),
                sorted(a for a in mv.aliases if isinstance(a, str)), _tags(mv.tags),
                _text(mv.description), _text(mv.source), _text(mv.run_id), _text(mv.status),
                _text(mv.status_message), _text(mv.user_id), _text(mv.model_id),
                _int(mv.creation_timestamp), _int(mv.last_updated_timestamp), _stage(deleted),
            ))
    # a deleted model and a new one may share a name: the deleted one first
    versions.sort(key=lambda r: (r[0] or "", r[-1] != "deleted", r[1] or 0))
    models.sort(key=lambda r: (r[0] or "", r[-1] != "deleted"))
    return {"model_versions": versions, "registered_models": models}


def arrow_table(name: str, table_rows: list[tuple[Any, ...]]) -> pa.Table:
    """The rows of table ``name`` (from ``rows``) as an Arrow table with its column types."""
    import pyarrow as pa

    kinds = {"string": pa.string(), "bigint": pa.int64(), "strings": pa.list_(pa.string()),
             "tags": pa.map_(pa.string(), pa.string()),
             "versions": pa.map_(pa.string(), pa.int64())}
    columns = TABLES[name]
    schema = pa.schema([(column, kinds[kind]) for column, kind in columns])
    data = {
        column: pa.array(
            [_map_items(r[i]) if kind in ("tags", "versions") else r[i] for r in table_rows],
            schema.field(column).type,
        )
        for i, (column, kind) in enumerate(columns)
    }
    return pa.table(data, schema=schema)


def spark_schema(name: str) -> str:
    """The Spark DDL schema of table ``name`` (``createDataFrame(rows, schema)``)."""
    return ", ".join(f"`{column}` {_SPARK[kind]}" for column, kind in TABLES[name])


def mentioned(sql: str) -> list[str]:
    """The registry tables a SQL text names (only those are folded for it)."""
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    return [name for name in TABLES if name in words]


def _map_items(value: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(value.items())


def _stage(deleted: bool) -> str:
    return "deleted" if deleted else "active"


# A store is untrusted: a registration record may hold any JSON, so every value is checked
# against its column's type (text of any other type is kept as its JSON-ish ``str``).
def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tags(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _versions(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if _int(v) is not None}
