"""``tracker build``: store → page models → HTML and data files in the output folder."""

from __future__ import annotations

import functools
import gc
import hashlib
import importlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.exceptions import TrackerError
from tracker.site.cache import BuildCache
from tracker.site.pages import Collector, Group, KeptGroups, Page, SiteFile

if TYPE_CHECKING:
    import jinja2

    from tracker.config import TrackerConfig
    from tracker.query import StoreQuery
    from tracker.site.data import SiteData
    from tracker.site.render import BaseContext
    from tracker.site.writer import SiteWriter

log = logging.getLogger("tracker.site")

# Page modules under tracker.site.pages, in build order; each has a ``collect`` (``Collector``).
# (One name per line: several people add pages at once.)
COLLECTORS = (
    "home",
    "changes",
    "leaderboard",
    "compare",
    "sweep",
    "run",
    "registry",
    "lineage",
    "reports",
    "search",
)


#: Python's automatic garbage collection is off during a build: a build makes millions of objects
#: that live until it ends (every run's data), and each collection walked the ones made since the
#: last (#14: 77 collections, 0.67 s of a 100,000-run rebuild after one new run; at the default
#: threshold a 10,000-run rebuild also spent ~0.3 s in full collections). Rendering is what leaves
#: reference cycles behind (template contexts), so the build collects the objects made since the
#: last collection itself after every ``GC_EVERY`` pages and files it writes (a 100,000-run build
#: without them peaked at 7 GB instead of 2.6). The previous state is restored after.
GC_EVERY = 1_000

#: DuckDB's memory limit during a build; past it, DuckDB spills to a temporary folder (#14).
DUCKDB_MEMORY = "1500MB"


class BuildError(TrackerError):
    """The site could not be built, or ``--strict`` found warnings."""


@dataclass
class BuildResult:
    """What a build produced."""

    out: str
    pages: int
    files: int
    written: list[str]
    unchanged: int
    removed: list[str]
    warnings: list[str] = field(default_factory=list)
    reused_groups: int = 0  # run pages (with their CSVs and artifacts) kept without collecting
    seconds: float = 0.0
    pdfs: list[str] = field(default_factory=list)  # report PDFs (``pdf=True``)


