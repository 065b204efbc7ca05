"""On-page controls of report ```history and ```compare blocks (#17) in Chromium: each block
is its own instance of the compare page's history charts (assets/history-view.js), starts from
the block's YAML options, keeps its state to itself (not in the address) and draws the points
of ``get_metric_history``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import tracker
from tests import browser as browser_fixtures
from tests.conftest import write_files
from tests.test_report_blocks import EXPERIMENT, RUNS, seed_demo_store
from tracker.site.build import build
from tracker.site.timeseries import ema

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

pytestmark = pytest.mark.browser

REPORT = """---
title: Two histories
---

```history
filter: "tags.model = 'xgboost' and attributes.run_name != 'xgboost-best'"
metric: validation-rmse
smoothing: 0.3
title: Trials
```

```history
filter: "attributes.run_name = 'xgboost-best'"
metric: validation-rmse
x: relative
log: true
```

```history
filter: "tags.model = 'xgboost'"
metric: validation-rmse
group_by: params.max_depth
smoothing: 0.5
```

```compare
runs: [xgboost-best, trial-0, lucid-ox]
```
"""

# the plotly data of the n-th block's charts: [[{name, x, y, raw, fill}] per chart]
TRACES = """(n) => Array.from(document.querySelectorAll('.history-view')[n]
    .querySelectorAll('.js-plotly-plot')).map((gd) => gd.data.map((t) => ({
      name: t.name, x: Array.from(t.x), y: Array.from(t.y), raw: !!t.opacity, fill: t.fill || ''})))"""
LAYOUT = """(n) => { const gd = document.querySelectorAll('.history-view')[n]
    .querySelector('.js-plotly-plot');
    return {y: gd.layout.yaxis.type, x: gd.layout.xaxis.title.text, title: gd.layout.title.text}; }"""
SET_SMOOTHING = """([n, value]) => { const s = document.querySelectorAll('.history-view')[n]
    .querySelector('.smoothing input');
    s.value = value; s.dispatchEvent(new Event('input', {bubbles: true})); }"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    root = tmp_path_factory.mktemp("history-view")
    uri = str(root / "store")
    ids = seed_demo_store(uri)
    reports = write_files(root / "reports", {"two.md": REPORT.replace(
        "---\n\n", f"experiment: {EXPERIMENT}\n---\n\n", 1)})
    assert build(uri, root / "site", reports=reports, strict=True).warnings == []
    return root / "site", uri, ids


def history(uri: str, run_id: str) -> tuple[list[int], list[int], list[float], int]:
    """(steps, timestamps, values, run start) of the run's validation-rmse."""
    client = tracker.tracking.MlflowClient(uri)
    points = client.get_metric_history(run_id, "validation-rmse")
    return ([p.step for p in points], [p.timestamp for p in points], [p.value for p in points],
            client.get_run(run_id).info.start_time)


