"""Graphs drawn as inline SVG at build time (no JavaScript needed to see or follow them).

The lineage of a model version is a few columns of boxes joined by arrows. Every piece of text
comes from the store, so it is escaped for XML (and the HTML parser that reads inline SVG), links
must be relative paths, and control characters are dropped. Coordinates depend only on the
input, so builds are reproducible.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from markupsafe import Markup

BOX_WIDTH = 210
COLUMN_GAP = 56
ROW_GAP = 16
PAD = 12
TITLE_HEIGHT = 22
LINE_HEIGHT = 16
CHAR_WIDTH = 6.8  # average width of a 12px sans-serif character, for truncation
MAX_LINES = 4

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_CLASS = re.compile(r"[^a-z0-9-]")


@dataclass(frozen=True)
class Node:
    """A box of the graph.

    Args:
        key: unique id of the node within the graph (used by edges, never written out).
        kind: what it is (``run``, ``dataset``…), becomes the CSS class ``node-<kind>``.
        title: the first, bold line.
        lines: detail lines under the title (at most ``MAX_LINES`` are drawn).
        href: relative link of the node's page, or ``None`` for a box without a page.
        tooltip: the full text shown on hover (defaults to title and lines).
    """

    key: str
    kind: str
    title: str
    lines: tuple[str, ...] = ()
    href: str | None = None
    tooltip: str = ""


@dataclass(frozen=True)
class _Box:
    node: Node
    x: float
    y: float
    height: float
    lines: tuple[str, ...] = field(default=())


def clean_text(text: object) -> str:
    """Text without control characters (invalid in XML)."""
    return _CONTROL.sub("", str(text))


def escape(text: object) -> str:
    """Text escaped for XML character data and quoted attributes."""
    return html.escape(clean_text(text), quote=True)


def truncate(text: str, width: float = BOX_WIDTH - 16) -> str:
    """``text`` cut to fit ``width`` pixels, with an ellipsis when cut."""
    limit = max(4, int(width / CHAR_WIDTH))
    text = clean_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_href(href: str | None) -> str | None:
    """A relative link, percent-encoded; ``None`` for anything with a scheme (``javascript:``)."""
    href = clean_text(href or "").strip()
    if not href or _SCHEME.match(href) or href.startswith(("//", "\\")):
        return None
    path, sep, fragment = href.partition("#")
    return quote(path, safe="/.-_~") + (sep + quote(fragment, safe="-_.~") if sep else "")


def _layout(columns: Sequence[Sequence[Node]]) -> tuple[list[_Box], float, float]:
    heights = []
    for column in columns:
        heights.append([TITLE_HEIGHT + LINE_HEIGHT * len(n.lines[:MAX_LINES]) + 8 for n in column])
    total = max((sum(h) + ROW_GAP * (len(h) - 1) for h in heights if h), default=0.0)
    boxes = []
    for index, (column, column_heights) in enumerate(zip(columns, heights)):
        x = PAD + index * (BOX_WIDTH + COLUMN_GAP)
        used = sum(column_heights) + ROW_GAP * (len(column_heights) - 1)
        y = PAD + (total - used) / 2
        for node, height in zip(column, column_heights):
            lines = tuple(truncate(t) for t in node.lines[:MAX_LINES])
            boxes.append(_Box(node, x, y, height, lines))
            y += height + ROW_GAP
    width = PAD * 2 + max(len(columns), 1) * BOX_WIDTH + max(len(columns) - 1, 0) * COLUMN_GAP
    return boxes, width, total + PAD * 2


def _box_svg(box: _Box) -> str:
    node = box.node
    kind = _CLASS.sub("-", node.kind.lower())
    tooltip = node.tooltip or "\n".join((node.title, *node.lines))
    text_x = box.x + 8
    parts = [
        f'<g class="node node-{kind}">',
        f"<title>{escape(tooltip)}</title>",
        f'<rect x="{box.x:g}" y="{box.y:g}" width="{BOX_WIDTH}" height="{box.height:g}" '
        'rx="6" ry="6"></rect>',
        f'<text class="node-title" x="{text_x:g}" y="{box.y + 16:g}">'
        f"{escape(truncate(node.title))}</text>",
    ]
    for i, line in enumerate(box.lines):
        y = box.y + TITLE_HEIGHT + 12 + i * LINE_HEIGHT
        parts.append(f'<text class="node-line" x="{text_x:g}" y="{y:g}">{escape(line)}</text>')
    parts.append("</g>")
    href = safe_href(node.href)
    if href is None:
        return "".join(parts)
    return f'<a href="{escape(href)}">' + "".join(parts) + "</a>"


def _edge_svg(source: _Box, target: _Box) -> str:
    x1, y1 = source.x + BOX_WIDTH, source.y + source.height / 2
    x2, y2 = target.x - 4, target.y + target.height / 2
    bend = (x2 - x1) / 2
    return (f'<path class="edge" d="M{x1:g} {y1:g} C{x1 + bend:g} {y1:g} {x2 - bend:g} {y2:g} '
            f'{x2:g} {y2:g}" marker-end="url(#lineage-arrow)"></path>')


def graph_svg(
    columns: Sequence[Sequence[Node]], edges: Sequence[tuple[str, str]], label: str
) -> Markup:
    """An SVG of boxes in columns (left to right) joined by arrows.

    Args:
        columns: the nodes of each column, top to bottom.
        edges: (source key, target key) pairs; pairs naming unknown nodes are skipped.
        label: the accessible name of the graph.
    """
    boxes, width, height = _layout(columns)
    by_key = {box.node.key: box for box in boxes}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage-graph" role="group" '
        f'width="{width:g}" height="{height:g}" viewBox="0 0 {width:g} {height:g}" '
        f'aria-label="{escape(label)}">',
        "<defs><marker id=\"lineage-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0 0 L10 5 L0 10 z"></path></marker></defs>',
    ]
    for source, target in edges:
        if source in by_key and target in by_key:
            parts.append(_edge_svg(by_key[source], by_key[target]))
    parts.extend(_box_svg(box) for box in boxes)
    parts.append("</svg>")
    return Markup("".join(parts))


def graph_list(
    columns: Sequence[Sequence[Node]], headings: Sequence[str], label: str
) -> Markup:
    """The same graph as a stacked HTML list, one step per column, for narrow screens (#18).

    Args:
        columns: the nodes of each column, as for ``graph_svg``.
        headings: the name of each column (the step).
        label: the accessible name of the list.
    """
    parts = [f'<ol class="lineage-steps" aria-label="{escape(label)}">']
    for heading, column in zip(headings, columns):
        parts.append(f'<li><span class="step-name">{escape(heading)}</span><ul>')
        for node in column:
            kind = _CLASS.sub("-", node.kind.lower())
            href = safe_href(node.href)
            title = escape(node.title)
            title = f'<a href="{escape(href)}">{title}</a>' if href else f"<span>{title}</span>"
            lines = "".join(f'<span class="node-line">{escape(line)}</span>'
                            for line in node.lines[:MAX_LINES])
            parts.append(f'<li class="node node-{kind}">{title}{lines}</li>')
        parts.append("</ul></li>")
    parts.append("</ol>")
    return Markup("".join(parts))
