"""The registry half of an MLflow import: models, versions, stages, aliases, as events.

Every change is one registry event carrying MLflow's time and user (MLflow records no user for
model-level changes: those events have an empty user) and the reason ``imported from MLflow
<uri>``. Version numbers are claimed exactly, so they stay MLflow's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tracker.exceptions import AlreadyExistsError, NotFoundError
from tracker.importers.mlflow_source import local_path

if TYPE_CHECKING:
    from tracker.importers.mlflow import ImportSummary
    from tracker.importers.mlflow_source import MlflowModel, MlflowVersion
    from tracker.registry import RegisteredModel, Registry


class RegistryImporter:
    """Writes what an MLflow registry holds and the store's registry lacks.

    Args:
        registry: the tracker store's registry.
        summary: counts and warnings to add to.
        run_roots: MLflow's artifact folder per run id, to turn version sources into runs:/ URIs.
    """

    def __init__(
        self, registry: Registry, summary: ImportSummary, run_roots: dict[str, str]
    ) -> None:
        self.registry = registry
        self.summary = summary
        self.run_roots = run_roots

    def models(self, models: list[MlflowModel], run_ids: set[str] | None) -> None:
        """Import ``models`` (only the versions of ``run_ids`` when given)."""
        for model in models:
            versions = [v for v in model.versions if run_ids is None or v.run_id in run_ids]
            if run_ids is not None and not versions:
                continue
            try:
                self._model(model, versions)
            except AlreadyExistsError as exc:
                self.summary.warnings.append(f"Model {model.name!r} not imported: {exc}")

    def _model(self, model: MlflowModel, versions: list[MlflowVersion]) -> None:
        registry = self.registry
        try:
            current: RegisteredModel | None = registry.get_registered_model(model.name)
        except NotFoundError:
            current = None
        events: list[tuple[Any, ...]] = []
        when = model.last_updated_time
        if current is None:
            events.append(("model_created", None, None, model.name, "", model.creation_time))
            self.summary.models += 1
        if model.description != (current.description if current else ""):
            events.append(("model_description", None, None, model.description, "", when))
        old_tags = current.tags if current else {}
        events += [
            ("model_tag", None, k, v, "", when)
            for k, v in sorted(model.tags.items())
            if old_tags.get(k) != v
        ]
        claims: dict[int, dict[str, Any]] = {}
        numbers = set()
        for version in versions:
            events += self._version(model.name, version, current is not None, claims)
            numbers.add(version.version)
        old_aliases = current.aliases if current else {}
        events += [
            ("alias_set", n, alias, None, "", when)
            for alias, n in model.aliases.items()
            if n in numbers and old_aliases.get(alias) != n
        ]
        self.summary.versions += len(claims)
        self.summary.registry_events += len(events)
        if events and not self.summary.dry_run:
            registry.append_events(
                model.name,
                events,
                claims=claims,
                reason=f"imported from MLflow {self.summary.source}",
            )

    def _version(
        self, name: str, v: MlflowVersion, model_exists: bool, claims: dict[int, dict[str, Any]]
    ) -> list[tuple[Any, ...]]:
        """Events that bring version ``v`` into the store; new numbers go into ``claims``."""
        old = None
        if model_exists:
            try:
                old = self.registry.get_model_version(name, v.version)
            except NotFoundError:
                old = None
        if old is not None and old.run_id != v.run_id:
            self.summary.warnings.append(
                f"Version {v.version} of model {name!r} is already in the store from run "
                f"{old.run_id}, not MLflow's run {v.run_id}; it was left as it is."
            )
            return []
        events: list[tuple[Any, ...]] = []
        when, user = v.last_updated_time, v.user_id
        if old is None:
            body = {
                "source": self._version_source(v),
                "run_id": v.run_id,
                "tags": dict(v.tags),
                "description": v.description,
                "status": v.status,
                "status_message": v.status_message,
                "mlflow_source": v.source,
            }
            claims[v.version] = body
            events.append(
                ("version_created", v.version, None, json.dumps(body), user, v.creation_time)
            )
        if v.stage != (old.current_stage if old else "None"):
            events.append(("version_stage", v.version, None, v.stage, user, when))
        if old is not None and v.description != old.description:
            events.append(("version_description", v.version, None, v.description, user, when))
        if old is not None:
            events += [
                ("version_tag", v.version, k, val, user, when)
                for k, val in sorted(v.tags.items())
                if old.tags.get(k) != val
            ]
        return events

    def _version_source(self, v: MlflowVersion) -> str:
        """``runs:/<run>/<path>`` when the source lies in an imported run's artifacts."""
        root = self.run_roots.get(v.run_id or "")
        path = local_path(v.source) if v.source else None
        if root and path and (path + "/").startswith(root.rstrip("/") + "/"):
            rel = path[len(root.rstrip("/")) :].strip("/")
            return f"runs:/{v.run_id}/{rel}" if rel else f"runs:/{v.run_id}"
        return v.source
