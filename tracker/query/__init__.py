"""The query layer: DuckDB tables over a store's records, and typed reads on top.

Tables (see ``views.py``): ``experiments``, ``experiment_tags``, ``runs``, ``params``,
``metrics`` (every point), ``latest_metrics``, ``tags``, ``artifacts``, ``inputs``, the raw
``records``, and MLflow 3's ``logged_models`` with ``logged_model_params``, ``logged_model_tags``
and ``logged_model_metrics`` (``tracker.query.logged``). ``StoreQuery.sql`` runs any SELECT over
them and returns a DataFrame; there the registry's ``model_versions`` and ``registered_models``
are also made (``tracker.query.registry_tables``), for queries that name them, from the fold the
client layer hands over.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from tracker.exceptions import InvalidArgumentError, StoreError
from tracker.query import (
    express,
    in_place,
    published,
    registry_tables,
    snapshot,
    snapshot_records,
    views,
)

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from tracker.query.wide import WideTable
    from tracker.store.store import ReadPlan, Store

log = logging.getLogger("tracker.query")

DEAD_AFTER_MS = 300_000
# Loading at least this many files at once runs on one DuckDB thread (``StoreQuery._threads``).
MANY_FILES = in_place.MANY_FILES
# The in-memory database holding the tables (compressed when checkpointed), and the loads that
# are compressed as they go: files of at least BIG_LOAD_BYTES in all are loaded CHUNK_ROWS
# records at a time, each chunk compressed before the next is read (``_insert_in_chunks``).
TABLES_DB = "tracker_tables"
BIG_LOAD_BYTES = 16 << 20
CHUNK_ROWS = 1_000_000
# A first load into tables of at least this many records leaves ``in_place.LAZY`` as views of
# their fold until the background snapshot save folds them (``_fold_later``).
LAZY_FOLD_ROWS = 20_000
# How long a save of published tables waits to see whether a load changed them meanwhile.
CHANGE_WAIT = 1.0
# Published records, set aside while the records of new files are published (``_load_published``).
_PUBLISHED_RECORDS = "records_published"


def _names_a_lazy_view(sql: str) -> bool:
    """Whether ``sql`` names ``metrics`` or a logged-model view, which a restored snapshot makes
    only when a query names one (``StoreQuery._execute``; ``latest_metrics`` is a table; a
    regex would cost a new process ~1 ms to compile)."""
    text = sql.lower()
    if "logged_model" in text:
        return True
    start = text.find("metrics")
    while start >= 0:
        if start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "_"):
            return True
        start = text.find("metrics", start + 1)
    return False


__all__ = ["PublishFilter", "StoreQuery", "connect"]


class PublishFilter(Protocol):
    """What a published view of a store leaves out or rewrites (``tracker.site.publish``).

    A filter that also has ``fingerprint() -> str`` (a text that changes whenever what it
    leaves out or rewrites may change) gets its published tables saved between processes
    (``tracker.query.published``); one without is applied to a full load every time.
    """

    def keeps_experiment(self, name: str | None) -> bool:
        """False to drop every record of the experiment called ``name`` (None: no name)."""
        ...

    def keeps_metric(self, key: str) -> bool:
        """False to drop every point of the metric ``key``."""
        ...

    def scrub(self, kind: str, key: str, value: str) -> str:
        """The value to keep of a text record (``kind``: param, tag, run, input, …)."""
        ...

    def scrub_key(self, kind: str, key: str) -> str:
        """The key to keep of a record whose key is a name (param, tag, metric, artifact)."""
        ...


_connections: weakref.WeakSet[Any] = weakref.WeakSet()


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never tries to download extensions (there is no network)."""
    import duckdb

    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute("SET enable_progress_bar = false")  # a library must not draw on the terminal
    con.execute("SET TimeZone = 'UTC'")  # *_at columns read the same on every machine (#13)
    if not _connections:
        try:
            atexit.register(_close_all)
        except RuntimeError:  # a query while the interpreter exits: nothing left to close after
            pass
    _connections.add(con)
    return con


class Ahead:
    """``call()`` run on another thread, for work that overlaps an import on this one.

    ``result()`` waits for it and returns what it returned or raises what it raised.
    """

    def __init__(self, call: Callable[[], Any], name: str = "tracker-ahead") -> None:
        _load_time_zones()
        self._call = call
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=False)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # noqa: BLE001 - raised again by result()
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _load_time_zones() -> None:
    """Import ``zoneinfo`` and load UTC on this thread, before work starts on another.

    DuckDB looks time zones up through Python's ``zoneinfo`` on the first ``TIMESTAMPTZ``: on a
    thread running ahead of a pandas import (which imports ``zoneinfo`` too) it failed now and
    then with "Time zone 'UTC' is not available to Python's zoneinfo" (about 1 first search in
    20 once the load no longer waited for the import, #16). ~1 ms, and pandas needs it anyway.
    """
    import zoneinfo

    zoneinfo.ZoneInfo("UTC")


def _close_all() -> None:
    # Closing before interpreter teardown avoids an intermittent abort ("terminate called
    # without an active exception") when DuckDB and pyarrow objects are destroyed late.
    # A snapshot still being saved writes through a cursor of one of them: let it finish first
    # (this hook may have been registered after snapshot's own, which does the same).
    snapshot.wait_for_saves(snapshot.EXIT_WAIT_SECONDS)
    for con in list(_connections):
        try:
            con.close()
        except Exception:  # noqa: BLE001 - at exit, nothing to report to
            pass


def run_is_dead(run_host: str | None, pid: int | None, last_seen: int | None, host: str,
                now: int, pid_alive: Callable[[int], bool]) -> bool:
    """Whether a RUNNING run's process is gone: silent for ``DEAD_AFTER_MS``, or its pid on this
    host has exited (also used by ``tracker.spark`` for the Spark ``runs`` view)."""
    return (last_seen is not None and now - last_seen > DEAD_AFTER_MS) or (
        run_host == host and pid is not None and not pid_alive(int(pid))
    )


_VERSION_KEY = b"tracker.format_version"


def footer_version(path: str) -> Any:
    """The ``tracker.format_version`` in the footer of the local file ``path`` (None: absent;
    ``tracker.store.footer.UNSURE``: read it with pyarrow)."""
    from tracker.store.footer import footer_value

    return footer_value(path, _VERSION_KEY)


