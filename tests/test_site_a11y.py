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
    reports = write_files(root / "reports", {"weekly-review.md": browser_fixtures.SAMPLE_REPORT})
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
    "chart view": lambda ids: "experiments/nyc-taxi-charts.html",
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
    page.wait_for_function(browser_fixtures.CHARTS_DRAWN, timeout=20_000)
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


# ------------------------------------------------------------------------------ keyboard

# Every control a keyboard user should reach: visible, enabled, not inside a closed <details>
# (a closed one's summary is itself a control), in DOM order. Each gets data-kbd=<index>.
CONTROLS = """() => {
  const sel = "a[href], button, input, select, textarea, summary, [tabindex]";
  const shown = (e) => {
    if (e.closest("[hidden], [inert]") || e.disabled || e.tabIndex < 0) return false;
    if (e.type === "radio" && !e.checked) return false; // a radio group is one Tab stop
    const details = e.parentElement && e.parentElement.closest("details:not([open])");
    if (details && !(e.tagName === "SUMMARY" && e.parentElement === details)) return false;
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(e).visibility !== "hidden";
  };
  return Array.from(document.querySelectorAll(sel)).filter(shown).map((e, i) => {
    e.setAttribute("data-kbd", String(i));
    return (e.getAttribute("aria-label") || e.textContent || e.getAttribute("data-title") || e.tagName).trim().slice(0, 40);
  });
}"""

