"""Accessibility of every page type in real Chromium (#18): axe-core at WCAG 2.1 A/AA on a store
with every feature at 1280 and 390 px wide, and a keyboard walk of the interactive pages.

axe-core comes from npm (``npm install --prefix .axe axe-core@4``, run by ``make install``); it
is copied into the *test's* built site and loaded as a same-origin script, so the site's CSP
(``script-src 'self'``) stays on while axe runs. Without it these tests fail in CI (``CI`` set)
and skip locally, saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import browser as browser_fixtures
from tests.conftest import write_files
from tests.test_site_build import seed_site_store
from tracker.client import TrackerClient
from tracker.site.build import build

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(os.environ.get("TRACKER_AXE", ROOT / ".axe" / "node_modules" / "axe-core" / "axe.min.js"))
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = (1280, 390)

REPORT = """---
title: Weekly review
---
# Weekly review

The sweep beat the baseline.

```sql
SELECT run_name, status FROM runs ORDER BY run_name
```

```chart
sql: SELECT run_name, value FROM latest_metrics JOIN runs USING (run_id) WHERE key = 'rmse' ORDER BY run_name
x: run_name
y: value
kind: bar
```
"""

# Every chart of the page drawn: plotly figures (site.js, run.js), parallel coordinates (SVG).
READY = """() => {
  const all = (figures, inner) => Array.from(document.querySelectorAll(figures))
    .every((f) => f.querySelector(inner));
  return document.readyState === "complete"
    && all("figure.chart", ".js-plotly-plot") && all("figure.run-chart", ".js-plotly-plot")
    && all("figure.parcoords", "svg.pc-svg") && all(".parcoords-chart", "svg.pc-svg, p.empty");
}"""

# axe's result, reduced to what a failure message needs: rule, impact, help and the nodes.
RUN_AXE = """async (tags) => {
  const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, preload: false });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map((n) => n.target.join(" ") + " :: " + n.failureSummary.split("\\n").slice(1, 3).join(" ")),
    count: v.nodes.length,
  }));
}"""


def _png(width: int = 8, height: int = 6) -> bytes:
    """A small valid PNG (a red-to-blue gradient), written without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"".join(bytes((255 - 30 * x, 0, 30 * x)) for x in range(width))
                    for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def seed_every_feature(uri: str, tmp: Path) -> dict[str, str]:
    """``seed_site_store`` (sweep, registry, artifacts) plus an image, a CSV, a Plotly figure
    and a long log on the ``retrain`` run: every kind of artifact preview."""
    ids = seed_site_store(uri)
    client = TrackerClient(uri)
    retrain = ids["retrain"]
    image = tmp / "residuals.png"
    image.write_bytes(_png())
    client.log_artifact(retrain, str(image), "plots")
    client.log_text(retrain, "split,rows\ntrain,800\ntest,200\n", "data/splits.csv")
    client.log_text(retrain, "".join(f"epoch {i}: rmse {5 - i / 100:.3f} {'-' * 120}\n"
                                     for i in range(80)), "logs/train.log")
    client.log_dict(retrain, {"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 2]}],
                              "layout": {"title": {"text": "Feature importance"}}},
                    "importance.json")
    client.flush()
    return ids


class A11ySite:
    """The built site of the every-feature store, and the ids of its runs."""

    def __init__(self, out: Path, ids: dict[str, str]) -> None:
        self.out = out
        self.ids = ids


def axe_source() -> Path:
    """axe.min.js, or fail (CI) / skip (local) saying how to install it."""
    if AXE.is_file():
        return AXE
    why = (f"axe-core is missing at {AXE}: run `make install` or "
           "`npm install --prefix .axe axe-core@4` (or set TRACKER_AXE to axe.min.js)")
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def a11y_site(tmp_path_factory: pytest.TempPathFactory) -> A11ySite:
    axe = axe_source()
    root = tmp_path_factory.mktemp("a11y")
    ids = seed_every_feature(str(root / "store"), root)
    reports = write_files(root / "reports", {"weekly-review.md": REPORT})
    build(str(root / "store"), root / "site", reports=reports, strict=True)
    # Into the test's copy of the site only (same origin as its pages), never the shipped theme.
    (root / "site" / "_test").mkdir()
    shutil.copyfile(axe, root / "site" / "_test" / "axe.min.js")
    return A11ySite(root / "site", ids)


# page type → path in the site
PAGES: dict[str, Callable[[dict[str, str]], str]] = {
    "home": lambda ids: "index.html",
    "changes": lambda ids: "changes.html",
    "leaderboard": lambda ids: "experiments/nyc-taxi.html",
    "compare": lambda ids: "experiments/nyc-taxi-compare.html",
    "sweep": lambda ids: f"sweeps/{ids['xgb-sweep']}.html",
    "run with artifacts": lambda ids: f"runs/{ids['retrain']}.html",
    "run without artifacts": lambda ids: f"runs/{ids['lasso']}.html",
    "registry": lambda ids: "models/index.html",
    "model": lambda ids: "models/taxi-duration.html",
    "lineage": lambda ids: "models/taxi-duration/v2.html",
    "reports index": lambda ids: "reports/index.html",
    "report": lambda ids: "reports/weekly-review.html",
}


def open_ready(open_page: Any, site: A11ySite, path: str, width: int) -> tuple[Any, list[str]]:
    """A page of the site at ``width`` px, its charts drawn, with the CSP listener on."""
    target = site.out / path
    assert target.is_file(), path
    page, errors = open_page(target, width=width, height=900,
                             init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_function(READY, timeout=20_000)
    page.wait_for_timeout(200)  # late work: resize handlers, deferred draws
    return page, errors


def run_axe(page: Any, site: A11ySite) -> list[dict[str, Any]]:
    """Load axe as a same-origin <script src> (the CSP stays on) and run it at WCAG 2.1 A/AA."""
    url = (site.out / "_test" / "axe.min.js").as_uri()
    page.evaluate("""(url) => new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = url; s.onload = resolve; s.onerror = () => reject(new Error("axe blocked"));
        document.head.appendChild(s);
    })""", url)
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE, WCAG)
    return violations


def _report(violations: list[dict[str, Any]]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}, {v['count']} nodes): {v['help']}\n    "
                     + "\n    ".join(v["nodes"]) for v in violations)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", list(PAGES))
def test_axe_finds_no_violation(kind: str, width: int, a11y_site: A11ySite,
                                open_page: Any) -> None:
    page, errors = open_ready(open_page, a11y_site, PAGES[kind](a11y_site.ids), width)
    violations = run_axe(page, a11y_site)
    assert violations == [], _report(violations)
    assert page.evaluate("() => window.__csp") == []  # axe ran under the site's CSP
    assert errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_axe_with_search_results_open(width: int, a11y_site: A11ySite, open_page: Any) -> None:
    page, errors = open_ready(open_page, a11y_site, "experiments/nyc-taxi.html", width)
    page.wait_for_function("() => !document.querySelector('#site-search').disabled")
    page.locator("#site-search").fill("trial")
    page.wait_for_selector("#search-results [role=option]")
    page.locator("#site-search").press("ArrowDown")
    violations = run_axe(page, a11y_site)
    assert violations == [], _report(violations)
    assert errors == []
