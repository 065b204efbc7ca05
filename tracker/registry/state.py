"""How a model's events fold into the registry's entities.

``Registry`` (``tracker.registry.storage``) reads a model's events in time order and applies them
to a ``_Model``; the entities it returns (``RegisteredModel``, ``ModelVersion``, shaped like
MLflow's and defined with the stage names in ``tracker.entities.model_registry``, and
``RegistryEvent``) are re-exported here. Names and aliases are validated here too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tracker.entities.model_registry import STAGES, ModelVersion, RegisteredModel, canonical_stage
from tracker.exceptions import InvalidArgumentError
from tracker.validation import validate_key

__all__ = [
    "CONFLICT_RESOLVED",
    "STAGES",
    "ModelVersion",
    "RegisteredModel",
    "RegistryEvent",
    "canonical_stage",
    "model_id_for",
    "validate_alias",
    "validate_model_name",
    "version_number",
]

# After a git merge two registrations can claim one number; this event names the one that keeps it.
CONFLICT_RESOLVED = "version_conflict_resolved"


def version_number(version: Any) -> int:
    try:
        number = int(str(version).strip())
    except ValueError:
        number = 0
    if number < 1 or isinstance(version, bool):
        raise InvalidArgumentError(f"Model version must be a positive integer, got {version!r}.")
    return number


def validate_model_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"Registered model name must be a non-empty string, got {name!r}.")
    if len(name) > 256 or "/" in name or "@" in name or ":" in name:
        raise InvalidArgumentError(
            f"Invalid registered model name {name!r}: at most 256 characters, without '/', '@' "
            "or ':' (they separate the parts of models:/ URIs)."
        )
    return name


def validate_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not alias or len(alias) > 255:
        raise InvalidArgumentError(f"Invalid alias {alias!r}: a non-empty string of ≤ 255 chars.")
    lowered = alias.lower()
    if lowered == "latest" or (lowered.startswith("v") and lowered[1:].isdigit()):
        raise InvalidArgumentError(
            f"Invalid alias {alias!r}: 'latest' and 'v<number>' are reserved for versions."
        )
    validate_key(alias, "Alias")
    return alias


# -- entities ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryEvent:
    """One change in a model's history: what, when, who, why."""

    model: str
    event: str
    version: int | None
    key: str | None
    value: str | None
    user: str
    reason: str | None
    timestamp: int


# -- folding ----------------------------------------------------------------------------------


@dataclass
class _Version:
    number: int
    created: int
    updated: int
    user: str
    source: str
    run_id: str | None
    description: str = ""
    stage: str = "None"
    tags: dict[str, str] = field(default_factory=dict)
    deleted: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Model:
    model_id: str
    name: str = ""
    created: int = 0
    updated: int = 0
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, _Version] = field(default_factory=dict)
    deleted: bool = False
    history: list[RegistryEvent] = field(default_factory=list)
    # version -> seg of the registration that keeps the number after a git-merge conflict
    kept: dict[int, str] = field(default_factory=dict)

    def apply(self, row: dict[str, Any]) -> None:
        event, version, ts = row["event"], row["version"], row["timestamp"]
        self.updated = max(self.updated, ts)
        mv = self.versions.get(version) if version is not None else None
        if event == "model_created":
            if not self.name:
                self.name, self.created = row["value"], ts
            self.deleted = False
        elif event == "model_renamed":
            self.name = row["value"]
        elif event == "model_deleted":
            self.deleted = True
        elif event == "model_description":
            self.description = row["value"] or ""
        elif event == "model_tag":
            _set_or_delete(self.tags, row["key"], row["value"])
        elif event == "alias_set" and version is not None:
            self.aliases[row["key"]] = version
        elif event == "alias_deleted":
            self.aliases.pop(row["key"], None)
        elif event == "version_created" and version is not None:
            if self.kept.get(version, row["seg"]) != row["seg"]:
                # The other branch's claim on this number; it was registered again under a new one.
                self.history.append(RegistryEvent(
                    self.name, event, version, "superseded", row["value"], row["user"],
                    row["reason"], ts,
                ))
                return
            info = json.loads(row["value"] or "{}")
            self.versions[version] = _Version(
                version, ts, ts, row["user"], info.get("source", ""), info.get("run_id"),
                info.get("description") or "", "None", dict(info.get("tags") or {}), False, info,
            )
        elif mv is not None:
            mv.updated = ts
            self._apply_version(mv, row)
        self.history.append(
            RegistryEvent(self.name, event, version, row["key"], row["value"], row["user"],
                          row["reason"], ts)
        )

    def _apply_version(self, mv: _Version, row: dict[str, Any]) -> None:
        event = row["event"]
        if event == "version_stage":
            stage = row["value"]
            if row["key"] == "archive_existing" and stage in ("Staging", "Production"):
                for other in self.versions.values():
                    if other is not mv and other.stage == stage and not other.deleted:
                        other.stage = "Archived"
                        other.updated = row["timestamp"]
                        self.history.append(RegistryEvent(
                            self.name, "version_stage", other.number, "archived_by", "Archived",
                            row["user"], f"archived when version {mv.number} moved to {stage}",
                            row["timestamp"],
                        ))
            mv.stage = stage
        elif event == "version_description":
            mv.description = row["value"] or ""
        elif event == "version_tag":
            _set_or_delete(mv.tags, row["key"], row["value"])
        elif event == "version_deleted":
            mv.deleted = True
            self.aliases = {a: v for a, v in self.aliases.items() if v != mv.number}

    def version_entity(self, mv: _Version) -> ModelVersion:
        aliases = sorted(a for a, v in self.aliases.items() if v == mv.number)
        return ModelVersion(
            name=self.name, version=mv.number, creation_timestamp=mv.created,
            last_updated_timestamp=mv.updated, description=mv.description, user_id=mv.user,
            current_stage=mv.stage, source=mv.source, run_id=mv.run_id, tags=dict(mv.tags),
            aliases=aliases, status=str(mv.info.get("status") or "READY"),
            status_message=mv.info.get("status_message"),
            model_id=_text(mv.info.get("model_id")),
        )

    def live_versions(self) -> list[_Version]:
        return [v for _, v in sorted(self.versions.items()) if not v.deleted]

    def entity(self) -> RegisteredModel:
        latest: dict[str, _Version] = {}
        for mv in self.live_versions():
            latest[mv.stage] = mv
        return RegisteredModel(
            name=self.name, creation_timestamp=self.created, last_updated_timestamp=self.updated,
            description=self.description,
            latest_versions=[self.version_entity(v) for v in sorted(latest.values(), key=lambda v: v.number)],
            tags=dict(self.tags), aliases=dict(sorted(self.aliases.items())),
        )


def _text(value: Any) -> str | None:
    """A string field of a registration record (None when absent or not a string)."""
    return value if isinstance(value, str) and value else None


def _set_or_delete(target: dict[str, str], key: str, value: str | None) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def model_id_for(name: str, salt: int = 0) -> str:
    text = name if salt == 0 else f"{name}\x00{salt}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
