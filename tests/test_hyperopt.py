"""``tracker.hyperopt.fmin``: a sweep as a parent run with one nested run per trial."""

from __future__ import annotations

import functools
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hyperopt import STATUS_FAIL, STATUS_OK, Trials, hp, rand, space_eval, tpe
from hyperopt import fmin as hyperopt_fmin
from hyperopt.pyll import scope

import tracker
import tracker as mlflow
import tracker.hyperopt
from tracker.entities import Run

PARENT = "mlflow.parentRunId"
# (max_depth, booster) of the first three trials TPE samples with rstate=default_rng(42)
SAMPLED = [(82, "gbtree"), (33, "dart"), (18, "gbtree")]
UNLUCKY = 33  # plain_objective raises for it: the second trial fails


@pytest.fixture(autouse=True)
def _no_autolog() -> Iterator[None]:
    yield
    while tracker.active_run() is not None:
        tracker.end_run()
    tracker.xgboost.autolog(disable=True)


def space() -> dict[str, Any]:
    return {
        "max_depth": scope.int(hp.quniform("max_depth", 4, 100, 1)),
        "learning_rate": hp.loguniform("learning_rate", -3, 0),
        "booster": hp.choice("booster", ["gbtree", "dart"]),
        "objective": "reg:squarederror",
        "seed": 42,
    }


def loss_of(params: dict[str, Any]) -> float:
    return abs(params["max_depth"] - 20) + params["learning_rate"] + (params["booster"] == "dart")


def plain_objective(params: dict[str, Any]) -> float:
    """No tracking at all; raises for one sampled max_depth (in the second trial)."""
    assert isinstance(params["max_depth"], int)
    if params["max_depth"] == UNLUCKY:
        raise ValueError(f"max_depth {UNLUCKY} is unlucky")
    return loss_of(params)


def seed_objective(params: dict[str, Any]) -> dict[str, Any]:
    """The course's objective, with a formula in place of XGBoost."""
    with mlflow.start_run():
        mlflow.set_tag("model", "xgboost")
        mlflow.log_params(params)
        rmse = loss_of(params)
        mlflow.log_metric("rmse", rmse)

    return {"loss": rmse, "status": STATUS_OK}


def sweep(fn: Any, max_evals: int = 3, **kwargs: Any) -> Any:
    return tracker.hyperopt.fmin(
        fn=fn, space=space(), algo=tpe.suggest, max_evals=max_evals, trials=Trials(),
        rstate=np.random.default_rng(42), show_progressbar=False, **kwargs,
    )


def runs(filter_string: str = "") -> list[Run]:
    found = tracker.search_runs(filter_string=filter_string, output_format="list")
    assert isinstance(found, list)
    return found


def only_parent() -> Run:
    (parent,) = runs("tags.sweep = 'hyperopt'")
    return parent


def trials_of(parent: Run) -> list[Run]:
    found = runs(f"tags.`{PARENT}` = '{parent.info.run_id}' AND tags.trial_number != ''")
    return sorted(found, key=lambda r: int(r.data.tags["trial_number"]))


# --------------------------------------------------------------------------- the sweep


