"""Writing the site: only files whose content changed are rewritten; stale files are removed.

A manifest (``.tracker-build.json`` in the output folder) maps each file to the hash of its
content and each page to the hash of its page model; each group of files (a run's page, its CSV
histories and artifact copies) has an entry with the fingerprint of the data it was made from and
its own files' hashes (layout ``MANIFEST_FORMAT``), so a kept group is carried over whole. An
unchanged page is neither rendered nor written on the next build; an unchanged group is not even
collected. File times play no part in what is made (CI checkouts have none).

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
#: The manifest's layout: one with another (or none) is ignored, and everything is made again.
MANIFEST_FORMAT = 2
_NO_GROUP: dict[str, Any] = {"files": {}, "inputs": {}}


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

    The manifest holds the files of each group (a run's page, its CSV histories and artifact
    copies) inside the group's entry, with their hashes: a group kept as it was is carried over
    whole, without a step per file (#14: the 400,000 files of 100,000 kept runs).

    Args:
        out: the output folder (created if missing).
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = os.path.abspath(os.fspath(out))
        os.makedirs(self.out, exist_ok=True)
        self.previous = self._load_manifest()
        self._previous_folders, self._previous_time = self._load_folders()
        written = self._previous_time
        # A folder recorded after this was changed too close to that build's end to be trusted.
        self._limit = written - RACY_NS if type(written) is int else None
        self._early = _EarlyStats(self.out, self._previous_folders, self._limit)
        self.files: dict[str, str] = {}  # files in no group: path -> content hash
        self.inputs: dict[str, str] = {}  # their pages: path -> input hash
        self.groups: dict[str, dict[str, Any]] = {}  # key -> {"fp", "files", "inputs"}
        self._paths: set[str] = set()  # every file of this build, grouped or not
        self._group: dict[str, Any] = _NO_GROUP  # the previous entry of the group being made
        self._checked_keys: set[str] = set()  # groups checked by ``_check_groups``
        self._checked_folders: set[str] = set()  # and the folders of their files
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
        # The parts as loaded, not copies (#14: 0.6 s at 100,000 runs); a group entry is
        # checked when it is asked for (``_entry``).
        parts = {part: value if isinstance(data, dict) and isinstance(
                     value := data.get(part), dict) else {}
                 for part in ("files", "inputs", "groups")}
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            # Another layout (an older tracker's): its groups are made again; its files are
            # still known, so those with the same bytes stay and those not made are removed.
            parts["groups"] = {}
        return parts

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

    def _entry(self, key: str) -> dict[str, Any] | None:
        """The previous build's entry of group ``key`` when it has the manifest's shape."""
        old = self.previous["groups"].get(key)
        if type(old) is not dict or type(old.get("fp")) is not str:
            return None
        files, inputs = old.get("files"), old.get("inputs")
        if type(files) is not dict or type(inputs) is not dict:
            return None
        return old

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
        if self._intact(folder):
            return None
        full = self._full(folder) if folder else self.out
        try:
            with os.scandir(full) as entries:
                return {e.name for e in entries if e.is_file()}
        except OSError:
            return set()

    def _intact(self, folder: str) -> bool:
        """Whether ``folder`` is as the previous build left it: not written to by this build,
        recorded long enough before that build ended (``RACY_NS``), and with the modification
        time and inode it recorded (read ahead by ``_EarlyStats`` where it got to it)."""
        state: Any = self._previous_folders.get(folder)
        if folder in self._touched or not _trusted(state, self._limit):
            return False
        now = self._early.get(folder)
        if now is _UNLISTED:
            now = _folder_state(self._full(folder) if folder else self.out)
        return now is not None and now[0] == state[0] and now[1] == state[1]

    def reusable(self, key: str, fingerprint: str) -> bool:
        """True when group ``key`` was made from ``fingerprint`` last time and its files are intact."""
        old = self._entry(key)
        if old is None or old["fp"] != fingerprint:
            return False
        answer = self._reusable.get(key)
        if answer is None:
            answer = self._reusable[key] = self._all_on_disk(old["files"])
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
        entries = list(map(self._entry, keys))
        if None in entries:
            return [key for key in keys if not self.reusable(key, self.previous["groups"][key]
                                                             .get("fp"))]
        lists = [entry["files"] for entry in entries]  # type: ignore[index]
        paths = list(itertools.chain.from_iterable(lists))
        if not all(type(path) is str for path in paths):
            return list(keys)
        parents = [path.rpartition("/")[0] for path in paths]
        self._checked_keys.update(keys)
        self._checked_folders.update(parents)
        listed = self._listed
        self._early.wait()  # every folder's time read on its thread (``_EarlyStats``)
        for folder in set(parents).difference(listed):
            listed[folder] = self._listing(folder)
        # Paths in a listed folder (one that changed since the previous build) and not in it.
        changed = {folder for folder in set(parents) if listed[folder] is not None}
        missing = {path for path, folder in zip(paths, parents) if folder in changed
                   and path.rpartition("/")[2] not in listed[folder]} if changed else set()  # type: ignore[operator]
        answers, out = self._reusable, []
        for key, files in zip(keys, lists):
            answer = answers[key] = missing.isdisjoint(files)
            if not answer:
                out.append(key)
        return out

    def _all_on_disk(self, paths: Iterable[str]) -> bool:
        """``_on_disk`` of each of ``paths`` (strings; else False)."""
        listed = self._listed
        last, names = None, None
        for path in paths:
            if type(path) is not str:
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

    def keep_group(self, key: str, fingerprint: str) -> Kept:
        """Keep a reusable group's files as they are (see ``reusable``)."""
        return self.keep_groups([(key, fingerprint)])

    def keep_groups(self, groups: Iterable[tuple[str, str]]) -> Kept:
        """``keep_group`` of each (key, fingerprint) of reusable groups, in one go: each
        entry carried over as it is, its files never looked at one by one (#14)."""
        previous = self.previous["groups"]
        entries = []
        for key, _ in groups:
            entry = previous[key]  # checked by ``reusable``: the same fingerprint
            self.groups[key] = entry
            entries.append(entry)
        kept = list(itertools.chain.from_iterable(entry["files"] for entry in entries))
        distinct = set(kept)
        if not self._paths.isdisjoint(distinct) or len(distinct) != len(kept):
            mine: set[str] = set()
            for path in kept:
                if path in self._paths or path in mine:
                    raise ValueError(f"Two site files want the same path {path!r}.")
                mine.add(path)
        self._paths |= distinct
        self.stats.unchanged += len(kept)
        self.stats.reused_groups += len(entries)
        return Kept(distinct, sum(len(entry["inputs"]) for entry in entries))

    def begin_group(self, key: str) -> None:
        """The files written next are group ``key``'s (until ``record_group``): a file that
        has the bytes it had in the group's previous entry is not written again."""
        self._group = self._entry(key) or _NO_GROUP

    def record_group(self, key: str, fingerprint: str, paths: list[str]) -> None:
        """Remember that the files at ``paths`` were made from ``fingerprint``."""
        files, inputs = self.files, self.inputs
        self.groups[key] = {
            "fp": fingerprint,
            "files": {path: files.pop(path) for path in sorted(paths)},
            "inputs": {path: inputs.pop(path) for path in sorted(paths) if path in inputs},
        }
        self._group = _NO_GROUP

    def _previous_hashes(self, path: str) -> tuple[Any, Any]:
        """(content hash, input hash) of ``path`` in the previous build (None: not there)."""
        group = self._group
        if path in group["files"]:
            return group["files"][path], group["inputs"].get(path)
        return self.previous["files"].get(path), self.previous["inputs"].get(path)

    def unchanged_input(self, path: str, input_hash: str) -> bool:
        """True when ``path`` was built from the same input before and is still on disk: keep it."""
        old, old_input = self._previous_hashes(path)
        if old_input != input_hash or type(old) is not str or not self._on_disk(path):
            return False
        self._add(path, old)
        self.inputs[path] = input_hash
        self.stats.unchanged += 1
        self.stats.skipped_renders += 1
        return True

    def _add(self, path: str, digest: str) -> None:
        if path in self._paths:
            raise ValueError(f"Two site files want the same path {path!r}.")
        self._paths.add(path)
        self.files[path] = digest

    def write(self, path: str, data: bytes, input_hash: str | None = None) -> None:
        """Write ``data`` at ``path`` unless the file already holds exactly these bytes."""
        digest = content_hash(data)
        self._add(path, digest)
        if input_hash is not None:
            self.inputs[path] = input_hash
        full = self._full(path)
        if self._previous_hashes(path)[0] == digest and self._on_disk(path):
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

    @property
    def paths(self) -> set[str]:
        """Every file of this build so far (grouped or not)."""
        return self._paths

    def finish(self) -> WriteStats:
        """Remove files of the previous build that this build did not produce; save the manifest."""
        previous, groups = self.previous, self.groups
        gone = set(previous["files"])
        for key, old in previous["groups"].items():
            if groups.get(key) is not old and type(old) is dict \
                    and type(files := old.get("files")) is dict:
                gone.update(path for path in files if type(path) is str)
        for path in sorted(gone - self._paths):
            full = self._full(path)
            if os.path.isfile(full):
                self._touch(path)
                os.unlink(full)
                self.stats.removed.append(path)
                _remove_empty_parents(os.path.dirname(full), self.out)
        import orjson

        manifest = {"format": MANIFEST_FORMAT, "files": self.files, "inputs": self.inputs,
                    "groups": groups}
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
        for folder in self._file_folders():
            if listed.get(folder, _UNLISTED) is None and folder not in touched:
                out[folder] = previous[folder]
                continue
            state = _folder_state(self._full(folder) if folder else self.out)
            if state is not None:
                out[folder] = state
        return out  # machine state, not content: in any order

    def _file_folders(self) -> set[str]:
        """The folders of this build's files (and maybe a few more: harmless, a folder with no
        file the manifest names is never asked about). Those of groups checked together come
        from ``_check_groups``, not from a pass over their files again (#14)."""
        folders, checked = set(self._checked_folders), self._checked_keys
        for key, entry in self.groups.items():
            if key not in checked:
                folders.update(path.rpartition("/")[0] for path in entry["files"])
        folders.update(path.rpartition("/")[0] for path in self.files)
        return folders

    def _full(self, path: str) -> str:
        if _plain(path):
            return f"{self.out}/{path}"  # no '', '.' or '..' part: what normpath would give
        full = os.path.normpath(os.path.join(self.out, *path.split("/")))
        if not full.startswith(self.out + os.sep) and full != self.out:
            raise ValueError(f"Site path {path!r} escapes the output folder.")
        return full


