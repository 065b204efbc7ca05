"""MLflow 3 logged models: append-only record files per model, folded into current state.

Layout inside the store (format version 1: old trackers list only ``experiments/``, ``runs/``,
``parts/`` and ``registry/``, so they never see these folders)::

    logged_models/experiment_id=<eid>/model_id=<mid>/seg-<id>.parquet

Each file is one change (creation, a status, tags, params), in the store's record schema
(``tracker.store.schema``) with ``run_id`` null and these kinds:

=============== ============================== ===========================================
kind            key                            value / num
=============== ============================== ===========================================
``model``       ``name``, ``status``,          the attribute's value; the latest ``seq``
                ``status_message``,            wins. ``timestamp`` of the first record is
                ``model_type``,                the creation time, of the latest the last
                ``source_run_id``,             update time. ``lifecycle_stage``
                ``artifact_location``,         ``deleted``: ``delete_logged_model`` (soft:
                ``artifact_path``,             the records stay, readers hide the model)
                ``lifecycle_stage``
``model_param`` param name                     param value (latest wins)
``model_tag``   tag name                       tag value; null deletes the tag
``model_metric`` metric name                   ``num``/``step``/``timestamp`` as a run
                                               metric; ``value`` the link JSON (``run_id``,
                                               ``dataset_name``, ``dataset_digest``)
=============== ============================== ===========================================

The run that logs a model records it as a ``model_output`` record in its own files (key: the
model id, ``num``: the step), which ``Run.outputs.model_outputs`` lists (``get_run``,
``search_runs``: the query layer's ``model_outputs`` table); older readers ignore the kind.
Metrics logged with ``log_metric(..., model_id=)`` stay in their run's files (the run's history
is unchanged): their ``value`` column, unused by run metrics, holds the link JSON
(``{"model_id": …, "dataset_name": …, "dataset_digest": …}``), which the query layer exposes as
the ``model_id``/``dataset_name``/``dataset_digest`` columns of the ``metrics`` view. Only the
metrics linked after the fact or to more than one model (a run's metrics at the model's step,
which ``log_model`` links; ``log_metrics`` values at a step where the run logged several models,
linked to each) are copied here as ``model_metric`` records.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tracker.store.store import Store

LOGGED_MODELS = "logged_models"
KINDS = ("model", "model_param", "model_tag", "model_metric")
ATTRIBUTES = (
    "name", "status", "status_message", "model_type", "source_run_id", "artifact_location",
    "artifact_path", "lifecycle_stage",
)
DELETED = "deleted"
# MLflow 3's rule for logged model names (``name=``): these characters are refused.
NAME_FORBIDDEN = ("/", ":", ".", "%", '"', "'")
# Ids read from folder names and given by users: no separators, no leading dot (store content
# is untrusted, and an id becomes part of a path).
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def new_model_id() -> str:
    """A new logged-model id in MLflow's form: ``m-`` and 32 hex digits."""
    return f"m-{uuid.uuid4().hex}"


def validate_model_id(model_id: Any) -> str:
    """``model_id`` when it is a plausible logged-model id, else ``InvalidArgumentError``."""
    if not isinstance(model_id, str) or not _ID.match(model_id):
        raise InvalidArgumentError(
            f"Invalid logged model id {model_id!r}: expected an id like 'm-' followed by 32 hex "
            "digits, as ModelInfo.model_id and LoggedModel.model_id give it."
        )
    return model_id


def validate_logged_model_name(name: Any, where: str = "logged model") -> str:
    """``name`` when MLflow 3 accepts it as a logged model name, else ``InvalidArgumentError``.

    Args:
        name: the name to check.
        where: the calling function, for the message.
    """
    if not isinstance(name, str) or not name or any(c in name for c in NAME_FORBIDDEN):
        shown = " ".join(NAME_FORBIDDEN)
        raise InvalidArgumentError(
            f"{where}: invalid logged model name {name!r}: a name must be a non-empty string "
            f"without any of the characters {shown} (MLflow 3's rule). Use e.g. 'model' or "
            "'rf-model_v2'; MLflow 2's artifact_path= still takes a path like 'models/rf'."
        )
    return name


