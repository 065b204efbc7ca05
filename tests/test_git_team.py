"""A team store in git, with real git: two clones log (and compact) on their own, then merge.

Runs merge without a git conflict because every file name is unique. Two registrations of the
same version number are a real conflict (an add/add conflict in the claim file); ``tracker
doctor`` finds it and ``tracker doctor --fix`` resolves it by appending events.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tracker
from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.store.compact import compact

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

GITATTRIBUTES = "*.parquet binary\n"


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=check, timeout=60
    )


def tracker_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def clones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A bare origin with a .gitattributes on main, cloned as alice and bob."""
    monkeypatch.chdir(tmp_path)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    people = []
    for name in ("alice", "bob"):
        repo = tmp_path / name
        subprocess.run(
            ["git", "clone", "-q", str(origin), str(repo)], check=True, capture_output=True
        )
        git(repo, "config", "user.name", name)
        git(repo, "config", "user.email", f"{name}@example.com")
        git(repo, "checkout", "-q", "-B", "main")
        people.append(repo)
    alice, bob = people
    (alice / ".gitattributes").write_text(GITATTRIBUTES)
    _commit(alice, "gitattributes")
    git(alice, "push", "-q", "origin", "main")
    git(bob, "pull", "-q", "origin", "main")
    return alice, bob


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def _log_runs(repo: Path, experiment: str, names: list[str]) -> list[str]:
    tracker.set_tracking_uri(str(repo / "tracking"))
    tracker.set_experiment(experiment)
    ids = []
    for i, name in enumerate(names):
        with tracker.start_run(run_name=name) as run:
            tracker.log_param("who", repo.name)
            for step in range(3):
                tracker.log_metric("rmse", 10.0 - i - step, step=step)
            tracker.log_text(f"notes of {name}", "notes.txt")
        ids.append(run.info.run_id)
    return ids


def _runs(repo: Path) -> dict[str, str]:
    frame = TrackerClient(str(repo / "tracking")).sql("SELECT run_id, run_name FROM runs")
    return {str(r): str(n) for r, n in frame.itertuples(index=False, name=None)}


def test_two_clones_log_compact_and_merge_without_conflicts(clones: tuple[Path, Path]) -> None:
    alice, bob = clones
    base = _log_runs(alice, "taxi", ["base"])
    _commit(alice, "base run")
    git(alice, "push", "-q", "origin", "main")
    git(bob, "pull", "-q", "origin", "main")

    ids = _log_runs(alice, "taxi", ["a1", "a2"])
    compact(TrackerClient(str(alice / "tracking")).store)  # both sides compact the base run
    _commit(alice, "alice's runs")
    git(alice, "push", "-q", "origin", "main")
    ids += _log_runs(bob, "taxi", ["b1"]) + _log_runs(bob, "other", ["b2"])
    compact(TrackerClient(str(bob / "tracking")).store)
    _commit(bob, "bob's runs")

    merged = git(bob, "pull", "--no-rebase", "--no-edit", "origin", "main", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert git(bob, "status", "--porcelain").stdout == ""
    runs = _runs(bob)
    assert runs == {i: n for i, n in zip(base + ids, ["base", "a1", "a2", "b1", "b2"])}
    rmse = TrackerClient(str(bob / "tracking")).sql(
        "SELECT count(*) AS n FROM metrics WHERE run_id = $id", {"id": base[0]}
    )
    assert int(rmse["n"][0]) == 3  # two parts hold the base run; it is read once
    names = tracker_cli("--store", str(bob / "tracking"), "experiments", "list", "--json")
    assert sorted(e["name"] for e in json.loads(names.stdout)) == ["Default", "other", "taxi"]

    built = tracker_cli("--store", str(bob / "tracking"), "build", "--out", "site", "--strict")
    assert built.exit_code == 0, built.output
    for run_id in runs:
        assert Path("site", "runs", f"{run_id}.html").is_file()
    doctor = tracker_cli("--store", str(bob / "tracking"), "doctor")
    assert (doctor.exit_code, doctor.stdout) == (0, "No problems found.\n"), doctor.output


def _register(repo: Path, run_name: str) -> tuple[str, int]:
    [run_id] = _log_runs(repo, "taxi", [run_name])
    client = TrackerClient(str(repo / "tracking"))
    version = client.create_model_version("taxi", f"runs:/{run_id}/model", run_id=run_id)
    return run_id, version.version


def test_a_version_registered_on_two_branches_is_found_and_resolved(
    clones: tuple[Path, Path],
) -> None:
    alice, bob = clones
    first, number = _register(alice, "first")
    assert number == 1
    _commit(alice, "v1")
    git(alice, "push", "-q", "origin", "main")
    git(bob, "pull", "-q", "origin", "main")

    run_a, number_a = _register(alice, "alice")
    _commit(alice, "alice registers v2")
    git(alice, "push", "-q", "origin", "main")
    run_b, number_b = _register(bob, "bob")
    _commit(bob, "bob registers v2")
    assert number_a == number_b == 2

    pulled = git(bob, "pull", "--no-rebase", "--no-edit", "origin", "main", check=False)
    assert pulled.returncode != 0
    assert "CONFLICT (add/add)" in pulled.stdout
    unmerged = git(bob, "diff", "--name-only", "--diff-filter=U").stdout.split()
    assert len(unmerged) == 1 and unmerged[0].endswith("/versions/v-00000002.json")
    claim = bob / unmerged[0]
    assert claim.read_text().startswith("<<<<<<< HEAD\n")

    store = str(bob / "tracking")
    found = tracker_cli("--store", store, "doctor")
    assert found.exit_code == 1
    sha = git(bob, "rev-parse", "origin/main").stdout.strip()
    assert (
        f"ERROR [registry] taxi v2: version 2 of model 'taxi' is registered 2 times (runs "
        f"{run_b}, {run_a}); its claim file {unmerged[0].removeprefix('tracking/')} has git "
        f"conflict markers (HEAD: run {run_b}, {sha}: run {run_a})"
    ) in found.stdout

    # The default branch (origin/main, "theirs" in a pull) keeps version 2.
    git(bob, "checkout", "--theirs", unmerged[0])
    fixed = tracker_cli("--store", store, "doctor", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert fixed.stdout == "No problems found.\n"
    versions = {v.version: v.run_id for v in TrackerClient(store).search_model_versions()}
    assert versions == {1: first, 2: run_a, 3: run_b}
    assert json.loads(claim.read_text())["run_id"] == run_a

    _commit(bob, "merge; bob's registration becomes v3")
    git(bob, "push", "-q", "origin", "main")
    git(alice, "pull", "-q", "--no-rebase", "origin", "main")
    versions = {
        v.version: v.run_id for v in TrackerClient(str(alice / "tracking")).search_model_versions()
    }
    assert versions == {1: first, 2: run_a, 3: run_b}
    # Registering again after the merge takes the next free number.
    assert _register(alice, "later")[1] == 4
    built = tracker_cli("--store", str(alice / "tracking"), "build", "--out", "site", "--strict")
    assert built.exit_code == 0, built.output
    model_pages = list((Path("site") / "models").glob("*.html"))
    assert any("kept v2 for one of two registrations merged from git branches; the other "
               "registration became v3" in page.read_text(encoding="utf-8") for page in model_pages)