def test_sweep_is_a_parent_with_one_nested_run_per_trial(store_uri: str) -> None:
    best = sweep(plain_objective, catch_eval_exceptions=True)
    assert tracker.active_run() is None
    parent = only_parent()
    trials = trials_of(parent)
    assert len(runs()) == 4 and len(trials) == 3

    assert parent.info.run_name == "sweep-tpe" and parent.info.status == "FINISHED"
    assert parent.data.tags["algo"] == "tpe"
    assert {k: parent.data.params[k] for k in ("algo", "max_evals")} == {
        "algo": "tpe", "max_evals": "3"}
    assert parent.data.metrics["n_trials"] == 3 and parent.data.metrics["n_failed"] == 1

    # params decoded to what the objective saw: scope.int as "82" (not "82.0"), the choice's option
    assert [t.data.tags["trial_number"] for t in trials] == ["0", "1", "2"]
    assert [t.info.run_name for t in trials] == ["trial-0", "trial-1", "trial-2"]
    assert [(t.data.params["max_depth"], t.data.params["booster"]) for t in trials] == [
        (str(depth), booster) for depth, booster in SAMPLED]
    assert all(set(t.data.params) == {"max_depth", "learning_rate", "booster"} for t in trials)
    assert [t.info.status for t in trials] == ["FINISHED", "FAILED", "FINISHED"]
    assert [t.data.tags["trial_status"] for t in trials] == ["ok", "fail", "ok"]
    first, failed, last = trials
    assert failed.data.tags["error"] == f"ValueError: max_depth {UNLUCKY} is unlucky"
    assert "loss" not in failed.data.metrics and "error" not in first.data.tags
    for trial in (first, last):
        point = {**trial.data.params, "max_depth": int(trial.data.params["max_depth"]),
                 "learning_rate": float(trial.data.params["learning_rate"])}
        assert trial.data.metrics == {"loss": pytest.approx(loss_of(point))}

    # best_* point at the trial with the lowest loss, which is what hyperopt returned
    assert parent.data.tags["best_trial_run_id"] == last.info.run_id
    assert last.data.metrics["loss"] < first.data.metrics["loss"]
    assert parent.data.metrics["best_loss"] == last.data.metrics["loss"]
    assert {k: v for k, v in parent.data.params.items() if k.startswith("best_")} == {
        f"best_{k}": v for k, v in last.data.params.items()}
    decoded = space_eval(space(), best)
    assert (decoded["max_depth"], decoded["booster"]) == SAMPLED[2]


def test_search_space_is_saved_readably(store_uri: str) -> None:
    sweep(plain_objective, max_evals=1)
    parent = only_parent()
    client = tracker.MlflowClient()
    assert [f.path for f in client.list_artifacts(parent.info.run_id)] == ["search_space.json"]
    path = client.download_artifacts(parent.info.run_id, "search_space.json")
    saved = json.loads(Path(path).read_text())
    assert saved == tracker.hyperopt.describe_space(space())
    assert saved["space"] == {
        "booster": "hp.choice('booster', ['gbtree', 'dart'])",
        "learning_rate": "hp.loguniform('learning_rate', -3, 0)",
        "max_depth": "scope.int(hp.quniform('max_depth', 4, 100, 1))",
        "objective": "reg:squarederror",
        "seed": 42,
    }
    assert saved["hyperparameters"]["max_depth"] == {
        "expression": "scope.int(hp.quniform('max_depth', 4, 100, 1))",
        "distribution": "quniform", "low": 4, "high": 100, "q": 1,
    }
    assert saved["hyperparameters"]["booster"] == {
        "expression": "hp.choice('booster', ['gbtree', 'dart'])",
        "distribution": "choice", "options": ["gbtree", "dart"],
    }


def test_describe_space_covers_hyperopts_expressions() -> None:
    described = tracker.hyperopt.describe_space({
        "model": hp.choice("model", [
            {"kind": "svm", "C": hp.lognormal("C", 0, 1)},
            {"kind": "tree", "depth": hp.randint("depth", 2, 9)},
        ]),
        "weighted": hp.pchoice("weighted", [(0.25, "a"), (0.75, "b")]),
        "n": hp.uniformint("n", 1, 10),
        "k": hp.randint("k", 5),
        "noise": hp.qnormal("noise", 0, 1, 0.5),
        "layers": [16, hp.quniform("width", 8, 64, 8)],
    })
    params = described["hyperparameters"]
    assert described["space"]["model"] == (
        "hp.choice('model', [{'C': hp.lognormal('C', 0, 1), 'kind': 'svm'}, "
        "{'depth': hp.randint('depth', 2, 9), 'kind': 'tree'}])"
    )
    assert params["model"]["options"] == [
        {"C": "hp.lognormal('C', 0, 1)", "kind": "svm"},
        {"depth": "hp.randint('depth', 2, 9)", "kind": "tree"},
    ]
    assert params["C"] == {"expression": "hp.lognormal('C', 0, 1)",
                           "distribution": "lognormal", "mu": 0, "sigma": 1}
    assert params["depth"]["low"] == 2 and params["depth"]["high"] == 9
    assert params["k"] == {"expression": "hp.randint('k', 5)", "distribution": "randint",
                           "upper": 5}
    assert params["weighted"] == {
        "expression": "hp.pchoice('weighted', [(0.25, 'a'), (0.75, 'b')])",
        "distribution": "pchoice", "options": ["a", "b"], "probabilities": [0.25, 0.75],
    }
    assert params["n"]["expression"] == "scope.int(hp.quniform('n', 1, 10, q=1.0))"
    assert params["noise"]["q"] == 0.5
    assert described["space"]["layers"] == [16, "hp.quniform('width', 8, 64, 8)"]


