"""The registry half of ``TrackerClient``: MLflow's model-registry client methods.

Each method is a thin wrapper around ``tracker.registry.Registry``. Mutating methods take an
optional ``reason=`` (our extension), kept in the model's history with the time and user.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from tracker.registry import ModelVersion, RegisteredModel, Registry, RegistryEvent
    from tracker.store.entities.paged_list import PagedList
    from tracker.store.store import Store


class RegistryClientMixin:
    """Model registry methods shared by ``TrackerClient`` and ``MlflowClient``."""

    store: Store
    _registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        """The model registry of this store."""
        if self._registry is None:
            from tracker.registry import Registry

            self._registry = Registry(self.store)
        return self._registry

    # -- registered models ------------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None,
        *, reason: str | None = None,
    ) -> RegisteredModel:
        return self.registry.create_registered_model(name, tags, description, reason=reason)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry.get_registered_model(name)

    def search_registered_models(
        self, filter_string: str | None = None, max_results: int | None = None,
        order_by: list[str] | None = None, page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching ``filter_string``; ``.token`` asks for the next page."""
        from tracker.store.entities.paged_list import paginate

        found = self.registry.search_registered_models(filter_string, None, order_by)
        return paginate(found, max_results, page_token, "search_registered_models")

    def update_registered_model(
        self, name: str, description: str | None = None, *, reason: str | None = None
    ) -> RegisteredModel:
        return self.registry.update_registered_model(name, description, reason=reason)

    def rename_registered_model(
        self, name: str, new_name: str, *, reason: str | None = None
    ) -> RegisteredModel:
        return self.registry.rename_registered_model(name, new_name, reason=reason)

    def delete_registered_model(self, name: str, *, reason: str | None = None) -> None:
        self.registry.delete_registered_model(name, reason=reason)

    def set_registered_model_tag(
        self, name: str, key: str, value: Any, *, reason: str | None = None
    ) -> None:
        self.registry.set_registered_model_tag(name, key, value, reason=reason)

    def delete_registered_model_tag(self, name: str, key: str, *, reason: str | None = None) -> None:
        self.registry.delete_registered_model_tag(name, key, reason=reason)

    def set_registered_model_alias(
        self, name: str, alias: str, version: Any, *, reason: str | None = None
    ) -> None:
        self.registry.set_registered_model_alias(name, alias, version, reason=reason)

    def delete_registered_model_alias(
        self, name: str, alias: str, *, reason: str | None = None
    ) -> None:
        self.registry.delete_registered_model_alias(name, alias, reason=reason)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.registry.get_model_version_by_alias(name, alias)

    # -- versions ----------------------------------------------------------------------------

    def create_model_version(
        self, name: str, source: str, run_id: str | None = None,
        tags: dict[str, Any] | None = None, run_link: str | None = None,
        description: str | None = None, await_creation_for: int | None = None,
        model_id: str | None = None, *, reason: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` (a ``runs:/`` URI, artifact URI or path) as a new version;
        ``model_id=`` names the MLflow 3 logged model it comes from (``ModelVersion.model_id``)."""
        extra = model_checksums(self, source)
        if model_id is not None:
            from tracker.logged_models import validate_model_id

            extra["model_id"] = validate_model_id(model_id)
        return self.registry.create_model_version(
            name, source, run_id, tags, description, extra=extra, reason=reason
        )

    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        return self.registry.get_model_version(name, version)

    def get_model_version_download_uri(self, name: str, version: Any) -> str:
        return self.registry.get_model_version(name, version).source

    def search_model_versions(
        self, filter_string: str | None = None, max_results: int | None = None,
        order_by: list[str] | None = None, page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Model versions matching ``filter_string``; ``.token`` asks for the next page."""
        from tracker.store.entities.paged_list import paginate

        found = self.registry.search_model_versions(filter_string, None, order_by)
        return paginate(found, max_results, page_token, "search_model_versions")

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        return self.registry.get_latest_versions(name, stages)

    def transition_model_version_stage(
        self, name: str, version: Any, stage: str, archive_existing_versions: bool = False,
        *, reason: str | None = None,
    ) -> ModelVersion:
        return self.registry.transition_model_version_stage(
            name, version, stage, archive_existing_versions, reason=reason
        )

    def update_model_version(
        self, name: str, version: Any, description: str | None = None, *, reason: str | None = None
    ) -> ModelVersion:
        return self.registry.update_model_version(name, version, description, reason=reason)

    def set_model_version_tag(
        self, name: str, version: Any = None, key: str | None = None, value: Any = None,
        stage: str | None = None, *, reason: str | None = None,
    ) -> None:
        number = self._version_or_stage(name, version, stage)
        if key is None:
            raise InvalidArgumentError("set_model_version_tag needs a key.")
        self.registry.set_model_version_tag(name, number, key, value, reason=reason)

    def delete_model_version_tag(
        self, name: str, version: Any = None, key: str | None = None, stage: str | None = None,
        *, reason: str | None = None,
    ) -> None:
        number = self._version_or_stage(name, version, stage)
        if key is None:
            raise InvalidArgumentError("delete_model_version_tag needs a key.")
        self.registry.delete_model_version_tag(name, number, key, reason=reason)

    def delete_model_version(self, name: str, version: Any, *, reason: str | None = None) -> None:
        self.registry.delete_model_version(name, version, reason=reason)

    def _version_or_stage(self, name: str, version: Any, stage: str | None) -> int:
        if (version is None) == (stage is None):
            raise InvalidArgumentError("Give exactly one of version or stage.")
        if version is not None:
            return int(self.registry.get_model_version(name, version).version)
        latest = self.registry.get_latest_versions(name, [stage] if stage else None)
        if not latest:
            raise InvalidArgumentError(f"Model {name!r} has no version in stage {stage!r}.")
        return int(latest[-1].version)

    # -- history -----------------------------------------------------------------------------

    def get_model_history(self, name: str, version: Any | None = None) -> list[RegistryEvent]:
        """Who changed what, when and why: every registry event of a model or version."""
        return self.registry.history(name, version)


def model_checksums(client: Any, source: str) -> dict[str, Any]:
    """What the registry records about the model files at registration time (for lineage)."""
    from tracker.model_uri import resolve

    try:
        resolved = resolve(client, source)
    except Exception:  # noqa: BLE001 - a source we cannot read is still registrable
        return {}
    extra: dict[str, Any] = {"artifact_path": resolved.artifact_path}
    manifest = os.path.join(resolved.local_path, "MLmodel")
    if os.path.isfile(manifest):
        try:
            with open(manifest, encoding="utf-8") as fh:
                info = json.load(fh)
            extra["files"] = info.get("files", {})
            extra["flavors"] = sorted(info.get("flavors", {}))
        except (OSError, ValueError):
            pass
    return extra
