"""System tags for a new run: who ran it, from which source, at which git commit (cached)."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from functools import lru_cache

USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
GIT_DIRTY = "tracker.source.git.dirty"
GIT_MESSAGE = "tracker.source.git.message"  # the first line of the commit's message
SOURCE_PATH = "tracker.source.path"  # the script relative to the repository root (or its name)
RUN_NAME = "mlflow.runName"
PARENT_RUN_ID = "mlflow.parentRunId"
NOTE = "mlflow.note.content"


@lru_cache(maxsize=1)
def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return os.environ.get("USER", "unknown")


def _source_path() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) if main is not None else None
    if path:
        return os.path.abspath(path)
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    return os.path.abspath(argv0) if argv0 and argv0 != "-c" else "<interactive>"


def _git(cwd: str, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@lru_cache(maxsize=8)
def git_tags(folder: str) -> dict[str, str]:
    """Commit, branch, remote URL and dirty flag of the git checkout holding ``folder``."""
    if not os.path.isdir(folder):
        return {}
    commit = _git(folder, "rev-parse", "HEAD")
    if not commit:
        return {}
    tags = {GIT_COMMIT: commit}
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        tags[GIT_BRANCH] = branch
    remote = _git(folder, "config", "--get", "remote.origin.url")
    if remote:
        tags[GIT_REPO_URL] = remote
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    if status is not None:
        tags[GIT_DIRTY] = "true" if status else "false"
    message = _git(folder, "log", "-1", "--format=%s")
    if message:
        tags[GIT_MESSAGE] = message[:200]
    return tags


def system_tags() -> dict[str, str]:
    source = _source_path()
    tags = {
        USER: current_user(),
        SOURCE_NAME: source,
        SOURCE_TYPE: "LOCAL",
    }
    folder = os.path.dirname(source) if source != "<interactive>" else os.getcwd()
    tags.update(git_tags(folder))
    if source != "<interactive>":
        relative, changed = _script_state(source)
        tags[SOURCE_PATH] = relative
        if changed and GIT_DIRTY in tags:
            tags[GIT_DIRTY] = "true"
    return tags


@lru_cache(maxsize=8)
def _script_state(source: str) -> tuple[str, bool]:
    """(the script's path relative to its repository root, else its file name; True when the
    script itself is untracked or modified) — so no absolute path of this machine is needed to
    say where the code came from."""
    folder = os.path.dirname(source)
    root = _git(folder, "rev-parse", "--show-toplevel") if os.path.isdir(folder) else None
    if not root:
        return os.path.basename(source), False
    relative = os.path.relpath(os.path.realpath(source), os.path.realpath(root))
    if relative.startswith(".."):
        return os.path.basename(source), False
    status = _git(root, "status", "--porcelain", "--", relative)
    return relative.replace(os.sep, "/"), bool(status)
