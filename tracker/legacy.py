"""MLflow 1.x names that courses and notebooks still use, kept working after MLflow 2 removed them.

``list_experiments``, ``list_run_infos`` and ``list_registered_models`` (on the client here;
the fluent ones are in ``tracker.api``) answer as MLflow 1.x did; each prints a one-line notice
on stderr the first time a process calls it, naming the current spelling.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tracker.entities import ViewType

if TYPE_CHECKING:
    from tracker.entities import Experiment, RunInfo
    from tracker.registry.state import RegisteredModel
    from tracker.store.entities.paged_list import PagedList

__all__ = ["LegacyClientMixin", "notice_deprecated"]

_noticed: set[str] = set()


def notice_deprecated(name: str, replacement: str) -> None:
    """Print, once per process, that ``name`` is MLflow 1.x API and what replaced it."""
    if name in _noticed:
        return
    _noticed.add(name)
    print(
        f"tracker: {name} is MLflow 1.x API (removed in MLflow 2); it still works here, "
        f"the current name is {replacement}.",
        file=sys.stderr,
    )


class LegacyClientMixin:
    """MLflow 1.x client methods of ``TrackerClient``, as thin calls to the current ones."""

    def search_experiments(self, *args: Any, **kwargs: Any) -> PagedList[Experiment]:
        raise NotImplementedError

    def search_runs(self, *args: Any, **kwargs: Any) -> PagedList[Any]:
        raise NotImplementedError

    def search_registered_models(self, *args: Any, **kwargs: Any) -> PagedList[RegisteredModel]:
        raise NotImplementedError

    def list_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """MLflow 1.x: experiments of ``view_type`` (now ``search_experiments``)."""
        notice_deprecated("MlflowClient.list_experiments()", "search_experiments()")
        return self.search_experiments(view_type, max_results, None, None, page_token)

    def list_run_infos(
        self,
        experiment_id: str,
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RunInfo]:
        """MLflow 1.x: the ``RunInfo`` of an experiment's runs (now ``search_runs``)."""
        from tracker.store.entities.paged_list import PagedList

        notice_deprecated("MlflowClient.list_run_infos()", "search_runs()")
        runs = self.search_runs(
            [experiment_id], "", run_view_type, max_results, order_by, page_token
        )
        return PagedList([run.info for run in runs], runs.token)

    def list_registered_models(
        self, max_results: int = 100, page_token: str | None = None
    ) -> PagedList[RegisteredModel]:
        """MLflow 1.x: registered models by name (now ``search_registered_models``)."""
        notice_deprecated("MlflowClient.list_registered_models()", "search_registered_models()")
        return self.search_registered_models(None, max_results, ["name ASC"], page_token)
