"""Writing the site: only files whose content changed are rewritten; stale files are removed.

A manifest (``.tracker-build.json`` in the output folder) maps each file to the hash of its
content, each page to the hash of its page model, and each group of files (a run's page, its CSV
histories and artifact copies) to the fingerprint of the data it was made from. An unchanged page
is neither rendered nor written on the next build; an unchanged group is not even collected.
File times play no part (CI checkouts have none).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

MANIFEST = ".tracker-build.json"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class WriteStats:
    """What a build did to the output folder."""

    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    skipped_renders: int = 0
    reused_groups: int = 0


class SiteWriter:
    """Writes files into ``out`` and remembers what it wrote.

    Args:
        out: the output folder (created if missing).
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = os.path.abspath(os.fspath(out))
        os.makedirs(self.out, exist_ok=True)
        self.previous = self._load_manifest()
        self.files: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self._reusable: dict[tuple[str, str], bool] = {}
        self._folders: set[str] = set()  # folders made (or found) by this build
        self.stats = WriteStats()

    def _load_manifest(self) -> dict[str, dict[str, Any]]:
        try:
            with open(os.path.join(self.out, MANIFEST), encoding="utf-8") as fh:
                data = json.load(fh)
            return {"files": dict(data.get("files", {})), "inputs": dict(data.get("inputs", {})),
                    "groups": dict(data.get("groups", {}))}
        except (OSError, ValueError, AttributeError):
            return {"files": {}, "inputs": {}, "groups": {}}

    def reusable(self, key: str, fingerprint: str) -> bool:
        """True when group ``key`` was made from ``fingerprint`` last time and its files are intact."""
        answer = self._reusable.get((key, fingerprint))
        if answer is None:
            old = self.previous["groups"].get(key)
            old = old if isinstance(old, dict) else {}
            files = old.get("files")
            answer = (
                isinstance(files, list) and old.get("fp") == fingerprint
                and all(p in self.previous["files"] and os.path.isfile(self._full(p))
                        for p in files)
            )
            self._reusable[(key, fingerprint)] = answer
        return answer

    def kept_files(self, key: str, fingerprint: str) -> list[str] | None:
        """The files of group ``key`` when the previous build's can stay (see ``reusable``)."""
        if not self.reusable(key, fingerprint):
            return None
        return list(self.previous["groups"][key]["files"])

    def keep_group(self, key: str, fingerprint: str) -> list[str]:
        """Keep a reusable group's files as they are (see ``reusable``); returns their paths."""
        paths = list(self.previous["groups"][key]["files"])
        for path in paths:
            if path in self.files:
                raise ValueError(f"Two site files want the same path {path!r}.")
            self.files[path] = self.previous["files"][path]
            if path in self.previous["inputs"]:
                self.inputs[path] = self.previous["inputs"][path]
        self.stats.unchanged += len(paths)
        self.stats.reused_groups += 1
        self.groups[key] = {"fp": fingerprint, "files": paths}
        return paths

    def record_group(self, key: str, fingerprint: str, paths: list[str]) -> None:
        """Remember that the files at ``paths`` were made from ``fingerprint``."""
        self.groups[key] = {"fp": fingerprint, "files": sorted(paths)}

    def unchanged_input(self, path: str, input_hash: str) -> bool:
        """True when ``path`` was built from the same input before and is still on disk: keep it."""
        if self.previous["inputs"].get(path) != input_hash:
            return False
        old = self.previous["files"].get(path)
        if old is None or not os.path.isfile(self._full(path)):
            return False
        self.inputs[path] = input_hash
        self.files[path] = old
        self.stats.unchanged += 1
        self.stats.skipped_renders += 1
        return True

    def write(self, path: str, data: bytes, input_hash: str | None = None) -> None:
        """Write ``data`` at ``path`` unless the file already holds exactly these bytes."""
        digest = content_hash(data)
        if path in self.files:
            raise ValueError(f"Two site files want the same path {path!r}.")
        self.files[path] = digest
        if input_hash is not None:
            self.inputs[path] = input_hash
        full = self._full(path)
        if self.previous["files"].get(path) == digest and os.path.isfile(full):
            self.stats.unchanged += 1
            return
        folder = os.path.dirname(full)
        if folder not in self._folders:  # one makedirs per folder, not per file (#14)
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        try:  # a new file is written in place: no temporary file to rename (#14)
            with open(full, "xb") as fh:
                fh.write(data)
        except FileExistsError:  # replaced atomically: a reader never sees half a file
            tmp = f"{full}.tmp-{os.getpid()}"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, full)
        self.stats.written.append(path)

    def finish(self) -> WriteStats:
        """Remove files of the previous build that this build did not produce; save the manifest."""
        for path in sorted(set(self.previous["files"]) - set(self.files)):
            full = self._full(path)
            if os.path.isfile(full):
                os.unlink(full)
                self.stats.removed.append(path)
                _remove_empty_parents(os.path.dirname(full), self.out)
        manifest = {"files": dict(sorted(self.files.items())),
                    "inputs": dict(sorted(self.inputs.items())),
                    "groups": dict(sorted(self.groups.items()))}
        # json.dumps without indent: the C encoder (json.dump with indent is ~10x slower).
        text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
        with open(self._full(MANIFEST), "w", encoding="utf-8") as fh:
            fh.write(text)
        return self.stats

    def _full(self, path: str) -> str:
        full = os.path.normpath(os.path.join(self.out, *path.split("/")))
        if not full.startswith(self.out + os.sep) and full != self.out:
            raise ValueError(f"Site path {path!r} escapes the output folder.")
        return full


def _remove_empty_parents(folder: str, stop: str) -> None:
    while folder.startswith(stop + os.sep):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)
