"""MLflow 3's fluent logged-model functions: the active model, ``initialize_logged_model``,
``get_logged_model``, ``search_logged_models``, and the links ``log_metric(model_id=, dataset=)``
and ``log_model`` make between metrics, models and datasets.

Like ``tracker.api``, each function finds the active run or experiment and delegates to the
client (``tracker.logged_models_client``).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Literal

from tracker.entities.logged_model import LoggedModel, LoggedModelStatus
from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd

    from tracker.client import TrackerClient

log = logging.getLogger("tracker")

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


def _client() -> TrackerClient:
    from tracker.api import _client as api_client

    return api_client()


def _experiment_id(source_run_id: str | None = None) -> str:
    from tracker import api

    run = api.active_run()
    if run is not None:
        return str(run.info.experiment_id)
    if source_run_id is not None:
        return str(_client().get_run(source_run_id).info.experiment_id)
    return api._active_experiment_id()


def _context_tags(tags: dict[str, Any] | None) -> dict[str, Any]:
    from tracker import context

    system = {k: v for k, v in context.system_tags().items() if k.startswith("mlflow.")}
    return {**system, **(tags or {})}


# -- creating -----------------------------------------------------------------------------------


def initialize_logged_model(
    name: str | None = None, source_run_id: str | None = None,
    tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
    model_type: str | None = None, experiment_id: str | None = None,
) -> LoggedModel:
    """Create a logged model in status PENDING (``log_model(model_id=…)`` fills it later).

    Args:
        name: its name (random when None).
        source_run_id: the run producing it (default: the active run, if any).
        tags: its tags (MLflow's ``mlflow.user``/``mlflow.source.*`` tags are added).
        params: its params.
        model_type: free-form type.
        experiment_id: its experiment (default: the active run's, else the active experiment).
    """
    from tracker import api

    if source_run_id is None and (run := api.active_run()) is not None:
        source_run_id = str(run.info.run_id)
    model = _client().create_logged_model(
        experiment_id or _experiment_id(source_run_id), name, source_run_id,
        _context_tags(tags), params, model_type,
    )
    _state.last_logged_model_id = model.model_id
    return model


def create_external_model(
    name: str | None = None, source_run_id: str | None = None,
    tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
    model_type: str | None = None, experiment_id: str | None = None,
) -> LoggedModel:
    """Create a logged model for a model whose files live elsewhere (status READY)."""
    model = initialize_logged_model(
        name, source_run_id, {"mlflow.model.isExternal": "true", **(tags or {})}, params,
        model_type, experiment_id,
    )
    return _client().finalize_logged_model(model.model_id, LoggedModelStatus.READY)


def get_logged_model(model_id: str) -> LoggedModel:
    """The logged model ``model_id`` (``ModelInfo.model_id``) with params, tags and metrics."""
    return _client().get_logged_model(model_id)


def last_logged_model() -> LoggedModel | None:
    """The model this thread logged or initialized last (None if none)."""
    model_id = _state.last_logged_model_id
    return get_logged_model(model_id) if model_id else None


def finalize_logged_model(model_id: str, status: Any) -> LoggedModel:
    """Set a logged model's status to READY or FAILED."""
    return _client().finalize_logged_model(model_id, status)


def log_model_params(params: dict[str, Any], model_id: str | None = None) -> None:
    """Add params to a logged model (default: the active model)."""
    _client().log_model_params(_model_id_or_active(model_id, "log_model_params"), params)


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    """Set tags on a logged model."""
    _client().set_logged_model_tags(model_id, tags)


def delete_logged_model_tag(model_id: str, key: str) -> None:
    """Delete a tag of a logged model."""
    _client().delete_logged_model_tag(model_id, key)


def _model_id_or_active(model_id: str | None, where: str) -> str:
    found = model_id or get_active_model_id()
    if found is None:
        raise InvalidArgumentError(
            f"{where}: give model_id= or set an active model with set_active_model(name=...)."
        )
    return found


def search_logged_models(
    experiment_ids: list[str] | None = None, filter_string: str | None = None,
    datasets: list[dict[str, Any]] | None = None, max_results: int | None = None,
    order_by: list[Any] | None = None, output_format: Literal["pandas", "list"] = "pandas",
) -> pd.DataFrame | list[LoggedModel]:
    """Logged models matching ``filter_string``, newest first, as a DataFrame or a list.

    Args:
        experiment_ids: experiments to search (default: the active experiment).
        filter_string: e.g. ``"metrics.rmse < 5 AND params.alpha = '0.5'"`` (see
            ``TrackerClient.search_logged_models``).
        datasets: restrict metric filters to metrics linked to these datasets.
        max_results: at most this many models.
        order_by: ``[{"field_name": "metrics.rmse", "ascending": True}]``.
        output_format: ``"pandas"`` (default, MLflow's columns) or ``"list"``.
    """
    if output_format not in ("pandas", "list"):
        raise InvalidArgumentError(
            f"output_format must be 'pandas' or 'list', got {output_format!r}."
        )
    ids = experiment_ids or [_experiment_id()]
    models = list(_client().search_logged_models(
        list(ids), filter_string, datasets, max_results, order_by
    ))
    if output_format == "list":
        return models
    import pandas as pd

    rows = []
    for model in models:
        row = model.to_dictionary()
        row["status"] = model.status.value
        rows.append(row)
    columns = [name for name in LoggedModel._properties() if name != "model_uri"]
    return pd.DataFrame(rows, columns=columns)


# -- the active model ---------------------------------------------------------------------------


class ActiveModel(LoggedModel):
    """The model ``set_active_model`` made active; as a context manager it is active only
    inside the ``with`` block."""

    _previous: tuple[str | None, bool] = (None, False)

    def __enter__(self) -> ActiveModel:
        return self

    def __exit__(self, *exc: Any) -> None:
        _state.active_model_id, _state.set_by_user = self._previous


def set_active_model(*, name: str | None = None, model_id: str | None = None) -> ActiveModel:
    """Make a logged model active: metrics and traces logged without ``model_id=`` link to it.

    Args:
        name: the model's name: the newest model of that name in the active experiment, or a
            new one (created as an external model, as MLflow does).
        model_id: an existing model's id.
    """
    if name is None and model_id is None:
        raise InvalidArgumentError("set_active_model needs name= or model_id=.")
    if model_id is not None:
        model = get_logged_model(model_id)
        if name is not None and model.name != name:
            raise InvalidArgumentError(
                f"Logged model {model_id!r} is named {model.name!r}, not {name!r}."
            )
    else:
        escaped = str(name).replace("\\", "\\\\").replace("'", "\\'")
        found = search_logged_models(filter_string=f"name = '{escaped}'", output_format="list")
        assert isinstance(found, list)
        if len(found) > 1:
            log.warning("tracker: several logged models are named %r; the newest is active.", name)
        model = found[0] if found else create_external_model(name=name)
    active = ActiveModel(**{k: v for k, v in model if k != "model_uri"})
    active._previous = (_state.active_model_id, _state.set_by_user)
    _state.active_model_id, _state.set_by_user = model.model_id, True
    return active


def get_active_model_id() -> str | None:
    """The active model's id: ``set_active_model``'s, else ``MLFLOW_ACTIVE_MODEL_ID`` (as set
    when the thread first logged), else None."""
    return _state.active_model_id


def clear_active_model() -> None:
    """No model is active any more."""
    _state.active_model_id, _state.set_by_user = None, False


# -- links made while logging ------------------------------------------------------------------


def metric_link(
    run_id: str, step: int, model_id: str | None, dataset: Any, logged: Any = None
) -> str | None:
    """The link JSON for a metric (None: unlinked), as MLflow 3 decides it.

    The model is ``model_id=``, else the active model, else the model this run logged at the
    same step (the latest, if several). A ``dataset=`` is recorded as a run input once.

    Args:
        run_id: the run the metric goes to.
        step: the metric's step.
        model_id: the ``model_id=`` argument.
        dataset: the ``dataset=`` argument (a ``tracker.data`` dataset or ``Dataset`` entity).
        logged: the run's log, to record the dataset input on.
    """
    from tracker.logged_models import link_json, validate_model_id

    if model_id is not None:
        validate_model_id(model_id)
    else:
        model_id = get_active_model_id()
        if model_id is None:
            with _outputs_lock:
                at_step = [m for m, s in _outputs.get(run_id, ()) if s == step]
            model_id = at_step[-1] if at_step else None
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
    return link_json(model_id, name, digest)


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
    model = client.create_logged_model(
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
