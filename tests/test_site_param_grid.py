"""Two params against a metric (#11, assets/param-grid.js) on the compare page and the chart
view, checked in Chromium against cell values known from the store: a full numeric grid gives
a contour, text params a heatmap of the mean per cell with blank cells for combinations
without runs, many numeric values a heatmap over bins; best is darkest for either direction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tracker
import tracker.api
from tests.browser import CSP_LISTENER, browser, open_page  # noqa: F401 (fixtures)
from tracker.site.build import build

LRS = ["0.01", "0.1", "1"]
DEPTHS = ["2", "4", "8"]
# (opt, act, loss, accuracy): adam×relu holds two runs (mean loss 2), sgd×tanh none.
CATEGORICAL = [("adam", "relu", 1.0, 0.9), ("adam", "relu", 3.0, 0.7),
               ("adam", "tanh", 5.0, 0.5), ("sgd", "relu", 7.0, 0.3)]
SPARSE = 12  # runs with 12 distinct values of each param: binned
HOSTILE = '<img src=x onerror="window.__pwned=1">%{z}&amp;'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("param-grid")
    tracker.set_tracking_uri(str(tmp / "store"))
    try:
        tracker.set_experiment("grid")
        for lr in LRS:
            for depth in DEPTHS:
                with tracker.start_run(run_name=f"lr{lr}-d{depth}"):
                    tracker.log_params({"lr": lr, "depth": depth})
                    tracker.log_metric("loss", float(depth) + float(lr))
        tracker.set_experiment("cats")
        for i, (opt, act, loss, accuracy) in enumerate(CATEGORICAL):
            with tracker.start_run(run_name=f"c{i}"):
                tracker.log_params({"opt": opt, "act": act})
                tracker.log_metrics({"loss": loss, "accuracy": accuracy})
        tracker.set_experiment("sparse")
        for i in range(SPARSE):
            with tracker.start_run(run_name=f"s{i}"):
                tracker.log_params({"lr": f"{10 ** (-4 + 4 * i / (SPARSE - 1)):.6g}", "units": str(i)})
                tracker.log_metric("loss", float(i))
        tracker.set_experiment("hostile")
        for i, value in enumerate([HOSTILE, "plain"]):
            with tracker.start_run(run_name=f"<b>r{i}</b>"):
                tracker.log_params({"kind": value, "size": str(i)})
                tracker.log_metric("loss", float(i))
    finally:
        tracker.api._tracking_uri = None
        tracker.api._experiment_id = None
    build(str(tmp / "store"), tmp / "site")
    return tmp / "site"


def figure(page: Any, scope: str = ".pair-chart") -> dict[str, Any]:
    return page.evaluate("""(scope) => { const box = document.querySelector(scope);
        const gd = box.querySelector('.js-plotly-plot'); const t = gd.data[0];
        return {kind: box.getAttribute('data-kind'), type: t.type, x: Array.from(t.x),
                y: Array.from(t.y), z: t.z.map(r => Array.from(r)),
                counts: t.customdata.map(r => Array.from(r)), reversed: t.reversescale,
                xtype: gd.layout.xaxis.type, traces: gd.data.length,
                caption: box.querySelector('.pair-caption').textContent,
                rows: Array.from(box.querySelectorAll('.chart-table tbody tr')).map(
                    tr => Array.from(tr.cells).map(c => c.textContent))}; }""", scope)


def no_sideways_scroll(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
def test_full_numeric_grid_is_a_contour_with_the_runs_on_top(site: Path, open_page: Any) -> None:  # noqa: F811
    page, errors = open_page(site / "experiments" / "grid-compare.html", init_script=CSP_LISTENER)
    page.wait_for_selector(".pair-chart .js-plotly-plot")
    page.select_option("select.pair-x", "lr")
    page.select_option("select.pair-y", "depth")
    fig = figure(page)
    assert (fig["kind"], fig["type"], fig["traces"]) == ("contour", "contour", 2)  # + the runs
    assert fig["x"] == [0.01, 0.1, 1] and fig["y"] == [2, 4, 8]
    assert fig["z"] == [[2.01, 2.1, 3], [4.01, 4.1, 5], [8.01, 8.1, 9]]  # rows: depth
    assert fig["counts"] == [[1, 1, 1]] * 3
    assert fig["xtype"] == "log"  # lr spans two decades
    assert fig["reversed"] is False  # loss: lower is better, and low is dark in Viridis
    assert "interpolated" in fig["caption"] and "3 × 3 grid" in fig["caption"]
    assert len(fig["rows"]) == 9 and ["1", "8", "9", "1"] in fig["rows"]
    assert "pair=lr%2Cdepth%2Closs" in page.evaluate("location.hash")
    # The address keeps the choice: swapped axes after a reload.
    page.evaluate("() => { location.hash = location.hash.replace('lr%2Cdepth', 'depth%2Clr'); location.reload(); }")
    page.wait_for_selector(".pair-chart .js-plotly-plot")
    assert figure(page)["x"] == [2, 4, 8]
    assert page.evaluate("window.__csp") == []
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_text_params_give_a_heatmap_of_the_mean_with_blank_cells(
    site: Path, open_page: Any, width: int  # noqa: F811
) -> None:
    page, errors = open_page(site / "experiments" / "cats-compare.html", init_script=CSP_LISTENER,
                             width=width)
    page.wait_for_selector(".pair-chart .js-plotly-plot")
    page.select_option("select.pair-x", "opt")
    page.select_option("select.pair-y", "act")
    page.select_option("select.pair-metric", "loss")
    fig = figure(page)
    assert (fig["kind"], fig["type"], fig["xtype"]) == ("heatmap", "heatmap", "category")
    assert fig["x"] == ["adam", "sgd"] and fig["y"] == ["relu", "tanh"]
    assert fig["z"] == [[2, 7], [5, None]]  # the mean of 1 and 3; sgd×tanh has no run
    assert fig["counts"] == [[2, 1], [1, 0]]
    assert fig["reversed"] is False
    assert "1 cell has no run and is left blank: nothing is interpolated" in fig["caption"]
    assert fig["rows"] == [["adam", "relu", "2", "2"], ["sgd", "relu", "7", "1"], ["adam", "tanh", "5", "1"]]
    # Higher accuracy is better: the scale is reversed so that the best is dark again.
    page.select_option("select.pair-metric", "accuracy")
    fig = figure(page)
    assert fig["z"] == [[0.8, 0.3], [0.5, None]] and fig["reversed"] is True
    assert no_sideways_scroll(page)
    assert page.evaluate("window.__csp") == []
    assert errors == []


@pytest.mark.browser
def test_many_numeric_values_are_binned_on_the_chart_view(site: Path, open_page: Any) -> None:  # noqa: F811
    page, errors = open_page(site / "experiments" / "sparse-charts.html", init_script=CSP_LISTENER)
    page.wait_for_selector(".pair-chart .js-plotly-plot")
    page.select_option("select.pair-x", "lr")
    page.select_option("select.pair-y", "units")
    fig = figure(page)
    assert (fig["kind"], fig["type"]) == ("heatmap", "heatmap")
    assert len(fig["x"]) == 6 and len(fig["y"]) == 6
    assert fig["x"][0] == "0.0001–0.000464" and fig["y"][-1].endswith("–11")
    assert sum(map(sum, fig["counts"])) == SPARSE
    # lr and units rise together: every run sits on the diagonal, the rest is blank.
    assert all(fig["z"][r][c] is None for r in range(6) for c in range(6) if r != c)
    assert [fig["z"][i][i] for i in range(6)] == [0.5, 2.5, 4.5, 6.5, 8.5, 10.5]
    assert "lr in 6 log-width bins" in fig["caption"] and "units in 6 equal-width bins" in fig["caption"]
    assert "30 cells have no run and are left blank" in fig["caption"]
    assert page.evaluate("window.__csp") == []
    assert errors == []


@pytest.mark.browser
def test_param_values_are_shown_literally(site: Path, open_page: Any) -> None:  # noqa: F811
    page, errors = open_page(site / "experiments" / "hostile-charts.html", init_script=CSP_LISTENER)
    page.wait_for_selector(".pair-chart .js-plotly-plot")
    page.select_option("select.pair-x", "kind")
    page.select_option("select.pair-y", "size")
    ticks = page.eval_on_selector_all(".pair-chart .xtick text", "ts => ts.map(t => t.textContent)")
    assert sorted(ticks) == sorted([HOSTILE, "plain"])
    assert page.eval_on_selector_all(".pair-chart img", "imgs => imgs.length") == 0
    assert HOSTILE in page.eval_on_selector_all(".pair-chart td", "tds => tds.map(t => t.textContent)")
    boxes = page.eval_on_selector_all(".charts-scalars .ytick text, .charts-scalars .xtick text",
                                      "ts => ts.map(t => t.textContent)")
    assert "all runs" in boxes
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__csp") == []
    # Run names in the compare page's bar chart and scatter labels are text, not markup.
    page, errors = open_page(site / "experiments" / "hostile-compare.html", init_script=CSP_LISTENER)
    page.wait_for_selector(".bar-chart .js-plotly-plot")
    bars = page.eval_on_selector_all(".bar-chart .ytick text", "ts => ts.map(t => t.textContent)")
    assert sorted(bars) == ["<b>r0</b>", "<b>r1</b>"]
    labels = page.eval_on_selector_all(".scatter-chart .textpoint text", "ts => ts.map(t => t.textContent)")
    assert "<b>r0</b>" in labels
    assert errors == []
