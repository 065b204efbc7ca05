"""The experiment half of ``TrackerClient``: create, find, search, tag, delete and restore.

Experiments are folded from their record files with pyarrow alone (no DuckDB). An experiment's
id is derived from its name (``experiment_id_for``), so two machines that create the same
experiment agree; ``Default`` is ``0``. Ids given by users also resolve as MLflow's numbers
(``tracker.experiment_ids``).
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from tracker.entities import Experiment, LifecycleStage, ViewType
from tracker.exceptions import AlreadyExistsError, InvalidArgumentError
from tracker.validation import validate_experiment_name, validate_key

if TYPE_CHECKING:
    from tracker.store.entities.paged_list import PagedList
    from tracker.store.store import Store

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "ExperimentClientMixin",
    "experiment_id_for",
]

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


def experiment_id_for(name: str, salt: int = 0) -> str:
    """Deterministic id for an experiment name, so two machines creating it agree (git merges)."""
    text = name if salt == 0 else f"{name}\x00{salt}"
    return str(int(hashlib.sha256(text.encode()).hexdigest()[:15], 16))


class ExperimentClientMixin:
    """Experiment methods of ``TrackerClient`` (MLflow's names); it provides ``store``."""

    store: Store
    _experiments: dict[str, Experiment] | None = None
    _experiments_key: tuple[Any, ...] | None = None
    _created_ns: dict[str, int]

    def _experiment_map(self) -> dict[str, Experiment]:
        """Experiments folded from their record files with pyarrow alone (no DuckDB)."""
        files = self.store.list_record_files(("experiments",))
        key = tuple((f.path, f.size) for f in files)
        if key == self._experiments_key and self._experiments is not None:
            return self._experiments
        records: dict[str, list[dict[str, Any]]] = {}
        for eid in {f.folder.split("=", 1)[1] for f in files}:
            from tracker.store.store import experiment_dir

            records[eid] = self.store.read_folder_records(experiment_dir(eid))
        self._experiments = {eid: _fold_experiment(eid, rows) for eid, rows in records.items()}
        # Creation order to the nanosecond (the first record's seq), for MLflow-style numbers.
        self._created_ns = {eid: min(r["seq"] or 0 for r in rows)
                            for eid, rows in records.items() if rows}
        if DEFAULT_EXPERIMENT_ID not in self._experiments:
            # MLflow always has "Default"; it is written to the store when a run first uses it.
            self._experiments[DEFAULT_EXPERIMENT_ID] = Experiment(
                DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME,
                self.store.default_artifact_location(DEFAULT_EXPERIMENT_ID),
            )
        self._experiments_key = key
        return self._experiments

    def _experiment_folders(self, experiment_ids: Any) -> list[str] | None:
        """``experiment_ids`` as they are when each names an experiment folder of the store
        (or is ``Default``'s id), found by listing folders only; None when any needs the
        experiments' records (an MLflow number, an unknown id, a bad value: the caller's
        ``resolve_experiment_ids`` decides). Reading the records cost a new process's first
        search ~15 ms and the import of ``pyarrow.parquet`` (#16)."""
        ids = [experiment_ids] if isinstance(experiment_ids, (str, int)) else experiment_ids
        if not isinstance(ids, (list, tuple)) or not ids or any(
            isinstance(e, bool) or not isinstance(e, (str, int)) for e in ids
        ):
            return None
        texts = [str(e).strip() for e in ids]
        folders = {f.folder.split("=", 1)[1] for f in self.store.list_record_files(("experiments",))}
        folders.add(DEFAULT_EXPERIMENT_ID)
        return texts if all(t in folders for t in texts) else None

    def _write_experiment(self, experiment_id: str, rows: list[tuple[Any, ...]]) -> None:
        from tracker.store.store import experiment_dir

        self.store.write_records(experiment_dir(experiment_id), experiment_id, None, rows)
        self._experiments_key = None

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> str:
        """Create an experiment and return its id; an existing name is an error."""
        validate_experiment_name(name)
        existing = self.get_experiment_by_name(name, include_deleted=True)
        if existing is not None:
            state = " (deleted; restore it or pick another name)" if (
                existing.lifecycle_stage == LifecycleStage.DELETED
            ) else ""
            raise AlreadyExistsError(
                f"Experiment {name!r} already exists with id {existing.experiment_id}{state}."
            )
        if name == DEFAULT_EXPERIMENT_NAME:
            experiment_id = DEFAULT_EXPERIMENT_ID
        else:
            salt = 0
            experiment_id = experiment_id_for(name)
            while (other := self._experiment_map().get(experiment_id)) is not None:
                if other.name == name:  # another process created it a moment ago
                    raise AlreadyExistsError(
                        f"Experiment {name!r} already exists with id {experiment_id}."
                    )
                salt += 1
                experiment_id = experiment_id_for(name, salt)
        return self._create_experiment_with_id(experiment_id, name, artifact_location, tags)

    def _create_experiment_with_id(
        self,
        experiment_id: str,
        name: str,
        artifact_location: str | None,
        tags: dict[str, Any] | None,
    ) -> str:
        if artifact_location is not None:
            if not isinstance(artifact_location, str) or not artifact_location.strip():
                raise InvalidArgumentError(
                    f"artifact_location must be a non-empty path or URI, got {artifact_location!r}."
                )
            from tracker.artifacts import open_location

            location = open_location(artifact_location, check=True).uri()
        else:
            location = self.store.default_artifact_location(experiment_id)
        now = int(time.time() * 1000)
        seq = time.time_ns()
        rows: list[tuple[Any, ...]] = [
            ("experiment", "name", name, None, None, now, seq),
            ("experiment", "artifact_location", location, None, None, now, seq),
            ("experiment", "lifecycle_stage", LifecycleStage.ACTIVE, None, None, now, seq),
        ]
        for key, value in (tags or {}).items():
            validate_key(key, "Tag")
            rows.append(("experiment_tag", key, str(value), None, None, now, seq))
        self._write_experiment(experiment_id, rows)
        return experiment_id

    def _ensure_default_experiment(self) -> None:
        from tracker.store.store import experiment_dir

        if not self.store.list_record_files_in(experiment_dir(DEFAULT_EXPERIMENT_ID)):
            self._create_experiment_with_id(
                DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, None, None
            )

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id (or MLflow number: ``tracker.experiment_ids``)."""
        return self._experiment_map()[self._experiment_ids(experiment_id)[0]]

    def _experiment_ids(self, experiment_ids: Any) -> list[str]:
        from tracker.experiment_ids import resolve_experiment_ids

        found = self._experiment_folders(experiment_ids)
        if found is not None:
            return found
        experiments = self._experiment_map()
        return resolve_experiment_ids(experiments, experiment_ids, self.store.uri, self._created_ns)

    def get_experiment_by_name(self, name: str, include_deleted: bool = False) -> Experiment | None:
        """The experiment called ``name``, or None (deleted ones only with ``include_deleted``)."""
        validate_experiment_name(name)
        matches = [e for e in self._experiment_map().values() if e.name == name]
        matches.sort(key=lambda e: (e.lifecycle_stage != LifecycleStage.ACTIVE, e.experiment_id))
        for exp in matches:
            if include_deleted or exp.lifecycle_stage == LifecycleStage.ACTIVE:
                return exp
        return None

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments, filtered by view type and an optional ``name``/``tags.`` filter."""
        view = ViewType.from_any(view_type)
        exps = [
            e
            for e in self._experiment_map().values()
            if view == ViewType.ALL
            or (view == ViewType.ACTIVE_ONLY) == (e.lifecycle_stage == LifecycleStage.ACTIVE)
        ]
        if filter_string:
            from tracker.query.experiment_filter import matches_experiment

            exps = [e for e in exps if matches_experiment(filter_string, e)]
        exps.sort(key=lambda e: (-(e.creation_time or 0), e.experiment_id))
        if order_by:
            from tracker.query.experiment_filter import sort_experiments

            exps = sort_experiments(exps, order_by)
        from tracker.store.entities.paged_list import paginate

        return paginate(exps, max_results, page_token, "search_experiments")

    def _set_experiment_attr(self, experiment_id: str, key: str, value: str) -> None:
        experiment_id = self.get_experiment(experiment_id).experiment_id
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            self._ensure_default_experiment()
        now = int(time.time() * 1000)
        self._write_experiment(
            str(experiment_id), [("experiment", key, value, None, None, now, time.time_ns())]
        )

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment (its runs stay; restore_experiment undoes it)."""
        self._set_experiment_attr(experiment_id, "lifecycle_stage", LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_attr(experiment_id, "lifecycle_stage", LifecycleStage.ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        validate_experiment_name(new_name)
        other = self.get_experiment_by_name(new_name, include_deleted=True)
        if other is not None and other.experiment_id != str(experiment_id):
            raise AlreadyExistsError(f"Experiment {new_name!r} already exists.")
        self._set_experiment_attr(experiment_id, "name", new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        validate_key(key, "Tag")
        experiment_id = self.get_experiment(experiment_id).experiment_id
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            self._ensure_default_experiment()
        now = int(time.time() * 1000)
        self._write_experiment(
            str(experiment_id),
            [("experiment_tag", key, str(value), None, None, now, time.time_ns())],
        )


def _fold_experiment(experiment_id: str, rows: list[dict[str, Any]]) -> Experiment:
    rows = sorted(rows, key=lambda r: r["seq"] or 0)
    attrs: dict[str, Any] = {}
    first: dict[str, Any] = {}
    tags: dict[str, str | None] = {}
    times = [r["timestamp"] for r in rows if r["timestamp"] is not None]
    for r in rows:
        if r["kind"] == "experiment":
            attrs[r["key"]] = r["value"]
            first.setdefault(r["key"], r["value"])
        elif r["kind"] == "experiment_tag":
            tags[r["key"]] = r["value"]
    return Experiment(
        experiment_id=experiment_id,
        name=attrs.get("name") or "",
        artifact_location=first.get("artifact_location") or "",
        lifecycle_stage=attrs.get("lifecycle_stage") or LifecycleStage.ACTIVE,
        tags={k: v for k, v in tags.items() if v is not None},
        creation_time=min(times) if times else None,
        last_update_time=max(times) if times else None,
    )
