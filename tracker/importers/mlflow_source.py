"""What an MLflow store holds, read into plain dataclasses, and how to open one by URI.

Two readers produce these: ``mlflow_sqlite.SqliteSource`` (MLflow's database schema through
Python's ``sqlite3``) and ``mlflow_files.FileSource`` (the ``mlruns`` folder of meta.yaml files).
Neither needs MLflow installed; both only read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlparse

from tracker.exceptions import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# MLflow's file store writes run status as its protobuf enum number.
STATUS_NAMES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
CONTEXT_TAG = "mlflow.data.context"


@dataclass(frozen=True)
class MlflowExperiment:
    """An MLflow experiment: ``experiment_id`` is MLflow's own id."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowMetric:
    """One point of a metric history (NaN and ±inf as floats)."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class MlflowDataset:
    """A dataset input of a run, with the context it was used in."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str
    context: str


@dataclass(frozen=True)
class MlflowRun:
    """An MLflow run with everything it logged."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    start_time: int | None
    end_time: int | None
    user_id: str
    lifecycle_stage: str
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[MlflowMetric] = field(default_factory=list)
    inputs: list[MlflowDataset] = field(default_factory=list)


@dataclass(frozen=True)
class MlflowVersion:
    """A registered model version."""

    version: int
    creation_time: int
    last_updated_time: int
    description: str
    user_id: str
    stage: str
    source: str
    run_id: str | None
    status: str
    status_message: str | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowModel:
    """A registered model with its versions, tags and aliases."""

    name: str
    creation_time: int
    last_updated_time: int
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[MlflowVersion] = field(default_factory=list)


class MlflowSource(Protocol):
    """A readable MLflow store."""

    uri: str

    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment, deleted ones included."""
        ...

    def runs(self, experiment: MlflowExperiment) -> Iterator[MlflowRun]:
        """The runs of one experiment, deleted ones included."""
        ...

    def models(self) -> list[MlflowModel]:
        """Every registered model (deleted versions left out)."""
        ...

    def artifact_bases(self) -> Sequence[str]:
        """Folders under which artifacts recorded at another path are looked for (a moved store)."""
        ...

    def artifact_roots(self) -> Sequence[str]:
        """Folders artifacts may be copied from without being named by the user: the MLflow
        store's own tree (an ``mlruns`` folder, a database's folder)."""
        ...


def local_path(uri: str) -> str | None:
    """The filesystem path of a ``file:`` URI or plain path; None for ``s3://`` and the like."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return os.path.abspath(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # "C:" is a Windows drive, not a scheme
        return None
    return os.path.abspath(os.path.expanduser(uri))


def find_local_dir(uri: str, bases: Sequence[str], anchor: str) -> str | None:
    """The local folder ``uri`` names, looked for in the store's own folders first.

    MLflow records absolute paths, which go stale when a store is copied or moved. So the
    longest tail of the recorded path that starts at or before the component ``anchor`` (a run
    id) and exists under one of ``bases`` (the store's folders) wins; the recorded path itself
    comes next, for artifacts kept apart from the store. None when nothing is found or the URI
    is not local (``s3://``, ``mlflow-artifacts:``).
    """
    path = local_path(uri) if uri else None
    if path is None:
        return None
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if anchor in parts:
        for start in range(parts.index(anchor) + 1):
            for base in bases:
                candidate = os.path.join(base, *parts[start:])
                if os.path.isdir(candidate):
                    return candidate
    return path if os.path.isdir(path) else None


def inside(path: str, roots: Sequence[str]) -> bool:
    """Whether ``path``, symlinks resolved, is one of ``roots`` (resolved) or inside one."""
    real = os.path.realpath(path)
    for root in roots:
        top = os.path.realpath(root)
        if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
            return True
    return False


def status_name(value: object, where: str) -> str:
    """A run status as MLflow's name, from a name or the file store's enum number."""
    if isinstance(value, int) and value in STATUS_NAMES:
        return STATUS_NAMES[value]
    if isinstance(value, str) and value in STATUS_NAMES.values():
        return value
    raise StoreError(
        f"{where}: unknown run status {value!r}; expected one of "
        f"{', '.join(STATUS_NAMES.values())}."
    )


def dataset_source(raw: str | None) -> str:
    """The path or URI of a dataset from MLflow's JSON source (``{"uri": …}``), else the text."""
    import json

    try:
        parsed = json.loads(raw or "")
    except ValueError:
        return raw or ""
    if isinstance(parsed, dict):
        for key in ("uri", "url", "path", "table_name"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
    return raw or ""
