"""The main nav folds behind a Menu button at 600 px and less (#10), in real Chromium.

The button opens a popover: no script is needed to open or close it, so it also works with
JavaScript off; site.js only mirrors the state in ``aria-expanded``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tracker
from tests import browser as browser_fixtures
from tests.test_site_leaderboard import seed_board
from tracker.site.build import build

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

PAGES = ("index.html", "changes.html", "experiments/board.html", "models/index.html")


@pytest.fixture(scope="module")
def nav_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nav")
    uri, _, ids = seed_board(root)
    out = root / "site"
    build(uri, out)
    tracker.api._tracking_uri = None
    return out


def _links_shown(page: Any) -> list[bool]:
    shown: list[bool] = page.eval_on_selector_all(
        "#main-nav a", "links => links.map(a => a.getBoundingClientRect().width > 0)")
    return shown


@pytest.mark.browser
@pytest.mark.parametrize("path", PAGES)
def test_nav_collapses_at_390_px(nav_site: Path, open_page: Any, path: str) -> None:
    page, errors = open_page(nav_site / path, width=390)
    button = page.locator(".nav-button")
    assert button.is_visible() and button.text_content().strip() == "Menu"
    assert button.get_attribute("aria-expanded") == "false"
    assert button.get_attribute("aria-controls") == "main-nav"
    assert not any(_links_shown(page))
    button.focus()
    page.keyboard.press("Enter")  # keyboard opens it
    page.wait_for_function("() => document.querySelector('.nav-button').ariaExpanded === 'true'")
    assert all(_links_shown(page)) and len(_links_shown(page)) >= 2
    page.keyboard.press("Tab")  # the links follow the button in tab order
    assert page.evaluate("document.activeElement.closest('#main-nav') !== null")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('.nav-button').ariaExpanded === 'false'")
    assert not any(_links_shown(page))
    button.click()
    page.click("#main-nav a >> nth=1")  # a link of the open menu navigates
    page.wait_for_load_state()
    assert page.url.endswith("changes.html")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1]
    assert errors == []


@pytest.mark.browser
def test_nav_is_a_row_of_links_when_wide(nav_site: Path, open_page: Any) -> None:
    page, errors = open_page(nav_site / "index.html", width=1280)
    assert not page.is_visible(".nav-button")
    assert all(_links_shown(page))
    assert errors == []


@pytest.mark.browser
def test_menu_works_without_javascript(nav_site: Path, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 800},
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto((nav_site / "experiments" / "board.html").resolve().as_uri())
        assert not any(_links_shown(page))
        page.click(".nav-button")
        assert all(_links_shown(page))
        page.keyboard.press("Escape")
        assert not any(_links_shown(page))
    finally:
        context.close()
