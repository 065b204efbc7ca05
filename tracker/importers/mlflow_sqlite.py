"""Read an MLflow SQLite database (``sqlite:///mlflow.db``) with Python's ``sqlite3``, read-only.

MLflow creates its schema with alembic; the revision is in ``alembic_version``. Rather than keep
a list of revisions, the reader checks that every column it reads exists, so any revision from
MLflow 1.x to 3.x that has them is read, and one that lacks them is refused by name. Tables
added later in MLflow's life (datasets, aliases) are optional.
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from tracker.exceptions import StoreError
from tracker.importers.mlflow_source import (
    CONTEXT_TAG,
    MlflowDataset,
    MlflowExperiment,
    MlflowMetric,
    MlflowModel,
    MlflowRun,
    MlflowVersion,
    dataset_source,
    status_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# Columns read from each table: a database lacking one is a schema this reader does not know.
REQUIRED: dict[str, tuple[str, ...]] = {
    "experiments": ("experiment_id", "name", "artifact_location", "lifecycle_stage"),
    "experiment_tags": ("key", "value", "experiment_id"),
    "runs": (
        "run_uuid",
        "name",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "lifecycle_stage",
        "artifact_uri",
        "experiment_id",
    ),
    "params": ("key", "value", "run_uuid"),
    "tags": ("key", "value", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "run_uuid", "step", "is_nan"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "datasets": (
        "dataset_uuid",
        "name",
        "digest",
        "dataset_source_type",
        "dataset_source",
        "dataset_schema",
        "dataset_profile",
    ),
    "inputs": ("input_uuid", "source_type", "source_id", "destination_type", "destination_id"),
    "input_tags": ("input_uuid", "name", "value"),
    "registered_models": ("name", "creation_time", "last_updated_time", "description"),
    "registered_model_tags": ("key", "value", "name"),
    "model_versions": (
        "name",
        "version",
        "creation_time",
        "last_updated_time",
        "description",
        "user_id",
        "current_stage",
        "source",
        "run_id",
        "status",
        "status_message",
    ),
    "model_version_tags": ("key", "value", "name", "version"),
    "registered_model_aliases": ("alias", "version", "name"),
}
DELETED_STAGE = "Deleted_Internal"  # MLflow's soft-deleted model versions


class SqliteSource:
    """An MLflow SQLite database.

    Args:
        path: the database file.
        uri: the URI the user gave, for messages.
    """

    def __init__(self, path: str, uri: str) -> None:
        self.path = path
        self.uri = uri
        self._con = _connect(path, uri)
        self.revision = _revision(self._con, path)
        self._tables = _check_schema(self._con, path, self.revision)

    def artifact_bases(self) -> Sequence[str]:
        folder = os.path.dirname(self.path)
        return (folder, os.path.dirname(folder))

    def artifact_roots(self) -> Sequence[str]:
        return (os.path.dirname(self.path),)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._con.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Reading the MLflow database {self.path} failed: {exc}") from exc

    def experiments(self) -> list[MlflowExperiment]:
        columns = self._tables["experiments"]
        times = ", ".join(
            c if c in columns else f"NULL AS {c}" for c in ("creation_time", "last_update_time")
        )
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for row in self._rows("SELECT experiment_id, key, value FROM experiment_tags"):
            tags[str(row["experiment_id"])][row["key"]] = row["value"] or ""
        return [
            MlflowExperiment(
                experiment_id=str(row["experiment_id"]),
                name=row["name"],
                artifact_location=row["artifact_location"] or "",
                lifecycle_stage=row["lifecycle_stage"] or "active",
                creation_time=row["creation_time"],
                last_update_time=row["last_update_time"],
                tags=tags.get(str(row["experiment_id"]), {}),
            )
            for row in self._rows(
                f"SELECT experiment_id, name, artifact_location, lifecycle_stage, {times} "
                "FROM experiments ORDER BY experiment_id"
            )
        ]

    def runs(self, experiment: MlflowExperiment) -> Iterator[MlflowRun]:
        rows = self._rows(
            "SELECT run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage, "
            "artifact_uri FROM runs WHERE experiment_id = ? ORDER BY start_time, run_uuid",
            (int(experiment.experiment_id),),
        )
        for row in rows:
            run_id = row["run_uuid"]
            yield MlflowRun(
                run_id=run_id,
                experiment_id=experiment.experiment_id,
                name=row["name"] or "",
                status=status_name(row["status"], f"{self.path}: run {run_id}"),
                start_time=row["start_time"],
                end_time=row["end_time"],
                user_id=row["user_id"] or "",
                lifecycle_stage=row["lifecycle_stage"] or "active",
                artifact_uri=row["artifact_uri"] or "",
                params=self._pairs("params", run_id),
                tags=self._pairs("tags", run_id),
                metrics=self._metrics(run_id),
                inputs=self._inputs(run_id),
            )

    def _pairs(self, table: str, run_id: str) -> dict[str, str]:
        rows = self._rows(
            f"SELECT key, value FROM {table} WHERE run_uuid = ? ORDER BY key", (run_id,)
        )
        return {row["key"]: row["value"] or "" for row in rows}

    def _metrics(self, run_id: str) -> list[MlflowMetric]:
        rows = self._rows(
            "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
            "ORDER BY key, step, timestamp",
            (run_id,),
        )
        return [
            MlflowMetric(
                row["key"],
                _metric_value(row["value"], row["is_nan"]),
                int(row["timestamp"]),
                int(row["step"] or 0),
            )
            for row in rows
        ]

    def _inputs(self, run_id: str) -> list[MlflowDataset]:
        if not {"datasets", "inputs", "input_tags"} <= self._tables.keys():
            return []
        rows = self._rows(
            "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, "
            "d.dataset_schema, d.dataset_profile, "
            "(SELECT value FROM input_tags t WHERE t.input_uuid = i.input_uuid AND t.name = ?) "
            "AS context FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id "
            "WHERE i.destination_type = 'RUN' AND i.source_type = 'DATASET' "
            "AND i.destination_id = ? ORDER BY d.name, d.digest",
            (CONTEXT_TAG, run_id),
        )
        return [
            MlflowDataset(
                row["name"],
                row["digest"],
                row["dataset_source_type"] or "",
                dataset_source(row["dataset_source"]),
                row["dataset_schema"] or "",
                row["dataset_profile"] or "",
                row["context"] or "",
            )
            for row in rows
        ]

    def models(self) -> list[MlflowModel]:
        if "registered_models" not in self._tables:
            return []
        model_tags = self._grouped("registered_model_tags", "SELECT name, key, value")
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        if "registered_model_aliases" in self._tables:
            for row in self._rows("SELECT name, alias, version FROM registered_model_aliases"):
                aliases[row["name"]][row["alias"]] = int(row["version"])
        versions = self._versions()
        return [
            MlflowModel(
                name=row["name"],
                creation_time=int(row["creation_time"] or 0),
                last_updated_time=int(row["last_updated_time"] or 0),
                description=row["description"] or "",
                tags=model_tags.get(row["name"], {}),
                aliases=dict(sorted(aliases[row["name"]].items())),
                versions=versions.get(row["name"], []),
            )
            for row in self._rows(
                "SELECT name, creation_time, last_updated_time, description "
                "FROM registered_models ORDER BY name"
            )
        ]

    def _grouped(self, table: str, select: str) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = defaultdict(dict)
        if table in self._tables:
            for row in self._rows(f"{select} FROM {table}"):
                out[row["name"]][row["key"]] = row["value"] or ""
        return out

    def _versions(self) -> dict[str, list[MlflowVersion]]:
        if "model_versions" not in self._tables:
            return {}
        tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        if "model_version_tags" in self._tables:
            for row in self._rows("SELECT name, version, key, value FROM model_version_tags"):
                tags[(row["name"], int(row["version"]))][row["key"]] = row["value"] or ""
        out: dict[str, list[MlflowVersion]] = defaultdict(list)
        for row in self._rows(
            "SELECT name, version, creation_time, last_updated_time, description, user_id, "
            "current_stage, source, run_id, status, status_message FROM model_versions "
            "WHERE current_stage IS NOT ? ORDER BY name, version",
            (DELETED_STAGE,),
        ):
            number = int(row["version"])
            out[row["name"]].append(
                MlflowVersion(
                    version=number,
                    creation_time=int(row["creation_time"] or 0),
                    last_updated_time=int(row["last_updated_time"] or 0),
                    description=row["description"] or "",
                    user_id=row["user_id"] or "",
                    stage=row["current_stage"] or "None",
                    source=row["source"] or "",
                    run_id=row["run_id"] or None,
                    status=row["status"] or "READY",
                    status_message=row["status_message"],
                    tags=tags.get((row["name"], number), {}),
                )
            )
        return out


def _metric_value(value: float | None, is_nan: Any) -> float:
    """Undo MLflow's storage of NaN (0 with ``is_nan``) and ±inf (± the largest double)."""
    if is_nan:
        return math.nan
    number = float(value if value is not None else math.nan)
    if abs(number) == sys.float_info.max:
        return math.copysign(math.inf, number)
    return number