class _WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def build(
    store_uri: str,
    out: str | os.PathLike[str] = "site",
    *,
    reports: str | os.PathLike[str] | None = None,
    templates: str | os.PathLike[str] | None = None,
    strict: bool = False,
    base_url: str | None = None,
    site_title: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    config: TrackerConfig | None = None,
    pdf: bool = False,
) -> BuildResult:
    """Build the static site of a store.

    Args:
        store_uri: the store to read.
        out: the output folder.
        reports: a folder of Markdown reports (``reports/*.md``) to render too.
        templates: a folder whose templates override the default theme by name.
        strict: fail (``BuildError``) when the build logs any warning.
        base_url: the absolute URL the site is published at (links stay relative); None:
            the config's.
        site_title: shown in every page header; None: the config's.
        progress: called with (pages written, 0) every 200 pages while pages are collected
            and written, then with (pages written, pages written) at the end (the total is
            not known before: pages are written as they are made, #14).
        config: the project configuration: title, base URL, which experiments, redaction,
            artifact rules (None: the defaults, which still redact the usual secrets).
        pdf: also print each report to a PDF next to its page (needs Chromium and Playwright;
            ``tracker.site.report_pdf``).
    """
    from tracker.client import TrackerClient
    from tracker.query import StoreQuery
    from tracker.registry import Registry
    from tracker.site import render
    from tracker.site.data import SiteData
    from tracker.site.publish import PublishRules
    from tracker.site.writer import SiteWriter

    rules = PublishRules.from_config(config)
    site_title = site_title if site_title is not None else rules.config.title
    base_url = _checked_base_url(base_url if base_url is not None else rules.config.base_url)

    if pdf:
        from tracker.site import report_pdf

        report_pdf.chromium()  # no Chromium: fail before building anything
    pdfs: list[str] = []
    spill: str | None = None
    started = time.perf_counter()
    counter = _WarningCounter()
    counter.addFilter(rules.log_filter())  # warnings quote names and paths: redacted (#15)
    watched = [logging.getLogger(n) for n in ("tracker.site", "tracker.store", "tracker.query")]
    for logger in watched:
        logger.addHandler(counter)
    _collector_off()
    try:
        client = TrackerClient(store_uri)
        if not client.store.fs.exists(""):
            raise BuildError(f"No store at {client.store.fs.root} (from {store_uri!r}).")
        writer = SiteWriter(out)
        cache = BuildCache(writer.out)
        query = StoreQuery(client.store, publish=rules)
        spill = _bound_memory(query)
        site = SiteData(
            query, Registry(client.store),
            reports_dir=os.fspath(reports) if reports is not None else None,
            cache=cache, reusable=writer.reusable, refused=writer.refused,
            kept_files=writer.kept_files, publish=rules,
        )
        env = render.environment(templates)
        base = _base_context(site, site_title, base_url)
        theme = _theme_hash(templates)
        # The publish rules decide what a reused run page may show: a new rule rebuilds them all.
        site.build_key = _build_key(base, theme + rules.fingerprint())
        written = _Written()
        for count, item in enumerate(_collect(site, writer, written), 1):
            if count % GC_EVERY == 0:
                gc.collect(1)  # what rendering left in cycles (see GC_EVERY)
            if isinstance(item, Page):  # written at once: no list of every page (#14)
                _write_page(writer, env, item, base, theme, written.inputs.pop(item.path, ""))
                written.pages += 1
                if pdf and _report_page(item):
                    written.reports.append(item)
                if progress is not None and written.pages % 200 == 0:
                    progress(written.pages, 0)
            else:
                writer.write(item.path, item.content)
        if progress is not None:
            progress(written.pages, written.pages)
        for message in client.store.bad_file_warnings():
            if message not in counter.messages:  # found bad before this build (same process)
                log.warning("%s", message)
        _write_assets(writer, templates)
        if base_url:
            writer.write("sitemap.xml", sitemap(base_url, sorted(
                path for path in writer.paths if path.endswith(".html"))))
        if pdf:
            pdfs = _write_pdfs(writer, written.reports)
        stats = writer.finish()
        cache.save()
    finally:
        _collector_back()
        for logger in watched:
            logger.removeHandler(counter)
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
    result = BuildResult(
        out=writer.out, pages=written.pages + written.kept_pages, files=len(writer.paths),
        written=stats.written,
        unchanged=stats.unchanged, removed=stats.removed, warnings=counter.messages,
        reused_groups=stats.reused_groups,
        seconds=time.perf_counter() - started, pdfs=pdfs,
    )
    if strict and counter.messages:
        raise BuildError(
            f"--strict: the build logged {len(counter.messages)} warning(s): "
            + "; ".join(counter.messages[:5])
        )
    return result


