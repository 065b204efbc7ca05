"""A leaderboard longer than its first screen (#14): the page holds the top rows, no-JS pages
hold the rest (rel=next/prev), the page script loads every row from content-hashed row chunks
and sorts and filters all of them, and one new run rewrites only a few chunks. The experiment's
compare data is chunked the same way."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

import tracker
from tests import browser as browser_fixtures
from tracker.client import TrackerClient
from tracker.site.build import build
from tracker.site.pages import compare, leaderboard

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

TOP = 430  # top-level runs: more than two screens of 200
KIDS = 6  # trials of the one sweep
CHUNK_ROWS = 60  # small chunks, so the test sees several
ROW_CHUNK = re.compile(r"experiments/lb\.rows-[0-9a-f]{16}\.js$")
DATA_CHUNK = re.compile(r"experiments/lb\.data-[0-9a-f]{16}\.js$")


@dataclass
class LongBoard:
    store: str
    out: Path
    experiment_id: str
    expected: list[str]  # run ids in rank order
    first_written: list[str]

    def soup(self, path: str) -> BeautifulSoup:
        return BeautifulSoup((self.out / path).read_text(encoding="utf-8"), "html.parser")


def _rmse(i: int) -> float:
    return round(1 + ((i * 7919) % 1000) / 100, 4)  # distinct, not in logging order


def seed(store: str) -> tuple[str, list[str]]:
    """TOP top-level runs (model 'a' or 'b') and a sweep with KIDS trials; returns the
    experiment id and the run ids in the leaderboard's rank order (rmse, lower is better)."""
    client = TrackerClient(store)
    eid = client.create_experiment("lb")
    top: list[tuple[float, str]] = []
    for i in range(TOP):
        run_id = client.create_run(eid, start_time=1_700_000_000_000 + i,
                                   run_name=f"run-{i:04d}").info.run_id
        client.log_batch(run_id, metrics=[tracker.entities.Metric("rmse", _rmse(i), 1, 0)],
                         params=[("model", "ab"[i % 2]), ("i", str(i))])
        client.set_terminated(run_id)
        top.append((_rmse(i), run_id))
    parent = client.create_run(eid, start_time=1_700_000_001_000, run_name="sweep").info.run_id
    kids = []
    for k in range(KIDS):
        kid = client.create_run(eid, start_time=1_700_000_002_000 + k, run_name=f"trial-{k}",
                                parent_run_id=parent).info.run_id
        value = 5.005 + k / 1000  # between the top-level values: the sweep ranks mid-board
        client.log_batch(kid, metrics=[tracker.entities.Metric("rmse", value, 1, 0)],
                         params=[("model", "c")])
        client.set_terminated(kid)
        kids.append((value, kid))
    client.set_terminated(parent)
    client.flush()
    order = sorted(top + [(min(kids)[0], parent)])
    expected: list[str] = []
    for _, run_id in order:
        expected.append(run_id)
        if run_id == parent:
            expected += [kid for _, kid in sorted(kids)]
    return eid, expected


@pytest.fixture(scope="module")
def long_board(tmp_path_factory: pytest.TempPathFactory) -> LongBoard:
    root = tmp_path_factory.mktemp("long")
    store = str(root / "store")
    eid, expected = seed(store)
    patch = pytest.MonkeyPatch()
    patch.setattr(leaderboard, "CHUNK_ROWS", CHUNK_ROWS)
    patch.setattr(compare, "CHUNK_RUNS", CHUNK_ROWS)
    try:
        result = build(store, root / "site")
    finally:
        patch.undo()
    return LongBoard(store, root / "site", eid, expected, result.written)


def _ids(soup: BeautifulSoup) -> list[str]:
    return [tr["data-run"] for tr in soup.select("table.leaderboard tbody tr")]


def _chunks(out: Path) -> dict[str, Any]:
    found = {}
    for path in sorted((out / "experiments").glob("lb.rows-*.js")):
        key, data = leaderboard.parse_row_chunk(path.read_bytes())
        found[key] = data
    return found


