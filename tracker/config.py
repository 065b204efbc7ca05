"""Project configuration: ``[tool.tracker]`` in ``pyproject.toml``, or a ``tracker.toml``.

Both files hold the same keys (in ``tracker.toml`` at the top level)::

    [tool.tracker]
    title = "Team experiments"          # site title
    store = "./tracking"                # store used when neither --store nor the env gives one
    base_url = "https://org.github.io/repo/"
    artifact_locations = ["/big/disk/artifacts", "s3://bucket/artifacts"]  # read besides the store's own

    [tool.tracker.experiments]
    include = ["nyc-*"]                 # names or globs; empty: every experiment
    exclude = ["scratch*"]

    [tool.tracker.experiments."nyc-taxi-experiment"]
    primary = "rmse"                    # the metric its leaderboard is ranked by

    [tool.tracker.metrics]              # which value is best: "min", "max" or "none" (neutral)
    rmse = "min"
    "*accuracy*" = "max"                # names or globs (see tracker.directions)

    [tool.tracker.redact]
    keys = ["*internal*"]               # more key globs (params, tags; metrics left out)
    values = ['corp-[0-9]{6}']          # more regexes of secret-looking values
    allow = ["max_tokens"]              # keys never redacted by name (values still scanned)
    default_keys = true                 # false: drop the built-in key globs
    default_values = true               # false: drop the built-in credential detectors

    [tool.tracker.artifacts]
    max_size = "10MB"                   # bytes, or a number with B, KB, MB or GB
    include = ["*"]                     # globs over artifact paths
    exclude = ["*.ckpt"]

    [tool.tracker.s3]                   # for s3:// stores used by the CLI
    endpoint_url = "http://minio.internal:9000"   # AWS_ENDPOINT_URL(_S3) wins when set
    region = "eu-west-1"                # AWS_REGION / AWS_DEFAULT_REGION win when set

Discovery walks up from the current folder to the repository root (the first folder holding
``.git``; without one, to the file-system root). In each folder ``tracker.toml`` comes first,
then ``pyproject.toml`` if it has a ``[tool.tracker]`` table; the nearest file found wins and
files are never merged. ``load_config(path)`` reads one file and skips discovery.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.directions import DIRECTION_VALUES, Directions
from tracker.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, from PyPI
    import tomli as tomllib

__all__ = [
    "ArtifactRules",
    "ExperimentRules",
    "RedactRules",
    "S3Settings",
    "TrackerConfig",
    "find_config",
    "load_config",
    "parse_size",
]

CONFIG_FILES = ("tracker.toml", "pyproject.toml")
DEFAULT_TITLE = "Experiments"
DEFAULT_MAX_SIZE = 5 * 1024 * 1024
SIZE_UNITS = {
    "b": 1,
    "kb": 1024,
    "mb": 1024**2,
    "gb": 1024**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def matches(name: str, patterns: tuple[str, ...], *, ignore_case: bool = False) -> bool:
    """True when ``name`` matches one of the globs (``*`` also matches ``/``).

    Args:
        name: an experiment name, a key or an artifact path.
        patterns: shell-style globs (``*``, ``?``, ``[abc]``).
        ignore_case: compare without regard to case.
    """
    return bool(patterns) and _glob_regex(patterns, ignore_case).match(name) is not None


@functools.lru_cache(maxsize=64)
def _glob_regex(patterns: tuple[str, ...], ignore_case: bool) -> re.Pattern[str]:
    """One compiled regex for a tuple of globs (a build matches thousands of keys)."""
    return re.compile(
        "|".join(fnmatch.translate(p) for p in patterns), re.IGNORECASE if ignore_case else 0
    )


@dataclass(frozen=True)
class ExperimentRules:
    """Which experiments the site shows (by name).

    Args:
        include: names or globs; when given, only matching experiments are shown.
        exclude: names or globs of experiments never shown (wins over ``include``).
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def publishes(self, name: str | None) -> bool:
        """True when the experiment called ``name`` goes into the site."""
        if name is None:
            return not self.include
        if self.include and not matches(name, self.include):
            return False
        return not matches(name, self.exclude)


