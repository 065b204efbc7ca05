"""``PagedList``: one page of search results, with the ``token`` that asks for the next page.

Returned by the client's ``search_*`` methods that take ``max_results``/``page_token``, as in
MLflow. A token is the offset of the next page as text; ``None`` on the last page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from tracker.exceptions import InvalidArgumentError

__all__ = ["PagedList"]

T = TypeVar("T")


class PagedList(list[T]):
    """A list of results plus ``token`` (``None`` when there is no further page).

    Args:
        items: the results of this page.
        token: pass it as ``page_token`` to get the next page.
    """

    def __init__(self, items: Iterable[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token

    def to_list(self) -> list[T]:
        return list(self)


def page_offset(page_token: Any) -> int:
    """The offset a ``page_token`` stands for (0 for None or empty)."""
    if page_token is None or page_token == "":
        return 0
    text = str(page_token)
    if not text.isdigit():
        raise InvalidArgumentError(
            f"Invalid page_token {page_token!r}: pass the .token of the page before, or None."
        )
    return int(text)


def check_max_results(max_results: Any, what: str) -> int | None:
    if max_results is None:
        return None
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidArgumentError(
            f"{what}: max_results must be a positive integer or None, got {max_results!r}."
        )
    return max_results


def paginate(items: list[T], max_results: int | None, page_token: Any, what: str) -> PagedList[T]:
    """The page of ``items`` that ``page_token`` starts, at most ``max_results`` long."""
    size = check_max_results(max_results, what)
    start = page_offset(page_token)
    if size is None:
        return PagedList(items[start:], None)
    end = start + size
    return PagedList(items[start:end], str(end) if end < len(items) else None)
