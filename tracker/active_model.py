"""MLflow 3's fluent logged-model functions: the active model, ``initialize_logged_model``,
``get_logged_model``, ``search_logged_models`` (the links between metrics, models and datasets
are made in ``tracker.model_links``).

Like ``tracker.api``, each function finds the active run or experiment and delegates to the
client (``tracker.logged_models_client``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from tracker import model_links
from tracker.entities.logged_model import LoggedModel, LoggedModelStatus
from tracker.exceptions import InvalidArgumentError
from tracker.model_links import clear_active_model as clear_active_model
from tracker.model_links import get_active_model_id

if TYPE_CHECKING:
    import pandas as pd

    from tracker.client import TrackerClient

log = logging.getLogger("tracker")

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
    from tracker.logged_models import validate_logged_model_name

    if name is not None:
        validate_logged_model_name(name, "initialize_logged_model")
    if source_run_id is None and (run := api.active_run()) is not None:
        source_run_id = str(run.info.run_id)
    model = _client().create_logged_model(
        experiment_id or _experiment_id(source_run_id), name, source_run_id,
        model_links._context_tags(tags), params, model_type,
    )
    model_links._state.last_logged_model_id = model.model_id
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
    model_id = model_links._state.last_logged_model_id
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
        model_links._state.active_model_id, model_links._state.set_by_user = self._previous


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
    active._previous = (model_links._state.active_model_id, model_links._state.set_by_user)
    model_links._state.active_model_id, model_links._state.set_by_user = model.model_id, True
    return active


