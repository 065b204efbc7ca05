"""Parameter searches (``GridSearchCV``, ``RandomizedSearchCV``): what the parent run gets beyond
an ordinary fit, and one child run per candidate, as MLflow's scikit-learn autologging does.

Parent: ``best_<param>`` params, the ``best_cv_score`` metric, ``cv_results.csv`` and the best
estimator as a model at ``best_estimator``. Children (best ``max_tuning_runs`` first, tagged
``mlflow.parentRunId``): the seed estimator's params updated with the candidate's, and the
candidate's ``cv_results_`` figures (``mean_test_score``, ``std_test_score``, ``rank_test_score``,
fit and score times) as metrics; per-split columns are left out.
"""

from __future__ import annotations

import numbers
import os
import tempfile
from typing import TYPE_CHECKING, Any

from tracker.autologging.models import estimator_tags
from tracker.autologging.session import AUTOLOGGING_TAG, RunContext

if TYPE_CHECKING:
    import pandas as pd


def is_search(estimator: Any) -> bool:
    """True for scikit-learn's ``GridSearchCV`` / ``RandomizedSearchCV`` (and subclasses).

    Args:
        estimator: any object.
    """
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    return isinstance(estimator, (GridSearchCV, RandomizedSearchCV))


def log_search(ctx: RunContext, search: Any, features: Any) -> None:
    """Log a fitted search's results into its run and create the candidates' child runs.

    Args:
        ctx: the search's run context.
        search: the fitted search.
        features: the training X (for the best estimator's input example).
    """
    from tracker.sklearn._autolog import log_estimator

    if hasattr(search, "best_score_"):
        ctx.log_metrics({"best_cv_score": search.best_score_})
    if hasattr(search, "best_params_"):
        ctx.attempt("log the best params", ctx.log_params,
                    {f"best_{k}": v for k, v in search.best_params_.items()})
    if ctx.opts["log_models"] and hasattr(search, "best_estimator_"):
        ctx.attempt("log the best estimator", log_estimator, ctx, search.best_estimator_,
                    features, "best_estimator")
    if hasattr(search, "cv_results_"):
        ctx.attempt("log cv_results.csv", _log_cv_results, ctx, search)
        ctx.attempt("create the child runs of the search", _log_children, ctx, search)


def _log_cv_results(ctx: RunContext, search: Any) -> None:
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="tracker-cv-") as tmp:
        path = os.path.join(tmp, "cv_results.csv")
        pd.DataFrame(search.cv_results_).to_csv(path, index=False)
        ctx.client.log_artifact(ctx.run_id, path)


def _log_children(ctx: RunContext, search: Any) -> None:
    from tracker import api

    results = best_candidates(search, ctx.opts["max_tuning_runs"])
    seed = search.estimator
    base = seed.get_params(deep=not is_search(seed))
    active = api.active_run()
    start = active.info.start_time if active is not None and active.info.run_id == ctx.run_id else None
    tags = {AUTOLOGGING_TAG: ctx.flavor, **estimator_tags(seed)}
    for _, row in results.iterrows():
        run = ctx.client.create_run(
            ctx.runlog.experiment_id, start_time=start, tags=tags, parent_run_id=ctx.run_id
        )
        child = RunContext(ctx.flavor, run.info.run_id, ctx.client, ctx.opts)
        try:
            child.log_params({**base, **row["params"]})
            child.log_metrics({
                str(k): v for k, v in row.items()
                if not str(k).startswith(("param", "split")) and isinstance(v, numbers.Number)
            })
        finally:
            ctx.client.set_terminated(child.run_id, "FINISHED")


def best_candidates(search: Any, limit: int | None) -> pd.DataFrame:
    """The rows of ``cv_results_`` to log as child runs: the ``limit`` best (None: all).

    Ranked by ``rank_test_score``, or the first ``rank_test_*`` column for multi-metric scoring.

    Args:
        search: the fitted search.
        limit: how many candidates.
    """
    import pandas as pd

    results = pd.DataFrame(search.cv_results_)
    if limit is None:
        return results
    ranks = [c for c in results.columns if str(c).startswith("rank_test_")]
    column = "rank_test_score" if "rank_test_score" in ranks else (ranks[0] if ranks else None)
    if column is None:
        return results.head(limit)
    return results.nsmallest(limit, column, keep="first")
