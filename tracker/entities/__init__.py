"""Entities shaped like MLflow's, so attribute access in user code (``run.info.run_id``) works.

Like MLflow's, every entity iterates as ``(property, value)`` pairs in name order (so
``dict(run.info)`` has MLflow's keys), prints as ``<RunInfo: run_id='…', …>``, and ``Run``,
``RunData``, ``RunInputs``, ``RunOutputs``, ``Metric``, ``Dataset`` and ``DatasetInput`` have
``to_dictionary()``. The submodules (``tracker.entities.run``, ``.experiment``, ``.view_type``,
``.model_registry`` …) exist so MLflow's import paths work; the classes are defined here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any

__all__ = [
    "Experiment",
    "Run",
    "RunInfo",
    "RunData",
    "RunInputs",
    "RunOutputs",
    "Dataset",
    "DatasetInput",
    "InputTag",
    "Metric",
    "Param",
    "RunTag",
    "ExperimentTag",
    "FileInfo",
    "RunStatus",
    "ViewType",
    "LifecycleStage",
    "LoggedModel",
    "LoggedModelInput",
    "LoggedModelOutput",
    "LoggedModelParameter",
    "LoggedModelStatus",
    "LoggedModelTag",
]


class _MlflowObject:
    """MLflow's entity protocol: iterate as sorted ``(name, value)`` pairs; MLflow's repr."""

    @classmethod
    def _properties(cls) -> list[str]:
        if is_dataclass(cls):
            return sorted(f.name for f in fields(cls) if not f.name.startswith("_"))
        return sorted(
            name for name in dir(cls)
            if not name.startswith("_") and isinstance(getattr(cls, name, None), property)
        )

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for name in self._properties():
            yield name, getattr(self, name)

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> Any:
        """Build the entity from a dict; keys that are not its properties are ignored."""
        known = set(cls._properties())
        return cls(**{k: v for k, v in the_dict.items() if k in known})

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={value!r}" for name, value in self)
        return f"<{type(self).__name__}: {body}>"


class RunStatus:
    """Run states, as MLflow names them (MLflow's integer codes are accepted too)."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)
    # MLflow's protobuf numbers: RunStatus.to_string(3) == "FINISHED" there.
    _CODES = {1: RUNNING, 2: SCHEDULED, 3: FINISHED, 4: FAILED, 5: KILLED}

    @classmethod
    def is_terminated(cls, status: Any) -> bool:
        return cls.to_string(status) in cls.TERMINAL

    @classmethod
    def to_string(cls, status: Any) -> str:
        """The status name: ``"FINISHED"`` for ``"FINISHED"`` or MLflow's code ``3``."""
        if isinstance(status, int) and not isinstance(status, bool) and status in cls._CODES:
            return cls._CODES[status]
        return cls.from_string(status)

    @classmethod
    def from_string(cls, status: Any) -> str:
        from tracker.exceptions import InvalidArgumentError

        if status not in cls.ALL:
            raise InvalidArgumentError(
                f"Unknown run status {status!r}; allowed: {', '.join(cls.ALL)}."
            )
        return str(status)

    @classmethod
    def all_status(cls) -> list[str]:
        return list(cls.ALL)


class ViewType:
    """Which runs or experiments a search returns (``run_view_type``)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3
    _NAMES = {"active_only": 1, "deleted_only": 2, "all": 3}

    @classmethod
    def from_any(cls, value: Any) -> int:
        from tracker.exceptions import InvalidArgumentError

        if isinstance(value, str) and value.lower() in cls._NAMES:
            return cls._NAMES[value.lower()]
        if value in (1, 2, 3) and not isinstance(value, bool):
            return int(value)
        raise InvalidArgumentError(
            f"Invalid run_view_type {value!r}; use ViewType.ACTIVE_ONLY, DELETED_ONLY or ALL."
        )

    @classmethod
    def from_string(cls, view_str: str) -> int:
        """``"active_only"`` → ``ViewType.ACTIVE_ONLY`` (MLflow's lowercase names)."""
        return cls.from_any(view_str)

    @classmethod
    def to_string(cls, view_type: int) -> str:
        number = cls.from_any(view_type)
        return next(name for name, code in cls._NAMES.items() if code == number)


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"

    @classmethod
    def is_valid(cls, stage: str) -> bool:
        return stage in (cls.ACTIVE, cls.DELETED)


@dataclass(frozen=True, repr=False)
class Metric(_MlflowObject):
    """One metric value; ``model_id``/``dataset_*`` link it to a logged model and dataset."""

    key: str
    value: float
    timestamp: int
    step: int
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None

    def to_dictionary(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest",
            "run_id",
        )}


@dataclass(frozen=True, repr=False)
class Param(_MlflowObject):
    key: str
    value: str


@dataclass(frozen=True, repr=False)
class RunTag(_MlflowObject):
    key: str
    value: str


@dataclass(frozen=True, repr=False)
class ExperimentTag(_MlflowObject):
    key: str
    value: str


@dataclass(frozen=True, repr=False)
class FileInfo(_MlflowObject):
    """An artifact: path relative to the run's artifact root, folder flag, size in bytes."""

    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True, repr=False)