@dataclass(frozen=True)
class RedactRules:
    """What is redacted (see ``tracker.redaction.Redactor``).

    Args:
        keys: key globs added to the built-in ones (case-insensitive).
        values: regular expressions of secret values added to the built-in detectors.
        allow: key globs never redacted by name (their values are still scanned).
        default_keys: use the built-in key globs (``*password*``, ``*secret*``, …).
        default_values: use the built-in credential detectors (AWS, GitHub, Slack, JWT, …).
    """

    keys: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    default_keys: bool = True
    default_values: bool = True


@dataclass(frozen=True)
class S3Settings:
    """Where ``s3://`` stores named by the CLI live (the environment wins over these).

    Args:
        endpoint_url: an S3-compatible endpoint (MinIO, Ceph, …); '' for AWS.
        region: the bucket's region; '' for the default.
    """

    endpoint_url: str = ""
    region: str = ""


@dataclass(frozen=True)
class ArtifactRules:
    """Which artifact files are copied into the site.

    Args:
        max_size: bytes; larger files are listed but not copied.
        include: globs over artifact paths; when given, only matching files are copied.
        exclude: globs of files never copied (wins over ``include``).
    """

    max_size: int = DEFAULT_MAX_SIZE
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def excludes(self, path: str) -> bool:
        """True when the publish rules keep the file at ``path`` out of the site."""
        if self.include and not matches(path, self.include):
            return True
        return matches(path, self.exclude)


@dataclass(frozen=True)
class TrackerConfig:
    """The project's configuration; every field has a default, so ``TrackerConfig()`` is valid.

    Args:
        title: the site title.
        store: the store used when neither ``--store`` nor the environment names one.
        base_url: the URL the site is published at.
        experiments: which experiments the site shows.
        redact: what the site (and CI summaries) redact.
        artifacts: which artifact files are copied into the site.
        s3: endpoint and region of ``s3://`` stores.
        directions: metric directions and experiments' primary metrics.
        artifact_locations: folders (relative to the config file) and ``s3://`` prefixes that a
            build may read artifacts from besides the store's own ``artifacts/`` folder; a run
            record whose ``artifact_uri`` is anywhere else is not read (see
            ``tracker.artifact_locations``).
        source: the file this was read from ('' when built in code or no file was found).
    """

    title: str = DEFAULT_TITLE
    store: str | None = None
    base_url: str = ""
    experiments: ExperimentRules = field(default_factory=ExperimentRules)
    redact: RedactRules = field(default_factory=RedactRules)
    artifacts: ArtifactRules = field(default_factory=ArtifactRules)
    s3: S3Settings = field(default_factory=S3Settings)
    directions: Directions = field(default_factory=Directions)
    artifact_locations: tuple[str, ...] = ()
    source: str = ""


