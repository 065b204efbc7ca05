"""Report blocks and live values (#17): each block's rows and points equal ``search_runs`` and
``get_metric_history`` for the same filter, group_by aggregates, view data CSVs, inline values,
every validation error naming file:line, ``--strict``, and the pages in Chromium (CSP, 390 px).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

import tracker
import tracker.api
import tracker.exceptions
from tests import browser as browser_fixtures
from tests.conftest import write_files
from tracker.site.build import BuildError, build
from tracker.site.timeseries import ema

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

EXPERIMENT = "nyc-taxi-experiment"
MODEL = "nyc-taxi-duration"
# run name → (parent, rmse, params, tags, validation-rmse history)
RUNS: dict[str, tuple[str, float | None, dict[str, Any], dict[str, str], list[float]]] = {
    "lucid-ox": ("", 5.5, {"alpha": 0.1}, {"model": "lasso"}, []),
    "sweep-tpe": ("", None, {"algo": "tpe"}, {"sweep": "hyperopt"}, []),
    "trial-0": ("sweep-tpe", 4.8, {"max_depth": 3, "learning_rate": 0.3, "min_child_weight": 1,
                                   "reg_alpha": 0.01},
                {"model": "xgboost", "trial_number": "0"}, [9.0, 6.0, 5.0, 4.8]),
    "trial-1": ("sweep-tpe", 4.2, {"max_depth": 6, "learning_rate": 0.1, "min_child_weight": 2,
                                   "reg_alpha": 0.1},
                {"model": "xgboost", "trial_number": "1"}, [8.0, 5.0, 4.5, 4.2]),
    "trial-2": ("sweep-tpe", 4.5, {"max_depth": 6, "learning_rate": 0.2, "min_child_weight": 3,
                                   "reg_alpha": 1.0},
                {"model": "xgboost", "trial_number": "2"}, [7.0, 5.5, 4.6]),
    "xgboost-best": ("", 4.2, {"max_depth": 6, "learning_rate": 0.1, "min_child_weight": 2,
                               "reg_alpha": 0.1},
                     {"model": "xgboost"}, [8.0, 5.0, 4.5, 4.3, 4.2]),
}
IMPORTANCE = {"trip_distance": 40.0, "PU_DO": 12.5, "hour": 3.25, "=cmd": 1.0}


def seed_demo_store(uri: str) -> dict[str, str]:
    """A small store shaped like ``make demo``'s: the experiment, a lasso run, a hyperopt sweep
    with three trials, the retrained best (with a validation-rmse curve and feature
    importances) registered as the champion. Returns run names → ids."""
    tracker.set_tracking_uri(uri)
    tracker.set_experiment(EXPERIMENT)
    ids: dict[str, str] = {}
    for name, (parent, rmse, params, tags, curve) in RUNS.items():
        run = tracker.start_run(run_name=name, nested=bool(parent),
                                parent_run_id=ids[parent] if parent else None)
        ids[name] = run.info.run_id
        tracker.log_params(params)
        tracker.set_tags(tags)
        if rmse is not None:
            tracker.log_metric("rmse", rmse)
            if parent:
                tracker.log_metric("loss", rmse)
        for step, value in enumerate(curve):
            tracker.log_metric("validation-rmse", value, step=step)
        if name == "xgboost-best":
            tracker.log_dict(IMPORTANCE, "feature_importance_gain.json")
            tracker.log_dict({k: v * 2 for k, v in IMPORTANCE.items()},
                             "feature_importance_weight.json")
            tracker.log_text("weights", "model/model.bin")
        tracker.end_run()
    tracker.register_model(f"runs:/{ids['xgboost-best']}/model", MODEL)
    client = tracker.tracking.MlflowClient()
    client.transition_model_version_stage(MODEL, 1, "Production")
    client.set_registered_model_alias(MODEL, "champion", 1)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    return ids


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("blocks")
    uri = str(root / "store")
    return uri, seed_demo_store(uri)


def build_report(store: tuple[str, dict[str, str]], tmp_path: Path, text: str, *,
                 strict: bool = False, name: str = "r.md") -> tuple[Path, Any]:
    reports = write_files(tmp_path / "reports", {name: text})
    result = build(store[0], tmp_path / "site", reports=reports, strict=strict)
    return tmp_path / "site", result


def soup_of(site: Path, slug: str = "r") -> BeautifulSoup:
    return BeautifulSoup((site / "reports" / f"{slug}.html").read_text(), "html.parser")


def search(store: tuple[str, dict[str, str]], filter_string: str = "",
           order_by: list[str] | None = None) -> Any:
    tracker.set_tracking_uri(store[0])
    try:
        frame = tracker.search_runs(experiment_names=[EXPERIMENT], filter_string=filter_string,
                                    order_by=order_by)
    finally:
        tracker.api._tracking_uri = None
    return frame


def read_csv(site: Path, path: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((site / path).read_text())))


def figures(soup: BeautifulSoup) -> list[dict[str, Any]]:
    return [json.loads(s.string) for s in soup.select("script.chart-data")]


# -- run sets equal search_runs ---------------------------------------------------------------

FILTERS = [
    ("", None),
    ("metrics.rmse < 5", ["metrics.rmse ASC"]),
    ("tags.model = 'xgboost' and params.max_depth = '6'", ["metrics.rmse DESC"]),
    ("tags.model IN ('lasso', 'xgboost')", ["params.max_depth ASC"]),
    ("(metrics.rmse < 4.3 OR tags.model = 'lasso') and attributes.status = 'FINISHED'",
     ["attributes.run_name ASC"]),
]


@pytest.mark.parametrize(("filter_string", "order_by"), FILTERS)
def test_runs_block_rows_equal_search_runs(store: Any, tmp_path: Path, filter_string: str,
                                           order_by: list[str] | None) -> None:
    lines = [f"experiment: {EXPERIMENT}", f"filter: {json.dumps(filter_string)}", "limit: 4"]
    if order_by:
        lines.append(f"order_by: {json.dumps(order_by)}")
    site, result = build_report(store, tmp_path, "```runs\n" + "\n".join(lines) + "\n```\n")
    assert result.warnings == []
    expected = search(store, filter_string,
                      order_by or ["metrics.rmse ASC"])["run_id"].tolist()[:4]
    soup = soup_of(site)
    rows = [tr["data-run"] for tr in soup.select("table.report-runs tbody tr")]
    assert rows == expected
    assert [r["run_id"] for r in read_csv(site, "reports/r/block-1.csv")] == expected


def test_runs_block_columns_cells_and_best(store: Any, tmp_path: Path) -> None:
    text = ("---\nexperiment: nyc-taxi-experiment\n---\n```runs\nfilter: \"tags.model = "
            "'xgboost'\"\ncolumns: [metrics.rmse, params.max_depth, tags.trial_number, "
            "start_time]\n```\n")
    site, result = build_report(store, tmp_path, text)
    assert result.warnings == []
    soup = soup_of(site)
    table = soup.select_one("table.report-runs")
    assert table is not None and table.has_attr("data-no-hash")
    heads = [th.get("data-key") for th in table.select("thead th[data-key]")]
    assert heads == ["attr.name", "metrics.rmse", "params.max_depth", "tags.trial_number",
                     "attr.start"]
    names = [a.get_text() for a in table.select("tbody th[scope=row] a")]
    frame = search(store, "tags.model = 'xgboost'", ["metrics.rmse ASC"])
    assert names == frame["tags.mlflow.runName"].tolist()
    best = [td.get_text(" ", strip=True) for td in table.select("td.best")]
    assert best == ["4.2 (best)", "4.2 (best)"]  # xgboost-best and trial-1 tie
    rows = read_csv(site, "reports/r/block-1.csv")
    assert [float(r["metrics.rmse"]) for r in rows] == frame["metrics.rmse"].tolist()
    assert rows[0]["start_time"].endswith("+00:00")


def test_runs_group_by_aggregates(store: Any, tmp_path: Path) -> None:
    text = ("```runs\nexperiment: nyc-taxi-experiment\nfilter: \"metrics.rmse > 0\"\n"
            "group_by: params.max_depth\ncolumns: [metrics.rmse]\n"
            "aggregates: [count, mean, min, max]\n```\n")
    site, result = build_report(store, tmp_path, text)
    assert result.warnings == []
    rows = read_csv(site, "reports/r/block-1.csv")
    got = {r["params.max_depth"]: (r["agg.count"], r["metrics.rmse.mean"], r["metrics.rmse.min"],
                                   r["metrics.rmse.max"]) for r in rows}
    # max_depth 6: xgboost-best 4.2, trial-1 4.2, trial-2 4.5; 3: trial-0 4.8; unset: lasso 5.5
    assert got == {"3": ("1.0", "4.8", "4.8", "4.8"), "6": ("3.0", repr((4.2 + 4.2 + 4.5) / 3),
                                                              "4.2", "4.5"),
                   "": ("1.0", "5.5", "5.5", "5.5")}
    soup = soup_of(site)
    labels = [th.get_text(strip=True) for th in soup.select("table.report-runs tbody th")]
    assert labels == ["max_depth = 3", "max_depth = 6", "max_depth not set"]
    head = [th.get_text(strip=True) for th in soup.select("table.report-runs thead th[data-key]")]
    assert head == ["run", "runs", "rmse mean", "rmse min", "rmse max"]


# -- charts equal histories and search_runs -----------------------------------------------------


def test_history_points_equal_metric_history(store: Any, tmp_path: Path) -> None:
    text = ("```history\nexperiment: nyc-taxi-experiment\nfilter: \"tags.model = 'xgboost'\"\n"
            "metric: validation-rmse\nlimit: 3\n```\n")
    site, result = build_report(store, tmp_path, text)
    assert result.warnings == []
    (figure,) = figures(soup_of(site))
    ids = search(store, "tags.model = 'xgboost'", ["metrics.rmse ASC"])["run_id"].tolist()[:3]
    client = tracker.tracking.MlflowClient(store[0])
    names = {v: k for k, v in store[1].items()}
    expected = {}
    for run_id in ids:
        points = client.get_metric_history(run_id, "validation-rmse")
        if points:
            expected[names[run_id]] = ([p.step for p in points], [p.value for p in points])
    got = {t["name"]: (t["x"], t["y"]) for t in figure["data"]}
    assert got == expected
    rows = read_csv(site, "reports/r/block-1.csv")
    assert len(rows) == sum(len(v[0]) for v in expected.values())


def test_history_x_time_and_relative(store: Any, tmp_path: Path) -> None:
    block = ("```history\nexperiment: nyc-taxi-experiment\nfilter: \"attributes.run_name = "
             "'xgboost-best'\"\nmetric: validation-rmse\nx: {x}\n```\n\n")
    site, result = build_report(store, tmp_path, block.format(x="time") + block.format(
        x="relative"))
    assert result.warnings == []
    by_time, relative = figures(soup_of(site))
    client = tracker.tracking.MlflowClient(store[0])
    run_id = store[1]["xgboost-best"]
    points = client.get_metric_history(run_id, "validation-rmse")
    start = client.get_run(run_id).info.start_time
    assert by_time["layout"]["xaxis"]["type"] == "date"
    assert by_time["data"][0]["x"] == [
        datetime.fromtimestamp(p.timestamp / 1000, tz=timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S.%f")[:-3] for p in points]
    assert relative["data"][0]["x"] == [
        round((p.timestamp - start) / 3_600_000, 6) for p in points]
    assert relative["layout"]["xaxis"]["title"]["text"] == "hours since start"


def test_long_histories_are_drawn_downsampled_and_kept_whole_in_the_csv(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("long")
    values = [1.0 / (1 + step) + (5.0 if step == 1234 else 0.0) for step in range(2500)]
    with tracker.start_run(run_name="long-run"):
        for step, value in enumerate(values):
            tracker.log_metric("loss", value, step=step)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    reports = write_files(tmp_path / "reports", {"r.md": (
        "```history\nexperiment: long\nmetric: loss\n```\n")})
    site = tmp_path / "site"
    assert build(uri, site, reports=reports, strict=True).warnings == []
    (figure,) = figures(soup_of(site))
    trace = figure["data"][0]
    assert 100 < len(trace["x"]) <= 1000
    assert trace["x"][0] == 0 and trace["x"][-1] == 2499 and 1234 in trace["x"]  # the spike
    assert len(read_csv(site, "reports/r/block-1.csv")) == 2500
    # the series the page's controls redraw (history-view.js): the same cut, exact values
    view = json.loads(soup_of(site).select_one("script.history-data").string)
    steps, drawn, _ = view["runs"][0]["h"]["loss"]
    assert 100 < len(steps) <= 1000 and 1234 in steps and steps[-1] == 2499
    assert drawn == [values[step] for step in steps]
    assert (view["x"], view["smoothing"], view["log"]) == ("step", 0, False)


def test_history_smoothing_log_and_group_band(store: Any, tmp_path: Path) -> None:
    text = ("```history\nexperiment: nyc-taxi-experiment\nfilter: \"tags.model = 'xgboost'\"\n"
            "metric: [validation-rmse]\nsmoothing: 0.5\nlog: true\ngroup_by: params.max_depth\n"
            "```\n")
    site, result = build_report(store, tmp_path, text)
    assert result.warnings == []
    (figure,) = figures(soup_of(site))
    assert figure["layout"]["yaxis"]["type"] == "log"
    means = {t["name"]: t for t in figure["data"] if t["name"].endswith("(mean)")}
    assert sorted(means) == ["max_depth = 3 (mean)", "max_depth = 6 (mean)"]
    # max_depth 3 is trial-0 alone: the run page's debiased EMA (weight 0.5) of 9, 6, 5, 4.8
    assert means["max_depth = 3 (mean)"]["y"] == pytest.approx([9.0, 7.0, 5.857143, 5.293333],
                                                               rel=1e-5)
    assert ema(RUNS["trial-0"][4], 0.5) == pytest.approx(means["max_depth = 3 (mean)"]["y"],
                                                         rel=1e-5)
    bands = [t for t in figure["data"] if t.get("fill") == "tonexty"]
    assert len(bands) == 2


def test_scatter_and_bar_values_equal_search_runs(store: Any, tmp_path: Path) -> None:
    text = ("```scatter\nexperiment: nyc-taxi-experiment\nfilter: \"tags.model = 'xgboost'\"\n"
            "x: params.learning_rate\ny: metrics.rmse\ncolor: params.max_depth\n```\n\n"
            "```bar\nexperiment: nyc-taxi-experiment\nfilter: \"metrics.rmse > 0\"\n"
            "y: metrics.rmse\n```\n\n"
            "```bar\nexperiment: nyc-taxi-experiment\nx: tags.model\ny: metrics.rmse\n```\n")
    site, result = build_report(store, tmp_path, text)
    assert result.warnings == []
    scatter, bars, by_model = figures(soup_of(site))
    frame = search(store, "tags.model = 'xgboost'", ["metrics.rmse ASC"])
    points = sorted((float(lr), rmse) for t in scatter["data"] for lr, rmse in zip(t["x"], t["y"]))
    assert points == sorted(zip(frame["params.learning_rate"].astype(float), frame["metrics.rmse"]))
    assert sorted(t["name"] for t in scatter["data"]) == ["max_depth = 3", "max_depth = 6"]
    ranked = search(store, "metrics.rmse > 0", ["metrics.rmse ASC"])
    assert bars["data"][0]["y"] == ranked["metrics.rmse"].tolist()
    assert bars["data"][0]["x"] == ranked["tags.mlflow.runName"].tolist()
    assert dict(zip(by_model["data"][0]["x"], by_model["data"][0]["y"])) == pytest.approx(
        {"lasso": 5.5, "xgboost": (4.8 + 4.2 + 4.5 + 4.2) / 4})


def test_parallel_importance_model_and_compare(store: Any, tmp_path: Path) -> None:
    text = ("```parallel\nexperiment: nyc-taxi-experiment\nfilter: \"tags.trial_number != ''\"\n"
            "columns: [params.max_depth, params.learning_rate, metrics.loss]\n```\n\n"
            "```importance\nmodel: \"nyc-taxi-duration@champion\"\ntop: 2\n```\n\n"
            "```importance\nrun: xgboost-best\ntype: weight\n```\n\n"
            "```model\nname: nyc-taxi-duration\nstage: Production\n```\n\n"
            "```compare\nruns: [trial-1, trial-0]\n```\n")
    site, result = build_report(store, tmp_path, text)
    assert result.warnings == []
    soup = soup_of(site)
    spec = json.loads(soup.select_one("figure.parcoords script.parcoords-data").string)
    frame = search(store, "tags.trial_number != ''", ["metrics.rmse ASC"])
    assert [line["id"] for line in spec["lines"]] == frame["run_id"].tolist()
    assert spec["dimensions"][-1]["values"] == frame["metrics.loss"].tolist()
    assert [d["label"] for d in spec["dimensions"]] == ["max_depth", "learning_rate", "loss"]
    gain, weight = soup.select("table.importance-bars")
    assert [th.get_text() for th in gain.select("tbody th")] == ["trip_distance", "PU_DO"]
    assert gain["data-kind"] == "gain" and weight["data-kind"] == "weight"
    assert len(weight.select("tbody tr")) == 4
    assert read_csv(site, "reports/r/block-3.csv")[3] == {"feature": "'=cmd", "weight": "2.0"}
    card = soup.select_one("article.model-card")
    assert "v1" in card.get_text() and "Production" in card.get_text()
    assert "@champion" in card.get_text() and "4.2" in card.get_text()
    table = soup.select_one("table.report-compare")
    heads = [th.get_text(" ", strip=True) for th in table.select("thead th")]
    assert heads == ["key", "trial-1 (baseline)", "trial-0"]
    rmse = next(tr for tr in table.select("tbody tr") if tr.th.get_text().startswith("rmse"))
    worse = rmse.select_one(".delta.worse")
    assert worse is not None and worse.get_text(" ", strip=True).startswith("+0.6")


def test_run_sets_keep_the_publish_rules(tmp_path: Path) -> None:
    from tracker.config import load_config

    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    for experiment in ("public", "secret"):
        tracker.set_experiment(experiment)
        for depth, rmse in ((3, 5.0), (6, 4.0)):
            with tracker.start_run(run_name=f"{experiment}-{depth}"):
                tracker.log_params({"max_depth": depth, "api_token": "hunter2-hunter2"})
                tracker.log_metric("rmse", rmse)
                tracker.log_metric("private_score", 0.123456)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    write_files(tmp_path, {"tracker.toml": '[experiments]\nexclude = ["secret"]\n'
                                           '[redact]\nkeys = ["api_token", "private_*"]\n'})
    reports = write_files(tmp_path / "reports", {"r.md": (
        "```runs\nexperiment: public\ncolumns: [params.api_token, params.max_depth]\n```\n\n"
        "```runs\nexperiment: public\nfilter: \"params.api_token = 'hunter2-hunter2'\"\n```\n\n"
        "```runs\nexperiment: secret\n```\n\n"
        "{{ metric(run=\"public-3\", key=\"private_score\") }}\n")})
    result = build(uri, tmp_path / "site", reports=reports,
                   config=load_config(tmp_path / "tracker.toml"))
    site = tmp_path / "site"
    soup = soup_of(site)
    for code in soup.select("pre"):  # the blocks' own source, as the report's author wrote it
        code.decompose()
    files = "".join(p.read_text() for p in (site / "reports" / "r").glob("*.csv"))
    for text in (str(soup), files):
        assert "hunter2" not in text and "0.123456" not in text
    assert [r["params.api_token"] for r in read_csv(site, "reports/r/block-1.csv")] == [
        "[redacted]"] * 2
    assert read_csv(site, "reports/r/block-2.csv") == []  # the filter sees what the site shows
    assert any("block, experiment: no experiment 'secret'. Allowed: public" in w
               for w in result.warnings)
    assert any("no metric 'private_score'" in w for w in result.warnings)


def test_store_text_is_literal_in_charts_and_escaped_in_tables(tmp_path: Path) -> None:
    evil = '<img src=x onerror=alert(1)><b>x</b>'
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("e")
    for rmse in (1.0, 2.0):
        with tracker.start_run(run_name=f"{evil}{rmse}"):
            tracker.log_param("p", evil)
            tracker.log_metric("rmse", rmse)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    reports = write_files(tmp_path / "reports", {"r.md": (
        "```runs\nexperiment: e\ncolumns: [params.p]\n```\n\n```bar\nexperiment: e\n```\n\n"
        "```scatter\nexperiment: e\nx: params.p\ny: metrics.rmse\ncolor: params.p\n```\n")})
    result = build(uri, tmp_path / "site", reports=reports, strict=True)
    assert result.warnings == []
    soup = soup_of(tmp_path / "site")
    assert soup.find("img") is None and soup.select("table b") == []
    bar, scatter = figures(soup)
    assert bar["data"][0]["x"] == ["&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;x&lt;/b&gt;1.0",
                                   "&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;x&lt;/b&gt;2.0"]
    assert "<img" not in json.dumps(scatter) and "<b>" not in json.dumps(scatter)


# -- inline values ------------------------------------------------------------------------------

VALUES = """---
experiment: nyc-taxi-experiment
---
Best {{ best("nyc-taxi-experiment", "rmse") }}, lasso {{ metric(run="lucid-ox", key="rmse") }},
champion v{{ model("nyc-taxi-duration@champion").version }} in
{{ model("nyc-taxi-duration/1").stage }}, its rmse {{ model("nyc-taxi-duration").metric }};
{{ runs("nyc-taxi-experiment", filter="tags.model = 'xgboost'") | count }} xgboost runs.
Code stays code: `{{ best("x", "y") }}`.
"""


def test_inline_values_are_formatted_and_linked(store: Any, tmp_path: Path) -> None:
    site, result = build_report(store, tmp_path, VALUES, strict=True)
    soup = soup_of(site)
    values = [(a.get_text(), a["href"], a.get("title", "")) for a in soup.select("a.live-value")]
    ids = store[1]
    assert values == [
        ("4.2", f"../runs/{ids['xgboost-best']}.html", ""),  # a tie: search_runs' newest first
        ("5.5", f"../runs/{ids['lucid-ox']}.html", ""),
        ("1", "../models/nyc-taxi-duration.html", "nyc-taxi-duration v1"),
        ("Production", "../models/nyc-taxi-duration.html", ""),
        ("4.2", "../models/nyc-taxi-duration.html", ""),
        ("4", "../experiments/nyc-taxi-experiment.html", "4"),
    ]
    assert soup.find("code", string='{{ best("x", "y") }}') is not None
    expected = search(store, "metrics.rmse > 0", ["metrics.rmse ASC"])["run_id"].tolist()[0]
    assert values[0][1] == f"../runs/{expected}.html"


def test_a_home_report_links_from_the_site_root(store: Any, tmp_path: Path) -> None:
    text = ("---\nhome: true\nexperiment: nyc-taxi-experiment\n---\n"
            "Best {{ best(\"nyc-taxi-experiment\", \"rmse\") }}.\n\n```runs\nlimit: 2\n```\n")
    site, result = build_report(store, tmp_path, text, strict=True, name="home.md")
    soup = BeautifulSoup((site / "index.html").read_text(), "html.parser")
    assert soup.select_one("a.live-value")["href"] == f"runs/{store[1]['xgboost-best']}.html"
    assert soup.select_one("a[download]")["href"] == "reports/home/block-1.csv"
    assert (site / "reports" / "home" / "block-1.csv").is_file()
    assert all(a["href"].startswith("runs/") for a in soup.select("table.report-runs tbody a"))


def test_inline_value_number_format(store: Any, tmp_path: Path) -> None:
    site, _ = build_report(store, tmp_path, '{{ metric(run="trial-2", key="loss") }}\n')
    link = soup_of(site).select_one("a.live-value")
    assert link is not None and link.get_text() == "4.5"


# -- validation errors --------------------------------------------------------------------------

ERRORS = [
    ("runs", "experiment: nope", "experiment", "nyc-taxi-experiment"),
    ("runs", "experiment: nyc-taxi-experiment\nfilter: \"metrics.rmse <<< 3\"", "filter", ""),
    ("runs", "experiment: nyc-taxi-experiment\nlimit: 0", "limit", "1 to 1000"),
    ("runs", "experiment: nyc-taxi-experiment\ncolour: red", "colour", "columns, group_by"),
    ("runs", "experiment: nyc-taxi-experiment\ncolumns: [rmse]", "columns", "metrics.<name>"),
    ("runs", "experiment: nyc-taxi-experiment\ngroup_by: params.max_depth\naggregates: [avg]",
     "aggregates", "count, mean, min, max"),
    ("runs", "experiment: nyc-taxi-experiment\nfilter: [", "yaml", ""),
    ("runs", "- a\n- b", "yaml", "experiment, filter"),
    ("runs", "filter: \"metrics.rmse > 0\"", "experiment", "nyc-taxi-experiment"),
    ("history", "experiment: nyc-taxi-experiment\nmetric: nope", "metric", "validation-rmse"),
    ("history", "experiment: nyc-taxi-experiment\nx: epoch", "x", "step, time, relative"),
    ("history", "experiment: nyc-taxi-experiment\nsmoothing: 2", "smoothing", "0.99"),
    ("history", "experiment: nyc-taxi-experiment\nlog: maybe", "log", "true, false"),
    ("history", "experiment: nyc-taxi-experiment\nx: time\ngroup_by: params.max_depth",
     "group_by", "x: step"),
    ("scatter", "experiment: nyc-taxi-experiment\nx: params.max_depth", "y", "metrics.<name>"),
    ("scatter", "experiment: nyc-taxi-experiment\nx: status\ny: metrics.rmse", "x",
     "metrics.<name>, params.<name>"),
    ("bar", "experiment: nyc-taxi-experiment\nx: metrics.rmse", "x", "params.<name>"),
    ("parallel", "experiment: nyc-taxi-experiment\ncolumns: [metrics.rmse, params.max_depth]",
     "columns", "[params.a, params.b, metrics.rmse]"),
    ("importance", "run: no-such-run", "run", "a run name"),
    ("importance", "run: lucid-ox", "run", ""),
    ("importance", "run: xgboost-best\ntype: cover", "type", "gain, weight"),
    ("importance", "run: xgboost-best\nmodel: nyc-taxi-duration", "run", "model:"),
    ("importance", "model: nyc-taxi-duration@nope", "model", "champion"),
    ("model", "name: nope", "name", "nyc-taxi-duration"),
    ("model", "name: nyc-taxi-duration\nversion: 9", "version", "1"),
    ("model", "name: nyc-taxi-duration\nversion: \"9\"", "version", "1"),
    ("model", "name: nyc-taxi-duration\nstage: Prod", "stage", "None, Staging, Production"),
    ("model", "name: nyc-taxi-duration\nversion: 1\nalias: champion", "alias",
     "version, alias, stage"),
    ("compare", "runs: [trial-1]", "runs", "runs: [name-or-id"),
    ("compare", "runs: [trial-1, ghost]", "runs", "a run name"),
]


@pytest.mark.parametrize(("kind", "body", "key", "allowed"), ERRORS)
def test_every_bad_option_names_file_line_key_and_allowed(
        store: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str, body: str,
        key: str, allowed: str) -> None:
    text = f"# Title\n\nSome text.\n\n```{kind}\n{body}\n```\n"
    with caplog.at_level(logging.WARNING, logger="tracker.site"):
        site, result = build_report(store, tmp_path, text)
    (message,) = result.warnings
    path = str(tmp_path / "reports" / "r.md")
    assert message.startswith(f"{path}:5: {kind} block, {key}: "), message
    assert allowed in message
    box = soup_of(site).select_one("div.report-error")
    assert box is not None and box["data-line"] == "5" and f"{kind} block, {key}" in box.get_text()
    with pytest.raises(BuildError, match=r"r\.md:5: "):
        build_report(store, tmp_path / "strict", text, strict=True)


def test_filter_errors_are_search_runs_errors(store: Any, tmp_path: Path) -> None:
    bad = "metrics.rmse <> 'x' and"
    with pytest.raises(tracker.exceptions.TrackerError) as raised:
        search(store, bad)
    site, result = build_report(store, tmp_path, f"```runs\nexperiment: {EXPERIMENT}\n"
                                                 f"filter: {json.dumps(bad)}\n```\n")
    (message,) = result.warnings
    assert message.endswith(f"runs block, filter: {raised.value}")


INLINE_ERRORS = [
    ('{{ nope() }}', "expression", "best, metric, model, runs"),
    ('{{ best("nope", "rmse") }}', "experiment", "nyc-taxi-experiment"),
    ('{{ best("nyc-taxi-experiment", "missing") }}', "metric", ""),
    ('{{ metric(run="ghost", key="rmse") }}', "run", "a run name"),
    ('{{ metric(run="lucid-ox", key="mae") }}', "key", "rmse"),
    ('{{ metric(run="lucid-ox") }}', "metric", "run, key"),
    ('{{ model("ghost@champion").version }}', "model", "nyc-taxi-duration"),
    ('{{ model("nyc-taxi-duration@champion").colour }}', "model", "version, stage, run_id"),
    ('{{ runs("nyc-taxi-experiment", filter="x <") | count }}', "filter", ""),
    ('{{ best("nyc-taxi-experiment", "rmse") | count }}', "best", "runs(...) | count"),
    ('{{ __import__("os") }}', "expression", "best, metric"),
]


@pytest.mark.parametrize(("expression", "key", "allowed"), INLINE_ERRORS)
def test_inline_value_errors(store: Any, tmp_path: Path, expression: str, key: str,
                             allowed: str) -> None:
    text = f"---\ntitle: T\n---\nLine one.\n\nThe value is {expression} today.\n"
    site, result = build_report(store, tmp_path, text)
    (message,) = result.warnings
    assert message.startswith(f"{tmp_path / 'reports' / 'r.md'}:6: inline value, {key}:")
    assert allowed in message
    error = soup_of(site).select_one("span.live-value-error")
    assert error is not None and "r.md:6" in error.get_text()
    with pytest.raises(BuildError, match=r"r\.md:6: inline value"):
        build_report(store, tmp_path / "strict", text, strict=True)


def test_sql_and_chart_blocks_get_view_data(store: Any, tmp_path: Path) -> None:
    text = ("```sql\nSELECT run_name, '=1+1' AS f FROM runs ORDER BY run_name\n```\n\n"
            "```chart\nsql: SELECT run_name, value FROM latest_metrics WHERE key = 'rmse' "
            "ORDER BY run_name\nx: run_name\ny: value\nkind: bar\n```\n")
    site, result = build_report(store, tmp_path, text)
    assert result.warnings == []
    sql_rows = read_csv(site, "reports/r/block-1.csv")
    assert [r["run_name"] for r in sql_rows] == sorted(RUNS)
    assert {r["f"] for r in sql_rows} == {"'=1+1"}
    chart_rows = read_csv(site, "reports/r/block-2.csv")
    assert {r["run_name"]: float(r["value"]) for r in chart_rows} == {
        k: v[1] for k, v in RUNS.items() if v[1] is not None}
    soup = soup_of(site)
    links = [a["href"] for a in soup.select("a[download]")]
    assert links == ["r/block-1.csv", "r/block-2.csv"]
    details = soup.select_one("div.report-chart details.view-data")
    assert details is not None and len(details.select("tbody tr")) == 5


def test_example_reports_build_strict_without_sql(store: Any, tmp_path: Path) -> None:
    folder = Path(__file__).resolve().parent.parent / "reports"
    result = build(store[0], tmp_path / "site", reports=str(folder), strict=True)
    assert result.warnings == []
    overview = (folder / "overview.md").read_text()
    assert "```sql" not in overview and "```chart" not in overview
    soup = soup_of(tmp_path / "site", "overview")
    assert soup.select("div.report-error, span.live-value-error") == []
    kinds = {d["class"][1] for d in soup.select("div.report-block")}
    assert kinds == {"report-runs", "report-bar", "report-scatter", "report-history",
                     "report-importance", "report-model"}
    assert len(soup.select("a.live-value")) >= 4


def test_the_documented_example_is_short_and_builds(store: Any, tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "site.md").read_text()
    example = doc.split("````markdown\n", 1)[1].split("````\n", 1)[0]
    assert len(example.splitlines()) < 15
    site, result = build_report(store, tmp_path, example, strict=True)
    soup = soup_of(site)
    assert soup.select_one("h1").get_text() == "Weekly review"
    assert [d["class"][1] for d in soup.select("div.report-block")] == [
        "report-runs", "report-history", "report-model"]
    assert len(soup.select("table.report-runs tbody tr")) == 5
    assert soup.select_one("a.live-value").get_text() == "4.2"


# -- in Chromium --------------------------------------------------------------------------------

ALL_BLOCKS = """---
title: Every block
experiment: nyc-taxi-experiment
---
Best {{ best("nyc-taxi-experiment", "rmse") }}.

