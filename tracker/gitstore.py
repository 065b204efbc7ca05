"""A store as it was at a git commit: for a store committed to a repository with its code.

``store_at_ref(store_uri, "main")`` finds the repository the store folder is in, resolves the
ref, and extracts the folder as it was at that commit (``git archive``, streamed) into a
temporary folder that is removed afterwards. Errors say which of the three things is missing:
a repository, the ref, or the store folder at that ref.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from tracker.exceptions import InvalidArgumentError, NotFoundError, StoreError

__all__ = ["store_at_ref"]


@contextmanager
def store_at_ref(store_uri: str, ref: str) -> Iterator[tuple[str, str]]:
    """(folder of the store as of ``ref``, the commit id); the folder is removed on exit.

    Args:
        store_uri: a local store inside a git checkout.
        ref: a branch, tag, commit or expression such as ``origin/main`` or ``HEAD~1``.
    """
    top, rel = _repository_of(store_uri, ref)
    commit = _resolve_ref(top, ref)
    with tempfile.TemporaryDirectory(prefix="tracker-baseline-") as tmp:
        _extract(top, commit, rel, ref, tmp)
        yield os.path.join(tmp, rel), commit


def _git(cwd: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise StoreError(
            "A git baseline needs git, which is not installed; install it, or give --baseline "
            "the folder of a store snapshot."
        ) from exc


def _repository_of(store_uri: str, baseline: str) -> tuple[str, str]:
    """(repository top folder, store path relative to it, POSIX) for a git baseline."""
    from tracker.uri import resolve_local_path

    if store_uri.lower().startswith("s3://"):
        raise InvalidArgumentError(
            f"Baseline {baseline!r} is not a folder, and a git ref only works for a store in a git "
            f"checkout, not {store_uri!r}; give --baseline the folder of a store snapshot."
        )
    store = os.path.realpath(resolve_local_path(store_uri, notice=False))
    probe = store
    while not os.path.isdir(probe):
        probe = os.path.dirname(probe)
    found = _git(probe, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise InvalidArgumentError(
            f"Baseline {baseline!r} is not a folder, and the store {store} is not in a git "
            "repository, so it cannot be a git ref; give --baseline the folder of a store snapshot."
        )
    top = os.path.realpath(found.stdout.decode().strip())
    rel = os.path.relpath(store, top)
    return top, rel.replace(os.sep, "/")


def _resolve_ref(top: str, ref: str) -> str:
    """The commit id a ref names, or a NotFoundError that says how to get the ref."""
    if ref.startswith("-"):
        raise InvalidArgumentError(f"Baseline {ref!r}: a git ref cannot start with '-'.")
    found = _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise NotFoundError(
            f"Baseline {ref!r} is neither a folder nor a git ref of the repository at {top}. "
            "Give a branch, tag or commit (e.g. main, origin/main, HEAD~1; in CI, check out "
            "with fetch-depth: 0 so the base branch is there) or a store snapshot folder."
        )
    return found.stdout.decode().strip()


def _extract(top: str, commit: str, rel: str, ref: str, dest: str) -> None:
    """Extract the folder ``rel`` of ``commit`` into ``dest`` (``dest/rel``)."""
    listed = _git(top, "ls-tree", "-d", "--name-only", commit, "--", rel)
    if rel != "." and not listed.stdout.strip():
        raise NotFoundError(
            f"The store folder {rel!r} does not exist at {ref} ({commit[:8]}) in {top}: nothing "
            "was committed there yet. Compare with another ref, or with an empty folder to "
            "list every run as new."
        )
    # Streamed: a store of many runs never sits in memory whole.
    archive = subprocess.Popen(
        ["git", "archive", "--format=tar", commit, "--", rel],
        cwd=top,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert archive.stdout is not None and archive.stderr is not None
    try:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # Python < 3.10.12 has no extraction filters; git archive holds no links out
                tar.extractall(dest)
        # tarfile stops at the end-of-archive blocks; git pads the archive past them to a
        # whole record. Closing the pipe before git has written that padding killed it with
        # SIGPIPE now and then, and the extraction was reported as a failure.
        while archive.stdout.read(1 << 16):
            pass
    except tarfile.TarError as exc:
        archive.kill()
        raise StoreError(
            f"git archive of {rel!r} at {ref} gave no readable archive: {exc}"
        ) from exc
    finally:
        archive.stdout.close()
        error = archive.stderr.read().decode(errors="replace").strip()
        archive.stderr.close()
        archive.wait()
    if archive.returncode != 0:
        raise StoreError(f"git archive of {rel!r} at {ref} failed: {error}")
    os.makedirs(os.path.join(dest, rel), exist_ok=True)
