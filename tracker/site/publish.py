"""What a build may publish: the project configuration's experiment, redaction and artifact rules.

``PublishRules`` is handed to the query layer (``StoreQuery(publish=…)``), which applies it to
the store's records before any table is built, so every page, data file and report query of
the build sees redacted values and only the published experiments. The registry is not in
those tables; ``redact_model``, ``redact_version`` and ``redact_event`` cover it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tracker.config import TrackerConfig, matches
from tracker.redaction import Redactor

if TYPE_CHECKING:
    from tracker.registry import ModelVersion, RegisteredModel, RegistryEvent

# Record kinds whose key names the value (params and tags); other text is scanned only.
KEYED_KINDS = frozenset({"param", "tag", "experiment_tag"})
# Registry events whose ``key`` names the value.
KEYED_EVENTS = frozenset({"model_tag", "version_tag"})


@dataclass(frozen=True)
class PublishRules:
    """The rules of one build.

    Args:
        config: the project configuration.
        redactor: the redactor of ``config``.
    """

    config: TrackerConfig
    redactor: Redactor

    @classmethod
    def from_config(cls, config: TrackerConfig | None = None) -> PublishRules:
        """The rules of ``config`` (None: the defaults, which redact the usual secrets)."""
        config = config if config is not None else TrackerConfig()
        return cls(config, Redactor.from_config(config))

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
        return self.redactor.redact_text(value)

    # -- the registry -------------------------------------------------------------------------

    def redact_version(self, version: ModelVersion) -> ModelVersion:
        """A model version with its tags, description and source redacted."""
        r = self.redactor
        return replace(
            version,
            tags=r.redact_mapping(version.tags),
            description=r.redact_text(version.description or ""),
            source=r.redact_text(version.source or ""),
        )

    def redact_model(self, model: RegisteredModel) -> RegisteredModel:
        """A registered model with its tags, description and latest versions redacted."""
        r = self.redactor
        return replace(
            model,
            tags=r.redact_mapping(model.tags),
            description=r.redact_text(model.description or ""),
            latest_versions=[self.redact_version(v) for v in model.latest_versions],
        )

    def redact_event(self, event: RegistryEvent) -> RegistryEvent:
        """A history event with its value (tag, description, registration JSON) and reason
        redacted."""
        r = self.redactor
        value = event.value
        if value is not None:
            if event.event in KEYED_EVENTS:
                value = r.redact_value(event.key or "", value)
            else:
                value = r.redact_json(value)
        return replace(
            event,
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
        """The bytes of an artifact as copied into the site: a UTF-8 text file redacted (JSON by
        key and value, other text by ``key: value`` lines and value), anything else as is.

        Args:
            path: the artifact's path (``.json`` files, and text starting with ``{`` or ``[``,
                are tried as JSON, so notebooks stay valid).
            data: the file's content.
        """
        if b"\x00" in data:
            return data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data
        looks_json = path.lower().endswith(".json") or text.lstrip()[:1] in ("{", "[")
        redacted = self._redact_json_file(text) if looks_json else None
        if redacted is None:
            redacted = self.redactor.redact_document(text)
        return data if redacted == text else redacted.encode("utf-8")

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
