"""The leaderboard's filter box speaks ``search_runs``' grammar (#10), checked in real Chromium.

For every filter of a table, the runs the box keeps are exactly the run ids
``tracker.search_runs(filter_string=...)`` returns on the same store; for every bad filter the
message under the box is exactly the ``FilterSyntaxError`` Python raises. A child run that
matches shows under its parent (the parent is marked as context, ``data-context``), and the
filter survives in the URL (``#filter=`` and ``?filter=``).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import tracker
import tracker.api
from tests import browser as browser_fixtures
from tests.test_site_leaderboard import seed_board
from tracker.client import TrackerClient
from tracker.exceptions import FilterSyntaxError
from tracker.site.build import build
from tracker.site.pages.leaderboard import parse_filter_script

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

GOOD = (
    "",
    "metrics.rmse < 5",
    "metrics.rmse <= 2.5",
    "metrics.rmse != 2",
    "metrics.rmse = 2.5",
    "metrics.rmse >= 1e1",
    "metrics.`r2` > 0.4",
    'metrics."rmse" < 4 AND params.max_depth IN (\'7\', \'8\')',
    "params.model = 'lasso' OR params.booster = 'dart'",
    "params.model != 'lasso'",
    "params.model LIKE 'las%'",
    "params.model LIKE 'X%'",
    "params.model ILIKE 'XG_OOST'",
    "params.max_depth NOT IN ('3', '4')",
    "params.note LIKE '%<img%'",
    "params.nosuch IS NULL",
    "params.alpha IS NOT NULL",
    "metrics.rmse IS NULL",
    "tags.trial_number = '2'",
    "tags.sweep = 'hyperopt'",
    "tags.`mlflow.runName` LIKE 'trial-%'",
    "tags.team = 'ünïcode \"q\"'",
    "tags.team ILIKE 'ÜN%'",
    "status = 'FAILED'",
    "attributes.status != 'FINISHED'",
    "run_name = 'gamma-run'",
    "run_name IN ('alpha-run', 'trial-3')",
    "attr.run_name ILIKE 'TRIAL-%' and metrics.loss > 2.5",
    "lifecycle_stage = 'active' AND metrics.rmse > 3",
    "start_time > 0",
    "end_time IS NULL",
    "user_id LIKE '%'",
    "(params.model = 'lasso' OR params.model = 'xgboost') AND (metrics.rmse < 3 OR metrics.r2 > 0.7)",
    "metrics.big > 1e300",
    "metrics.big < 0",
    "run_id = '{alpha}'",
)
BAD = (
    "rmse < 5",  # bare names are attributes, as in search_runs
    "metrics.rmse < abc",
    "metrics.rmse <",
    "< 5",
    "params.model < 3",
    "params.model = lasso",
    "metrics.rmse LIKE '2'",
    "foo.bar = 1",
    "(status = 'FAILED'",
    "status = 'FAILED')",
    "tags.x = 'unterminated",
    "params. = 'a'",
    "params.``= 'a'",
    "status IN 'a'",
    "status NOT 'a'",
    "status IS 'a'",
    "metrics.rmse < 5 AND",
    "metrics.rmse < 5 xyz",
    "status = 'A' OR OR",
    "tags.ü = 'a' AND ünï = 'b'",
    "params.model IN ('a' 'b')",
    "(" * 60 + "status = 'A'" + ")" * 60,
)


@dataclass
class FilterSite:
    uri: str
    out: Path
    experiment_id: str
    ids: dict[str, str]


@pytest.fixture(scope="module")
def filter_site(tmp_path_factory: pytest.TempPathFactory) -> FilterSite:
    root = tmp_path_factory.mktemp("filter")
    uri, experiment_id, ids = seed_board(root)
    tracker.set_tracking_uri(uri)
    tracker.set_experiment(experiment_id=experiment_id)
    time.sleep(0.003)
    with tracker.start_run(run_name="tagged-run") as run:  # unicode, quotes, huge and tiny values
        tracker.set_tag("team", 'ünïcode "q"')
        tracker.log_metric("big", 1e308)
        tracker.log_metric("rmse", math.inf)
    ids["tagged-run"] = run.info.run_id
    client = TrackerClient(uri)
    running = client.create_run(experiment_id, run_name="running-run")  # no end_time
    ids["running-run"] = running.info.run_id
    client.log_metric(running.info.run_id, "big", -math.inf)
    client.flush()
    out = root / "site"
    build(uri, out)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    return FilterSite(uri, out, experiment_id, ids)


def _expected(site: FilterSite, text: str) -> set[str]:
    tracker.set_tracking_uri(site.uri)
    try:
        runs = tracker.search_runs([site.experiment_id], filter_string=text, output_format="list")
    finally:
        tracker.api._tracking_uri = None
    return {r.info.run_id for r in runs}


def _python_error(site: FilterSite, text: str) -> str:
    tracker.set_tracking_uri(site.uri)
    try:
        with pytest.raises(FilterSyntaxError) as caught:
            tracker.search_runs([site.experiment_id], filter_string=text)
    finally:
        tracker.api._tracking_uri = None
    return str(caught.value)


def _apply(page: Any, text: str) -> None:
    page.fill(".lb-filter", text)
    page.press(".lb-filter", "Enter")
    page.wait_for_function(
        "() => document.querySelector('table.leaderboard').getAttribute('aria-busy') !== 'true'")


def _matching(page: Any) -> set[str]:
    ids: list[str] = page.eval_on_selector_all(
        "table.leaderboard tbody tr:not([data-context])", "rows => rows.map(r => r.dataset.run)")
    return set(ids)


def _show_all(page: Any) -> None:
    if page.is_visible(".lb-show-all"):
        page.click(".lb-show-all")


def test_filter_data_script_publishes_no_local_path(filter_site: FilterSite) -> None:
    """The filter data holds what filters need, not the script's path nor artifact_uri."""
    board = (filter_site.out / "experiments" / "board.html").read_text(encoding="utf-8")
    names = re.search(r'data-filter-script="([^"]+)"', board).group(1).split()  # type: ignore[union-attr]
    assert len(names) == 1 and re.fullmatch(r"board\.filter-[0-9a-f]{16}\.js", names[0])
    text = (filter_site.out / "experiments" / names[0]).read_text(encoding="utf-8")
    key, records = parse_filter_script(text)
    assert key == f"{filter_site.experiment_id}:0/1"  # one chunk of a short board (#14)
    by_id = {r["i"]: r for r in records}
    assert set(by_id) == set(filter_site.ids.values())
    tagged = by_id[filter_site.ids["tagged-run"]]
    assert tagged["m"] == {"big": 1e308, "rmse": "Infinity"}
    assert tagged["g"]["team"] == 'ünïcode "q"'
    assert by_id[filter_site.ids["nan-run"]]["m"]["rmse"] == "NaN"
    assert all("mlflow.source.name" not in r["g"] for r in records)
    assert str(Path(filter_site.uri).resolve()) not in text
    assert "file:" not in text and str(Path.home()) + "/" not in text


