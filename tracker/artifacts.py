"""Artifact storage: a run's files under its ``artifact_uri``, written atomically."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from typing import TYPE_CHECKING

from tracker.entities import FileInfo
from tracker.exceptions import InvalidArgumentError, NotFoundError
from tracker.store.fs import LocalFS, StoreFS
from tracker.validation import validate_artifact_path, validate_local_path

if TYPE_CHECKING:
    from collections.abc import Iterator


def open_location(uri: str, *, check: bool = False) -> StoreFS:
    """The filesystem rooted at an artifact URI (a folder path, ``file:`` or ``s3://`` URI).

    Args:
        uri: the location.
        check: for S3, look the bucket up now (a missing bucket is an error naming it); off for
            a run's repo, which is opened often and whose writes report a missing bucket anyway.
    """
    from tracker.uri import resolve_local_path

    if uri.lower().startswith("s3://"):
        from tracker.store.s3 import open_s3_fs

        return open_s3_fs(uri, check=check)
    return LocalFS(resolve_local_path(uri, notice=False))


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ArtifactRepo:
    """The artifacts of one run.

    Args:
        artifact_uri: the run's artifact root (``<experiment location>/<run_id>/artifacts``).
    """

    def __init__(self, artifact_uri: str) -> None:
        self.artifact_uri = artifact_uri
        self.fs = open_location(artifact_uri)

    def log_file(self, local_path: str, artifact_path: str | None = None) -> tuple[str, int, str]:
        """Copy one local file in; return (relative path, size, sha256)."""
        local = validate_local_path(local_path, "local_path")
        if not os.path.isfile(local):
            raise InvalidArgumentError(
                f"Cannot log artifact {local!r}: no such file (use log_artifacts for a folder)."
                if not os.path.isdir(local)
                else f"{local!r} is a folder; use log_artifacts to log a folder."
            )
        folder = validate_artifact_path(artifact_path)
        rel = f"{folder}/{os.path.basename(local)}" if folder else os.path.basename(local)
        self.fs.upload(local, rel)
        return rel, os.path.getsize(local), sha256_file(local)

    def log_dir(self, local_dir: str, artifact_path: str | None = None) -> list[tuple[str, int, str]]:
        local = validate_local_path(local_dir, "local_dir")
        if not os.path.isdir(local):
            raise InvalidArgumentError(f"Cannot log artifacts from {local!r}: not a folder.")
        base = validate_artifact_path(artifact_path)
        out = []
        for root, dirs, files in os.walk(local):
            dirs.sort()
            rel_root = os.path.relpath(root, local).replace(os.sep, "/")
            target = "/".join(p for p in (base, "" if rel_root == "." else rel_root) if p)
            for name in sorted(files):
                out.append(self.log_file(os.path.join(root, name), target or None))
        return out

    def list(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (files with sizes, folders), like MLflow's list_artifacts."""
        rel = validate_artifact_path(path)
        out = []
        for name, is_dir, size in self.fs.scan_dir(rel):
            if name.startswith(".tmp-"):
                continue
            child = f"{rel}/{name}" if rel else name
            out.append(FileInfo(child, True, None) if is_dir else FileInfo(child, False, size))
        return out

    def walk(self) -> Iterator[tuple[str, int]]:
        for entry in self.fs.list_files(""):
            yield entry.path, entry.size

    def download(self, path: str, dst_path: str) -> str:
        """Copy the artifact file or folder ``path`` into ``dst_path``; return the local path."""
        rel = validate_artifact_path(path, "path")
        name = rel.rsplit("/", 1)[-1] if rel else "artifacts"
        target = os.path.join(os.path.abspath(validate_local_path(dst_path, "dst_path")), name)
        kind, _ = self.fs.stat(rel)
        if kind == "file":
            self.fs.download(rel, target)
            return target
        entries = self.fs.list_files(rel)
        if kind is None:
            raise NotFoundError(
                f"Artifact {rel!r} not found under {self.artifact_uri}; list_artifacts() shows "
                "what the run has."
            )
        for entry in entries:
            sub = entry.path[len(rel) + 1 :] if rel else entry.path
            self.fs.download(entry.path, os.path.join(target, *sub.split("/")))
        os.makedirs(target, exist_ok=True)
        return target

    def local_path(self, path: str = "") -> str | None:
        """The local filesystem path of an artifact, if the location is local (else None)."""
        return self.fs.full_path(validate_artifact_path(path)) if self.fs.is_local else None

    def exists(self, path: str) -> bool:
        """True when ``path`` is an artifact file or a folder holding some."""
        return self.fs.stat(validate_artifact_path(path))[0] is not None

    def fetch(self, path: str) -> str:
        """A local path holding the artifact file or folder ``path``.

        Local locations are used in place. Remote ones are downloaded once per process into a
        temporary cache (artifacts are never overwritten, so a copy cannot go stale).
        """
        local = self.local_path(path)
        if local is not None:
            return local
        rel = validate_artifact_path(path)
        key = hashlib.sha256(f"{self.artifact_uri}\x00{rel}".encode()).hexdigest()[:24]
        folder = os.path.join(_cache_root(), key)
        name = rel.rsplit("/", 1)[-1] if rel else "artifacts"
        with _cache_lock:
            if not os.path.exists(folder):
                staging = tempfile.mkdtemp(dir=_cache_root(), prefix=".fetch-")
                try:
                    self.download(rel, staging)
                    os.replace(staging, folder)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
        return os.path.join(folder, name)

    def read_bytes(self, path: str) -> bytes:
        """The content of the artifact file ``path``."""
        return self.fs.read_bytes(validate_artifact_path(path))


_cache_dir: tempfile.TemporaryDirectory[str] | None = None
_cache_lock = threading.Lock()


def _cache_root() -> str:
    """This process's folder of downloaded remote artifacts, removed at exit."""
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = tempfile.TemporaryDirectory(prefix="tracker-artifacts-")
    return _cache_dir.name
