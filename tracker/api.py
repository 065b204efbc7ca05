"""The fluent API (``import tracker as mlflow``): find the active run and delegate to the client."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Literal

from tracker import model_links as _active_model
from tracker.client import DEFAULT_EXPERIMENT_ID, TrackerClient
from tracker.entities import Experiment, Run, RunStatus, ViewType
from tracker.exceptions import (
    AlreadyExistsError,
    InvalidArgumentError,
    NoActiveRunError,
    NotFoundError,
    TrackerError,
)
from tracker.legacy import notice_deprecated
from tracker.uri import use_current_uri

if TYPE_CHECKING:
    import pandas as pd

    from tracker.entities import FileInfo, RunInfo
    from tracker.registry.state import RegisteredModel


class _State(threading.local):
    def __init__(self) -> None:
        self.stack: list[ActiveRun] = []


_state = _State()
_tracking_uri: str | None = None
_experiment_id: str | None = None
_last_run_id: str | None = None
_clients: dict[str, TrackerClient] = {}
_uncaught: list[BaseException] = []


class ActiveRun(Run):
    """The run ``start_run`` returned: a ``Run`` (``info``, ``data``, ``to_dictionary()``, as when
    it started) that is also a context manager.

    Leaving the ``with`` block ends the run: FINISHED, FAILED if it raised (the exception
    propagates), KILLED on KeyboardInterrupt or SIGTERM.
    """

    def __init__(self, run: Run, client: TrackerClient) -> None:
        super().__init__(run.info, run.data, run.inputs, run.outputs)
        self._client = client
        self._log = client._runlog(run.info.run_id)

    # One object per started run: compared and hashed by identity, as MLflow's ActiveRun.
    __eq__ = object.__eq__
    __hash__ = object.__hash__  # type: ignore[assignment]

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt) or isinstance(exc, _Terminated):
            status = RunStatus.KILLED
        elif issubclass(exc_type, SystemExit) and exc is not None and exc.code in (0, None):
            status = RunStatus.FINISHED
        else:
            status = RunStatus.FAILED
        end_run(status)
        return False

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self.info.run_id!r}, run_name={self.info.run_name!r}>"


class _Terminated(SystemExit):
    """SIGTERM, turned into an exception so runs are ended as KILLED and buffers flushed."""


# -- store selection ------------------------------------------------------------------------


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Use the store at ``uri`` (a folder, ``file:`` URI, ``s3://bucket/prefix``, or MLflow's
    ``sqlite:///x.db``)."""
    global _tracking_uri, _experiment_id
    from tracker.uri import resolve_local_path

    text = os.fspath(uri) if isinstance(uri, os.PathLike) else uri
    if not isinstance(text, str):
        raise InvalidArgumentError(f"Tracking URI must be a string or path, got {uri!r}.")
    if not text.lower().startswith("s3://"):
        resolve_local_path(text, notice=False)  # refuse http:// and friends now, not later
    if text != _tracking_uri:
        _experiment_id = None
    _tracking_uri = text


def get_tracking_uri() -> str:
    """The current tracking URI (``./tracking`` unless set or given by the environment)."""
    from tracker.uri import default_uri

    return _tracking_uri if _tracking_uri is not None else default_uri()


use_current_uri(get_tracking_uri)  # a TrackerClient made without a URI uses this one (#13)


def set_registry_uri(uri: str) -> None:
    """Accepted for MLflow compatibility: the registry always lives in the tracking store."""


def _client() -> TrackerClient:
    uri = get_tracking_uri()
    client = _clients.get(uri)
    if client is None:
        client = TrackerClient(uri)
        _clients[uri] = client
    return client