# The focused element, its focus ring and the contrast of the ring against the background
# behind it (the first opaque background up the tree; WCAG 2.4.11/1.4.11 want ≥ 3:1).
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  let bg = [255, 255, 255];
  for (let n = e.parentElement; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c.slice(0, 3); break; }
  }
  const style = getComputedStyle(e);
  const ring = rgb(style.outlineColor).slice(0, 3);
  const [hi, lo] = [lum(ring), lum(bg)].sort((a, b) => b - a);
  return { kbd: e.getAttribute("data-kbd"), tag: e.tagName, outline: style.outlineStyle,
           width: parseFloat(style.outlineWidth), contrast: (hi + 0.05) / (lo + 0.05) };
}"""


def tab_through(page: Any, limit: int = 400) -> list[dict[str, Any]]:
    """Press Tab from the top of the page until focus leaves it; the focus stops in order."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.focus("body")
    stops: list[dict[str, Any]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or (stops and focused["kbd"] == stops[0]["kbd"]):
            break
        stops.append(focused)
    return stops


def check_every_control_reached(page: Any) -> list[dict[str, Any]]:
    """Tab reaches every control, each stop shows a ring of ≥ 2 px at ≥ 3:1; returns the stops."""
    controls = page.evaluate(CONTROLS)
    stops = tab_through(page, limit=len(controls) + 20)
    reached = {s["kbd"] for s in stops}
    missed = [name for i, name in enumerate(controls) if str(i) not in reached]
    assert missed == [], missed
    assert all(s["kbd"] is not None for s in stops), [s for s in stops if s["kbd"] is None]
    weak = [(controls[int(s["kbd"])], s) for s in stops
            if s["outline"] == "none" or s["width"] < 2 or s["contrast"] < 3]
    assert weak == [], weak
    return stops


def focus(page: Any, selector: str) -> None:
    """Tab until ``selector`` has focus (it must be reachable by Tab)."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.focus("body")
    for _ in range(400):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_leaderboard(a11y_site: A11ySite, open_page: Any) -> None:
    page, errors = open_ready(open_page, a11y_site, "experiments/nyc-taxi.html", 1280)
    stops = check_every_control_reached(page)
    # one Tab stop per chart: the mode bar keeps one button, and never "Share chart…"
    assert page.locator(".modebar-btn").count() == page.locator(".js-plotly-plot").count() == 2
    assert page.locator(".modebar-btn[data-title*='Share'], .modebar-btn[data-title*='Chart Studio'], "
                        "a[href*='plot.ly'], a[href*='chart-studio']").count() == 0
    assert sum(s["tag"] == "BUTTON" and "modebar" in (page.locator(f"[data-kbd='{s['kbd']}']")
               .get_attribute("class") or "") for s in stops) == 2
    rmse = page.locator("th[data-key='metrics.rmse']")
    assert rmse.get_attribute("aria-sort") == "ascending"  # the build's ranking
    focus(page, "th[data-key='metrics.rmse'] button")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert rmse.get_attribute("aria-sort") == "descending"
    focus(page, "details.chart-alt > summary")
    page.keyboard.press("Enter")
    assert page.locator("details.chart-alt").first.get_attribute("open") is not None
    focus(page, ".lb-columns summary")
    page.keyboard.press("Enter")
    focus(page, ".lb-column-list input[data-key='params.alpha']")
    shown = page.is_visible("th[data-key='params.alpha']")
    page.keyboard.press("Space")
    assert page.is_visible("th[data-key='params.alpha']") is not shown
    focus(page, ".lb-collapse-all")
    page.keyboard.press("Enter")
    assert page.get_attribute(".lb-collapse-all", "aria-pressed") == "true"
    page.keyboard.press("Space")
    assert page.get_attribute(".lb-collapse-all", "aria-pressed") == "false"
    ids = a11y_site.ids
    for name in ("lasso", "retrain"):
        focus(page, f"input[value='{ids[name]}']")
        page.keyboard.press("Space")
    focus(page, ".lb-compare")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "nyc-taxi-compare.html#runs=" in page.url
    assert ids["lasso"] in page.url and ids["retrain"] in page.url
    assert errors == []


def test_keyboard_compare(a11y_site: A11ySite, open_page: Any) -> None:
    page, errors = open_ready(open_page, a11y_site, "experiments/nyc-taxi-compare.html", 1280)
    check_every_control_reached(page)
    assert page.locator("figure.chart[role=img]").count() == 0
    names = page.locator(".compare-runs li a").all_inner_texts()
    assert len(names) >= 3
    # removing a run keeps focus in the run list, on the next remove button
    focus(page, ".compare-runs li:nth-child(2) .compare-remove")
    page.keyboard.press("Enter")
    assert page.locator(".compare-runs li a").all_inner_texts() == names[:1] + names[2:]
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == \
        f"Remove {names[2]}"
    assert page.locator(".compare-message").inner_text() == f"Removed {names[1]}."
    # add it back with the picker and the Add button
    focus(page, ".compare-picker")
    page.select_option(".compare-picker", label=next(
        o for o in page.locator(".compare-picker option").all_inner_texts() if o.startswith(names[1])))
    focus(page, ".compare-add-button")
    page.keyboard.press("Enter")
    assert names[1] in page.locator(".compare-runs li a").all_inner_texts()
    focus(page, ".only-diff")
    page.keyboard.press("Space")
    assert page.locator("table.params-diff.only-diff").count() == 1
    focus(page, ".compare-reset")
    page.keyboard.press("Enter")
    assert page.locator(".compare-runs li a").all_inner_texts() == names
    # the parallel coordinates: arrows step through the lines, Enter opens one
    focus(page, ".parcoords-chart svg.pc-svg")
    page.keyboard.press("ArrowDown")
    assert page.locator(".parcoords-chart .pc-readout").inner_text() != ""
    focus(page, ".scatter-metric")
    before = page.input_value(".scatter-metric")
    page.keyboard.press("ArrowDown")
    assert page.input_value(".scatter-metric") != before
    assert page.locator(".scatter-chart .js-plotly-plot").count() == 1
    assert errors == []


def test_keyboard_sweep(a11y_site: A11ySite, open_page: Any) -> None:
    page, errors = open_ready(open_page, a11y_site, f"sweeps/{a11y_site.ids['xgb-sweep']}.html",
                              1280)
    check_every_control_reached(page)
    focus(page, "details.chart-alt > summary")
    page.keyboard.press("Space")
    table = page.locator("details.chart-alt table")
    assert table.is_visible()
    assert "trial-1" in table.inner_text()  # the points behind the chart, by run
    focus(page, "figure.parcoords svg.pc-svg")
    page.keyboard.press("ArrowDown")
    readout = page.locator("figure.parcoords .pc-readout").inner_text()
    assert "trial" in readout
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/runs/" in page.url
    assert errors == []


# ------------------------------------------------------------------------------ details


@pytest.mark.parametrize("width", WIDTHS)
def test_lineage_text_is_at_least_12px(width: int, a11y_site: A11ySite, open_page: Any) -> None:
    """Every link of the lineage is shown with text of ≥ 12 px: the SVG at full size on wide
    screens (its box scrolls instead of shrinking), stacked steps on a phone."""
    page, errors = open_ready(open_page, a11y_site, "models/taxi-duration/v2.html", width)
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll(
        "figure.lineage svg a text, figure.lineage ol.lineage-steps a, figure.lineage .node-line"))
      .filter((e) => e.getBoundingClientRect().width > 0)
      .map((e) => {
        const svg = e.ownerSVGElement;
        const scale = svg ? svg.getBoundingClientRect().width / svg.viewBox.baseVal.width : 1;
        return [e.textContent, parseFloat(getComputedStyle(e).fontSize) * scale];
      })""")
    links = [text for text, _ in sizes]
    assert any("retrain" in t for t in links) and any("champion" in t for t in links), links
    assert [s for s in sizes if s[1] < 12] == []
    stacked = page.locator("ol.lineage-steps").is_visible()
    assert stacked is (width < 900)
    assert page.locator("svg.lineage-graph").is_visible() is not stacked
    assert errors == []


