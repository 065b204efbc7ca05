"""MLflow 1.x names that courses and notebooks still use, kept working after MLflow 2 removed them.

``list_experiments``, ``list_run_infos`` and ``list_registered_models`` (on the client here,
the fluent ones in ``tracker.api``) answer as MLflow 1.x did; each prints a one-line notice on stderr the first time a
process calls it, naming the current spelling.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.entities import Experiment
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
