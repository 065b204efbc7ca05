"""MLflow's ``mlflow.entities.model_registry``: registered models, versions, their tags and aliases.

``RegisteredModel`` and ``ModelVersion`` are the registry's own entities (``tracker.registry``);
their ``tags`` are dicts as in MLflow. The tag and alias classes exist for code that builds or
type-checks them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.entities import _MlflowObject
from tracker.registry.state import ModelVersion, RegisteredModel

__all__ = [
    "ModelVersion",
    "ModelVersionTag",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelTag",
]


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