class _EarlyStats:
    """The (modification time, inode) of each folder the previous build recorded as old
    enough to be trusted (``SiteWriter._intact``), read on a thread of its own while the build
    reads the store: ``os.stat`` lets go of the GIL, and DuckDB's queries leave the process's
    thread free, so the 100,000 run folders of a rebuild cost it next to nothing (#14: ~0.4 s).
    Only plain folder names of the site (``_plain``) are looked at."""

    def __init__(self, out: str, recorded: dict[str, Any], limit: int | None) -> None:
        import threading

        self._found: dict[str, tuple[int, int] | None] = {}
        folders = [folder for folder, state in recorded.items()
                   if type(folder) is str and (folder == "" or _plain(folder))
                   and _trusted(state, limit)]
        self._thread = threading.Thread(target=self._run, args=(out, folders),
                                        name="tracker-site-stats", daemon=True)
        self._thread.start()

    def _run(self, out: str, folders: list[str]) -> None:
        found, stat = self._found, os.stat
        for folder in folders:
            try:
                state = stat(f"{out}/{folder}" if folder else out)
                found[folder] = (state.st_mtime_ns, state.st_ino)
            except OSError:
                found[folder] = None
            except BaseException:  # noqa: BLE001 - the writer stats what is missing itself
                return

    def wait(self) -> None:
        self._thread.join()

    def get(self, folder: str) -> Any:
        """What the thread found for ``folder`` (None: nothing there); ``_UNLISTED`` when it
        has not got to it (yet)."""
        return self._found.get(folder, _UNLISTED)

    def result(self) -> dict[str, tuple[int, int] | None]:
        """Everything it found, once it is done."""
        self.wait()
        return self._found


def _trusted(recorded: object, limit: int | None) -> bool:
    """Whether a folder's recorded state (from the state file: any JSON) is one the previous
    build may vouch for: a (time, inode) pair whose time is older than ``limit`` (``RACY_NS``)."""
    return (limit is not None and type(recorded) is list and len(recorded) == 2
            and type(recorded[0]) is int and recorded[0] < limit)


def _plain(path: str) -> bool:
    """Whether a relative site path has no empty, ``.`` or ``..`` part and no NUL: what
    ``f"{out}/{path}"`` keeps inside the output folder (``SiteWriter._full``)."""
    return bool(path) and path[0] != "/" and "/." not in f"/{path}" and "//" not in path \
        and path[-1] != "/" and os.sep == "/" and "\0" not in path


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
