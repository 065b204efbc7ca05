"""Summarize a pull request's new runs: the job summary and ONE comment per workflow.

What ``.github/workflows/summary.yml`` runs. It calls ``tracker summary --markdown`` against the
PR's base branch, appends the report to ``$GITHUB_STEP_SUMMARY``, and posts it as a comment on
the pull request, or updates the comment it posted before: that comment carries a hidden
marker (``<!-- tracker-summary:<workflow> -->``), so every push edits one comment instead of
adding another. The standard library only (urllib), so it runs before anything is installed
but tracker.

Environment (set by GitHub Actions): ``GITHUB_TOKEN`` (needs ``pull-requests: write``),
``GITHUB_REPOSITORY``, ``GITHUB_EVENT_PATH`` (the pull request number), ``GITHUB_BASE_REF``,
``GITHUB_WORKFLOW``, ``GITHUB_API_URL``, ``GITHUB_SERVER_URL``, ``GITHUB_RUN_ID``,
``GITHUB_STEP_SUMMARY``; ``TRACKER_SITE_URL`` overrides the published site's URL, which is
otherwise read from the repository's Pages settings.

Exit code: tracker summary's (3 when ``--fail-on-regression`` found a regression), after the
comment is written. A token that may not comment (a pull request from a fork) is a notice, not
a failure: the job summary still has the report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

MAX_COMMENT = 65_536  # GitHub refuses longer comment bodies
BOT = "github-actions[bot]"  # who posts with the workflow's GITHUB_TOKEN
PER_PAGE = 100
REGRESSION_EXIT = 3  # tracker summary --fail-on-regression


# -- the pure parts -----------------------------------------------------------------------------


def marker(workflow: str) -> str:
    """The hidden HTML comment that identifies this workflow's summary comment."""
    safe = re.sub(r"[^A-Za-z0-9._/ -]+", "-", workflow.strip()) or "workflow"
    return f"<!-- tracker-summary:{re.sub(r'-{2,}', '-', safe)} -->"


def comment_body(workflow: str, report: str, *, site_url: str | None, run_url: str | None) -> str:
    """The comment: marker, the Markdown report, and where the site and the job are.

    A report too long for a comment is cut at a line end, and the comment says where the
    whole report is (the job summary).
    """
    footer = []
    if site_url:
        footer.append(f"Published site: <{site_url}>")
    if run_url:
        footer.append(f"Updated by [this workflow run]({run_url}).")
    tail = "\n\n" + " · ".join(footer) + "\n" if footer else "\n"
    head = marker(workflow) + "\n"
    room = MAX_COMMENT - len(head) - len(tail)
    if len(report) > room:
        note = "\n\n…the report is cut here; the job summary has all of it."
        report = report[: room - len(note)].rsplit("\n", 1)[0] + note
    return head + report.rstrip("\n") + tail


def choose(comments: Sequence[dict[str, Any]], mark: str, author: str = BOT) -> int | None:
    """The id of the comment to update (the oldest by ``author`` with the marker), or None."""
    for comment in comments:
        login = (comment.get("user") or {}).get("login")
        if login == author and mark in (comment.get("body") or ""):
            return int(comment["id"])
    return None


# -- GitHub -------------------------------------------------------------------------------------


class GitHub:
    """The few REST calls this script makes, with the workflow's token."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        self.base = f"{api_url.rstrip('/')}/repos/{repository}"
        self.token = token

    def request(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(
            self.base + path,
            data=body,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment of the pull request, oldest first."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self.request(
                "GET", f"/issues/{number}/comments?per_page={PER_PAGE}&page={page}"
            )
            out += batch
            if len(batch) < PER_PAGE:
                return out
            page += 1

    def upsert(self, number: int, workflow: str, body: str) -> str:
        """Update this workflow's comment, or post it; returns what was done and the URL."""
        found = choose(self.comments(number), marker(workflow))
        if found is None:
            made = self.request("POST", f"/issues/{number}/comments", {"body": body})
            return f"posted {made.get('html_url')}"
        made = self.request("PATCH", f"/issues/comments/{found}", {"body": body})
        return f"updated {made.get('html_url')}"

    def pages_url(self) -> str | None:
        """The published site's URL from the Pages settings, if the token may read them."""
        try:
            return str(self.request("GET", "/pages")["html_url"])
        except (urllib.error.URLError, KeyError, TypeError):
            return None


# -- the job ------------------------------------------------------------------------------------


def pull_request_number(event_path: str | None) -> int | None:
    """The pull request number from the workflow's event payload, if there is one."""
    if not event_path or not os.path.isfile(event_path):
        return None
    with open(event_path, encoding="utf-8") as f:
        event = json.load(f)
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if number else None


def run_summary(args: argparse.Namespace, site_url: str | None) -> tuple[int, str]:
    """Run ``tracker summary --markdown``; (exit code, report)."""
    with tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "summary.md")
        command = [
            sys.executable,
            "-m",
            "tracker",
            "--store",
            args.store,
            "summary",
            "--baseline",
            args.baseline,
            "--markdown",
            "--output",
            report_path,
        ]
        if site_url:
            command += ["--site-url", site_url]
        if args.fail_on_regression:
            command.append("--fail-on-regression")
        done = subprocess.run(command, check=False)
        if done.returncode not in (0, REGRESSION_EXIT):
            sys.exit(done.returncode)
        with open(report_path, encoding="utf-8") as f:
            return done.returncode, f.read()


def main(argv: Sequence[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=env.get("TRACKER_TRACKING_URI", "tracking"))
    parser.add_argument(
        "--baseline", default=None, help="Default: origin/$GITHUB_BASE_REF, else main."
    )
    parser.add_argument("--site-url", default=env.get("TRACKER_SITE_URL") or None)
    parser.add_argument("--fail-on-regression", action="store_true")
    args = parser.parse_args(argv)
    base_ref = env.get("GITHUB_BASE_REF")
    args.baseline = args.baseline or (f"origin/{base_ref}" if base_ref else "main")

    token, repository = env.get("GITHUB_TOKEN"), env.get("GITHUB_REPOSITORY")
    github = GitHub(
        env.get("GITHUB_API_URL", "https://api.github.com"), repository or "", token or ""
    )
    site_url = args.site_url or (github.pages_url() if token and repository else None)
    code, report = run_summary(args, site_url)
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(report)
    number = pull_request_number(env.get("GITHUB_EVENT_PATH"))
    if not (token and repository and number):
        print(
            "pr_summary: not a pull request with GITHUB_TOKEN and GITHUB_REPOSITORY; "
            "no comment written.",
            file=sys.stderr,
        )
        return code
    run_url = None
    if env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        run_url = f"{server}/{repository}/actions/runs/{env['GITHUB_RUN_ID']}"
    workflow = env.get("GITHUB_WORKFLOW", "tracker")
    body = comment_body(workflow, report, site_url=site_url, run_url=run_url)
    try:
        print(f"pr_summary: {github.upsert(number, workflow, body)}", file=sys.stderr)
    except urllib.error.HTTPError as exc:
        if exc.code not in (403, 404):
            raise
        print(
            f"pr_summary: the token may not comment on #{number} (HTTP {exc.code}; a pull "
            "request from a fork?); the report is in the job summary only.",
            file=sys.stderr,
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
