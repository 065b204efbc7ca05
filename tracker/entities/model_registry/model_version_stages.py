"""MLflow's ``mlflow.entities.model_registry.model_version_stages``: the four stage names."""

from __future__ import annotations

from typing import Any

from tracker.entities.model_registry import STAGES, canonical_stage

__all__ = [
    "ALL_STAGES",
    "DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS",
    "STAGE_ARCHIVED",
    "STAGE_NONE",
    "STAGE_PRODUCTION",
    "STAGE_STAGING",
    "get_canonical_stage",
]

STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED = STAGES
ALL_STAGES = list(STAGES)
DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS = [STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION]


def get_canonical_stage(stage: Any) -> str:
    """``"staging"`` → ``"Staging"``; anything but the four stages is an error."""
    return canonical_stage(stage)
