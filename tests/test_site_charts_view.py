"""The experiment chart view (#11): every run's history per metric, top N by the primary
metric, grouped by a param or tag with the mean and a min–max band, checked in Chromium
against numbers known from the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

import tracker
import tracker.api
from tests.browser import CSP_LISTENER, browser, open_page  # noqa: F401 (fixtures)
from tracker.site.build import build

# run name -> (param opt, tag team, loss history)
RUNS = {
    "a-low": ("a", "red", [1.0, 2.0, 3.0]),
    "a-high": ("a", "blue", [3.0, 4.0, 5.0]),
    "b-only": ("b", "red", [10.0, 10.0, 10.0]),
    "no-opt": (None, "blue", [7.0, 7.0, 7.0]),
}
NOISY_STEPS = 30


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("charts-view")
    tracker.set_tracking_uri(str(tmp / "store"))
    try:
        tracker.set_experiment("grouped")
        for name, (opt, team, losses) in RUNS.items():
            with tracker.start_run(run_name=name):
                if opt is not None:
                    tracker.log_param("opt", opt)
                tracker.set_tag("team", team)
                for step, loss in enumerate(losses):
                    tracker.log_metric("loss", loss, step=step)
                for step in range(NOISY_STEPS):  # a neutral metric that zigzags: 1, 3, 1, 3, ...
                    tracker.log_metric("noise", 1.0 + 2 * (step % 2), step=step)
    finally:
        tracker.api._tracking_uri = None
        tracker.api._experiment_id = None
    build(str(tmp / "store"), tmp / "site")
    return tmp / "site"


def traces(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("""() => document.querySelector(
        '.charts-histories figure[data-metric="loss"] .js-plotly-plot').data.map(
        t => ({name: t.name, meta: t.meta || '', x: Array.from(t.x), y: Array.from(t.y),
               fill: t.fill || ''}))""")


def test_leaderboard_links_the_chart_view(site: Path) -> None:
    soup = BeautifulSoup((site / "experiments" / "grouped.html").read_text("utf-8"), "html.parser")
    assert soup.find("a", string="Chart view")["href"] == "grouped-charts.html"
    assert (site / "experiments" / "grouped-charts.html").is_file()


@pytest.mark.browser
def test_runs_overlaid_then_grouped_with_mean_and_band(site: Path, open_page: Any) -> None:  # noqa: F811
    page, errors = open_page(site / "experiments" / "grouped-charts.html",
                             init_script=CSP_LISTENER)
    page.wait_for_selector(".charts-histories .js-plotly-plot")
    # One line per run, best first by the primary metric (loss, lower is better).
    assert [t["name"] for t in traces(page)] == ["a-low", "a-high", "no-opt", "b-only"]
    assert page.evaluate("location.hash") == "#top=20"
    page.select_option("select.charts-group", "param:opt")
    by_meta = {(t["name"], t["meta"]): t for t in traces(page)}
    assert by_meta[("a (2 runs)", "mean")]["y"] == [2, 3, 4]
    assert by_meta[("a (2 runs) min", "min")]["y"] == [1, 2, 3]
    assert by_meta[("a (2 runs) min", "min")]["fill"] == "tonexty"  # band down from the max
    assert by_meta[("a (2 runs) max", "max")]["y"] == [3, 4, 5]
    assert by_meta[("b (1 run)", "mean")]["y"] == [10, 10, 10]
    assert by_meta[("(none) (1 run)", "mean")]["y"] == [7, 7, 7]
    assert page.eval_on_selector_all(".charts-legend li", "l => l.map(x => x.textContent)") == [
        "a (2)", "b (1)", "(none) (1)"]
    boxes = page.evaluate("""() => document.querySelector(
        '.charts-scalars figure[data-metric="loss"] .js-plotly-plot').data.map(
        b => [b.name, Array.from(b.y)])""")
    assert boxes == [["a", [3, 5]], ["b", [10]], ["(none)", [7]]]
    assert page.evaluate("location.hash") == "#top=20&group=param%3Aopt"
    # Top 2 by loss, grouped by a tag: the two best runs are a-low (red) and a-high (blue).
    page.evaluate("() => { location.hash = 'top=2&group=tag:team'; location.reload(); }")
    page.wait_for_selector(".charts-histories .js-plotly-plot")
    means = {t["name"]: t["y"] for t in traces(page) if t["meta"] == "mean"}
    assert means == {"blue (1 run)": [3, 4, 5], "red (1 run)": [1, 2, 3]}
    assert page.input_value("select.charts-top") == "2"
    assert page.input_value("select.charts-group") == "tag:team"
    assert page.evaluate("window.__csp") == []
    assert errors == []


def noise(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => { const gd = document.querySelector(
        '.charts-histories figure[data-metric="noise"] .js-plotly-plot');
        const t = gd.data.find(t => t.name === 'a-low');
        return {x: Array.from(t.x), y: Array.from(t.y), traces: gd.data.length,
                ytype: gd.layout.yaxis.type, xtitle: gd.layout.xaxis.title.text}; }""")


def variance(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_history_controls_change_the_plotted_data_and_stay_in_the_address(
    site: Path, open_page: Any, width: int  # noqa: F811
) -> None:
    page, errors = open_page(site / "experiments" / "grouped-charts.html",
                             init_script=CSP_LISTENER, width=width)
    page.wait_for_selector(".charts-histories figure[data-metric=noise] .js-plotly-plot")
    raw = noise(page)
    assert raw["y"] == [1.0, 3.0] * (NOISY_STEPS // 2) and raw["x"] == list(range(NOISY_STEPS))
    assert raw["traces"] == 4 and raw["ytype"] == "linear"
    # Smoothing: the EMA line replaces the raw one (which stays, faded) and varies much less.
    page.fill(".history-controls .smoothing input", "0.8")
    smooth = noise(page)
    assert smooth["traces"] == 8
    assert variance(smooth["y"][5:]) < variance(raw["y"][5:]) / 10
    assert page.text_content(".history-controls .smoothing output") == "0.80"
    # Log scale and hours since each run's start, from the data script's seconds.
    page.check(".history-controls .log-scale")
    page.check(".history-controls input[value=relative]")
    relative = noise(page)
    assert relative["ytype"] == "log" and relative["xtitle"] == "hours since start"
    seconds = page.evaluate("""() => Object.values(window.TRACKER_DATA)[0].runs.find(
        r => r.n === 'a-low').h.noise[2]""")
    assert relative["x"] == pytest.approx([s / 3600 for s in seconds])
    assert relative["x"] != raw["x"]
    assert page.evaluate("location.hash") == "#top=20&x=relative&smooth=0.80&log=1"
    # Grouped lines are smoothed too; the address restores every choice.
    page.select_option("select.charts-group", "param:opt")
    page.reload()
    page.wait_for_selector(".charts-histories figure[data-metric=noise] .js-plotly-plot")
    assert page.is_checked(".history-controls input[value=relative]")
    assert page.is_checked(".history-controls .log-scale")
    assert page.input_value(".history-controls .smoothing input") == "0.8"
    means = page.evaluate("""() => document.querySelector(
        '.charts-histories figure[data-metric="noise"] .js-plotly-plot').data.filter(
        t => t.meta === 'mean').map(t => Array.from(t.y))""")
    assert len(means) == 3 and variance(means[0][5:]) < variance(raw["y"][5:]) / 10
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("window.__csp") == []
    assert errors == []