def test_first_screen_and_no_js_pages_list_every_run_once_in_rank_order(
    long_board: LongBoard,
) -> None:
    total = TOP + 1 + KIDS
    first = long_board.soup("experiments/lb.html")
    assert _ids(first) == long_board.expected[:200]  # the top-ranked rows
    assert f"{total} runs" in first.select_one("main p.muted").get_text()
    assert first.select_one("link[rel=next]")["href"] == "lb-p2.html"
    listed = _ids(first)
    page, number = first, 1
    while (nxt := page.select_one("head link[rel=next]")) is not None:
        number += 1
        assert nxt["href"] == f"lb-p{number}.html"
        page = long_board.soup(f"experiments/{nxt['href']}")
        assert page.select_one("head link[rel=prev]")["href"] == (
            "lb.html" if number == 2 else f"lb-p{number - 1}.html")
        rows = _ids(page)
        assert 0 < len(rows) <= 200
        assert page.select_one("nav.lb-pages a[aria-current=page]").get_text() == str(number)
        assert page.find("script", src=re.compile("leaderboard")) is None  # plain HTML
        listed += rows
    assert number == 3
    assert listed == long_board.expected  # every run exactly once, in rank order
    # the row chunks: the same order, every row once, named by their content
    chunks = _chunks(long_board.out)
    eid = long_board.experiment_id
    assert chunks[f"{eid}:order"] == long_board.expected
    data = [row for key, rows in chunks.items() if key != f"{eid}:order" for row in rows]
    assert sorted(row[0] for row in data) == sorted(long_board.expected)
    assert len(chunks) == 1 + 8  # 437 rows in chunks of about 60: 8 (a power of two)
    table = first.select_one("table.leaderboard")
    assert len(table["data-row-chunks"].split()) == 9


def _sorted_top_names(page: Any, count: int) -> list[str]:
    return page.eval_on_selector_all(
        "table.leaderboard tbody tr[data-depth='0']",
        f"rows => rows.slice(0, {count}).map(r => r.querySelector('th a').textContent)")


