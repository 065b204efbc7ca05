"""Writing the site: only files whose content changed are rewritten; stale files are removed.

A manifest (``.tracker-build.json`` in the output folder) maps each file to the hash of its
content, each page to the hash of its page model, and each group of files (a run's page, its CSV
histories and artifact copies) to the fingerprint of the data it was made from. An unchanged page
is neither rendered nor written on the next build; an unchanged group is not even collected.
File times play no part in what is made (CI checkouts have none).

Whether the previous build's files are still there is asked of their folders, not of each file
(#14: a rebuild of 10,000 runs stat'ed 40,000 files): each build records each folder's
modification time and inode as it left them (``FOLDERS``: machine-local, so not in the
manifest, which two builds of one store write identically), and a folder that still has them has had no
file added, removed or renamed since, so the files the manifest lists in it are there. A folder
that changed, or changed too close to the record for its time to tell (``RACY_NS``), or a fresh
checkout (new times) is listed once (``os.scandir``). A file edited in place keeps its folder's
time and is not noticed: delete it (or build into a fresh folder) to have it made again.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MANIFEST = ".tracker-build.json"
#: The folders' times as the last build left them, under the build cache's folder (a dot file:
#: machine state, not content; a missing or damaged file costs a listing of each folder, never
#: correctness).
FOLDERS = ".folders.state"
#: A folder changed less than this long before the manifest was saved is listed, not trusted:
#: some file systems keep modification times in whole seconds (FAT: two).
RACY_NS = 2_000_000_000
_UNLISTED: Any = object()  # a folder not looked at yet (``SiteWriter._listed``)


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


@dataclass(frozen=True)
class Kept:
    """What ``SiteWriter.keep_groups`` kept: the files' paths and how many are pages."""

    paths: set[str]
    pages: int