class Experiment(_MlflowObject):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


_SEARCHABLE_RUN_ATTRIBUTES = (
    "artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id"
)


@dataclass(frozen=True, repr=False)
class RunInfo(_MlflowObject):
    """A run's metadata, with MLflow's fields (and its positional order)."""

    run_id: str
    experiment_id: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str = LifecycleStage.ACTIVE
    artifact_uri: str | None = None
    run_name: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow 1.x's name for ``run_id``."""
        return self.run_id

    @classmethod
    def get_searchable_attributes(cls) -> list[str]:
        """Attributes a filter may name as ``attributes.<name>``."""
        return sorted(_SEARCHABLE_RUN_ATTRIBUTES)

    @classmethod
    def get_orderable_attributes(cls) -> list[str]:
        return sorted({*_SEARCHABLE_RUN_ATTRIBUTES, "experiment_id"})


@dataclass(frozen=True, repr=False)
class RunData(_MlflowObject):
    """Latest metric values, params and tags as dicts (MLflow's lists of entities are accepted)."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("metrics", "params", "tags"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, {})
            elif isinstance(value, (list, tuple)):
                object.__setattr__(self, name, {item.key: item.value for item in value})

    def to_dictionary(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "params": self.params, "tags": self.tags}


@dataclass(frozen=True, repr=False)
class InputTag(_MlflowObject):
    key: str
    value: str


@dataclass(frozen=True, repr=False)
class Dataset(_MlflowObject):
    """A logged dataset: name, content digest, source, schema and profile (rows/columns)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None

    def to_dictionary(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "name", "digest", "source_type", "source", "schema", "profile"
        )}


@dataclass(frozen=True, repr=False)
class DatasetInput(_MlflowObject):
    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)

    @property
    def context(self) -> str | None:
        for tag in self.tags:
            if tag.key == "mlflow.data.context":
                return tag.value
        return None

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.to_dictionary(),
            "tags": {tag.key: tag.value for tag in self.tags},
        }


@dataclass(frozen=True, repr=False)
class RunInputs(_MlflowObject):
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[Any] = field(default_factory=list)

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "model_inputs": list(self.model_inputs),
            "dataset_inputs": [d.to_dictionary() for d in self.dataset_inputs],
        }


@dataclass(frozen=True, repr=False)
class RunOutputs(_MlflowObject):
    model_outputs: list[Any] = field(default_factory=list)

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "model_outputs": [
                m.to_dictionary() if hasattr(m, "to_dictionary") else m for m in self.model_outputs
            ]
        }


