"""Heading anchors and the table of contents of a report (#17).

Runs on the report's sanitized HTML: each ``<h1>``…``<h6>`` gets an ``id`` made by
``urls.slugify`` (ASCII letters, digits and dashes only, so an id can never carry markup), made
unique within the page and never one of the ids the page layout uses. A report with
``MIN_HEADINGS`` headings or more gets a table of contents.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from tracker.site.urls import slugify

MIN_HEADINGS = 3
# ids of the page layout (base.html and report.html): a heading never takes one of them.
RESERVED_IDS = frozenset({"main", "site-search", "search-results", "contents", "toc", "toc-title"})

_HEADING = re.compile(r"<h(?P<level>[1-6])(?P<attrs>[^>]*)>(?P<inner>.*?)</h(?P=level)>",
                      re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class TocEntry:
    """One heading of a report."""

    level: int  # 1-6 as found; in ``toc()``: 0 for the top level, 1 for the level under it
    text: str
    anchor: str


class Anchors:
    """Gives each heading of one page a unique id (call ``add`` on each HTML piece in order)."""

    def __init__(self) -> None:
        self.used: set[str] = set(RESERVED_IDS)
        self.entries: list[TocEntry] = []

    def add(self, piece: str) -> str:
        """``piece`` with an ``id`` on each heading (headings that already have one keep it)."""
        return _HEADING.sub(self._anchor, piece)

    def _anchor(self, match: re.Match[str]) -> str:
        attrs = match["attrs"]
        if re.search(r"\bid\s*=", attrs):
            return match.group(0)
        text = html.unescape(_TAG.sub("", match["inner"])).strip()
        base = slugify(text, "section")
        anchor, number = base, 2
        while anchor in self.used:
            anchor, number = f"{base}-{number}", number + 1
        self.used.add(anchor)
        self.entries.append(TocEntry(int(match["level"]), text, anchor))
        level = match["level"]
        return f'<h{level} id="{anchor}"{attrs}>{match["inner"]}</h{level}>'

    def toc(self) -> tuple[TocEntry, ...]:
        """The entries for a table of contents: none for a report with few headings."""
        if len(self.entries) < MIN_HEADINGS:
            return ()
        top = min(e.level for e in self.entries)
        return tuple(TocEntry(e.level - top, e.text, e.anchor)
                     for e in self.entries if e.level <= top + 1)