class StoreQuery:
    """DuckDB over one store. Reloads only the files that changed since the last call.

    Args:
        store: the store to read.
        tracer: called with every SQL string run (``tracer=print`` to see them).
        publish: applied to the records before the tables are built, so no table or query
            sees what it drops or rewrites (the site build's redaction and experiment rules).
        snapshots: restore and save query snapshots (``tracker.query.snapshot``) when they
            are enabled; False for a store in a temporary folder.
    """

    def __init__(
        self, store: Store, tracer: Callable[[str], Any] | None = None,
        publish: PublishFilter | None = None, *, snapshots: bool = True,
    ) -> None:
        if not isinstance(snapshots, bool):
            raise InvalidArgumentError(f"StoreQuery(snapshots=) takes True or False, got "
                                       f"{snapshots!r}.")
        self.store = store
        self.tracer = tracer
        self.publish = publish
        self._con: duckdb.DuckDBPyConnection | None = None
        self._loaded: dict[str, str] = {}  # full path -> store path
        self._exclude: dict[str, frozenset[str]] = {}
        self._plan_key: tuple[Any, ...] | None = None
        self._restored = False  # tables came from a snapshot and no file has been applied yet
        self._restored_meta = ""  # that snapshot's metadata (``snapshot.working_copy``)
        # With publish rules, files added since the snapshot are applied to a copy of its file
        # (``_work_from_snapshot``): its path, and the database holding the tables meanwhile.
        self._work: str | None = None
        self._tables_db = TABLES_DB
        self._version = 0  # bumped whenever the tables change
        self._no_running_at = -1  # the ``_version`` whose ``runs`` had no RUNNING run
        self._wide: WideTable | None = None
        self._wide_version = -1
        self._wide_later = -1  # the version whose runs_wide a background save will build
        self._express_version = -1  # the version an express file was written or queued for
        self._big_load = False  # the last load was read in compressed chunks, or in place
        # The files ``records`` is a view over (``tracker.query.in_place``), None: a table;
        # and whether the tables of ``in_place.LAZY`` are still views of their fold.
        self._in_place: list[str] | None = None
        self._lazy = False
        self._lazy_reads = 0  # >0: queries may read the lazy views (``lazy_reads``)
        self._built = False  # the derived tables exist (folded, or restored from a snapshot)
        self._views_pending = False  # restored: ``metrics`` and the logged-model views not made
        # Held while the tables change or runs_wide is built; a background snapshot save holds
        # it only to build runs_wide and to check that no load changed the tables meanwhile.
        self._lock = threading.RLock()
        self._last_active = 0.0  # time.monotonic() of the last query this process ran
        self._working = 0  # calls in progress that will query again (see ``working``)
        self._models_key: tuple[Any, ...] | None = None  # logged-model files loaded
        # With publish rules: the experiments published so far (``tracker.query.published``),
        # and a lock held while ``records`` may hold records not yet published (a load) or
        # while a snapshot of the published tables is copied, so none holds unredacted ones.
        self._published: published.Published | None = None
        self._publishing = threading.Lock()
        self._use_snapshots = snapshots
        self._registry_rows: dict[str, list[tuple[Any, ...]]] = {}  # the rows of each, as made
        self._ahead: threading.Thread | None = None  # a first load on another thread
        # Set once a refresh has planned its reads, or ended (``wait_until_planned``).
        self._planned = threading.Event()

    @property
    def warnings(self) -> list[str]:
        """One message per unreadable store file skipped so far, naming the file."""
        return self.store.warnings

    # -- connection and refresh --------------------------------------------------------------

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection, with every table and view of the query layer."""
        con = self._connection()
        if self._views_pending:
            self._create_views()
        return con

    @property
    def cold(self) -> bool:
        """Nothing loaded yet: the next query imports DuckDB, connects and loads the store."""
        return self._con is None and self._ahead is None

    def warm_timestamps(self) -> None:
        """Make DuckDB set up its time zones (~6 ms, on the first ``TIMESTAMPTZ``) now: for a
        thread that runs ahead of a call whose result has timestamps (#16)."""
        self._connection().execute("SELECT epoch_ms(0)::TIMESTAMPTZ").fetchall()

    def load_ahead(self) -> None:
        """Start this query's first load (importing DuckDB, connecting, restoring the
        snapshot, reading new files) on another thread, for a call that must import pandas
        meanwhile: a new process's first search spent ~40 ms importing DuckDB, ~22 ms opening
        a database (whatever its config) and ~10 ms restoring its snapshot, mostly native
        code, while pandas took ~270 ms to import with one of the two cores idle (#16).

        The thread's errors are not raised there: the caller's own ``refresh`` (which waits
        for the thread) does the same work again and raises them.
        """
        if self._con is None and self._ahead is None:
            _load_time_zones()
            self._ahead = threading.Thread(target=self._load_quietly, name="tracker-load",
                                           daemon=False)
            self._ahead.start()

    def wait_until_planned(self, timeout: float) -> None:
        """Before a first load from the store's files: wait (at most ``timeout`` seconds)
        until a refresh, on any thread, has listed the store and planned its reads, or ended.
        Returns at once when a snapshot is to be restored instead.

        A new process's first search imports pandas while the store loads on another thread
        (``tracker.client``), but listing and planning 2,000 loose runs is Python code that the
        import starved of the GIL: the load's DuckDB statements, which run without it, started
        only once pandas was imported (first process ever: ~0.24 s for ~45 ms of listing, #16).
        Waiting for the plan lets them run while pandas imports. A restore is short: waiting
        would only put DuckDB's import before pandas' (+80 ms on a compacted store). Planning
        before DuckDB's import instead left the plan starved again when a snapshot is restored
        (+40 ms on 2,000 loose runs), so the wait covers DuckDB's import and connection too.
        """
        if self._snapshots() and os.path.exists(self._snapshot_path()):
            return
        self._planned.wait(timeout)

    def stop_waiting_for_plan(self) -> None:
        """Let ``wait_until_planned`` return now (a search that failed before its refresh)."""
        self._planned.set()

    def _load_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.refresh()

    def _join_ahead(self) -> None:
        """Wait for ``load_ahead``'s thread, unless this is it."""
        ahead = self._ahead
        if ahead is not None and ahead is not threading.current_thread():
            ahead.join()
            self._ahead = None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._join_ahead()
        if self._con is None:
            # The derived tables are made by the first refresh (folded, or restored from a
            # snapshot): folding an empty store first cost a new process ~40 ms (#16). The
            # logged-model views come with them (they read ``metrics``): ``_model_views``.
            self._con = connect()
            # Tables live in an in-memory database that compresses what is checkpointed: a
            # big load is checkpointed chunk by chunk (``_insert_in_chunks``), so 3.7 M
            # records take ~75 MB instead of ~975 MB (#16).
            self._con.execute(f"ATTACH ':memory:' AS {TABLES_DB} (COMPRESS)")
            self._con.execute(f"USE {TABLES_DB}")
            self._execute(views.EMPTY_RECORDS)
            self._execute(views.EMPTY_LOGGED_MODEL_RECORDS)
        return self._con

    def _execute(self, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        if self.tracer is not None:
            self.tracer(sql.strip())
        self._last_active = time.monotonic()
        if self._ahead is not None:
            self._join_ahead()
        con = self._con if self._con is not None else self._connection()
        if self._views_pending and _names_a_lazy_view(sql):
            self._create_views()
        if self._lazy and not self._lazy_reads and in_place.names_lazy(sql):
            self._fold_lazy_now()  # only a search's filter reads the views of their fold
        return con.execute(sql, params) if params is not None else con.execute(sql)

    def refresh(self) -> StoreQuery:
        """Bring the tables up to date with the store's files."""
        try:
            self._refresh()
        finally:
            self._planned.set()  # also when it failed before planning: nobody waits in vain
        return self

    def _refresh(self) -> None:
        self._join_ahead()
        with self._lock:
            con = self._connection()
            self.store.read_format_warning()
            for _attempt in range(5):
                plan = self.store.plan(cached=True)  # re-lists changed folders only
                self._planned.set()
                try:
                    self._apply(plan)
                    break
                except FileNotFoundError:
                    # A compactor removed a file between listing and reading: plan again, from
                    # a listing of every folder (not one that trusted folder times).
                    self.store.fs.forget_listings()
                    continue
            else:
                raise StoreError(f"The store at {self.store.uri} kept changing while being read.")
            if not self._built:
                self._rebuild()
            self._mark_dead(con)
            from tracker.query import logged

            self._models_key = logged.refresh(self, self._models_key)

    def _apply(self, plan: ReadPlan, *, work: bool = True) -> None:
        fs = self.store.fs
        key = (plan.files, tuple(sorted(plan.exclude.items())))
        if key == self._plan_key and self._built:
            return
        if self._plan_key is None and not self._loaded and self._snapshots():
            self._restore_snapshot()
        started = time.perf_counter()
        wanted = {fs.full_path(p): p for p in plan.files}
        exclude = {fs.full_path(p): segs for p, segs in plan.exclude.items()}
        if self._restored:
            if exclude == self._exclude and wanted.keys() == self._loaded.keys():
                self._plan_key = key
                self._express_later()
                return  # the snapshot holds exactly these files
            same_base = exclude == self._exclude and not self._republish(wanted)
            # Published tables (a build): the new files go into a copy of the snapshot's file,
            # which then becomes the snapshot (#14: copying its tables into memory was most of
            # a rebuild's load). Plain tables are copied into memory (a process that goes on
            # reading new files would copy the file again each time it saved).
            if not (same_base and work and self.publish is not None
                    and self._work_from_snapshot()):
                snapshot.detach(self._connection(), keep_records=same_base)
            self._restored = False
            if not same_base:
                self._loaded = {}
                self._views_pending = False  # over tables that are gone: the rebuild makes them
        # Published tables are made again from every file when a file they hold is gone (a
        # compaction) or the rules or files that decide which experiments are hidden changed:
        # correct first; these are rare next to a new run, which is published on top (#14).
        if exclude != self._exclude or self._republish(wanted):
            self._loaded = {}
            self._empty_records()
        try:
            if self.publish is None:
                from_scratch, added, removed, touched = self._load(wanted, exclude)
            else:
                from_scratch, added, removed, touched = self._load_published(wanted, exclude)
            self._plan_key = key
            if from_scratch or not self._built:
                self._rebuild()
            else:
                if self.publish is None:  # published: found while they were apart
                    touched.update(self._runs_in(added))
                self._refold(touched)
        except BaseException:
            if self._work is not None:  # half applied: never a snapshot; the next call loads
                self._leave_work(None)
            raise
        self._version += 1
        if self._work is not None:
            # The copy holds exactly ``wanted`` now: it becomes the snapshot, and its tables
            # are served from there as a restored snapshot's are (nothing read again).
            meta = snapshot.meta_text(
                self.store.fs.uri(), self._loaded, self._exclude, self._publish_key(),
                self._published.as_json() if self._published is not None else None,
            )
            self._leave_work(meta)
            self._apply(plan, work=False)  # restores it (or, if that failed, loads again)
            return
        # Save after a full load, or once many files came on top of the snapshot; saving after
        # every small change would cost more than the refold it saves the next process.
        worth_it = from_scratch or len(added) + len(removed) >= snapshot.STALE_FILES
        # Tables read in place are always saved: the save is what folds the lazy ones.
        if worth_it and self._snapshots() and (
            time.perf_counter() - started >= snapshot.MIN_LOAD_SECONDS or self._lazy
        ):
            self._save_later()
        else:
            self._express_later()

    def _load_published(
        self, wanted: dict[str, str], exclude: dict[str, frozenset[str]]
    ) -> tuple[bool, list[str], list[str], set[str]]:
        """``_load``, then the publish rules applied to the records loaded (all of them, or
        those of the new files on top of published ones), holding ``_publishing``.

        On top of published records, the new files are loaded into a ``records`` table of their
        own (the published ones set aside as ``records_published``) and published there, then
        appended: each of the rules' queries would otherwise scan the file names of every
        record to find the new ones (~0.1 s each at 100,000 runs, #14). No file is removed
        then (``_republish``), so the new records are all there is to publish. In a working
        copy whose records are kept apart (``snapshot_records``), they are appended to its
        delta.
        """
        assert self.publish is not None
        with self._publishing:
            apart = self._work is not None and snapshot_records.attached(self._connection())
            staged = bool(self._loaded) or apart
            try:
                if apart:
                    snapshot_records.set_aside(self._connection(), views.EMPTY_RECORDS)
                elif staged:
                    self._execute(f"ALTER TABLE records RENAME TO {_PUBLISHED_RECORDS}")
                    self._execute(views.EMPTY_RECORDS)
                from_scratch, added, removed, touched = self._load(wanted, exclude)
                if not from_scratch and published.names_experiments(self, added):
                    # An experiment created, renamed or deleted may change which are published.
                    if self._work is not None:  # loaded in memory and saved as a first load is
                        self._leave_work(None)  # (in the copy, its old blocks would stay free)
                    staged = apart = False
                    self._execute(f"DROP TABLE IF EXISTS {_PUBLISHED_RECORDS}")
                    self._loaded = {}
                    self._empty_records()
                    from_scratch, added, removed, touched = self._load(wanted, exclude)
                self._published = published.apply(
                    self, self.publish, None if from_scratch else added, self._published
                )
                if staged:
                    touched.update(self._runs_in(added))
                if apart:
                    snapshot_records.put_back(self._connection(), snapshot.WORK)
                elif staged:
                    self._execute(f"INSERT INTO {_PUBLISHED_RECORDS} BY NAME FROM records")
                    self._execute("DROP TABLE records")
                    self._execute(f"ALTER TABLE {_PUBLISHED_RECORDS} RENAME TO records")
            except BaseException:
                # Records loaded but not published must never be folded by a later call.
                self._loaded, self._published = {}, None
                self._execute(f"DROP TABLE IF EXISTS {_PUBLISHED_RECORDS}")
                if apart:  # the working copy is thrown away (``_apply``)
                    snapshot_records.forget_view(self._connection())
                self._empty_records()
                raise
        return from_scratch, added, removed, touched

    def _republish(self, wanted: dict[str, str]) -> bool:
        """Whether published tables must be made again from every file to hold ``wanted``:
        a file they hold is gone (compacted), or nothing says which experiments are hidden."""
        return self.publish is not None and (
            self._published is None or any(f not in wanted for f in self._loaded)
        )

    def _load(
        self, wanted: dict[str, str], exclude: dict[str, frozenset[str]]
    ) -> tuple[bool, list[str], list[str], set[str]]:
        """Load the files of ``wanted`` not loaded yet and drop those gone; return whether
        it was from scratch, the files loaded and removed, and the runs the removed ones held."""
        fs = self.store.fs
        if self._in_place is not None and (wanted.keys() != self._loaded.keys() or exclude):
            self._leave_in_place(wanted)
        elif self._lazy and (wanted.keys() != self._loaded.keys() or exclude != self._exclude):
            self._fold_lazy_now()  # the tables are changed row by row (``_refold``)
        from_scratch = not self._loaded
        self._big_load = False
        removed = [f for f in self._loaded if f not in wanted]
        added = [f for f in wanted if f not in self._loaded]
        touched: set[str] = set()
        if removed:
            touched.update(self._runs_in(removed))
            self._execute(views.DELETE_FILES, {"files": removed})
        if added and not fs.is_local:
            added = self._insert_remote(added, wanted)
        if added and fs.is_local:
            if from_scratch and in_place.applies(self, added, exclude, BIG_LOAD_BYTES):
                added = self._read_in_place(added, wanted)
            else:
                added = self._insert_local(added, wanted)
            self._check_versions(added, wanted)
        for path, segs in exclude.items():
            self._execute(views.DELETE_SEGS, {"file": path, "segs": sorted(segs)})
        now_loaded = set(added).union(self._loaded)  # a set: ``in added`` was O(n²) at 10,000
        self._loaded = {f: p for f, p in wanted.items() if f in now_loaded}
        self._exclude = exclude
        return from_scratch, added, removed, touched

    def wide_table(self) -> WideTable | None:
        """The columns of ``runs_wide`` (see ``tracker.query.wide``), built once per change of
        the tables; None when the store has too many keys for one table."""
        with self._lock:
            if self._wide_version != self._version:
                from tracker.query import wide

                self._wide = wide.build(self)
                self._wide_version = self._version
            return self._wide

    @contextlib.contextmanager
    def lazy_reads(self) -> Iterator[StoreQuery]:
        """A context manager around queries that may read the ``in_place.LAZY`` tables while
        they are views of their fold (a search's filter: DuckDB folds only the keys it names).
        Any other query naming one folds them into tables first (``_fold_lazy_now``), as a load
        into tables did: each query would fold them again."""
        self._lazy_reads += 1
        try:
            yield self
        finally:
            self._lazy_reads -= 1

    def _fold_lazy_now(self) -> None:
        """Fold the ``in_place.LAZY`` views into tables now (the save would do it later)."""
        with self._lock, self.lazy_reads():
            if self._lazy:
                in_place.materialize(self, self._in_place or [], self._execute, records=False,
                                     lazy=True, database=self._tables_db)
                self._lazy = False

    def reads_in_place(self) -> bool:
        """Whether the tables of ``in_place.LAZY`` are still views of their fold, over the
        store's files or over ``records`` (a big first load, until the background save folds
        them: ``_read_in_place``, ``_fold_later``)."""
        return self._lazy

    def folds_from_table(self) -> bool:
        """Whether the ``in_place.LAZY`` tables are views of their fold over the ``records``
        table (``_fold_later``), not over files read in place."""
        return self._lazy and self._in_place is None

    def _fold_later(self) -> bool:
        """Whether a first load into the ``records`` table leaves the ``in_place.LAZY`` tables
        as views of their fold, for the background snapshot save to fold after the result:
        a search's filter folds only the keys it names, its DataFrame only its runs. The first
        process ever on 2,000 loose runs spent ~60 ms of its ~0.9 s folding them and building
        ``runs_wide`` before its result (#16). Only with a save to come (it folds them), no
        publish rules, and at least ``LAZY_FOLD_ROWS`` records (small loads fold at once)."""
        if self._in_place is not None or self.publish is not None or not self._snapshots():
            return False
        (rows,) = self._execute("SELECT count(*) FROM records").fetchone() or (0,)
        return int(rows) >= LAZY_FOLD_ROWS

    def wide_table_later(self) -> bool:
        """Whether ``runs_wide`` is not built for the current tables and a background snapshot
        save will build it (after a big load): a search then pivots just its own runs
        (``wide.select_long``) instead of building the table before its result (#16)."""
        return self._wide_version != self._version and self._wide_later == self._version

    def _save_later(self) -> None:
        """Save a snapshot of the tables as they are now, after the caller has its result.

        A thread writes it through a cursor of its own (DuckDB connections are not shared
        between threads) once the process is idle, table by table; the file is put in place
        only if no load changed the tables in the meantime (``_version``, checked under
        ``_lock``, which every change holds), so it holds exactly the files in ``_loaded`` now.
        Peak memory stays near that of the load: each table is written out before the next.
        """
        version, loaded, exclude = self._version, dict(self._loaded), dict(self._exclude)
        cursor = self._connection().cursor()
        cursor.execute(f"USE {TABLES_DB}")  # a cursor starts in the default database
        path, uri = self._snapshot_path(), self.store.fs.uri()
        key = self._publish_key()
        state = self._published.as_json() if self._published is not None else None
        # Published tables are copied while no load can put unpublished records in them.
        guard = self._publishing if self.publish is not None else contextlib.nullcontext()

        def save() -> None:
            try:
                snapshot.wait_until_idle(self._idle_for)
                with self._lock:
                    if self._version != version:
                        return  # changed since: the load that changed it saves again
                    cursor.execute("SET threads = 1")  # a cache: less memory, a core left free
                    try:
                        if self._lazy:
                            # Folded before they are saved; records read in place stay a view:
                            # the save copies them from the files into its own, not into memory.
                            in_place.materialize(self, self._in_place or [], cursor.execute,
                                                 records=False, lazy=True,
                                                 database=self._tables_db)
                            self._lazy = False
                        if self._wide_version != version:  # saved too: a first search needs it
                            from tracker.query import wide

                            self._wide = wide.build(self, execute=cursor.execute)
                            self._wide_version = version
                    except BaseException:
                        cursor.execute("RESET threads")
                        raise
                    wide_columns = self._wide.as_json() if self._wide else None
                    # Compress the tables in memory before copying them: the copy's slices
                    # then sit beside compressed tables (2,000 loose runs: peak 245 -> 230 MB).
                    # Under the lock, so no load is writing meanwhile.
                    try:
                        cursor.execute(f"CHECKPOINT {TABLES_DB}")
                    except Exception as exc:  # noqa: BLE001 - only memory is at stake
                        log.debug("could not compress the tables before a save: %s", exc)

                def unchanged() -> bool:
                    # Published tables are copied holding ``_publishing``, which a load waits
                    # for holding ``_lock``: wait for ``_lock`` only a moment (a load in
                    # progress changes the tables anyway, and the copy is thrown away).
                    if not self._lock.acquire(timeout=-1 if key is None else CHANGE_WAIT):
                        return False
                    try:
                        return self._version == version
                    finally:
                        self._lock.release()

                try:
                    with guard:
                        saved = snapshot.save(cursor, path, uri, loaded, exclude, wide_columns,
                                              unchanged, publish_key=key, published=state)
                    if saved and self.publish is None:
                        # Then the file a new process's first search reads (#16).
                        self._write_express(cursor, version, loaded, exclude, path)
                finally:
                    cursor.execute("RESET threads")
            finally:
                cursor.close()

        # After a big load the save builds runs_wide, not the search (2,000 runs: the save's
        # peak memory would grow by ~5 MB for ~20 ms saved, so small loads build it first).
        self._wide_later = version if self._big_load or self._lazy else -1
        if not snapshot.in_background(save, cursor):
            self._wide_later = -1
            cursor.close()

    def _express_later(self) -> None:
        """Bring the express file (``tracker.query.express``) up to date with the tables, in
        the background once the process is idle, when no snapshot save is to: after a restore
        by a tracker that wrote none, or after a few files were applied, so the next new
        process's first search can skip DuckDB. Once per change of the tables."""
        if (self.publish is not None or not self._snapshots() or self._lazy
                or self._express_version == self._version):
            return
        version = self._version
        self._express_version = version
        loaded, exclude, path = dict(self._loaded), dict(self._exclude), self._snapshot_path()
        cursor = self._connection().cursor()
        cursor.execute(f"USE {self._tables_db}")

        def refresh() -> None:
            try:
                snapshot.wait_until_idle(self._idle_for)
                if not express.current(path, loaded, exclude):
                    self._write_express(cursor, version, loaded, exclude, path)
            finally:
                cursor.close()

        if not snapshot.in_background(refresh, cursor):
            cursor.close()

    def _write_express(self, cursor: Any, version: int, loaded: dict[str, str],
                       exclude: dict[str, frozenset[str]], path: str) -> None:
        """Write the express file of the tables as they were at ``version`` (holding
        ``loaded`` minus ``exclude``) through a background ``cursor``, building ``runs_wide``
        for them first if it is not (on one DuckDB thread; at exit only for a small store:
        ``express.worth_building``). Nothing when a load changed the tables since: that
        change brings the file up to date."""
        with self._lock:
            if self._version != version:
                return
            if self._wide_version != version:
                if not express.worth_building(cursor.execute, snapshot.exiting()):
                    return
                from tracker.query import wide

                cursor.execute("SET threads = 1")  # a cache: a core left to the caller
                try:
                    self._wide = wide.build(self, execute=cursor.execute)
                finally:
                    cursor.execute("RESET threads")
                self._wide_version = version
            express.write(cursor.execute, path, loaded, exclude, self._wide)
            self._express_version = version

    def _idle_for(self) -> float:
        """Seconds since this query layer last ran a query (0 while a call is in progress)."""
        return 0.0 if self._working else time.monotonic() - self._last_active

    @contextlib.contextmanager
    def working(self) -> Iterator[StoreQuery]:
        """A context manager around a call that queries several times (a search and its
        DataFrame): a background snapshot save does not start in the middle of it."""
        self._working += 1
        try:
            yield self
        finally:
            self._working -= 1
            self._last_active = time.monotonic()

    def wait_for_snapshot(self, timeout: float | None = None) -> bool:
        """Wait until snapshots being saved in the background are written (tests, benchmarks);
        True when none is left."""
        return snapshot.wait_for_saves(timeout)

    def _snapshots(self) -> bool:
        """Whether tables are restored from and saved to snapshots: with publish rules, only
        when they have a fingerprint, in a snapshot of their own (``_publish_key``)."""
        return self._use_snapshots and snapshot.enabled() and (
            self.publish is None or self._publish_key() is not None
        )

    def _publish_key(self) -> str | None:
        """The digest naming the snapshot of the tables published with ``publish`` (None:
        plain tables, or rules that cannot be cached)."""
        return published.cache_key(self.publish) if self.publish is not None else None

    def _runs_in(self, files: list[str]) -> list[str]:
        if not files:
            return []
        rows = self._execute(
            "SELECT DISTINCT run_id FROM records WHERE filename IN (SELECT unnest($files)) "
            "AND run_id IS NOT NULL", {"files": files}
        ).fetchall()
        return [row[0] for row in rows]

    def _refold(self, runs: set[str]) -> None:
        """Redo the derived tables after a few files changed: only the rows of ``runs``."""
        names_before = self._execute(views.EXPERIMENT_NAME_ROWS).fetchall()
        for name, sql in views.DERIVED.items():
            if name not in views.RUN_TABLES:
                self._execute(sql)  # experiments and their tags: few rows, folded whole
        renamed = set(self._execute(views.EXPERIMENT_NAME_ROWS).fetchall()) - set(names_before)
        if renamed:  # the other runs' rows name their experiment too (#13)
            self._execute(views.TOUCHED_EXPERIMENTS, {"ids": sorted(eid for eid, _ in renamed)})
            for name in views.NAMED_TABLES:
                self._execute(views.rename_experiments(name))
            self._execute("DROP TABLE touched_experiments")
        if not runs:
            return
        self._execute(views.TOUCHED[0], {"runs": sorted(runs)})
        self._execute(views.TOUCHED[1])
        for name in views.RUN_TABLES:
            delete, insert = views.refold(name)
            self._execute(delete)
            self._execute(insert)
        self._execute("DROP TABLE touched_records")
        self._execute("DROP TABLE touched_runs")

    def _snapshot_path(self) -> str:
        return snapshot.path_for(self.store.fs.uri(), self._publish_key())

    def _work_from_snapshot(self) -> bool:
        """Make a copy of the restored snapshot's file the database of the tables
        (``snapshot.working_copy``); False when there is none (still restored)."""
        con = self._connection()
        work = snapshot.working_copy(con, self._snapshot_path(), self._restored_meta)
        if work is None:
            return False
        self._work, self._tables_db = work, snapshot.WORK
        try:
            con.execute(f"USE {snapshot.WORK}")
            con.execute(f"DETACH {TABLES_DB}")  # views over the snapshot, and logged models
            con.execute(f"DETACH {snapshot.ALIAS}")
            con.execute(views.EMPTY_LOGGED_MODEL_RECORDS)
        except BaseException:
            self._leave_work(None)
            raise
        self._views_pending = True  # made again in the copy when a query names one
        self._models_key = None
        return True

    def _leave_work(self, meta: str | None) -> None:
        """Stop using the working copy: put it in place as the snapshot holding ``meta``
        (``snapshot.put_in_place``), or delete it (None). The tables are then empty: the
        next ``_apply`` restores the snapshot, or loads everything."""
        con = self._connection()
        work, self._work = self._work, None
        assert work is not None
        attached = snapshot._attached(con)
        if TABLES_DB not in attached:
            con.execute(f"ATTACH ':memory:' AS {TABLES_DB} (COMPRESS)")
        con.execute(f"USE {TABLES_DB}")
        self._tables_db = TABLES_DB
        if snapshot.ALIAS in attached:
            snapshot.detach(con, keep_records=False)
        con.execute(views.EMPTY_RECORDS)
        con.execute(views.EMPTY_LOGGED_MODEL_RECORDS)
        if meta is None:
            snapshot.discard_working_copy(con, work)
        else:
            snapshot.put_in_place(con, work, self._snapshot_path(), meta)
        snapshot_records.detach(con)  # the records file the copy read
        self._loaded, self._exclude, self._published = {}, {}, None
        self._plan_key, self._built, self._restored = None, False, False
        self._views_pending, self._models_key = False, None

    def _restore_snapshot(self) -> None:
        """Start from the tables a previous process saved for this store, if any."""
        from tracker.query.wide import WideTable

        key = self._publish_key()
        restored = snapshot.restore(
            self._connection(), self._snapshot_path(), self.store.fs.uri(), key
        )
        if restored is None:
            return
        state = published.Published.from_json(restored[3]) if key is not None else None
        if key is not None and state is None:  # published tables without their state: unusable
            snapshot.detach(self._connection(), keep_records=False)
            return
        self._loaded, self._exclude, wide_columns, _, self._restored_meta = restored
        self._published = state
        # ``metrics`` and the logged-model views wait until a query names one: binding them
        # cost a new process's first search ~5 ms, and a search reads neither (#16).
        self._views_pending = True
        self._built = True
        self._restored = True
        self._version += 1
        if wide_columns is not None:
            self._wide = WideTable.from_json(wide_columns)
            self._wide_version = self._version

    def _insert_remote(self, added: list[str], wanted: dict[str, str]) -> list[str]:
        """Load files of a remote store through its filesystem; return the ones loaded."""
        from tracker.store.store import conform_records

        tables = self.store.read_tables([wanted[f] for f in added])
        loaded = [f for f in added if wanted[f] in tables]
        for f in loaded:
            meta = tables[wanted[f]].schema.metadata or {}
            self.store.check_file_version(wanted[f], meta.get(b"tracker.format_version"))
        if loaded:
            con = self.con
            incoming = conform_records([(f, tables[wanted[f]]) for f in loaded])
            con.register("incoming_records", incoming)
            try:
                self._execute(views.INSERT_ARROW_RECORDS)
            finally:
                con.unregister("incoming_records")
        return loaded

    def _check_versions(self, added: list[str], wanted: dict[str, str]) -> None:
        """Warn about loaded local files whose footer names a newer format (#15).

        The version is found in the footer's bytes (``footer_version``, ~0.01 ms a file; pyarrow's
        ``read_metadata`` took 0.1 ms, 0.2 s of a first load of 2,000 loose runs, and DuckDB's
        ``parquet_kv_metadata`` 0.23 ms); a footer it cannot vouch for is read by pyarrow. A
        footer that cannot be read now was read by the load a moment ago.
        """
        from tracker.store.footer import UNSURE

        for full in added:
            try:
                raw = footer_version(full)
            except OSError:  # removed or replaced since: not this check's job
                continue
            if raw is UNSURE:
                import pyarrow.parquet as pq

                try:
                    raw = (pq.read_metadata(full).metadata or {}).get(_VERSION_KEY)
                except Exception:  # noqa: BLE001 - as above
                    continue
            if raw != b"1":
                self.store.check_file_version(wanted[full], raw)

    def _insert_local(self, added: list[str], wanted: dict[str, str]) -> list[str]:
        """Load local files; return the ones loaded. Unreadable ones are left out, each with
        a warning naming it: a bad footer is found by reading footers, a bad data page (an
        intact footer) by halving the batch that failed until the file is alone (#15)."""
        import duckdb

        if in_place.total_size(added) >= BIG_LOAD_BYTES:
            try:
                self._insert_in_chunks(added)
                self._big_load = True
                return added
            except duckdb.Error as exc:
                # Undo the chunks loaded; the load below finds what is wrong (or that a file
                # was removed meanwhile), in one statement as for a small load.
                self._execute(views.DELETE_FILES, {"files": added})
                log.debug("loading %d files in chunks failed: %s", len(added), exc)
        error: Exception | None = None
        for sql in (views.INSERT_RECORDS_SAME_SCHEMA, views.INSERT_RECORDS):
            try:
                with self._threads(1 if len(added) >= MANY_FILES else None):
                    self._execute(sql, {"files": json.dumps(added)})
                return added
            except duckdb.IOException as exc:
                if "No files found" in str(exc) or "No such file" in str(exc):
                    raise FileNotFoundError(str(exc)) from exc
                error = exc
            except duckdb.Error as exc:  # a failed INSERT is rolled back: nothing half loaded
                error = exc  # other columns in some file (then with union_by_name), or bad files
        assert error is not None
        if len(added) == 1:
            path = wanted[added[0]]
            self.store.mark_bad(path, self.store.fs.stat(path)[1], " ".join(str(error).split()))
            return []
        good = self._drop_bad_footers(added, wanted)
        if len(good) < len(added):
            return self._insert_local(good, wanted) if good else []
        half = len(added) // 2
        return self._insert_local(added[:half], wanted) + self._insert_local(added[half:], wanted)

    def _insert_in_chunks(self, added: list[str], execute: Callable[..., Any] | None = None,
                          table: str = "records") -> None:
        """Load ``added`` about ``CHUNK_ROWS`` records at a time, compressing each chunk
        (``CHECKPOINT``) before reading the next: the records of a big store never sit in memory
        uncompressed all at once (100,000 runs: 1.7 GB peak before, ~0.6 GB after, #16).

        Whole files are grouped up to ``CHUNK_ROWS`` records; a bigger file is read in ranges
        of its rows. Raises ``duckdb.Error`` with some chunks loaded (the caller deletes them).
        ``execute``: runs the SQL (default ``_execute``; ``in_place.materialize`` passes the
        background save's cursor's), into ``table``.
        """
        import duckdb

        run = execute or self._execute
        rows = dict(run(
            f"SELECT file_name, num_rows FROM parquet_file_metadata({views.FILES})",
            {"files": json.dumps(added)},
        ).fetchall())
        chunks: list[tuple[list[str], int | None]] = []  # (files, first row of a range)
        group: list[str] = []
        count = 0
        for full in added:
            n = int(rows.get(full, 0) or 0)
            if n > CHUNK_ROWS:
                chunks += [([full], start) for start in range(0, n, CHUNK_ROWS)]
                continue
            if group and count + n > CHUNK_ROWS:
                chunks.append((group, None))
                group, count = [], 0
            group.append(full)
            count += n
        if group:
            chunks.append((group, None))
        for files, start in chunks:
            if start is None:
                sqls: tuple[str, ...] = (views.INSERT_RECORDS_SAME_SCHEMA, views.INSERT_RECORDS)
                params: dict[str, Any] = {"files": json.dumps(files)}
            else:
                sqls = (views.INSERT_RECORD_RANGE,)
                params = {"files": json.dumps(files), "start": start, "stop": start + CHUNK_ROWS}
            for i, sql in enumerate(sqls):
                sql = sql.replace("INSERT INTO records", f"INSERT INTO {table}")
                try:
                    one = len(files) >= MANY_FILES and execute is None
                    with self._threads(1 if one else None):
                        run(sql, params)
                    break
                except duckdb.Error:  # other columns in some file: retried with union_by_name
                    if i == len(sqls) - 1:
                        raise
            run(f"CHECKPOINT {self._tables_db}")

    def _read_in_place(self, added: list[str], wanted: dict[str, str]) -> list[str]:
        """Make ``records`` a view over the local files ``added`` (a big load from scratch,
        ``tracker.query.in_place``); loaded as usual when a footer cannot be read."""
        import duckdb

        try:
            in_place.create(self, added)
        except duckdb.Error as exc:
            log.debug("reading %d files in place failed: %s", len(added), exc)
            return self._insert_local(added, wanted)
        self._in_place, self._lazy = list(added), True
        self._big_load = True  # the save builds runs_wide, as after a load in chunks
        return added

    def _leave_in_place(self, wanted: dict[str, str]) -> None:
        """Before ``records`` changes (files added or removed): copy what the view reads into
        the table; when one of its files is gone (compacted), start from scratch instead (the
        runs it held cannot be known without it)."""
        import duckdb

        files = self._in_place or []
        if all(f in wanted for f in files):
            try:
                with self.lazy_reads():
                    in_place.materialize(self, files, self._execute, records=True,
                                         lazy=self._lazy, database=self._tables_db)
                self._in_place, self._lazy = None, False
                return
            except duckdb.Error as exc:
                log.debug("copying the records of %d files failed: %s", len(files), exc)
        self._loaded = {}
        self._empty_records()

    def _empty_records(self) -> None:
        """An empty ``records`` table (no longer a view, if it was one)."""
        if self._in_place is not None or self._lazy:
            self._in_place, self._lazy = None, False
            self._built = False  # the lazy tables are gone too: folded again
            in_place.drop(self)
        else:
            self._execute(views.EMPTY_RECORDS)

    def _threads(self, threads: int | None) -> Any:
        """A context manager that runs DuckDB with ``threads`` threads (None: as configured).

        Many small files load faster and in far less memory on one thread: 2,000 loose runs
        took 0.5 s and 106 MB on one, 1.1-1.4 s and 267 MB on two (each thread keeps readers
        and buffers of its own), measured on 2 busy cores (#16). Such a load also skips
        DuckDB's cache of file blocks, read once here (the first process ever on 2,000 loose
        runs: ~6 MB less at its peak).
        """
        import contextlib

        @contextlib.contextmanager
        def scope() -> Any:
            if threads is None:
                yield
                return
            self._execute(f"SET threads = {int(threads)}")
            self._execute("SET enable_external_file_cache = false")
            try:
                yield
            finally:
                self._execute("RESET enable_external_file_cache")
                self._execute("RESET threads")

        return scope()

    def _drop_bad_footers(self, added: list[str], wanted: dict[str, str]) -> list[str]:
        """The files among ``added`` whose footer reads; warn once for each of the others."""
        import pyarrow.parquet as pq

        good = []
        for full in added:
            try:
                pq.read_metadata(full)
            except FileNotFoundError:
                raise
            except Exception as bad:  # noqa: BLE001 - any reason a file cannot be read
                path = wanted[full]
                self.store.mark_bad(path, self.store.fs.stat(path)[1], str(bad))
                continue
            good.append(full)
        return good

    def _rebuild(self) -> None:
        import duckdb

        try:
            if self._in_place is not None:
                with self.lazy_reads():
                    in_place.fold(self)
            elif self._fold_later():
                with self.lazy_reads():
                    in_place.fold(self)
                self._lazy = True
            else:
                for sql in views.DERIVED.values():
                    self._execute(sql)
        except duckdb.Error as exc:
            if self._in_place is None:
                raise
            # A file read in place is damaged (or gone): load the files into the table, which
            # finds and skips a bad one, and fold again.
            log.debug("folding %d files in place failed: %s", len(self._in_place), exc)
            wanted, key, files = dict(self._loaded), self._plan_key, self._in_place
            self._in_place, self._lazy, self._loaded, self._plan_key = None, False, {}, None
            in_place.drop(self)
            loaded = set(self._insert_local(files, wanted))
            self._loaded, self._plan_key = {f: p for f, p in wanted.items() if f in loaded}, key
            for sql in views.DERIVED.values():
                self._execute(sql)
        self._execute("ALTER TABLE runs ADD COLUMN dead BOOLEAN DEFAULT false")
        self._create_views()
        self._built = True

    def _create_views(self) -> None:
        """``metrics`` and the logged-model views (over tables by name: made once)."""
        self._views_pending = False
        for sql in views.VIEWS.values():
            self._execute(sql)
        self._model_views()

    def _model_views(self) -> None:
        """The views over MLflow 3's logged models (``tracker.query.logged``)."""
        for sql in views.LOGGED_MODEL_VIEWS.values():
            self._execute(sql)

    def _mark_dead(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._no_running_at == self._version:
            return  # no RUNNING run then, and the tables are as they were: none now (~1 ms)
        from tracker.store.store import local_owner, pid_alive

        host, _ = local_owner()
        now = int(time.time() * 1000)
        rows = self._execute(
            "SELECT run_id, host, pid, last_seen, dead FROM runs WHERE status = 'RUNNING'"
        ).fetchall()
        self._no_running_at = -1 if rows else self._version
        changes = []
        for run_id, run_host, pid, last_seen, was_dead in rows:
            dead = run_is_dead(run_host, pid, last_seen, host, now, pid_alive)
            if dead != was_dead:
                changes.append((dead, run_id))
        if changes:
            if self._restored:  # ``runs`` may still be read from the snapshot: copy it first
                snapshot.materialize(con, "runs")
            con.executemany("UPDATE runs SET dead = ? WHERE run_id = ?", changes)

    # -- user-facing SQL -------------------------------------------------------------------

    def sql(
        self, query: str, params: Any = None, *,
        registry: Callable[[], Iterable[registry_tables.Folded]] | None = None,
    ) -> pd.DataFrame:
        """Run a SQL query over the store's tables and return a DataFrame.

        Args:
            query: one SQL statement (DuckDB's dialect).
            params: its parameters (``$name`` or ``?``).
            registry: the registry's fold (``Registry.every_model``, given by the client layer:
                the query layer does not read the registry itself); with it, a query that
                names ``model_versions`` or ``registered_models`` gets those tables.
        """
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgumentError(f"sql() needs a query string, got {query!r}.")
        self.load_ahead()
        import pandas  # noqa: F401 - the result's, while the store loads on another thread

        self.refresh()
        import duckdb

        if self._views_pending:  # any text may name a view: make them before it runs
            self._create_views()
        # never with publish rules: these tables are not redacted (the site redacts apart)
        with_registry = registry is not None and self.publish is None
        if with_registry and registry is not None:
            self._registry_tables(registry, registry_tables.mentioned(query))
        try:
            return self._execute(query, params).df()
        except duckdb.Error as exc:
            tables = (*views.PUBLIC_TABLES, *(registry_tables.TABLES if with_registry else ()))
            raise InvalidArgumentError(f"SQL error: {exc}. Tables: {', '.join(tables)}.") from exc

    def _registry_tables(
        self, registry: Callable[[], Iterable[registry_tables.Folded]], names: list[str]
    ) -> None:
        """(Re)make the registry tables ``names`` from the registry's own fold (#14).

        Only for a query that names one: folding lists every model's folder (one request each
        on S3), which other queries need not pay for. They are temporary tables of this
        connection, never in a snapshot, and made again only when the registry changed.
        """
        if not names:
            return
        folded = registry_tables.rows(registry())
        for name in names:
            if self._registry_rows.get(name) == folded[name]:
                continue
            con = self.con
            con.register("incoming_registry", registry_tables.arrow_table(name, folded[name]))
            try:
                self._execute(
                    f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM incoming_registry")
            finally:
                con.unregister("incoming_registry")
            self._registry_rows[name] = folded[name]

    def rows(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        """Run an internal query and return its rows as dicts (tables must be fresh)."""
        cur = self._execute(query, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
