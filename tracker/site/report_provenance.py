"""Where a report's numbers come from (#17): the store's newest run end, and the git commit of the
folder the report lives in ("built from commit 1a2b3c4 Tune depth").

The commit is read with ``git log -1`` in the report's folder (local only, a few seconds at most);
no git, no repository, or a repository without commits: no line, never an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timezone
from typing import Any

_SUBJECT_LIMIT = 120


def data_as_of(runs: list[dict[str, Any]]) -> str:
    """The latest run end time of the store, ``YYYY-MM-DD HH:MM UTC`` ('' when no run ended)."""
    newest = max((r.get("end_time") or 0 for r in runs), default=0)
    if not newest:
        return ""
    moment = datetime.fromtimestamp(newest / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def commit_of(path: str) -> str:
    """``"<short sha> <subject>"`` of the HEAD commit of the git repository holding ``path``."""
    return _head(os.path.dirname(os.path.abspath(path)))


def _head(folder: str) -> str:
    git = shutil.which("git")
    if git is None or not os.path.isdir(folder):
        return ""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    try:
        done = subprocess.run(
            [git, "-C", folder, "log", "-1", "--no-color", "--format=%h%x00%s"],
            capture_output=True, timeout=10, env=env, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    if done.returncode != 0:
        return ""
    sha, _, subject = done.stdout.decode("utf-8", "replace").strip().partition("\0")
    if not sha:
        return ""
    subject = " ".join(subject.split())
    if len(subject) > _SUBJECT_LIMIT:
        subject = subject[:_SUBJECT_LIMIT - 1] + "…"
    return f"{sha} {subject}".strip()