def link_json(model_id: str | None, dataset_name: str | None, dataset_digest: str | None,
              run_id: str | None = None) -> str | None:
    """The link a metric record carries in its ``value`` column (None: not linked)."""
    link = {"model_id": model_id, "dataset_name": dataset_name, "dataset_digest": dataset_digest,
            "run_id": run_id}
    kept = {k: v for k, v in link.items() if v is not None}
    return json.dumps(kept, sort_keys=True) if kept else None


def parse_link(value: Any) -> dict[str, str]:
    """The link of a metric record (empty for an unlinked or unreadable one)."""
    if not isinstance(value, str):
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: str(v) for k, v in parsed.items() if isinstance(k, str) and v is not None}


def model_from_path(path: str) -> str | None:
    """The model id of a record file's path (None when the path names none validly)."""
    for part in path.split("/"):
        if part.startswith("model_id="):
            found = part[len("model_id="):]
            return found if _ID.match(found) else None
    return None


def model_dir(experiment_id: str, model_id: str) -> str:
    return f"{LOGGED_MODELS}/experiment_id={experiment_id}/model_id={model_id}"


class LoggedModels:
    """The logged models of one store.

    Args:
        store: the store holding them.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reading -------------------------------------------------------------------------------

    def _ids_under(self, folder: str, prefix: str) -> list[str]:
        names = self.store.fs.list_dir(folder)
        return sorted(
            n[len(prefix):] for n in names if n.startswith(prefix) and _ID.match(n[len(prefix):])
        )

    def experiment_ids(self) -> list[str]:
        """Experiments that hold at least one logged model folder."""
        return self._ids_under(LOGGED_MODELS, "experiment_id=")

    def model_ids(self, experiment_id: str) -> list[str]:
        return self._ids_under(f"{LOGGED_MODELS}/experiment_id={experiment_id}", "model_id=")

    def locate(self, model_id: str) -> str | None:
        """The experiment holding ``model_id`` (None when no folder has it)."""
        validate_model_id(model_id)
        for eid in self.experiment_ids():
            if self.store.fs.list_dir(model_dir(eid, model_id)):
                return eid
        return None

    def state(self, model_id: str, allow_deleted: bool = False) -> dict[str, Any]:
        """The folded state of one model; ``NotFoundError`` when it does not exist (or was
        deleted, unless ``allow_deleted``)."""
        eid = self.locate(model_id)
        if eid is None:
            raise NotFoundError(
                f"Logged model {model_id!r} not found in the store at {self.store.uri}; "
                "mlflow.search_logged_models() lists the logged models."
            )
        found = self._fold(eid, model_id)
        if found is None:
            raise NotFoundError(f"Logged model {model_id!r} has no readable records.")
        if found.get("lifecycle_stage") == DELETED and not allow_deleted:
            raise NotFoundError(
                f"Logged model {model_id!r} not found: it was deleted (delete_logged_model); "
                "mlflow.search_logged_models() lists the logged models."
            )
        return found

    def states(self, experiment_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Folded states of every model in the experiments (all when None)."""
        eids = self.experiment_ids() if experiment_ids is None else list(experiment_ids)
        out = []
        for eid in eids:
            for mid in self.model_ids(eid):
                found = self._fold(eid, mid)
                if found is not None and found.get("lifecycle_stage") != DELETED:
                    out.append(found)
        return out

    def _fold(self, experiment_id: str, model_id: str) -> dict[str, Any] | None:
        rows = self.store.read_folder_records(model_dir(experiment_id, model_id))
        rows = [r for r in rows if r.get("kind") in KINDS]
        if not rows:
            return None
        rows.sort(key=lambda r: (r.get("seq") or 0, r.get("seg") or ""))
        state: dict[str, Any] = {
            "experiment_id": experiment_id, "model_id": model_id, "tags": {}, "params": {},
            "metrics": [],
        }
        # metric copies carry their own (older) times: the model's times are its own records'
        times = [r["timestamp"] for r in rows
                 if r["kind"] != "model_metric" and isinstance(r.get("timestamp"), int)]
        state["creation_timestamp"] = min(times, default=0)
        state["last_updated_timestamp"] = max(times, default=0)
        for row in rows:
            kind, key, value = row["kind"], row.get("key"), row.get("value")
            if not isinstance(key, str):
                continue
            if kind == "model" and key in ATTRIBUTES:
                state[key] = value
            elif kind == "model_param" and value is not None:
                state["params"][key] = value
            elif kind == "model_tag":
                if value is None:
                    state["tags"].pop(key, None)
                else:
                    state["tags"][key] = value
            elif kind == "model_metric" and isinstance(row.get("num"), float):
                link = parse_link(value)
                state["metrics"].append({
                    "key": key, "value": row["num"], "timestamp": row.get("timestamp") or 0,
                    "step": row.get("step") or 0, "model_id": model_id,
                    "dataset_name": link.get("dataset_name"),
                    "dataset_digest": link.get("dataset_digest"), "run_id": link.get("run_id"),
                })
        return state

    # -- writing -------------------------------------------------------------------------------

    def create(
        self,
        experiment_id: str,
        name: str,
        *,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        status: str = "PENDING",
        artifact_location: str | None = None,
    ) -> str:
        """Publish a new model (one file) and return its id."""
        model_id = new_model_id()
        attrs = {"name": name, "status": status, "model_type": model_type,
                 "source_run_id": source_run_id, "artifact_location": artifact_location}
        rows: list[tuple[str, str, str | None]] = [
            ("model", k, v) for k, v in attrs.items() if v is not None
        ]
        rows += [("model_param", k, v) for k, v in sorted((params or {}).items())]
        rows += [("model_tag", k, v) for k, v in sorted((tags or {}).items())]
        self._publish(experiment_id, model_id, rows)
        return model_id

    def update(self, model_id: str, rows: list[tuple[str, str, str | None]]) -> None:
        """Publish (kind, key, value) changes to an existing model as one file."""
        eid = self.locate(model_id)
        if eid is None:
            raise NotFoundError(f"Logged model {model_id!r} not found in the store at "
                                f"{self.store.uri}.")
        self._publish(eid, model_id, rows)

    def delete(self, model_id: str) -> None:
        """Soft-delete a model: one record; its files and records stay, readers hide it."""
        self.state(model_id)  # NotFoundError when missing or already deleted, as in MLflow
        self.update(model_id, [("model", "lifecycle_stage", DELETED)])

    def find_by_artifact_path(
        self, experiment_id: str, run_id: str, path: str
    ) -> str | None:
        """The (newest) live model ``run_id`` logged at artifact path ``path``, if any."""
        found = [s for s in self.states([experiment_id])
                 if s.get("source_run_id") == run_id and s.get("artifact_path") == path]
        found.sort(key=lambda s: s["creation_timestamp"])
        return found[-1]["model_id"] if found else None

    def link_metrics(self, model_id: str, metrics: list[tuple[str, float, int, int, str]]) -> None:
        """Copy (key, value, step, timestamp, link JSON) metrics to the model, as one file."""
        eid = self.locate(model_id)
        if eid is None or not metrics:
            return
        now = time.time_ns()
        records = [("model_metric", key, link, value, step, ts, now + i)
                   for i, (key, value, step, ts, link) in enumerate(metrics)]
        self.store.write_records(model_dir(eid, model_id), eid, None, records)

    def _publish(self, experiment_id: str, model_id: str,
                 rows: list[tuple[str, str, str | None]]) -> None:
        if not rows:
            return
        now_ms = int(time.time() * 1000)
        seq = time.time_ns()
        records = [(kind, key, value, None, None, now_ms, seq + i)
                   for i, (kind, key, value) in enumerate(rows)]
        self.store.write_records(model_dir(experiment_id, model_id), experiment_id, None, records)
