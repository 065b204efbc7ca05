"""Markdown reports: front matter, sanitized Markdown, ```sql and ```chart blocks run at build.

A report is a ``*.md`` file in the reports folder::

    ---
    title: Overview
    order: 1
    description: The best runs and how they compare.
    ---
    Some **Markdown**.

    ```sql
    SELECT run_id, run_name FROM runs ORDER BY start_time DESC LIMIT 10
    ```

    ```chart
    sql: SELECT run_name, value FROM latest_metrics WHERE key = 'rmse'
    x: run_name
    y: value
    kind: bar
    ```

The Markdown is rendered (``fenced_code``, ``tables``) and sanitized with ``render.sanitize_html``
(raw HTML may not inject script). Each ``sql``/``chart`` block is replaced by a placeholder
paragraph before rendering, so the document keeps its Markdown structure, and the rendered HTML
is then split at the placeholders into pieces the page model holds in order.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tracker.exceptions import TrackerError
from tracker.site import charts
from tracker.site.report_meta import FrontMatter

if TYPE_CHECKING:
    from tracker.query.sandbox import Sandbox
    from tracker.site.data import SiteData

MAX_ROWS = 200
# ```sql and ```chart here; the YAML blocks of #17 in tracker.site.report_blocks (same order).
BLOCK_KINDS = ("sql", "chart", "runs", "history", "scatter", "bar", "parallel", "importance",
               "model", "compare")
CHART_KINDS = ("line", "scatter", "bar")
CHART_KEYS = ("sql", "x", "y", "color", "kind", "title")

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)[^`]*$")
_KEY_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_-]*)[ \t]*:[ \t]?(?P<value>.*)$")


class ReportError(TrackerError):
    """A report block could not be run or drawn (shown on the page, logged as a warning)."""


@dataclass(frozen=True)
class Block:
    """A ```sql or ```chart block of a report.

    Args:
        kind: ``sql`` or ``chart``.
        line: 1-based line number of the opening fence in the file.
        text: the block's content.
    """

    kind: str
    line: int
    text: str


@dataclass(frozen=True)
class ReportSource:
    """A report file, parsed: its metadata, Markdown (with placeholders) and blocks."""

    slug: str
    file: str
    title: str
    order: float
    description: str
    markdown: str
    blocks: tuple[Block, ...]
    token: str
    front: FrontMatter = FrontMatter()  # every front matter key, validated (report_meta)


@dataclass(frozen=True)
class ChartSpec:
    """A ```chart block: the query and which columns to draw."""

    sql: str
    x: str
    y: tuple[str, ...]
    color: str = ""
    kind: str = "line"
    title: str = ""


def report_files(reports_dir: str | None) -> list[str]:
    """The ``*.md`` files of the reports folder, sorted (none when the folder is not set)."""
    if not reports_dir or not os.path.isdir(reports_dir):
        return []
    return sorted(
        os.path.join(reports_dir, name) for name in os.listdir(reports_dir)
        if name.lower().endswith(".md") and os.path.isfile(os.path.join(reports_dir, name))
    )


def nav_entries(site: SiteData) -> list[tuple[str, str]]:
    """``[("Reports", <reports index>)]`` when the build has reports, else ``[]``."""
    return [("Reports", site.urls.reports_index)] if report_files(site.reports_dir) else []


def parse_front_matter(text: str) -> tuple[dict[str, str], str, int]:
    """Split ``---``-fenced ``key: value`` lines off the top of a report.

    Returns the metadata (keys lower-cased, values unquoted), the body, and the number of lines
    before the body (so block line numbers count from the top of the file).
    """
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return {}, text, 0  # no closing fence: it was a thematic break, not front matter
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        match = _KEY_LINE.match(line.strip())
        if match:
            meta[match["key"].lower()] = _unquote(match["value"].strip())
    return meta, "\n".join(lines[end + 1:]), end + 1


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def extract_blocks(body: str, first_line: int, token: str) -> tuple[str, tuple[Block, ...]]:
    """Replace each ```sql/```chart block by a placeholder paragraph; return the blocks.

    Args:
        body: the Markdown after the front matter.
        first_line: how many file lines come before ``body``.
        token: the placeholder prefix (unique per report).
    """
    lines = body.split("\n")
    out: list[str] = []
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        fence = match["fence"]
        end = i + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence[0] * len(fence))
            and set(lines[end].strip()) == {fence[0]}
        ):
            end += 1
        info = match["info"].lower()
        if info in BLOCK_KINDS:
            blocks.append(Block(info, first_line + i + 1, "\n".join(lines[i + 1:end])))
            out.extend(["", placeholder(token, len(blocks) - 1), ""])
        else:
            out.extend(lines[i:end + 1])
        i = end + 1
    return "\n".join(out), tuple(blocks)


def placeholder(token: str, index: int) -> str:
    return f"{token}B{index}E"


def load_report(path: str, slug: str) -> ReportSource:
    """Read and parse one report file."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read().replace("\r\n", "\n")
    from tracker.site import report_meta

    front, body, offset = report_meta.parse(text, path)
    token = "TRACKERBLOCK" + hashlib.sha256(text.encode()).hexdigest()[:16]
    title = front.title
    if not title:
        title, body, offset = _title_from_heading(body, offset, slug)
    markdown, blocks = extract_blocks(body, offset, token)
    return ReportSource(slug, path, title, front.order, front.description, markdown, blocks,
                        token, front)


def _title_from_heading(body: str, offset: int, slug: str) -> tuple[str, str, int]:
    """The first ``# Heading`` as the title (removed from the body), else the slug."""
    lines = body.split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if line.startswith("# "):
            return line[2:].strip().strip("#").strip(), "\n".join(lines[index + 1:]), (
                offset + index + 1)
        break
    return slug.replace("-", " ").capitalize(), body, offset


def render_markdown(source: ReportSource) -> list[str | int]:
    """The report's HTML (sanitized), split into HTML pieces and block indexes, in order."""
    import markdown

    from tracker.site.render import sanitize_html

    html = sanitize_html(markdown.markdown(source.markdown, extensions=["fenced_code", "tables"]))
    pattern = re.compile(r"(?:<p>)?" + re.escape(source.token) + r"B(\d+)E(?:</p>)?")
    pieces: list[str | int] = []
    position = 0
    for match in pattern.finditer(html):
        if match.start() > position:
            pieces.append(html[position:match.start()])
        index = int(match.group(1))
        if index < len(source.blocks):
            pieces.append(index)
        position = match.end()
    if position < len(html):
        pieces.append(html[position:])
    return [p for p in pieces if not isinstance(p, str) or p.strip()]


def run_sql(sandbox: Sandbox, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a report's SQL in the build's sandbox (``tracker.query.sandbox``): one reading
    statement over copies of the redacted tables, with no access to files, settings or
    extensions.

    Raises:
        ReportError: the statement is not a single read, or DuckDB rejected it.
    """
    from tracker.query.sandbox import SandboxError

    try:
        return sandbox.run(sql.strip())
    except SandboxError as exc:
        raise ReportError(str(exc)) from exc


def parse_chart_spec(text: str) -> ChartSpec:
    """``key: value`` lines (``sql`` may continue on the following indented lines).

    Raises:
        ReportError: unknown key, missing ``sql``/``x``/``y``, or an unknown ``kind``.
    """
    values: dict[str, str] = {}
    key = ""
    for raw in text.split("\n"):
        match = _KEY_LINE.match(raw)
        if match and not raw[:1].isspace():
            key = match["key"].lower()
            if key not in CHART_KEYS:
                raise ReportError(
                    f"unknown chart key {key!r}; use {', '.join(CHART_KEYS)}.")
            values[key] = match["value"].strip()
        elif raw.strip() and key:
            values[key] = (values[key] + "\n" + raw.strip()).strip()
        elif raw.strip():
            raise ReportError(f"expected 'key: value', got {raw.strip()!r}.")
    missing = [k for k in ("sql", "x", "y") if not values.get(k)]
    if missing:
        raise ReportError(f"the chart needs {', '.join(missing)}: (sql:, x: and y: lines).")
    kind = values.get("kind", "line").lower() or "line"
    if kind not in CHART_KINDS:
        raise ReportError(f"unknown chart kind {kind!r}; use {', '.join(CHART_KINDS)}.")
    sql = values["sql"].removeprefix("|").strip()
    ys = tuple(y.strip() for y in values["y"].split(",") if y.strip())
    return ChartSpec(sql, values["x"], ys, values.get("color", ""), kind, values.get("title", ""))


def chart_figure(
    spec: ChartSpec, columns: list[str], rows: list[tuple[Any, ...]]
) -> dict[str, Any]:
    """A Plotly figure dict of a chart block's result (one trace per y column or color value).

    Raises:
        ReportError: a column named by the spec is not in the result.
    """
    for name in (spec.x, *spec.y, *([spec.color] if spec.color else [])):
        if name not in columns:
            raise ReportError(
                f"the query has no column {name!r}; its columns are {', '.join(columns)}.")
    xi = columns.index(spec.x)
    traces: list[dict[str, Any]] = []
    for y in spec.y:
        yi = columns.index(y)
        groups: dict[str, list[tuple[Any, ...]]] = {}
        if spec.color:
            ci = columns.index(spec.color)
            for row in rows:
                groups.setdefault(_label(row[ci]), []).append(row)
        else:
            groups[y] = rows
        for name in sorted(groups):
            label = name if len(spec.y) == 1 or not spec.color else f"{y} · {name}"
            traces.append(_trace(spec.kind, label, [_json_value(r[xi]) for r in groups[name]],
                                 [_number(r[yi]) for r in groups[name]], len(traces)))
    title = spec.title or f"{', '.join(spec.y)} by {spec.x}"
    layout = charts.layout(title, spec.x, ", ".join(spec.y))
    if len(traces) > 1:
        # Above the plot, under the title: a legend below it covered the x labels (#11).
        layout["legend"] = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0,
                            "yanchor": "bottom"}
        layout["margin"] = {**layout["margin"], "t": 80}
        layout["title"] = {**layout["title"], "y": 0.97, "yanchor": "top"}
    if spec.kind == "bar":
        if len(traces) > 1:
            layout["barmode"] = "group"
        span = charts.value_range([y for t in traces for y in t["y"]])
        if span is not None:  # not from 0 when that would hide the differences (#11)
            layout["yaxis"] = {**layout["yaxis"], "range": span}
    return {"data": traces, "layout": layout}


def _trace(
    kind: str, name: str, xs: list[Any], ys: list[float | None], index: int
) -> dict[str, Any]:
    color = charts.PALETTE[index % len(charts.PALETTE)]
    if kind == "bar":
        pattern = charts.PATTERNS[index % len(charts.PATTERNS)]
        return {"type": "bar", "name": name, "x": xs, "y": ys,
                "marker": {"color": color, "pattern": {"shape": pattern}}}
    mode = "lines+markers" if kind == "line" else "markers"
    return {"type": "scatter", "mode": mode, "name": name, "x": xs, "y": ys,
            "line": {"color": color, "dash": charts.DASHES[index % len(charts.DASHES)]},
            "marker": {"color": color, "symbol": charts.SYMBOLS[index % len(charts.SYMBOLS)]}}


def _label(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    try:
        return charts.finite(value)
    except (TypeError, ValueError):
        return None


def _json_value(value: Any) -> Any:
    """An x value JSON can hold: numbers (finite), text, ISO times; anything else as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (float, Decimal)):
        return charts.finite(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
