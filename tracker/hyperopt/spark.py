"""``tracker.hyperopt.fmin`` with hyperopt's ``SparkTrials``: trials logged from Spark executors.

With ``SparkTrials`` each trial runs as a Spark task in an executor's own Python process (on a
cluster, another machine), which inherits neither the driver's tracking URI nor its active run.
So the objective is wrapped in a picklable closure (``_ExecutorObjective``) that carries the
tracking URI, the parent run id and the experiment id; on the executor it opens the trial run
nested under the parent, logs the decoded params, the objective's metrics (``loss``), tags
``trial_status`` and ``tracker.trial_key`` and the status, and publishes it before the task
returns. The executor does not know hyperopt's trial number (SparkTrials ships only the sampled
point), so the run carries a key of that point; when ``fmin`` returns, the driver matches each
of hyperopt's trials to its run by key, tags ``trial_number``, marks runs left RUNNING by a
cancelled task (``SparkTrials(timeout=…)``) KILLED and by a failed one FAILED, records trials
that never got a run (cancelled before they started, or their executor died) as runs of their
own, and logs the parent's summary as the in-process path does (``tracker.hyperopt``).

Plain ``hyperopt.fmin(..., trials=SparkTrials())`` inside ``with tracker.start_run()``: tracker
puts the tracking URI, experiment id and active run id into the Spark context's executor
environment (``tracker.spark_env.share_active_run``), so a run the objective starts on an executor is nested
under the driver's run (``TRACKER_PARENT_RUN_ID``, read by ``tracker.start_run``).

pyspark and hyperopt are imported on first use, not with this module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracker import api
from tracker.context import PARENT_RUN_ID
from tracker.entities import RunStatus
from tracker.exceptions import InvalidArgumentError
from tracker.hyperopt._sweep import (
    STATUS_FAIL,
    STATUS_OK,
    _close,
    _hyperopt,
    _log_params,
    _Outcome,
    _outcome,
    _plain,
    _start,
    _Trial,
    _TrialRuns,
)
from tracker.spark_env import portable_uri, sharing_suspended
from tracker.validation import MAX_TAG_VALUE_LENGTH

if TYPE_CHECKING:
    from tracker.client import TrackerClient
    from tracker.hyperopt._sweep import _Space, _Sweep

log = logging.getLogger("tracker")

TRIAL_KEY = "tracker.trial_key"
STATUS_CANCELLED = "cancelled"


def is_spark_trials(trials: Any) -> bool:
    """Whether ``trials`` is hyperopt's ``SparkTrials`` (checked without importing pyspark)."""
    return any(
        c.__name__ == "SparkTrials" and c.__module__.startswith("hyperopt")
        for c in type(trials).__mro__
    )


def trial_key(spec: dict[str, Any]) -> str:
    """A key of a sampled point (hp label → raw value), the same on the driver and executors."""
    items = sorted((str(k), repr(_plain(v))) for k, v in spec.items())
    return hashlib.sha1(json.dumps(items).encode()).hexdigest()[:16]


# -- driver: the sweep --------------------------------------------------------------------------


def fmin_spark(fn: Callable[..., Any], space: Any, algo: Any, max_evals: int | None,
               trials: Any, run_name: str | None, pass_expr_memo_ctrl: bool | None,
               options: dict[str, Any]) -> Any:
    """``tracker.hyperopt.fmin`` for ``SparkTrials`` (see the module docstring).

    Args:
        fn: the objective.
        space: the search space.
        algo: the suggest function.
        max_evals: the number of trials.
        trials: a ``hyperopt.SparkTrials``.
        run_name: name of a new parent run.
        pass_expr_memo_ctrl: refused, as SparkTrials refuses it.
        options: the other ``hyperopt.fmin`` keyword arguments.
    """
    if pass_expr_memo_ctrl or getattr(fn, "fmin_pass_expr_memo_ctrl", False):
        raise InvalidArgumentError(
            "SparkTrials does not support pass_expr_memo_ctrl: give an objective that takes the "
            "sampled point, or use hyperopt.Trials."
        )
    if options.get("catch_eval_exceptions"):
        raise InvalidArgumentError(
            "SparkTrials does not support catch_eval_exceptions=True: failed trials are "
            "recorded as FAILED runs and the sweep goes on anyway."
        )
    hyperopt = _hyperopt()
    # The closure carries the parent: changing the executor environment for it would only make
    # Spark start another Python worker daemon (it keys them by environment).
    with sharing_suspended():
        sweep, owned = _start(fn, space, algo, max_evals, False, run_name)
    objective = _ExecutorObjective(
        sweep.fn, sweep.space, portable_uri(sweep.client.tracking_uri), sweep.parent_id,
        sweep.experiment_id,
    )
    sweep.client.flush()  # the parent's setup is visible to executors before the first trial
    status = RunStatus.FINISHED
    try:
        return hyperopt.fmin(objective, sweep.space.source, algo=algo, max_evals=max_evals,
                             trials=trials, pass_expr_memo_ctrl=None, **options)
    except BaseException as exc:
        status = RunStatus.FAILED if isinstance(exc, Exception) else RunStatus.KILLED
        raise
    finally:
        try:
            reconcile(sweep, trials)
            sweep.log_summary()
        finally:
            if owned:
                _end_parent(status)


