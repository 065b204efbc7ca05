"""The exception tree: every error tracker raises is a ``TrackerError``."""

from __future__ import annotations

__all__ = [
    "TrackerError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "ImmutableParamError",
    "StoreError",
    "CorruptFileError",
    "FilterSyntaxError",
    "NoActiveRunError",
    "ModelIntegrityError",
    "ConfigError",
    "MlflowException",
]


class TrackerError(Exception):
    """Base class of every error raised by tracker."""

    error_code = "INTERNAL_ERROR"


class InvalidArgumentError(TrackerError, ValueError):
    """A value passed to a public function is not allowed; the message names it."""

    error_code = "INVALID_PARAMETER_VALUE"


class NotFoundError(TrackerError, LookupError):
    """An experiment, run, artifact or model that does not exist was asked for."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExistsError(TrackerError):
    """Something with that name exists already (e.g. an experiment)."""

    error_code = "RESOURCE_ALREADY_EXISTS"


class ImmutableParamError(InvalidArgumentError):
    """A param was logged again with a different value (params are immutable)."""


class StoreError(TrackerError):
    """The store cannot be opened, read or written."""


class CorruptFileError(StoreError):
    """A store file cannot be read (truncated, not Parquet, wrong schema)."""


class FilterSyntaxError(InvalidArgumentError):
    """A ``search_runs`` filter or ``order_by`` string cannot be parsed."""


class NoActiveRunError(TrackerError):
    """A fluent call needs an active run and none was started."""


class ModelIntegrityError(TrackerError):
    """A model file does not match the checksum recorded when it was saved; it was not loaded."""

    error_code = "INVALID_STATE"


class ConfigError(InvalidArgumentError):
    """A tracker.toml or [tool.tracker] table is unreadable or has a bad key or value."""


# MLflow code catches ``mlflow.exceptions.MlflowException``; ours is the same tree.
MlflowException = TrackerError