# -- experiments ------------------------------------------------------------------------------


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active (by name, created if missing; or by id) and return it."""
    global _experiment_id
    client = _client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidArgumentError("set_experiment needs exactly one of experiment_name or experiment_id.")
    if experiment_name is not None:
        exp = client.get_experiment_by_name(experiment_name, include_deleted=True)
        if exp is None:
            try:
                client.create_experiment(experiment_name)
            except AlreadyExistsError:
                pass  # another process created it between our lookup and our create
            exp = client.get_experiment_by_name(experiment_name, include_deleted=True)
            if exp is None:
                raise NotFoundError(f"Experiment {experiment_name!r} could not be created.")
    else:
        exp = client.get_experiment(str(experiment_id))
    if exp.lifecycle_stage != "active":
        raise InvalidArgumentError(
            f"Experiment {exp.name!r} ({exp.experiment_id}) is deleted; restore it with "
            "TrackerClient().restore_experiment(id) or choose another name."
        )
    _experiment_id = exp.experiment_id
    return exp


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    """Create an experiment; ``artifact_location`` may put its artifacts in another folder."""
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    _client().delete_experiment(experiment_id)


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    return _client().search_experiments(view_type, max_results, filter_string, order_by)


def set_experiment_tag(key: str, value: Any) -> None:
    _client().set_experiment_tag(_active_experiment_id(), key, value)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)


def list_experiments(
    view_type: int = ViewType.ACTIVE_ONLY, max_results: int | None = None
) -> list[Experiment]:
    """MLflow 1.x's ``mlflow.list_experiments()`` (now ``search_experiments()``)."""
    notice_deprecated("mlflow.list_experiments()", "mlflow.search_experiments()")
    return list(_client().search_experiments(view_type, max_results))


def list_run_infos(
    experiment_id: str,
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 1000,
    order_by: list[str] | None = None,
) -> list[RunInfo]:
    """MLflow 1.x's ``mlflow.list_run_infos()`` (now ``search_runs(output_format="list")``)."""
    notice_deprecated("mlflow.list_run_infos()", 'mlflow.search_runs(output_format="list")')
    runs = _client().search_runs([experiment_id], "", run_view_type, max_results, order_by)
    return [run.info for run in runs]


def list_registered_models(max_results: int | None = None) -> list[RegisteredModel]:
    """``list_registered_models()`` as a fluent call (now ``search_registered_models()``)."""
    notice_deprecated("mlflow.list_registered_models()", "mlflow.search_registered_models()")
    return list(_client().search_registered_models(None, max_results, ["name ASC"]))


def _active_experiment_id() -> str:
    if _experiment_id is not None:
        return _experiment_id
    env_id = os.environ.get("MLFLOW_EXPERIMENT_ID") or os.environ.get("TRACKER_EXPERIMENT_ID")
    if env_id:
        return env_id
    env_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or os.environ.get("TRACKER_EXPERIMENT_NAME")
    if env_name:
        return set_experiment(env_name).experiment_id
    return DEFAULT_EXPERIMENT_ID