class Run(_MlflowObject):
    """A run: ``info`` (RunInfo), ``data`` (latest metrics, params, tags), ``inputs``, ``outputs``.

    Args:
        run_info: the run's metadata.
        run_data: metrics, params and tags (empty when omitted).
        run_inputs: dataset inputs (empty when omitted).
        run_outputs: model outputs (empty when omitted).
    """

    def __init__(
        self,
        run_info: RunInfo,
        run_data: RunData | None = None,
        run_inputs: RunInputs | None = None,
        run_outputs: RunOutputs | None = None,
    ) -> None:
        if not isinstance(run_info, RunInfo):
            from tracker.exceptions import InvalidArgumentError

            raise InvalidArgumentError(f"Run needs a RunInfo, got {run_info!r}.")
        self._info = run_info
        self._data = run_data if run_data is not None else RunData()
        self._inputs = run_inputs if run_inputs is not None else RunInputs()
        self._outputs = run_outputs if run_outputs is not None else RunOutputs()

    @property
    def info(self) -> RunInfo:
        """The run's metadata: id, experiment, status, times, artifact URI."""
        return self._info

    @property
    def data(self) -> RunData:
        """Latest metric values, params and tags."""
        return self._data

    @property
    def inputs(self) -> RunInputs:
        """Datasets (and models) the run used."""
        return self._inputs

    @property
    def outputs(self) -> RunOutputs:
        """Models the run produced."""
        return self._outputs

    @classmethod
    def _properties(cls) -> list[str]:
        return ["data", "info", "inputs", "outputs"]

    def to_dictionary(self) -> dict[str, Any]:
        """``{"info": …, "data": …, "inputs": …, "outputs": …}`` as MLflow returns it."""
        return {
            "info": dict(self.info),
            "data": self.data.to_dictionary(),
            "inputs": self.inputs.to_dictionary(),
            "outputs": self.outputs.to_dictionary(),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        return (self._info, self._data, self._inputs, self._outputs) == (
            other._info, other._data, other._inputs, other._outputs
        )

    __hash__ = None  # type: ignore[assignment]


# -- MLflow 3's logged models: a model with its own id (``m-<32 hex>``), params, tags and status,
# and the metrics linked to it by ``log_metric(..., model_id=)`` (``tracker.logged_models`` folds them).


class LoggedModelStatus(str, Enum):
    """Where a logged model is in its life: PENDING until its files are in, then READY or FAILED."""

    UNSPECIFIED = "UNSPECIFIED"
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value

    @staticmethod
    def is_finalized(status: Any) -> bool:
        return status in (LoggedModelStatus.READY, LoggedModelStatus.FAILED)

    @classmethod
    def from_int(cls, status_int: int) -> LoggedModelStatus:
        return cls.parse(status_int)

    def to_int(self) -> int:
        return _STATUS_ORDER.index(self)

    @classmethod
    def parse(cls, value: Any) -> LoggedModelStatus:
        """The status named by ``value`` (a member, its name, or MLflow's integer code)."""
        from tracker.exceptions import InvalidArgumentError

        if isinstance(value, cls):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 4:
            return _STATUS_ORDER[value]
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        raise InvalidArgumentError(
            f"Unknown logged model status {value!r}; allowed: "
            f"{', '.join(s.value for s in _STATUS_ORDER)} (or their codes 0-3)."
        )


_STATUS_ORDER = (
    LoggedModelStatus.UNSPECIFIED, LoggedModelStatus.PENDING, LoggedModelStatus.READY,
    LoggedModelStatus.FAILED,
)


@dataclass(frozen=True, repr=False)
class LoggedModelTag(_MlflowObject):
    key: str
    value: str


@dataclass(frozen=True, repr=False)
class LoggedModelParameter(_MlflowObject):
    key: str
    value: str


@dataclass(frozen=True, repr=False)
class LoggedModelInput(_MlflowObject):
    model_id: str


@dataclass(frozen=True, repr=False)
class LoggedModelOutput(_MlflowObject):
    model_id: str
    step: int = 0

    def to_dictionary(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "step": self.step}


@dataclass(repr=False)
class LoggedModel(_MlflowObject):
    """A model logged to an experiment, as MLflow 3 describes it.

    Args:
        experiment_id: the experiment it belongs to.
        model_id: its id (``m-<32 hex>``).
        name: its name (the ``name=`` given to ``log_model``).
        artifact_location: where its files are (the ``MLmodel`` folder).
        creation_timestamp: creation time, ms since the epoch.
        last_updated_timestamp: time of its latest change, ms since the epoch.
        model_type: free-form type given by the user.
        source_run_id: the run that logged it (None when created outside a run).
        status: PENDING, READY or FAILED.
        status_message: why it failed, if it did.
        tags: its tags.
        params: its params (the run's params and those given to ``log_model(params=)``).
        metrics: the metrics linked to it, each with ``model_id``, ``dataset_name``,
            ``dataset_digest`` and ``run_id``.
    """

    experiment_id: str
    model_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    source_run_id: str | None = None
    status: LoggedModelStatus = LoggedModelStatus.READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] | None = None

    def __post_init__(self) -> None:
        self.status = LoggedModelStatus.parse(self.status)
        if isinstance(self.tags, list):
            self.tags = {t.key: t.value for t in self.tags}
        if isinstance(self.params, list):
            self.params = {p.key: p.value for p in self.params}

    @classmethod
    def _properties(cls) -> list[str]:
        return sorted([*super()._properties(), "model_uri"])

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    def to_dictionary(self) -> dict[str, Any]:
        """Every property but ``model_uri``, ``status`` as MLflow's integer code."""
        out = {name: value for name, value in self if name != "model_uri"}
        out["status"] = self.status.to_int()
        return out

    def __repr__(self) -> str:
        body = ", ".join(
            f"{name}={value!r}" for name, value in self if name not in ("tags", "params", "metrics")
        )
        return f"LoggedModel({body})"
