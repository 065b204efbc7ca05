"""The compare page and the experiment data script it reads (HTML, JSON, then Chromium)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests import browser as browser_fixtures
from tests import test_site_leaderboard as board
from tests.test_site_leaderboard import HISTORY_STEPS, XSS, BoardSite
from tracker.site.pages.compare import MAX_POINTS, compact, parse_data_script

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures
board_site = board.board_site  # fixture: the seeded store's site, built once per module


def _data(site: BoardSite) -> dict[str, Any]:
    content = (site.out / "experiments" / "board.data.js").read_bytes()
    assert content.startswith(b"window.TRACKER_DATA = window.TRACKER_DATA || {};\n")
    experiment_id, data = parse_data_script(content)
    assert experiment_id == site.experiment_id
    return data


def _significant_digits(value: float) -> int:
    mantissa = f"{abs(value):e}".split("e")[0].replace(".", "").rstrip("0")
    return len(mantissa)


def test_data_script_parses_and_is_compact(board_site: BoardSite) -> None:
    data = _data(board_site)
    names = {v: k for k, v in board_site.ids.items()}
    assert data["id"] == board_site.experiment_id and data["name"] == "board"
    assert data["primary"] == "rmse"
    assert data["dir"]["rmse"] == "min" and data["dir"]["r2"] == "max"
    assert "alpha" in data["pkeys"] and "loss" in data["mkeys"]
    top = [names[i] for i in data["top"]]  # the 5 best by rmse, at any depth
    assert top[0] == "alpha-run" and set(top[1:3]) == {"trial-2", "trial-4"}
    assert top[3:] == ["trial-1", "gamma-run"]
    leaderboard = board_site.soup("experiments/board.html")
    assert [r["i"] for r in data["runs"]] == [
        tr["data-run"] for tr in leaderboard.select("table.leaderboard tbody tr")]
    runs = {names[r["i"]]: r for r in data["runs"]}
    assert runs["trial-0"]["p"] == board_site.ids["sweep-parent"] and "p" not in runs["alpha-run"]
    assert runs["trial-5"]["s"] == "FAILED" and runs["alpha-run"]["s"] == "FINISHED"
    assert runs["alpha-run"]["pa"]["note"] == XSS
    assert runs["alpha-run"]["u"] == f"runs/{board_site.ids['alpha-run']}.html"
    assert runs["nan-run"]["m"]["rmse"] is None  # NaN → null
    assert "h" not in runs["nan-run"]  # no finite history
    steps, values, seconds = runs["alpha-run"]["h"]["rmse"]
    assert len(steps) == len(values) <= MAX_POINTS < HISTORY_STEPS
    assert steps[0] == 0 and steps[-1] == HISTORY_STEPS - 1 and values[-1] == 2
    assert steps == sorted(steps) and len(seconds) == len(steps) and seconds == sorted(seconds)
    assert data["base"] == board_site.ids["alpha-run"]  # no run is tagged: the best one
    assert all(_significant_digits(v) <= 6 for v in values)
    assert "r2" not in runs["alpha-run"].get("h", {})  # one point: the latest value says it all
    text = (board_site.out / "experiments" / "board.data.js").read_text(encoding="utf-8")
    assert "<" not in text and ", " not in text  # escaped; no padding


def test_compact_numbers() -> None:
    assert compact(2.0) == 2 and isinstance(compact(2.0), int)
    assert compact(1 / 3) == 0.333333
    assert compact(123456789.123) == 123457000
    assert compact(math.nan) is None and compact(math.inf) is None and compact(None) is None
    assert compact(1e-12) == 1e-12


def test_compare_page_shell(board_site: BoardSite) -> None:
    soup = board_site.soup("experiments/board-compare.html")
    app = soup.select_one(".compare-app")
    assert app["data-experiment"] == board_site.experiment_id
    assert app["data-primary"] == "rmse"
    scripts = [s["src"] for s in soup.select("script[src]")]
    assert scripts.index("board.data.js") < scripts.index("../assets/compare.js")
    assert any(src.startswith("../assets/vendor/plotly-") for src in scripts)
    for selector in (".metric-charts", "table.params-diff", "table.metrics-diff",
                     ".parcoords-chart", ".scatter-chart", "select.scatter-param",
                     "select.scatter-metric", "input.only-diff", ".compare-message"):
        assert soup.select_one(selector) is not None, selector
    crumbs = soup.select("nav.breadcrumbs li")
    assert [c.get_text(strip=True) for c in crumbs] == ["Home", "board", "compare"]
    assert soup.select_one("nav.breadcrumbs a[href='board.html']") is not None
    fallback = [a.get_text() for a in soup.select("noscript a")]
    assert fallback[0] == "alpha-run" and len(fallback) == 5
    assert not soup.select("script:not([src])[type!='application/json']")  # no inline code


# ------------------------------------------------------------------------------ browser


def _trace_counts(page: Any) -> dict[str, int]:
    return page.evaluate("""() => Object.fromEntries(
        Array.from(document.querySelectorAll('.metric-chart'))
             .map(f => [f.dataset.metric, f.querySelector('.js-plotly-plot').data.length]))""")


def _chips(page: Any) -> list[str]:
    return page.eval_on_selector_all(".compare-runs li a", "links => links.map(a => a.textContent)")


def _check_parallel_coordinates(page: Any, ids: dict[str, str], chosen: list[str]) -> None:
    """Our own SVG (plotly's parcoords needs eval, which the CSP forbids, #11): one line per
    selected run over the params that differ, then the primary metric; coloured by rmse (lower
    is better: the best run darkest)."""
    page.wait_for_selector(".parcoords-chart[data-drawn='svg'] svg.pc-svg")
    assert page.evaluate("() => document.querySelectorAll('.parcoords-chart .js-plotly-plot, "
                         ".parcoords-chart canvas, .no-webgl').length") == 0
    state = browser_fixtures.parcoords_state(page, ".parcoords-chart")
    assert state["axes"] == ["alpha", "model", "note", "rmse"]
    assert state["titles"] == ["alpha", "model", "note", "rmse"]
    assert sorted(state["lines"]) == sorted(ids[n] for n in chosen)
    assert state["lines"][-1] == ids["alpha-run"]  # the best is drawn last, on top
    assert state["colors"][ids["alpha-run"]] == "#440154"  # darkest = best (rmse 2)
    assert state["colors"][ids["beta-run"]] == "#bddf26"  # lightest = worst (rmse 10)
    assert state["dimmed"] == [] and state["brushes"] == []
    assert state["label"].startswith("Parallel coordinates of 3 runs over 4 axes: alpha, model, "
                                     "note, rmse.")
    assert "colour: rmse (lower is better)" in page.text_content(".parcoords-chart .pc-colorbar")
    # untrusted text (a param value) is an axis label, as text
    ticks = page.eval_on_selector_all(".pc-axis[data-key='note'] title, .pc-axis[data-key='note'] "
                                      ".pc-tick-label", "els => els.map(e => e.textContent)")
    assert XSS in ticks
    assert page.eval_on_selector_all(".parcoords-chart img", "x => x.length") == 0


def _check_brushing(page: Any, ids: dict[str, str]) -> None:
    """Drag on the rmse axis from 30 % up (4.4) to below its bottom (2): beta-run (10) is
    dimmed, the brush is in the address next to the runs, and a reload restores it."""
    browser_fixtures.drag_brush(page, ".parcoords-chart", "rmse", 0.3, -0.1)
    state = browser_fixtures.parcoords_state(page, ".parcoords-chart")
    assert state["dimmed"] == [ids["beta-run"]] and state["brushes"] == ["rmse"]
    assert state["status"] == "2 of 3 runs in the brushed ranges."
    hash_before = page.evaluate("() => location.hash")
    assert hash_before.startswith("#runs=" + ids["alpha-run"])
    brush = hash_before.split("&brush=")[1]
    key, low, high = brush.split(":")
    assert key == "rmse" and float(low) == 2 and 4.3 < float(high) < 4.5
    page.reload()
    page.wait_for_selector(".parcoords-chart[data-drawn='svg'] svg.pc-svg")
    assert page.evaluate("() => location.hash") == hash_before
    state = browser_fixtures.parcoords_state(page, ".parcoords-chart")
    assert state["dimmed"] == [ids["beta-run"]] and state["brushes"] == ["rmse"]
    # the keyboard steps through the runs inside the brush, best first
    page.focus(".parcoords-chart svg.pc-svg")
    page.keyboard.press("ArrowDown")
    readout = browser_fixtures.parcoords_state(page, ".parcoords-chart")["readout"]
    assert readout.startswith("alpha-run: alpha 0.1 · model lasso · note ") and readout.endswith(
        " · rmse 2")
    page.keyboard.press("ArrowDown")
    assert browser_fixtures.parcoords_state(page, ".parcoords-chart")["readout"].startswith(
        "gamma-run: alpha 10 · model xgboost · note (none) · rmse 3.5")
    page.keyboard.press("Escape")  # clears the brush
    state = browser_fixtures.parcoords_state(page, ".parcoords-chart")
    assert state["dimmed"] == [] and state["brushes"] == []
    assert "brush=" not in page.evaluate("() => location.hash")


def _check_tables(page: Any) -> None:
    texts = "cells => cells.map(x => x.textContent)"
    same = page.eval_on_selector_all("table.params-diff tr.same th", texts)
    differs = page.eval_on_selector_all("table.params-diff tr.differs th", texts)
    assert same == ["optimizer", "zz_hidden"]
    assert differs == ["alpha", "model", "note"]
    assert page.is_visible("table.params-diff tr[data-key='optimizer']")
    page.check("input.only-diff")  # "only differences" hides the rest
    assert not page.is_visible("table.params-diff tr[data-key='optimizer']")
    assert page.is_visible("table.params-diff tr[data-key='alpha']")
    # untrusted text stays text
    assert page.eval_on_selector_all("table.params-diff img", "x => x.length") == 0
    assert XSS in page.text_content("table.params-diff tr[data-key='note']")
    best = page.eval_on_selector_all("table.metrics-diff tr[data-key='rmse'] td.best", texts)
    assert best == ["2"]


def _check_scatter(page: Any) -> None:
    page.select_option("select.scatter-param", "alpha")
    page.select_option("select.scatter-metric", "rmse")
    scatter = page.evaluate("""() => {
        const gd = document.querySelector('.scatter-chart .js-plotly-plot');
        return {n: gd.data.length, selected: gd.data[1].x, all: gd.data[0].x.length,
                x: gd.layout.xaxis.title.text, y: gd.layout.yaxis.title.text};
    }""")
    assert scatter == {"n": 2, "selected": [0.1, 1, 10], "all": 3, "x": "alpha", "y": "rmse"}


def _check_selection_changes(page: Any, ids: dict[str, str]) -> None:
    """The hash drives the selection: change it, drop an unknown id, fall back to the best 5,
    then remove and add runs with the controls."""
    page.evaluate("ids => { location.hash = 'runs=' + ids.join(','); }",
                  [ids["gamma-run"], ids["beta-run"], "no-such-run"])
    page.wait_for_function("() => document.querySelectorAll('.compare-runs li').length === 2")
    assert _trace_counts(page) == {"rmse": 2}
    assert "not in this experiment" in page.text_content(".compare-message")
    page.evaluate("() => { location.hash = ''; }")
    page.wait_for_function("() => document.querySelectorAll('.compare-runs li').length === 5")
    assert _chips(page)[0] == "alpha-run"
    page.click(".compare-runs li:first-child .compare-remove")
    assert len(_chips(page)) == 4 and "alpha-run" not in _chips(page)
    page.select_option("select.compare-picker", ids["alpha-run"])
    page.click(".compare-add-button")
    assert _chips(page)[-1] == "alpha-run"
    assert ids["alpha-run"] in page.evaluate("() => location.hash")


@pytest.mark.browser
def test_compare_page_draws_selected_runs(board_site: BoardSite, open_page: Any) -> None:
    ids = board_site.ids
    chosen = ["alpha-run", "beta-run", "gamma-run"]
    page, errors = open_page(board_site.out / "experiments" / "board-compare.html",
                             fragment="runs=" + ",".join(ids[n] for n in chosen))
    page.wait_for_selector(".metric-chart .js-plotly-plot")
    assert _chips(page) == chosen
    assert _trace_counts(page) == {"rmse": 3}  # r2 has a single point per run: no chart
    names = page.evaluate(
        "() => document.querySelector('.metric-chart .js-plotly-plot').data.map(t => t.name)")
    assert names == chosen
    # histories, the primary metric's bars, the two-param map and the scatter
    assert page.evaluate("() => document.querySelectorAll('.js-plotly-plot').length") == 4
    _check_parallel_coordinates(page, ids, chosen)
    _check_brushing(page, ids)
    _check_tables(page)
    _check_scatter(page)
    _check_selection_changes(page, ids)
    assert errors == []


# ------------------------------------------------------------------ baseline and colours (#11)


def _colours(page: Any) -> dict[str, str]:
    """Run name → its colour in the legend, the history traces and the bar chart."""
    return page.evaluate("""() => {
        const out = {};
        document.querySelectorAll('.compare-legend li').forEach(li => {
            out['legend:' + li.textContent] = getComputedStyle(li.querySelector('.swatch')).backgroundColor;
        });
        document.querySelector('.metric-chart .js-plotly-plot').data
            .forEach(t => { out['line:' + t.name] = t.line.color; });
        const bars = document.querySelector('.bar-chart .js-plotly-plot').data[0];
        bars.y.forEach((name, i) => { out['bar:' + name] = bars.marker.color[i]; });
        return out;
    }""")


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _run_colours(page: Any, names: list[str]) -> dict[str, str]:
    seen = _colours(page)
    out = {}
    for name in names:
        bar = seen["bar:" + name]
        assert seen.get("line:" + name, bar) == bar and seen["legend:" + name] == _rgb(bar), name
        out[name] = bar
    return out


def _delta(page: Any, table: str, key: str) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        f"table.{table} tr[data-key='{key}'] td",
        "tds => tds.map(td => { const d = td.querySelector('.delta');"
        " return d ? [d.textContent, d.className] : ['', '']; })")


@pytest.mark.browser
def test_compare_deltas_against_a_chosen_baseline_and_stable_colours(
    board_site: BoardSite, open_page: Any
) -> None:
    ids = board_site.ids
    chosen = ["alpha-run", "beta-run", "gamma-run"]
    page, errors = open_page(board_site.out / "experiments" / "board-compare.html",
                             fragment="runs=" + ",".join(ids[n] for n in chosen))
    page.wait_for_selector(".bar-chart .js-plotly-plot")
    # Default baseline: the best run by rmse (alpha, rmse 2); its column comes first.
    heads = page.eval_on_selector_all("table.metrics-diff thead th", "ths => ths.map(t => t.textContent)")
    assert heads[1] == "alpha-run baseline"
    values = page.eval_on_selector_all("table.metrics-diff tr[data-key='rmse'] td",
                                       "tds => tds.map(td => td.firstChild.textContent)")
    rmse = dict(zip(heads[1:], values))
    assert _delta(page, "metrics-diff", "rmse")[0] == ["", ""]  # the baseline itself
    beta = float(rmse["beta-run"])
    assert _delta(page, "metrics-diff", "rmse")[1] == [
        f"+{beta - 2:g} (+{(beta - 2) / 2 * 100:g}%)", "delta worse"]  # higher rmse: worse
    # Choose beta as the baseline: alpha is now better (green), the address keeps it.
    page.select_option("select.compare-baseline", ids["beta-run"])
    heads = page.eval_on_selector_all("table.metrics-diff thead th", "ths => ths.map(t => t.textContent)")
    assert heads[1] == "beta-run baseline" and heads[2] == "alpha-run"
    assert _delta(page, "metrics-diff", "rmse")[1] == [
        f"−{beta - 2:g} (−{(beta - 2) / beta * 100:.4g}%)", "delta better"]
    assert "base=" + ids["beta-run"] in page.evaluate("() => location.hash")
    # A param that differs numerically gets an uncoloured difference.
    alpha_deltas = _delta(page, "params-diff", "alpha")
    assert alpha_deltas[1][1] == "delta" and alpha_deltas[1][0].startswith("−")
    # Bars of the primary metric: best first, axis fitted to the values.
    bars = page.evaluate("""() => { const gd = document.querySelector('.bar-chart .js-plotly-plot');
        return {y: gd.data[0].y, range: gd.layout.xaxis.range}; }""")
    assert bars["y"][0] == "alpha-run" and len(bars["y"]) == 3
    first = _run_colours(page, chosen)
    assert len(set(first.values())) == 3
    # Another selection, in another order: every run keeps its colour.
    page.evaluate("ids => { location.hash = 'runs=' + ids.join(','); }",
                  [ids["gamma-run"], ids["trial-1"], ids["alpha-run"]])
    page.wait_for_function("() => document.querySelectorAll('.compare-legend li').length === 3"
                           " && document.querySelector('.compare-legend li').textContent === 'gamma-run'")
    second = _run_colours(page, ["gamma-run", "trial-1", "alpha-run"])
    assert second["gamma-run"] == first["gamma-run"] and second["alpha-run"] == first["alpha-run"]
    assert len(set(second.values())) == 3
    # History controls: log scale, smoothing and the x axis redraw the charts.
    page.check(".compare-controls input.log-scale")
    page.check(".compare-controls input[value=relative]")
    state = page.evaluate("""() => { const gd = document.querySelector('.metric-chart .js-plotly-plot');
        return [gd.layout.yaxis.type, gd.layout.xaxis.title.text]; }""")
    assert state == ["log", "hours since start"]
    count = "() => document.querySelector('.metric-chart .js-plotly-plot').data.length"
    lines = page.evaluate(count)
    page.fill(".compare-controls .smoothing input", "0.6")
    assert page.evaluate(count) == 2 * lines  # a smoothed and a faded raw line per run
    # Two params over every run, coloured by rmse (best darkest): model is text, so a heatmap
    # of the mean per cell (param-grid.js; exact cell values in tests/test_site_param_grid.py).
    page.select_option("select.pair-x", "alpha")
    page.select_option("select.pair-y", "model")
    pair = page.evaluate("""() => { const t = document.querySelector('.pair-chart .js-plotly-plot').data[0];
        return {type: t.type, reversed: t.reversescale, hash: location.hash}; }""")
    assert pair["type"] == "heatmap"
    assert pair["reversed"] is False  # Viridis is dark at the low end: lower rmse is better
    assert "pair=alpha%2Cmodel%2Crmse" in pair["hash"]
    assert errors == []
