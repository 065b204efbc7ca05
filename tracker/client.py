"""``TrackerClient``: the explicit API over one store (``MlflowClient`` is an alias).

Writes go through per-run buffers (``RunLog``) shared by every client of the same store in this
process, so fluent calls and client calls on one run interleave correctly. Every read first
publishes this process's pending records of that store, so a process always reads its own writes.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from tracker import context
from tracker.artifacts_client import ArtifactClientMixin
from tracker.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from tracker.exceptions import (
    InvalidArgumentError,
    NotFoundError,
    StoreError,
)
from tracker.experiments_client import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    ExperimentClientMixin,
    experiment_id_for,
)
from tracker.legacy import LegacyClientMixin
from tracker.logged_models_client import LoggedModelClientMixin
from tracker.media import MediaClientMixin
from tracker.registry.client import RegistryClientMixin
from tracker.run_names import random_run_name
from tracker.runlog import RunLog, flush_all
from tracker.uri import current_uri
from tracker.validation import (
    validate_run_id,
)

if TYPE_CHECKING:
    import pandas as pd

    from tracker.query import StoreQuery
    from tracker.store.entities.paged_list import PagedList
    from tracker.store.store import Store

log = logging.getLogger("tracker")

# Re-exported: older code imports these from here.
__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "MlflowClient",
    "TrackerClient",
    "experiment_id_for",
    "flush",
    "get_store",
    "random_run_name",
]


_stores: dict[str, Store] = {}
_noticed: set[str] = set()  # sqlite:/// URIs whose folder mapping was announced
_live: dict[tuple[str, str], RunLog] = {}
_live_lock = threading.RLock()
_artifact_uris: dict[tuple[str, str], str] = {}  # a run's artifact URI never changes
# A new process's first search imports pandas once the store's reads are planned, or after
# this long (``StoreQuery.wait_until_planned``).
PLAN_WAIT_SECONDS = 0.5


def get_store(uri: str) -> Store:
    """One ``Store`` object per URI per process (it caches footers and known-bad files)."""
    from tracker.uri import open_store, resolve_local_path

    # Key by the folder, not the text: "./tracking" names another store after a chdir.
    notice = uri not in _noticed
    _noticed.add(uri)
    key = uri if uri.lower().startswith("s3://") else resolve_local_path(uri, notice=notice)
    store = _stores.get(key)
    if store is None:
        store = open_store(uri)
        _stores[key] = store
    return store


class TrackerClient(
    ExperimentClientMixin,
    ArtifactClientMixin,
    MediaClientMixin,
    RegistryClientMixin,
    LoggedModelClientMixin,
    LegacyClientMixin,
):
    """Read and write experiments, runs, artifacts and the model registry of one store.

    Args:
        tracking_uri: the store (a folder path, ``file:``, ``s3://`` or ``sqlite:///`` URI);
            defaults to the fluent API's URI (``set_tracking_uri``, ``TRACKER_TRACKING_URI``,
            ``./tracking``).
        registry_uri: accepted for MLflow compatibility; the registry lives in the same store.
    """

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        if tracking_uri is None:
            tracking_uri = current_uri()  # the fluent API's URI, as in MLflow
        self.tracking_uri = tracking_uri
        self.store = get_store(self.tracking_uri)
        self._query: StoreQuery | None = None
        self._experiments: dict[str, Experiment] | None = None
        self._experiments_key: tuple[Any, ...] | None = None
        self._created_ns: dict[str, int] = {}

    # -- internals ---------------------------------------------------------------------------

    @property
    def query(self) -> StoreQuery:
        """The query layer over this store (tables are refreshed on each read)."""
        if self._query is None:

            self._query = _shared_query(self.store)
        self.flush(raise_errors=False)
        return self._query

    def flush(self, *, raise_errors: bool = True) -> None:
        """Publish every buffered record of this store now."""
        with _live_lock:
            runs = [r for (root, _), r in _live.items() if root == self.store.fs.root]
        for run in runs:
            if run.pending():
                try:
                    run.flush()
                except StoreError as exc:
                    if raise_errors:
                        raise
                    # Reads go on without these records; they stay in memory for the next flush.
                    log.warning("tracker: reading without unpublished records: %s", exc)

    def _runlog(self, run_id: str) -> RunLog:
        validate_run_id(run_id)
        key = (self.store.fs.root, run_id)
        with _live_lock:
            live = _live.get(key)
            if live is not None and not live.ended:
                return live
        row = self._run_row(run_id)
        params = {p.key: p.value for p in self._params_of(run_id)}
        run = RunLog(
            self.store, row["experiment_id"], run_id, params=params, is_new=False, owner=False
        )
        run.artifact_uri = row["artifact_uri"]
        with _live_lock:
            _live[key] = run
        return run

    def _run_row(self, run_id: str) -> dict[str, Any]:
        from tracker.query.reads import run_exists

        row = run_exists(self.query, run_id)
        if row is None:
            raise NotFoundError(
                f"Run {run_id!r} not found in the store at {self.store.uri}. "
                "Check the id, or the tracking URI."
            )
        return row

    def _params_of(self, run_id: str) -> list[Param]:
        rows = self.query.rows(
            "SELECT key, value FROM params WHERE run_id = $id ORDER BY key", {"id": run_id}
        )
        return [Param(r["key"], r["value"]) for r in rows]

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        *,
        parent_run_id: str | None = None,
        description: str | None = None,
    ) -> Run:
        """Start a new RUNNING run in ``experiment_id`` and return it."""
        experiment = self.get_experiment(str(experiment_id))
        if experiment.experiment_id == DEFAULT_EXPERIMENT_ID:
            self._ensure_default_experiment()
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidArgumentError(
                f"Experiment {experiment.name!r} ({experiment.experiment_id}) is deleted; restore "
                "it or use another experiment."
            )
        tags = dict(tags or {})
        if run_name is None:
            run_name = str(tags.get(context.RUN_NAME) or random_run_name())
        elif not isinstance(run_name, str):
            raise InvalidArgumentError(f"run_name must be a string, got {run_name!r}.")
        run_id = uuid.uuid4().hex
        from tracker.artifact_locations import own_layout

        location = own_layout(self.store.fs, experiment.artifact_location,
                              experiment.experiment_id)
        artifact_uri = f"{location.rstrip('/')}/{run_id}/artifacts"
        start = int(time.time() * 1000) if start_time is None else int(start_time)
        from tracker.store.store import local_owner

        host, pid = local_owner()
        run = RunLog(self.store, experiment.experiment_id, run_id, is_new=True)
        run.artifact_uri = artifact_uri
        for key, value in (
            ("run_name", run_name),
            ("status", RunStatus.RUNNING),
            ("start_time", str(start)),
            ("user_id", str(tags.get(context.USER) or context.current_user())),
            ("artifact_uri", artifact_uri),
            ("lifecycle_stage", LifecycleStage.ACTIVE),
            ("host", host),
            ("pid", str(pid)),
        ):
            run.set_attribute(key, value, start)
        all_tags = {**context.system_tags(), **tags, context.RUN_NAME: run_name}
        if parent_run_id:
            all_tags[context.PARENT_RUN_ID] = parent_run_id
        if description is not None:
            all_tags[context.NOTE] = description
        for key, value in all_tags.items():
            run.set_tag(key, value)
        with _live_lock:
            _live[(self.store.fs.root, run_id)] = run
        info = RunInfo(
            run_id=run_id,
            experiment_id=experiment.experiment_id,
            run_name=run_name,
            user_id=all_tags[context.USER],
            status=RunStatus.RUNNING,
            start_time=start,
            end_time=None,
            artifact_uri=artifact_uri,
        )
        return Run(info, RunData(tags={k: str(v) for k, v in all_tags.items()}))

    def resume_run(self, run_id: str) -> Run:
        """Mark an existing run RUNNING again in this process (``start_run(run_id=…)``)."""
        run = self._runlog(run_id)
        if run.ended:
            run = self._fresh_runlog(run_id)
        run.owner = True
        run.set_attribute("status", RunStatus.RUNNING)
        run.set_attribute("end_time", None)
        from tracker.store.store import local_owner

        host, pid = local_owner()
        run.set_attribute("host", host)
        run.set_attribute("pid", str(pid))
        return self.get_run(run_id)

    def _fresh_runlog(self, run_id: str) -> RunLog:
        with _live_lock:
            _live.pop((self.store.fs.root, run_id), None)
        return self._runlog(run_id)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run: record its status and publish all it logged."""
        RunStatus.from_string(status)
        run = self._runlog(run_id)
        run.end(status, end_time)
        with _live_lock:
            _live.pop((self.store.fs.root, run_id), None)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        run = self._runlog(run_id)
        if status is not None:
            run.set_attribute("status", RunStatus.from_string(status))
        if name is not None:
            run.set_attribute("run_name", name)
            run.set_tag(context.RUN_NAME, name)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        self._runlog(run_id).log_param(key, value)
        if synchronous:
            self._runlog(run_id).flush()
        return value

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: Any,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> None:
        run = self._runlog(run_id)
        link = None
        if model_id is not None or dataset_name is not None or dataset_digest is not None:
            from tracker.logged_models import link_json, validate_model_id

            link = link_json(model_id and validate_model_id(model_id), dataset_name,
                             dataset_digest)
        run.log_metric(key, value, step or 0, timestamp, link)
        if synchronous:
            run.flush()

    def log_batch(
        self,
        run_id: str,
        metrics: list[Metric] | tuple[Metric, ...] = (),
        params: list[Param] | tuple[Param, ...] = (),
        tags: list[RunTag] | tuple[RunTag, ...] = (),
        synchronous: bool | None = None,
    ) -> None:
        """Log many metrics, params and tags in one call (entities or (key, value) pairs)."""
        run = self._runlog(run_id)
        for p in params:
            run.log_param(*_pair(p, "param"))
        for t in tags:
            run.set_tag(*_pair(t, "tag"))
        for m in metrics:
            if not isinstance(m, Metric):
                raise InvalidArgumentError(f"log_batch metrics must be Metric objects, got {m!r}.")
            link = None
            if m.model_id is not None or m.dataset_name is not None:
                from tracker.logged_models import link_json, validate_model_id

                link = link_json(m.model_id and validate_model_id(m.model_id), m.dataset_name,
                                 m.dataset_digest)
            run.log_metric(m.key, m.value, m.step, m.timestamp, link)
        if synchronous:
            run.flush()

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        self._runlog(run_id).set_tag(key, value)

    def delete_tag(self, run_id: str, key: str) -> None:
        run = self.get_run(run_id)
        if key not in run.data.tags:
            raise NotFoundError(f"Run {run_id} has no tag {key!r}; it has {sorted(run.data.tags)}.")
        self._runlog(run_id).delete_tag(key)

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and inputs."""
        from tracker.query.reads import get_run

        validate_run_id(run_id)
        return get_run(self.query, run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        from tracker.query.reads import metric_history

        self._run_row(validate_run_id(run_id))
        return metric_history(self.query, run_id, key)

    def search_runs(
        self,
        experiment_ids: list[str] | str | None = None,
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs matching an MLflow filter string, as ``Run`` entities (``.token``: next page)."""
        from tracker.query.reads import runs_by_id, search_runs

        ids = None if experiment_ids is None else self._experiment_ids(experiment_ids)
        # Paging helpers load here, not at import: tracker.store is not needed to log.
        from tracker.store.entities.paged_list import (
            PagedList,
            check_max_results,
            page_offset,
            paginate,
        )

        offset = page_offset(page_token)
        size = check_max_results(max_results, "search_runs")
        run_ids = search_runs(
            self.query, ids, filter_string, run_view_type,
            None if size is None else size + offset + 1, order_by,
        )
        page = paginate(run_ids, size, page_token, "search_runs")
        return PagedList(runs_by_id(self.query, list(page)), page.token)

    def search_runs_frame(
        self,
        experiment_ids: list[str] | None,
        filter_string: str | None = None,
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: list[str] | None = None,
    ) -> pd.DataFrame:
        """Like ``search_runs`` but MLflow's DataFrame (``metrics.*``, ``params.*``, ``tags.*``)."""
        from tracker.query.reads import runs_dataframe, search_runs, select_runs

        if experiment_ids is not None:
            experiment_ids = self._experiment_ids(experiment_ids)
        query = self.query

        def find() -> list[str]:
            return search_runs(
                query, experiment_ids, filter_string, run_view_type, max_results, order_by
            )

        with query.working():  # a snapshot being saved waits for the DataFrame
            if query.cold:
                # A new process on a store as its last snapshot left it: no DuckDB at all.
                from tracker.query import express

                frame = express.search(query, experiment_ids, filter_string, run_view_type,
                                       max_results, order_by)
                if frame is not None:
                    return frame
                # A new process: DuckDB imports, connects, loads the store and finds the runs
                # on another thread while pandas imports on this one (#16).
                from tracker.query import Ahead

                def find_ahead() -> tuple[list[str], Any]:
                    try:
                        found = find()
                    finally:
                        query.stop_waiting_for_plan()
                    if not found:
                        return found, None
                    query.warm_timestamps()  # the DataFrame's start and end times
                    return found, select_runs(query, found)

                ahead = Ahead(find_ahead, "tracker-search")
                query.wait_until_planned(PLAN_WAIT_SECONDS)  # see StoreQuery.wait_until_planned
                import pandas  # noqa: F401

                run_ids, selected = ahead.result()
                return runs_dataframe(query, run_ids, selected)
            return runs_dataframe(query, find())

    def experiment_stats(self) -> dict[str, tuple[int, int | None]]:
        """Per experiment id: (runs not deleted, last activity in ms or None)."""
        from tracker.query.reads import experiment_stats

        return experiment_stats(self.query)

    def dead_run_ids(self) -> set[str]:
        """Ids of runs whose process died while they were RUNNING."""
        from tracker.query.reads import dead_run_ids

        return dead_run_ids(self.query)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run (hidden from searches by default; ``restore_run`` undoes it)."""
        self._runlog(run_id).set_attribute("lifecycle_stage", LifecycleStage.DELETED)
        self._runlog(run_id).flush()

    def restore_run(self, run_id: str) -> None:
        self._runlog(run_id).set_attribute("lifecycle_stage", LifecycleStage.ACTIVE)
        self._runlog(run_id).flush()

    # -- inputs -----------------------------------------------------------------------------

    def log_inputs(self, run_id: str, datasets: list[Any]) -> None:
        """Record dataset inputs: ``tracker.data`` datasets or ``DatasetInput`` entities."""
        run = self._runlog(run_id)
        for item in datasets:
            from tracker.data import input_record

            key, value = input_record(item)
            run.add_record("input", key, value)

    # -- artifacts --------------------------------------------------------------------------

    def _artifact_uri(self, run_id: str) -> str:
        key = (self.store.fs.root, validate_run_id(run_id))
        with _live_lock:
            live = _live.get(key)
        if live is not None and live.artifact_uri:
            return live.artifact_uri
        cached = _artifact_uris.get(key)
        if cached is None:
            from tracker.artifact_locations import own_layout

            row = self._run_row(run_id)
            cached = _artifact_uris[key] = own_layout(
                self.store.fs, str(row["artifact_uri"]), str(row["experiment_id"]), run_id)
        return cached

    # -- SQL --------------------------------------------------------------------------------

    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Run SQL over the store's tables (see ``tracker.query``), the registry's
        ``model_versions`` and ``registered_models`` included, and return a DataFrame."""
        return self.query.sql(query, params, registry=self.registry.every_model)


def _shared_query(store: Store) -> StoreQuery:
    from tracker.query import StoreQuery

    cached = getattr(store, "_shared_query", None)
    if cached is None:
        cached = StoreQuery(store)
        store._shared_query = cached  # type: ignore[attr-defined]
    return cached


def _pair(item: Any, what: str) -> tuple[str, Any]:
    if hasattr(item, "key") and hasattr(item, "value"):
        return item.key, item.value
    if isinstance(item, tuple) and len(item) == 2:
        return item[0], item[1]
    raise InvalidArgumentError(f"log_batch {what}s must be entities or (key, value) pairs, got {item!r}.")


def flush() -> None:
    """Publish every buffered record of this process, in every store."""
    flush_all()


MlflowClient = TrackerClient
