"""The model registry: an append-only event log per registered model, folded into current state.

Layout inside the store::

    registry/model_id=<mid>/seg-<id>.parquet          one file per change (one or more events)
    registry/model_id=<mid>/part-<id>.parquet         compacted events (footer lists what it covers)
    registry/model_id=<mid>/versions/v-<00000001>.json   version claims, created if absent

A version number is claimed by creating its claim file exclusively, so concurrent registrations
never share a number, and a number is never reused (claims are never deleted). Every event
records when, who and an optional free-text reason; the state of a model (name, description,
tags, aliases, versions with stage, description and tags) is the fold of its events in time order.

Claims are atomic within one store, not across git clones: two branches can both claim a
number. ``tracker doctor --fix`` (``tracker.ops.conflicts``) then keeps it for one registration
with a ``version_conflict_resolved`` event and registers the other again under a new number.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from tracker import context
from tracker.exceptions import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    StoreError,
)
from tracker.registry.events import _event_schema
from tracker.registry.state import (
    CONFLICT_RESOLVED,
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    _Model,
    _Version,
    canonical_stage,
    model_id_for,
    validate_alias,
    validate_model_name,
    version_number,
)
from tracker.store.store import new_seg_id, read_table
from tracker.validation import validate_key

__all__ = ["REGISTRY", "FoldedModel", "Registry"]

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tracker.store.store import Store, StoreFile

REGISTRY = "registry"
COMPACT_AFTER_FILES = 64

log = logging.getLogger("tracker.registry")


class FoldedModel(NamedTuple):
    """One model as ``Registry.every_model`` returns it: deleted ones and their versions too."""

    model: RegisteredModel
    deleted: bool
    # every version, oldest first, with whether it is deleted (itself or its model)
    versions: list[tuple[ModelVersion, bool]]

# -- the registry object ---------------------------------------------------------------------


class Registry:
    """Registered models and versions of one store.

    Args:
        store: the store holding the registry.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[tuple[Any, ...], _Model]] = {}
        self._lock = threading.RLock()

    # -- reading -----------------------------------------------------------------------------

    def _model_ids(self) -> list[str]:
        return sorted(
            n.split("=", 1)[1] for n in self.store.fs.list_dir(REGISTRY) if n.startswith("model_id=")
        )

    def _load(self, model_id: str) -> _Model:
        folder = f"{REGISTRY}/model_id={model_id}"
        for _attempt in range(5):
            files = self.store.list_record_files_in(folder)
            key = tuple((f.path, f.size) for f in files)
            with self._lock:
                cached = self._cache.get(model_id)
                if cached is not None and cached[0] == key:
                    return cached[1]
            try:
                rows = self._read(files)
                break
            except FileNotFoundError:
                continue  # compacted between listing and reading: its part holds the rows
        else:
            raise StoreError(f"The registry folder {folder} kept changing while being read.")
        rows.sort(key=lambda r: (r["seq"], r["seg"], r["event"] != "version_created"))
        model = _Model(model_id, kept={
            r["version"]: r["key"] for r in rows if r["event"] == CONFLICT_RESOLVED
        })
        for row in rows:
            model.apply(row)
        with self._lock:
            self._cache[model_id] = (key, model)
        return model

    def _read(self, files: list[StoreFile]) -> list[dict[str, Any]]:
        from tracker.exceptions import CorruptFileError

        plan = self.store.plan(files)
        rows: list[dict[str, Any]] = []
        for path in plan.files:
            try:
                table = read_table(self.store.fs, path)
            except CorruptFileError as exc:
                self.store.mark_bad(path, next(f.size for f in files if f.path == path), str(exc))
                continue
            excluded = plan.exclude.get(path, frozenset())
            rows.extend(r for r in table.to_pylist() if r["seg"] not in excluded)
        return rows

    def _all(self, include_deleted: bool = False) -> list[_Model]:
        models = [self._load(mid) for mid in self._model_ids()]
        return [m for m in models if m.name and (include_deleted or not m.deleted)]

    def _find(self, name: str) -> _Model:
        for model in self._all():  # first: a name read from the store is found as it is (#15)
            if model.name == name:
                return model
        validate_model_name(name)
        names = sorted(m.name for m in self._all())
        raise NotFoundError(
            f"Registered model {name!r} not found; registered models: "
            f"{', '.join(repr(n) for n in names) if names else 'none yet'}."
        )

    def _version(self, name: str, version: Any) -> tuple[_Model, _Version]:
        model = self._find(name)
        number = version_number(version)
        mv = model.versions.get(number)
        if mv is None or mv.deleted:
            existing = [v.number for v in model.live_versions()]
            raise NotFoundError(
                f"Model {name!r} has no version {number}; versions: "
                f"{', '.join(map(str, existing)) if existing else 'none'}."
            )
        return model, mv

    # -- writing -----------------------------------------------------------------------------

    def _write(self, model_id: str, events: list[tuple[Any, ...]], reason: str | None) -> None:
        """Publish events (event, version, key, value) for one model as one file (atomic)."""
        now = int(time.time() * 1000)
        user = context.current_user()
        self._publish(model_id, [(*e, user, now) for e in events], reason)

    def _publish(self, model_id: str, events: Sequence[tuple[Any, ...]], reason: str | None) -> None:
        """Publish (event, version, key, value, user, timestamp) events as one file (atomic)."""
        import pyarrow as pa

        from tracker.store.store import encode_table

        if reason is not None and not isinstance(reason, str):
            raise InvalidArgumentError(f"reason must be a string, got {reason!r}.")
        self.store.ensure_initialized()
        seg = new_seg_id()
        seq = time.time_ns()
        n = len(events)
        columns = {
            "model_id": [model_id] * n,
            "seg": [seg] * n,
            "event": [e[0] for e in events],
            "version": [e[1] for e in events],
            "key": [e[2] for e in events],
            "value": [e[3] for e in events],
            "user": [e[4] for e in events],
            "reason": [reason] * n,
            "timestamp": [e[5] for e in events],
            "seq": [seq + i for i in range(n)],
        }
        table = pa.table(columns, schema=_event_schema())
        folder = f"{REGISTRY}/model_id={model_id}"
        self.store.fs.write_atomic(f"{folder}/seg-{seg}.parquet", encode_table(table, None, small=True))
        if len(self.store.list_record_files_in(folder)) > COMPACT_AFTER_FILES:
            self.compact_model(model_id)

    def append_events(
        self,
        name: str,
        events: Sequence[tuple[Any, ...]],
        *,
        claims: dict[int, dict[str, Any]] | None = None,
        reason: str | None = None,
    ) -> None:
        """Append events that carry their own user and time, e.g. another registry's history.

        Args:
            name: the registered model; a new one needs a ``model_created`` event in ``events``.
            events: (event, version, key, value, user, timestamp) tuples, in the order they happened.
            claims: version numbers to claim exactly, with their registration records. A number
                claimed with another record is an ``AlreadyExistsError``; one claimed with the
                same record (an interrupted earlier call) is taken as this call's.
            reason: kept with every event (e.g. where they were imported from).
        """
        validate_model_name(name)
        existing = sorted((m for m in self._all(include_deleted=True) if m.name == name),
                          key=lambda m: m.deleted)
        model_id = existing[0].model_id if existing else self._free_model_id(name)
        folder = f"{REGISTRY}/model_id={model_id}/versions"
        for number, body in sorted((claims or {}).items()):
            data = json.dumps({"name": name, **body}, sort_keys=True).encode()
            path = f"{folder}/v-{version_number(number):08d}.json"
            if not self.store.fs.create_exclusive(path, data) and (
                json.loads(self.store.fs.read_bytes(path)) != json.loads(data)
            ):
                raise AlreadyExistsError(
                    f"Version {number} of model {name!r} already exists in the store at "
                    f"{self.store.uri} with another source; it was not overwritten."
                )
        if events:
            self._publish(model_id, events, reason)

    def _free_model_id(self, name: str) -> str:
        """An id for a new model: a deleted or renamed model keeps its id and its versions."""
        taken = set(self._model_ids())
        salt = 0
        model_id = model_id_for(name)
        while model_id in taken:
            existing = self._load(model_id)
            if existing.name == name and not existing.deleted:
                # Another process created it since the caller looked: one model, not two.
                raise AlreadyExistsError(f"Registered model {name!r} already exists.")
            salt += 1
            model_id = model_id_for(name, salt)
        return model_id

    def compact_model(self, model_id: str) -> None:
        """Merge a model's event files into one part (safe under concurrent readers/writers)."""
        import pyarrow as pa

        from tracker.store.store import encode_table

        folder = f"{REGISTRY}/model_id={model_id}"
        files = self.store.list_record_files_in(folder)
        rows = self._read(files)
        covers: set[str] = set()
        for f in files:
            covers.add(f.file_id)
            if f.level > 0:
                covers |= self.store.covers(f)
        table = pa.Table.from_pylist(rows, schema=_event_schema())
        self.store.fs.write_atomic(f"{folder}/part-{new_seg_id()}.parquet", encode_table(table, covers))
        for f in files:
            self.store.fs.delete(f.path)

    def _claim_version(self, model_id: str, body: dict[str, Any]) -> int:
        folder = f"{REGISTRY}/model_id={model_id}/versions"
        taken = [int(n[2:10]) for n in self.store.fs.list_dir(folder) if n.startswith("v-")]
        number = max(taken, default=0) + 1
        data = json.dumps(body, sort_keys=True).encode()
        while not self.store.fs.create_exclusive(f"{folder}/v-{number:08d}.json", data):
            number += 1
        return number

    def model_ids(self) -> list[str]:
        """Ids of every model folder, deleted models included."""
        return self._model_ids()

    def every_model(self) -> list[FoldedModel]:
        """Every model, deleted ones too, with every version, deleted ones too (#14).

        What the query layer's ``model_versions`` and ``registered_models`` tables hold: the
        entities ``get_registered_model`` and ``search_model_versions`` return, each with whether
        it is deleted (a version is deleted when it or its model is). A model folder whose
        events do not fold (a damaged or hostile store) is left out with a warning naming it.
        """
        found: list[FoldedModel] = []
        for model_id in self._model_ids():
            try:
                model = self._load(model_id)
                if not model.name:
                    continue  # events without a model_created: nothing to show, as in _all
                versions = [(model.version_entity(mv), model.deleted or mv.deleted)
                            for _, mv in sorted(model.versions.items())]
                found.append(FoldedModel(model.entity(), model.deleted, versions))
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                message = (f"Skipping the registry folder {REGISTRY}/model_id={model_id} of the "
                           f"store at {self.store.uri}: its events do not fold "
                           f"({type(exc).__name__}: {exc}).")
                if message not in self.store.warnings:
                    self.store.warnings.append(message)
                    log.warning("%s", message)
        return found

    def events(self, model_id: str) -> list[dict[str, Any]]:
        """The raw events of one model, oldest first (what the fold reads)."""
        folder = f"{REGISTRY}/model_id={model_id}"
        rows = self._read(self.store.list_record_files_in(folder))
        rows.sort(key=lambda r: (r["seq"], r["seg"], r["event"] != "version_created"))
        return rows

    def renumber_version(
        self, model_id: str, number: int, kept_seg: str, moved: dict[str, Any]
    ) -> int:
        """Keep one registration of a doubly claimed ``number``; register ``moved`` anew.

        Args:
            model_id: the model's id.
            number: the version number two registrations claim (after a git merge).
            kept_seg: ``seg`` of the registration event that keeps ``number``.
            moved: the other ``version_created`` event; it gets the next free number.
        """
        model = self._load(model_id)
        body = {**json.loads(moved["value"] or "{}"), "renumbered_from": number}
        new_number = self._claim_version(model_id, {"name": model.name, **body})
        resolved = json.dumps({"moved_seg": moved["seg"], "moved_to": new_number})
        self._write(model_id, [
            ("version_created", new_number, None, json.dumps(body)),
            (CONFLICT_RESOLVED, number, kept_seg, resolved),
        ], f"version {number} was registered on two branches merged in git; this "
           f"registration moved to version {new_number}")
        return new_number

    # -- models --------------------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        *,
        reason: str | None = None,
    ) -> RegisteredModel:
        validate_model_name(name)
        if any(m.name == name for m in self._all()):
            raise AlreadyExistsError(f"Registered model {name!r} already exists.")
        model_id = self._free_model_id(name)
        events: list[tuple[Any, ...]] = [("model_created", None, None, name)]
        if description:
            events.append(("model_description", None, None, str(description)))
        for key, value in (tags or {}).items():
            validate_key(key, "Tag")
            events.append(("model_tag", None, key, str(value)))
        self._write(model_id, events, reason)
        return self._load(model_id).entity()

    def _ensure_model(self, name: str) -> _Model:
        try:
            return self._find(name)
        except NotFoundError:
            pass
        try:
            self.create_registered_model(name)
        except AlreadyExistsError:
            pass  # created by a concurrent registration: use that one
        return self._find(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._find(name).entity()

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
    ) -> list[RegisteredModel]:
        from tracker.simple_filter import compile_simple

        check = compile_simple(filter_string, {"name": "str"}, "registered model")
        models = [m.entity() for m in self._all()]
        found = [m for m in models if check({"name": m.name, "tags": m.tags})]
        found = _order(found, order_by, {"name", "creation_timestamp", "last_updated_timestamp"})
        return found[:max_results] if max_results is not None else found

    def update_registered_model(
        self, name: str, description: str | None = None, *, reason: str | None = None
    ) -> RegisteredModel:
        model = self._find(name)
        self._write(model.model_id, [("model_description", None, None, description or "")], reason)
        return self._load(model.model_id).entity()

    def rename_registered_model(
        self, name: str, new_name: str, *, reason: str | None = None
    ) -> RegisteredModel:
        model = self._find(name)
        validate_model_name(new_name)
        if any(m.name == new_name for m in self._all()):
            raise AlreadyExistsError(f"Registered model {new_name!r} already exists.")
        self._write(model.model_id, [("model_renamed", None, None, new_name)], reason)
        return self._load(model.model_id).entity()

    def delete_registered_model(self, name: str, *, reason: str | None = None) -> None:
        model = self._find(name)
        self._write(model.model_id, [("model_deleted", None, None, None)], reason)

    def set_registered_model_tag(
        self, name: str, key: str, value: Any, *, reason: str | None = None
    ) -> None:
        validate_key(key, "Tag")
        model = self._find(name)
        self._write(model.model_id, [("model_tag", None, key, str(value))], reason)

    def delete_registered_model_tag(self, name: str, key: str, *, reason: str | None = None) -> None:
        model = self._find(name)
        if key not in model.tags:
            raise NotFoundError(f"Registered model {name!r} has no tag {key!r}.")
        self._write(model.model_id, [("model_tag", None, key, None)], reason)

    # -- versions ------------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the next version of ``name`` (the model is created if new)."""
        if not isinstance(source, str) or not source:
            raise InvalidArgumentError(f"Model source must be a URI or path, got {source!r}.")
        model = self._ensure_model(name)
        for key in tags or {}:
            validate_key(key, "Tag")
        body = {
            "source": source,
            "run_id": run_id,
            "tags": {k: str(v) for k, v in (tags or {}).items()},
            "description": description or "",
            **(extra or {}),
        }
        number = self._claim_version(model.model_id, {"name": name, **body})
        self._write(model.model_id, [("version_created", number, None, json.dumps(body))], reason)
        _, mv = self._version(name, number)
        return self._load(model.model_id).version_entity(mv)

    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        model, mv = self._version(name, version)
        return model.version_entity(mv)

    def version_info(self, name: str, version: Any) -> dict[str, Any]:
        """The registration record of a version (source, run, checksums recorded at the time)."""
        _, mv = self._version(name, version)
        return dict(mv.info)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
    ) -> list[ModelVersion]:
        from tracker.simple_filter import compile_simple

        fields = {"name": "str", "run_id": "str", "source": "str", "source_path": "str",
                  "version_number": "num", "current_stage": "str", "user_id": "str"}
        check = compile_simple(filter_string, fields, "model version")
        found = []
        for model in self._all():
            for mv in model.live_versions():
                entity = model.version_entity(mv)
                record = {"name": model.name, "run_id": mv.run_id, "source": mv.source,
                          "source_path": mv.source, "version_number": mv.number,
                          "current_stage": mv.stage, "user_id": mv.user, "tags": mv.tags}
                if check(record):
                    found.append(entity)
        found.sort(key=lambda v: (v.name, -v.version))
        found = _order(found, order_by, {"name", "version", "creation_timestamp",
                                          "last_updated_timestamp"})
        return found[:max_results] if max_results is not None else found

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The highest version in each stage (all stages when ``stages`` is None)."""
        model = self._find(name)
        wanted = [canonical_stage(s) for s in stages] if stages else None
        latest: dict[str, _Version] = {}
        for mv in model.live_versions():
            if wanted is None or mv.stage in wanted:
                latest[mv.stage] = mv
        return [model.version_entity(v) for v in sorted(latest.values(), key=lambda v: v.number)]

    def transition_model_version_stage(
        self,
        name: str,
        version: Any,
        stage: str,
        archive_existing_versions: bool = False,
        *,
        reason: str | None = None,
    ) -> ModelVersion:
        stage = canonical_stage(stage)
        if archive_existing_versions and stage not in ("Staging", "Production"):
            raise InvalidArgumentError(
                "archive_existing_versions=True is only allowed for the Staging and Production "
                f"stages, not {stage!r}."
            )
        model, mv = self._version(name, version)
        key = "archive_existing" if archive_existing_versions else None
        self._write(model.model_id, [("version_stage", mv.number, key, stage)], reason)
        return self.get_model_version(name, mv.number)

    def update_model_version(
        self, name: str, version: Any, description: str | None = None, *, reason: str | None = None
    ) -> ModelVersion:
        model, mv = self._version(name, version)
        self._write(model.model_id, [("version_description", mv.number, None, description or "")],
                    reason)
        return self.get_model_version(name, mv.number)

    def set_model_version_tag(
        self, name: str, version: Any, key: str, value: Any, *, reason: str | None = None
    ) -> None:
        validate_key(key, "Tag")
        model, mv = self._version(name, version)
        self._write(model.model_id, [("version_tag", mv.number, key, str(value))], reason)

    def delete_model_version_tag(
        self, name: str, version: Any, key: str, *, reason: str | None = None
    ) -> None:
        model, mv = self._version(name, version)
        if key not in mv.tags:
            raise NotFoundError(f"Version {mv.number} of {name!r} has no tag {key!r}.")
        self._write(model.model_id, [("version_tag", mv.number, key, None)], reason)

    def delete_model_version(self, name: str, version: Any, *, reason: str | None = None) -> None:
        model, mv = self._version(name, version)
        self._write(model.model_id, [("version_deleted", mv.number, None, None)], reason)

    # -- aliases ---------------------------------------------------------------------------------

    def set_registered_model_alias(
        self, name: str, alias: str, version: Any, *, reason: str | None = None
    ) -> None:
        validate_alias(alias)
        model, mv = self._version(name, version)
        self._write(model.model_id, [("alias_set", mv.number, alias, None)], reason)

    def delete_registered_model_alias(self, name: str, alias: str, *, reason: str | None = None) -> None:
        model = self._find(name)
        if alias not in model.aliases:
            raise NotFoundError(
                f"Model {name!r} has no alias {alias!r}; aliases: {sorted(model.aliases) or 'none'}."
            )
        self._write(model.model_id, [("alias_deleted", None, alias, None)], reason)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        model = self._find(name)
        number = model.aliases.get(alias)
        if number is None:
            raise NotFoundError(
                f"Model {name!r} has no alias {alias!r}; aliases: "
                f"{', '.join(sorted(model.aliases)) if model.aliases else 'none'}."
            )
        return self.get_model_version(name, number)

    # -- history ---------------------------------------------------------------------------------

    def history(self, name: str, version: Any | None = None) -> list[RegistryEvent]:
        """Every change of a model (or of one of its versions), oldest first."""
        model = self._find(name)
        if version is None:
            return list(model.history)
        number = version_number(version)
        return [e for e in model.history if e.version == number]


def _order(items: list[Any], order_by: list[str] | None, allowed: set[str]) -> list[Any]:
    from tracker.exceptions import FilterSyntaxError

    out = list(items)
    for item in reversed(order_by or []):
        parts = item.split()
        field_name = parts[0]
        if field_name not in allowed or len(parts) > 2 or (
            len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")
        ):
            raise FilterSyntaxError(
                f"Invalid order_by {item!r}: use one of {', '.join(sorted(allowed))}, "
                "optionally followed by ASC or DESC."
            )
        desc = len(parts) == 2 and parts[1].upper() == "DESC"
        out.sort(key=lambda x: getattr(x, field_name), reverse=desc)
    return out
