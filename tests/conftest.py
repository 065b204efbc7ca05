"""Shared fixtures: isolated fluent state, seeded stores, files on the fly."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest

import tracker
import tracker.api

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Query snapshots (tracker.query.snapshot) of test stores go to a folder of this session.
os.environ.setdefault("TRACKER_CACHE_DIR", tempfile.mkdtemp(prefix="tracker-test-cache-"))


@pytest.fixture(autouse=True)
def _fresh_fluent_state(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test starts with no tracking URI, no active experiment and no active run."""
    monkeypatch.delenv("TRACKER_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    yield
    while tracker.active_run() is not None:
        tracker.end_run()
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None


@pytest.fixture
def always_snapshot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Query snapshots (and their express files) in a folder of this test, saved after every
    load however cheap."""
    from tracker.query import snapshot

    folder = tmp_path / "cache"
    monkeypatch.setenv("TRACKER_CACHE_DIR", str(folder))
    monkeypatch.delenv("TRACKER_QUERY_SNAPSHOTS", raising=False)
    monkeypatch.setattr(snapshot, "MIN_LOAD_SECONDS", 0.0)
    return folder


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """An empty store folder, set as the fluent API's tracking URI."""
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    return uri


@pytest.fixture
def tmp_store(store_uri: str) -> str:
    """A store with two experiments of seeded runs (``random.Random(42)``)."""
    rng = random.Random(42)
    for experiment in ("alpha", "beta"):
        tracker.set_experiment(experiment)
        for i in range(6):
            with tracker.start_run(run_name=f"{experiment}-{i}"):
                tracker.log_params({"lr": rng.choice([0.1, 0.01, 0.001]), "depth": i})
                tracker.set_tag("model", rng.choice(["xgboost", "lasso"]))
                for step in range(3):
                    tracker.log_metric("rmse", rng.uniform(1, 10), step=step)
                tracker.log_metric("r2", rng.uniform(0, 1))
    return store_uri


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> content) under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


# -- S3: one moto server per session, a fresh bucket per test -----------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Any:
    """The URL of a real S3 API (moto_server in a thread on 127.0.0.1, any free port)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new empty bucket; fake credentials and the endpoint are set in the environment."""
    import uuid

    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return bucket
