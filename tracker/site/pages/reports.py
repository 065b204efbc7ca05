"""Markdown reports (``reports/*.md``) as pages, plus the reports index (``reports/index.html``).

Parsing and block execution live in ``tracker.site.reports``; this module turns a report into a
page model: sanitized HTML pieces, result tables and charts, and error boxes for blocks that
failed (each also logged as a build warning naming the file and line).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from tracker.site import report_meta, report_provenance, report_section, reports
from tracker.site.pages import Link, Page, SiteFile, doc
from tracker.site.report_section import Section, TableCell
from tracker.site.report_toc import Anchors, TocEntry
from tracker.site.urls import unique_slugs

if TYPE_CHECKING:
    from tracker.site.data import SiteData

log = logging.getLogger("tracker.site")


@dataclass(frozen=True)
class ReportEntry:
    """A report in the reports index."""

    link: Link = doc("Report title and page.")
    description: str = doc("Its front-matter description ('' when none).")
    author: str = doc("Front-matter author ('' when none).", "")
    date: str = doc("Front-matter date, ISO ('' when none).", "")
    tags: tuple[str, ...] = doc("Front-matter tags.", factory=tuple)
    home: bool = doc("True for the report that is the site's landing page.", False)


@dataclass(frozen=True)
class ReportPage(Page):
    """A Markdown report, or (with ``reports`` set and no sections) the index of reports."""

    template = "report.html"

    description: str = doc("Front-matter description ('' when none).", "")
    source: str = doc("The report's file name ('' for the index).", "")
    sections: tuple[Section, ...] = doc("The report's content, in order.", factory=tuple)
    has_charts: bool = doc("True when a section is a chart (the page loads plotly.js).", False)
    reports: tuple[ReportEntry, ...] = doc("Every report, in order (the index page only).",
                                           factory=tuple)
    author: str = doc("Front-matter author ('' when none).", "")
    date: str = doc("Front-matter date, ISO ('' when none).", "")
    tags: tuple[str, ...] = doc("Front-matter tags.", factory=tuple)
    toc: tuple[TocEntry, ...] = doc("Table of contents (reports with 3+ headings), else ().",
                                    factory=tuple)
    data_as_of: str = doc("Latest run end time in the store ('' when none).", "")
    commit: str = doc("Short sha and subject of the reports' git commit ('' when unknown).", "")
    problems: tuple[str, ...] = doc("Front-matter errors ('file:line: ...').", factory=tuple)


def _cell(site: SiteData, column: str, value: Any) -> TableCell:
    from tracker.site.render import format_metric

    if value is None:
        return TableCell("")
    if column.lower() == "run_id" and isinstance(value, str) and value in site.runs_by_id:
        return TableCell(value[:8], site.urls.run(value), value)
    if isinstance(value, bool):
        return TableCell(str(value).lower())
    if isinstance(value, (int, Decimal)):
        return TableCell(str(value), numeric=True)
    if isinstance(value, float):
        text = format_metric(value)
        return TableCell(text, numeric=True, title=repr(value) if text != repr(value) else "")
    if hasattr(value, "isoformat"):
        return TableCell(value.isoformat())
    return TableCell(str(value))


def _table(site: SiteData, block: reports.Block) -> Section:
    columns, rows = reports.run_sql(site.sandbox, block.text)
    shown = tuple(
        tuple(_cell(site, column, value) for column, value in zip(columns, row))
        for row in rows[:reports.MAX_ROWS]
    )
    return Section("table", columns=tuple(columns), rows=shown, total_rows=len(rows),
                   sql=block.text.strip(), line=block.line)


def _chart(site: SiteData, block: reports.Block) -> Section:
    spec = reports.parse_chart_spec(block.text)
    columns, rows = reports.run_sql(site.sandbox, spec.sql)
    figure = reports.chart_figure(spec, columns, rows)
    return Section("chart", figure=figure, title=str(figure["layout"]["title"]["text"]),
                   sql=spec.sql, line=block.line)


def _block(site: SiteData, source: reports.ReportSource, block: reports.Block) -> Section:
    if block.kind not in ("sql", "chart"):  # the YAML blocks (#17): errors name file:line
        try:
            return report_section.block_section(site, source, block)
        except reports.ReportError as exc:
            log.warning("%s", exc)
            return Section("error", sql=block.text.strip(), line=block.line, error=str(exc))
    try:
        section = _table(site, block) if block.kind == "sql" else _chart(site, block)
        return report_section.with_data(site, section)
    except reports.ReportError as exc:
        log.warning("%s:%d: %s block: %s", source.file, block.line, block.kind, exc)
        return Section("error", sql=block.text.strip(), line=block.line, error=str(exc))


def report_page(
    site: SiteData, source: reports.ReportSource, index: Link, commit: str = "",
    files: list[SiteFile] | None = None,
) -> ReportPage:
    """The page of one report (its blocks are run now; their CSV files go to ``files``)."""
    for problem in source.front.errors:
        log.warning("%s", problem)
    sections = []
    anchors = Anchors()
    live = report_section.LiveValues(site, source)  # {{ ... }} values (#17)
    for piece in reports.render_markdown(live.source):
        if isinstance(piece, str):
            sections.append(Section("html", html=Markup(anchors.add(live.fill(piece)))))
        else:
            sections.append(_block(site, source, source.blocks[piece]))
    sections = report_section.number_blocks(site, source, sections, files)
    path = site.urls.report(source.slug)
    if path == site.urls.landing and site.urls.home_report == source.slug:
        breadcrumbs: tuple[Link, ...] = (Link(source.title, path),)
    else:
        breadcrumbs = (Link("Home", site.urls.landing), index, Link(source.title, path))
    front = source.front
    return ReportPage(
        path=path,
        title=source.title,
        breadcrumbs=breadcrumbs,
        description=source.description,
        source=os.path.basename(source.file),
        sections=tuple(sections),
        has_charts=any(s.kind == "chart" or (s.block is not None and (
            s.block.figures or s.block.view)) for s in sections),
        author=front.author,
        date=front.date,
        tags=front.tags,
        toc=anchors.toc(),
        data_as_of=report_provenance.data_as_of(site.runs),
        commit=commit,
        problems=front.errors,
    )


def report_sources(site: SiteData) -> list[reports.ReportSource]:
    """Every report of the build, in order (front-matter ``order``, then title)."""
    files = reports.report_files(site.reports_dir)
    stems = unique_slugs((path, os.path.splitext(os.path.basename(path))[0]) for path in files)
    sources = []
    for path in files:
        slug = stems[path] if stems[path] != "index" else "index-report"
        try:
            sources.append(reports.load_report(path, slug))
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("%s: the report could not be read (%s); it was skipped.", path, exc)
    return ordered(sources)


def ordered(sources: list[reports.ReportSource]) -> list[reports.ReportSource]:
    """By front-matter ``order`` (lower first, none last), then ``date`` (newest first, none
    last), then title."""
    out = sorted(sources, key=lambda s: (s.title.lower(), s.slug))
    out.sort(key=lambda s: s.front.date, reverse=True)
    return sorted(out, key=lambda s: s.order)


def home_report_slug(site: SiteData) -> str | None:
    """The slug of the report with ``home: true`` (the landing page), or None.

    Raises:
        FrontMatterError: two or more reports set it.
    """
    sources = report_sources(site)
    home = report_meta.home_file([(s.file, s.front) for s in sources])
    return next((s.slug for s in sources if s.file == home), None)


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    if not reports.report_files(site.reports_dir):
        return  # no reports: no index page and no "Reports" in the nav
    sources = report_sources(site)
    home = Link("Home", site.urls.landing)
    index = Link("Reports", site.urls.reports_index)
    commit = report_provenance.commit_of(sources[0].file) if sources else ""
    commit = site.publish.scrub("commit", "", commit) if commit else ""  # redacted like tags (#15)
    entries = []
    for source in sources:
        files: list[SiteFile] = []
        page = report_page(site, source, index, commit, files)
        entries.append(ReportEntry(
            Link(page.title, page.path), page.description, page.author, page.date, page.tags,
            home=site.urls.home_report == source.slug))
        yield page
        yield from files
    yield ReportPage(path=index.href, title="Reports", breadcrumbs=(home, index),
                     reports=tuple(entries))
