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