class SiteWriter:
    """Writes files into ``out`` and remembers what it wrote.

    Args:
        out: the output folder (created if missing).
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = os.path.abspath(os.fspath(out))
        os.makedirs(self.out, exist_ok=True)
        self.previous = self._load_manifest()
        self._previous_folders, self._previous_time = self._load_folders()
        self.files: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self._reusable: dict[str, bool] = {}  # group key -> its files are all there
        self._listed: dict[str, set[str] | None] = {}  # folder -> its files (None: intact)
        self._touched: set[str] = set()  # folders this build wrote to or removed from
        self._made: set[str] = set()  # folders made (or found) by this build
        self.stats = WriteStats()

    def _load_manifest(self) -> dict[str, dict[str, Any]]:
        import orjson

        try:
            with open(os.path.join(self.out, MANIFEST), "rb") as fh:
                data = orjson.loads(fh.read())
        except (OSError, ValueError):  # orjson.JSONDecodeError is a ValueError
            data = None
        # The parts as loaded, not copies (#14: 0.6 s at 100,000 runs).
        return {part: value if isinstance(data, dict) and isinstance(
                    value := data.get(part), dict) else {}
                for part in ("files", "inputs", "groups")}

    def _load_folders(self) -> tuple[dict[str, Any], Any]:
        """The folders' states the previous build left (``FOLDERS``) and when it saved them."""
        import orjson

        try:
            with open(self._folders_file(), "rb") as fh:
                data = orjson.loads(fh.read())
            return dict(data["folders"]), data["time"]
        except (OSError, ValueError, AttributeError, TypeError, KeyError):
            return {}, None

    def _folders_file(self) -> str:
        from tracker.site.cache import CACHE_DIR

        return os.path.join(self.out, CACHE_DIR, FOLDERS)

    def _on_disk(self, path: str) -> bool:
        """Whether the previous build's file ``path`` is still there: trusted when its folder
        is as that build left it, else looked up in one listing of the folder (see the module
        docstring): never a ``stat`` per file."""
        folder, _, name = path.rpartition("/")
        if folder not in self._listed:
            self._listed[folder] = self._listing(folder)
        names = self._listed[folder]
        return names is None or name in names

    def _listing(self, folder: str) -> set[str] | None:
        """None when ``folder`` has had no file added, removed or renamed since the previous
        build (its modification time and inode as recorded, and older than the record by more
        than a file system's time resolution), else the names of the files in it."""
        full = self._full(folder) if folder else self.out
        recorded = self._previous_folders.get(folder)
        written = self._previous_time
        if (folder not in self._touched and isinstance(recorded, list)
                and isinstance(written, int) and _folder_state(full) == recorded
                and recorded[0] < written - RACY_NS):
            return None
        try:
            with os.scandir(full) as entries:
                return {e.name for e in entries if e.is_file()}
        except OSError:
            return set()

    def reusable(self, key: str, fingerprint: str) -> bool:
        """True when group ``key`` was made from ``fingerprint`` last time and its files are intact."""
        old = self.previous["groups"].get(key)
        if not isinstance(old, dict) or old.get("fp") != fingerprint:
            return False
        answer = self._reusable.get(key)
        if answer is None:
            files = old.get("files")
            answer = self._reusable[key] = isinstance(files, list) and self._all_on_disk(files)
        return answer

    def refused(self, wanted: Iterable[tuple[str, str]]) -> list[str]:
        """The keys of ``wanted`` ((key, fingerprint) pairs) that ``reusable`` refuses, in one
        pass (#14: ``reusable`` called once per run of 100,000)."""
        groups, answers = self.previous["groups"], self._reusable
        out, unknown = [], []
        for key, fingerprint in wanted:
            old = groups.get(key)
            if type(old) is not dict or old.get("fp") != fingerprint:
                out.append(key)
                continue
            answer = answers.get(key)
            if answer is None:
                unknown.append(key)
            elif not answer:
                out.append(key)
        if unknown:
            out += self._check_groups(unknown)
        return out

    def _check_groups(self, keys: list[str]) -> list[str]:
        """Of the previous build's groups ``keys``, the ones whose files are not all there
        (``_all_on_disk`` of each), recorded in ``_reusable``. Their files are checked
        together, each folder once, and only the groups with a file found missing are looked
        at one by one (#14: a Python step per file of 100,000 runs took a second)."""
        groups, known, answers = self.previous["groups"], self.previous["files"], self._reusable
        lists = [groups[key].get("files") for key in keys]
        if not all(type(files) is list for files in lists):
            return [key for key in keys if not self.reusable(key, groups[key]["fp"])]
        paths = list(itertools.chain.from_iterable(lists))
        if not all(type(path) is str for path in paths) or not all(map(known.__contains__, paths)):
            return [key for key in keys if not self.reusable(key, groups[key]["fp"])]
        parents = [path.rpartition("/")[0] for path in paths]
        listed, full = self._listed, self._full
        recorded, touched, stat = self._previous_folders, self._touched, os.stat
        written = self._previous_time
        limit = written - RACY_NS if type(written) is int else None
        for folder in set(parents).difference(listed):  # ``_listing`` of each, inlined
            state = recorded.get(folder)
            if (limit is not None and folder not in touched and type(state) is list
                    and len(state) == 2 and type(state[0]) is int and state[0] < limit):
                try:
                    now = stat(full(folder) if folder else self.out)
                except OSError:
                    now = None
                if now is not None and now.st_mtime_ns == state[0] and now.st_ino == state[1]:
                    listed[folder] = None
                    continue
            listed[folder] = self._listing(folder)
        # Paths in a listed folder (one that changed since the previous build) and not in it.
        changed = {folder for folder in set(parents) if listed[folder] is not None}
        missing = {path for path, folder in zip(paths, parents) if folder in changed
                   and path.rpartition("/")[2] not in listed[folder]} if changed else set()  # type: ignore[operator]
        out = []
        for key, files in zip(keys, lists):
            answer = answers[key] = missing.isdisjoint(files)
            if not answer:
                out.append(key)
        return out

    def _all_on_disk(self, paths: list[str]) -> bool:
        """``_on_disk`` of each of ``paths`` that the previous manifest lists (else False)."""
        listed, known = self._listed, self.previous["files"]
        last, names = None, None
        for path in paths:
            if path not in known:
                return False
            folder, _, name = path.rpartition("/")
            if folder != last:  # a group's files come folder by folder
                names = listed.get(folder, _UNLISTED)
                if names is _UNLISTED:
                    names = listed[folder] = self._listing(folder)
                last = folder
            if names is not None and name not in names:
                return False
        return True

    def kept_files(self, key: str, fingerprint: str) -> list[str] | None:
        """The files of group ``key`` when the previous build's can stay (see ``reusable``)."""
        if not self.reusable(key, fingerprint):
            return None
        return list(self.previous["groups"][key]["files"])

    def keep_group(self, key: str, fingerprint: str) -> list[str]:
        """Keep a reusable group's files as they are (see ``reusable``); returns their paths."""
        paths = list(self.previous["groups"][key]["files"])
        files, inputs = self.previous["files"], self.previous["inputs"]
        for path in paths:
            if path in self.files:
                raise ValueError(f"Two site files want the same path {path!r}.")
            self.files[path] = files[path]
            if path in inputs:
                self.inputs[path] = inputs[path]
        self.stats.unchanged += len(paths)
        self.stats.reused_groups += 1
        self.groups[key] = {"fp": fingerprint, "files": paths}
        return paths

    def keep_groups(self, groups: Iterable[tuple[str, str]]) -> Kept:
        """``keep_group`` of each (key, fingerprint) of reusable groups, in one go: without a
        Python step per file (#14: the 400,000 files of 100,000 kept runs)."""
        previous, files, inputs = self.previous["groups"], self.previous["files"], \
            self.previous["inputs"]
        keys, lists = [], []
        for key, fingerprint in groups:
            paths = previous[key]["files"]  # checked by ``reusable``; never changed after
            self.groups[key] = {"fp": fingerprint, "files": paths}
            keys.append(key)
            lists.append(paths)
        kept = list(itertools.chain.from_iterable(lists))
        distinct = set(kept)
        if not self.files.keys().isdisjoint(distinct) or len(distinct) != len(kept):
            mine: set[str] = set()
            for path in kept:
                if path in self.files or path in mine:
                    raise ValueError(f"Two site files want the same path {path!r}.")
                mine.add(path)
        self.files.update(zip(kept, map(files.__getitem__, kept)))
        shown = inputs.keys() & distinct
        self.inputs.update(zip(shown, map(inputs.__getitem__, shown)))
        self.stats.unchanged += len(kept)
        self.stats.reused_groups += len(keys)
        return Kept(distinct, len(shown))

    def record_group(self, key: str, fingerprint: str, paths: list[str]) -> None:
        """Remember that the files at ``paths`` were made from ``fingerprint``."""
        self.groups[key] = {"fp": fingerprint, "files": sorted(paths)}

    def unchanged_input(self, path: str, input_hash: str) -> bool:
        """True when ``path`` was built from the same input before and is still on disk: keep it."""
        if self.previous["inputs"].get(path) != input_hash:
            return False
        old = self.previous["files"].get(path)
        if old is None or not self._on_disk(path):
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
        if self.previous["files"].get(path) == digest and self._on_disk(path):
            self.stats.unchanged += 1
            return
        self._touch(path)
        folder = os.path.dirname(full)
        if folder not in self._made:  # one makedirs per folder, not per file (#14)
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)
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
        for path in sorted(self.previous["files"].keys() - self.files.keys()):
            full = self._full(path)
            if os.path.isfile(full):
                self._touch(path)
                os.unlink(full)
                self.stats.removed.append(path)
                _remove_empty_parents(os.path.dirname(full), self.out)
        import orjson

        manifest = {"files": self.files, "inputs": self.inputs, "groups": self.groups}
        # orjson: 0.08 s for the 100 MB manifest of 100,000 runs where json.dumps took 0.86
        # s (#14); sorted keys: the same bytes whatever order the files were made in.
        with open(self._full(MANIFEST), "wb") as fh:
            fh.write(orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS))
        os.makedirs(os.path.dirname(self._folders_file()), exist_ok=True)  # before the times
        folders = orjson.dumps({"folders": self._folders(), "time": time.time_ns()})
        with open(self._folders_file(), "wb") as fh:
            fh.write(folders)
        return self.stats

    def _touch(self, path: str) -> None:
        """Note that this build changes ``path``'s folder (and, when it makes them, its parents)."""
        folder = path.rpartition("/")[0]
        while folder not in self._touched:
            self._touched.add(folder)
            if not folder:
                break
            folder = folder.rpartition("/")[0]

    def _folders(self) -> dict[str, list[int]]:
        """The state of every folder holding a file of this build, as the build leaves it: a
        folder found intact and not written to keeps its recorded state without a ``stat``."""
        out: dict[str, list[int]] = {}
        previous, listed, touched = self._previous_folders, self._listed, self._touched
        for folder in {path.rpartition("/")[0] for path in self.files}:
            if listed.get(folder, _UNLISTED) is None and folder not in touched:
                out[folder] = previous[folder]
                continue
            state = _folder_state(self._full(folder) if folder else self.out)
            if state is not None:
                out[folder] = state
        return out  # machine state, not content: in any order

    def _full(self, path: str) -> str:
        if path and path[0] != "/" and "/." not in f"/{path}" and "//" not in path \
                and path[-1] != "/" and os.sep == "/" and "\0" not in path:
            return f"{self.out}/{path}"  # no '', '.' or '..' part: what normpath would give
        full = os.path.normpath(os.path.join(self.out, *path.split("/")))
        if not full.startswith(self.out + os.sep) and full != self.out:
            raise ValueError(f"Site path {path!r} escapes the output folder.")
        return full


def _folder_state(folder: str) -> list[int] | None:
    """A folder's modification time and inode (None when it is missing): both stay while no
    file in it is added, removed or renamed."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ino]


def _remove_empty_parents(folder: str, stop: str) -> None:
    while folder.startswith(stop + os.sep):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)