# -- discovery --------------------------------------------------------------------------------


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``tracker.toml`` or ``pyproject.toml`` with ``[tool.tracker]``, or None.

    Args:
        start: the folder to start from (default: the current folder).
    """
    folder = Path(start if start is not None else os.getcwd()).resolve()
    for current in (folder, *folder.parents):
        for name in CONFIG_FILES:
            candidate = current / name
            if candidate.is_file() and (name == "tracker.toml" or _has_tool_table(candidate)):
                return candidate
        if (current / ".git").exists():
            return None
    return None


def _has_tool_table(path: Path) -> bool:
    return "tracker" in _read_toml(path).get("tool", {})


def load_config(path: str | os.PathLike[str] | None = None) -> TrackerConfig:
    """Read the configuration from ``path``, or from the file discovery finds.

    Args:
        path: a ``tracker.toml`` or ``pyproject.toml``; None discovers one from the current
            folder (no file found: the defaults).

    Raises:
        ConfigError: the file is missing or not TOML, a key is unknown, or a value has the
            wrong type or form; the message names the file and the key.
    """
    if path is None:
        found = find_config()
        if found is None:
            return TrackerConfig()
        file = found
    else:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ConfigError(f"The config path must be a file path, got {path!r}.")
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"No config file at {file}: give a tracker.toml or a pyproject.toml.")
    data = _read_toml(file)
    if file.name == "pyproject.toml":
        data = data.get("tool", {}).get("tracker", {})
        prefix = "tool.tracker."
    else:
        prefix = ""
    return _parse(data, _Where(str(file.resolve()), prefix))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from exc


# -- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """The file being parsed and the key prefix (``tool.tracker.`` in pyproject.toml)."""

    file: str
    prefix: str

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"Config value '{self.prefix}{key}' in {self.file}: {message}")


_TOP_KEYS = ("title", "store", "base_url", "artifact_locations", "experiments", "metrics",
             "redact", "artifacts", "s3")
_TABLE_KEYS = {
    "experiments": ("include", "exclude"),
    "redact": ("keys", "values", "allow", "default_keys", "default_values"),
    "artifacts": ("max_size", "include", "exclude"),
    "s3": ("endpoint_url", "region"),
}


def _parse(data: dict[str, Any], where: _Where) -> TrackerConfig:
    _known(data, _TOP_KEYS, where, "")
    tables = {name: _table(data, name, where) for name in _TABLE_KEYS}
    exps, redact, arts = tables["experiments"], tables["redact"], tables["artifacts"]
    store = _string(data, "store", where, "")
    return TrackerConfig(
        title=_string(data, "title", where, "") or DEFAULT_TITLE,
        store=_resolve_store(store, where.file) if store else None,
        base_url=_url(data, "base_url", where),
        experiments=ExperimentRules(
            include=_globs(exps, "experiments.include", where),
            exclude=_globs(exps, "experiments.exclude", where),
        ),
        redact=RedactRules(
            keys=_globs(redact, "redact.keys", where),
            values=_regexes(redact, "redact.values", where),
            allow=_globs(redact, "redact.allow", where),
            default_keys=_bool(redact, "redact.default_keys", where),
            default_values=_bool(redact, "redact.default_values", where),
        ),
        artifacts=ArtifactRules(
            max_size=_size(arts, "artifacts.max_size", where),
            include=_globs(arts, "artifacts.include", where),
            exclude=_globs(arts, "artifacts.exclude", where),
        ),
        s3=S3Settings(
            endpoint_url=_url(tables["s3"], "s3.endpoint_url", where),
            region=_string(tables["s3"], "s3.region", where),
        ),
        directions=_directions(data, where),
        artifact_locations=_locations(data, where),
        source=where.file,
    )


def _url(data: dict[str, Any], dotted: str, where: _Where) -> str:
    from tracker.validation import is_http_url

    value = _string(data, dotted, where)
    if value and not is_http_url(value):
        raise where.error(dotted, f"expected an http(s) URL such as \"http://127.0.0.1:9000\", "
                                  f"got {value!r}.")
    return value


def _directions(data: dict[str, Any], where: _Where) -> Directions:
    """``[metrics]`` (name or glob → min/max/none) and each experiment's ``primary``."""
    metrics = data.get("metrics", {})
    if not isinstance(metrics, dict):
        raise where.error("metrics", f"expected a table ([{where.prefix}metrics]), got "
                                     f"{metrics!r}.")
    for key, value in metrics.items():
        if value not in DIRECTION_VALUES:
            raise where.error(f"metrics.{key}", f"expected one of {', '.join(DIRECTION_VALUES)}, "
                                                f"got {value!r}.")
    primary = []
    experiments = data.get("experiments", {})
    for name, table in (experiments.items() if isinstance(experiments, dict) else ()):
        if isinstance(table, dict) and "primary" in table:
            metric = table["primary"]
            if not isinstance(metric, str) or not metric:
                raise where.error(f'experiments."{name}".primary',
                                  f"expected a metric name, got {metric!r}.")
            primary.append((name, metric))
    return Directions(tuple(metrics.items()), tuple(primary))


def _locations(data: dict[str, Any], where: _Where) -> tuple[str, ...]:
    """``artifact_locations``: local folders (relative to the config file) and s3:// prefixes."""
    from tracker.artifact_locations import canonical_location
    from tracker.exceptions import InvalidArgumentError

    out = []
    for value in _strings(data, "artifact_locations", where):
        if "://" not in value and not value.startswith("file:"):
            value = os.path.join(os.path.dirname(where.file), os.path.expanduser(value))
        try:
            out.append(canonical_location(value))
        except InvalidArgumentError as exc:
            raise where.error("artifact_locations", f"{exc} Allowed: folder paths and "
                                                    "s3://bucket/prefix URIs.") from exc
    return tuple(out)


def _known(data: dict[str, Any], allowed: tuple[str, ...], where: _Where, table: str) -> None:
    for key in data:
        if key not in allowed:
            raise where.error(table + key, f"unknown key; allowed: {', '.join(allowed)}.")


