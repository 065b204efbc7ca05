"""tracker: experiment tracking with no server.

``import tracker as mlflow`` runs MLflow tracking code: runs, params, metrics, tags, artifacts
and datasets go into a folder of Parquet files that DuckDB queries and ``tracker build`` turns
into a static site. Importing this package loads only the standard library; pyarrow is loaded
at the first flush, DuckDB and pandas at the first query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracker._version import __version__ as __version__
from tracker.active_model import (
    clear_active_model,
    create_external_model,
    delete_logged_model_tag,
    finalize_logged_model,
    get_active_model_id,
    get_logged_model,
    initialize_logged_model,
    last_logged_model,
    log_model_params,
    search_logged_models,
    set_active_model,
    set_logged_model_tags,
)
from tracker.api import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_run,
    get_tracking_uri,
    last_active_run,
    lineage,
    list_artifacts,
    list_experiments,
    list_registered_models,
    list_run_infos,
    load_table,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    register_model,
    search_experiments,
    search_model_versions,
    search_registered_models,
    search_runs,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
    set_registry_uri,
    set_tag,
    set_tags,
    set_tracking_uri,
    sql,
    start_run,
)
from tracker.autologging import autolog
from tracker.client import MlflowClient, TrackerClient
from tracker.entities import RunStatus, ViewType
from tracker.exceptions import MlflowException, TrackerError

if TYPE_CHECKING:
    from tracker import (
        autologging,
        data,
        entities,
        exceptions,
        hyperopt,
        models,
        projects,
        pyfunc,
        sklearn,
        spark,
        tracking,
        xgboost,
    )


__all__ = [
    "ActiveRun",
    "MlflowClient",
    "MlflowException",
    "RunStatus",
    "TrackerClient",
    "TrackerError",
    "ViewType",
    "active_run",
    "autolog",
    "autologging",
    "clear_active_model",
    "create_experiment",
    "create_external_model",
    "data",
    "delete_experiment",
    "delete_logged_model_tag",
    "delete_run",
    "delete_tag",
    "end_run",
    "entities",
    "exceptions",
    "finalize_logged_model",
    "flush",
    "get_active_model_id",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_logged_model",
    "get_run",
    "get_tracking_uri",
    "hyperopt",
    "initialize_logged_model",
    "last_active_run",
    "last_logged_model",
    "lineage",
    "list_artifacts",
    "list_experiments",
    "list_registered_models",
    "list_run_infos",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model_params",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "models",
    "projects",
    "pyfunc",
    "register_model",
    "search_experiments",
    "search_logged_models",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_active_model",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_logged_model_tags",
    "set_registry_uri",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "sklearn",
    "spark",
    "sql",
    "start_run",
    "tracking",
    "xgboost",
]

_SUBMODULES = {
    "autologging", "data", "entities", "exceptions", "hyperopt", "models", "projects", "pyfunc",
    "sklearn", "spark", "tracking", "xgboost",
}


def __getattr__(name: str) -> Any:
    # Submodules load on first use, so `import tracker` stays fast.
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"tracker.{name}")
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
