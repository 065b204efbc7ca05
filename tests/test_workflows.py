"""The GitHub Actions workflows (#6): valid against GitHub's schema, wired to the scripts in
``scripts/ci/``, and those scripts run here for real: the Pages build against a real store
(link-checked), and the PR summary against a real git repository, with a local HTTP server
standing in for GitHub's REST API (GitHub itself cannot run here)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.ci import pr_summary
from tests.test_site_build import REPORT, link_problems, seed_site_store
from tests.test_summary import commit_all, log_run, repo  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def workflow(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return dict(doc)


def steps(doc: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return list(doc["jobs"][job]["steps"])


def check_schema(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- the workflow files -------------------------------------------------------------------------


def _documented_examples(tmp_path: Path) -> list[Path]:
    """The workflow examples of docs/ci.md (train.yml, the bucket's pages.yml), as files."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    paths = []
    for number, block in enumerate(blocks):
        path = tmp_path / f"example-{number}.yml"
        path.write_text(block, encoding="utf-8")
        paths.append(path)
    return paths


def test_every_workflow_and_the_documented_example_match_githubs_schema(tmp_path: Path) -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["pages.yml", "summary.yml", "tests.yml"]
    result = check_schema(*files, *_documented_examples(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    steps:\n      - run: make test\n")  # no runs-on
    result = check_schema(broken)
    assert result.returncode == 1
    assert "broken.yml" in result.stdout + result.stderr


def test_every_action_is_pinned_to_a_major_version() -> None:
    uses = [
        step["uses"]
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for job in workflow(path.name)["jobs"].values()
        for step in job["steps"]
        if "uses" in step
    ]
    assert uses and all(re.fullmatch(r"actions/[a-z-]+@v\d+", u) for u in uses), uses


def test_tests_run_the_readmes_test_command_through_ci_run() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "    make test    #" in readme.split("\n\n")[1]
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")
    doc = workflow("tests.yml")
    assert set(doc["on"]) == {"push", "pull_request"}
    assert doc["jobs"]["test"]["container"].startswith("python:3.11-")  # Debian: root, chromium
    assert [s.get("run") for s in steps(doc, "test")][-1] == ".ci/run"


def test_pages_deploys_a_strict_build_after_training_commits() -> None:
    doc = workflow("pages.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    assert {"tracking/**", "reports/**", "site_templates/**"} <= set(doc["on"]["push"]["paths"])
    assert "workflow_dispatch" in doc["on"]
    assert doc["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert doc["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    build = steps(doc, "build")
    configure = next(s for s in build if s.get("uses", "").startswith("actions/configure-pages"))
    script = next(s for s in build if s.get("run") == "scripts/ci/build-site.sh")
    assert script["env"]["SITE_BASE_URL"] == f"${{{{ steps.{configure['id']}.outputs.base_url }}}}"
    upload = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages"))
    assert upload["with"]["path"] == script["env"]["SITE_DIR"]
    deploy = doc["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"] == {
        "name": "github-pages",
        "url": "${{ steps.deployment.outputs.page_url }}",
    }
    assert steps(doc, "deploy")[0]["uses"].startswith("actions/deploy-pages@")


def test_the_pr_summary_workflow_has_the_base_branch_and_may_comment() -> None:
    doc = workflow("summary.yml")
    assert list(doc["on"]) == ["pull_request"]
    assert doc["permissions"]["pull-requests"] == "write"
    checkout = steps(doc, "summary")[0]
    assert checkout["with"]["fetch-depth"] == 0
    run = steps(doc, "summary")[-1]
    assert run["run"].startswith("python scripts/ci/pr_summary.py")
    assert run["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"


# -- scripts/ci/build-site.sh -------------------------------------------------------------------


def _script_env(**extra: str) -> dict[str, str]:
    """This checkout's tracker for ``python -m tracker`` in a subprocess."""
    return {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT), **extra}


def test_the_pages_build_script_builds_a_site_that_passes_the_link_check(tmp_path: Path) -> None:
    project = tmp_path / "project"
    seed_site_store(str(project / "tracking"))
    (project / "reports").mkdir()
    (project / "reports" / "weekly-review.md").write_text(REPORT, encoding="utf-8")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci" / "build-site.sh")],
        cwd=project,
        env=_script_env(SITE_BASE_URL="https://me.github.io/proj/"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Built ") and f" pages into {project / '_site'} " in done.stdout
    site = project / "_site"
    assert (site / "index.html").is_file()
    assert (site / "reports" / "weekly-review.html").is_file()
    assert link_problems(site) == []


def test_the_pages_build_script_names_a_missing_store(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci" / "build-site.sh")],
        cwd=tmp_path,
        env=_script_env(TRACKER_STORE="runs"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"build-site.sh: no store folder 'runs' in {tmp_path}" in done.stderr


# -- scripts/ci/pr_summary.py: the pure parts ---------------------------------------------------


def test_the_marker_is_a_hidden_comment_a_workflow_name_cannot_close() -> None:
    assert pr_summary.marker("summary") == "<!-- tracker-summary:summary -->"
    assert pr_summary.marker("x --> <script>") == "<!-- tracker-summary:x - -script- -->"
    assert pr_summary.marker("  ") == "<!-- tracker-summary:workflow -->"


def test_the_comment_body_has_marker_report_and_links() -> None:
    body = pr_summary.comment_body(
        "summary",
        "### Tracker summary\n\nreport\n",
        site_url="https://me.github.io/p/",
        run_url="https://github.com/o/r/actions/runs/7",
    )
    assert body == (
        "<!-- tracker-summary:summary -->\n### Tracker summary\n\nreport\n\n"
        "Published site: <https://me.github.io/p/> · "
        "Updated by [this workflow run](https://github.com/o/r/actions/runs/7).\n"
    )


def test_a_report_too_long_for_a_comment_is_cut_at_a_line_end() -> None:
    report = "".join(f"| row {i} |\n" for i in range(20_000))
    body = pr_summary.comment_body("summary", report, site_url=None, run_url=None)
    assert len(body) <= pr_summary.MAX_COMMENT
    assert body.startswith("<!-- tracker-summary:summary -->\n| row 0 |\n")
    assert body.endswith("|\n\n…the report is cut here; the job summary has all of it.\n")


def test_choose_updates_the_oldest_own_comment_of_this_workflow() -> None:
    mark = pr_summary.marker("summary")
    comments = [
        {"id": 1, "user": {"login": "alice"}, "body": f"quoting {mark}"},
        {"id": 2, "user": {"login": pr_summary.BOT}, "body": pr_summary.marker("other")},
        {"id": 3, "user": {"login": pr_summary.BOT}, "body": f"{mark}\nold"},
        {"id": 4, "user": {"login": pr_summary.BOT}, "body": f"{mark}\nduplicate"},
        {"id": 5, "user": None, "body": None},
    ]
    assert pr_summary.choose(comments, mark) == 3
    assert pr_summary.choose(comments[:2], mark) is None
    assert pr_summary.choose([], mark) is None


# -- scripts/ci/pr_summary.py end to end, against a stand-in for GitHub's API -------------------


class FakeGitHub(BaseHTTPRequestHandler):
    """Issue comments of one pull request, kept in memory (class attributes, per test)."""

    comments: list[dict[str, Any]] = []
    requests: list[tuple[str, str, str | None]] = []

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, self.headers.get("Authorization")))
        return body

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._record()
        page = re.fullmatch(r"/repos/o/r/issues/7/comments\?per_page=(\d+)&page=(\d+)", self.path)
        if page is None:
            self._reply(404, {"message": "Not Found"})
            return
        size, number = int(page.group(1)), int(page.group(2))
        self._reply(200, self.comments[(number - 1) * size : number * size])

    def do_POST(self) -> None:  # noqa: N802
        body = self._record() or {}
        made = {
            "id": 100 + len(self.comments),
            "user": {"login": pr_summary.BOT},
            "body": body["body"],
            "html_url": "https://github.com/o/r/pull/7#new",
        }
        self.comments.append(made)
        self._reply(201, made)

    def do_PATCH(self) -> None:  # noqa: N802
        body = self._record() or {}
        comment_id = int(self.path.rsplit("/", 1)[1])
        found = next(c for c in self.comments if c["id"] == comment_id)
        found["body"] = body["body"]
        self._reply(200, {**found, "html_url": f"https://github.com/o/r/pull/7#{comment_id}"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_github() -> Iterator[str]:
    FakeGitHub.comments = [
        {"id": i, "user": {"login": "alice"}, "body": f"comment {i}"} for i in range(1, 4)
    ]
    FakeGitHub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pr_summary_posts_one_comment_then_updates_it(
    repo: Path,  # noqa: F811 - the fixture imported from test_summary
    fake_github: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_run(repo / "tracking", "taxi", "worse", {"rmse": 4.5})
    commit_all(repo, "worse")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    step_summary = tmp_path / "step-summary.md"
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for name, value in {
        "GITHUB_TOKEN": "t0ken",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_API_URL": fake_github,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_WORKFLOW": "summary",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_STEP_SUMMARY": str(step_summary),
        "TRACKER_SITE_URL": "https://me.github.io/proj/",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_BASE_REF", raising=False)
    monkeypatch.setattr(pr_summary, "PER_PAGE", 2)  # three comments: two pages

    # A regression fails the job, after the comment is written.
    assert pr_summary.main(["--store", "tracking", "--fail-on-regression"]) == 3
    assert len(FakeGitHub.comments) == 4
    posted = FakeGitHub.comments[-1]["body"]
    assert posted.startswith("<!-- tracker-summary:summary -->\n### Tracker summary\n")
    assert "| rmse | lower | 4 ([xgb](<https://me.github.io/proj/runs/" in posted
    assert ") | 4.5 ([worse](<https://me.github.io/proj/runs/" in posted
    assert posted.count("❌ regressed (+0.5)") == 1
    assert posted.endswith("(https://github.com/o/r/actions/runs/42).\n")
    assert step_summary.read_text().startswith("### Tracker summary\n")
    assert {auth for _, _, auth in FakeGitHub.requests} == {"Bearer t0ken"}

    log_run(repo / "tracking", "taxi", "xgb-tuned", {"rmse": 3.5})
    FakeGitHub.requests.clear()
    assert pr_summary.main(["--store", "tracking", "--fail-on-regression"]) == 0
    assert len(FakeGitHub.comments) == 4  # updated, not added
    assert [(m, p) for m, p, _ in FakeGitHub.requests] == [
        ("GET", "/repos/o/r/issues/7/comments?per_page=2&page=1"),
        ("GET", "/repos/o/r/issues/7/comments?per_page=2&page=2"),
        ("GET", "/repos/o/r/issues/7/comments?per_page=2&page=3"),  # four comments now
        ("PATCH", "/repos/o/r/issues/comments/103"),
    ]
    updated = FakeGitHub.comments[-1]["body"]
    assert "2 new or changed runs in 1 experiment" in updated and "✅ improved (-0.5)" in updated
    assert step_summary.read_text().count("### Tracker summary") == 2
