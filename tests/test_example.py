"""The NYC green-taxi example (``python -m examples.nyc_taxi``), end to end at its smallest size."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tracker
import tracker.api
from examples.nyc_taxi import data, registry, report, train
from examples.nyc_taxi.__main__ import build_parser, settings_from_args
from tracker.entities import Run

ROOT = Path(__file__).resolve().parents[1]
SEED = 7
SMALL = train.Settings(train_rows=2000, valid_rows=2000, max_evals=2, num_boost_round=10,
                       early_stopping_rounds=3, seed=SEED)
SMALL_FLAGS = ["--rows", "2000", "--max-evals", "2", "--num-boost-round", "10",
               "--early-stopping-rounds", "3", "--seed", str(SEED)]
XGB_PARAMS = {"max_depth", "learning_rate", "reg_alpha", "reg_lambda", "min_child_weight",
              "objective", "seed", "nthread"}
SWEPT = ["max_depth", "learning_rate", "reg_alpha", "reg_lambda", "min_child_weight"]
PARENT = "mlflow.parentRunId"


def _reset_fluent_state() -> None:
    while tracker.active_run() is not None:
        tracker.end_run()
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    tracker.xgboost.autolog(disable=True)


@pytest.fixture(autouse=True)
def fluent_state() -> Iterator[None]:
    _reset_fluent_state()
    yield
    _reset_fluent_state()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> train.Outcome:
    """One in-process training session at the smallest size, shared by the tests below."""
    _reset_fluent_state()
    store = tmp_path_factory.mktemp("store")
    try:
        return train.run(replace(SMALL, store=str(store)))
    finally:
        _reset_fluent_state()


@dataclass
class Runs:
    """The example's runs in a store, by role."""

    client: tracker.TrackerClient
    lasso: list[Run]
    sweeps: list[Run]
    trials: list[Run]
    best: list[Run]


def _runs(store: str) -> Runs:
    client = tracker.TrackerClient(store)
    exp = client.get_experiment_by_name(train.EXPERIMENT_NAME)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    found = Runs(
        client,
        lasso=[r for r in runs if "alpha" in r.data.params],
        sweeps=[r for r in runs if r.data.tags.get("sweep") == "hyperopt"],
        trials=[r for r in runs if "trial_number" in r.data.tags],
        best=[r for r in runs if r.info.run_name == train.BEST_RUN_NAME],
    )
    roles = len(found.lasso) + len(found.sweeps) + len(found.trials) + len(found.best)
    assert roles == len(runs)
    return found


def _expected_month(month: int, seed: int, rows: int = 2000) -> pd.DataFrame:
    return data.prepare(data.generate_month(2021, month, rows, seed=seed))


# --------------------------------------------------------------------------- the session


def test_experiment_has_the_baseline_the_sweep_and_the_best_model(session: train.Outcome) -> None:
    runs = _runs(session.store_path)
    assert len(runs.lasso) == len(runs.sweeps) == len(runs.best) == 1
    assert len(runs.trials) == SMALL.max_evals
    assert runs.lasso[0].info.run_id == session.lasso_run_id
    assert [r.info.run_id for r in runs.trials] == session.xgboost_run_ids
    assert runs.best[0].info.run_id == session.best_run_id
    for run in runs.lasso + runs.sweeps + runs.trials + runs.best:
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == session.experiment_id
    for run in runs.lasso + runs.trials + runs.best:
        assert np.isfinite(run.data.metrics["rmse"]) and run.data.metrics["rmse"] > 0
    assert runs.lasso[0].data.metrics["rmse"] == pytest.approx(session.lasso_rmse)
    assert runs.best[0].data.metrics["rmse"] == pytest.approx(session.best_rmse)


def test_params_and_tags_are_logged_as_in_the_course(session: train.Outcome) -> None:
    runs = _runs(session.store_path)
    assert runs.lasso[0].data.params == {
        "train_data_path": f"synthetic://green/2021-01?rows=2000&seed={SEED}",
        "valid_data_path": f"synthetic://green/2021-02?rows=2000&seed={SEED + 1}",
        "alpha": "0.01",
    }
    assert runs.lasso[0].data.tags["developer"]
    for run in runs.trials:
        params = run.data.params
        assert set(params) == XGB_PARAMS
        assert params["objective"] == "reg:squarederror"
        assert params["nthread"] == "1" and params["seed"] == str(SEED)
        assert 4 <= int(params["max_depth"]) <= 100
        assert np.exp(-3) <= float(params["learning_rate"]) <= 1
        assert run.data.tags["model"] == "xgboost"


