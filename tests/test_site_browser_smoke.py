"""Smoke tests in real Chromium (file:// URLs, offline): the main page types load without
console errors or outside requests, their charts are drawn by the bundled plotly.js, and the
Content-Security-Policy blocks inline script (#5).

Each page pays ~2 s to parse plotly.js, so the assertions are grouped per page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import browser, open_page  # noqa: F401 (fixtures)
from tests.test_site_build import seed_site_store
from tracker.site.build import build

pytestmark = pytest.mark.browser

DRAWN = """() => {
  const figures = document.querySelectorAll("figure.chart");
  const plots = document.querySelectorAll("figure.chart .js-plotly-plot");
  return figures.length === plots.length;
}"""

CHARTS = """() => Array.from(document.querySelectorAll(".js-plotly-plot")).map(el => ({
  traces: (el.data || []).length,
  points: (el.data || []).reduce((n, t) => n + ((t.y || t.dimensions || t.values || []).length), 0),
  svg: el.querySelectorAll(".main-svg").length,
  title: (el.layout && el.layout.title && el.layout.title.text) || "",
}))"""


@pytest.fixture(scope="module")
def smoke_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("smoke")
    ids = seed_site_store(str(root / "store"))
    build(str(root / "store"), root / "site")
    return root / "site", ids


def _charts(page: Any) -> list[dict[str, Any]]:
    page.wait_for_function(DRAWN, timeout=20_000)
    charts: list[dict[str, Any]] = page.evaluate(CHARTS)
    return charts


def test_home(open_page: Any, smoke_site: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    site, _ = smoke_site
    page, errors = open_page(site / "index.html")
    page.wait_for_timeout(300)
    assert page.title() == "Experiments · Experiments"
    assert page.locator("main table tbody tr").count() == 3
    assert page.locator("main a", has_text="trial-1").count() >= 1
    assert errors == []


def test_leaderboard(open_page: Any, smoke_site: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    site, ids = smoke_site
    page, errors = open_page(site / "experiments" / "nyc-taxi.html")
    charts = _charts(page)
    assert [c["title"] for c in charts] == ["rmse: best over time and by commit",
                                            "accuracy: best over time and by commit"]
    for chart in charts:
        assert chart["traces"] == 3 and chart["points"] > 0 and chart["svg"] >= 1, chart
    rows = page.locator("table.leaderboard tbody tr")
    assert rows.count() == 7
    first = rows.first.get_attribute("data-run")
    assert first == ids["xgb-sweep"]
    # The page script may reorder or filter; whatever it does must not throw.
    header = page.locator('table.leaderboard th[data-key="metrics.accuracy"]')
    header.click()
    page.wait_for_timeout(200)
    header.click()
    page.wait_for_timeout(200)
    assert rows.count() == 7
    assert errors == []


def test_run_page(open_page: Any, smoke_site: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    site, ids = smoke_site
    page, errors = open_page(site / "runs" / f"{ids['trial-1']}.html")
    charts = _charts(page)
    assert charts, "a run with a metric history has at least one chart"
    assert all(c["traces"] >= 1 and c["points"] >= 2 and c["svg"] >= 1 for c in charts), charts
    assert "trial-1" in page.locator("h1").inner_text()
    assert errors == []


def test_registry(open_page: Any, smoke_site: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    site, _ = smoke_site
    page, errors = open_page(site / "models" / "index.html")
    page.wait_for_timeout(300)
    assert page.locator("main a", has_text="taxi-duration").count() >= 1
    assert errors == []


def test_csp_blocks_inline_script(
    open_page: Any, smoke_site: tuple[Path, dict[str, str]],  # noqa: F811
) -> None:
    site, _ = smoke_site
    page, errors = open_page(site / "index.html")
    csp = page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert csp is not None and "script-src 'self'" in csp
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "window.__inlineRan = true";
        document.head.appendChild(s);
    }""")
    page.wait_for_timeout(100)
    assert page.evaluate("() => window.__inlineRan === true") is False
    assert any("Content Security Policy" in e for e in errors), errors
    # Scripts from the site's own files still run: site.js defines window.tracker.
    assert page.evaluate("() => typeof window.tracker") == "object"
