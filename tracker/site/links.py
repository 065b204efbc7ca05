"""Links and labels that several pages make: a run's label, a commit's or repository's web page.

The page modules import these from here, never from each other's page builders, so a page that
links to another page type does not import that page's module (no cycle between pages).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_FORGES = {
    "github.com": "{repo}/commit/{sha}",
    "gitlab.com": "{repo}/-/commit/{sha}",
    "bitbucket.org": "{repo}/commits/{sha}",
}
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
_SCP_REMOTE = re.compile(r"^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):(?!//)(.+)$")


def run_label(run: dict[str, Any]) -> str:
    """How a run is named in links and titles: its name, else the start of its id."""
    return str(run["run_name"] or run["run_id"][:8])


def repo_web_url(remote: str) -> str:
    """The https page of a GitHub, GitLab or Bitbucket remote (https, ssh or git@ form), or ''.

    Args:
        remote: the ``mlflow.source.git.repoURL`` tag.
    """
    remote = remote.strip()
    scp = _SCP_REMOTE.match(remote)
    if scp:
        host, path = scp.group(1), scp.group(2)
    else:
        try:
            parts = urlsplit(remote)
            host, path = parts.hostname or "", parts.path
        except ValueError:  # e.g. an unclosed "[" in the host: not a forge URL
            return ""
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh"):
            return ""
    host = host.lower().removeprefix("www.")
    path = path.strip("/").removesuffix(".git")
    segments = path.split("/")
    if host not in _FORGES or len(segments) < 2 or not all(_SEGMENT.match(s) for s in segments):
        return ""
    if host != "gitlab.com" and len(segments) != 2:  # only GitLab has subgroups
        return ""
    return f"https://{host}/{path}"


def commit_url(remote: str, sha: str) -> str:
    """The web page of commit ``sha`` when ``remote`` is a known forge, else ''."""
    repo = repo_web_url(remote)
    if not repo or not _SHA.match(sha):
        return ""
    host = urlsplit(repo).hostname or ""
    return _FORGES[host].format(repo=repo, sha=sha.lower())
