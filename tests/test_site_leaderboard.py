"""The experiment leaderboard: table structure, sweep pages, and the table script in Chromium.

The HTML tests parse built pages with BeautifulSoup; the browser tests (``-m browser``) drive
``assets/leaderboard.js`` in real Chromium over ``file://`` URLs.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from bs4 import BeautifulSoup

import tracker
import tracker.api
from tests import browser as browser_fixtures
from tracker.site.build import build

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

TOP_RUNS = (  # name, final rmse (None: not logged), alpha, model
    ("alpha-run", 2.0, "0.1", "lasso"),
    ("beta-run", 10.0, "1", "xgboost"),
    ("gamma-run", 3.5, "10", "xgboost"),
    ("nan-run", math.nan, "0.5", "lasso"),
    ("nometric-run", None, "2", "lasso"),
)
# Trials: (trial_number tag, loss (None: the trial failed), learning_rate, max_depth, booster),
# logged in this order, so start times disagree with the trial numbers.
TRIALS = (
    (3, 4.0, "0.3", "6", "gbtree"),
    (0, 5.0, "0.1", "3", "gbtree"),
    (2, 2.5, "0.05", "8", "dart"),
    (1, 3.0, "0.2", "4", "dart"),
    (5, None, "0.9", "9", "gbtree"),
    (4, 2.5, "0.01", "7", "dart"),
)
HISTORY_STEPS = 300
XSS = '<img src="x" onerror="alert(1)">'


@dataclass
class BoardSite:
    """A built site of the seeded store."""

    out: Path
    experiment_id: str
    ids: dict[str, str]

    def soup(self, path: str) -> BeautifulSoup:
        return BeautifulSoup((self.out / path).read_text(encoding="utf-8"), "html.parser")


def _log_top_run(name: str, rmse: float | None, alpha: str, model: str) -> str:
    time.sleep(0.003)  # distinct start times: ties are ranked newest first
    with tracker.start_run(run_name=name) as run:
        tracker.log_params({"alpha": alpha, "model": model, "optimizer": "adam",
                            "zz_hidden": "h"})  # the same everywhere: hidden by default
        if name == "alpha-run":  # untrusted text: must stay text on every page
            tracker.log_param("note", XSS)
        if rmse is not None:
            steps = HISTORY_STEPS if name == "alpha-run" else 3
            for step in range(steps):  # decreasing to the final value at the last step
                tracker.log_metric("rmse", rmse + (steps - 1 - step) * 0.01, step=step)
        tracker.log_metric("r2", 0.5)
    return run.info.run_id


def _log_sweep(ids: dict[str, str]) -> None:
    with tracker.start_run(run_name="sweep-parent") as parent:
        tracker.log_params({"algo": "tpe", "max_evals": str(len(TRIALS))})
        tracker.set_tag("sweep", "hyperopt")
        for number, loss, lr, depth, booster in TRIALS:
            name = f"trial-{number}"
            time.sleep(0.003)
            try:
                with tracker.start_run(run_name=name, nested=True) as child:
                    tracker.set_tag("trial_number", str(number))
                    tracker.log_params({"learning_rate": lr, "max_depth": depth,
                                        "booster": booster, "seed": "42"})
                    if loss is None:
                        raise RuntimeError("the trial failed")  # → status FAILED
                    tracker.log_metrics({"loss": loss, "rmse": loss})
            except RuntimeError:
                pass
            ids[name] = child.info.run_id
        tracker.log_metric("best_loss", 2.5)
    ids["sweep-parent"] = parent.info.run_id


def seed_board(root: Path) -> tuple[str, str, dict[str, str]]:
    """A store with one experiment: five top-level runs (one NaN, one without rmse, one with a
    300-step history) and a hyperopt-like sweep of six trials (one failed). Returns the store
    URI, the experiment id and run ids by name."""
    uri = str(root / "store")
    tracker.set_tracking_uri(uri)
    experiment_id = tracker.set_experiment("board").experiment_id
    ids = {name: _log_top_run(name, rmse, alpha, model) for name, rmse, alpha, model in TOP_RUNS}
    _log_sweep(ids)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    return uri, experiment_id, ids


@pytest.fixture(scope="module")
def board_site(tmp_path_factory: pytest.TempPathFactory) -> BoardSite:
    root = tmp_path_factory.mktemp("board")
    uri, experiment_id, ids = seed_board(root)
    result = build(uri, root / "site")
    assert result.pages > 0
    return BoardSite(root / "site", experiment_id, ids)


def _leaderboard(site: BoardSite) -> BeautifulSoup:
    return site.soup("experiments/board.html")


def _row_names(soup: BeautifulSoup) -> list[str]:
    return [tr.find("th").find("a").get_text() for tr in soup.select("table.leaderboard tbody tr")]


# ------------------------------------------------------------------------------ HTML


def test_header_keys_and_column_attributes(board_site: BoardSite) -> None:
    soup = _leaderboard(board_site)
    heads = soup.select("table.leaderboard thead th[data-key]")
    keys = [th["data-key"] for th in heads]
    assert keys[:6] == ["attr.name", "attr.status", "attr.start", "attr.duration", "attr.user",
                        "attr.commit"]
    assert keys[6] == "metrics.rmse"  # the primary metric comes first
    assert {"metrics.loss", "metrics.r2", "params.alpha", "params.zz_hidden"} <= set(keys)
    by_key = {th["data-key"]: th for th in heads}
    rmse = by_key["metrics.rmse"]
    assert rmse.has_attr("data-numeric") and rmse["data-direction"] == "min"
    assert by_key["metrics.r2"]["data-direction"] == "max"
    assert by_key["params.alpha"].has_attr("data-numeric")
    assert not by_key["params.model"].has_attr("data-numeric")
    for same in ("params.optimizer", "params.seed", "params.max_evals", "params.note"):
        # the same value in every run, or a value only one run has: under "Columns"
        assert by_key[same].has_attr("data-hidden") and "col-hidden" in by_key[same]["class"]
    for varying in ("params.alpha", "params.learning_rate", "params.max_depth"):
        assert not by_key[varying].has_attr("data-hidden")  # the trials' own params are shown
    table = soup.select_one("table.leaderboard")
    assert table["data-experiment"] == board_site.experiment_id
    assert table["data-compare"] == "board-compare.html"
    assert table["data-data-script"] == "board.data.js"
    assert soup.select_one("p.muted a[href='board-compare.html']").get_text() == "Compare runs"
    scripts = [s["src"] for s in soup.select("script[src]")]
    assert "../assets/leaderboard.js" in scripts
    assert "../assets/tables.css" in [link["href"] for link in soup.select("link[rel=stylesheet]")]


def test_rows_parents_then_children_and_cells(board_site: BoardSite) -> None:
    soup = _leaderboard(board_site)
    ids = board_site.ids
    rows = soup.select("table.leaderboard tbody tr")
    names = _row_names(soup)
    # ranked by rmse, best first; the sweep sits at the rank of its best trial (2.5)
    top = [n for n in names if not n.startswith("trial-")]
    assert top == ["alpha-run", "sweep-parent", "gamma-run", "beta-run", "nometric-run",
                   "nan-run"]  # no value: last, newest first
    parent = names.index("sweep-parent")
    assert parent == 1
    kids = names[parent + 1:parent + 1 + len(TRIALS)]
    # ranked among siblings; a tie (2.5) puts the newer run first; no loss last
    assert kids == ["trial-4", "trial-2", "trial-1", "trial-3", "trial-0", "trial-5"]
    for tr in rows[parent + 1:parent + 1 + len(TRIALS)]:
        assert tr["data-parent"] == ids["sweep-parent"]
        assert tr["data-depth"] == "1" and "depth-1" in tr["class"]
    assert not rows[parent].has_attr("data-parent") and rows[parent]["data-depth"] == "0"
    assert len(rows) == len(TOP_RUNS) + 1 + len(TRIALS)
    assert [tr["data-run"] for tr in rows[:1]] == [ids["alpha-run"]]
    # the run cell sorts on the label; missing and NaN metrics sort as ''
    keys = [th["data-key"] for th in soup.select("table.leaderboard thead th[data-key]")]
    rmse_index = keys.index("metrics.rmse") + 1  # + the select column
    by_name = {tr.find("th").find("a").get_text(): tr for tr in rows}
    assert by_name["nan-run"].find_all(["td", "th"])[rmse_index]["data-sort"] == ""
    assert by_name["nometric-run"].find_all(["td", "th"])[rmse_index]["data-sort"] == ""
    assert float(by_name["beta-run"].find_all(["td", "th"])[rmse_index]["data-sort"]) == 10.0
    assert by_name["alpha-run"].select_one("th[scope=row]")["data-sort"] == "alpha-run"


def test_best_cells(board_site: BoardSite) -> None:
    soup = _leaderboard(board_site)
    keys = [th["data-key"] for th in soup.select("table.leaderboard thead th[data-key]")]
    best: dict[str, list[str]] = {}
    for tr in soup.select("table.leaderboard tbody tr"):
        cells = tr.find_all(["td", "th"])
        for key, cell in zip(keys, cells[1:]):
            if "best" in (cell.get("class") or []):
                best.setdefault(key, []).append(tr.find("th").find("a").get_text())
                assert cell.select_one(".visually-hidden").get_text() == " (best)"
    assert best["metrics.rmse"] == ["alpha-run"]
    assert sorted(best["metrics.loss"]) == ["trial-2", "trial-4"]  # a tie: both marked
    assert set(best) == {"metrics.rmse", "metrics.loss", "metrics.r2", "metrics.best_loss"}


def test_sweep_link_from_parent_row(board_site: BoardSite) -> None:
    soup = _leaderboard(board_site)
    links = soup.select("table.leaderboard a.sweep-link")
    parent_id = board_site.ids["sweep-parent"]
    assert [a["href"] for a in links] == [f"../sweeps/{parent_id}.html"]
    assert links[0].find_parent("tr")["data-run"] == parent_id
    assert (board_site.out / "sweeps" / f"{parent_id}.html").is_file()


def _sweep(site: BoardSite) -> BeautifulSoup:
    return site.soup(f"sweeps/{site.ids['sweep-parent']}.html")


def _figures(soup: BeautifulSoup) -> list[dict[str, Any]]:
    return [json.loads(s.get_text()) for s in soup.select("figure.chart script.chart-data")]


def _parcoords(soup: BeautifulSoup) -> dict[str, Any]:
    scripts = soup.select("figure.parcoords script.parcoords-data")
    assert len(scripts) == 1
    data: dict[str, Any] = json.loads(scripts[0].get_text())
    return data


def test_sweep_page_chart_running_best_and_best_trial(board_site: BoardSite) -> None:
    soup = _sweep(board_site)
    (loss_chart,) = _figures(soup)  # the parallel coordinates are not a plotly figure (#11)
    traces = {t["name"]: t for t in loss_chart["data"]}
    assert loss_chart["layout"]["xaxis"]["title"]["text"] == "trial"
    assert loss_chart["layout"]["yaxis"]["title"]["text"] == "loss"
    trials = traces["trials"]
    assert trials["x"] == [0, 1, 2, 3, 4, 5]  # trial_number tags, not start order
    assert trials["y"] == [5.0, 3.0, 2.5, 4.0, 2.5, None]
    best_line = traces["best so far (min)"]["y"]
    assert best_line == [5.0, 3.0, 2.5, 2.5, 2.5, 2.5]
    assert all(b <= a for a, b in zip(best_line, best_line[1:]))  # monotone
    star = traces["best trial"]
    assert star["x"] == [2] and star["y"] == [2.5]  # the first of the tied trials
    assert star["customdata"] == [f"runs/{board_site.ids['trial-2']}.html"]
    assert star["marker"]["symbol"] == "star"



def test_sweep_page_parallel_coordinates_data(board_site: BoardSite) -> None:
    soup = _sweep(board_site)
    ids = board_site.ids
    figure = soup.select_one("figure.parcoords")
    assert figure["data-noun"] == "trial" and figure["data-rows"] == "table.trials tbody tr"
    data = _parcoords(soup)
    assert data["metric"] == "loss" and data["direction"] == "min"
    assert data["title"] == "Params → loss (5 trials)"
    dims = data["dimensions"]
    labels = [d["label"] for d in dims]
    assert labels == ["booster", "learning_rate", "max_depth", "loss"]  # seed is constant
    assert dims[0]["ticktext"] == ["dart", "gbtree"] and dims[0]["tickvals"] == [0, 1]
    # one line per scored trial, in trial order (the failed trial 5 has no loss)
    assert [ln["name"] for ln in data["lines"]] == [f"trial {n} · trial-{n}" for n in range(5)]
    assert [ln["id"] for ln in data["lines"]] == [ids[f"trial-{n}"] for n in range(5)]
    assert data["lines"][2]["href"] == f"runs/{ids['trial-2']}.html"
    assert dims[-1]["values"] == [5.0, 3.0, 2.5, 4.0, 2.5]
    assert dims[1]["values"] == [0.1, 0.2, 0.05, 0.3, 0.01]
    assert all(len(d["values"]) == 5 for d in dims)
    # our own script draws it: no plotly parcoords, no inline code
    assert "parcoords" not in json.dumps(_figures(soup))
    scripts = [s["src"] for s in soup.select("script[src]")]
    assert "../assets/parcoords.js" in scripts
    assert not soup.select("script:not([src])[type!='application/json']")


def test_sweep_page_table_best_first_and_breadcrumbs(board_site: BoardSite) -> None:
    soup = _sweep(board_site)
    ids = board_site.ids
    rows = soup.select("table.trials tbody tr")
    assert [tr.find("th").find("a").get_text() for tr in rows] == [
        "trial-2", "trial-4", "trial-1", "trial-3", "trial-0", "trial-5"]
    assert [tr["data-trial"] for tr in rows] == ["2", "4", "1", "3", "0", "5"]
    assert rows[0]["class"] == ["best-trial"] and not rows[1].has_attr("class")
    assert "failed" in rows[-1].get_text()
    heads = [th.get_text() for th in soup.select("table.trials thead th")]
    assert heads == ["trial", "run", "status", "loss", "booster", "learning_rate", "max_depth"]
    assert [dt.get_text() for dt in soup.select("dl.fixed-params dt")] == ["seed"]
    best = soup.select_one(".sweep-best a")
    assert best["href"] == f"../runs/{ids['trial-2']}.html" and best.get_text() == "trial-2"
    compare = soup.select_one("a.sweep-compare")
    chosen = ",".join(ids[f"trial-{n}"] for n in (2, 4, 1, 3, 0))
    assert compare["href"] == f"../experiments/board-compare.html#runs={chosen}"
    assert compare.get_text() == "Compare the best 5 trials"
    crumbs = soup.select("nav.breadcrumbs li")
    assert [c.get_text(strip=True) for c in crumbs] == ["Home", "board", "sweep-parent", "sweep"]
    assert [a["href"] for a in soup.select("nav.breadcrumbs a")] == [
        "../index.html", "../experiments/board.html", f"../runs/{ids['sweep-parent']}.html"]


def test_sweep_ordering_falls_back_to_start_time() -> None:
    from tracker.site.pages.sweep import trial_order

    class FakeSite:
        tags = {"a": {"trial_number": "1"}, "b": {}, "c": {"trial_number": "x"}}

    runs = [{"run_id": "a", "start_time": 30}, {"run_id": "b", "start_time": 10},
            {"run_id": "c", "start_time": 20}]
    assert [(n, r["run_id"]) for n, r in trial_order(FakeSite(), runs)] == [  # type: ignore[arg-type]
        (0, "b"), (1, "c"), (2, "a")]
    FakeSite.tags = {"a": {"trial_number": "1"}, "b": {"trial_number": "0"},
                     "c": {"trial_number": "7"}}
    assert [(n, r["run_id"]) for n, r in trial_order(FakeSite(), runs)] == [  # type: ignore[arg-type]
        (0, "b"), (1, "a"), (7, "c")]


def test_parcoords_data_lines_and_direction() -> None:
    from tracker.site.charts_compare import Line, parcoords_data

    lines = [Line("a", "run a", "runs/a.html"), Line("b", "run b", "runs/b.html")]
    data = parcoords_data({"lr": ["0.1", "0.2"], "seed": ["1", "1"], "opt": ["adam", None]},
                          "n_iter", [3.0, 4.0], "none", "t", lines)
    assert data["direction"] == ""  # neutral: coloured, nothing is best
    assert [d["label"] for d in data["dimensions"]] == ["lr", "opt", "n_iter"]  # seed is fixed
    assert data["dimensions"][1]["ticktext"] == ["adam", "(none)"]
    assert data["lines"] == [{"id": "a", "name": "run a", "href": "runs/a.html"},
                             {"id": "b", "name": "run b", "href": "runs/b.html"}]
    assert parcoords_data({}, "loss", [1.0], "max", "t", lines[:1])["direction"] == "max"


def test_parcoords_dimension_encoding() -> None:
    from tracker.site.charts_compare import dimension

    assert dimension("lr", ["0.1", "0.01"]) == {"label": "lr", "values": [0.1, 0.01],
                                                "range": [0.01, 0.1]}
    cat = dimension("booster", ["gbtree", None, "dart", "10", "9"])
    assert cat["ticktext"] == ["9", "10", "dart", "gbtree", "(none)"]
    assert cat["values"] == [3, 4, 2, 1, 0] and cat["tickvals"] == [0, 1, 2, 3, 4]


# ------------------------------------------------------------------------------ browser


def _visible_names(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "table.leaderboard tbody tr:not([hidden])",
        "rows => rows.map(r => r.querySelector('th[scope=row] a').textContent)",
    )


def _top_level_names(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "table.leaderboard tbody tr[data-depth='0']:not([hidden])",
        "rows => rows.map(r => r.querySelector('th[scope=row] a').textContent)",
    )


def _filter(page: Any, text: str) -> None:
    page.fill(".lb-filter", text)
    page.press(".lb-filter", "Enter")
    page.wait_for_function(  # the first filter loads the filter data
        "() => document.querySelector('table.leaderboard').getAttribute('aria-busy') !== 'true'")


def _check_sorting(page: Any) -> None:
    rmse = page.locator("th[data-key='metrics.rmse']")
    # numeric, not lexicographic ("10" after "3.5"); missing and NaN last in both directions
    rmse.locator("button").click()
    assert rmse.get_attribute("aria-sort") == "ascending"
    assert _top_level_names(page)[:3] == ["alpha-run", "gamma-run", "beta-run"]
    assert set(_top_level_names(page)[3:]) == {"nan-run", "nometric-run", "sweep-parent"}
    rmse.locator("button").click()
    assert rmse.get_attribute("aria-sort") == "descending"
    assert _top_level_names(page)[:3] == ["beta-run", "gamma-run", "alpha-run"]
    assert set(_top_level_names(page)[3:]) == {"nan-run", "nometric-run", "sweep-parent"}
    assert "metrics.rmse:desc" in unquote(page.evaluate("location.hash"))
    # children stay under their parent, sorted among themselves (ties: server order)
    children = _visible_names(page)[_visible_names(page).index("sweep-parent") + 1:][:6]
    assert children == ["trial-0", "trial-3", "trial-1", "trial-4", "trial-2", "trial-5"]
    page.locator("th[data-key='params.alpha'] button").click()
    assert _top_level_names(page)[:5] == ["alpha-run", "nan-run", "beta-run", "nometric-run",
                                         "gamma-run"]  # 0.1 < 0.5 < 1 < 2 < 10
    # keyboard: headers are buttons, Enter sorts
    page.focus("th[data-key='attr.name'] button")
    page.keyboard.press("Enter")
    assert page.get_attribute("th[data-key='attr.name']", "aria-sort") == "ascending"
    assert _top_level_names(page)[0] == "alpha-run"


def _check_filtering(page: Any) -> None:
    _filter(page, "metrics.rmse < 5")  # a numeric condition hides the others
    assert set(_visible_names(page)) == {"alpha-run", "gamma-run", "trial-1", "trial-2",
                                         "trial-3", "trial-4",
                                         "sweep-parent"}  # context for its matching trials
    assert page.text_content(".lb-filter-msg") == ""
    _filter(page, "params.model = 'xgboost' and metrics.rmse >= 4")
    assert _visible_names(page) == ["beta-run"]
    best = "table.leaderboard tbody tr td.best"  # the best value among the rows shown
    assert page.eval_on_selector_all(best, "cells => cells.length") >= 1
    _filter(page, "lasso 0.1")
    assert _visible_names(page) == ["alpha-run"]
    for bad in ("metrics.rmse < abc", "nosuchcolumn > 1", "metrics.rmse <", "< 5"):
        _filter(page, bad)
        assert page.text_content(".lb-filter-msg").strip(), bad
        assert page.get_attribute(".lb-filter", "aria-invalid") == "true"
    _filter(page, "")
    assert len(_visible_names(page)) == len(TOP_RUNS) + 1 + len(TRIALS)


def _check_columns_and_groups(page: Any, site: BoardSite) -> None:
    hidden = page.locator("th[data-key='params.zz_hidden']")
    assert not hidden.is_visible()
    page.click(".lb-columns summary")
    page.check(".lb-column-list input[data-key='params.zz_hidden']")
    assert hidden.is_visible()
    assert "params.zz_hidden" in unquote(page.evaluate("location.hash"))
    toggle = page.locator(f"tr[data-run='{site.ids['sweep-parent']}'] .lb-toggle")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not any(n.startswith("trial-") for n in _visible_names(page))
    toggle.click()
    assert "trial-0" in _visible_names(page)


@pytest.mark.browser
def test_leaderboard_sort_filter_columns_in_chromium(board_site: BoardSite, open_page: Any) -> None:
    page, errors = open_page(board_site.out / "experiments" / "board.html")
    assert page.is_visible(".lb-tools")
    _check_sorting(page)
    _check_filtering(page)
    _check_columns_and_groups(page, board_site)
    # selection → the compare page, with the ids in the hash
    assert page.is_disabled(".lb-compare")
    alpha, gamma = board_site.ids["alpha-run"], board_site.ids["gamma-run"]
    page.check(f"tr[data-run='{alpha}'] td.select input")
    page.check(f"tr[data-run='{gamma}'] td.select input")
    assert page.text_content(".lb-compare") == "Compare selected (2)"
    with page.expect_navigation():
        page.click(".lb-compare")
    assert page.url.endswith(f"board-compare.html#runs={alpha},{gamma}")
    assert errors == []


SWEEP = "figure.parcoords"


def _visible_trials(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "table.trials tbody tr:not([hidden]) th a", "links => links.map(a => a.textContent)")


def _hover_between(page: Any, left: str, right: str, t: float, height: float) -> None:
    """Move the mouse to ``t`` of the way from axis ``left`` to axis ``right``, at ``height``
    (0 = bottom, 1 = top of the axes)."""
    boxes = [page.locator(f"{SWEEP} .pc-axis[data-key='{k}'] rect.pc-hit").bounding_box()
             for k in (left, right)]
    xs = [b["x"] + b["width"] / 2 for b in boxes]
    top, bottom = boxes[0]["y"] + 8, boxes[0]["y"] + boxes[0]["height"] - 8
    page.mouse.move(xs[0] + t * (xs[1] - xs[0]), bottom - height * (bottom - top))


def _check_sweep_parcoords_drawn(page: Any, ids: dict[str, str]) -> None:
    state = browser_fixtures.parcoords_state(page, SWEEP)
    assert state["axes"] == ["booster", "learning_rate", "max_depth", "loss"]
    assert sorted(state["lines"]) == sorted(ids[f"trial-{n}"] for n in range(5))  # not trial-5
    colors = state["colors"]  # loss: lower is better, darkest = best
    assert colors[ids["trial-2"]] == colors[ids["trial-4"]] == "#440154"
    assert colors[ids["trial-0"]] == "#bddf26"
    assert state["lines"][-2:] == [ids["trial-4"], ids["trial-2"]]  # the best on top
    assert state["label"].startswith(
        "Parallel coordinates of 5 trials over 4 axes: booster, learning_rate, max_depth, loss.")
    assert state["status"] == "5 trials. Drag along an axis to keep a range."
    assert page.text_content(f"{SWEEP} .pc-colorbar") == "colour: loss (lower is better)2.55"
    ticks = page.eval_on_selector_all(f"{SWEEP} .pc-axis[data-key='booster'] .pc-tick-label",
                                      "els => els.map(e => e.textContent)")
    assert ticks == ["dart", "gbtree"]
    # one Tab stop: the chart itself (the "Clear brushes" button shows only with a brush)
    focusable = page.eval_on_selector_all(
        f"{SWEEP} [tabindex], {SWEEP} a, {SWEEP} button:not([hidden])",
        "els => els.map(e => e.tagName.toLowerCase() + ':' + e.getAttribute('tabindex'))")
    assert focusable == ["svg:0"]
    # hovering a line names its trial and values (trial-3 alone is near 88 % up, 30 % of the
    # way from learning_rate 0.3 (top) to max_depth 6 (60 % up))
    _hover_between(page, "learning_rate", "max_depth", 0.3, 0.88)
    assert browser_fixtures.parcoords_state(page, SWEEP)["readout"] == (
        "trial 3 · trial-3: booster gbtree · learning_rate 0.3 · max_depth 6 · loss 4")


def _check_sweep_brushing(page: Any) -> None:
    """Numeric brush (loss 3.5–5 by dragging past the top), cleared by a click on the axis,
    then a categorical one (booster = dart); the table follows and the hash keeps it."""
    browser_fixtures.drag_brush(page, SWEEP, "loss", 0.4, 1.2)  # loss 3.5 → beyond 5
    assert _visible_trials(page) == ["trial-3", "trial-0"]  # 4.0 and 5.0; the failed one hidden
    state = browser_fixtures.parcoords_state(page, SWEEP)
    assert state["status"] == "2 of 5 trials in the brushed ranges." and state["brushes"] == ["loss"]
    assert len(state["dimmed"]) == 3
    assert page.evaluate("() => location.hash") == "#brush=loss:3.5:5"
    page.reload()
    page.wait_for_selector(f"{SWEEP}[data-drawn='svg'] svg.pc-svg")
    assert _visible_trials(page) == ["trial-3", "trial-0"]
    assert browser_fixtures.parcoords_state(page, SWEEP)["brushes"] == ["loss"]
    browser_fixtures.click_axis(page, SWEEP, "loss")  # a click without a drag clears the axis
    assert len(_visible_trials(page)) == 6 and page.evaluate("() => location.hash") == ""
    browser_fixtures.drag_brush(page, SWEEP, "booster", 0.15, -0.2)  # around "dart" (bottom)
    assert _visible_trials(page) == ["trial-2", "trial-4", "trial-1"]
    assert page.evaluate("() => location.hash") == "#brush=booster:dart:dart"
    # a brush typed into the address: two axes at once
    page.evaluate("() => { location.hash = 'brush=learning_rate:0.05:0.2,booster:dart:dart'; }")
    page.wait_for_function("() => document.querySelectorAll("
                           "'table.trials tbody tr:not([hidden])').length === 2")
    assert _visible_trials(page) == ["trial-2", "trial-1"]
    page.click(f"{SWEEP} button.pc-clear")
    assert len(_visible_trials(page)) == 6 and page.evaluate("() => location.hash") == ""
    # an address with an unknown axis, a bad number or a malformed entry brushes nothing
    page.evaluate("() => { location.hash = 'brush=nope:1:2,loss:x:y,max_depth:3,%E0:1:2'; }")
    page.wait_for_timeout(100)
    assert len(_visible_trials(page)) == 6
    assert browser_fixtures.parcoords_state(page, SWEEP)["brushes"] == []


@pytest.mark.browser
def test_sweep_parallel_coordinates_in_chromium(board_site: BoardSite, open_page: Any) -> None:
    """One SVG line per scored trial, no plotly parcoords and no CSP violation; brushing
    filters the trials table and survives a reload (#11)."""
    page, errors = open_page(board_site.out / "sweeps" / f"{board_site.ids['sweep-parent']}.html",
                             init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_selector(f"{SWEEP}[data-drawn='svg'] svg.pc-svg")
    page.wait_for_selector("figure.chart .js-plotly-plot")  # the loss-by-trial chart
    assert page.evaluate("() => document.querySelectorAll('.js-plotly-plot').length") == 1
    _check_sweep_parcoords_drawn(page, board_site.ids)
    _check_sweep_brushing(page)
    assert page.evaluate("() => window.__csp") == []
    assert errors == []


@pytest.mark.browser
def test_leaderboard_url_state_restores_the_view(board_site: BoardSite, open_page: Any) -> None:
    state = ("sort=metrics.rmse:desc&filter=params.model%20%3D%20'lasso'"
             "&cols=metrics.rmse,params.zz_hidden")
    page, errors = open_page(board_site.out / "experiments" / "board.html", fragment=state)
    assert page.get_attribute("th[data-key='metrics.rmse']", "aria-sort") == "descending"
    assert page.input_value(".lb-filter") == "params.model = 'lasso'"
    page.wait_for_function(
        "() => document.querySelector('table.leaderboard').getAttribute('aria-busy') === 'false'")
    assert _visible_names(page) == ["alpha-run", "nometric-run", "nan-run"]  # missing: last
    assert page.is_visible("th[data-key='params.zz_hidden']")
    assert not page.is_visible("th[data-key='params.alpha']")
    assert not page.is_visible("th[data-key='attr.status']")
    assert page.is_checked(".lb-column-list input[data-key='params.zz_hidden']")
    # a hash change (back/forward, an edited link) re-applies the state
    page.evaluate("location.hash = 'sort=attr.name:asc'")
    page.wait_for_function("() => document.querySelector('.lb-filter').value === ''")
    assert page.get_attribute("th[data-key='attr.name']", "aria-sort") == "ascending"
    assert page.is_visible("th[data-key='params.alpha']")
    assert len(_visible_names(page)) == len(TOP_RUNS) + 1 + len(TRIALS)
    page.evaluate("location.hash = 'main'")  # the skip link's hash is not table state
    assert page.get_attribute("th[data-key='attr.name']", "aria-sort") == "ascending"
    assert errors == []


# ------------------------------------------------------------------------------ timing


def _big_leaderboard(out: Path, rows: int) -> Path:
    """A 10,000-row leaderboard page rendered by the real template, plus the assets it loads."""
    from tracker.site import render
    from tracker.site.build import plotly_asset_name
    from tracker.site.pages import Link
    from tracker.site.pages.leaderboard import Cell, Column, LeaderboardPage, Row, sort_text
    from tracker.site.urls import Urls

    rng = random.Random(42)
    columns = [Column("attr.status", "status", "attr", False, "", True)]
    columns += [Column(f"metrics.m{i}", f"m{i}", "metric", True, "min", True) for i in range(6)]
    columns += [Column(f"params.p{i}", f"p{i}", "param", i % 2 == 0, "", i < 6) for i in range(10)]
    table = []
    for r in range(rows):
        cells = [Cell("FINISHED", "FINISHED", False)]
        for _ in range(6):
            value = rng.uniform(0, 10) if rng.random() > 0.05 else math.nan
            cells.append(Cell(render.format_metric(value), sort_text(value), False))
        for i in range(10):
            text = str(rng.randint(1, 100)) if i % 2 == 0 else rng.choice(["adam", "sgd", "lbfgs"])
            cells.append(Cell(text, text, False))
        parent = f"run{r - r % 10}" if r % 10 else ""
        table.append(Row(f"run{r}", Link(f"run-{r}", f"runs/run{r}.html"), "FINISHED", False,
                         parent, 1 if parent else 0, tuple(cells)))
    page = LeaderboardPage(path="experiments/big.html", title="big", breadcrumbs=(),
                           experiment_id="big", columns=tuple(columns), rows=tuple(table))
    base = {"plotly_js": plotly_asset_name(), "site_title": "t", "base_url": "",
            "nav": []}
    html = render.render_page(render.environment(), page, base)
    (out / "experiments").mkdir(parents=True)
    (out / "experiments" / "big.html").write_text(html, encoding="utf-8")
    shutil.copytree(render.default_theme() / "assets", out / "assets")
    index = out / Urls.search_index  # built by the search page's collector, not needed here
    if not index.exists():
        index.write_text("window.TRACKER_SEARCH = [];\n", encoding="utf-8")
    return out / "experiments" / "big.html"


_TIMED = """([selector, filter, cold]) => {
  const board = window.tracker.leaderboards[0];
  if (cold) { board.keyCache = {}; board.texts = null; }
  const t0 = performance.now();
  if (selector) document.querySelector(selector).click();
  if (filter !== null) {
    const input = document.querySelector('.lb-filter');
    input.value = filter;
    input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
  }
  document.body.offsetHeight;  // include style and layout, not just the script
  return performance.now() - t0;
}"""

MEASURES = (  # name, header to click, filter to type, read keys afresh?
    ("sort numeric, cold keys", "th[data-key='metrics.m0'] button", None, True),
    ("sort numeric, reversed", "th[data-key='metrics.m0'] button", None, False),
    ("sort text column", "th[data-key='params.p1'] button", None, False),
    ("sort numeric param", "th[data-key='params.p0'] button", None, False),
    ("filter m1 < 5, cold keys", None, "metrics.m1 < 5", True),
    ("filter m1 < 5 and p1 = adam", None, "metrics.m1 < 5 and params.p1 = 'adam'", False),
    ("filter text 'lbfgs'", None, "lbfgs", False),
    ("filter cleared", None, "", False),
)


@pytest.mark.browser
def test_leaderboard_10000_rows_sort_and_filter_timing(
    tmp_path: Path, open_page: Any
) -> None:
    started = time.perf_counter()
    path = _big_leaderboard(tmp_path, 10_000)
    rendered = time.perf_counter() - started
    page, errors = open_page(path)
    page.wait_for_function("() => window.tracker.leaderboards[0].warmed === true", timeout=60_000)
    assert page.evaluate("window.tracker.leaderboards[0].rows.length") == 10_000
    timings = {name: page.evaluate(_TIMED, [header, text, cold])
               for name, header, text, cold in MEASURES}
    rows = "table.leaderboard tbody tr"
    assert page.eval_on_selector_all(rows, "r => r.length") == 200  # one page of rows
    assert page.text_content(".lb-count") == "Showing 200 of 10000 runs"
    page.click(".lb-show-more")
    assert page.eval_on_selector_all(rows, "r => r.length") == 400
    print(f"\n10,000-row leaderboard (page rendered in {rendered:.1f} s); ms per action:")
    for name, ms in timings.items():
        print(f"  {name:32s} {ms:7.1f} ms")
    assert max(timings.values()) < 2000
    assert errors == []
