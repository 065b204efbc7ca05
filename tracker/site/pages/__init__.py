"""Page models: one frozen dataclass per page type, each field documented with ``help``.

A page module exposes ``collect(site: SiteData) -> Iterable[Page | SiteFile | Group]`` (a
``Collector``); ``build`` renders every ``Page`` with its ``template``, writes every ``SiteFile``
as is and collects a ``Group`` only when its fingerprint changed. Links and labels that several
pages make come from ``tracker.site.links``, so page modules never import each other to link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from tracker.site.data import SiteData


def doc(text: str, default: Any = ..., factory: Any = None) -> Any:
    """A dataclass field with ``help`` metadata (every page-model field is documented)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": text})
    if default is ...:
        return field(metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class Link:
    """A link to another page: its label and site-root path (made relative when rendered)."""

    label: str = doc("Text of the link (escaped when rendered).")
    href: str = doc("Site-root-relative path of the target page or file.")


@dataclass(frozen=True)
class Page:
    """What every page has: where it is written, its title and its breadcrumb trail."""

    template: ClassVar[str] = "base.html"

    path: str = doc("Site-root-relative output path, e.g. runs/<id>.html.")
    title: str = doc("Page title (escaped when rendered).")
    breadcrumbs: tuple[Link, ...] = doc("Links from the home page down to this page.")


@dataclass(frozen=True)
class SiteFile:
    """A non-HTML file of the site: chart data, CSV downloads, copied artifacts."""

    path: str = doc("Site-root-relative output path.")
    content: bytes = doc("The bytes to write.")


@dataclass(frozen=True)
class Group:
    """Pages and files made only from the data ``fingerprint`` summarises.

    When the previous build made group ``key`` from the same fingerprint and its files are
    still there, ``make`` is not called and the files stay as they are.
    """

    key: str = doc("Stable name of the group, e.g. run:<run id>.")
    fingerprint: str = doc("Hash of everything the group's pages and files are made from.")
    make: Callable[[], Iterable[Page | SiteFile]] = doc("Collects the group's pages and files.")


@dataclass(frozen=True)
class KeptGroups:
    """Groups the previous build made from the same fingerprints, whose files are still there
    (``SiteData.reusable`` said so): kept as they are, in one go (#14: a rebuild after one new
    run keeps 10,000 run pages; a ``Group`` each cost more than keeping them)."""

    groups: tuple[tuple[str, str], ...] = doc("(key, fingerprint) of each group.")


class Collector(Protocol):
    """A page module's ``collect``: the build's site data in, its pages, files and groups out."""

    def __call__(self, site: SiteData, /) -> Iterable[Page | SiteFile | Group | KeptGroups]: ...
