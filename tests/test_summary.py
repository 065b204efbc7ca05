"""``tracker summary``: new and changed runs since a git ref or a snapshot folder, as text and
as Markdown, in a real git repository (baseline runs committed on main, new runs on a branch)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import markdown
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner, Result

from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.exceptions import InvalidArgumentError
from tracker.summary import (
    IMPROVED,
    REGRESSED,
    RunState,
    Snapshot,
    md,
    read_snapshot,
    summarize,
    to_markdown,
)

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
SITE = "https://me.github.io/proj/"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    out = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return out.stdout


def log_run(
    store: Path,
    experiment: str,
    name: str,
    metrics: dict[str, float],
    params: dict[str, str] | None = None,
    *,
    finish: bool = True,
) -> str:
    """One run with its latest metrics; FINISHED unless ``finish`` is false (then RUNNING)."""
    client = TrackerClient(str(store))
    found = client.get_experiment_by_name(experiment)
    exp_id = found.experiment_id if found else client.create_experiment(experiment)
    run_id = client.create_run(exp_id, start_time=T0, run_name=name).info.run_id
    for key, value in (params or {}).items():
        client.log_param(run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value, timestamp=T0 + 1000, step=0)
    if finish:
        client.set_terminated(run_id, end_time=T0 + 60_000)
    client.flush()
    return run_id


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(autouse=True)
def _no_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """In GitHub Actions this is set: the tests must not write into the real job summary."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo whose ``main`` has a store with two finished runs of ``taxi`` and one of
    ``beta``; the branch ``feature`` is checked out, with nothing new yet."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    store = root / "tracking"
    log_run(store, "taxi", "lasso", {"rmse": 5.0, "accuracy": 0.70}, {"model": "lasso"})
    log_run(store, "taxi", "xgb", {"rmse": 4.0, "accuracy": 0.80}, {"model": "xgboost"})
    log_run(store, "beta", "beta-0", {"loss": 0.5})
    commit_all(root, "baseline runs")
    git(root, "checkout", "-q", "-b", "feature")
    return root


