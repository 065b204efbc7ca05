"""What a build may publish: the project configuration's experiment, redaction and artifact rules.

``PublishRules`` is handed to the query layer (``StoreQuery(publish=…)``), which applies it to
the store's records before any table is built, so every page, data file and report query of
the build sees redacted values and only the published experiments. The registry is not in
those tables; ``redact_model``, ``redact_version`` and ``redact_event`` cover it.

Names are redacted like values (#15): param, tag and metric keys, experiment and run names,
model and alias names, artifact paths. A redacted name gets a digest of the original appended
(see ``Redactor.redact_name``), so page and file names derived from it (a model's page, an
artifact's copy, a metric's CSV) stay unique without holding the secret. Artifact files are
redacted whatever their encoding: UTF-8, UTF-16/32 with a byte-order mark, or any 8-bit text
(read as Latin-1, written back as it was); a binary file whose printable runs hold a credential
is replaced by a notice instead of being copied.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tracker.config import TrackerConfig, matches
from tracker.exceptions import InvalidArgumentError
from tracker.redaction import Redactor

if TYPE_CHECKING:
    from tracker.registry import ModelVersion, RegisteredModel, RegistryEvent

# Record kinds whose key names the value (params and tags); other text is scanned only.
KEYED_KINDS = frozenset({"param", "tag", "experiment_tag"})
# Registry events whose ``key`` names the value.
KEYED_EVENTS = frozenset({"model_tag", "version_tag"})
# Registry events whose ``key`` is an alias name, and whose ``value`` is a model name.
ALIAS_EVENTS = frozenset({"alias_set", "alias_deleted"})
NAME_EVENTS = frozenset({"model_created", "model_renamed"})
# Bumped when redaction changes what a page shows, so an incremental build redoes every page.
REDACTION_VERSION = 2
# Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# A binary file's bytes mapped to ``p`` (printable ASCII or tab), ``z`` (NUL) or ``.``: runs
# of printable text are then found with ``bytes.find``, at C speed (a regex over every byte of
# a 5 MB file took 0.15-0.3 s). A secret is longer than ``MIN_RUN`` characters.
_MASK = bytes(
    ord("p") if b == 9 or 0x20 <= b <= 0x7E else ord("z") if b == 0 else ord(".")
    for b in range(256)
)
_ASCII_RUN = re.compile(rb"p+")
_UTF16_RUN = re.compile(rb"(?:pz)+")
MIN_RUN = 8
# Control bytes that no 8-bit text file holds (tab, line ends, form feed and escape allowed).
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
WITHHELD_NOTICE = (
    b"tracker: this file is not copied into the site: it is binary and holds something shaped "
    b"like a credential. Download it from the store instead.\n"
)


@dataclass(frozen=True)
class PublishRules:
    """The rules of one build.

    Args:
        config: the project configuration.
        redactor: the redactor of ``config``.
    """

    config: TrackerConfig
    redactor: Redactor
    # Published artifact path → the path in the store, for the paths ``scrub_key`` redacted.
    _sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, config: TrackerConfig | None = None) -> PublishRules:
        """The rules of ``config`` (None: the defaults, which redact the usual secrets)."""
        if config is None:
            config = TrackerConfig()
        elif not isinstance(config, TrackerConfig):
            raise InvalidArgumentError(
                f"PublishRules.from_config needs a TrackerConfig or None, got {config!r}."
            )
        return cls(config, Redactor.from_config(config))

    def fingerprint(self) -> str:
        """What a reused page depends on: the rules and the version of the redaction code."""
        return f"redaction {REDACTION_VERSION} {self.config!r}"

    # -- the query layer's PublishFilter --------------------------------------------------------

    def keeps_experiment(self, name: str | None) -> bool:
        """True when the experiment called ``name`` is published (``experiments`` rules)."""
        return self.config.experiments.publishes(name)

    def keeps_metric(self, key: str) -> bool:
        """False for metrics matched by the configured ``redact.keys`` (never by the built-ins:
        a metric is a number, and ``tokens_per_second`` is no secret)."""
        rules = self.config.redact
        return not matches(key, rules.keys, ignore_case=True) or matches(
            key, rules.allow, ignore_case=True
        )

    def scrub(self, kind: str, key: str, value: str) -> str:
        """A record's text value as published: params and tags by key and value, the rest
        (run names, users, artifact locations, dataset JSON) by value."""
        if kind in KEYED_KINDS:
            return self.redactor.redact_value(key or "", value)
        if kind == "input":  # JSON whose strings (name, source, schema) are scanned one by one
            return self._redact_json_record(value)
        return self.redactor.redact_text(value)

    def _redact_json_record(self, value: str) -> str:
        try:
            parsed = json.loads(value)
        except ValueError:
            return self.redactor.redact_text(value)
        redacted = self.redactor.redact_structure(parsed)
        return value if redacted == parsed else json.dumps(redacted, ensure_ascii=False)

    def scrub_key(self, kind: str, key: str) -> str:
        """A record's key as published: an artifact's path like a path (remembered, so
        ``artifact_source`` finds the file), any other (param, tag, metric key, an input's
        ``name:digest:context``, an attribute name) like a name."""
        if not isinstance(kind, str):
            raise InvalidArgumentError(f"scrub_key needs a record kind string, got {kind!r}.")
        if kind != "artifact":
            return self.redactor.redact_name(key)
        shown = self.redactor.redact_path(key)
        if shown != key:
            self._sources[shown] = key
        return shown

    def artifact_source(self, path: str) -> str:
        """The path in the store of the artifact published as ``path``."""
        if not isinstance(path, str):
            raise InvalidArgumentError(f"artifact_source needs a path string, got {path!r}.")
        return self._sources.get(path, path)

    def knows_source(self, path: str) -> bool:
        """False when ``path`` may be a redacted artifact path whose stored path this process
        has not seen: tables restored from a snapshot of published tables (#14) were redacted
        by an earlier build. (A redacted path holds ``~`` and a digest: ``redact_path``.)"""
        if not isinstance(path, str):
            raise InvalidArgumentError(f"knows_source needs a path string, got {path!r}.")
        return "~" not in path or path in self._sources

    def learn_sources(self, paths: Iterable[str]) -> None:
        """Remember the published path of each stored artifact path of ``paths`` (a run's
        artifact files) that redaction changes, so ``artifact_source`` finds it."""
        for stored in paths:
            if not isinstance(stored, str):
                raise InvalidArgumentError(f"learn_sources needs path strings, got {stored!r}.")
            shown = self.redactor.redact_path(stored)
            if shown != stored:
                self._sources.setdefault(shown, stored)

    def redact_path(self, path: str) -> str:
        """An artifact path as published (``Redactor.redact_path``)."""
        return self.redactor.redact_path(path)

    def log_filter(self) -> logging.Filter:
        """A filter that redacts a log record's message in place: on a handler of the build's
        loggers, every later handler (the CLI's output, CI logs) sees the redacted text too
        (a warning names an artifact path or a model, which may hold a secret)."""
        return _RedactingFilter(self.redactor)

    def redact_model_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """A model version's stored info (artifact path, flavors, file digests) as published."""
        if not isinstance(info, dict):
            raise InvalidArgumentError(f"redact_model_info needs the info dict, got {info!r}.")
        r = self.redactor
        files = info.get("files")
        return {
            "artifact_path": r.redact_path(str(info.get("artifact_path") or "")),
            "flavors": [r.redact_name(str(f)) for f in info.get("flavors") or []],
            "files": {r.redact_path(str(k)): r.redact_text(str(v)) for k, v in files.items()}
            if isinstance(files, dict) else {},
        }

    # -- the registry -------------------------------------------------------------------------

    def redact_version(self, version: ModelVersion) -> ModelVersion:
        """A model version with its model name, aliases, tags, description, source, run link
        and status message redacted."""
        r = self.redactor
        return replace(
            version,
            name=r.redact_name(version.name),
            aliases=[r.redact_name(a) for a in version.aliases],
            tags=r.redact_mapping(version.tags),
            description=r.redact_text(version.description or ""),
            source=r.redact_text(version.source or ""),
            run_link=r.redact_text(version.run_link) if version.run_link else version.run_link,
            status_message=r.redact_text(version.status_message)
            if version.status_message else version.status_message,
        )

    def redact_model(self, model: RegisteredModel) -> RegisteredModel:
        """A registered model with its name, aliases, tags, description and latest versions
        redacted."""
        r = self.redactor
        return replace(
            model,
            name=r.redact_name(model.name),
            aliases={r.redact_name(a): v for a, v in model.aliases.items()},
            tags=r.redact_mapping(model.tags),
            description=r.redact_text(model.description or ""),
            latest_versions=[self.redact_version(v) for v in model.latest_versions],
        )

    def redact_event(self, event: RegistryEvent) -> RegistryEvent:
        """A history event with its model name, key (alias or tag name), value (tag,
        description, model name, registration JSON) and reason redacted."""
        r = self.redactor
        value, key = event.value, event.key
        if value is not None:
            if event.event in KEYED_EVENTS:
                value = r.redact_value(key or "", value)
            elif event.event in NAME_EVENTS:
                value = r.redact_name(value)
            else:
                value = r.redact_json(value)
        if key is not None:
            key = r.redact_name(key)
        return replace(
            event,
            model=r.redact_name(event.model),
            key=key,
            value=value,
            reason=r.redact_text(event.reason) if event.reason is not None else None,
        )

    # -- artifacts ------------------------------------------------------------------------------

    def withheld(self, path: str, size: int) -> str:
        """Why the artifact at ``path`` of ``size`` bytes is not copied into the site, or ''."""
        from tracker.site.render import format_size

        rules = self.config.artifacts
        if rules.excludes(path):
            return "excluded by publish rules: not copied"
        if size > rules.max_size:
            return f"{format_size(size)}: larger than {format_size(rules.max_size)}, not copied"
        return ""

    def redact_file(self, path: str, data: bytes) -> bytes:
        """The bytes of an artifact as copied into the site: a text file redacted (JSON by key
        and value, other text by ``key: value`` lines and value) in its own encoding, a binary
        file as is, or a notice in its place when it holds a credential.

        Args:
            path: the artifact's path (``.json`` files, and text starting with ``{`` or ``[``,
                are tried as JSON, so notebooks stay valid).
            data: the file's content.
        """
        if not isinstance(path, str) or not isinstance(data, bytes):
            raise InvalidArgumentError(
                f"redact_file needs a path string and bytes, got {path!r} and {type(data)!r}."
            )
        decoded = _decode(data)
        if decoded is None:
            return WITHHELD_NOTICE if self._binary_secret(data) else data
        text, encoding = decoded
        looks_json = path.lower().endswith(".json") or text.lstrip()[:1] in ("{", "[")
        redacted = self._redact_json_file(text) if looks_json else None
        if redacted is None:
            redacted = self.redactor.redact_document(text)
        return data if redacted == text else redacted.encode(encoding)

    def _binary_secret(self, data: bytes) -> bool:
        """Whether a binary file holds a credential: its printable runs (ASCII, and UTF-16 LE
        without a mark), as ``strings`` would list them, one per line (``/proc/…/environ``
        has one ``KEY=value`` per run). Scanning only those keeps a 5 MB file at ~0.1 s."""
        runs = _printable_runs(data)
        return bool(runs) and self.redactor.holds_secret("\n".join(runs))

    def _redact_json_file(self, text: str) -> str | None:
        """Redacted JSON (re-indented only when something was redacted); None: not JSON."""
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        redacted = self.redactor.redact_structure(parsed)
        if redacted == parsed:
            return text
        return json.dumps(redacted, indent=2, ensure_ascii=False)


def _decode(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) of a text file, or None for a binary one.

    UTF-8 first; a byte-order mark names UTF-16/32; any other file without NULs or control
    bytes is 8-bit text (Latin-1, Windows-1252, …), read as Latin-1 so every byte maps to one
    character and writing it back changes only what was redacted (#15: a Latin-1 YAML file
    with ``password:`` was copied as it was).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _BINARY.search(data):
        return None
    return data.decode("latin-1"), "latin-1"


class _RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = self.redactor.redact_text(message)
        if shown != message:
            record.msg, record.args = shown, None
        return True


def _printable_runs(data: bytes) -> list[str]:
    """The runs of ``MIN_RUN``+ printable ASCII characters of ``data``, and of UTF-16 LE ones."""
    mask = data.translate(_MASK)
    runs, at = [], 0
    ascii_run, utf16_run = b"p" * MIN_RUN, b"pz" * MIN_RUN
    for run, pattern, encoding in ((ascii_run, _ASCII_RUN, "ascii"),
                                   (utf16_run, _UTF16_RUN, "utf-16-le")):
        at = 0
        while (start := mask.find(run, at)) != -1:
            match = pattern.match(mask, start)
            at = match.end() if match else len(mask)
            runs.append(data[start:at].decode(encoding))
    return runs