def test_the_sweep_is_a_parent_run_with_its_trials(session: train.Outcome) -> None:
    runs = _runs(session.store_path)
    (parent,) = runs.sweeps
    assert session.sweep_run is not None and session.sweep_run.info.run_id == parent.info.run_id
    assert parent.info.run_name == "sweep-tpe"
    assert parent.data.tags["algo"] == "tpe" and parent.data.params["algo"] == "tpe"
    assert parent.data.params["max_evals"] == str(SMALL.max_evals)
    assert parent.data.metrics["n_trials"] == SMALL.max_evals
    assert parent.data.metrics["n_failed"] == 0

    trials = sorted(runs.trials, key=lambda r: int(r.data.tags["trial_number"]))
    assert [t.data.tags["trial_number"] for t in trials] == [str(i) for i in range(len(trials))]
    for trial in trials:
        assert trial.data.tags[PARENT] == parent.info.run_id
        assert trial.data.tags["trial_status"] == "ok"
        assert trial.data.metrics["loss"] == trial.data.metrics["rmse"]  # the objective's return
    winner = min(trials, key=lambda t: t.data.metrics["rmse"])
    assert parent.data.tags["best_trial_run_id"] == winner.info.run_id
    assert parent.data.metrics["best_loss"] == winner.data.metrics["rmse"]
    for key in SWEPT:
        assert parent.data.params[f"best_{key}"] == winner.data.params[key]
        assert str(session.best_params[key]) == winner.data.params[key]

    path = runs.client.download_artifacts(parent.info.run_id, "search_space.json")
    space = json.loads(Path(path).read_text())
    assert space["space"]["max_depth"] == "scope.int(hp.quniform('max_depth', 4, 100, 1))"
    assert space["space"]["objective"] == "reg:squarederror"
    assert sorted(space["hyperparameters"]) == sorted(SWEPT)


def test_the_best_params_are_retrained_with_autologging(session: train.Outcome) -> None:
    runs = _runs(session.store_path)
    (best,) = runs.best
    assert best.data.tags["model"] == "xgboost"
    for key in SWEPT:  # autologged from the params dict
        assert float(best.data.params[key]) == pytest.approx(float(session.best_params[key]))
    assert best.data.params["num_boost_round"] == str(SMALL.num_boost_round)
    history = runs.client.get_metric_history(best.info.run_id, "validation-rmse")
    rounds = sorted({m.step for m in history})
    assert rounds[:3] == [0, 1, 2] and len(rounds) >= 3
    paths = {f.path for f in runs.client.list_artifacts(best.info.run_id)}
    assert {"model", "preprocessor"} <= paths


def test_registry_has_the_model_in_production_with_the_champion_alias(
    session: train.Outcome,
) -> None:
    client = tracker.MlflowClient(session.store_path)
    version = client.get_model_version(registry.MODEL_NAME, 1)
    assert session.model_version == "1"
    assert version.current_stage == "Production"
    assert version.source == f"runs:/{session.best_run_id}/model"
    assert version.run_id == session.best_run_id
    assert version.description.startswith(
        "Model 'nyc-taxi-duration' version 1 transitioned to 'Production'")
    assert f"{session.best_rmse:.4f}" in version.description
    assert client.get_model_version_by_alias(registry.MODEL_NAME, "champion").version == 1
    assert client.get_latest_versions(registry.MODEL_NAME, stages=["Staging"]) == []
    stages = [e.value for e in client.get_model_history(registry.MODEL_NAME, 1)
              if e.event == "version_stage"]
    assert stages == ["Staging", "Production"]

    summary = session.registry
    assert summary is not None and summary.aliases == {"champion": 1}
    assert summary.production is not None and summary.production.version == 1
    text = report.format_registry(summary)
    assert "Production: version 1 - Model 'nyc-taxi-duration' version 1" in text
    assert "Aliases: champion -> version 1" in text


def test_the_champion_predicts_as_the_trained_booster(session: train.Outcome) -> None:
    import xgboost as xgb

    predictions = session.predictions
    assert predictions is not None and len(predictions) == 5
    valid = _expected_month(2, SEED + 1)
    assert list(predictions["PU_DO"]) == list(valid["PU_DO"].head(5))
    assert list(predictions["duration"]) == list(valid["duration"].head(5))
    features = data.vectorize(_expected_month(1, SEED), valid)
    rows = features.X_val[:5]
    assert session.booster is not None
    expected = session.booster.predict(xgb.DMatrix(rows))
    np.testing.assert_allclose(predictions["predicted"], expected, rtol=1e-6)


