"""The model registry: an append-only event log per registered model, folded into current state.

- ``tracker.registry.state``: the entities (``RegisteredModel``, ``ModelVersion``,
  ``RegistryEvent``), name/alias/stage rules and the fold of events into current state.
  Standard library only.
- ``tracker.registry.events``: the event log's on-disk record (columns and Parquet schema).
- ``tracker.registry.storage``: ``Registry``, which appends events to the store and claims
  version numbers (the layout is described there).
- ``tracker.registry.client``: ``RegistryClientMixin``, the registry half of ``TrackerClient``.

The names below are re-exported for ``from tracker.registry import Registry``, and imported on
first use, so ``import tracker`` loads neither the store's Parquet code nor the registry's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.registry.state import (
        CONFLICT_RESOLVED,
        STAGES,
        ModelVersion,
        RegisteredModel,
        RegistryEvent,
        canonical_stage,
        model_id_for,
        validate_alias,
        validate_model_name,
        version_number,
    )
    from tracker.registry.storage import REGISTRY, Registry

__all__ = [
    "CONFLICT_RESOLVED",
    "REGISTRY",
    "STAGES",
    "ModelVersion",
    "RegisteredModel",
    "Registry",
    "RegistryEvent",
    "canonical_stage",
    "model_id_for",
    "validate_alias",
    "validate_model_name",
    "version_number",
]


def __getattr__(name: str) -> Any:
    # Only for import-time cost: the storage module imports the store (#13), and the state's
    # dataclasses cost a new process ~8 ms that neither logging nor searching runs needs (#16).
    if name in ("REGISTRY", "Registry"):
        from tracker.registry import storage

        return getattr(storage, name)
    if name in __all__:
        from tracker.registry import state

        return getattr(state, name)
    raise AttributeError(f"module 'tracker.registry' has no attribute {name!r}")
