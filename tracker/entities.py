"""Entities shaped like MLflow's, so attribute access in user code (``run.info.run_id``) works."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Experiment",
    "Run",
    "RunInfo",
    "RunData",
    "RunInputs",
    "Dataset",
    "DatasetInput",
    "InputTag",
    "Metric",
    "Param",
    "RunTag",
    "FileInfo",
    "RunStatus",
    "ViewType",
    "LifecycleStage",
]


class RunStatus:
    """Run states, as MLflow names them."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)

    @classmethod
    def is_terminated(cls, status: str) -> bool:
        return status in cls.TERMINAL

    @staticmethod
    def to_string(status: str) -> str:
        return status

    @classmethod
    def from_string(cls, status: str) -> str:
        from tracker.exceptions import InvalidArgumentError

        if status not in cls.ALL:
            raise InvalidArgumentError(
                f"Unknown run status {status!r}; allowed: {', '.join(cls.ALL)}."
            )
        return status


class ViewType:
    """Which runs or experiments a search returns (``run_view_type``)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @classmethod
    def from_any(cls, value: Any) -> int:
        from tracker.exceptions import InvalidArgumentError

        names = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}
        if isinstance(value, str) and value.upper() in names:
            return names[value.upper()]
        if value in (1, 2, 3) and not isinstance(value, bool):
            return int(value)
        raise InvalidArgumentError(
            f"Invalid run_view_type {value!r}; use ViewType.ACTIVE_ONLY, DELETED_ONLY or ALL."
        )


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True)
class FileInfo:
    """An artifact: path relative to the run's artifact root, folder flag, size in bytes."""

    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass(frozen=True)
class RunData:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InputTag:
    key: str
    value: str


@dataclass(frozen=True)
class Dataset:
    """A logged dataset: name, content digest, source, schema and profile (rows/columns)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DatasetInput:
    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)

    @property
    def context(self) -> str | None:
        for tag in self.tags:
            if tag.key == "mlflow.data.context":
                return tag.value
        return None


@dataclass(frozen=True)
class RunInputs:
    dataset_inputs: list[DatasetInput] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    """A run as read back from the store: ``info``, ``data`` (latest metrics) and ``inputs``."""

    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)
