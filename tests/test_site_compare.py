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
    steps, values = runs["alpha-run"]["h"]["rmse"]
    assert len(steps) == len(values) <= MAX_POINTS < HISTORY_STEPS
    assert steps[0] == 0 and steps[-1] == HISTORY_STEPS - 1 and values[-1] == 2
    assert steps == sorted(steps)
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


def _check_parallel_coordinates(page: Any, chosen: list[str]) -> None:
    """plotly's parcoords where WebGL works; else (headless Chromium here) one SVG line per run
    over the same axes: the params that differ, then the primary metric."""
    page.wait_for_selector(".parcoords-chart[data-drawn]")
    plot = page.evaluate("""() => {
        const gd = document.querySelector('.parcoords-chart .js-plotly-plot');
        return {drawn: gd.parentNode.dataset.drawn, types: gd.data.map(t => t.type),
                names: gd.data.map(t => t.name), axes: gd.layout.xaxis.ticktext,
                dims: gd.data[0].dimensions, webglMessage: !!gd.querySelector('.no-webgl')};
    }""")
    axes = ["alpha", "model", "note", "rmse"]
    assert not plot["webglMessage"]
    print(f"\nparallel coordinates drawn as: {plot['drawn']}")
    assert plot["drawn"] in ("parcoords", "lines")
    if plot["drawn"] == "parcoords":
        assert plot["types"] == ["parcoords"]
        assert [d["label"] for d in plot["dims"]] == axes
    else:
        assert plot["types"] == ["scatter"] * 3 and plot["names"] == chosen
        assert plot["axes"] == axes


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
    assert page.evaluate("() => document.querySelectorAll('.js-plotly-plot').length") == 3
    _check_parallel_coordinates(page, chosen)
    _check_tables(page)
    _check_scatter(page)
    _check_selection_changes(page, ids)
    assert errors == []
