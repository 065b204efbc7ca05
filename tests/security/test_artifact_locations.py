"""A run record cannot make the build read files outside the store (issue #15, critical row).

Each hostile run is written with tracker's own record writer, as a foreign branch or bucket
could: a RUNNING→FINISHED run whose ``artifact_uri`` names a local folder, ``/proc/self``, the
checkout, or another bucket, with artifact rows that list the files to steal.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tracker
from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.config import TrackerConfig, load_config
from tracker.exceptions import ConfigError
from tracker.runlog import RunLog
from tracker.site.build import BuildError, build

SECRET = "AKIAQWERTYUIOPASDFGH-canary-5f1c"


def _hostile_run(store: str, artifact_uri: str, files: dict[str, int]) -> str:
    """A finished run whose record says its artifacts are at ``artifact_uri``."""
    client = TrackerClient(store)
    known = client.get_experiment_by_name("hostile")
    eid = known.experiment_id if known else client.create_experiment("hostile")
    run_id = uuid.uuid4().hex
    run = RunLog(client.store, eid, run_id, is_new=True)
    for key, value in (("run_name", "innocent"), ("status", "RUNNING"), ("start_time", "1"),
                       ("artifact_uri", artifact_uri), ("lifecycle_stage", "active")):
        run.set_attribute(key, value, 1)
    run.log_metric("rmse", 1.0)
    for path, size in files.items():
        run.add_record("artifact", path, json.dumps({"sha256": "0" * 64}), size)
    run.end("FINISHED", 2)
    return run_id


def _published(site: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file())


@pytest.fixture
def secret_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "home" / ".aws"
    folder.mkdir(parents=True)
    (folder / "credentials").write_text(f"[default]\naws_access_key_id={SECRET}\n")
    return folder


def test_a_record_naming_a_local_folder_publishes_nothing_from_it(
    tmp_path: Path, secret_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = str(tmp_path / "store")
    run_id = _hostile_run(store, secret_dir.as_uri(), {"credentials": 40})
    result = build(store, tmp_path / "site")
    assert SECRET.encode() not in _published(tmp_path / "site")
    assert not list((tmp_path / "site").rglob("credentials*"))
    assert any(run_id in w and secret_dir.as_uri() in w and "not read" in w
               for w in result.warnings)
    with pytest.raises(BuildError, match=run_id):
        build(store, tmp_path / "site2", strict=True)


def test_proc_self_and_the_checkout_are_not_published(tmp_path: Path) -> None:
    checkout = tmp_path / "repo"
    (checkout / ".git").mkdir(parents=True)
    (checkout / ".git" / "config").write_text(f"[remote]\n  token = {SECRET}\n")
    store = str(checkout / "tracking")
    _hostile_run(store, "/proc/self", {"environ": 100, "cmdline": 10})
    _hostile_run(store, "/etc", {"passwd": 100})
    _hostile_run(store, (checkout / ".git").as_uri(), {"config": 100})
    _hostile_run(store, str(checkout / "tracking"), {"tracker-store.json": 10})
    build(store, tmp_path / "site")
    published = _published(tmp_path / "site")
    assert SECRET.encode() not in published
    assert b"root:x:0:0" not in published
    copies = [p.name for p in (tmp_path / "site").rglob("*") if p.is_file()]
    assert not {"environ", "cmdline", "passwd", "config", "tracker-store.json"} & set(copies)


def test_symlink_inside_the_store_artifacts_does_not_escape(
    tmp_path: Path, secret_dir: Path
) -> None:
    store = tmp_path / "store"
    tracker.set_tracking_uri(str(store))
    with tracker.start_run() as run:
        tracker.log_text("fine", "notes.txt")
    folder = Path(run.info.artifact_uri.removeprefix("file://"))
    (folder / "creds").symlink_to(secret_dir / "credentials")
    TrackerClient(str(store))._runlog(run.info.run_id)  # the run exists
    client = TrackerClient(str(store))
    client._runlog(run.info.run_id).add_record("artifact", "creds", "{}", 40)
    client._runlog(run.info.run_id).flush(final=False)
    build(str(store), tmp_path / "site")
    assert SECRET.encode() not in _published(tmp_path / "site")
    assert (tmp_path / "site").rglob("notes.txt")


def test_a_moved_store_finds_its_own_artifacts(tmp_path: Path) -> None:
    """A store logged at one path and built from another (a git clone in CI) still publishes
    its artifacts: the location is rebuilt from the run's ids, not read from the record."""
    store = tmp_path / "laptop" / "tracking"
    tracker.set_tracking_uri(str(store))
    with tracker.start_run():
        tracker.log_text("hello from the laptop", "notes.txt")
    moved = tmp_path / "ci" / "tracking"
    moved.parent.mkdir()
    store.rename(moved)
    result = build(str(moved), tmp_path / "site", strict=True)
    copies = [p for p in (tmp_path / "site").rglob("notes.txt*")]
    assert copies and copies[0].read_text() == "hello from the laptop"
    assert result.warnings == []


