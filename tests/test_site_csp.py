"""Every page type in real Chromium: no Content-Security-Policy violation and no console error
once its charts are drawn (#11).

plotly's WebGL traces (parcoords) compile code with ``new Function``, which the site's CSP
(``script-src 'self'``, no ``'unsafe-eval'``) blocks; the page then shows a grey "WebGL is not
supported" box and the console may stay quiet. So each page is opened with a listener that
records ``securitypolicyviolation`` events into ``window.__csp``, and the test fails on any.
One page load per page type (plotly costs ~2 s to parse).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import browser as browser_fixtures
from tests.conftest import write_files
from tests.test_site_build import seed_site_store
from tracker.site.build import build

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

pytestmark = pytest.mark.browser

COUNTS = """() => ({
  plotly: document.querySelectorAll(".js-plotly-plot").length,
  parcoords: document.querySelectorAll("svg.pc-svg").length,
  webgl: document.querySelectorAll(".no-webgl, canvas").length,
})"""


class CspSite:
    """The seeded site (every page type) and the ids of its runs."""

    def __init__(self, out: Path, ids: dict[str, str]) -> None:
        self.out = out
        self.ids = ids


@pytest.fixture(scope="module")
def csp_site(tmp_path_factory: pytest.TempPathFactory) -> CspSite:
    root = tmp_path_factory.mktemp("csp")
    ids = seed_site_store(str(root / "store"))
    reports = write_files(root / "reports", {"weekly-review.md": browser_fixtures.SAMPLE_REPORT})
    build(str(root / "store"), root / "site", reports=reports, strict=True)
    return CspSite(root / "site", ids)


# page type → (path in the site, what must be drawn: plotly charts, parallel coordinates)
PAGES: dict[str, tuple[Callable[[dict[str, str]], str], int, int]] = {
    "home": (lambda ids: "index.html", 0, 0),
    "leaderboard": (lambda ids: "experiments/nyc-taxi.html", 2, 0),
    "run with artifacts": (lambda ids: f"runs/{ids['retrain']}.html", 0, 0),
    "run without artifacts": (lambda ids: f"runs/{ids['lasso']}.html", 0, 0),
    "compare": (lambda ids: "experiments/nyc-taxi-compare.html", 1, 1),
    "chart view": (lambda ids: "experiments/nyc-taxi-charts.html", 1, 0),
    "sweep": (lambda ids: f"sweeps/{ids['xgb-sweep']}.html", 1, 1),
    "registry": (lambda ids: "models/index.html", 0, 0),
    "model": (lambda ids: "models/taxi-duration.html", 0, 0),
    "lineage": (lambda ids: "models/taxi-duration/v2.html", 0, 0),
    "reports index": (lambda ids: "reports/index.html", 0, 0),
    "report": (lambda ids: "reports/weekly-review.html", 1, 0),
}


def _open_checked(open_page: Any, site: CspSite, path: str) -> tuple[Any, list[str]]:
    target = site.out / path
    assert target.is_file(), path
    page, errors = open_page(target, init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_function(browser_fixtures.CHARTS_DRAWN, timeout=20_000)
    page.wait_for_timeout(300)  # late work: resize handlers, deferred draws
    return page, errors


@pytest.mark.parametrize("kind", list(PAGES))
def test_no_csp_violation_or_console_error(kind: str, csp_site: CspSite, open_page: Any) -> None:
    where, min_plotly, parcoords = PAGES[kind]
    page, errors = _open_checked(open_page, csp_site, where(csp_site.ids))
    assert page.evaluate("() => window.__csp") == []
    assert errors == []
    counts = page.evaluate(COUNTS)
    assert counts["plotly"] >= min_plotly, counts  # the charts were really drawn
    assert counts["parcoords"] == parcoords, counts
    assert counts["webgl"] == 0, counts  # no WebGL trace and no "not supported" box


def test_search_from_a_page_has_no_csp_violation(csp_site: CspSite, open_page: Any) -> None:
    page, errors = _open_checked(open_page, csp_site, "index.html")
    box = page.locator("#site-search")
    page.wait_for_function("() => !document.querySelector('#site-search').disabled")
    box.fill("trial")
    page.wait_for_selector("#search-results li[role=option]")
    names = page.eval_on_selector_all("#search-results li[role=option]",
                                      "items => items.map(li => li.textContent)")
    assert any("trial-1" in name for name in names), names
    box.press("ArrowDown")
    box.press("Enter")  # opens the first result: another page, with its own listener
    page.wait_for_load_state("load")
    page.wait_for_function(browser_fixtures.CHARTS_DRAWN, timeout=20_000)
    assert page.evaluate("() => window.__csp") == []
    assert errors == []


def test_the_listener_sees_a_blocked_eval(csp_site: CspSite, open_page: Any) -> None:
    """The check above can fail: a site script that compiles code (as plotly's WebGL traces do)
    is blocked and recorded. (Playwright's own evaluate() is exempt from the CSP.)"""
    script = csp_site.out / "assets" / "test-eval.js"
    script.write_text("try { new Function('return 1')(); } catch (e) { window.__blocked = true; }\n")
    page, _ = _open_checked(open_page, csp_site, "index.html")
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.src = "assets/test-eval.js";
        document.head.appendChild(s);
    }""")
    page.wait_for_function("() => window.__blocked === true && window.__csp.length > 0")
    assert page.evaluate("() => window.__csp[0]").startswith("script-src")