@pytest.mark.browser
def test_filter_box_selects_what_search_runs_selects(filter_site: FilterSite,
                                                     open_page: Any) -> None:
    page, errors = open_page(filter_site.out / "experiments" / "board.html")
    _show_all(page)
    everything = _matching(page)
    assert everything == _expected(filter_site, "")
    for template in GOOD:
        text = template.format(alpha=filter_site.ids["alpha-run"])
        _apply(page, text)
        expected = _expected(filter_site, text)
        assert _matching(page) == expected, text
        assert page.text_content(".lb-filter-msg") == "", text
        assert page.get_attribute(".lb-filter", "aria-invalid") == "false", text
    assert errors == []


@pytest.mark.browser
def test_filter_box_errors_are_search_runs_errors(filter_site: FilterSite,
                                                  open_page: Any) -> None:
    page, errors = open_page(filter_site.out / "experiments" / "board.html")
    message = page.locator(".lb-filter-msg")
    assert message.get_attribute("aria-live") == "polite"
    for text in BAD:
        _apply(page, text)
        assert message.text_content() == _python_error(filter_site, text), text
        assert page.get_attribute(".lb-filter", "aria-invalid") == "true", text
    _apply(page, "rmse < 5")
    assert page.text_content(".lb-filter-hint") == (
        "Did you mean metrics.rmse? Bare names are attributes, as in search_runs.")
    _apply(page, "artifact_uri LIKE '%'")  # a local path: not published
    assert "artifact_uri is not published" in message.text_content()
    _apply(page, "metrics.rmse < 5")
    assert message.text_content() == "" and page.text_content(".lb-filter-hint") == ""
    assert errors == []


@pytest.mark.browser
def test_matching_child_shows_under_its_parent(filter_site: FilterSite, open_page: Any) -> None:
    page, errors = open_page(filter_site.out / "experiments" / "board.html")
    _apply(page, "metrics.loss <= 2.5")  # two trials of the sweep; the parent has no loss
    rows = page.eval_on_selector_all(
        "table.leaderboard tbody tr",
        "rows => rows.map(r => [r.dataset.run, r.hasAttribute('data-context'),"
        " r.classList.contains('lb-context')])")
    ids = filter_site.ids
    assert rows[0] == [ids["sweep-parent"], True, True]  # shown, as context only
    assert {r[0] for r in rows[1:]} == {ids["trial-2"], ids["trial-4"]}
    assert not any(context for _, context, _ in rows[1:])
    assert "2 match" in page.text_content(".lb-count")
    _apply(page, "params.algo = 'tpe'")  # the parent matches: its children are not shown
    assert _matching(page) == {ids["sweep-parent"]}
    assert page.eval_on_selector_all("table.leaderboard tbody tr", "rows => rows.length") == 1
    assert errors == []


@pytest.mark.browser
def test_filter_in_the_url(filter_site: FilterSite, open_page: Any) -> None:
    text = "params.model = 'xgboost' AND metrics.rmse >= 4"
    page, errors = open_page(filter_site.out / "experiments" / "board.html",
                             fragment="filter=" + quote(text))
    page.wait_for_function(
        "() => document.querySelector('table.leaderboard').getAttribute('aria-busy') === 'false'")
    assert page.input_value(".lb-filter") == text
    assert _matching(page) == _expected(filter_site, text) == {filter_site.ids["beta-run"]}
    url = (filter_site.out / "experiments" / "board.html").resolve().as_uri()
    page.goto(url + "?filter=" + quote("run_name = 'gamma-run'"))
    page.wait_for_function(
        "() => document.querySelector('table.leaderboard').getAttribute('aria-busy') === 'false'")
    assert _matching(page) == {filter_site.ids["gamma-run"]}
    assert "filter=" in page.evaluate("location.hash")
    assert errors == []


@pytest.mark.browser
def test_placeholder_example_is_a_valid_filter(filter_site: FilterSite, open_page: Any) -> None:
    page, errors = open_page(filter_site.out / "experiments" / "board.html")
    example = page.get_attribute(".lb-filter", "placeholder")
    assert example.startswith("metrics.")
    _apply(page, example)
    assert page.text_content(".lb-filter-msg") == ""
    assert _matching(page) == _expected(filter_site, example)
    assert errors == []