def _table(data: dict[str, Any], name: str, where: _Where) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise where.error(name, f"expected a table ([{where.prefix}{name}]), got {value!r}.")
    if name == "experiments":  # besides include/exclude: one table per experiment name
        settings = {k: v for k, v in value.items() if k not in _TABLE_KEYS[name]}
        for key, table in settings.items():
            if not isinstance(table, dict):
                raise where.error(f"experiments.{key}", f"unknown key; allowed: include, exclude, "
                                                        f"or a table per experiment name, got "
                                                        f"{table!r}.")
            _known(table, ("primary",), where, f'experiments."{key}".')
        value = {k: v for k, v in value.items() if k in _TABLE_KEYS[name]}
    _known(value, _TABLE_KEYS[name], where, name + ".")
    return value


def _string(data: dict[str, Any], dotted: str, where: _Where, default: str = "") -> str:
    value = data.get(dotted.rsplit(".", 1)[-1], default)
    if not isinstance(value, str):
        raise where.error(dotted, f"expected a string, got {value!r}.")
    return value


def _bool(data: dict[str, Any], dotted: str, where: _Where) -> bool:
    value = data.get(dotted.rsplit(".", 1)[1], True)
    if not isinstance(value, bool):
        raise where.error(dotted, f"expected true or false, got {value!r}.")
    return value


def _strings(data: dict[str, Any], dotted: str, where: _Where) -> tuple[str, ...]:
    value = data.get(dotted.rsplit(".", 1)[-1], [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise where.error(dotted, f"expected a list of non-empty strings, got {value!r}.")
    return tuple(value)


def _globs(data: dict[str, Any], dotted: str, where: _Where) -> tuple[str, ...]:
    patterns = _strings(data, dotted, where)
    for pattern in patterns:
        problem = glob_problem(pattern)
        if problem:
            raise where.error(
                dotted, f'bad glob {pattern!r}: {problem}; use *, ? and [abc] (e.g. "nyc-*").'
            )
    return patterns


def glob_problem(pattern: str) -> str:
    """Why ``pattern`` is not a usable glob (a ``[`` never closed, a control character), or ''."""
    if any(ord(c) < 32 for c in pattern):
        return "it contains a control character"
    i = pattern.find("[")
    while i != -1:
        j = i + 1
        j += pattern[j : j + 1] == "!"
        j += pattern[j : j + 1] == "]"  # a ']' right after '[' or '[!' is a member of the set
        end = pattern.find("]", j)
        if end == -1:
            return f"the '[' at position {i} is never closed by ']'"
        i = pattern.find("[", end + 1)
    return ""


def _regexes(data: dict[str, Any], dotted: str, where: _Where) -> tuple[str, ...]:
    patterns = _strings(data, dotted, where)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise where.error(
                dotted, f"bad regular expression {pattern!r}: {exc}; use Python re syntax."
            ) from exc
    return patterns


def _size(data: dict[str, Any], dotted: str, where: _Where) -> int:
    value = data.get(dotted.rsplit(".", 1)[1], DEFAULT_MAX_SIZE)
    try:
        return parse_size(value)
    except ValueError as exc:
        raise where.error(dotted, str(exc)) from exc


def parse_size(value: Any) -> int:
    """Bytes from an integer or a string such as ``"10MB"``, ``"1.5 GB"`` or ``"512KB"``.

    Units are B, KB, MB and GB (1 KB = 1024 bytes; KiB, MiB and GiB mean the same), any case.

    Raises:
        ValueError: ``value`` is negative, not a number, or has an unknown unit.
    """
    allowed = 'expected bytes (e.g. 10485760) or a size such as "10MB" (units B, KB, MB, GB)'
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{allowed}, got {value!r}.")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{allowed}, got the negative number {value}.")
        return value
    match = _SIZE.match(value)
    unit = match.group(2).lower() if match else ""
    if match is None or (unit and unit not in SIZE_UNITS):
        raise ValueError(f"{allowed}, got {value!r}.")
    return int(float(match.group(1)) * SIZE_UNITS[unit or "b"])


def _resolve_store(store: str, config_file: str) -> str:
    """A relative store folder is relative to the config file's folder, not the current one."""
    if _URI_SCHEME.match(store) and not re.match(r"^[A-Za-z]:[\\/]", store):
        return store  # s3://, file:, sqlite: …
    if os.path.isabs(store):
        return store
    return os.path.normpath(os.path.join(os.path.dirname(config_file), store))
