"""``tracker.hyperopt.fmin``: ``hyperopt.fmin`` that records the sweep as a parent run and its trials.

The parent run gets the search space (artifact ``search_space.json``), the algorithm (param and
tag ``algo``), ``max_evals`` and tag ``sweep=hyperopt``; when the sweep ends, the best trial's
params as ``best_<label>``, metric ``best_loss``, tag ``best_trial_run_id`` and metrics
``n_trials``/``n_failed``. Each trial is a run nested under the parent with the params decoded
to what the objective saw, metric ``loss`` and tags ``trial_number``/``trial_status``.

Trial runs and the objective's own runs: while the objective runs, the fluent API sees no
active run (the parent is set aside), so an objective that calls ``mlflow.start_run()`` without
``nested=True`` (the course's) works unchanged. The first run the objective starts, explicitly,
implicitly by logging, or through autologging, *is* the trial run: tracker nests it under the
parent and adds the trial's params, tags and loss to it. Further runs it starts are nested under
that trial run. An objective that starts no run gets a trial run made for it (``trial-<n>``).

hyperopt is imported on first use, not with this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker import api
from tracker.entities import RunStatus
from tracker.hyperopt import spark as hyperopt_spark
from tracker.hyperopt._sweep import SEARCH_SPACE_FILE, _hyperopt, _start, describe_space
from tracker.hyperopt._sweep import _algo_name as _algo_name  # the algorithm names tests check
from tracker.progress import Ticker, interactive

__all__ = ["SEARCH_SPACE_FILE", "describe_space", "fmin"]


def fmin(
    fn: Callable[..., Any],
    space: Any,
    algo: Callable[..., Any] | None = None,
    max_evals: int | None = None,
    timeout: float | None = None,
    loss_threshold: float | None = None,
    trials: Any = None,
    rstate: Any = None,
    allow_trials_fmin: bool = True,
    pass_expr_memo_ctrl: bool | None = None,
    catch_eval_exceptions: bool = False,
    verbose: bool = True,
    return_argmin: bool = True,
    points_to_evaluate: list[dict[str, Any]] | None = None,
    max_queue_len: int = 1,
    show_progressbar: bool | None = None,
    early_stop_fn: Callable[..., Any] | None = None,
    trials_save_file: str = "",
    *,
    run_name: str | None = None,
) -> Any:
    """Minimize ``fn`` over ``space`` with ``hyperopt.fmin``, recording a parent run and its trials.

    Takes hyperopt's arguments and returns what ``hyperopt.fmin`` returns. A trial whose
    objective raises is recorded as a FAILED run (tag ``error``); then, as in hyperopt, the
    exception ends the sweep unless ``catch_eval_exceptions=True``. The parent is the active
    run if there is one (and ``run_name`` is not given); otherwise a new run named ``run_name``
    (default ``sweep-<algo>``), nested under the active run if any, ended with the sweep.

    Args:
        fn: the objective: takes the sampled point, returns a loss or hyperopt's result dict.
        space: the search space (``hp.*`` expressions), or ``"annotated"``.
        algo: the suggest function, e.g. ``tpe.suggest`` (hyperopt's default, TPE, if None).
        max_evals: the number of trials.
        timeout: hyperopt's ``timeout`` (seconds).
        loss_threshold: stop once a loss is at or below this.
        trials: a ``hyperopt.Trials`` to fill (a new one if None), or ``SparkTrials``: trials
            then run and are logged on Spark executors (``tracker.hyperopt.spark``).
        rstate: ``np.random.default_rng(seed)`` for a reproducible sweep.
        allow_trials_fmin: hyperopt's ``allow_trials_fmin``.
        pass_expr_memo_ctrl: call ``fn(expr=, memo=, ctrl=)`` as hyperopt does.
        catch_eval_exceptions: go on after a trial raised (it is recorded FAILED either way).
        verbose: hyperopt's ``verbose``.
        return_argmin: hyperopt's ``return_argmin``.
        points_to_evaluate: points to try first.
        max_queue_len: hyperopt's ``max_queue_len``.
        show_progressbar: hyperopt's bar. None: the bar on a terminal, else (``CI=true``, or no
            terminal) one line per ``TRACKER_PROGRESS_SECONDS`` (10) on stderr instead.
        early_stop_fn: hyperopt's ``early_stop_fn``.
        trials_save_file: hyperopt's ``trials_save_file``.
        run_name: name of a new parent run (default ``sweep-<algo>``).
    """
    if hyperopt_spark.is_spark_trials(trials):  # trials run on executors: tracker.hyperopt.spark
        return hyperopt_spark.fmin_spark(fn, space, algo, max_evals, trials, run_name,
            pass_expr_memo_ctrl, dict(
                timeout=timeout, loss_threshold=loss_threshold, rstate=rstate, verbose=verbose,
                allow_trials_fmin=allow_trials_fmin, catch_eval_exceptions=catch_eval_exceptions,
                return_argmin=return_argmin, points_to_evaluate=points_to_evaluate,
                max_queue_len=max_queue_len, show_progressbar=show_progressbar,
                early_stop_fn=early_stop_fn, trials_save_file=trials_save_file))
    hyperopt = _hyperopt()
    sweep, owned = _start(fn, space, algo, max_evals, pass_expr_memo_ctrl, run_name)
    if show_progressbar is None:  # #13: carriage-return updates flood CI logs
        show_progressbar = interactive()
        sweep.ticker = None if show_progressbar else Ticker("tracker.hyperopt", total=max_evals)
    status = RunStatus.FINISHED
    try:
        return hyperopt.fmin(
            sweep.evaluate, sweep.space.source, algo=algo, max_evals=max_evals, timeout=timeout,
            loss_threshold=loss_threshold, trials=trials, rstate=rstate,
            allow_trials_fmin=allow_trials_fmin, pass_expr_memo_ctrl=True,
            catch_eval_exceptions=catch_eval_exceptions, verbose=verbose,
            return_argmin=return_argmin, points_to_evaluate=points_to_evaluate,
            max_queue_len=max_queue_len, show_progressbar=show_progressbar,
            early_stop_fn=early_stop_fn, trials_save_file=trials_save_file,
        )
    except BaseException as exc:
        status = RunStatus.FAILED if isinstance(exc, Exception) else RunStatus.KILLED
        raise
    finally:
        try:
            sweep.tick(final=True)
            sweep.log_summary()
        finally:
            if owned:
                api.end_run(status)