# -- runs -----------------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it active; use it as a context manager."""
    global _last_run_id
    _install_exit_hooks()
    stack = _state.stack
    if stack and not nested:
        raise TrackerError(
            f"Run {stack[-1].info.run_id} is already active. End it with end_run() first, or "
            "start a nested run with start_run(nested=True)."
        )
    client = _client()
    if run_id is not None:
        if any(r.info.run_id == run_id for r in stack):
            raise TrackerError(f"Run {run_id} is already active in this thread.")
        run = client.resume_run(run_id)
        for key, value in (tags or {}).items():
            client.set_tag(run_id, key, value)
        if run_name is not None:
            client.update_run(run_id, name=run_name)
        if description is not None:
            client.set_tag(run_id, "mlflow.note.content", description)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
        if parent is None and not stack:  # a Spark executor of a driver's run (#14)
            parent = os.environ.get("TRACKER_PARENT_RUN_ID") or None
        exp_id = str(experiment_id) if experiment_id is not None else _active_experiment_id()
        run = client.create_run(
            exp_id, tags=tags, run_name=run_name, parent_run_id=parent, description=description
        )
    active = ActiveRun(run, client)
    stack.append(active)
    _last_run_id = run.info.run_id
    _share_with_spark()
    return active


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run (FINISHED unless ``status`` says otherwise); no-op without one."""
    global _last_run_id
    stack = _state.stack
    if not stack:
        return
    run = stack[-1]
    _last_run_id = run.info.run_id
    try:
        run._client.set_terminated(run.info.run_id, status)
    finally:
        stack.pop()
        _share_with_spark()


def _share_with_spark() -> None:
    """Tell the executors of an active SparkContext where runs nest now (only once pyspark is
    imported: plain ``hyperopt.fmin`` with ``SparkTrials`` inside ``start_run``, #14)."""
    if "pyspark" in sys.modules:
        from tracker.spark_env import share_active_run

        if _state.stack:
            top = _state.stack[-1].info
            share_active_run(str(top.run_id), get_tracking_uri(), str(top.experiment_id))
        else:
            share_active_run(None, get_tracking_uri(), None)


def active_run() -> ActiveRun | None:
    return _state.stack[-1] if _state.stack else None


def last_active_run() -> Run | None:
    """The active run, or else the last run started in this process (read from the store)."""
    if _state.stack:
        return get_run(_state.stack[-1].info.run_id)
    if _last_run_id is None:
        return None
    return get_run(_last_run_id)


def _run_id(run_id: str | None = None) -> str:
    if run_id is not None:
        return run_id
    if _state.stack:
        return str(_state.stack[-1].info.run_id)
    # MLflow starts a run implicitly on the first logging call.
    return str(start_run().info.run_id)


def _runlog(run_id: str | None = None) -> Any:
    return _client()._runlog(_run_id(run_id))


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a param (immutable: the same value again is a no-op, a different one an error)."""
    run = _runlog()
    run.log_param(key, value)
    if synchronous:
        run.flush()
    return value


def log_params(params: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None) -> None:
    if not isinstance(params, dict):
        raise InvalidArgumentError(f"log_params needs a dict, got {type(params).__name__}.")
    run = _runlog(run_id)
    for key, value in params.items():
        run.log_param(key, value)
    if synchronous:
        run.flush()


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log a metric value (buffered; published within the flush interval, default 5 s).

    ``model_id=`` and ``dataset=`` link the value to a logged model and a dataset (MLflow 3);
    without ``model_id=`` it links to the active model, else to a model this run logged at the
    same step (``tracker.active_model.metric_link``).
    """
    stack = _state.stack
    if run_id is None and stack:
        run = stack[-1]._log
    else:
        run = _runlog(run_id)
    step = 0 if step is None else step
    link = _metric_link(run, step, model_id, dataset)
    run.log_metric(key, value, step, timestamp, link)
    if synchronous:
        run.flush()


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log several metrics at one step (``model_id=``/``dataset=`` as in ``log_metric``)."""
    if not isinstance(metrics, dict):
        raise InvalidArgumentError(f"log_metrics needs a dict, got {type(metrics).__name__}.")
    run = _runlog(run_id)
    step = step if step is not None else 0
    if (model_id is None and dataset is None and _active_model._state.active_model_id is None
            and run.run_id not in _active_model._outputs):
        run.log_metrics(metrics, step, timestamp)  # no model about: skipped cheaply
    else:
        link, others = _active_model.metric_links(run.run_id, step, model_id, dataset, run)
        if not others:
            run.log_metrics(metrics, step, timestamp, link)
        else:  # MLflow 3 links the values to every model the run logged at this step
            import time

            from tracker.validation import timestamp_ms

            ts = (int(time.time() * 1000) if timestamp is None
                  else timestamp_ms("Metric timestamp", timestamp))
            run.log_metrics(metrics, step, ts, link)
            run.flush()  # the values are in the run before the models' copies
            _active_model.link_to_others(_client(), run.run_id, others, metrics, int(step), ts,
                                         link)
    if synchronous:
        run.flush()


def _metric_link(run: Any, step: Any, model_id: str | None, dataset: Any) -> str | None:
    """The model/dataset link of a metric: skipped cheaply while no model is about."""
    if (model_id is None and dataset is None and _active_model._state.active_model_id is None
            and run.run_id not in _active_model._outputs):
        return None
    return _active_model.metric_link(run.run_id, step, model_id, dataset, run)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    _runlog().set_tag(key, value)


def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> None:
    if not isinstance(tags, dict):
        raise InvalidArgumentError(f"set_tags needs a dict, got {type(tags).__name__}.")
    run = _runlog()
    for key, value in tags.items():
        run.set_tag(key, value)


def delete_tag(key: str) -> None:
    _client().delete_tag(_run_id(), key)


def log_artifact(local_path: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    _client().log_artifact(_run_id(run_id), local_path, artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    _client().log_artifacts(_run_id(run_id), local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    _client().log_text(_run_id(run_id), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    _client().log_dict(_run_id(run_id), dictionary, artifact_file)


def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
) -> None:
    _client().log_figure(_run_id(), figure, artifact_file, save_kwargs=save_kwargs)


def log_input(
    dataset: Any, context: str | None = None, tags: dict[str, str] | None = None, **_ignored: Any
) -> None:
    """Record that the active run used ``dataset`` (from ``tracker.data``) in ``context``."""
    from tracker.data import input_record

    key, value = input_record(dataset, context)
    _runlog().add_record("input", key, value)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
) -> None:
    """Log an image to the active run (see ``TrackerClient.log_image``)."""
    _client().log_image(_run_id(), image, artifact_file, key, step, timestamp, synchronous)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Log a dict or DataFrame as a table of the active run (see ``TrackerClient.log_table``)."""
    _client().log_table(_run_id(run_id), data, artifact_file)


def load_table(
    artifact_file: str, run_ids: list[str] | None = None, extra_columns: list[str] | None = None
) -> pd.DataFrame:
    """A table logged with ``log_table`` by the active experiment's runs (or ``run_ids``)."""
    return _client().load_table(_active_experiment_id(), artifact_file, run_ids, extra_columns)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The URI of the active run's artifacts (or of ``artifact_path`` inside them)."""
    from tracker.validation import validate_artifact_path

    if not _state.stack:
        raise NoActiveRunError("get_artifact_uri needs an active run; call start_run() first.")
    base = str(_state.stack[-1].info.artifact_uri).rstrip("/")
    rel = validate_artifact_path(artifact_path)
    return f"{base}/{rel}" if rel else base


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def delete_run(run_id: str) -> None:
    _client().delete_run(run_id)


def search_runs(
    experiment_ids: list[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: list[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Search runs with MLflow's filter grammar; a DataFrame (default) or a list of ``Run``."""
    client = _client()
    if output_format not in ("pandas", "list"):
        raise InvalidArgumentError(f"output_format must be 'pandas' or 'list', got {output_format!r}.")
    ids: list[str] | None
    if isinstance(experiment_ids, (str, int)):
        experiment_ids = [str(experiment_ids)]
    if experiment_names is not None:
        if isinstance(experiment_names, str):
            experiment_names = [experiment_names]
        ids = list(experiment_ids or [])
        for name in experiment_names:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise NotFoundError(
                    f"No experiment named {name!r}; search_experiments() lists what exists."
                )
            ids.append(exp.experiment_id)
    elif experiment_ids:
        ids = [str(e) for e in experiment_ids]
    elif search_all_experiments:
        ids = None
    else:
        ids = [_active_experiment_id()]
    if output_format == "list":
        return client.search_runs(ids, filter_string, run_view_type, max_results, order_by)
    return client.search_runs_frame(ids, filter_string, run_view_type, max_results, order_by)


def sql(query: str, params: Any = None) -> pd.DataFrame:
    """Run SQL over the store's tables (runs, params, metrics, latest_metrics, tags, …)."""
    return _client().sql(query, params)


def list_artifacts(run_id: str, path: str | None = None) -> list[FileInfo]:
    return _client().list_artifacts(run_id, path)


def flush() -> None:
    """Publish every buffered record now (normally done within 5 s, at end_run and at exit)."""
    from tracker.runlog import flush_all

    flush_all(raise_errors=True)


# -- model registry ---------------------------------------------------------------------------


def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int | None = None,
    *,
    tags: dict[str, Any] | None = None,
    reason: str | None = None,
    _logged_model_id: str | None = None,
) -> Any:
    """Register the model at ``model_uri`` (``runs:/<id>/model``, ``models:/<model_id>``) as a
    new version of ``name``. A version registered from an MLflow 3 logged model (its
    ``models:/<model_id>`` URI, or the ``runs:/`` URI of the run and path it was logged at)
    carries its id as ``ModelVersion.model_id``."""
    from tracker.model_uri import parse_runs_uri

    client = _client()
    if not isinstance(model_uri, str) or not model_uri:
        raise InvalidArgumentError(f"model_uri must be a URI string, got {model_uri!r}.")
    run_id = None
    logged_id = _logged_model_id
    if model_uri.startswith("models:/"):
        from tracker.model_uri import _LOGGED, logged_model_source

        found = logged_model_source(client, model_uri)  # MLflow 3: models:/<model_id>
        if found is not None:
            matched = _LOGGED.match(model_uri)
            logged_id = matched.group("model_id") if matched else None
            model_uri, run_id = found
    if model_uri.startswith("runs:/"):
        from tracker.query.reads import resolve_run_id

        prefix, path = parse_runs_uri(model_uri)
        run_id = resolve_run_id(client.query, prefix)  # a unique prefix is enough (#13)
        # The version's source names the whole id.
        model_uri = model_uri.replace(f"runs:/{prefix}", f"runs:/{run_id}", 1)
        if logged_id is None and path:
            # MLflow 3: the logged model the run logged at that path, if any
            experiment_id = str(client.get_run(run_id).info.experiment_id)
            logged_id = client.logged_models.find_by_artifact_path(experiment_id, run_id, path)
    return client.create_model_version(name, model_uri, run_id=run_id, tags=tags, reason=reason,
                                       model_id=logged_id)


def search_registered_models(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Any]:
    """Registered models matching ``filter_string`` (e.g. ``"name LIKE 'taxi%'"``), all pages."""
    return list(_client().search_registered_models(filter_string, max_results, order_by))


def search_model_versions(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Any]:
    """Model versions matching ``filter_string`` (e.g. ``"name = 'taxi'"``), all pages."""
    return list(_client().search_model_versions(filter_string, max_results, order_by))


def lineage(name: str, version: Any) -> Any:
    """The chain data → run → model files → version → stages/aliases and history."""
    from tracker.provenance import lineage as build

    return build(_client(), name, version)


# -- process exit -----------------------------------------------------------------------------

_hooks_installed = False


def _install_exit_hooks() -> None:
    """At exit, end runs still active (FAILED after an uncaught exception); SIGTERM ends as KILLED."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_end_runs_at_exit)
    previous_hook = sys.excepthook

    def hook(exc_type: Any, exc: BaseException, tb: Any) -> None:
        _uncaught.append(exc)
        previous_hook(exc_type, exc, tb)

    sys.excepthook = hook
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated(128 + signum)


def _end_runs_at_exit() -> None:
    if _uncaught:
        kind = type(_uncaught[-1])
        status = RunStatus.KILLED if issubclass(kind, (KeyboardInterrupt, _Terminated)) else RunStatus.FAILED
    else:
        status = RunStatus.FINISHED
    while _state.stack:
        try:
            end_run(status)
        except Exception:  # noqa: BLE001 - at exit, keep ending the others
            _state.stack.pop()