def test_lasso_run_records_training_and_validation_datasets(session: train.Outcome) -> None:
    (lasso,) = _runs(session.store_path).lasso
    inputs = {i.context: i.dataset for i in lasso.inputs.dataset_inputs}
    assert set(inputs) == {"training", "validation"}
    for context, month, seed in (("training", 1, SEED), ("validation", 2, SEED + 1)):
        dataset, expected = inputs[context], _expected_month(month, seed)
        assert dataset.name == f"green_tripdata_2021-0{month}"
        assert dataset.source == f"synthetic://green/2021-0{month}?rows=2000&seed={seed}"
        assert json.loads(dataset.profile or "{}")["num_rows"] == len(expected)
        assert 0.9 * 2000 < len(expected) < 2000  # the 1..60 min filter removed a few
        assert dataset.digest == tracker.data.from_pandas(expected, targets="duration").digest
        # the source is enough to make the same data again
        again = data.prepare(data.generate_from_source(dataset.source))
        assert tracker.data.from_pandas(again, targets="duration").digest == dataset.digest


def test_pickled_preprocessor_and_model_work(session: train.Outcome, tmp_path: Path) -> None:
    runs = _runs(session.store_path)
    client, (lasso,) = runs.client, runs.lasso
    run_id = lasso.info.run_id
    assert [f.path for f in client.list_artifacts(run_id, "preprocessor")] == [
        "preprocessor/preprocessor.b"
    ]
    assert [f.path for f in client.list_artifacts(run_id, "models_pickle")] == [
        "models_pickle/lin_reg.bin"
    ]
    with open(client.download_artifacts(run_id, "models_pickle/lin_reg.bin", str(tmp_path)),
              "rb") as f_in:
        dv, model = pickle.load(f_in)
    with open(client.download_artifacts(run_id, "preprocessor/preprocessor.b", str(tmp_path)),
              "rb") as f_in:
        assert pickle.load(f_in).vocabulary_ == dv.vocabulary_

    valid = _expected_month(2, SEED + 1)
    y_pred = model.predict(dv.transform(data.to_dicts(valid)))
    assert train.rmse(valid["duration"].to_numpy(), y_pred) == pytest.approx(
        lasso.data.metrics["rmse"], rel=1e-9
    )


def test_leaderboard_is_sorted_by_rmse(session: train.Outcome) -> None:
    board = session.leaderboard
    assert board is not None and len(board) == 1 + SMALL.max_evals + 1  # no sweep parent
    assert list(board["metrics.rmse"]) == sorted(board["metrics.rmse"])
    assert session.sweep_run is not None
    assert session.sweep_run.info.run_id not in set(board["run_id"])
    text = report.format_leaderboard(board).splitlines()
    assert text[0].split()[:4] == ["#", "run", "name", "model"]
    assert text[2].split()[1] == board["tags.mlflow.runName"].iloc[0]
    assert f"{board['metrics.rmse'].iloc[0]:.4f}" in text[2]


# --------------------------------------------------------------------------- the command line


def test_command_line_prints_the_session_and_is_deterministic(
    session: train.Outcome, tmp_path: Path
) -> None:
    store = tmp_path / "cli-store"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("TRACKER_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "examples.nyc_taxi", "--store", str(store), *SMALL_FLAGS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for line in ("Sweep 'sweep-tpe'", "Predictions of models:/nyc-taxi-duration@champion",
                 "Leaderboard of 'nyc-taxi-experiment'", "Model registry: 'nyc-taxi-duration'",
                 "Aliases: champion -> version 1", f"Store: {store}"):
        assert line in proc.stdout

    # Same seed, same sizes: same data, same sampled params, same scores as in-process.
    def summary(path: str) -> list[tuple[str, ...]]:
        runs = _runs(path)
        (lasso,) = runs.lasso
        digests = sorted(i.dataset.digest for i in lasso.inputs.dataset_inputs)
        rows = [(*digests, f"{lasso.data.metrics['rmse']:.9f}")]
        for run in runs.trials + runs.best:
            rows.append((json.dumps(run.data.params, sort_keys=True),
                         f"{run.data.metrics['rmse']:.6f}"))
        return sorted(rows)

    assert summary(str(store)) == summary(session.store_path)