def _bound_memory(query: StoreQuery) -> str:
    """Cap DuckDB's memory for the build at ``DUCKDB_MEMORY``, spilling to a new temporary
    folder (returned; the build removes it): folding 100,000 runs' records peaked at 4.1 GB
    uncapped, 1.6 GB capped, for ~10 % more CPU (#14)."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="tracker-build-")
    query.con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    query.con.execute("SET temp_directory = '{}'".format(folder.replace("'", "''")))
    return folder


def collector(name: str) -> Collector:
    """The ``collect`` function of page module ``tracker.site.pages.<name>``."""
    collect: Collector = importlib.import_module(f"tracker.site.pages.{name}").collect
    return collect


@dataclass
class _Written:
    """What the build wrote so far: pages (and report pages, for their PDFs) and kept pages."""

    pages: int = 0
    kept_pages: int = 0
    reports: list[Page] = field(default_factory=list)
    # The input hash of each page of a group being made, from its fingerprint (#14).
    inputs: dict[str, str] = field(default_factory=dict)


_gc_lock = threading.Lock()
_gc_builds = 0  # builds running in this process (threads), see ``_collector_off``
_gc_was_on = False


def _collector_off() -> None:
    """Switch automatic garbage collection off for a build (see ``GC_EVERY``). Builds on
    several threads at once share it: the first one in notes whether it was on, the last one
    out gives it back (``_collector_back``)."""
    global _gc_builds, _gc_was_on
    with _gc_lock:
        if _gc_builds == 0:
            _gc_was_on = gc.isenabled()
            gc.disable()
        _gc_builds += 1


def _collector_back() -> None:
    global _gc_builds
    with _gc_lock:
        _gc_builds -= 1
        if _gc_builds or not _gc_was_on:
            return
        if not gc.get_freeze_count():
            # What the builds made, moved to the oldest generation without a walk: enabled
            # as it was, the first young collection would walk every object they left (#14:
            # 0.36 s after a 100,000-run rebuild). Not when the process froze objects itself.
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def _collect(
    site: SiteData, writer: SiteWriter, written: _Written
) -> Iterator[Page | SiteFile]:
    """Every page and file to write, one at a time as the collectors make them (#14: a list of
    every page model and CSV of 100,000 runs took gigabytes). The pages of reused groups stay
    as they are and are counted in ``written.kept_pages``."""
    seen: set[str] = set()

    def new(path: str) -> None:
        if path in seen:
            raise BuildError(f"Two pages want the same path {path!r}.")
        seen.add(path)

    for name in COLLECTORS:
        for item in collector(name)(site):
            if isinstance(item, KeptGroups):
                kept = writer.keep_groups(item.groups)  # its paths: distinct, none written yet
                if not seen.isdisjoint(kept.paths):
                    raise BuildError(f"Two pages want the same path "
                                     f"{min(seen & kept.paths)!r}.")
                seen |= kept.paths
                written.kept_pages += kept.pages
            elif not isinstance(item, Group):
                new(item.path)
                yield item
            elif writer.reusable(item.key, item.fingerprint):
                kept = writer.keep_group(item.key, item.fingerprint)
                for path in sorted(kept.paths):
                    new(path)
                written.kept_pages += kept.pages
            else:
                writer.begin_group(item.key)
                paths = []
                for made in item.make():
                    new(made.path)
                    paths.append(made.path)
                    if isinstance(made, Page):
                        written.inputs[made.path] = _group_input_hash(item, made.path)
                    yield made
                writer.record_group(item.key, item.fingerprint, paths)


def _report_page(page: Page) -> bool:
    from tracker.site.pages.reports import ReportPage

    return isinstance(page, ReportPage) and bool(page.source)


def _write_pdfs(writer: SiteWriter, pages: list[Page]) -> list[str]:
    """Each report page printed to a PDF next to it (the pages are on disk by now)."""
    from tracker.site import report_pdf
    from tracker.site.pages.reports import ReportPage

    jobs = [report_pdf.PdfJob(p.path, p.title, p.date or p.data_as_of) for p in pages
            if isinstance(p, ReportPage)]
    written = []
    for path, data in report_pdf.render(writer.out, jobs):
        writer.write(path, data)
        written.append(path)
    return written


def _checked_base_url(base_url: str) -> str:
    from tracker.validation import is_http_url

    if base_url and not is_http_url(base_url):
        raise BuildError(
            f"Base URL {base_url!r} (--base-url, or base_url in the config) is not an absolute "
            "http(s) URL; give the address the site "
            "is published at, e.g. https://org.github.io/repo/ (or nothing)."
        )
    return base_url


def sitemap(base_url: str, pages: list[str]) -> bytes:
    """``sitemap.xml``: the absolute URL of every page (written when the base URL is known)."""
    from urllib.parse import quote
    from xml.sax.saxutils import escape

    root = base_url.rstrip("/") + "/"
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for page in pages:
        path = "" if page == "index.html" else quote(page)
        lines.append(f"<url><loc>{escape(root + path)}</loc></url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _base_context(site: SiteData, site_title: str, base_url: str) -> BaseContext:
    from tracker.site import reports

    urls = site.urls
    nav = [("Experiments", urls.home), ("Changes", urls.changes), ("Models", urls.registry),
           *reports.nav_entries(site)]
    return {
        "plotly_js": plotly_asset_name(),
        "site_title": site_title,
        "base_url": base_url.rstrip("/"),
        "nav": nav,
    }


def _build_key(base: BaseContext, theme: str) -> str:
    """What every page depends on outside the store (theme, header, publish rules)."""
    page = Page("", "", ())
    h = hashlib.sha256(theme.encode())
    h.update(repr(sorted(base.items())).encode())
    h.update(page.template.encode())
    h.update(repr(page).encode())
    return h.hexdigest()


def _page_input_hash(page: Page, base: BaseContext, theme: str) -> str:
    """What a page is made from: equal hashes, equal pages. The page model is hashed as its
    pickle, not its ``repr`` (#14: the 100,000-point trend figures of a leaderboard took
    0.27 s to ``repr``, 0.07 s to pickle; a pickle tells apart what ``repr`` does)."""
    import pickle

    h = hashlib.sha256(theme.encode())
    h.update(repr(sorted(base.items())).encode())
    h.update(page.template.encode())
    h.update(pickle.dumps(page, protocol=5))
    return h.hexdigest()


def _group_input_hash(group: Group, path: str) -> str:
    """The input hash of a page of ``group``: its fingerprint already sums up everything the
    group's pages are made from, so the page model need not be hashed again (``repr`` of a run
    page with its charts took 0.24 ms of the 3.3 ms of a run page, #14)."""
    return hashlib.sha256(f"group\0{group.key}\0{group.fingerprint}\0{path}".encode()).hexdigest()


