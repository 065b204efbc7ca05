"""The report page's hooks for #17: YAML blocks as sections, "view data" CSV files for every
block, and live ``{{ ... }}`` values in the prose (see ``report_blocks`` and ``report_values``).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from tracker.site import report_blocks, report_values, reports
from tracker.site.pages import doc

if TYPE_CHECKING:
    from tracker.site.data import SiteData
    from tracker.site.pages import SiteFile

log = logging.getLogger("tracker.site")


@dataclass(frozen=True)
class TableCell:
    """One cell of a query result."""

    text: str = doc("Displayed text (escaped when rendered).")
    href: str = doc("Site path the cell links to (run_id columns), '' for none.", "")
    title: str = doc("Full value shown on hover when the text is shortened, else ''.", "")
    numeric: bool = doc("Right-aligned number.", False)


@dataclass(frozen=True)
class Section:
    """A piece of a report, in document order."""

    kind: str = doc("'html', 'table', 'chart' or 'error'.")
    html: Markup = doc("Sanitized HTML of Markdown text (kind 'html').", Markup(""))
    columns: tuple[str, ...] = doc("Result column names (kind 'table').", factory=tuple)
    rows: tuple[tuple[TableCell, ...], ...] = doc("Result rows, at most MAX_ROWS (kind 'table').",
                                                  factory=tuple)
    total_rows: int = doc("How many rows the query returned (kind 'table').", 0)
    figure: dict[str, Any] | None = doc("Plotly figure dict (kind 'chart').", None)
    title: str = doc("Chart title, for its accessible label (kind 'chart').", "")
    sql: str = doc("The block's SQL (tables, charts, errors).", "")
    line: int = doc("Line of the block in the report file (0 for Markdown text).", 0)
    error: str = doc("What went wrong (kind 'error').", "")
    block: report_blocks.BlockView | None = doc("The drawn block (kind 'block').", None)
    data: report_blocks.BlockData | None = doc("The rows behind a block, with its CSV.", None)


def front_matter(source: reports.ReportSource) -> tuple[dict[str, str], str, int]:
    """(what blocks default to: ``experiment``, body, lines before the body) of the report."""
    from tracker.site import report_meta

    meta = {"experiment": source.front.experiment} if source.front.experiment else {}
    try:
        with open(source.file, encoding="utf-8") as fh:
            text = fh.read().replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return meta, "", 0
    _, body, offset = report_meta.parse(text, source.file)
    return meta, body, offset


def block_section(site: SiteData, source: reports.ReportSource, block: reports.Block) -> Section:
    """A ```runs/```history/... block drawn (raises ``ReportError`` naming file:line)."""

    meta = front_matter(source)[0]
    ctx = report_blocks.Context(source.file, block.line, block.kind, meta)
    view = report_blocks.render_block(site, block.kind, block.text, ctx)
    return Section("block", line=block.line, title=view.title, block=view, data=view.data,
                   sql=block.text.strip())


def with_data(site: SiteData, section: Section) -> Section:
    """A ```sql table or ```chart with the rows of its query as view data."""
    if section.kind in ("table", "chart"):
        columns, raw = reports.run_sql(site.sandbox, section.sql)
        return dataclasses.replace(section, data=report_blocks.BlockData(
            tuple(columns), tuple(tuple(r) for r in raw)))
    return section


def number_blocks(site: SiteData, source: reports.ReportSource, sections: list[Section],
                  files: list[SiteFile] | None) -> list[Section]:
    """Give each block's data its CSV file, ``reports/<slug>/block-<n>.csv`` (n counts the
    report's blocks from 1, in order), added to ``files``."""
    from tracker.site.pages import SiteFile

    out = []
    number = 0
    for section in sections:
        if section.kind == "html":
            out.append(section)
            continue
        number += 1
        data = section.data
        if data is None:
            out.append(section)
            continue
        path = f"reports/{source.slug}/block-{number}.csv"
        if files is not None:
            files.append(SiteFile(path, report_blocks.csv_bytes(data.columns, data.rows)))
        out.append(dataclasses.replace(section, data=dataclasses.replace(data, csv=path)))
    return out


class LiveValues:
    """The report's ``{{ ... }}`` expressions, evaluated: ``source`` has placeholders in their
    place and ``fill`` puts the values (links) into the rendered HTML."""

    def __init__(self, site: SiteData, source: reports.ReportSource) -> None:
        self.token = source.token + "LIVE"
        markdown, expressions = report_values.substitute(source.markdown, self.token)
        self.source = dataclasses.replace(source, markdown=markdown)
        self.html: list[Markup] = []
        if not expressions:
            return
        meta, body, offset = front_matter(source)
        lines = report_values.expression_lines(body, offset)
        page = site.urls.report(source.slug)
        for index, text in enumerate(expressions):
            line = lines[index][1] if index < len(lines) and lines[index][0] == text else next(
                (n for t, n in lines if t == text), 0)
            ctx = report_blocks.Context(source.file, line, "inline value", meta)
            try:
                value = report_values.evaluate(site, text, ctx)
            except reports.ReportError as exc:
                log.warning("%s", exc)
                self.html.append(report_values.error_html(f"{{{{{text.strip()}}}}}: {exc}"))
                continue
            self.html.append(report_values.value_html(value, page))
        self.pattern = re.compile(re.escape(self.token) + r"V(\d+)E")

    def fill(self, html: str) -> Markup:
        if not self.html:
            return Markup(html)

        def value(match: re.Match[str]) -> str:
            index = int(match.group(1))
            return str(self.html[index]) if index < len(self.html) else ""

        return Markup(self.pattern.sub(value, html))