def open_report(open_page: Any, site: Path, width: int = 1280) -> tuple[Any, list[str]]:
    page, errors = open_page(site / "reports" / "two.html", width=width,
                             init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_function("document.querySelectorAll('.history-view .js-plotly-plot')"
                           ".length >= 4", timeout=20_000)
    return page, errors


def test_each_block_starts_from_its_options_and_draws_the_metric_history(
        site: Any, open_page: Any) -> None:
    path, uri, ids = site
    page, errors = open_report(open_page, path)
    assert page.locator(".history-controls:visible").count() == 4
    # initial state = the YAML options
    controls = """(n) => { const c = document.querySelectorAll('.history-controls')[n];
        const x = c.querySelector('input[type=radio]:checked');
        return [x ? x.value : null, c.querySelector('.smoothing input').value,
                c.querySelector('.smoothing output').textContent,
                c.querySelector('.log-scale').checked]; }"""
    assert page.evaluate(controls, 0) == ["step", "0.3", "0.30", False]
    assert page.evaluate(controls, 1) == ["relative", "0", "0.00", True]
    assert page.evaluate(controls, 2) == [None, "0.5", "0.50", False]  # grouped: by step only
    assert page.evaluate(LAYOUT, 0) == {"y": "linear", "x": "step",
                                        "title": "Trials"}
    assert page.evaluate(LAYOUT, 1) == {"y": "log", "x": "hours since start",
                                        "title": "validation-rmse by hours since start"}
    # block 1: every point of get_metric_history, raw under the EMA (weight 0.3), by step
    (trials,) = page.evaluate(TRACES, 0)
    for name in ("trial-0", "trial-1", "trial-2"):
        steps, _, values, _ = history(uri, ids[name])
        (raw,) = [t for t in trials if t["raw"] and t["name"] == f"{name} (raw)"]
        (line,) = [t for t in trials if not t["raw"] and t["name"] == name]
        assert raw["x"] == steps and raw["y"] == values
        assert line["x"] == steps and line["y"] == pytest.approx(ema(values, 0.3), rel=1e-12)
    # block 2: hours since the run's start
    (best,) = page.evaluate(TRACES, 1)
    steps, times, values, start = history(uri, ids["xgboost-best"])
    assert [t["name"] for t in best] == ["xgboost-best"]
    assert best[0]["y"] == values
    assert best[0]["x"] == pytest.approx([(t - start) / 3_600_000 for t in times], abs=1e-9)
    # block 3: max_depth 3 is trial-0 alone, so its mean is trial-0's EMA; a band per group
    (grouped,) = page.evaluate(TRACES, 2)
    means = {t["name"]: t for t in grouped if t["name"].endswith("(mean)")}
    assert sorted(means) == ["max_depth = 3 (mean)", "max_depth = 6 (mean)"]
    assert means["max_depth = 3 (mean)"]["y"] == pytest.approx(ema(RUNS["trial-0"][4], 0.5))
    assert len([t for t in grouped if t["fill"] == "tonexty"]) == 2
    legend = page.locator(".history-view").nth(2).locator(".history-legend li")
    assert legend.all_text_contents() == ["max_depth = 3", "max_depth = 6"]
    assert legend.locator("a").count() == 0  # groups are not pages
    runs = page.locator(".history-view").nth(0).locator(".history-legend li a")
    assert runs.all_text_contents() == ["trial-1", "trial-2", "trial-0"]  # by rmse, as ranked
    assert all(href.endswith(".html") for href in runs.evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href'))"))
    # the compare block: its runs' histories (lucid-ox has none) with the same controls
    (compared,) = page.evaluate(TRACES, 3)
    assert sorted(t["name"] for t in compared) == ["trial-0", "xgboost-best"]
    assert page.evaluate("window.__csp") == []
    assert errors == []


def test_controls_change_only_their_own_block(site: Any, open_page: Any) -> None:
    path, uri, ids = site
    page, errors = open_report(open_page, path)
    others = [page.evaluate(TRACES, n) for n in (1, 2, 3)]
    colours = page.evaluate("""() => Array.from(document.querySelectorAll('.history-view')[0]
        .querySelector('.js-plotly-plot').data).map((t) => t.line.color)""")
    page.evaluate(SET_SMOOTHING, [0, "0.8"])
    (trials,) = page.evaluate(TRACES, 0)
    _, _, values, _ = history(uri, ids["trial-1"])
    (line,) = [t for t in trials if t["name"] == "trial-1"]
    assert line["y"] == pytest.approx(ema(values, 0.8), rel=1e-12)
    assert page.locator(".history-controls").nth(0).locator("output").text_content() == "0.80"
    assert [page.evaluate(TRACES, n) for n in (1, 2, 3)] == others
    # a run keeps its colour whatever the controls say
    assert page.evaluate("""() => Array.from(document.querySelectorAll('.history-view')[0]
        .querySelector('.js-plotly-plot').data).map((t) => t.line.color)""") == colours
    # log scale and hours since start, on the first block only
    page.locator(".history-controls").nth(0).get_by_label("log scale").check()
    assert page.evaluate(LAYOUT, 0)["y"] == "log"
    assert page.evaluate(LAYOUT, 1)["y"] == "log" and page.evaluate(LAYOUT, 3)["y"] == "linear"
    page.locator(".history-controls").nth(0).get_by_label("hours since start").check()
    assert page.evaluate(LAYOUT, 0)["x"] == "hours since start"
    (trials,) = page.evaluate(TRACES, 0)
    _, times, _, start = history(uri, ids["trial-2"])
    (raw,) = [t for t in trials if t["name"] == "trial-2 (raw)"]
    assert raw["x"] == pytest.approx([(t - start) / 3_600_000 for t in times], abs=1e-9)
    assert page.evaluate(LAYOUT, 1)["x"] == "hours since start"  # its own option, untouched
    page.locator(".history-controls").nth(1).get_by_label("step", exact=True).check()
    assert page.evaluate(LAYOUT, 1)["x"] == "step" and page.evaluate(LAYOUT, 0)["x"] == (
        "hours since start")
    # the state is the page's: nothing in the address
    assert "#" not in page.url
    # the text alternative follows the chart
    table = page.locator(".history-view").nth(1).locator("table.chart-table")
    assert table.locator("thead th").all_text_contents() == ["run", "step", "validation-rmse"]
    assert page.evaluate("window.__csp") == []
    assert errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_history_blocks_fit_keep_csp_and_pass_axe(site: Any, open_page: Any,
                                                  width: int) -> None:
    path, _, _ = site
    page, errors = open_report(open_page, path, width)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=f"/tmp/rhist-shots/report-history-{width}.png", full_page=True)
    from tests.test_site_a11y import AXE, RUN_AXE, WCAG, _report

    if AXE.is_file():
        target = path / "_test"
        target.mkdir(exist_ok=True)
        shutil.copyfile(AXE, target / "axe.min.js")
        page.evaluate("""(url) => new Promise((resolve, reject) => {
            const s = document.createElement("script");
            s.src = url; s.onload = resolve; s.onerror = () => reject(new Error("axe blocked"));
            document.head.appendChild(s);
        })""", (target / "axe.min.js").as_uri())
        violations = page.evaluate(RUN_AXE, WCAG)
        assert violations == [], _report(violations)
    assert page.evaluate("window.__csp") == []
    assert errors == []


def test_without_javascript_the_block_shows_its_points(site: Any, browser: Any) -> None:
    path, uri, ids = site
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390,
                                                                       "height": 900})
    try:
        page = context.new_page()
        page.goto(browser_fixtures.file_url(path / "reports" / "two.html"))
        view = page.locator(".history-view").nth(1)
        assert view.locator(".history-controls").is_hidden()
        assert "need JavaScript" in view.inner_text()
        view.locator("summary", has_text="Data of this chart").click()
        cells = view.locator("table.chart-table tbody tr td:nth-child(3)").all_text_contents()
        _, _, values, _ = history(uri, ids["xgboost-best"])
        assert [float(c) for c in cells] == values
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_store_text_stays_text_in_the_view(tmp_path: Path, open_page: Any) -> None:
    evil = '<img src=x onerror=alert(1)><b>x</b>%{y}'
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("e")
    for index in range(2):
        with tracker.start_run(run_name=f"{evil}{index}"):
            tracker.log_param("p", f"{evil}</script>")
            for step in range(3):
                tracker.log_metric("loss", 1.0 / (1 + step + index), step=step)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    reports = write_files(tmp_path / "reports", {"r.md": (
        "```history\nexperiment: e\nmetric: loss\ntitle: \"<b>t</b>\"\n```\n\n"
        "```history\nexperiment: e\nmetric: loss\ngroup_by: params.p\n```\n")})
    assert build(uri, tmp_path / "site", reports=reports, strict=True).warnings == []
    page, errors = open_page(tmp_path / "site" / "reports" / "r.html",
                             init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_function("document.querySelectorAll('.history-view .js-plotly-plot')"
                           ".length == 2", timeout=20_000)
    page.locator(".history-view").nth(0).locator(".js-plotly-plot").hover()
    assert page.evaluate("document.querySelectorAll('.history-view img, .history-view svg b,"
                         " .history-legend b').length") == 0
    legend = page.locator(".history-view").nth(1).locator(".history-legend li")
    assert legend.all_text_contents() == [f"p = {evil}</script>"]
    title = page.locator(".history-view").nth(0).locator(".gtitle").text_content()
    assert title == "<b>t</b>"
    assert page.evaluate("window.__csp") == []
    assert errors == []


@pytest.mark.slow
def test_pdf_prints_the_drawn_histories(tmp_path: Path) -> None:
    from tracker.site import report_pdf

    if shutil.which("pdftotext") is None:
        pytest.skip("needs poppler-utils (pdftotext)")
    try:
        report_pdf.chromium()
    except report_pdf.PdfError as exc:
        pytest.skip(str(exc))
    uri = str(tmp_path / "store")
    seed_demo_store(uri)
    reports = write_files(tmp_path / "reports", {"two.md": REPORT.replace(
        "---\n\n", f"experiment: {EXPERIMENT}\n---\n\n", 1)})
    result = build(uri, tmp_path / "site", reports=reports, strict=True, pdf=True)
    assert "reports/two.pdf" in result.pdfs
    import subprocess

    text = subprocess.run(["pdftotext", str(tmp_path / "site" / "reports" / "two.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "validation-rmse by hours since start" in text  # drawn by history-view.js
    assert "log scale" not in text  # the controls are not printed
