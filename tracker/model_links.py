"""The state behind MLflow 3's model links: the active model (per thread), the models each run
logged and at which step, and the links ``log_metric(model_id=, dataset=)`` and ``log_model``
make between metrics, models and datasets. The fluent functions that set and read them are in
``tracker.active_model``; this module imports no API module, so ``tracker.api`` may use it.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from tracker.entities.logged_model import LoggedModel, LoggedModelStatus
from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from tracker.client import TrackerClient

ACTIVE_MODEL_ENV = "MLFLOW_ACTIVE_MODEL_ID"


class _State(threading.local):
    """Per thread, as in MLflow: the active model starts as ``MLFLOW_ACTIVE_MODEL_ID``, read
    once per thread (``log_metric`` checks it on every call; ``os.environ`` is slow)."""

    def __init__(self) -> None:
        self.active_model_id: str | None = os.environ.get(ACTIVE_MODEL_ENV) or None
        self.set_by_user = False
        self.last_logged_model_id: str | None = None


_state = _State()
# Models each run of this process logged, with the step they were logged at (MLflow's run
# "model outputs"): a metric logged at that step without model_id= is linked to them.
_outputs: dict[str, list[tuple[str, int]]] = {}
_outputs_lock = threading.Lock()


def get_active_model_id() -> str | None:
    """The active model's id: ``set_active_model``'s, else ``MLFLOW_ACTIVE_MODEL_ID`` (as set
    when the thread first logged), else None."""
    return _state.active_model_id


def clear_active_model() -> None:
    """No model is active any more."""
    _state.active_model_id, _state.set_by_user = None, False


def _context_tags(tags: dict[str, Any] | None) -> dict[str, Any]:
    from tracker import context

    system = {k: v for k, v in context.system_tags().items() if k.startswith("mlflow.")}
    return {**system, **(tags or {})}


# -- links made while logging ------------------------------------------------------------------


def metric_link(
    run_id: str, step: int, model_id: str | None, dataset: Any, logged: Any = None
) -> str | None:
    """The link JSON for a metric (None: unlinked), as MLflow 3 decides it for ``log_metric``.

    The model is ``model_id=``, else the active model, else the first model this run logged at
    the same step (MLflow 3's ``log_metric`` links to the first only; ``log_metrics`` to each,
    see ``metric_links``). A ``dataset=`` is recorded as a run input once.

    Args:
        run_id: the run the metric goes to.
        step: the metric's step.
        model_id: the ``model_id=`` argument.
        dataset: the ``dataset=`` argument (a ``tracker.data`` dataset or ``Dataset`` entity).
        logged: the run's log, to record the dataset input on.
    """
    return metric_links(run_id, step, model_id, dataset, logged)[0]


def metric_links(
    run_id: str, step: int, model_id: str | None, dataset: Any, logged: Any = None
) -> tuple[str | None, list[str]]:
    """``metric_link``'s link, and the other models the metrics link to, as MLflow 3's
    ``log_metrics`` decides: every model this run logged at the step (when neither
    ``model_id=`` nor an active model names one). The link names the first; the caller copies
    the metrics to the others (``LoggedModels.link_metrics``): the run's history keeps one
    point per value."""
    from tracker.logged_models import link_json, validate_model_id

    others: list[str] = []
    if model_id is not None:
        validate_model_id(model_id)
    else:
        model_id = get_active_model_id()
        if model_id is None:
            with _outputs_lock:
                at_step = list(dict.fromkeys(m for m, s in _outputs.get(run_id, ()) if s == step))
            model_id = at_step[0] if at_step else None
            others = at_step[1:]
    name = digest = None
    if dataset is not None:
        name, digest = getattr(dataset, "name", None), getattr(dataset, "digest", None)
        if not isinstance(name, str) or not isinstance(digest, str):
            raise InvalidArgumentError(
                f"dataset= must be a dataset from mlflow.data (with a name and a digest), got "
                f"{dataset!r}."
            )
        if logged is not None:
            _log_dataset_once(logged, dataset)
    return link_json(model_id, name, digest), others


def link_to_others(
    client: TrackerClient, run_id: str, others: list[str], metrics: dict[str, float],
    step: int, timestamp: int, link: str | None,
) -> None:
    """Copy ``log_metrics``' values to the other models logged at their step (one file each)."""
    from tracker.logged_models import link_json, parse_link

    parsed = parse_link(link)
    copy_link = link_json(None, parsed.get("dataset_name"), parsed.get("dataset_digest"),
                          run_id) or "{}"
    for other in others:
        client.logged_models.link_metrics(
            other, [(k, float(v), step, timestamp, copy_link) for k, v in metrics.items()]
        )


_logged_inputs: set[tuple[str, str, str]] = set()


def _log_dataset_once(logged: Any, dataset: Any) -> None:
    key = (logged.run_id, dataset.name, dataset.digest)
    if key in _logged_inputs:
        return
    from tracker.data import input_record

    try:
        record_key, value = input_record(dataset)
    except InvalidArgumentError:
        return  # an entity we cannot describe fully: the metric link still names it
    logged.add_record("input", record_key, value)
    _logged_inputs.add(key)


def begin_log_model(
    client: TrackerClient, run_id: str, experiment_id: str, name: str, options: dict[str, Any],
) -> LoggedModel:
    """The logged model a ``log_model`` call fills: ``model_id=``'s, else a new PENDING one
    with the run's params plus ``params=``, ``tags=`` and ``model_type=``."""
    given = options.get("model_id")
    if given is not None:
        return client.get_logged_model(given)
    params = options.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidArgumentError(f"log_model: params must be a dict, got {params!r}.")
    run_params = dict(client._runlog(run_id)._params)
    model = client._create_logged_model(  # name: the artifact path, checked by the flavor
        experiment_id, name, run_id, _context_tags(options.get("tags")),
        {**(params or {}), **run_params}, options.get("model_type"),
    )
    _state.last_logged_model_id = model.model_id
    return model


def finish_log_model(
    client: TrackerClient, model: LoggedModel, run_id: str, path: str, step: Any,
    ok: bool,
) -> None:
    """Record where the files went and the final status; link the run's metrics at ``step``."""
    from tracker.logged_models import link_json, parse_link

    if not ok:
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        return
    location = f"{client._artifact_uri(run_id).rstrip('/')}/{path}"
    rows: list[tuple[str, str, str | None]] = [
        ("model", "artifact_location", location), ("model", "artifact_path", path),
        ("model", "status", LoggedModelStatus.READY.value),
    ]
    if model.source_run_id is None:
        rows.append(("model", "source_run_id", run_id))
    client.logged_models.update(model.model_id, rows)
    step = int(step or 0)
    with _outputs_lock:
        _outputs.setdefault(run_id, []).append((model.model_id, step))
    runlog = client._runlog(run_id)
    runlog.add_record("model_output", model.model_id, None, float(step))
    # The run's metrics at this step so far, read from the run's own files (not through the
    # query layer: log_model must not load DuckDB and the whole store).
    runlog.flush()
    found = []
    for r in client.store.read_folder_records(runlog.folder):
        link = parse_link(r.get("value"))
        if (r.get("kind") == "metric" and r.get("step") == step and "model_id" not in link
                and isinstance(r.get("key"), str) and isinstance(r.get("num"), float)):
            found.append((r["key"], r["num"], step, r.get("timestamp") or 0, link_json(
                None, link.get("dataset_name"), link.get("dataset_digest"), run_id) or "{}"))
    client.logged_models.link_metrics(model.model_id, found)