def test_command_line_options() -> None:
    parser = build_parser()

    def parse(*argv: str) -> train.Settings:
        return settings_from_args(parser.parse_args(list(argv)), parser)

    assert parse() == train.Settings()
    assert parse("--full") == train.Settings.full()
    assert train.Settings.full().train_rows > 60_000 and train.Settings.full().max_evals == 50
    small = parse(*SMALL_FLAGS, "--store", "somewhere")
    assert small == replace(SMALL, store="somewhere")
    full = parse("--full", "--max-evals", "3")
    assert (full.max_evals, full.num_boost_round) == (3, 1000)
    with pytest.raises(SystemExit):
        parse("--train", "green_tripdata_2021-01.parquet")
    with pytest.raises(SystemExit):
        parse("--rows", "0")


def test_real_files_and_a_second_session_in_the_same_store(tmp_path: Path) -> None:
    paths = []
    for month in (1, 2):
        path = tmp_path / f"green_tripdata_2021-0{month}.parquet"
        data.generate_month(2021, month, 1500, seed=3).to_parquet(path)
        paths.append(str(path))
    settings = train.Settings(store=str(tmp_path / "store"), train_path=paths[0],
                              valid_path=paths[1], max_evals=1, num_boost_round=5,
                              early_stopping_rounds=2)
    train.run(settings)
    outcome = train.run(settings)

    runs = _runs(outcome.store_path)
    assert len(runs.trials) == len(runs.sweeps) == 2
    lasso = runs.lasso[-1]
    assert lasso.data.params["train_data_path"] == paths[0]
    assert lasso.data.params["valid_data_path"] == paths[1]
    sources = {i.context: (i.dataset.source, i.dataset.name) for i in lasso.inputs.dataset_inputs}
    assert sources == {"training": (paths[0], "green_tripdata_2021-01"),
                       "validation": (paths[1], "green_tripdata_2021-02")}

    # the second session's model took over Production and the alias
    assert outcome.model_version == "2" and outcome.registry is not None
    stages = {int(v.version): v.current_stage for v in outcome.registry.versions}
    assert stages == {1: "Archived", 2: "Production"}
    assert outcome.registry.aliases == {"champion": 2}


# --------------------------------------------------------------------------- the data


def test_generator_is_deterministic_in_its_seed() -> None:
    first = data.generate_month(2021, 1, 3000, seed=1)
    pd.testing.assert_frame_equal(first, data.generate_month(2021, 1, 3000, seed=1))
    assert not first.equals(data.generate_month(2021, 1, 3000, seed=2))
    assert not first.equals(data.generate_month(2021, 2, 3000, seed=1))


def test_generator_has_the_tlc_schema(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    df = data.generate_month(2021, 2, 3000, seed=1)
    assert list(df.columns) == data.TLC_COLUMNS
    for column in ("VendorID", "PULocationID", "DOLocationID"):
        assert df[column].dtype == np.int64
    for column in ("lpep_pickup_datetime", "lpep_dropoff_datetime"):
        assert df[column].dtype == "datetime64[us]"
    assert df["ehail_fee"].isna().all()
    assert set(df["store_and_fwd_flag"].dropna()) <= {"Y", "N"}

    path = tmp_path / "green_tripdata_2021-02.parquet"
    df.to_parquet(path)
    pd.testing.assert_frame_equal(data.load_month(str(path)), df)
    written = pq.read_schema(path)
    for field in data.tlc_schema():
        if field.name != "store_and_fwd_flag":  # pandas writes large_string, TLC string
            assert written.field(field.name).type == field.type, field.name


def test_generator_looks_like_a_taxi_month() -> None:
    df = data.generate_month(2021, 1, 20_000, seed=5)
    minutes = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    assert df.PULocationID.between(1, 265).all() and df.DOLocationID.between(1, 265).all()
    assert (df.lpep_pickup_datetime.dt.month == 1).mean() > 0.99
    assert df.lpep_pickup_datetime.dt.day.nunique() == 31
    assert 0.005 < (minutes < 1).mean() < 0.05 and 0.005 < (minutes > 60).mean() < 0.05
    assert 0.03 < df.passenger_count.isna().mean() < 0.15
    top10 = df.PULocationID.value_counts().iloc[:10].sum() / len(df)
    assert top10 > 0.25  # a few zones dominate
    hours = df.lpep_pickup_datetime.dt.hour.value_counts()
    assert hours[17] > 3 * hours[4]  # evening rush vs. the middle of the night
    kept = data.prepare(df)
    assert kept.duration.corr(kept.trip_distance) > 0.6


def test_prepare_filters_durations_and_builds_the_pair_feature() -> None:
    start = pd.Timestamp("2021-01-05 08:00")
    df = pd.DataFrame({
        "lpep_pickup_datetime": [start] * 3,
        "lpep_dropoff_datetime": [start + pd.Timedelta(seconds=s) for s in (30, 600, 3700)],
        "PULocationID": [74, 75, 41],
        "DOLocationID": [42, 166, 7],
        "trip_distance": [0.1, 2.5, 9.0],
    })
    out = data.prepare(df)
    assert out["PU_DO"].tolist() == ["75_166"]
    assert out["duration"].tolist() == [10.0]


def test_load_month_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match="TLC green-taxi"):
        data.load_month(str(path))


