"""The NYC green-taxi example (``python -m examples.nyc_taxi``), end to end at its smallest size."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tracker
import tracker.api
from examples.nyc_taxi import data, train
from examples.nyc_taxi.__main__ import build_parser, settings_from_args

ROOT = Path(__file__).resolve().parents[1]
SEED = 7
SMALL = train.Settings(train_rows=2000, valid_rows=2000, max_evals=2, num_boost_round=10,
                       early_stopping_rounds=3, seed=SEED)
SMALL_FLAGS = ["--rows", "2000", "--max-evals", "2", "--num-boost-round", "10",
               "--early-stopping-rounds", "3", "--seed", str(SEED)]
XGB_PARAMS = {"max_depth", "learning_rate", "reg_alpha", "reg_lambda", "min_child_weight",
              "objective", "seed", "nthread"}


def _reset_fluent_state() -> None:
    while tracker.active_run() is not None:
        tracker.end_run()
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None


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


def _runs(store: str) -> tuple[tracker.TrackerClient, list[Any], list[Any]]:
    """The client of ``store`` and its example runs: ([lasso runs], [xgboost runs])."""
    client = tracker.TrackerClient(store)
    exp = client.get_experiment_by_name(train.EXPERIMENT_NAME)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    lasso = [r for r in runs if "model" not in r.data.tags]
    xgb = [r for r in runs if r.data.tags.get("model") == "xgboost"]
    assert len(lasso) + len(xgb) == len(runs)
    return client, lasso, xgb


def _expected_month(month: int, seed: int, rows: int = 2000) -> pd.DataFrame:
    return data.prepare(data.generate_month(2021, month, rows, seed=seed))


# --------------------------------------------------------------------------- the session


def test_experiment_has_one_lasso_and_one_run_per_trial(session: train.Outcome) -> None:
    _, lasso, xgb = _runs(session.store_path)
    assert len(lasso) == 1 and len(xgb) == SMALL.max_evals
    assert lasso[0].info.run_id == session.lasso_run_id
    assert sorted(r.info.run_id for r in xgb) == sorted(session.xgboost_run_ids)
    for run in lasso + xgb:
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == session.experiment_id
        assert np.isfinite(run.data.metrics["rmse"]) and run.data.metrics["rmse"] > 0
    assert lasso[0].data.metrics["rmse"] == pytest.approx(session.lasso_rmse)


def test_params_and_tags_are_logged_as_in_the_course(session: train.Outcome) -> None:
    _, (lasso,), xgb = _runs(session.store_path)
    assert lasso.data.params == {
        "train_data_path": "synthetic://green/2021-01",
        "valid_data_path": "synthetic://green/2021-02",
        "alpha": "0.01",
    }
    assert lasso.data.tags["developer"]
    for run in xgb:
        params = run.data.params
        assert set(params) == XGB_PARAMS
        assert params["objective"] == "reg:squarederror"
        assert params["nthread"] == "1" and params["seed"] == str(SEED)
        assert 4 <= int(params["max_depth"]) <= 100
        assert np.exp(-3) <= float(params["learning_rate"]) <= 1


def test_lasso_run_records_training_and_validation_datasets(session: train.Outcome) -> None:
    _, (lasso,), _ = _runs(session.store_path)
    inputs = {i.context: i.dataset for i in lasso.inputs.dataset_inputs}
    assert set(inputs) == {"training", "validation"}
    for context, month, seed in (("training", 1, SEED), ("validation", 2, SEED + 1)):
        dataset, expected = inputs[context], _expected_month(month, seed)
        assert dataset.name == f"green_tripdata_2021-0{month}"
        assert dataset.source == f"synthetic://green/2021-0{month}"
        assert json.loads(dataset.profile or "{}")["num_rows"] == len(expected)
        assert 0.9 * 2000 < len(expected) < 2000  # the 1..60 min filter removed a few
        assert dataset.digest == tracker.data.from_pandas(expected, targets="duration").digest


def test_pickled_preprocessor_and_model_work(session: train.Outcome, tmp_path: Path) -> None:
    client, (lasso,), _ = _runs(session.store_path)
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
    assert board is not None and len(board) == 1 + SMALL.max_evals
    assert list(board["metrics.rmse"]) == sorted(board["metrics.rmse"])
    text = train.format_leaderboard(board).splitlines()
    assert text[0].split()[:4] == ["#", "run", "name", "model"]
    assert text[2].split()[1] == board["tags.mlflow.runName"].iloc[0]
    assert f"{board['metrics.rmse'].iloc[0]:.4f}" in text[2]


# --------------------------------------------------------------------------- the command line


def test_command_line_prints_leaderboard_and_is_deterministic(
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
    assert "Leaderboard of 'nyc-taxi-experiment'" in proc.stdout
    assert f"Store: {store}" in proc.stdout

    # Same seed, same sizes: same data, same sampled params, same scores as in-process.
    def summary(path: str) -> list[tuple[str, ...]]:
        _, (lasso,), xgb = _runs(path)
        digests = sorted(i.dataset.digest for i in lasso.inputs.dataset_inputs)
        rows = [(*digests, f"{lasso.data.metrics['rmse']:.9f}")]
        for run in xgb:
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


def test_real_files_are_read_and_recorded_by_path(tmp_path: Path) -> None:
    paths = []
    for month in (1, 2):
        path = tmp_path / f"green_tripdata_2021-0{month}.parquet"
        data.generate_month(2021, month, 1500, seed=3).to_parquet(path)
        paths.append(str(path))
    settings = train.Settings(store=str(tmp_path / "store"), train_path=paths[0],
                              valid_path=paths[1], max_evals=1, num_boost_round=5,
                              early_stopping_rounds=2)
    outcome = train.run(settings)

    _, (lasso,), xgb = _runs(outcome.store_path)
    assert len(xgb) == 1
    assert lasso.data.params["train_data_path"] == paths[0]
    assert lasso.data.params["valid_data_path"] == paths[1]
    sources = {i.context: (i.dataset.source, i.dataset.name) for i in lasso.inputs.dataset_inputs}
    assert sources == {"training": (paths[0], "green_tripdata_2021-01"),
                       "validation": (paths[1], "green_tripdata_2021-02")}


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
