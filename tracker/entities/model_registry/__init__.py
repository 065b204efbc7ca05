"""MLflow's ``mlflow.entities.model_registry``: registered models, versions, their tags and aliases.

``RegisteredModel`` and ``ModelVersion`` are the registry's own entities (``tracker.registry``
folds its events into them); their ``tags`` are dicts as in MLflow. The tag and alias classes exist for code that builds or
type-checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracker.entities import _MlflowObject
from tracker.exceptions import InvalidArgumentError

__all__ = [
    "ModelVersion",
    "ModelVersionTag",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelTag",
]

STAGES = ("None", "Staging", "Production", "Archived")


def canonical_stage(stage: Any) -> str:
    """``staging`` → ``Staging``; anything but the four MLflow stages is an error."""
    if isinstance(stage, str):
        for known in STAGES:
            if stage.strip().lower() == known.lower():
                return known
    raise InvalidArgumentError(f"Invalid stage {stage!r}; allowed: {', '.join(STAGES)}.")


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model, as MLflow's entity."""

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    description: str
    user_id: str
    current_stage: str
    source: str
    run_id: str | None
    status: str = "READY"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    aliases: list[str] = field(default_factory=list)
    # MLflow 3: the logged model the version was registered from (None for older versions)
    model_id: str | None = None


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model with its latest version per stage, tags and aliases."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str
    latest_versions: list[ModelVersion]
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)




@dataclass(frozen=True, repr=False)
class ModelVersionTag(_MlflowObject):
    key: str
    value: str


@dataclass(frozen=True, repr=False)
class RegisteredModelTag(_MlflowObject):
    key: str
    value: str


@dataclass(frozen=True, repr=False)
class RegisteredModelAlias(_MlflowObject):
    alias: str
    version: str
