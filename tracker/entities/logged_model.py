"""MLflow 3's logged-model entities (``mlflow.entities.LoggedModel`` and friends).

A logged model is a model with its own id (``m-<32 hex>``), its own params, tags and status,
and the metrics linked to it by ``log_metric(..., model_id=)``; ``models:/<model_id>`` loads it.
``tracker.logged_models`` stores and folds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tracker.entities import Metric, _MlflowObject

__all__ = [
    "LoggedModel",
    "LoggedModelInput",
    "LoggedModelOutput",
    "LoggedModelParameter",
    "LoggedModelStatus",
    "LoggedModelTag",
]


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