def test_declared_locations_are_read_and_others_are_not(tmp_path: Path, secret_dir: Path) -> None:
    bulk = tmp_path / "bulk"
    tracker.set_tracking_uri(str(tmp_path / "store"))
    tracker.create_experiment("big", artifact_location=str(bulk))
    tracker.set_experiment("big")
    with tracker.start_run():
        tracker.log_text("big result", "result.txt")
    store = str(tmp_path / "store")
    _hostile_run(store, secret_dir.as_uri(), {"credentials": 40})

    undeclared = build(store, tmp_path / "site-a")
    assert not list((tmp_path / "site-a").rglob("result.txt*"))
    assert any(str(bulk) in w for w in undeclared.warnings)

    (tmp_path / "tracker.toml").write_text('artifact_locations = ["bulk"]\n')
    config = load_config(tmp_path / "tracker.toml")
    assert config.artifact_locations == (str(bulk.resolve()),)
    declared = build(store, tmp_path / "site-b", config=config)
    assert [p.read_text() for p in (tmp_path / "site-b").rglob("result.txt*")] == ["big result"]
    assert SECRET.encode() not in _published(tmp_path / "site-b")
    assert len(declared.warnings) == 1 and secret_dir.as_uri() in declared.warnings[0]


def test_another_bucket_is_not_read(s3_bucket: str, moto_endpoint: str, tmp_path: Path) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="private-bucket")
    s3.put_object(Bucket="private-bucket", Key="keys/prod.txt", Body=SECRET.encode())
    store = f"s3://{s3_bucket}/store"
    _hostile_run(store, "s3://private-bucket/keys", {"prod.txt": len(SECRET)})
    result = build(store, tmp_path / "site")
    assert SECRET.encode() not in _published(tmp_path / "site")
    assert any("s3://private-bucket/keys" in w for w in result.warnings)


def test_doctor_reports_a_foreign_artifact_location(tmp_path: Path, secret_dir: Path) -> None:
    store = str(tmp_path / "store")
    run_id = _hostile_run(store, "/proc/self", {"environ": 1})
    tracker.set_tracking_uri(store)
    with tracker.start_run():
        tracker.log_text("fine", "ok.txt")
    result = CliRunner().invoke(cli, ["doctor", "--store", store, "--format", "json"])
    findings: list[dict[str, Any]] = json.loads(result.output)
    flagged = [f for f in findings if f["check"] == "artifact-location"]
    assert [f["subject"] for f in flagged] == [run_id]
    assert "/proc/self" in flagged[0]["message"]
    assert "artifact_locations" in flagged[0]["fix"]


@pytest.mark.parametrize("value", [["http://example.com/x"], ["s3://b/../x"], [""], "a\x00b"])
def test_bad_artifact_locations_in_the_config_are_errors(tmp_path: Path, value: Any) -> None:
    (tmp_path / "tracker.toml").write_text(f"artifact_locations = {json.dumps(value)}\n")
    with pytest.raises(ConfigError, match="artifact_locations"):
        load_config(tmp_path / "tracker.toml")


def test_default_config_declares_nothing() -> None:
    assert TrackerConfig().artifact_locations == ()
