"""Shared browser fixtures: real Chromium (Debian's) through Playwright's sync API.

Use from a test module (assigned, not imported by name, so linters see no shadowing)::

    from tests import browser as browser_fixtures

    browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

    @pytest.mark.browser
    def test_page(open_page, built_site):
        page, errors = open_page(built_site / "index.html", fragment="sort=attr.name:asc")
        ...
        assert errors == []

``open_page(path)`` opens a built file through its ``file://`` URL and returns the page and a
live list of the console errors, uncaught exceptions and blocked network requests it has
produced (the site must work offline: every request that is not ``file:``/``data:``/``blob:``
is aborted and recorded). Pages are closed after the test. One Chromium is shared by the
whole session, whichever modules import these fixtures; the tests are skipped when Playwright
or ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# Records Content-Security-Policy violations into window.__csp (pass as init_script): a blocked
# eval or inline script reports here even when the page catches the error and goes on (#11).
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "?"} at ${e.sourceFile || "?"}:${e.lineNumber}`);
});
"""

_session: dict[str, Any] = {}


def launch() -> Any:
    """The session's Chromium, started on first use (skips the test when it cannot start)."""
    if "browser" in _session:
        return _session["browser"]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM} (apt-get install chromium)")
    playwright = sync_playwright().start()
    try:
        _session["browser"] = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
    except Exception:
        playwright.stop()
        raise
    _session["playwright"] = playwright
    return _session["browser"]


def shutdown() -> None:
    """Close the session's Chromium (idempotent)."""
    browser = _session.pop("browser", None)
    playwright = _session.pop("playwright", None)
    if browser is not None:
        browser.close()
    if playwright is not None:
        playwright.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole test session."""
    yield launch()
    shutdown()


def file_url(path: str | os.PathLike[str], fragment: str = "") -> str:
    """The ``file://`` URL of a built file, with an optional ``#fragment``."""
    text = os.fspath(path)
    url = text if "://" in text else Path(text).resolve().as_uri()
    return f"{url}#{fragment}" if fragment else url


def new_page(browser: Any, url: str, *, width: int = 1280, height: int = 900,
             wait: str = "load", init_script: str = "") -> tuple[Any, list[str]]:
    """A page of its own context at ``url``, and the list its errors are collected into.

    ``init_script`` runs in every document of the page before its own scripts (e.g.
    ``CSP_LISTENER``).
    """
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    if init_script:
        page.add_init_script(init_script)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))

    def guard(route: Any) -> None:
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            errors.append(f"network: blocked {route.request.url}")
            route.abort()

    page.route("**/*", guard)
    page.goto(url, wait_until=wait)
    return page, errors


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., tuple[Any, list[str]]]]:
    """``open_page(path, fragment="", **kwargs) -> (page, errors)``; pages close after the test."""
    pages: list[Any] = []

    def _open(
        path: str | os.PathLike[str], fragment: str = "", **kwargs: Any
    ) -> tuple[Any, list[str]]:
        page, errors = new_page(browser, file_url(path, fragment), **kwargs)
        pages.append(page)
        return page, errors

    yield _open
    for page in pages:
        page.context.close()


# ------------------------------------------------------------------ parallel coordinates


def parcoords_state(page: Any, scope: str) -> dict[str, Any]:
    """What the SVG parallel coordinates inside ``scope`` show: axis titles, the runs of the
    lines (drawing order), the dimmed ones, the status and hover/focus readout texts."""
    state: dict[str, Any] = page.evaluate("""(scope) => {
        const root = document.querySelector(scope);
        const lines = Array.from(root.querySelectorAll("path.pc-line"));
        return {
            axes: Array.from(root.querySelectorAll(".pc-axis")).map((g) => g.dataset.key),
            titles: Array.from(root.querySelectorAll(".pc-axis-title")).map((t) => t.textContent),
            lines: lines.map((p) => p.dataset.run),
            colors: Object.fromEntries(lines.map((p) => [p.dataset.run, p.getAttribute("stroke")])),
            dimmed: lines.filter((p) => p.classList.contains("pc-dim")).map((p) => p.dataset.run),
            status: root.querySelector(".pc-status").textContent,
            readout: root.querySelector(".pc-readout").textContent,
            label: root.querySelector("svg.pc-svg").getAttribute("aria-label"),
            brushes: Array.from(root.querySelectorAll("rect.pc-brush"))
                .filter((r) => r.getAttribute("visibility") === "visible")
                .map((r) => r.parentNode.dataset.key),
        };
    }""", scope)
    return state


def drag_brush(page: Any, scope: str, key: str, start: float, end: float) -> None:
    """Drag with the mouse along axis ``key`` from ``start`` to ``end``, as fractions of the
    axis height from its bottom (0) to its top (1). ``start`` must be on the axis (0–1);
    ``end`` may overshoot it (the brush then stops at the axis end)."""
    assert 0 <= start <= 1, start
    hit = page.locator(f"{scope} .pc-axis[data-key='{key}'] rect.pc-hit")
    hit.scroll_into_view_if_needed()
    box = hit.bounding_box()
    top, bottom = box["y"] + 8, box["y"] + box["height"] - 8  # the hit area pads the axis by 8 px
    x = box["x"] + box["width"] / 2

    def y(fraction: float) -> float:
        return bottom - fraction * (bottom - top)

    page.mouse.move(x, y(start))
    page.mouse.down()
    page.mouse.move(x, y((start + end) / 2), steps=3)
    page.mouse.move(x, y(end), steps=3)
    page.mouse.up()


def click_axis(page: Any, scope: str, key: str) -> None:
    """A click (no drag) on axis ``key``: clears its brush."""
    page.locator(f"{scope} .pc-axis[data-key='{key}'] rect.pc-hit").click()


# ------------------------------------------------------------------ every-page-type sites

# A report with a sql table and a chart, for the sites the a11y and CSP tests build.
SAMPLE_REPORT = """---
title: Weekly review
---
# Weekly review

The sweep beat the baseline.

```sql
SELECT run_name, status FROM runs ORDER BY run_name
```

```chart
sql: SELECT run_name, value FROM latest_metrics WHERE key = 'rmse' ORDER BY run_name
x: run_name
y: value
kind: bar
```
"""

# Every chart of the page drawn: plotly figures (site.js, run.js), parallel coordinates (SVG).
CHARTS_DRAWN = """() => {
  const all = (figures, inner) => Array.from(document.querySelectorAll(figures))
    .every((f) => f.querySelector(inner));
  return document.readyState === "complete"
    && all("figure.chart", ".js-plotly-plot") && all("figure.run-chart", ".js-plotly-plot")
    && all("figure.parcoords", "svg.pc-svg") && all(".parcoords-chart", "svg.pc-svg, p.empty");
}"""