@pytest.mark.browser
def test_script_sorts_and_filters_every_row(long_board: LongBoard, open_page: Any) -> None:
    page, errors = open_page(long_board.out / "experiments" / "lb.html",
                             init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_function("() => window.tracker.leaderboards.length === 1")
    total = TOP + 1 + KIDS
    assert page.evaluate("window.tracker.leaderboards[0].rows.length") == total
    assert page.is_hidden("nav.lb-pages")  # every row is on this page now
    assert page.text_content(".lb-count") == f"Showing 200 of {total} runs"
    # sorting works on every row: rmse descending puts the worst runs first
    worst = sorted(range(TOP), key=lambda i: -_rmse(i))[:5]
    rmse = page.locator("th[data-key='metrics.rmse'] button")
    rmse.click()  # ascending (best first)
    rmse.click()
    assert _sorted_top_names(page, 5) == [f"run-{i:04d}" for i in worst]
    # a row built from the chunks looks like the server's: link, badge, cells
    row = page.locator(f"tr[data-run='{long_board.expected[-1]}']")
    assert row.locator("th a").get_attribute("href", timeout=1000).startswith("../runs/")
    # a search_runs filter evaluates every row; the matches equal search_runs' run ids
    query = "metrics.rmse > 9.5 and params.model = 'a'"
    page.fill(".lb-filter", query)
    page.press(".lb-filter", "Enter")
    page.wait_for_function("() => document.querySelector('table.leaderboard')"
                           ".getAttribute('aria-busy') !== 'true'")
    matched = page.evaluate("""() => { const b = window.tracker.leaderboards[0];
        return b.rows.filter((r, i) => b.matched[i]).map(r => r.id); }""")
    client = TrackerClient(long_board.store)
    found = [r.info.run_id for r in client.search_runs([long_board.experiment_id], query,
                                                       max_results=10_000)]
    assert found and sorted(matched) == sorted(found)
    shown = page.eval_on_selector_all("table.leaderboard tbody tr", "r => r.map(x => x.dataset.run)")
    assert sorted(shown) == sorted(found)
    assert page.evaluate("window.__csp") == []
    assert errors == []


@pytest.mark.browser
def test_long_board_at_390px_has_no_sideways_scroll(long_board: LongBoard, open_page: Any) -> None:
    for path in ("lb.html", "lb-p2.html"):
        page, errors = open_page(long_board.out / "experiments" / path, width=390,
                                 init_script=browser_fixtures.CSP_LISTENER)
        if path == "lb.html":
            page.wait_for_function("() => window.tracker.leaderboards.length === 1")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, path
        assert page.evaluate("window.__csp") == []
        assert errors == []


def test_one_new_run_rewrites_few_row_chunks(long_board: LongBoard, tmp_path: Path) -> None:
    import shutil

    store = str(tmp_path / "store")
    shutil.copytree(long_board.store, store)
    out = tmp_path / "site"
    shutil.copytree(long_board.out, out)
    client = TrackerClient(store)
    run_id = client.create_run(long_board.experiment_id, start_time=1_700_000_009_000,
                               run_name="late").info.run_id
    client.log_batch(run_id, metrics=[tracker.entities.Metric("rmse", 10.5001, 1, 0)],
                     params=[("model", "a"), ("i", "999")])
    client.set_terminated(run_id)
    client.flush()
    before = {p.name for p in (out / "experiments").glob("lb.rows-*.js")}
    patch = pytest.MonkeyPatch()
    patch.setattr(leaderboard, "CHUNK_ROWS", CHUNK_ROWS)
    patch.setattr(compare, "CHUNK_RUNS", CHUNK_ROWS)
    try:
        result = build(store, out)
    finally:
        patch.undo()
    written = [p for p in result.written if ROW_CHUNK.search(p)]
    assert len(written) == 2  # the rank order and the new run's chunk, not the other 7
    # the new run ranks on page 3: page 2's rows did not move, so it is not rendered again
    assert "experiments/lb-p3.html" in result.written
    assert "experiments/lb-p2.html" not in result.written
    data_written = [p for p in result.written if DATA_CHUNK.search(p)]
    assert len(data_written) == 1  # the new run's compare data chunk, not the other 7
    assert "experiments/lb.data.js" in result.written  # the small head: order, top, keys
    after = {p.name for p in (out / "experiments").glob("lb.rows-*.js")}
    assert len(after) == 9 and len(before - after) == 2  # the old versions are removed
    chunks = _chunks(out)
    assert chunks[f"{long_board.experiment_id}:order"].count(run_id) == 1
    # the first full build wrote every chunk
    assert len([p for p in long_board.first_written if ROW_CHUNK.search(p)]) == 9
    assert len([p for p in long_board.first_written if DATA_CHUNK.search(p)]) == 8


def test_compare_data_in_chunks(long_board: LongBoard) -> None:
    eid = long_board.experiment_id
    key, head = compare.parse_data_script((long_board.out / "experiments/lb.data.js").read_bytes())
    assert key == eid and "runs" not in head
    assert head["order"] == long_board.expected
    assert len(head["chunks"]) == 8
    records = []
    for name in head["chunks"]:
        text = (long_board.out / "experiments" / name).read_text(encoding="utf-8")
        assert text.startswith("window.TRACKER_DATA_CHUNKS = ")
        records += json.loads(text.strip().splitlines()[-1].partition("] = ")[2][:-1])
    assert sorted(r["i"] for r in records) == sorted(long_board.expected)
    assert sum("rmse" in r["m"] for r in records) == TOP + KIDS  # all but the sweep parent


@pytest.mark.browser
def test_compare_and_chart_pages_read_the_chunks(long_board: LongBoard, open_page: Any) -> None:
    total = TOP + 1 + KIDS
    page, errors = open_page(long_board.out / "experiments" / "lb-compare.html",
                             init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_function("() => window.tracker && window.tracker.compare")
    assert page.evaluate("window.tracker.compare.data.runs.length") == total
    assert page.evaluate("window.tracker.compare.data.runs.map(r => r.i)") == long_board.expected
    assert page.evaluate("window.__csp") == []
    assert errors == []
    page, errors = open_page(long_board.out / "experiments" / "lb-charts.html",
                             init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_function("() => window.tracker && window.tracker.chartsView")
    assert page.evaluate("window.__csp") == []
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("path", ["lb.html", "lb-p2.html"])
def test_long_board_pages_pass_axe(path: str, long_board: LongBoard, open_page: Any) -> None:
    import shutil

    from tests.test_site_a11y import RUN_AXE, WCAG, axe_source

    axe = long_board.out / "_test" / "axe.min.js"  # same origin as the pages, under the CSP
    if not axe.exists():
        axe.parent.mkdir(exist_ok=True)
        shutil.copy(axe_source(), axe)
    page, errors = open_page(long_board.out / "experiments" / path, width=390,
                             init_script=browser_fixtures.CSP_LISTENER)
    if path == "lb.html":
        page.wait_for_function("() => window.tracker.leaderboards.length === 1")
    page.evaluate("""(url) => new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = url; s.onload = resolve; s.onerror = () => reject(new Error("axe blocked"));
        document.head.appendChild(s);
    })""", axe.as_uri())
    violations = page.evaluate(RUN_AXE, WCAG)
    assert violations == []
    assert page.evaluate("window.__csp") == []
    assert errors == []