def summary_cli(repo: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    store = str(repo / "tracking")
    return CliRunner().invoke(cli, ["--store", store, "summary", *args], env=env)


def test_an_improving_branch_reports_the_new_best(repo: Path) -> None:
    log_run(
        repo / "tracking",
        "taxi",
        "xgb-tuned",
        {"rmse": 3.5, "accuracy": 0.85},
        {"model": "xgboost", "max_depth": "6"},
    )
    commit_all(repo, "tuned")
    result = summary_cli(repo, "--fail-on-regression")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    commit = git(repo, "rev-parse", "main").strip()[:8]
    assert lines[0] == (
        f"1 new or changed run in 1 experiment since main ({commit}): 2 new best, 0 regressions."
    )
    assert "Experiment taxi" in lines
    assert "Experiment beta" not in lines  # nothing new there
    assert _row(lines, "accuracy").split() == [
        "accuracy",
        "higher",
        "0.8",
        "(xgb)",
        "0.85",
        "(xgb-tuned)",
        "improved",
        "(+0.05)",
    ]
    assert _row(lines, "rmse").split() == [
        "rmse",
        "lower",
        "4",
        "(xgb)",
        "3.5",
        "(xgb-tuned)",
        "improved",
        "(-0.5)",
    ]
    run = _row(lines, "xgb-tuned")
    assert "FINISHED" in run and "new" in run and "3.5 (new best)" in run
    assert "max_depth=6, model=xgboost" in run


def test_a_regressing_branch_fails_with_fail_on_regression(repo: Path) -> None:
    log_run(repo / "tracking", "taxi", "worse", {"rmse": 4.5, "accuracy": 0.75})
    commit_all(repo, "worse")
    result = summary_cli(repo, "--fail-on-regression", "--markdown")
    assert result.exit_code == 3, result.output
    assert "tracker: 2 regression(s) since main" in result.stderr
    assert "| rmse | lower | 4 (xgb) | 4.5 (worse) | ❌ regressed (+0.5) |" in result.stdout
    # The run cell is "worse <id prefix>" (a random id: it may well start with "0").
    assert re.search(r"^\| worse [0-9a-f]{8} \| FINISHED \| new \|", result.stdout, re.M)
    assert " | FINISHED | new | 0.75 (-0.05 vs best) | 4.5 (+0.5 vs best) |  |" in result.stdout
    # Without the flag a regression is reported but the exit code stays 0.
    assert summary_cli(repo).exit_code == 0


def test_a_failed_run_competes_for_nothing(repo: Path) -> None:
    client = TrackerClient(str(repo / "tracking"))
    run_id = log_run(repo / "tracking", "taxi", "crashed", {"rmse": 9.0}, finish=False)
    client.set_terminated(run_id, "FAILED")
    result = summary_cli(repo, "--fail-on-regression")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert _row(lines, "rmse").split() == [
        "rmse",
        "lower",
        "4",
        "(xgb)",
        "none",
        "no",
        "finished",
        "run",
    ]
    assert _row(lines, "crashed").split()[2:5] == ["FAILED", "new", "9"]


def test_a_run_that_finished_since_the_baseline_is_changed(repo: Path) -> None:
    git(repo, "checkout", "-q", "main")
    run_id = log_run(repo / "tracking", "taxi", "long", {"rmse": 4.8}, finish=False)
    commit_all(repo, "a run still going")
    git(repo, "checkout", "-q", "-b", "later")
    client = TrackerClient(str(repo / "tracking"))
    client.log_metric(run_id, "rmse", 3.0, timestamp=T0 + 5000, step=1)
    client.set_terminated(run_id)
    client.flush()
    lines = summary_cli(repo).stdout.splitlines()
    assert "changed" in _row(lines, "long").split()
    assert "3 (new best)" in _row(lines, "long")


def test_no_new_runs_says_so(repo: Path) -> None:
    result = summary_cli(repo, "--markdown")
    assert result.exit_code == 0
    assert "No new or changed runs since main (" in result.stdout
    assert "| run |" not in result.stdout


def test_a_snapshot_folder_is_a_baseline_too(repo: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(repo / "tracking", snapshot)
    log_run(repo / "tracking", "beta", "beta-1", {"loss": 0.25})
    result = summary_cli(repo, "--baseline", str(snapshot))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"1 new or changed run in 1 experiment since the snapshot {snapshot}: "
        "1 new best, 0 regressions."
    )
    assert _row(lines, "loss").split()[:4] == ["loss", "lower", "0.5", "(beta-0)"]


def test_an_empty_folder_baseline_lists_every_run_as_new(repo: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = summary_cli(repo, "--baseline", str(empty))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("3 new or changed runs in 2 experiments since the snapshot")
    assert "no baseline" in _row(result.stdout.splitlines(), "rmse")


def test_a_folder_that_is_not_a_store_is_refused(repo: Path) -> None:
    result = summary_cli(repo, "--baseline", str(repo))
    assert result.exit_code == 1
    assert (
        f"Baseline folder '{repo}' is not a store snapshot: it has no tracker-store.json."
        in result.stderr
    )


def test_runs_gone_since_the_baseline_are_listed(repo: Path, tmp_path: Path) -> None:
    client = TrackerClient(str(repo / "tracking"))
    lasso = next(
        r for r in read_snapshot(str(repo / "tracking")).runs.values() if r.name == "lasso"
    )
    client.delete_run(lasso.run_id)
    client.flush()
    result = summary_cli(repo)
    assert result.stdout.splitlines()[-1] == "1 baseline run(s) no longer in the store: lasso"


# -- errors -------------------------------------------------------------------------------------


def test_a_store_outside_git_needs_a_folder_baseline(tmp_path: Path) -> None:
    store = tmp_path / "store"
    log_run(store, "taxi", "a", {"rmse": 1.0})
    result = CliRunner().invoke(cli, ["--store", str(store), "summary"])
    assert result.exit_code == 1
    assert (
        f"Baseline 'main' is not a folder, and the store {store.resolve()} is not in a git "
        "repository" in result.stderr
    )


def test_an_unknown_ref_is_named(repo: Path) -> None:
    result = summary_cli(repo, "--baseline", "nope")
    assert result.exit_code == 1
    assert "Baseline 'nope' is neither a folder nor a git ref of the repository at" in result.stderr
    assert "fetch-depth: 0" in result.stderr
    assert summary_cli(repo, "--baseline", "--help=x").exit_code != 0


def test_a_ref_without_the_store_is_named(repo: Path) -> None:
    empty_tree = git(repo, "mktree").strip()
    commit = git(repo, "commit-tree", empty_tree, "-m", "nothing yet").strip()
    git(repo, "branch", "bare", commit)
    result = summary_cli(repo, "--baseline", "bare")
    assert result.exit_code == 1
    assert "The store folder 'tracking' does not exist at bare (" in result.stderr


def test_a_bad_site_url_is_refused(repo: Path) -> None:
    result = summary_cli(repo, "--site-url", "javascript:alert(1)")
    assert result.exit_code == 1
    assert "Site URL 'javascript:alert(1)': give an http(s) URL" in result.stderr


# -- output -------------------------------------------------------------------------------------


def test_markdown_links_names_to_the_site(repo: Path) -> None:
    run_id = log_run(repo / "tracking", "taxi", "xgb-tuned", {"rmse": 3.5})
    out = summary_cli(repo, "--markdown", "--site-url", SITE).stdout
    assert f"#### Experiment [taxi](<{SITE}experiments/taxi.html>)" in out
    assert f"| [xgb-tuned](<{SITE}runs/{run_id}.html>) {run_id[:8]} | FINISHED | new |" in out


def test_the_github_step_summary_gets_the_markdown(repo: Path, tmp_path: Path) -> None:
    log_run(repo / "tracking", "taxi", "xgb-tuned", {"rmse": 3.5})
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    result = summary_cli(repo, env={"GITHUB_STEP_SUMMARY": str(step_summary)})
    assert result.stdout.startswith("1 new or changed run")  # plain text on stdout
    written = step_summary.read_text()
    assert written.startswith("earlier step\n### Tracker summary\n")
    assert "| rmse | lower | 4 (xgb) | 3.5 (xgb-tuned) | ✅ improved (-0.5) |" in written
    # --output writes the report there, and the step summary is left alone.
    report = tmp_path / "report.md"
    result = summary_cli(
        repo, "--markdown", "--output", str(report), env={"GITHUB_STEP_SUMMARY": str(step_summary)}
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert report.read_text().startswith("### Tracker summary\n")
    assert step_summary.read_text() == written


HOSTILE = "x|y `code` <script>alert(1)</script> **bold** [link](https://evil.example) @team"


def test_markdown_escapes_hostile_names_and_values(repo: Path) -> None:
    log_run(repo / "tracking", HOSTILE, HOSTILE, {"rmse": 1.0}, {"note": HOSTILE})
    log_run(repo / "tracking", "taxi", HOSTILE, {"rmse": 3.0}, {"note": "a|b"})
    text = summary_cli(repo, "--markdown", "--site-url", SITE).stdout
    assert "<script" not in text and "@team" not in text
    html = markdown.markdown(text, extensions=["tables"])
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None and soup.find("strong") is None
    assert soup.find("code") is None
    shown = HOSTILE.replace("@", "@\u200b")
    headings = [h.get_text() for h in soup.find_all("h4")]
    assert f"Experiment {shown}" in headings
    tables = soup.find_all("table")
    for table in tables:  # every row has as many cells as the header: no pipe broke out
        widths = {len(tr.find_all(["td", "th"])) for tr in table.find_all("tr")}
        assert len(widths) == 1
    run_cells = [td for table in tables for td in table.find_all("td")]
    links = [a for td in run_cells for a in td.find_all("a")]
    assert {a["href"] for a in links} <= {
        f"{SITE}runs/{r}.html" for r in read_snapshot(str(repo / "tracking")).runs
    }
    assert any(a.get_text() == shown for a in links)
    assert any(td.get_text() == f"note={shown}" for td in run_cells)
    assert any(td.get_text() == "note=a|b" for td in run_cells)


def test_md_escapes_each_kind_of_syntax() -> None:
    assert md("a|b") == "a\\|b"
    assert md("`x`") == "\\`x\\`"
    assert md("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md("&lt;") == "&amp;lt;"
    assert md("*a* _b_ [c] ~d~ \\") == "\\*a\\* \\_b\\_ \\[c\\] \\~d\\~ \\\\"
    assert md("line\nbreak") == "line break"
    assert md("@org/team") == "@\u200borg/team"


def test_redact_hides_param_values_and_names() -> None:
    def snapshot(*runs: tuple[str, str, float, dict[str, str]]) -> Snapshot:
        states = {
            rid: RunState(rid, "1", name, "FINISHED", {"rmse": v}, p) for rid, name, v, p in runs
        }
        return Snapshot({"1": "taxi"}, states)

    before = snapshot(("a", "base", 4.0, {}))
    after = snapshot(("a", "base", 4.0, {}), ("b", "new", 3.0, {"token": "s3cr3t", "k": "v"}))
    result = summarize(after, before, "main")
    assert [m.verdict for m in result.experiments[0].metrics] == [IMPROVED]

    def redact(key: str, value: str) -> str:
        return "[redacted]" if key == "token" else value

    text = to_markdown(result, redact=redact)
    assert "s3cr3t" not in text
    assert "k=v, token=\\[redacted\\]" in text
    regressed = summarize(before, after, "main")  # nothing new: no verdicts at all
    assert regressed.experiments == []
    worse = summarize(snapshot(("a", "base", 4.0, {}), ("c", "c", 5.0, {})), before, "main")
    assert [m.verdict for m in worse.experiments[0].metrics] == [REGRESSED]


def test_a_direction_override_must_be_min_or_max() -> None:
    empty = Snapshot({}, {})
    with pytest.raises(InvalidArgumentError, match="Metric direction of 'rmse' is 'up'"):
        summarize(empty, empty, "main", directions={"rmse": "up"})


def _row(lines: list[str], first: str) -> str:
    """The table line whose first cell is ``first``."""
    found = [line for line in lines if line.split("  ")[0].strip() == first]
    assert found, f"no row {first!r} in:\n" + "\n".join(lines)
    return found[0]


def test_the_cli_redacts_by_the_project_rules(repo: Path) -> None:
    log_run(
        repo / "tracking",
        "taxi",
        "leaky",
        {"rmse": 3.0},
        {"db_password": "pr-secret-77", "note": "AKIAQWERTYUIOPASDFGH", "model": "xgboost"},
    )
    for args in ([], ["--markdown"]):
        result = summary_cli(repo, *args)
        assert result.exit_code == 0, result.output
        assert "pr-secret-77" not in result.output and "AKIAQWERTYUIOPASDFGH" not in result.output
        marker = r"\[redacted\]" if args else "[redacted]"  # Markdown escapes the brackets
        assert result.output.count(marker) == 2 and "model=xgboost" in result.output


def test_the_summary_shows_what_the_site_shows(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#15: the summary reads through the site's publish rules: hidden experiments are left
    out, and names (experiment, run, param and metric keys) are redacted like on the site."""
    store = repo / "tracking"
    aws = "AKIAQWERTYUIOPASDFGH"
    log_run(store, "taxi", f"creds_{aws}", {"rmse": 3.0, f"val_{aws}_rmse": 1.0}, {f"note {aws}": "x"})
    log_run(store, f"team ASIA{aws[4:]}", "other", {"rmse": 2.0})
    log_run(store, "scratch-1", "hidden-run", {"rmse": 1.0})
    (repo / "tracker.toml").write_text('[experiments]\nexclude = ["scratch-*"]\n')
    monkeypatch.chdir(repo)
    for args in ([], ["--markdown"]):
        result = summary_cli(repo, *args)
        assert result.exit_code == 0, result.output
        assert aws not in result.output and f"ASIA{aws[4:]}" not in result.output
        assert "hidden-run" not in result.output and "scratch-1" not in result.output
        assert "2 new or changed runs in 2 experiments" in result.output
        shown = result.output.replace("\\", "")  # Markdown escapes _ and [
        assert "val_[redacted~" in shown and "]_rmse" in shown  # still an rmse: compared
        assert "creds_[redacted]" in shown and "team [redacted]" in shown
