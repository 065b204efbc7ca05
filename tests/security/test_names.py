"""Bad artifact names raise a tracker error naming the value and the rule (#15), never a bare
``ValueError`` ("embedded null byte") or ``OSError`` ("File name too long") from the OS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tracker
from tracker.client import TrackerClient
from tracker.exceptions import InvalidArgumentError, TrackerError

BAD_NAMES = {
    "nul": ("a\x00b.txt", "NUL byte"),
    "long name": ("x" * 300 + ".txt", "at most 255 bytes"),
    "long folder": ("d/" + "y" * 256 + "/f.txt", "at most 255 bytes"),
    "long path": ("/".join(["abcdefgh"] * 600) + "/f.txt", "at most 1000 bytes"),
    "long utf-8": ("é" * 200 + ".txt", "at most 255 bytes"),  # 400 bytes in 204 characters
}


@pytest.fixture
def run(tmp_path: Path) -> tuple[TrackerClient, str, Path]:
    client = TrackerClient(str(tmp_path / "store"))
    run_id = client.create_run(client.create_experiment("names")).info.run_id
    local = tmp_path / "f.txt"
    local.write_text("x")
    return client, run_id, local


def calls(client: TrackerClient, run_id: str, local: Path, name: str, tmp: Path) -> dict[
    str, Callable[[], Any]
]:
    return {
        "log_artifact": lambda: client.log_artifact(run_id, str(local), name),
        "log_artifacts": lambda: client.log_artifacts(run_id, str(local.parent), name),
        "log_text": lambda: client.log_text(run_id, "hello", name),
        "log_dict": lambda: client.log_dict(run_id, {"a": 1}, name),
        "list_artifacts": lambda: client.list_artifacts(run_id, name),
        "download_artifacts": lambda: client.download_artifacts(run_id, name, str(tmp / "dl")),
    }


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_bad_artifact_names_raise_a_tracker_error(
    run: tuple[TrackerClient, str, Path], tmp_path: Path, case: str
) -> None:
    client, run_id, local = run
    name, rule = BAD_NAMES[case]
    for method, call in calls(client, run_id, local, name, tmp_path).items():
        with pytest.raises(InvalidArgumentError) as err:
            call()
        message = str(err.value)
        assert rule in message, (method, message)
        assert repr(name)[:30] in message, (method, message)  # names the bad value
    assert client.list_artifacts(run_id) == []  # nothing was written


def test_fluent_functions_raise_the_same_errors(tmp_path: Path) -> None:
    tracker.set_tracking_uri(str(tmp_path / "store"))
    with tracker.start_run():
        for call in (lambda: tracker.log_text("hi", "a\x00b.txt"),
                     lambda: tracker.log_dict({}, "x" * 300 + ".json")):
            with pytest.raises(TrackerError, match="artifact_file"):
                call()


def test_a_nul_byte_in_a_local_path_is_a_tracker_error(
    run: tuple[TrackerClient, str, Path], tmp_path: Path
) -> None:
    client, run_id, local = run
    client.log_text(run_id, "hello", "ok.txt")
    with pytest.raises(InvalidArgumentError, match="local_path.*NUL"):
        client.log_artifact(run_id, str(local) + "\x00.txt")
    with pytest.raises(InvalidArgumentError, match="dst_path.*NUL"):
        client.download_artifacts(run_id, "ok.txt", str(tmp_path / "d\x00l"))


def test_log_dict_refuses_a_name_that_is_not_a_string(
    run: tuple[TrackerClient, str, Path],
) -> None:
    client, run_id, _ = run
    with pytest.raises(InvalidArgumentError, match="artifact_file must be a string, got 42"):
        client.log_dict(run_id, {}, 42)  # type: ignore[arg-type]


def test_the_artifact_repo_itself_checks_local_paths(tmp_path: Path) -> None:
    from tracker.artifacts import ArtifactRepo

    repo = ArtifactRepo(str(tmp_path / "arts"))
    with pytest.raises(InvalidArgumentError, match="local_path.*NUL"):
        repo.log_file(str(tmp_path / "a\x00b"))
    with pytest.raises(InvalidArgumentError, match="local_dir.*NUL"):
        repo.log_dir(str(tmp_path / "a\x00b"))
    with pytest.raises(InvalidArgumentError, match="dst_path.*NUL"):
        repo.download("x.txt", str(tmp_path / "a\x00b"))