# --------------------------------------------------------------------------- the objective's runs


def test_seed_objective_runs_unchanged_and_its_runs_are_the_trials(store_uri: str) -> None:
    best = sweep(seed_objective)
    parent = only_parent()
    trials = trials_of(parent)
    assert len(runs()) == 4 and len(trials) == 3  # no extra run per trial
    for trial in trials:
        assert trial.info.status == "FINISHED" and trial.data.tags["model"] == "xgboost"
        assert trial.info.run_name != f"trial-{trial.data.tags['trial_number']}"  # its own run
        assert set(trial.data.params) == {"max_depth", "learning_rate", "booster",
                                          "objective", "seed"}
        assert trial.data.metrics["loss"] == trial.data.metrics["rmse"]
        assert trial.data.tags["trial_status"] == "ok"
    assert parent.data.metrics["best_loss"] == min(t.data.metrics["rmse"] for t in trials)

    # the same sweep with plain hyperopt samples the same points
    tracker.set_experiment("plain")
    assert hyperopt_fmin(fn=seed_objective, space=space(), algo=tpe.suggest, max_evals=3,
                         trials=Trials(), rstate=np.random.default_rng(42),
                         show_progressbar=False) == best


def test_seed_objective_under_plain_hyperopt_fmin(store_uri: str) -> None:
    trials = Trials()
    best = hyperopt_fmin(fn=seed_objective, space=space(), algo=tpe.suggest, max_evals=3,
                         trials=trials, rstate=np.random.default_rng(42),
                         show_progressbar=False)
    found = runs()
    assert len(found) == 3
    for run in found:
        assert run.info.status == "FINISHED" and PARENT not in run.data.tags
        assert run.data.tags["model"] == "xgboost"
        assert run.data.params["objective"] == "reg:squarederror"
        assert run.data.params["max_depth"].isdigit()
    assert min(r.data.metrics["rmse"] for r in found) == pytest.approx(min(trials.losses()))
    assert set(best) == {"max_depth", "learning_rate", "booster"}


def test_runs_the_objective_starts_are_nested(store_uri: str) -> None:
    def objective(params: dict[str, Any]) -> float:
        mlflow.log_metric("implicit", 1.0)  # starts a run, as in MLflow: the trial run
        with mlflow.start_run(nested=True, run_name="inner"):
            mlflow.log_param("depth", params["max_depth"])
        return loss_of(params)

    sweep(objective, max_evals=2)
    assert tracker.active_run() is None
    parent = only_parent()
    trials = trials_of(parent)
    assert len(trials) == 2 and len(runs()) == 5
    for trial in trials:
        assert trial.info.status == "FINISHED"  # tracker ended the implicit run
        assert trial.data.metrics["implicit"] == 1.0 and "loss" in trial.data.metrics
        (inner,) = runs(f"tags.`{PARENT}` = '{trial.info.run_id}'")
        assert inner.info.run_name == "inner"
        assert inner.data.params["depth"] == trial.data.params["max_depth"]