def _write_page(
    writer: SiteWriter, env: jinja2.Environment, page: Page, base: BaseContext, theme: str,
    input_hash: str = "",
) -> None:
    from tracker.site import render

    input_hash = input_hash or _page_input_hash(page, base, theme)
    if writer.unchanged_input(page.path, input_hash):
        return
    html = render.render_page(env, page, base)
    writer.write(page.path, html.encode("utf-8"), input_hash)


def _theme_files(templates: str | os.PathLike[str] | None) -> Iterable[Path]:
    from tracker.site.render import default_theme

    roots = [default_theme()] + ([Path(templates)] if templates is not None else [])
    for root in roots:
        if root.is_dir():
            yield from sorted(p for p in root.rglob("*") if p.is_file())


def _theme_hash(templates: str | os.PathLike[str] | None) -> str:
    h = hashlib.sha256()
    for path in _theme_files(templates):
        h.update(str(path.name).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _plotly_source() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@functools.lru_cache(maxsize=4)
def _plotly_name(path: str, size: int, mtime_ns: int) -> str:
    data = Path(path).read_bytes()
    head = data[:200].decode("ascii", "replace")
    version = head.split("plotly.js v", 1)[1].split()[0] if "plotly.js v" in head else "bundled"
    return f"assets/vendor/plotly-{version}.{hashlib.sha256(data).hexdigest()[:10]}.min.js"


def plotly_asset_name() -> str:
    """``assets/vendor/plotly-<version>.<hash>.min.js``: the version from the file's header and
    the start of its SHA-256, so the name changes with the content and browsers may keep the
    file for good (``tracker serve`` sends it as immutable, #11)."""
    source = _plotly_source()
    st = source.stat()
    return _plotly_name(str(source), st.st_size, st.st_mtime_ns)


def plotly_asset() -> tuple[str, bytes]:
    """plotly.js from the plotly package (shipped once with the site, never from a CDN)."""
    return plotly_asset_name(), _plotly_source().read_bytes()


def _write_assets(writer: SiteWriter, templates: str | os.PathLike[str] | None) -> None:
    from tracker.site.render import default_theme

    roots = [default_theme() / "assets"]
    if templates is not None and (Path(templates) / "assets").is_dir():
        roots.append(Path(templates) / "assets")
    assets: dict[str, bytes] = {}
    for root in roots:  # a user's asset replaces the default one of the same name
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            assets["assets/" + file.relative_to(root).as_posix()] = file.read_bytes()
    plotly_name, plotly_data = plotly_asset()
    assets[plotly_name] = plotly_data
    for name, content in sorted(assets.items()):
        writer.write(name, content)
