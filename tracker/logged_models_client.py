"""The logged-model half of ``TrackerClient``: MLflow 3's ``MlflowClient`` logged-model methods.

Each method is a thin wrapper around ``tracker.logged_models.LoggedModels`` (the records) and the
query layer (the metrics linked to a model, which live in their runs' files).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracker.entities import Metric
from tracker.entities.logged_model import LoggedModel, LoggedModelStatus
from tracker.exceptions import InvalidArgumentError
from tracker.logged_models import validate_logged_model_name, validate_model_id

if TYPE_CHECKING:
    from tracker.logged_models import LoggedModels
    from tracker.query import StoreQuery
    from tracker.store.entities.paged_list import PagedList
    from tracker.store.store import Store

# search_logged_models' attributes: MLflow's names (creation_time is creation_timestamp).
SEARCH_FIELDS = {
    "name": "str", "model_id": "str", "status": "str", "source_run_id": "str",
    "model_type": "str", "experiment_id": "str", "artifact_location": "str",
    "creation_time": "num", "creation_timestamp": "num", "last_updated_timestamp": "num",
    "last_updated_time": "num",
}
SEARCH_PREFIXES = {"tags": "str", "params": "str", "metrics": "num"}


class LoggedModelClientMixin:
    """Logged-model methods shared by ``TrackerClient`` and ``MlflowClient``."""

    store: Store
    _logged_models: LoggedModels | None = None

    if TYPE_CHECKING:
        @property
        def query(self) -> StoreQuery: ...

    @property
    def logged_models(self) -> LoggedModels:
        """The logged models of this store."""
        if self._logged_models is None:
            from tracker.logged_models import LoggedModels

            self._logged_models = LoggedModels(self.store)
        return self._logged_models

    def create_logged_model(
        self, experiment_id: str, name: str | None = None, source_run_id: str | None = None,
        tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """Create a logged model (status PENDING) in ``experiment_id``.

        Args:
            experiment_id: the experiment it belongs to.
            name: its name (a random one when None, as in MLflow).
            source_run_id: the run that produced it.
            tags: its tags.
            params: its params.
            model_type: free-form type.

        Raises:
            InvalidArgumentError: ``name`` is empty or holds one of ``/ : . % " '`` (MLflow 3).
        """
        if name is not None:
            validate_logged_model_name(name, "create_logged_model")
        return self._create_logged_model(experiment_id, name, source_run_id, tags, params,
                                         model_type)

    def _create_logged_model(
        self, experiment_id: str, name: str | None, source_run_id: str | None,
        tags: dict[str, Any] | None, params: dict[str, Any] | None, model_type: str | None,
    ) -> LoggedModel:
        """``create_logged_model`` without the name rule: ``log_model(artifact_path=…)`` names
        its model after the path (MLflow 2's rule, checked by the caller)."""
        from tracker.run_names import random_run_name

        if not isinstance(experiment_id, str) or not experiment_id:
            raise InvalidArgumentError(
                f"create_logged_model needs an experiment id, got {experiment_id!r}."
            )
        model_id = self.logged_models.create(
            experiment_id, name or random_run_name(), source_run_id=source_run_id,
            model_type=model_type, params=_strings(params, "params"),
            tags=_strings(tags, "tags"),
        )
        # a new id has no linked metrics yet: no query (log_model stays off DuckDB)
        return self._entities([self.logged_models.state(model_id)], with_metrics=False)[0]

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        """The logged model ``model_id`` with its params, tags and linked metrics."""
        state = self.logged_models.state(validate_model_id(model_id), allow_deleted)
        return self._entities([state])[0]

    def delete_logged_model(self, model_id: str) -> None:
        """Delete a logged model (soft, as in MLflow): ``get_logged_model`` then raises
        ``NotFoundError`` (``allow_deleted=True`` still reads it) and ``search_logged_models``
        leaves it out. Its files and records stay; the deletion is one more record."""
        self.logged_models.delete(validate_model_id(model_id))

    def search_logged_models(
        self, experiment_ids: list[str], filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None, max_results: int | None = None,
        order_by: list[Any] | None = None, page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """Logged models of ``experiment_ids`` matching ``filter_string``, newest first.

        Args:
            experiment_ids: experiments to search.
            filter_string: MLflow's logged-model filter: ``name``, ``model_id``, ``status``,
                ``source_run_id``, ``model_type``, ``creation_time``,
                ``last_updated_timestamp``, ``metrics.<key>``, ``params.<key>``, ``tags.<key>``
                with ``= != < <= > >= LIKE ILIKE IN NOT IN``, joined by AND.
            datasets: ``[{"dataset_name": …, "dataset_digest": …}]``: metric filters consider
                only metrics linked to these datasets.
            max_results: page size.
            order_by: ``[{"field_name": "metrics.acc", "ascending": False, "dataset_name": …}]``
                (strings like ``"name DESC"`` are accepted too).
            page_token: the ``token`` of the previous page.
        """
        from tracker.simple_filter import compile_simple
        from tracker.store.entities.paged_list import paginate

        if isinstance(experiment_ids, str) or not isinstance(experiment_ids, (list, tuple)):
            raise InvalidArgumentError(
                f"experiment_ids must be a list of experiment ids, got {experiment_ids!r}."
            )
        wanted = _dataset_filter(datasets)
        match = compile_simple(filter_string, SEARCH_FIELDS, "logged model", SEARCH_PREFIXES)
        models = self._entities(self.logged_models.states([str(e) for e in experiment_ids]))
        keys = _order_keys(order_by)
        found = [m for m in models if match(_search_record(m, wanted))]
        found.sort(key=lambda m: m.model_id)
        found.sort(key=lambda m: m.creation_timestamp, reverse=True)
        for key, ascending, only in reversed(keys):
            values = {m.model_id: _order_value(m, key, only) for m in found}
            present = [m for m in found if values[m.model_id] is not None]
            missing = [m for m in found if values[m.model_id] is None]
            present.sort(key=lambda m: values[m.model_id], reverse=not ascending)
            found = present + missing  # models without the value go last, as in MLflow
        return paginate(found, max_results, page_token, "search_logged_models")

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        """Set tags on a logged model (one file)."""
        pairs = _strings(tags, "tags")
        self.logged_models.update(validate_model_id(model_id),
                                  [("model_tag", k, v) for k, v in sorted(pairs.items())])

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Delete one tag of a logged model; ``NotFoundError`` when it has no such tag."""
        from tracker.exceptions import NotFoundError

        model = self.get_logged_model(model_id)
        if key not in model.tags:
            raise NotFoundError(
                f"Logged model {model_id} has no tag {key!r}; its tags: {sorted(model.tags)}."
            )
        self.logged_models.update(model_id, [("model_tag", key, None)])

    def log_model_params(self, model_id: str, params: dict[str, Any]) -> None:
        """Add params to a logged model."""
        pairs = _strings(params, "params")
        self.logged_models.update(validate_model_id(model_id),
                                  [("model_param", k, v) for k, v in sorted(pairs.items())])

    def finalize_logged_model(
        self, model_id: str, status: Any, status_message: str | None = None
    ) -> LoggedModel:
        """Set a logged model's final status (READY or FAILED) and return it."""
        final = LoggedModelStatus.parse(status)
        if not LoggedModelStatus.is_finalized(final):
            raise InvalidArgumentError(
                f"finalize_logged_model: status must be READY or FAILED, got {status!r}."
            )
        rows: list[tuple[str, str, str | None]] = [("model", "status", final.value)]
        if status_message is not None:
            rows.append(("model", "status_message", str(status_message)))
        self.logged_models.update(validate_model_id(model_id), rows)
        return self.get_logged_model(model_id)

    # -- building entities ------------------------------------------------------------------

    def _entities(
        self, states: list[dict[str, Any]], with_metrics: bool = True
    ) -> list[LoggedModel]:
        linked = self._linked_metrics([s["model_id"] for s in states]) if with_metrics else {}
        out = []
        for s in states:
            copies = [Metric(**m) for m in s["metrics"]]
            metrics = sorted(copies + linked.get(s["model_id"], []),
                             key=lambda m: (m.timestamp, m.step, m.key))
            try:
                status = LoggedModelStatus.parse(s.get("status") or "READY")
            except InvalidArgumentError:
                status = LoggedModelStatus.UNSPECIFIED  # a store value this version does not know
            out.append(LoggedModel(
                experiment_id=s["experiment_id"], model_id=s["model_id"],
                name=s.get("name") or s["model_id"],
                artifact_location=s.get("artifact_location") or "",
                creation_timestamp=s["creation_timestamp"],
                last_updated_timestamp=s["last_updated_timestamp"],
                model_type=s.get("model_type"), source_run_id=s.get("source_run_id"),
                status=status, status_message=s.get("status_message"),
                tags=dict(s["tags"]), params=dict(s["params"]), metrics=metrics,
            ))
        return out

    def _linked_metrics(self, model_ids: list[str]) -> dict[str, list[Metric]]:
        """Run metrics logged with ``model_id=`` one of ``model_ids``, by model."""
        if not model_ids:
            return {}
        q = self.query
        q.refresh()
        rows = q.rows(
            'SELECT run_id, key, value, step, "timestamp", model_id, dataset_name, dataset_digest '
            "FROM metrics WHERE model_id IN (SELECT unnest($ids))", {"ids": model_ids},
        )
        out: dict[str, list[Metric]] = {}
        for r in rows:
            out.setdefault(r["model_id"], []).append(Metric(
                key=r["key"], value=r["value"], timestamp=r["timestamp"], step=r["step"],
                model_id=r["model_id"], dataset_name=r["dataset_name"],
                dataset_digest=r["dataset_digest"], run_id=r["run_id"],
            ))
        return out


def _strings(pairs: Any, what: str) -> dict[str, str]:
    from tracker.validation import validate_key

    if pairs is None:
        return {}
    if not isinstance(pairs, dict):
        raise InvalidArgumentError(f"Logged model {what} must be a dict, got {pairs!r}.")
    return {validate_key(k, what.rstrip("s").capitalize()): str(v) for k, v in pairs.items()}


def _dataset_filter(datasets: Any) -> list[tuple[str, str | None]] | None:
    if datasets is None:
        return None
    if not isinstance(datasets, (list, tuple)) or not all(
        isinstance(d, dict) and isinstance(d.get("dataset_name"), str) for d in datasets
    ):
        raise InvalidArgumentError(
            f"datasets must be a list of dicts with 'dataset_name' (and optionally "
            f"'dataset_digest'), got {datasets!r}."
        )
    return [(d["dataset_name"], d.get("dataset_digest")) for d in datasets]


def _on_dataset(metric: Metric, wanted: list[tuple[str, str | None]] | None) -> bool:
    if wanted is None:
        return True
    return any(metric.dataset_name == name and digest in (None, metric.dataset_digest)
               for name, digest in wanted)


def _latest(metrics: list[Metric]) -> dict[str, float]:
    """Each key's latest value: highest step, then latest timestamp (MLflow's rule)."""
    best: dict[str, Metric] = {}
    for m in metrics:
        old = best.get(m.key)
        if old is None or (m.step, m.timestamp) >= (old.step, old.timestamp):
            best[m.key] = m
    return {k: m.value for k, m in best.items()}


def _search_record(model: LoggedModel, wanted: list[tuple[str, str | None]] | None) -> dict[str, Any]:
    return {
        "name": model.name, "model_id": model.model_id, "status": model.status.value,
        "source_run_id": model.source_run_id, "model_type": model.model_type,
        "experiment_id": model.experiment_id, "artifact_location": model.artifact_location,
        "creation_time": model.creation_timestamp, "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "last_updated_time": model.last_updated_timestamp,
        "tags": model.tags, "params": model.params,
        "metrics": _latest([m for m in model.metrics or [] if _on_dataset(m, wanted)]),
    }


_OrderKey = tuple[str, bool, "list[tuple[str, str | None]] | None"]


def _order_keys(order_by: Any) -> list[_OrderKey]:
    """(field, ascending, dataset filter) of each ``order_by`` entry."""
    if order_by is None:
        return []
    if not isinstance(order_by, (list, tuple)):
        raise InvalidArgumentError(f"order_by must be a list, got {order_by!r}.")
    out: list[_OrderKey] = []
    for item in order_by:
        if isinstance(item, str):
            parts = item.split()
            if not parts or len(parts) > 2 or (
                len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")
            ):
                raise InvalidArgumentError(f"Invalid order_by entry {item!r}: use 'field [ASC|DESC]'.")
            out.append((parts[0], len(parts) == 1 or parts[1].upper() == "ASC", None))
        elif isinstance(item, dict) and isinstance(item.get("field_name"), str):
            only: list[tuple[str, str | None]] | None = None
            if item.get("dataset_name") is not None:
                only = [(str(item["dataset_name"]), item.get("dataset_digest"))]
            out.append((item["field_name"], bool(item.get("ascending", True)), only))
        else:
            raise InvalidArgumentError(
                f"Invalid order_by entry {item!r}: use {{'field_name': 'metrics.acc', "
                "'ascending': False}."
            )
    for field_name, _, _ in out:
        prefix = field_name.split(".", 1)[0]
        if field_name not in SEARCH_FIELDS and not (prefix in SEARCH_PREFIXES and "." in field_name):
            raise InvalidArgumentError(
                f"Cannot order logged models by {field_name!r}; use one of "
                f"{', '.join(sorted(SEARCH_FIELDS))}, metrics.<key>, params.<key>, tags.<key>."
            )
    return out


def _order_value(model: LoggedModel, field_name: str, only: Any) -> Any:
    record = _search_record(model, only)
    prefix, _, key = field_name.partition(".")
    if prefix in SEARCH_PREFIXES and key:
        return record[prefix].get(key)
    return record.get(field_name)