def test_a_second_top_level_run_of_the_objective_nests_under_the_trial(store_uri: str) -> None:
    def objective(params: dict[str, Any]) -> float:
        with mlflow.start_run(run_name="fit"):
            mlflow.log_metric("rmse", loss_of(params))
        with mlflow.start_run(run_name="evaluate"):
            mlflow.log_metric("latency", 0.5)
        return loss_of(params)

    sweep(objective, max_evals=1, run_name="two-runs")
    (trial,) = trials_of(only_parent())
    assert only_parent().info.run_name == "two-runs"
    assert trial.info.run_name == "fit" and trial.data.metrics["loss"] == trial.data.metrics["rmse"]
    (evaluate,) = runs("attributes.run_name = 'evaluate'")
    assert evaluate.data.tags[PARENT] == trial.info.run_id
    assert "trial_number" not in evaluate.data.tags


def test_inside_an_active_run_that_run_is_the_parent(store_uri: str) -> None:
    with mlflow.start_run(run_name="pipeline") as outer:
        sweep(seed_objective, max_evals=2)
        assert tracker.active_run() is outer  # still active: the caller ends it
        sweep(seed_objective, max_evals=1, run_name="second-sweep")
    pipeline = tracker.get_run(outer.info.run_id)
    assert pipeline.info.status == "FINISHED" and pipeline.data.tags["algo"] == "tpe"
    assert len(trials_of(pipeline)) == 2
    assert "best_max_depth" in pipeline.data.params
    (second,) = runs("attributes.run_name = 'second-sweep'")
    assert second.data.tags[PARENT] == outer.info.run_id
    assert len(trials_of(second)) == 1


# --------------------------------------------------------------------------- failures


def test_status_fail_is_a_failed_trial_and_the_sweep_goes_on(store_uri: str) -> None:
    def objective(params: dict[str, Any]) -> dict[str, Any]:
        if params["booster"] == "dart":
            return {"status": STATUS_FAIL, "error": "dart is not installed"}
        return {"loss": loss_of(params), "status": STATUS_OK}

    sweep(objective)
    first, dart, last = trials_of(only_parent())
    assert dart.info.status == "FAILED" and dart.data.tags["trial_status"] == "fail"
    assert dart.data.tags["error"] == "the objective returned status 'fail': dart is not installed"
    assert "loss" not in dart.data.metrics
    assert first.info.status == last.info.status == "FINISHED"
    assert only_parent().data.metrics["n_failed"] == 1


def test_an_exception_ends_the_sweep_as_in_hyperopt(store_uri: str) -> None:
    with pytest.raises(ValueError, match="unlucky"):
        sweep(plain_objective)
    assert tracker.active_run() is None
    parent = only_parent()
    assert parent.info.status == "FAILED"
    assert parent.data.metrics["n_trials"] == 2 and parent.data.metrics["n_failed"] == 1
    first, failed = trials_of(parent)
    assert failed.info.status == "FAILED" and failed.data.tags["error"].startswith("ValueError")
    assert parent.data.tags["best_trial_run_id"] == first.info.run_id


def test_a_failing_seed_objective_run_is_the_failed_trial(store_uri: str) -> None:
    def objective(params: dict[str, Any]) -> dict[str, Any]:
        with mlflow.start_run():
            mlflow.log_params(params)
            return {"loss": plain_objective(params), "status": STATUS_OK}

    sweep(objective, catch_eval_exceptions=True)
    trials = trials_of(only_parent())
    assert len(trials) == 3 and len(runs()) == 4
    assert [t.info.status for t in trials] == ["FINISHED", "FAILED", "FINISHED"]
    assert trials[1].data.tags["error"] == f"ValueError: max_depth {UNLUCKY} is unlucky"
    assert trials[1].data.params["max_depth"] == str(UNLUCKY)  # logged by the objective


# --------------------------------------------------------------------------- details


def test_sweeps_are_deterministic_with_rstate(store_uri: str) -> None:
    first = sweep(plain_objective, catch_eval_exceptions=True)
    second = sweep(plain_objective, catch_eval_exceptions=True)
    assert first == second
    parents = runs("tags.sweep = 'hyperopt'")
    assert len(parents) == 2
    params = [[t.data.params for t in trials_of(p)] for p in parents]
    assert params[0] == params[1]
    assert all(isinstance(v, np.generic) for v in first.values())  # hyperopt's argmin, as is


