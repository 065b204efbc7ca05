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
