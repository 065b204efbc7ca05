"""Input rules shared by the API and the client, with MLflow's limits and clearer messages."""

from __future__ import annotations

import math
import re
from typing import Any

from tracker.exceptions import InvalidArgumentError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500

_KEY_RE = re.compile(r"^[\w\-. /:]+$")
_valid_keys: set[str] = set()


def validate_key(key: Any, what: str) -> str:
    """Return ``key`` if it is a valid param/metric/tag name; raise naming the rule otherwise."""
    if key in _valid_keys:
        return str(key)
    if not isinstance(key, str):
        raise InvalidArgumentError(f"{what} name must be a string, got {type(key).__name__} {key!r}.")
    if not key:
        raise InvalidArgumentError(f"{what} name must not be empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgumentError(
            f"{what} name {key[:40]!r}… is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed."
        )
    if not _KEY_RE.match(key):
        raise InvalidArgumentError(
            f"Invalid {what.lower()} name {key!r}: names may contain only letters, digits, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    if key.startswith("/") or any(part in ("..", ".") for part in key.split("/")):
        raise InvalidArgumentError(
            f"Invalid {what.lower()} name {key!r}: it must not start with '/' or contain '.' "
            "or '..' path components."
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def metric_value(key: str, value: Any) -> float:
    """The metric value as a float; strings, None and other non-numbers are refused."""
    if type(value) is float:
        return value
    if not isinstance(value, (str, bytes)) and value is not None:
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            pass
    raise InvalidArgumentError(
        f"Metric {key!r} got value {value!r} of type {type(value).__name__}; metric values must "
        "be numbers (int, float, numpy scalars). Log text with set_tag or log_param instead."
    )


def metric_step(key: str, step: Any) -> int:
    if step is None:
        return 0
    if isinstance(step, bool) or not isinstance(step, int):
        try:
            import operator

            return operator.index(step)
        except TypeError:
            raise InvalidArgumentError(
                f"Metric {key!r} got step {step!r}; a step must be an integer."
            ) from None
    return step


def timestamp_ms(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise InvalidArgumentError(
            f"{what} {value!r} is not a timestamp; pass milliseconds since the epoch as an int."
        )
    return int(value)


def stringify(value: Any, what: str, key: str, limit: int) -> str:
    """Params and tags are stored as strings, as MLflow does (``str(value)``)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidArgumentError(
            f"{what} {key!r} has a value of {len(text)} characters; at most {limit} are allowed."
        )
    return text


def validate_experiment_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(
            f"Experiment name must be a non-empty string, got {name!r}."
        )
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidArgumentError(
            f"Experiment name {name[:40]!r}… is longer than {MAX_EXPERIMENT_NAME_LENGTH} characters."
        )
    return name


_RUN_ID_RE = re.compile(r"^[0-9a-zA-Z_\-]{1,64}$")


def is_run_id(value: Any) -> bool:
    """Whether ``validate_run_id`` takes ``value`` (without raising: for checking many)."""
    return isinstance(value, str) and _RUN_ID_RE.match(value) is not None


def validate_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidArgumentError(
            f"Invalid run id {run_id!r}: run ids are 1-64 letters, digits, '-' or '_' "
            "(tracker makes 32 hex digits)."
        )
    return run_id


MAX_ARTIFACT_NAME_BYTES = 255  # one file or folder name (ext4, APFS, NTFS)
MAX_ARTIFACT_PATH_BYTES = 1000  # the whole relative path (S3 keys are at most 1,024 bytes)


def validate_artifact_path(path: Any, what: str = "artifact_path") -> str:
    """A relative, '/'-separated artifact path with no '..' components ('' for the root).

    Args:
        path: the path (None for the root).
        what: the argument's name, for messages (``artifact_file``, ``path``, …).
    """
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidArgumentError(f"{what} must be a string, got {path!r}.")
    if "\x00" in path:
        raise InvalidArgumentError(
            f"Invalid {what} {path!r}: it contains a NUL byte (\\x00), which no file name may hold."
        )
    cleaned = path.replace("\\", "/").strip("/")
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidArgumentError(
            f"Invalid {what} {path!r}: it must stay inside the run's artifact folder "
            "(no '..' components)."
        )
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_ARTIFACT_NAME_BYTES:
            raise InvalidArgumentError(
                f"Invalid {what} {path[:60]!r}…: the name {part[:40]!r}… is "
                f"{len(part.encode('utf-8', 'surrogatepass'))} bytes long; a file or folder name "
                f"may be at most {MAX_ARTIFACT_NAME_BYTES} bytes (UTF-8)."
            )
    joined = "/".join(parts)
    size = len(joined.encode("utf-8", "surrogatepass"))
    if size > MAX_ARTIFACT_PATH_BYTES:
        raise InvalidArgumentError(
            f"Invalid {what} {path[:60]!r}…: it is {size} bytes long; an artifact path may be "
            f"at most {MAX_ARTIFACT_PATH_BYTES} bytes (UTF-8)."
        )
    return joined


def validate_local_path(path: Any, what: str) -> str:
    """A local file or folder path given by the caller, as a string (no NUL bytes).

    Args:
        path: a ``str`` or ``os.PathLike``.
        what: the argument's name, for messages (``local_path``, ``dst_path``).
    """
    import os

    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"{what} must be a path, got {path!r}.")
    text = os.fspath(path)
    if not isinstance(text, str) or "\x00" in text:
        raise InvalidArgumentError(
            f"Invalid {what} {text!r}: a path must be text with no NUL byte (\\x00)."
        )
    return text


def is_http_url(value: str) -> bool:
    """True for an absolute ``http://`` or ``https://`` URL with a host."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