def test_every_table_has_a_caption_and_charts_a_text_alternative(a11y_site: A11ySite) -> None:
    from bs4 import BeautifulSoup

    checked = 0
    for kind, where in PAGES.items():
        soup = BeautifulSoup((a11y_site.out / where(a11y_site.ids)).read_text(), "html.parser")
        for table in soup.select("table"):
            if "diff" in (table.get("class") or []):
                continue  # compare.js fills these (and their captions) in the browser
            caption = table.find("caption")
            assert caption is not None and caption.get_text(strip=True), (kind, table.get("class"))
            checked += 1
        for figure in soup.select("figure.chart"):
            assert figure.get("role") is None, kind  # the drawn chart holds a button
            assert figure.find("figcaption").get_text(strip=True), kind
            rows = figure.select("details.chart-alt table tbody tr")
            assert rows, kind
        for box in soup.select("details.artifact-preview pre, details.artifact-preview .table-wrap"):
            assert box["tabindex"] == "0" and box["role"] == "region" and box["aria-label"]
    assert checked > 20
    soup = BeautifulSoup((a11y_site.out / PAGES["sweep"](a11y_site.ids)).read_text(), "html.parser")
    table = soup.select_one("figure.chart details.chart-alt table")
    assert [th.get_text() for th in table.select("thead th")] == ["series", "point", "trial", "rmse"]
    cells = [[td.get_text() for td in tr.select("td")] for tr in table.select("tbody tr")]
    assert ["trials", "trial-1", "1", "3.9"] in cells


def test_leaderboard_header_announces_the_ranking(a11y_site: A11ySite) -> None:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((a11y_site.out / "experiments/nyc-taxi.html").read_text(), "html.parser")
    sorted_heads = soup.select("table.leaderboard th[aria-sort]")
    assert [(th["data-key"], th["aria-sort"]) for th in sorted_heads] == [
        ("metrics.rmse", "ascending")]  # rmse: lower is better, best first


def test_ci_installs_axe() -> None:
    """CI has axe-core (npm, outside the site) and sets CI, so a missing axe fails."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "npm install --no-audit --no-fund --prefix .axe axe-core@4" in ci
    assert 'export CI="${CI:-true}"' in ci
    assert "--prefix .axe axe-core@4" in (ROOT / "Makefile").read_text()
    assert ".axe/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("kind", [k for k in PAGES if k not in ("leaderboard", "compare", "sweep")])
def test_tab_reaches_every_control_with_a_visible_ring(kind: str, a11y_site: A11ySite,
                                                       open_page: Any) -> None:
    """The other page types (the three above have their own tests): every control by Tab,
    each with a focus ring of ≥ 2 px at ≥ 3:1 against the background behind it."""
    page, errors = open_ready(open_page, a11y_site, PAGES[kind](a11y_site.ids), 1280)
    assert check_every_control_reached(page)
    assert errors == []


# -- #10: what a phone and a stakeholder see ---------------------------------------------------

_DECIMAL = r"(?<![\w.:/-])-?\d[\d,]*\.\d+(?:e[-+]?\d+)?(?![\w.:/-])"


@pytest.mark.parametrize("kind", list(PAGES))
def test_no_page_scrolls_sideways_on_a_phone(
    open_page: Any, a11y_site: A11ySite, kind: str
) -> None:
    page, errors = open_ready(open_page, a11y_site, PAGES[kind](a11y_site.ids), 390)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (kind, widths)
    assert errors == []


def test_no_visible_number_has_more_than_six_significant_digits(
    open_page: Any, a11y_site: A11ySite
) -> None:
    import re

    too_long = []
    for kind, where in PAGES.items():
        page, _ = open_ready(open_page, a11y_site, where(a11y_site.ids), 1280)
        text = page.evaluate("document.body.innerText")
        for number in re.findall(_DECIMAL, text, flags=re.IGNORECASE):
            mantissa = number.lower().split("e")[0].replace(",", "").replace("-", "")
            digits = mantissa.replace(".", "").lstrip("0")
            if len(digits) > 6:
                too_long.append((kind, number))
    assert too_long == []