def _end_parent(status: str) -> None:
    """End the sweep's parent run without touching the executor environment (see fmin_spark)."""
    with sharing_suspended():
        api.end_run(status)


def reconcile(sweep: _Sweep, trials: Any) -> None:
    """Match hyperopt's trials to the runs executors logged; record what no executor finished."""
    from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_DONE, spec_from_misc

    client = sweep.client
    by_key: dict[str, list[Any]] = {}
    children = client.search_runs(
        [sweep.experiment_id], f"tags.`{PARENT_RUN_ID}` = '{sweep.parent_id}'",
        max_results=1_000_000, order_by=["attributes.start_time ASC"],
    )
    for child in children:
        key = child.data.tags.get(TRIAL_KEY)
        if key is not None:
            by_key.setdefault(key, []).append(child)
    # ``trials.trials`` leaves out failed and cancelled trials: all of them are here.
    every = getattr(trials, "_dynamic_trials", None) or trials.trials
    for trial in sorted(every, key=lambda t: t["tid"]):
        number = int(trial["tid"])
        spec = spec_from_misc(trial["misc"])
        params = sweep.space.decode(spec)
        matches = by_key.get(trial_key(spec), [])
        run = matches.pop(0) if matches else None
        state = trial["state"]
        if state == JOB_STATE_DONE:
            outcome = _outcome(trial.get("result"))
        elif state == JOB_STATE_CANCEL:
            outcome = _Outcome(STATUS_CANCELLED, error=_error(trial, "cancelled by SparkTrials"))
        else:
            outcome = _Outcome("fail", error=_error(trial, "the trial's Spark task failed"))
        if run is None:
            run_id = _record_lost(client, sweep, number, params, outcome)
        else:
            run_id = str(run.info.run_id)
            client.set_tag(run_id, "trial_number", number)
            if run.info.status == RunStatus.RUNNING:  # its executor was stopped mid-trial
                ended = RunStatus.KILLED if state == JOB_STATE_CANCEL else RunStatus.FAILED
                _log_params(client, run_id, params, logging.DEBUG)  # the executor had not yet
                client.set_tag(run_id, "trial_status", outcome.status)
                if outcome.error:
                    client.set_tag(run_id, "error", outcome.error[:MAX_TAG_VALUE_LENGTH])
                client.set_terminated(run_id, ended)
        sweep.trials.append(_Trial(number, run_id, outcome, params))
    client.flush()


def _error(trial: dict[str, Any], default: str) -> str:
    error = trial.get("misc", {}).get("error")
    if isinstance(error, (list, tuple)) and error:
        return " ".join(str(e) for e in error if e)[:MAX_TAG_VALUE_LENGTH] or default
    return default


def _record_lost(client: TrackerClient, sweep: _Sweep, number: int, params: dict[str, Any],
                 outcome: Any) -> str:
    """A run for a trial no executor logged: cancelled before it started, or its worker died."""
    run = client.create_run(
        sweep.experiment_id, run_name=f"trial-{number}", tags={"trial_number": number},
        parent_run_id=sweep.parent_id,
    )
    run_id = str(run.info.run_id)
    _log_params(client, run_id, params, logging.WARNING)
    client.set_tag(run_id, "trial_status", outcome.status)
    if outcome.error:
        client.set_tag(run_id, "error", outcome.error[:MAX_TAG_VALUE_LENGTH])
    if outcome.loss is not None:
        client.log_metric(run_id, "loss", outcome.loss)
    status = {"ok": RunStatus.FINISHED, STATUS_CANCELLED: RunStatus.KILLED}
    client.set_terminated(run_id, status.get(outcome.status, RunStatus.FAILED))
    return run_id


# -- executor: one trial ------------------------------------------------------------------------


