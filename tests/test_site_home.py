"""The home page answers "which model serves, and why" (#10), from a store in a real git
repository trained over two commits by a real script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tracker.client import TrackerClient
from tracker.site.build import build

ROOT = Path(__file__).resolve().parents[1]
TRAIN = """
import sys
import tracker

tracker.set_tracking_uri("tracking")
tracker.set_experiment("taxi")
name, rmse, promote = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "promote"
with tracker.start_run(run_name=name) as run:
    tracker.log_metric("rmse", rmse)
    tracker.log_metric("best_iteration", 40)
    if name == "lasso":
        tracker.set_tag("baseline", "true")
if promote:
    version = tracker.register_model(f"runs:/{run.info.run_id}/model", "taxi-model")
    tracker.MlflowClient().transition_model_version_stage(
        "taxi-model", version.version, "Production", archive_existing_versions=True)
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def _train(repo: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRACKER_TRACKING_URI", None)
    subprocess.run([sys.executable, "train.py", *args], cwd=repo, check=True, env=env,
                   capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("home") / "proj"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Ada")
    _git(repo, "config", "user.email", "ada@example.com")
    (repo / "train.py").write_text(TRAIN)
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "First model")
    _train(repo, "lasso", "6.0", "no")
    _train(repo, "xgb-v1", "5.4", "promote")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Log the first runs")
    (repo / "train.py").write_text(TRAIN + "# deeper trees\n")
    _git(repo, "commit", "-q", "-am", "Tune depth")
    _train(repo, "xgb-v2", "5.273", "promote")
    _train(repo, "xgb-worse", "7.5", "no")
    return repo


def test_home_shows_the_champion_its_metric_change_and_why(repo: Path) -> None:
    site = repo / "site"
    build(str(repo / "tracking"), site, strict=True)
    soup = BeautifulSoup((site / "index.html").read_text(), "html.parser")
    card = soup.select_one("section.champions article.card")
    assert card is not None
    title = " ".join(card.find("h3").get_text(" ", strip=True).split())
    assert title == "taxi-model v2 Production"
    assert card.select_one(".big").get_text() == "5.273"
    delta = card.select_one(".delta")
    assert "better" in delta["class"] and "-2.4 %" in delta.get_text() and "v1" in delta.get_text()
    why = card.select_one(".why").get_text()
    assert why.startswith("v2 replaced v1 as Production on ")
    assert "rmse 5.273 vs 5.4 (-2.4 %)" in why and "'Tune depth'" in why
    baseline = " ".join(card.get_text(" ", strip=True).split())
    assert "Baseline lasso : 6 (-12.1 % to the serving version)" in baseline
    assert "Production since" in baseline


def test_runs_record_where_the_code_came_from_without_local_paths(repo: Path) -> None:
    client = TrackerClient(str(repo / "tracking"))
    runs = {r["run_name"]: r["run_id"] for r in
            client.sql("select run_name, run_id from runs").to_dict("records")}
    tags = client.get_run(runs["xgb-v2"]).data.tags
    assert tags["tracker.source.path"] == "train.py"
    assert tags["tracker.source.git.message"] == "Tune depth"
    # train.py was committed and unchanged when xgb-v2 trained; the store itself is untracked
    assert tags["tracker.source.git.dirty"] == "false"
    first = client.get_run(runs["lasso"]).data.tags
    assert first["tracker.source.git.message"] == "First model"
    build(str(repo / "tracking"), repo / "site2")
    home = str(Path.home())
    for path in (repo / "site2").rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".js", ".csv", ".xml"):
            text = path.read_text(errors="replace")
            assert str(repo) not in text, path
            assert home == "/" or home not in text, path


def test_an_untracked_script_makes_the_run_dirty(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Ada")
    _git(repo, "config", "user.email", "ada@example.com")
    (repo / "README").write_text("x")
    _git(repo, "add", "README")
    _git(repo, "commit", "-q", "-m", "init")
    (repo / "train.py").write_text(TRAIN)
    _train(repo, "draft", "3.0", "no")
    client = TrackerClient(str(repo / "tracking"))
    run_id = client.sql("select run_id from runs")["run_id"][0]
    assert client.get_run(run_id).data.tags["tracker.source.git.dirty"] == "true"