def test_the_pages_build_script_publishes_the_example_store(
    session: train.Outcome, tmp_path: Path
) -> None:
    """What pages.yml runs, on the store the example (``make demo``) trains into."""
    from tests.test_site_build import link_problems

    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci" / "build-site.sh")], cwd=tmp_path,
        env={**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT),
             "TRACKER_STORE": session.store_path, "SITE_BASE_URL": "https://me.github.io/taxi/"},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    site = tmp_path / "_site"
    assert link_problems(site) == []
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "nyc-taxi-experiment" in home and "nyc-taxi-duration" in home
    assert "https://me.github.io/taxi/" in (site / "sitemap.xml").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- make demo (#13)


def _demo(store: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``make demo``'s command (scripts/demo.py) at the smallest size."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("TRACKER_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "scripts/demo.py", "--store", str(store), "--site", str(site), "--",
         *SMALL_FLAGS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_make_demo_shows_its_steps_starts_afresh_and_says_how_to_open_the_site(
    tmp_path: Path,
) -> None:
    store, site = tmp_path / "tracking", tmp_path / "site"
    first = _demo(store, site)
    assert first.returncode == 0, first.stderr
    assert f"==> new demo store {store}" in first.stdout
    steps = [line for line in first.stdout.splitlines() if line.startswith("==> [")]
    assert [s.split(" ", 3)[:3] for s in steps] == [["==>", "[1/2]", "training"],
                                                    ["==>", "[1/2]", "done"],
                                                    ["==>", "[2/2]", "building"],
                                                    ["==>", "[2/2]", "done"]]
    assert all(s.endswith(" s") for s in steps[1::2])
    tail = first.stdout.rstrip().splitlines()[-6:]
    assert tail[0] == "Open the site:"
    assert tail[1].strip().endswith(f"tracker serve --store {store} --out {site}")
    assert "http://127.0.0.1:8000/" in tail[2]
    assert f"open {site.resolve() / 'index.html'} in a browser" in tail[3]
    assert (site / "index.html").is_file()

    def totals() -> tuple[int, list[tuple[int, str]]]:
        client = tracker.TrackerClient(str(store))
        ids = [e.experiment_id for e in client.search_experiments()]
        versions = client.search_model_versions("name = 'nyc-taxi-duration'")
        return (len(client.search_runs(ids, max_results=10_000)),
                sorted((v.version, v.current_stage) for v in versions))

    before = totals()
    assert before[1] == [(1, "Production")]
    again = _demo(store, site)
    assert again.returncode == 0, again.stderr
    assert "deleted the previous demo store" in again.stdout
    assert totals() == before  # no doubled runs, no second version in Production


def test_make_demo_keeps_a_store_it_did_not_make(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import demo
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    mine = tmp_path / "tracking"
    (mine / "runs").mkdir(parents=True)
    with pytest.raises(demo.DemoError, match="was not made by make demo") as caught:
        demo.prepare_store(mine)
    assert "DEMO_STORE=" in str(caught.value) and (mine / "runs").is_dir()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty folder" in demo.prepare_store(empty)
    done = _demo(mine, tmp_path / "site")
    assert done.returncode == 1
    assert "make demo: " in done.stderr and "mv " in done.stderr
    assert (mine / "runs").is_dir() and not (tmp_path / "site").exists()
    stopped = tmp_path / "stopped"  # a demo interrupted during training is still the demo's
    stopped.mkdir()
    (stopped / demo.MARKER).write_text("")
    (stopped / "runs").mkdir()
    assert "deleted the previous demo store" in demo.prepare_store(stopped)
    assert not stopped.exists()
    lines = demo.open_lines(Path("tracking"), Path("site"), ".venv/bin/tracker")
    assert lines[1] == "  .venv/bin/tracker serve"
    assert lines[-1].startswith("`tracker` is in .venv/bin: `source .venv/bin/activate`")
