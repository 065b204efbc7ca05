"""The model registry: versions, stages, aliases, history, concurrency, URIs, lineage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import tracker
from tracker.exceptions import AlreadyExistsError, InvalidArgumentError, NotFoundError
from tracker.model_uri import resolve


@pytest.fixture
def logged(store_uri: str, tmp_path: Path) -> str:
    """A run with a 'model' artifact folder; returns its runs:/ URI."""
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "model.bin").write_bytes(b"weights")
    with tracker.start_run() as run:
        tracker.log_artifacts(str(model_dir), artifact_path="model")
    return f"runs:/{run.info.run_id}/model"


def test_seed_registry_workflow(logged: str, store_uri: str) -> None:
    model_name = "my_model_name"
    mv = tracker.register_model(model_uri=logged, name=model_name)
    assert mv.version == 1 and mv.current_stage == "None"
    assert mv.run_id == logged.split("/")[1]
    client = tracker.tracking.MlflowClient(tracking_uri=store_uri)
    client.transition_model_version_stage(name=model_name, version=1, stage="Staging")
    latest_version = client.get_latest_versions(model_name, stages=["Staging"])[0].version
    client.transition_model_version_stage(name=model_name, version=latest_version, stage="Production")
    client.update_model_version(
        name=model_name,
        version=latest_version,
        description=f"Model '{model_name}' version {latest_version} transitioned to 'Production'.",
    )
    got = client.get_model_version(model_name, "1")
    assert got.current_stage == "Production" and "transitioned to 'Production'" in got.description
    assert client.get_latest_versions(model_name, stages=["Staging"]) == []
    model = client.get_registered_model(model_name)
    assert [v.version for v in model.latest_versions] == [1]


def test_versions_count_up_and_are_never_reused(logged: str) -> None:
    client = tracker.MlflowClient()
    for expected in (1, 2, 3):
        assert tracker.register_model(logged, "m").version == expected
    client.delete_model_version("m", 3)
    assert tracker.register_model(logged, "m").version == 4
    with pytest.raises(NotFoundError, match="versions: 1, 2, 4"):
        client.get_model_version("m", 3)


def test_archive_existing_leaves_exactly_one_production(logged: str) -> None:
    client = tracker.MlflowClient()
    for _ in range(3):
        tracker.register_model(logged, "m")
    client.transition_model_version_stage("m", 1, "Production")
    client.transition_model_version_stage("m", 2, "production")  # stages are case-insensitive
    client.transition_model_version_stage("m", 3, "Production", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in client.search_model_versions("name = 'm'")}
    assert stages == {1: "Archived", 2: "Archived", 3: "Production"}
    history = client.get_model_history("m", 1)
    assert history[-1].value == "Archived" and "version 3" in (history[-1].reason or "")
    with pytest.raises(InvalidArgumentError, match="Staging and Production"):
        client.transition_model_version_stage("m", 1, "Archived", archive_existing_versions=True)
    with pytest.raises(InvalidArgumentError, match="Invalid stage 'Prod'"):
        client.transition_model_version_stage("m", 1, "Prod")


def test_aliases_tags_descriptions_and_history(logged: str) -> None:
    client = tracker.MlflowClient()
    tracker.register_model(logged, "m")
    tracker.register_model(logged, "m")
    client.set_registered_model_alias("m", "champion", 1, reason="best rmse on Feb data")
    client.set_registered_model_alias("m", "champion", 2)
    assert client.get_model_version_by_alias("m", "champion").version == 2
    assert client.get_model_version("m", 2).aliases == ["champion"]
    client.set_model_version_tag("m", 2, "validated", "yes")
    client.set_registered_model_tag("m", "team", "taxi")
    client.update_registered_model("m", description="Trip duration model")
    model = client.get_registered_model("m")
    assert model.aliases == {"champion": 2} and model.tags == {"team": "taxi"}
    assert model.description == "Trip duration model"
    assert client.get_model_version("m", 2).tags == {"validated": "yes"}
    client.delete_model_version_tag("m", 2, "validated")
    client.delete_registered_model_alias("m", "champion")
    with pytest.raises(NotFoundError, match="aliases: none"):
        client.get_model_version_by_alias("m", "champion")
    events = client.get_model_history("m")
    reasons = [e.reason for e in events if e.event == "alias_set"]
    assert reasons == ["best rmse on Feb data", None]
    assert all(e.user for e in events) and events == sorted(events, key=lambda e: e.timestamp)
    with pytest.raises(InvalidArgumentError, match="reserved"):
        client.set_registered_model_alias("m", "latest", 1)


def test_rename_delete_and_search(logged: str) -> None:
    client = tracker.MlflowClient()
    tracker.register_model(logged, "taxi-duration")
    client.create_registered_model("other", tags={"k": "v"}, description="d")
    with pytest.raises(AlreadyExistsError):
        client.create_registered_model("other")
    client.rename_registered_model("taxi-duration", "taxi")
    names = [m.name for m in client.search_registered_models(order_by=["name"])]
    assert names == ["other", "taxi"]
    assert [m.name for m in client.search_registered_models("name LIKE 'ta%'")] == ["taxi"]
    assert client.get_model_version("taxi", 1).name == "taxi"
    client.delete_registered_model("other")
    with pytest.raises(NotFoundError, match="registered models: 'taxi'"):
        client.get_registered_model("other")
    # a new model with a deleted model's name starts again at version 1
    assert tracker.register_model(logged, "other").version == 1
    run_id = logged.split("/")[1]
    found = client.search_model_versions(f"run_id = '{run_id}'")
    assert sorted((v.name, v.version) for v in found) == [("other", 1), ("taxi", 1)]


def test_model_uris_resolve_and_errors_list_what_exists(logged: str) -> None:
    client = tracker.MlflowClient()
    tracker.register_model(logged, "m")
    tracker.register_model(logged, "m")
    client.transition_model_version_stage("m", 1, "Production")
    client.set_registered_model_alias("m", "champion", 2)
    for uri, version in (("models:/m/1", 1), ("models:/m/Production", 1),
                         ("models:/m@champion", 2), ("models:/m/latest", 2)):
        resolved = resolve(client, uri)
        assert resolved.version is not None and resolved.version.version == version
        assert Path(resolved.local_path, "model.bin").read_bytes() == b"weights"
    assert Path(resolve(client, logged).local_path).is_dir()
    with pytest.raises(NotFoundError, match="versions: 1, 2"):
        resolve(client, "models:/m/7")
    with pytest.raises(NotFoundError, match="no version in stage 'Staging'"):
        resolve(client, "models:/m/Staging")
    with pytest.raises(NotFoundError, match="registered models: 'm'"):
        resolve(client, "models:/nope/1")
    with pytest.raises(NotFoundError, match="aliases: none|has no alias 'x'"):
        resolve(client, "models:/m@x")
    with pytest.raises(InvalidArgumentError, match="Invalid models URI"):
        resolve(client, "models:/m")
    with pytest.raises(NotFoundError, match="artifacts: \\['model'\\]"):
        resolve(client, logged.replace("/model", "/nothing"))
    with pytest.raises(InvalidArgumentError):
        resolve(client, "gs://bucket/model")


_REGISTER = """
import sys, tracker
tracker.set_tracking_uri(sys.argv[1])
print(tracker.register_model(sys.argv[2], "shared").version)
"""


def test_concurrent_registrations_get_distinct_versions(logged: str, store_uri: str) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _REGISTER, store_uri, logged],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    versions = sorted(int(out.strip()) for out, _ in outputs)
    assert versions == list(range(1, 9))
    listed = tracker.MlflowClient().search_model_versions("name = 'shared'")
    assert sorted(v.version for v in listed) == versions


def test_many_events_are_compacted_and_state_is_kept(logged: str, store_uri: str) -> None:
    client = tracker.MlflowClient()
    tracker.register_model(logged, "busy")
    for i in range(80):
        client.set_model_version_tag("busy", 1, f"k{i % 5}", str(i))
    folder = next(Path(store_uri, "registry").glob("model_id=*"))
    assert len(list(folder.glob("part-*.parquet"))) == 1
    assert len(list(folder.glob("seg-*.parquet"))) < 64
    assert client.get_model_version("busy", 1).tags == {f"k{j}": str(75 + j) for j in range(5)}
    fresh = tracker.registry.Registry(tracker.TrackerClient(store_uri).store)
    assert len(fresh.history("busy")) == 82


def test_lineage_links_data_run_files_version_and_history(store_uri: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text('{"flavors": {"sklearn": {}}, "files": {}}')
    (model_dir / "model.pkl").write_bytes(b"pickle-bytes")
    import json

    from tracker.artifacts import sha256_file

    manifest = {"flavors": {"sklearn": {}},
                "files": {"model.pkl": sha256_file(str(model_dir / "model.pkl"))}}
    (model_dir / "MLmodel").write_text(json.dumps(manifest))
    tracker.set_experiment("lineage")
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [0.0, 1.0]})
    ds = tracker.data.from_pandas(df, source="data/train.parquet", name="train", targets="y")
    with tracker.start_run() as run:
        tracker.log_input(ds, context="training")
        tracker.log_param("alpha", 0.1)
        tracker.log_metric("rmse", 5.5)
        tracker.log_artifacts(str(model_dir), artifact_path="model")
    tracker.register_model(f"runs:/{run.info.run_id}/model", "lm")
    client = tracker.MlflowClient()
    client.transition_model_version_stage("lm", 1, "Production", reason="beats baseline")
    client.set_registered_model_alias("lm", "champion", 1)
    lin = tracker.lineage("lm", 1)
    assert [(d.name, d.digest, d.context) for d in lin.datasets] == [("train", ds.digest, "training")]
    assert lin.run is not None and lin.run.data.params == {"alpha": "0.1"}
    assert lin.experiment is not None and lin.experiment.name == "lineage"
    assert lin.model_files.flavors == ["sklearn"]
    assert lin.model_files.verified is True and lin.model_files.files == manifest["files"]
    assert lin.stage == "Production" and lin.aliases == ["champion"]
    assert [e.event for e in lin.history][-2:] == ["version_stage", "alias_set"]
    assert lin.to_dict()["version"]["version"] == 1
    # a changed model file shows up as unverified
    stored = Path(lin.model_files.local_path or "", "model.pkl")
    stored.write_bytes(b"tampered")
    assert tracker.lineage("lm", 1).model_files.mismatched == ["model.pkl"]
