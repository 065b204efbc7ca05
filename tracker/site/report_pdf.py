"""``tracker build --pdf``: each report printed to a PDF next to its page (#17).

The built page is opened from disk in headless Chromium (through Playwright), laid out with the
print stylesheet (``assets/print.css``: no navigation, tables wrapped to the page width, charts
at the page width) and printed to A4 with the report's title, date and page numbers in the
footer. Nothing leaves the machine: every request that is not a local file is refused.

Chromium is optional: ``TRACKER_CHROMIUM``, else ``chromium`` (or ``chromium-browser``) on the
PATH, else ``/usr/bin/chromium``; without it (or without the ``playwright`` package) ``--pdf``
fails with a message saying what to install, before anything is built.
"""

from __future__ import annotations

import html
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.exceptions import TrackerError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# A4 less the side margins (12 mm each) at 96 px per inch: charts are drawn at this width.
PAGE_WIDTH_PX = 703
CHART_TIMEOUT_MS = 15_000
DEFAULT_PATHS = ("/usr/bin/chromium",)  # looked at after $TRACKER_CHROMIUM and the PATH


class PdfError(TrackerError):
    """No Chromium (or no Playwright) to print with, or a page could not be printed."""


@dataclass(frozen=True)
class PdfJob:
    """A report page to print."""

    page: str  # site path of the built HTML, e.g. reports/weekly.html
    title: str
    date: str  # shown in the footer ('' for none)

    @property
    def pdf(self) -> str:
        """The PDF's site path: the page's, ending in ``.pdf``."""
        return self.page[: -len(".html")] + ".pdf" if self.page.endswith(".html") else (
            self.page + ".pdf")


def chromium() -> str:
    """The Chromium executable to print with.

    Raises:
        PdfError: Playwright is not installed, or no Chromium is found.
    """
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise PdfError(
            "--pdf prints with Chromium through Playwright, which is not installed: "
            "pip install playwright (the browser itself comes from your system, e.g. "
            "apt-get install chromium).") from None
    candidates = [os.environ.get("TRACKER_CHROMIUM", ""), shutil.which("chromium") or "",
                  shutil.which("chromium-browser") or "", *DEFAULT_PATHS]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise PdfError(
        "--pdf needs Chromium and none was found (looked at $TRACKER_CHROMIUM, chromium and "
        "chromium-browser on the PATH, /usr/bin/chromium): install it (apt-get install "
        "chromium) or set TRACKER_CHROMIUM to its path.")


def footer(title: str, date: str) -> str:
    """Chromium's footer template: title and date on the left, "Page n of m" on the right."""
    label = html.escape(title) + (f" · {html.escape(date)}" if date else "")
    return (
        '<div style="font-family: system-ui, sans-serif; font-size: 8pt; color: #444; '
        'width: 100%; margin: 0 12mm; display: flex; justify-content: space-between;">'
        f'<span style="overflow: hidden; white-space: nowrap; text-overflow: ellipsis; '
        f'max-width: 75%;">{label}</span>'
        '<span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span>'
        "</div>"
    )


def render(out: str | os.PathLike[str], jobs: list[PdfJob]) -> list[tuple[str, bytes]]:
    """``(pdf site path, PDF bytes)`` of each job, printed from the built site in ``out``.

    Chromium is driven from a thread of its own: Playwright's sync API refuses to run where an
    asyncio loop is running (a notebook, or a program already using Playwright).

    Raises:
        PdfError: no Chromium, or a page failed to print.
    """
    if not jobs:
        return []
    executable = chromium()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-pdf") as pool:
        return pool.submit(_render, executable, Path(out), jobs).result()


def _render(executable: str, out: Path, jobs: list[PdfJob]) -> list[tuple[str, bytes]]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=ARGS,
                                                 headless=True)
        except PlaywrightError as exc:
            raise PdfError(f"Chromium ({executable}) did not start: "
                           f"{str(exc).splitlines()[0]}") from None
        try:
            return [(job.pdf, _print(browser, out / job.page, job)) for job in jobs]
        finally:
            browser.close()


def _print(browser: Browser, file: Path, job: PdfJob) -> bytes:
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport={"width": PAGE_WIDTH_PX, "height": 1000},
                                  java_script_enabled=True, offline=True)
    try:
        page = context.new_page()
        page.route("**/*", _local_only)
        page.emulate_media(media="print")
        page.goto(file.resolve().as_uri(), wait_until="load")
        # Charts are drawn by site.js once plotly.js has loaded (deferred scripts).
        page.wait_for_function(
            "() => [...document.querySelectorAll('figure.chart')].every("
            "f => f.dataset.drawn || typeof window.Plotly === 'undefined')",
            timeout=CHART_TIMEOUT_MS)
        return bytes(page.pdf(
            format="A4", print_background=True, display_header_footer=True,
            header_template="<span></span>", footer_template=footer(job.title, job.date),
            margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
        ))
    except PlaywrightError as exc:
        raise PdfError(f"{job.page} could not be printed to PDF: "
                       f"{str(exc).splitlines()[0]}") from None
    finally:
        context.close()


def _local_only(route: Route) -> None:
    if route.request.url.startswith(LOCAL_SCHEMES):
        route.continue_()
    else:
        route.abort()