def test_algorithm_names_and_annotated_space(store_uri: str) -> None:
    def objective(x: hp.uniform("x", -1, 1)) -> float:  # type: ignore[valid-type]
        return float(x) ** 2

    best = tracker.hyperopt.fmin(objective, "annotated", algo=rand.suggest, max_evals=2,
                                 rstate=np.random.default_rng(0), show_progressbar=False)
    assert set(best) == {"x"}
    parent = only_parent()
    assert parent.info.run_name == "sweep-rand" and parent.data.params["algo"] == "rand"
    assert [set(t.data.params) for t in trials_of(parent)] == [{"x"}, {"x"}]
    assert tracker.hyperopt._algo_name(functools.partial(tpe.suggest, n_startup_jobs=2)) == "tpe"
    assert tracker.hyperopt._algo_name(None) == "tpe"


# --------------------------------------------------------------------------- progress (#13)


def _progress_sweep(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> list[dict[str, Any]]:
    """A sweep with hyperopt.fmin's keyword arguments recorded."""
    import hyperopt

    seen: list[dict[str, Any]] = []
    real = hyperopt.fmin

    def spy(*args: Any, **kw: Any) -> Any:
        seen.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(hyperopt, "fmin", spy)
    tracker.hyperopt.fmin(fn=loss_of, space=space(), algo=tpe.suggest, max_evals=3,
                          trials=Trials(), rstate=np.random.default_rng(42), **kwargs)
    return seen


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_progress_bar_in_ci_but_summary_lines(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("TRACKER_PROGRESS_SECONDS", "0")
    [call] = _progress_sweep(monkeypatch)
    assert call["show_progressbar"] is False
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "tracker.hyperopt: 1/3 trials", "tracker.hyperopt: 2/3 trials",
        "tracker.hyperopt: 3/3 trials", "tracker.hyperopt: 3/3 trials"]
    assert "best loss" in lines[-1] and lines[-1].endswith("s (done)")
    assert "\r" not in "".join(lines)


def test_progress_lines_at_most_one_per_interval(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    [call] = _progress_sweep(monkeypatch)  # the default interval: 10 s
    assert call["show_progressbar"] is False
    lines = sys.stderr.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 2  # the first trial and the end
    assert lines[0].startswith("tracker.hyperopt: 1/3 trials, best loss ")
    assert lines[1].startswith("tracker.hyperopt: 3/3 trials, best loss ")


def test_progress_bar_on_a_terminal_and_explicit_choices_win(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert _progress_sweep(monkeypatch)[0]["show_progressbar"] is True
    monkeypatch.setenv("CI", "true")
    assert _progress_sweep(monkeypatch, show_progressbar=True)[0]["show_progressbar"] is True
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert _progress_sweep(monkeypatch, show_progressbar=False)[0]["show_progressbar"] is False
    assert "tracker.hyperopt" not in sys.stderr.getvalue()  # type: ignore[attr-defined]


def test_ticker_interval_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.progress import Ticker, interactive, interval

    now = [0.0]
    out = io.StringIO()
    ticker = Ticker("job", every=10, stream=out, clock=lambda: now[0])
    for t, text in ((0, "a"), (4, "b"), (10, "c"), (19, "d"), (21, "e")):
        now[0] = t
        ticker.update(text)
    ticker.update("end", final=True)
    assert out.getvalue().splitlines() == ["job: a", "job: c", "job: e", "job: end"]
    monkeypatch.setenv("TRACKER_PROGRESS_SECONDS", "2.5")
    assert interval() == 2.5
    monkeypatch.setenv("TRACKER_PROGRESS_SECONDS", "soon")
    assert interval() == 10.0
    monkeypatch.delenv("CI", raising=False)
    assert interactive(_Tty()) and not interactive(io.StringIO())
    monkeypatch.setenv("CI", "1")
    assert not interactive(_Tty())