```runs
columns: [metrics.rmse, params.max_depth, params.learning_rate, params.min_child_weight, params.reg_alpha, tags.model, start_time]
```

```history
metric: validation-rmse
```

```scatter
x: params.learning_rate
y: metrics.rmse
```

```bar
y: metrics.rmse
```

```parallel
filter: "tags.trial_number != ''"
columns: [params.max_depth, params.learning_rate, params.min_child_weight, metrics.loss]
```

```importance
run: xgboost-best
```

```model
name: nyc-taxi-duration
```

```compare
runs: [xgboost-best, trial-0, lucid-ox]
```
"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_blocks_in_chromium_keep_csp_and_fit(store: Any, tmp_path: Path, open_page: Any,
                                             width: int) -> None:
    site, result = build_report(store, tmp_path, ALL_BLOCKS, strict=True, name="all.md")
    page, errors = open_page(site / "reports" / "all.html", width=width,
                             init_script=browser_fixtures.CSP_LISTENER)
    page.wait_for_function("""() => document.querySelectorAll('.js-plotly-plot').length >= 4
        && document.querySelector('svg.pc-svg') && document.querySelector('button.lb-sort')""",
                           timeout=20_000)
    assert page.evaluate("window.__csp") == []
    assert errors == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # the runs table sorts like the leaderboard, without touching the URL
    names = "() => Array.from(document.querySelectorAll('table.report-runs tbody th a'))" \
            ".map((a) => a.textContent)"
    before = page.evaluate(names)
    page.click("table.report-runs th[data-key='attr.name'] button.lb-sort")
    after = page.evaluate(names)
    assert after == sorted(before) and after != before
    assert "#" not in page.url
    # and axe finds no WCAG 2.1 A/AA violation when axe-core is installed (tests/test_site_a11y)
    from tests.test_site_a11y import AXE, RUN_AXE, WCAG, _report

    if AXE.is_file():
        (site / "_test").mkdir()
        shutil.copyfile(AXE, site / "_test" / "axe.min.js")
        page.evaluate("""(url) => new Promise((resolve, reject) => {
            const s = document.createElement("script");
            s.src = url; s.onload = resolve; s.onerror = () => reject(new Error("axe blocked"));
            document.head.appendChild(s);
        })""", (site / "_test" / "axe.min.js").as_uri())
        violations = page.evaluate(RUN_AXE, WCAG)
        assert violations == [], _report(violations)