def _connect(path: str, uri: str) -> sqlite3.Connection:
    with open(path, "rb") as fh:
        header = fh.read(16)
    if header != b"SQLite format 3\x00":
        raise StoreError(
            f"{path} (from {uri!r}) is not an MLflow store: it is neither a folder (an mlruns "
            "file store) nor a SQLite database."
        )
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    return con


def _revision(con: sqlite3.Connection, path: str) -> str:
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is a SQLite database but not an MLflow one (no alembic_version table: "
            f"{exc}). Give the database MLflow's --backend-store-uri points at."
        ) from exc
    if row is None:
        raise StoreError(f"{path}: the MLflow database has no schema revision in alembic_version.")
    return str(row[0])


def _check_schema(con: sqlite3.Connection, path: str, revision: str) -> dict[str, set[str]]:
    """Columns of each table this reader uses; raise when a required one is missing."""
    tables: dict[str, set[str]] = {}
    for table in (*REQUIRED, *OPTIONAL):
        columns = {r[1] for r in con.execute(f"PRAGMA table_info({table})").fetchall()}
        if columns:
            tables[table] = columns
    for table, needed in REQUIRED.items():
        missing = [c for c in needed if c not in tables.get(table, set())]
        if missing:
            what = (
                f"table {table!r} lacks {', '.join(missing)}"
                if table in tables
                else (f"it has no {table!r} table")
            )
            raise StoreError(
                f"{path}: MLflow database schema revision {revision!r} is not one this importer "
                f"reads ({what}). Upgrade the database with `mlflow db upgrade` and try again."
            )
    for table, needed in OPTIONAL.items():
        if table in tables and not set(needed) <= tables[table]:
            del tables[table]  # an early form of an optional table: read as if absent
    return tables
