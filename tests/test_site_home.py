"""The home page answers "which model serves, and why" (#10), from a store in a real git
repository trained over two commits by a real script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Log the tuned runs")
    (repo / "train.py").write_text(TRAIN + "# fewer features\n")
    _git(repo, "commit", "-q", "-am", "Drop the distance feature")
    _train(repo, "xgb-fewer", "6.1", "no")
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
            text = path.read_text(errors="replace").replace("<wbr>", "")  # in names
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


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(), "html.parser")


def test_changes_page_has_one_entry_per_training_commit(repo: Path) -> None:
    site = repo / "site-changes"
    build(str(repo / "tracking"), site, strict=True)
    soup = _soup(site / "changes.html")
    entries = soup.select("article.change")
    titles = [" ".join(e.find("h2").get_text().split()) for e in entries]
    assert titles == ["Drop the distance feature", "Tune depth", "First model"]
    newest, tuned, first = entries
    shas = [e.select_one("code")["title"] for e in entries]
    assert [e["id"] for e in entries] == shas and all(len(s) == 40 for s in shas)
    def verdicts(e: Any) -> list[str]:
        return [" ".join(li.get_text(" ", strip=True).split()) for li in e.select(".verdicts li")]
    assert verdicts(newest)[0].startswith("regressed taxi : best rmse 6.1 (was 5.273)")
    assert verdicts(tuned)[0].startswith("improved taxi : best rmse 5.273 (was 5.4)")
    assert verdicts(first)[0].startswith("no baseline taxi : best rmse 5.4")
    runs = [a.get_text() for a in tuned.select("tbody th a")]
    assert sorted(runs) == ["xgb-v2", "xgb-worse"]
    events = [li.get_text() for li in tuned.select(".events li")]
    assert any("v2" in e and "Production" in e for e in events), events
    nav = [a.get_text() for a in _soup(site / "index.html").select("header nav a, nav a")]
    assert "Changes" in nav


def test_since_the_last_build_and_builds_as_entries_outside_git(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(TRAIN)  # /tmp is no git checkout: runs have no commit
    _train(tmp_path, "one", "3.0", "no")
    store = str(tmp_path / "tracking")
    site = tmp_path / "site"
    build(store, site)
    assert "first build" in _soup(site / "index.html").select_one("section.since").get_text()
    build(store, site)  # nothing changed: the panel stays as it was
    assert "first build" in _soup(site / "index.html").select_one("section.since").get_text()
    _train(tmp_path, "two", "4.0", "no")
    build(store, site)
    since = _soup(site / "index.html").select_one("section.since")
    text = " ".join(since.get_text(" ", strip=True).split())
    assert "1 new run: two" in text
    assert since.select_one("a[href^='runs/']").get_text() == "two"
    again = (site / "index.html").read_bytes()
    build(store, site)
    assert (site / "index.html").read_bytes() == again  # a rebuild keeps the same reference
    titles = [e.find("h2").get_text().strip() for e in _soup(site / "changes.html").select(
        "article.change")]
    assert titles == ["Build 2", "Build 1"]


def test_model_page_shows_each_versions_metric_and_change_vs_production(repo: Path) -> None:
    site = repo / "site-model"
    build(str(repo / "tracking"), site, strict=True)
    soup = _soup(site / "models" / "taxi-model.html")
    heads = [th.get_text(strip=True) for th in soup.select("table.versions thead th")]
    assert heads[:3] == ["Version", "Stage", "Primary metric"]
    rows = {tr["id"]: tr for tr in soup.select("table.versions tbody tr")}
    v2 = " ".join(rows["v2"].find_all("td")[1].get_text(" ", strip=True).split())
    assert v2 == "rmse 5.273 -2.4 % vs v1"
    assert "better" in rows["v2"].select_one(".delta")["class"]
    v1 = " ".join(rows["v1"].find_all("td")[1].get_text(" ", strip=True).split())
    assert v1 == "rmse 5.4"  # no version was in Production before it


@pytest.mark.parametrize(("record", "shown"), [
    ({"source": "/home/ada/data/green_2021-01.parquet", "source_type": "local"},
     ("green_2021-01.parquet", "local")),
    ({"source": "s3://bucket/taxi/green.parquet", "source_type": "s3"},
     ("s3://bucket/taxi/green.parquet", "s3")),
    ({"source": "", "source_type": "code"}, ("", "in memory (no source recorded)")),
])
def test_dataset_sources_as_published(record: dict[str, str], shown: tuple[str, str]) -> None:
    from tracker.site.pages.lineage import _source

    assert _source(record) == shown


def test_a_damaged_changes_state_costs_history_not_the_build(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    _train(tmp_path, "one", "3.0", "no")
    store, site = str(tmp_path / "tracking"), tmp_path / "site"
    build(store, site)
    state = site / ".tracker-cache" / "changes.json"
    state.write_text('{"state": ["1", {"builds": [{"n": "x", "runs": 3}, 7], '
                     '"current": [], "previous": {"runs": 5, "versions": {"m|1": 3}, '
                     '"best": {"e": "bad"}}}]}')
    build(store, site, strict=True)
    assert (site / "changes.html").is_file()