class _ExecutorObjective:
    """The objective as shipped to executors: the user's function plus where to log.

    hyperopt's ``Domain`` calls it with ``expr``/``memo``/``ctrl`` (``fmin_pass_expr_memo_ctrl``)
    so the sampled point can be read from ``memo`` (SparkTrials passes ``ctrl=None``).
    """

    fmin_pass_expr_memo_ctrl = True

    def __init__(self, fn: Callable[..., Any], space: _Space, uri: str, parent_id: str,
                 experiment_id: str) -> None:
        self.fn = fn
        self.space = space
        self.uri = uri
        self.parent_id = parent_id
        self.experiment_id = experiment_id

    def __call__(self, expr: Any, memo: Any, ctrl: Any) -> Any:
        from hyperopt import pyll

        from tracker.client import TrackerClient

        spec = _spec_from_memo(memo)
        key = trial_key(spec)
        params = self.space.decode(spec)
        api.set_tracking_uri(self.uri)
        api._experiment_id = self.experiment_id  # the objective's own start_run() goes there
        client = TrackerClient(self.uri)
        started = int(time.time() * 1000)
        runs = _KeyedTrialRuns(client, self.parent_id, key)
        saved, api._state.stack = api._state.stack, runs
        raised: Exception | None = None
        try:
            result = self.fn(pyll.rec_eval(expr, memo=memo, print_node_on_error=False))
        except Exception as exc:
            result, raised = None, exc
        except BaseException:
            _close(runs, saved, RunStatus.KILLED)
            client.flush(raise_errors=False)
            raise
        ok = False
        try:
            ok = self._record(client, runs, key, params, started, result, raised)
        finally:
            _close(runs, saved, RunStatus.FINISHED if ok else RunStatus.FAILED)
            client.flush()
        if raised is not None:
            raise raised
        return result

    def _record(self, client: TrackerClient, runs: _TrialRuns, key: str, params: dict[str, Any],
                started: int, result: Any, raised: Exception | None) -> bool:
        """The trial's params, tags, loss and status; whether it succeeded.

        Written while the objective's runs are still open (no store read is needed then);
        ``__call__`` ends them and publishes everything before the task returns.
        """
        if raised is None:
            outcome = _outcome(result)
        else:
            outcome = _Outcome(STATUS_FAIL, error=f"{type(raised).__name__}: {raised}")
        ok = outcome.status == STATUS_OK
        run_id = runs.trial_run_id
        open_run = run_id is not None and any(str(r.info.run_id) == run_id for r in runs)
        if run_id is None:
            run = client.create_run(
                self.experiment_id, start_time=started, run_name=f"trial-{key[:8]}",
                tags={TRIAL_KEY: key}, parent_run_id=self.parent_id,
            )
            run_id = str(run.info.run_id)
        _log_params(client, run_id, params, logging.WARNING)
        client.set_tag(run_id, "trial_status", outcome.status)
        if outcome.error is not None:
            client.set_tag(run_id, "error", outcome.error[:MAX_TAG_VALUE_LENGTH])
        if outcome.loss is not None:
            client.log_metric(run_id, "loss", outcome.loss)
        if not open_run and (runs.trial_run_id is None or not ok):
            # made here, or ended by the objective although the trial failed
            client.set_terminated(run_id, RunStatus.FINISHED if ok else RunStatus.FAILED)
        return ok


def _spec_from_memo(memo: Any) -> dict[str, Any]:
    """The sampled point (hp label → raw value) from the memo hyperopt evaluates the space with."""
    from hyperopt.pyll.base import GarbageCollected

    spec: dict[str, Any] = {}
    for node, value in memo.items():
        if getattr(node, "name", None) == "hyperopt_param" and value is not GarbageCollected:
            spec[str(node.pos_args[0].obj)] = value
    return spec


class _KeyedTrialRuns(_TrialRuns):
    """``_TrialRuns`` tagging the trial run with the point's key (no trial number here)."""

    def __init__(self, client: TrackerClient, parent_id: str, key: str) -> None:
        super().__init__(client, parent_id, -1)
        self.key = key

    def append(self, run: Any) -> None:
        list.append(self, run)
        run_id = str(run.info.run_id)
        if self.trial_run_id is None:
            self.trial_run_id = run_id
            self.client.set_tag(run_id, PARENT_RUN_ID, self.parent_id)
            self.client.set_tag(run_id, TRIAL_KEY, self.key)
        elif PARENT_RUN_ID not in run.data.tags:
            self.client.set_tag(run_id, PARENT_RUN_ID, self.trial_run_id)


# -- plain hyperopt.fmin: the active run shared with executors ----------------------------------
