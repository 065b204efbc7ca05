"""Metric directions, one source of truth (#10): names, config rules, primary metrics, and what
the site and ``tracker summary`` do with them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

import tracker
from tracker.config import load_config
from tracker.directions import Directions, known_direction
from tracker.exceptions import ConfigError, InvalidArgumentError
from tracker.site.build import build
from tracker.summary import RunState, Snapshot, summarize


@pytest.mark.parametrize("key, direction", [
    ("rmse", "min"), ("val_loss", "min"), ("validation_0-rmse", "min"), ("test_mae", "min"),
    ("training_mean_squared_error", "min"), ("logloss", "min"), ("best_loss", "min"),
    ("accuracy", "max"), ("val_accuracy", "max"), ("roc_auc", "max"), ("f1", "max"),
    ("training_r2_score", "max"), ("ndcg@10", "max"), ("map@5", "max"), ("test_precision", "max"),
    ("best_iteration", None), ("stopped_iteration", None), ("n_trials", None),
    ("n_errors", None), ("num_boost_round", None), ("training_time", None), ("epoch", None),
    ("model_size_bytes", None), ("duration", None), ("learning_rate", None),
])
def test_well_known_names_only(key: str, direction: str | None) -> None:
    assert known_direction(key) == direction


def test_config_rules_beat_names_exact_before_globs() -> None:
    rules = Directions.from_mapping(
        {"*acc*": "max", "custom_cost": "min", "rmse": "none", "acc_gap": "min"})
    assert rules.of("val_acc") == "max"
    assert rules.of("acc_gap") == "min"  # an exact name wins over a glob listed before it
    assert rules.of("custom_cost") == "min"
    assert rules.of("rmse") is None  # "none" makes a well-known name neutral
    assert rules.of("best_iteration") is None
    assert rules.best("rmse", [3.0, 1.0]) is None and rules.best("val_acc", [0.1, 0.9]) == 0.9
    assert not rules.better("n_trials", 1, 2)
    with pytest.raises(InvalidArgumentError, match="'rmse' is 'low'; allowed: min, max, none"):
        Directions.from_mapping({"rmse": "low"})


def test_primary_metric_configured_else_the_directed_one_most_runs_have() -> None:
    rules = Directions.from_mapping(primary={"taxi": "mae"})
    runs = [{"rmse": 1, "best_iteration": 3, "n_trials": 5}, {"rmse": 2, "best_iteration": 1},
            {"accuracy": 0.5, "best_iteration": 1}]
    assert rules.primary_metric("taxi", runs) == "mae"
    assert rules.primary_metric("other", runs) == "rmse"  # not the more common counter
    assert rules.primary_metric("other", [{"n_trials": 3}]) == ""


def test_config_file_metrics_and_primary(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text(
        '[metrics]\nrmse = "min"\n"*score*" = "max"\nbest_iteration = "none"\n\n'
        '[experiments]\nexclude = ["scratch"]\n\n[experiments."nyc-taxi"]\nprimary = "mae"\n')
    config = load_config(tmp_path / "tracker.toml")
    assert config.directions.of("f1score_macro") == "max"
    assert config.directions.primary_metric("nyc-taxi", []) == "mae"
    assert not config.experiments.publishes("scratch")
    (tmp_path / "tracker.toml").write_text('[metrics]\nrmse = "lower"\n')
    with pytest.raises(ConfigError, match=r"'metrics.rmse' in .*tracker.toml: expected one of "
                                          r"min, max, none, got 'lower'"):
        load_config(tmp_path / "tracker.toml")


def _state(run_id: str, metrics: dict[str, float]) -> RunState:
    return RunState(run_id, "0", run_id, "FINISHED", metrics, {})


def test_summary_gives_counters_no_verdict() -> None:
    before = Snapshot({"0": "exp"}, {"a": _state("a", {"rmse": 2.0, "best_iteration": 50})})
    after = Snapshot({"0": "exp"}, {**before.runs,
                                    "b": _state("b", {"rmse": 1.5, "best_iteration": 10})})
    result = summarize(after, before, "main")
    assert [(m.key, m.verdict) for m in result.experiments[0].metrics] == [("rmse", "improved")]
    custom = summarize(after, before, "main", directions={"best_iteration": "max"})
    assert {m.key: m.verdict for m in custom.experiments[0].metrics} == {
        "rmse": "improved", "best_iteration": "regressed"}


def test_site_ranks_by_the_configured_primary_and_marks_no_counter_best(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    tracker.set_tracking_uri(store)
    tracker.set_experiment("taxi")
    for name, rmse, mae, iteration in (("a", 1.0, 9.0, 10), ("b", 2.0, 1.0, 90)):
        with tracker.start_run(run_name=name):
            tracker.log_metrics({"rmse": rmse, "mae": mae, "best_iteration": iteration})
    (tmp_path / "tracker.toml").write_text('[experiments."taxi"]\nprimary = "mae"\n')
    build(store, tmp_path / "site", config=load_config(tmp_path / "tracker.toml"))
    soup = BeautifulSoup((tmp_path / "site/experiments/taxi.html").read_text(), "html.parser")
    names = [tr.find("th").find("a").get_text() for tr in soup.select("table.leaderboard tbody tr")]
    assert names == ["b", "a"]
    assert soup.select_one("table.leaderboard")
    heads = {th["data-key"]: th for th in soup.select("thead th[data-key]")}
    assert "data-direction" not in heads["metrics.best_iteration"].attrs
    assert heads["metrics.best_iteration"].has_attr("data-hidden")
    best_cells = [td.get_text(" ", strip=True) for td in soup.select("tbody td.best")]
    assert sorted(best_cells) == ["1 (best)", "1 (best)"]  # rmse of a, mae of b; never 10 or 90


@pytest.mark.parametrize(("values", "direction", "expected"), [
    ([math.nan, math.nan, -math.inf], "max", 2),  # nanargmax gave 0: a run without a value
    ([math.nan, math.inf, math.nan], "min", 1),
    ([math.nan, 3.0, 1.0, 1.0], "min", 2),  # the first of a tie
    ([2.0, math.nan, math.inf], "max", 2),
    ([math.nan, math.nan], "min", None),
    ([], "max", None),
])
def test_best_index_skips_runs_without_a_value_whatever_the_best_is(
    values: list[float], direction: str, expected: int | None
) -> None:
    import numpy as np

    from tracker.directions import best_index

    assert best_index(np.array(values, dtype=float), direction) == expected
