"""The write side of a run: an in-memory buffer of records flushed as immutable segment files.

``log_metric`` appends a tuple under a lock and returns; a process-wide flusher thread publishes
buffers older than the flush interval (default 5 s, ``TRACKER_FLUSH_INTERVAL``), a buffer that
reaches ``TRACKER_FLUSH_ROWS`` rows is flushed by the logging call itself, and ``end`` publishes
the rest as the run's final file. Nothing here imports pyarrow until the first flush.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from tracker.exceptions import ImmutableParamError, StoreError, TrackerError
from tracker.validation import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    _valid_keys,
    metric_step,
    metric_value,
    stringify,
    timestamp_ms,
    validate_key,
)

if TYPE_CHECKING:
    from tracker.store.store import Store

log = logging.getLogger("tracker")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise TrackerError(f"Environment variable {name}={raw!r} must be a number.") from None
    if value <= 0:
        raise TrackerError(f"Environment variable {name}={raw!r} must be greater than 0.")
    return value


FLUSH_INTERVAL = _env_float("TRACKER_FLUSH_INTERVAL", 5.0)
FLUSH_ROWS = int(_env_float("TRACKER_FLUSH_ROWS", 100_000))
HEARTBEAT_INTERVAL = _env_float("TRACKER_HEARTBEAT_INTERVAL", 60.0)

_time = time.time
_time_ns = time.time_ns
_monotonic = time.monotonic


class RunLog:
    """Buffers one run's records and publishes them to the store.

    Args:
        store: the store to write to.
        experiment_id: the run's experiment.
        run_id: the run.
        params: params the run already has in the store (for the immutability check).
        is_new: True when this process created the run (no files of it exist yet).
        owner: True when this process runs the run (created or resumed it): only an owner
            writes heartbeats, so a finished run touched later (a tag, a delete) stays quiet.
    """

    def __init__(
        self,
        store: Store,
        experiment_id: str,
        run_id: str,
        *,
        params: dict[str, str] | None = None,
        is_new: bool = True,
        owner: bool | None = None,
    ) -> None:
        from tracker.store.store import run_dir

        self.store = store
        self.experiment_id = experiment_id
        self.run_id = run_id
        self.folder = run_dir(experiment_id, run_id)
        # deque.append and popleft are atomic, so the hot path takes no lock.
        self._rows: deque[tuple[Any, ...]] = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._last_write = _monotonic()
        self._params: dict[str, str] = dict(params or {})
        self._wrote_files = not is_new
        self.owner = is_new if owner is None else owner
        self.artifact_uri: str | None = None
        self.ended = False
        _FLUSHER.register(self)

    # -- logging (hot path) ----------------------------------------------------------------

    def log_metric(
        self, key: str, value: Any, step: Any = 0, timestamp: Any = None,
        link: str | None = None,
    ) -> None:
        if key not in _valid_keys:
            validate_key(key, "Metric")
        if type(value) is not float:
            value = metric_value(key, value)
        if type(step) is not int:
            step = metric_step(key, step)
        ts = _time_ns() // 1_000_000 if timestamp is None else timestamp_ms("Metric timestamp", timestamp)
        rows = self._rows
        # link: the model/dataset JSON of tracker.logged_models.link_json (None: unlinked)
        rows.append(("metric", key, link, value, step, ts, 0))
        if len(rows) >= FLUSH_ROWS:
            self.flush()

    def log_metrics(
        self, metrics: dict[str, Any], step: Any = 0, timestamp: Any = None,
        link: str | None = None,
    ) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step, timestamp, link)

    def log_param(self, key: str, value: Any) -> None:
        validate_key(key, "Param")
        text = stringify(value, "Param", key, MAX_PARAM_VALUE_LENGTH)
        with self._lock:
            old = self._params.get(key)
            if old is not None:
                if old == text:
                    return
                raise ImmutableParamError(
                    f"Param {key!r} of run {self.run_id} is already {old!r}; it cannot be changed "
                    f"to {text!r}. Params are immutable: log a new key, or start a new run."
                )
            self._params[key] = text
        self._append(("param", key, text, None, None, int(_time() * 1000), _time_ns()))

    def set_tag(self, key: str, value: Any) -> None:
        validate_key(key, "Tag")
        text = stringify(value, "Tag", key, MAX_TAG_VALUE_LENGTH)
        self._append(("tag", key, text, None, None, int(_time() * 1000), _time_ns()))

    def delete_tag(self, key: str) -> None:
        validate_key(key, "Tag")
        self._append(("tag", key, None, None, None, int(_time() * 1000), _time_ns()))

    def set_attribute(self, key: str, value: str | None, timestamp: int | None = None) -> None:
        """Record a run attribute (status, run_name, start_time, …): the latest one wins."""
        ts = int(_time() * 1000) if timestamp is None else timestamp
        self._append(("run", key, value, None, None, ts, _time_ns()))

    def add_record(self, kind: str, key: str, value: str | None, num: float | None = None) -> None:
        """Record an input or artifact entry."""
        self._append((kind, key, value, num, None, int(_time() * 1000), _time_ns()))

    def _append(self, row: tuple[Any, ...]) -> None:
        self._rows.append(row)
        if len(self._rows) >= FLUSH_ROWS:
            self.flush()

    # -- publishing --------------------------------------------------------------------------

    def due(self, now: float, tick: float) -> bool:
        """True when buffered rows could otherwise wait longer than the flush interval."""
        idle = now - self._last_write
        if self._rows and idle >= FLUSH_INTERVAL - tick:
            return True
        return self.owner and not self.ended and idle >= HEARTBEAT_INTERVAL

    def flush(self, *, final: bool | None = None) -> None:
        """Publish buffered records as one new file; keep them in memory if the write fails.

        Args:
            final: publish as the run's final file (default: once the run has ended), so a
                final flush that failed is retried as final by the next flush.
        """
        if final is None:
            final = self.ended
        with self._flush_lock:
            buffer = self._rows
            rows = [buffer.popleft() for _ in range(len(buffer))]
            heartbeat = self.owner and not final
            if heartbeat:
                rows.append(("run", "heartbeat", None, None, None, int(_time() * 1000), _time_ns()))
            if not rows:
                return
            prefix = "final" if final and not self._wrote_files else "seg"
            try:
                from tracker.store.store import new_seg_id

                seg = new_seg_id()
                covers = [seg] if prefix == "final" else None
                self.store.write_records(
                    self.folder, self.experiment_id, self.run_id, rows,
                    prefix=prefix, seg=seg, covers=covers,
                )
            except Exception:
                if heartbeat:
                    rows.pop()
                buffer.extendleft(reversed(rows))
                raise
            self._last_write = _monotonic()
            if final and self._wrote_files:
                from tracker.store.compact import consolidate_run

                try:
                    consolidate_run(self.store, self.folder)
                except (StoreError, OSError) as exc:
                    # The segments stay valid on their own; compaction can merge them later.
                    log.warning("Could not consolidate run %s: %s", self.run_id, exc)
            self._wrote_files = True
            if final and not self._rows:
                _FLUSHER.unregister(self)

    def end(self, status: str, end_time: int | None = None) -> None:
        """Record the terminal status and publish everything left as the run's final file.

        If the write fails (e.g. a full disk) the error propagates and the records stay in
        memory; the flusher retries them as the final file until it succeeds.
        """
        ts = int(_time() * 1000) if end_time is None else end_time
        self.set_attribute("status", status, ts)
        self.set_attribute("end_time", str(ts), ts)
        self.ended = True
        self.flush(final=True)
        from tracker.store.compact import maybe_compact

        maybe_compact(self.store, self.experiment_id)

    def pending(self) -> int:
        return len(self._rows)


class _Flusher:
    """One daemon thread per process that publishes buffers older than the flush interval."""

    def __init__(self) -> None:
        self._runs: weakref.WeakSet[RunLog] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._atexit_registered = False
        self._stopping = False

    def register(self, run: RunLog) -> None:
        # The first flush may happen at exit, and pyarrow then imports pandas, which imports
        # concurrent.futures.thread; that module registers an exit hook when first imported,
        # which raises "can't register atexit after shutdown" at exit. Import it now.
        import concurrent.futures.thread  # noqa: F401

        with self._lock:
            self._runs.add(run)
            if not self._stopping and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._loop, name="tracker-flusher", daemon=True
                )
                self._thread.start()
            if not self._atexit_registered:
                try:
                    atexit.register(self._at_exit)
                    self._atexit_registered = True
                except RuntimeError:  # a run made while the interpreter exits: ended by its owner
                    pass

    def _at_exit(self) -> None:
        """Stop the thread, then flush in this one.

        A daemon thread still inside pyarrow's C++ writer while the interpreter tears down
        aborts the process ("terminate called without an active exception", exit code 134,
        seen about once in 40 exits of processes that log at once), so it is stopped and
        joined first; every record it did not publish is published here.
        """
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self.flush_all()

    def unregister(self, run: RunLog) -> None:
        with self._lock:
            self._runs.discard(run)

    def live(self) -> list[RunLog]:
        with self._lock:
            return list(self._runs)

    def _loop(self) -> None:
        tick = min(0.25, FLUSH_INTERVAL / 5)
        while True:
            self._wake.wait(tick)
            if self._stopping:
                return
            now = _monotonic()
            for run in self.live():
                if run.due(now, tick):
                    try:
                        run.flush()
                    except Exception as exc:  # noqa: BLE001 - keep the thread alive
                        log.warning("tracker: flushing run %s failed, will retry: %s", run.run_id, exc)

    def flush_all(self, *, raise_errors: bool = False) -> None:
        """Flush every live run; report failures (raise the first one when asked)."""
        errors: list[Exception] = []
        for run in self.live():
            if run.pending() or run.ended:
                try:
                    run.flush()
                except Exception as exc:  # noqa: BLE001 - try every run, then report
                    errors.append(exc)
                    log.error(
                        "tracker: %d records of run %s are still in memory, not written: %s",
                        run.pending(), run.run_id, exc,
                    )
        if errors and raise_errors:
            raise errors[0]


_FLUSHER = _Flusher()


def flush_all(*, raise_errors: bool = True) -> None:
    """Publish every buffered record of this process now; raise if a write fails."""
    _FLUSHER.flush_all(raise_errors=raise_errors)
