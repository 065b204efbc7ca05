"""One autologged training: which call logs, into which run, and how our own failures are reported.

Only the outermost training call logs: a ``Pipeline.fit`` logs, the ``fit`` of its steps does not;
an ``XGBRegressor.fit`` logs and lets the ``xgboost.train`` it calls add the per-round metrics to
the same run. The bookkeeping is process-wide, as in MLflow, so the fits a parameter search runs
in worker threads are not logged as runs of their own.

Anything that fails in our logging is turned into an ``AutologWarning`` (a debug log record with
``silent=True``) and training goes on; exceptions raised by the training itself propagate
unchanged, after the run autologging started is ended as FAILED.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.autologging.patching import options
from tracker.exceptions import ImmutableParamError, InvalidArgumentError
from tracker.validation import MAX_PARAM_VALUE_LENGTH

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from tracker.client import TrackerClient
    from tracker.data import Dataset

log = logging.getLogger("tracker.autologging")

AUTOLOGGING_TAG = "mlflow.autologging"


class AutologWarning(UserWarning):
    """Autologging could not record something; the training itself was not affected."""


def notify(message: str, opts: Mapping[str, Any] | None) -> None:
    """Report a problem of autologging: a warning, or a debug record when ``silent=True``.

    Args:
        message: what failed, for which run, and what to do about it.
        opts: the integration's options (``silent``).
    """
    if opts is not None and opts.get("silent"):
        log.debug(message)
    else:
        warnings.warn(message, AutologWarning, stacklevel=3)


class RunContext:
    """The run one autologged training logs into, with failure-tolerant logging helpers.

    Args:
        flavor: the integration (``xgboost``, ``sklearn``).
        run_id: the target run.
        client: the client owning the run.
        opts: the integration's options.
        managed: True when autologging started the run (and so ends it).
    """

    def __init__(
        self, flavor: str, run_id: str, client: TrackerClient, opts: Mapping[str, Any],
        *, managed: bool = False,
    ) -> None:
        self.flavor = flavor
        self.run_id = run_id
        self.client = client
        self.opts = opts
        self.managed = managed
        self.runlog = client._runlog(run_id)
        self.autologged: dict[str, str] = {}  # params this training logged (key -> text)

    def report(self, what: str, exc: BaseException) -> None:
        """Warn that ``what`` failed with ``exc`` (training was not affected).

        Args:
            what: the step, as a verb phrase ("log the model").
            exc: the error.
        """
        notify(
            f"tracker autologging ({self.flavor}): could not {what} for run {self.run_id}: "
            f"{type(exc).__name__}: {exc}. Training was not affected; log it yourself if you "
            "need it, or turn this part off in autolog().", self.opts,
        )

    def attempt(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; on an exception report it (see ``report``) and return None.

        Args:
            what: the step, for the message.
            fn: the logging step.
            *args: its positional arguments.
            **kwargs: its keyword arguments.
        """
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - our failure must never stop the training
            self.report(what, exc)
            return None

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params as strings; keep values the run already has (warn unless we logged them).

        Args:
            params: name -> value (``str(value)`` is stored; values over 6000 characters are
                skipped).
        """
        conflicts: list[str] = []
        invalid: list[str] = []
        for key, value in params.items():
            name, text = str(key), _param_text(key, value)
            if text is None:
                continue
            try:
                self.runlog.log_param(name, text)
            except ImmutableParamError:
                if name not in self.autologged:
                    conflicts.append(f"{name}={text!r}")
                continue
            except InvalidArgumentError:
                invalid.append(name)
                continue
            self.autologged.setdefault(name, text)
        if conflicts:
            notify(
                f"tracker autologging ({self.flavor}): run {self.run_id} already has other values "
                f"for these params, so they were kept and the values used for this training were "
                f"not logged: {', '.join(conflicts)}. Use a new run for each training to record "
                "both.", self.opts,
            )
        if invalid:
            notify(
                f"tracker autologging ({self.flavor}): params {invalid} of run {self.run_id} have "
                "names tracker does not accept and were not logged; rename them to use letters, "
                "digits, '_', '-', '.', ' ', ':' or '/'.", self.opts,
            )

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Log each metric at ``step``; report the ones that cannot be logged.

        Args:
            metrics: name -> number.
            step: the step of every value.
        """
        for key, value in metrics.items():
            self.attempt(f"log metric {key!r}", self.runlog.log_metric, key, float(value), step)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags on the run.

        Args:
            tags: name -> value (stored as ``str(value)``).
        """
        for key, value in tags.items():
            self.runlog.set_tag(key, value)

    def log_input(self, dataset: Dataset, context: str) -> None:
        """Record ``dataset`` as an input of the run, like ``tracker.log_input``.

        Args:
            dataset: from ``tracker.data`` (or ``tracker.autologging.datasets``).
            context: ``training`` or ``eval``.
        """
        from tracker.data import input_record

        key, value = input_record(dataset, context)
        self.runlog.add_record("input", key, value)

    def log_json_files(self, files: Mapping[str, Any]) -> None:
        """Save JSON artifacts at the root of the run's artifacts, through one temporary folder.

        Args:
            files: file name (e.g. ``feature_importance.json``) -> JSON-serializable value.
        """
        import json
        import os
        import tempfile

        with tempfile.TemporaryDirectory(prefix="tracker-autolog-") as folder:
            for name, data in files.items():
                with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
                    json.dump(data, fh, indent=2)
            self.client.log_artifacts(self.run_id, folder)


def _param_text(key: Any, value: Any) -> str | None:
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ only costs this param
        log.debug("autologging: param %r has no string form; not logged", key)
        return None
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        log.debug("autologging: param %r is %d characters long; not logged", key, len(text))
        return None
    return text


# -- which call logs -------------------------------------------------------------------------------


@dataclass
class Frame:
    """A patched training call in progress.

    Args:
        owner: the estimator whose ``fit`` runs (None for ``xgboost.train``).
        kind: ``fit`` or ``train``.
        flavor: the integration that patched the call.
        ctx: where the call logs; None when it does not log.
    """

    owner: Any
    kind: str
    flavor: str
    ctx: RunContext | None


_frames: list[Frame] = []
_frames_lock = threading.Lock()


@contextlib.contextmanager
def _pushed(frame: Frame) -> Iterator[Frame]:
    with _frames_lock:
        _frames.append(frame)
    try:
        yield frame
    finally:
        with _frames_lock:
            for i in range(len(_frames) - 1, -1, -1):
                if _frames[i] is frame:
                    del _frames[i]
                    break


def _top() -> Frame | None:
    with _frames_lock:
        return _frames[-1] if _frames else None


def run_patched(
    flavor: str,
    owner: Any,
    kind: str,
    call: Callable[[], Any],
    log_call: Callable[[RunContext, str], Any],
) -> Any:
    """Run one patched training call, logging it only when it is the outermost one.

    Args:
        flavor: the integration whose patch was called.
        owner: the estimator (None for ``xgboost.train``).
        kind: ``fit`` or ``train``.
        call: runs the original function with the user's arguments.
        log_call: runs it with logging around it; gets the run context and the role: ``root``
            (the outermost call) or ``child`` (``xgboost.train`` inside a logged ``fit``: it adds
            per-round metrics and feature importance to the fit's run, nothing else).
    """
    top = _top()
    if top is not None and owner is not None and top.owner is owner:
        return call()  # super().fit() of the estimator being fitted: the outer call decides
    opts = options(flavor)
    if opts is None or (top is not None and not _is_child(flavor, kind, top)):
        with _pushed(Frame(owner, kind, flavor, None)):
            return call()
    if top is not None and top.ctx is not None:
        with _pushed(Frame(owner, kind, flavor, top.ctx)):
            return log_call(top.ctx, "child")
    return _run_root(flavor, owner, kind, opts, call, log_call)


def _is_child(flavor: str, kind: str, top: Frame) -> bool:
    return kind == "train" and top.kind == "fit" and top.flavor == flavor and top.ctx is not None


def _run_root(
    flavor: str,
    owner: Any,
    kind: str,
    opts: dict[str, Any],
    call: Callable[[], Any],
    log_call: Callable[[RunContext, str], Any],
) -> Any:
    from tracker import api

    active = api.active_run()
    ctx = None if active is not None and opts.get("exclusive") else _open(flavor, opts, active)
    if ctx is None:
        with _pushed(Frame(owner, kind, flavor, None)):
            return call()
    try:
        with _pushed(Frame(owner, kind, flavor, ctx)):
            result = log_call(ctx, "root")
    except BaseException as exc:
        if ctx.managed:
            _close(ctx, _failed_status(exc))
        raise
    if ctx.managed:
        _close(ctx, "FINISHED")
    return result


def _open(flavor: str, opts: Mapping[str, Any], active: Any) -> RunContext | None:
    """The context for the active run, or for a new run (``managed``) when none is active."""
    from tracker import api

    try:
        managed = active is None
        if active is None:
            tags = {AUTOLOGGING_TAG: flavor, **dict(opts.get("extra_tags") or {})}
            active = api.start_run(tags=tags)
        return RunContext(flavor, str(active.info.run_id), active._client, opts, managed=managed)
    except Exception as exc:  # noqa: BLE001 - no run: train without logging
        notify(
            f"tracker autologging ({flavor}): could not start a run ({type(exc).__name__}: "
            f"{exc}); this training is not logged. Check the tracking URI "
            "(tracker.get_tracking_uri()) or start a run yourself.", opts,
        )
        return None


def _close(ctx: RunContext, status: str) -> None:
    """End the run autologging started, even when user code left another run on top of it."""
    from tracker import api

    try:
        top = api.active_run()
        if top is not None and str(top.info.run_id) == ctx.run_id:
            api.end_run(status)
        else:
            ctx.client.set_terminated(ctx.run_id, status)
    except Exception as exc:  # noqa: BLE001 - the training result matters more
        ctx.report(f"end the run as {status}", exc)


def _failed_status(exc: BaseException) -> str:
    from tracker.api import _Terminated

    if isinstance(exc, (KeyboardInterrupt, _Terminated)):
        return "KILLED"
    return "FAILED"
