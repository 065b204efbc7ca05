"""The one filesystem adapter: every byte tracker reads or writes in a store goes through here.

Two implementations share one interface:

* ``LocalFS`` for a folder on this machine. It uses ``os`` directly because the logging path must
  not pay for importing pyarrow before the first flush, and because atomic create-if-absent needs
  ``os.link``/``O_EXCL``, which ``pyarrow.fs`` does not offer.
* ``ArrowFS`` for anything ``pyarrow.fs`` can reach. Conditional create is supplied by a subclass
  that knows the object store's own primitive (``S3FS`` in ``tracker/store/s3.py``).

Paths given to the adapter are always relative to the store root and use ``/``.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tracker.exceptions import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

TMP_PREFIX = ".tmp-"
TMP_SUFFIX = ".tmp"  # temporary names: .tmp-<uuid4 hex>-<final name>.tmp


@dataclass(frozen=True)
class FileEntry:
    """One file found by ``list_files``: its store-relative path and size in bytes."""

    path: str
    size: int


class StoreFS:
    """Interface of a store filesystem. Paths are relative to the store root, ``/``-separated."""

    root: str
    is_local = False  # True when paths are files on this machine (``full_path`` is openable)

    def full_path(self, path: str) -> str:
        """The absolute location of ``path`` (a local path or ``bucket/key``)."""
        raise NotImplementedError

    def uri(self, path: str = "") -> str:
        """A URI for ``path`` that users can read (``file:///…`` or ``s3://…``)."""
        raise NotImplementedError

    def write_atomic(self, path: str, data: bytes) -> None:
        """Publish ``data`` at ``path`` so readers see all of it or nothing."""
        raise NotImplementedError

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Publish ``data`` at ``path`` only if nothing is there; True when this call created it."""
        raise NotImplementedError

    def read_bytes(self, path: str) -> bytes:
        raise NotImplementedError

    def open_input(self, path: str) -> Any:
        """A pyarrow random-access file, so a Parquet footer can be read without the whole file."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def list_files(self, prefix: str) -> list[FileEntry]:
        """Every file under ``prefix`` (recursively), temporary files excluded, sorted by path."""
        raise NotImplementedError

    def list_files_cached(self, prefix: str) -> list[FileEntry]:
        """``list_files`` for a process that lists the same prefix again and again (a warm
        query layer): an adapter may answer from what it listed before when it can tell that
        nothing changed. This one cannot: it lists everything."""
        return self.list_files(prefix)

    def forget_listings(self) -> None:
        """Make the next ``list_files_cached`` list every folder again (a file it listed
        turned out to be gone)."""

    def stat(self, path: str) -> tuple[str | None, int]:
        """(``"file"``, size), (``"dir"``, 0), or (None, -1) when nothing is at ``path``."""
        raise NotImplementedError

    def list_dir(self, path: str) -> list[str]:
        """Names of the direct children of ``path`` (files and folders); [] when it is missing."""
        raise NotImplementedError

    def scan_dir(self, path: str) -> list[tuple[str, bool, int]]:
        """(name, is folder, size) of each direct child of ``path``, from one listing."""
        raise NotImplementedError

    def delete(self, path: str) -> None:
        """Delete a file; a file that is already gone is not an error."""
        raise NotImplementedError

    def delete_many(self, paths: list[str]) -> None:
        """Delete files (missing ones are fine); object stores batch the requests."""
        for path in paths:
            self.delete(path)

    def remove_empty_dirs(self, path: str) -> None:
        """Remove ``path`` and its parents up to the root while they are empty (no-op on S3)."""

    def upload(self, local_path: str, path: str) -> None:
        """Copy a local file into the store atomically."""
        raise NotImplementedError

    def download(self, path: str, local_path: str) -> None:
        """Copy a store file to a local path."""
        raise NotImplementedError

    def arrow(self) -> tuple[Any, str]:
        """The ``pyarrow.fs`` filesystem and the prefix to put before store paths."""
        raise NotImplementedError


class LocalFS(StoreFS):
    """A store in a local folder."""

    is_local = True

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        # list_files_cached: prefix -> (when it was last walked in full, folder -> listing)
        self._listings: dict[str, tuple[float, dict[str, _Listing], list[FileEntry]]] = {}

    def full_path(self, path: str) -> str:
        return os.path.join(self.root, *path.split("/")) if path else self.root

    def uri(self, path: str = "") -> str:
        from pathlib import Path

        return Path(self.full_path(path)).as_uri()

    def _temp_for(self, full: str) -> str:
        folder, name = os.path.split(full)
        # The suffix keeps in-flight and abandoned writes out of plain engines' ``*.parquet``
        # globs: DuckDB and Polars match hidden files, so ``.tmp-…-part-….parquet`` would be
        # read (a whole part twice, or a truncated file) (#19).
        return os.path.join(folder, f"{TMP_PREFIX}{uuid.uuid4().hex}-{name}{TMP_SUFFIX}")

    def _write_temp(self, full: str, data: bytes) -> str:
        folder = os.path.dirname(full)
        for _attempt in range(5):
            # A compactor may remove an emptied run folder between our makedirs and our open.
            os.makedirs(folder, exist_ok=True)
            tmp = self._temp_for(full)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:
                continue
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            except BaseException:
                os.close(fd)
                _unlink_quietly(tmp)
                raise
            os.close(fd)
            return tmp
        raise StoreError(f"Cannot create a file in {folder!r}: the folder keeps disappearing.")

    def write_atomic(self, path: str, data: bytes) -> None:
        full = self.full_path(path)
        try:
            tmp = self._write_temp(full, data)
            self._stamp_above(full)
            os.replace(tmp, full)
        except OSError as exc:
            raise _store_error(exc, full) from exc
        self._stamp_above(full)

    def _stamp_above(self, full: str) -> None:
        """Set the modification time of the folder above the folder of ``full`` to now, before
        and after a file there is published or deleted: the kernel changes only the file's own
        folder, and a warm reader stats a run folder only when the experiment folder above it
        changed (``list_files_cached``, #16). Before the change too, so a writer that dies
        between its rename and its second stamp is still seen (the first stamp is a change a
        reader lists again until ``RACY_SECONDS`` after it). Only inside the store: never its
        root or above. A stamp that fails is not an error (the reader's full walk every
        ``FULL_WALK_SECONDS`` finds the file)."""
        above = os.path.dirname(os.path.dirname(full))
        if len(above) > len(self.root) and above.startswith(self.root + os.sep):
            try:
                os.utime(above)
            except OSError:
                pass

    def create_exclusive(self, path: str, data: bytes) -> bool:
        full = self.full_path(path)
        try:
            tmp = self._write_temp(full, data)
        except OSError as exc:
            raise _store_error(exc, full) from exc
        self._stamp_above(full)
        try:
            # link() publishes the complete file under the final name, or fails if the name exists.
            os.link(tmp, full)
            self._stamp_above(full)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                raise _store_error(exc, full) from exc
            # Filesystems without hard links: O_EXCL then write (readers skip short files).
            try:
                fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            self._stamp_above(full)
            return True
        finally:
            _unlink_quietly(tmp)

    def read_bytes(self, path: str) -> bytes:
        full = self.full_path(path)
        try:
            with open(full, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise _store_error(exc, full) from exc

    def open_input(self, path: str) -> Any:
        import pyarrow as pa

        return pa.OSFile(self.full_path(path), "rb")

    def exists(self, path: str) -> bool:
        return os.path.exists(self.full_path(path))

    def stat(self, path: str) -> tuple[str | None, int]:
        try:
            st = os.stat(self.full_path(path))
        except (FileNotFoundError, NotADirectoryError):
            return None, -1
        if os.path.isdir(self.full_path(path)):
            return "dir", 0
        return "file", st.st_size

    def list_files(self, prefix: str) -> list[FileEntry]:
        base = self.full_path(prefix)
        out: list[FileEntry] = []
        root_len = len(self.root) + 1
        for full, size in _walk(base):
            out.append(FileEntry(full[root_len:].replace(os.sep, "/"), size))
        out.sort(key=lambda e: e.path)
        return out

    def list_files_cached(self, prefix: str) -> list[FileEntry]:
        """``list_files``, re-listing only the folders whose modification time changed (#16).

        Adding, renaming or removing a file or folder changes its parent folder's mtime, and
        store files are never rewritten in place, so a folder whose mtime is the one seen when
        it was listed holds the same entries: one ``stat`` instead of a listing. A folder whose
        mtime was within ``RACY_SECONDS`` of its listing is listed again (a second change in
        the same clock tick would leave the mtime as it was), and every ``FULL_WALK_SECONDS``
        the whole prefix is walked as ``list_files`` does, the source of truth when in doubt
        (network filesystems that cache attributes).

        Writers also stamp the folder above the one they change (``_stamp_above``), so once a
        folder's sub-folders were checked after its last change, a sub-folder without folders
        of its own (a run folder) is not even stat'ed while that folder's mtime holds: a warm
        search of 2,000 loose runs made 2,000 ``stat`` calls (~3 ms) before.
        """
        import time

        now = time.time()
        walked, old, before = self._listings.get(prefix, (0.0, {}, []))
        if now - walked >= FULL_WALK_SECONDS:
            walked, old = now, {}
        fresh: dict[str, _Listing] = {}
        changed = _walk_cached(self.full_path(prefix), old, fresh, False)
        if not changed and len(fresh) == len(old):
            out = before  # every folder as it was: the same list (callers may memoize on it)
        else:
            root_len = len(self.root) + 1
            out = [FileEntry(full[root_len:].replace(os.sep, "/"), size)
                   for listing in fresh.values() for full, size in listing.files]
            out.sort(key=lambda e: e.path)
        self._listings[prefix] = (walked, fresh, out)
        return out

    def forget_listings(self) -> None:
        self._listings.clear()

    def list_dir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.full_path(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def scan_dir(self, path: str) -> list[tuple[str, bool, int]]:
        out = []
        try:
            entries = list(os.scandir(self.full_path(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
                out.append((entry.name, is_dir, 0 if is_dir else entry.stat().st_size))
            except FileNotFoundError:
                continue
        return sorted(out)

    def delete(self, path: str) -> None:
        full = self.full_path(path)
        self._stamp_above(full)
        _unlink_quietly(full)
        self._stamp_above(full)

    def delete_many(self, paths: list[str]) -> None:
        # One stamp per folder above, before and after all the deletions (a compaction deletes
        # 2,000 run files from one experiment's folders).
        fulls = [self.full_path(path) for path in paths]
        above = list({os.path.dirname(os.path.dirname(full)): full for full in fulls}.values())
        for full in above:
            self._stamp_above(full)
        for full in fulls:
            _unlink_quietly(full)
        for full in above:
            self._stamp_above(full)

    def remove_empty_dirs(self, path: str) -> None:
        full = self.full_path(path)
        while full.startswith(self.root + os.sep):
            try:
                os.rmdir(full)
            except OSError:
                return
            full = os.path.dirname(full)

    def upload(self, local_path: str, path: str) -> None:
        full = self.full_path(path)
        folder = os.path.dirname(full)
        try:
            os.makedirs(folder, exist_ok=True)
            tmp = self._temp_for(full)
            try:
                shutil.copyfile(local_path, tmp)
                self._stamp_above(full)
                os.replace(tmp, full)
            except BaseException:
                _unlink_quietly(tmp)
                raise
        except OSError as exc:
            raise _store_error(exc, full) from exc
        self._stamp_above(full)

    def download(self, path: str, local_path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        shutil.copyfile(self.full_path(path), local_path)

    def arrow(self) -> tuple[Any, str]:
        import pyarrow.fs as pafs

        return pafs.LocalFileSystem(), self.root


class ArrowFS(StoreFS):
    """A store on any ``pyarrow.fs`` filesystem, rooted at ``base`` (e.g. ``bucket/prefix``).

    Conditional create is left to subclasses that know the service's own primitive
    (``tracker.store.s3.S3FS``).
    """

    scheme = "file"

    def __init__(self, filesystem: Any, base: str) -> None:
        self.fs = filesystem
        self.root = base.rstrip("/")

    def full_path(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def uri(self, path: str = "") -> str:
        return f"{self.scheme}://{self.full_path(path)}"

    def _error(self, exc: OSError, full: str) -> StoreError:
        """The ``StoreError`` for a failed operation on ``full`` (subclasses explain more)."""
        return _store_error(exc, full)

    def write_atomic(self, path: str, data: bytes) -> None:
        # One PUT on an object store is atomic (local folders use LocalFS, which renames).
        full = self.full_path(path)
        try:
            with self.fs.open_output_stream(full) as out:
                out.write(data)
        except OSError as exc:
            raise self._error(exc, full) from exc

    def create_exclusive(self, path: str, data: bytes) -> bool:
        raise StoreError(
            f"The filesystem {type(self.fs).__name__} offers no atomic create-if-absent; "
            "registry version claims need it."
        )

    def read_bytes(self, path: str) -> bytes:
        full = self.full_path(path)
        try:
            with self.fs.open_input_stream(full) as fh:
                return bytes(fh.read())
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise self._error(exc, full) from exc

    def open_input(self, path: str) -> Any:
        full = self.full_path(path)
        try:
            return self.fs.open_input_file(full)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise self._error(exc, full) from exc

    def _info(self, target: Any) -> Any:
        try:
            return self.fs.get_file_info(target)
        except OSError as exc:
            where = target if isinstance(target, str) else target.base_dir
            raise self._error(exc, where) from exc

    def exists(self, path: str) -> bool:
        return self.stat(path)[0] is not None

    def stat(self, path: str) -> tuple[str | None, int]:
        import pyarrow.fs as pafs

        info = self._info(self.full_path(path))
        if info.type == pafs.FileType.File:
            return "file", int(info.size or 0)
        if info.type == pafs.FileType.Directory:
            return "dir", 0
        return None, -1

    def list_files(self, prefix: str) -> list[FileEntry]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self.full_path(prefix), recursive=True, allow_not_found=True)
        out = []
        cut = len(self.root) + 1
        for info in self._info(selector):
            if info.type != pafs.FileType.File or info.base_name.startswith(TMP_PREFIX):
                continue
            out.append(FileEntry(info.path[cut:], int(info.size or 0)))
        out.sort(key=lambda e: e.path)
        return out

    def list_dir(self, path: str) -> list[str]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self.full_path(path), recursive=False, allow_not_found=True)
        return sorted(info.base_name for info in self._info(selector))

    def scan_dir(self, path: str) -> list[tuple[str, bool, int]]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self.full_path(path), recursive=False, allow_not_found=True)
        return sorted(
            (info.base_name, info.type == pafs.FileType.Directory, int(info.size or 0))
            for info in self._info(selector)
        )

    def delete(self, path: str) -> None:
        full = self.full_path(path)
        try:
            self.fs.delete_file(full)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._error(exc, full) from exc

    def upload(self, local_path: str, path: str) -> None:
        full = self.full_path(path)
        try:
            with open(local_path, "rb") as src, self.fs.open_output_stream(full) as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except OSError as exc:
            raise self._error(exc, full) from exc

    def download(self, path: str, local_path: str) -> None:
        full = self.full_path(path)
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        try:
            with self.fs.open_input_stream(full) as src, open(local_path, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise self._error(exc, full) from exc

    def arrow(self) -> tuple[Any, str]:
        return self.fs, self.root


def _walk(base: str) -> Iterator[tuple[str, int]]:
    try:
        entries = list(os.scandir(base))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name.startswith(TMP_PREFIX):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)
            elif entry.is_file():
                yield entry.path, entry.stat().st_size
        except FileNotFoundError:  # deleted by a compactor while we looked
            continue


# list_files_cached: a folder listed less than this after its last change is listed again.
RACY_SECONDS = 2.0
# list_files_cached: walk everything again after this long, trusting no folder's mtime.
FULL_WALK_SECONDS = 30.0


@dataclass(frozen=True)
class _Listing:
    """One folder as ``_walk_cached`` listed it: its mtime then, and what it held."""

    mtime_ns: int
    trusted: bool  # listed long enough after its mtime to be reused while the mtime holds
    files: tuple[tuple[str, int], ...]  # (full path, size)
    folders: tuple[str, ...]  # full paths
    # Trusted, and its sub-folders were checked by a walk after its last change: while its
    # mtime holds, writers (who stamp it when they change a sub-folder) changed none of them.
    settled: bool = False


def _walk_cached(folder: str, old: dict[str, _Listing], fresh: dict[str, _Listing],
                 above_settled: bool) -> bool:
    """Put the listings of ``folder`` and its sub-folders in ``fresh`` (from ``old`` where
    unchanged); return whether any listing differs from ``old``'s. ``above_settled``: the
    folder above is settled and its mtime held, so a trusted leaf needs no ``stat``."""
    import time

    listing = old.get(folder)
    if above_settled and listing is not None and listing.trusted and not listing.folders:
        fresh[folder] = listing
        return False
    try:
        mtime = os.stat(folder).st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return listing is not None
    same = listing is not None and listing.trusted and listing.mtime_ns == mtime
    settled = same and listing is not None and listing.settled
    changed = False
    if listing is None or not same:
        listed_at = time.time_ns()
        files: list[tuple[str, int]] = []
        folders: list[str] = []
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return listing is not None
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_file():
                    files.append((entry.path, entry.stat().st_size))
            except FileNotFoundError:  # deleted by a compactor while we looked
                continue
        trusted = listed_at - mtime > RACY_SECONDS * 1e9
        listing, changed = _Listing(mtime, trusted, tuple(files), tuple(folders)), True
    elif not settled:
        # Trusted and unchanged: its sub-folders are stat'ed now, after its last change.
        listing, changed = replace(listing, settled=True), True
    fresh[folder] = listing
    for sub in listing.folders:
        if _walk_cached(sub, old, fresh, settled):
            changed = True
    return changed


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _store_error(exc: OSError, path: str) -> StoreError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"No space left on the device while writing {path!r}; nothing was lost, "
                          "the data stays in memory and is written at the next flush.")
    return StoreError(f"Cannot write {path!r}: {exc.strerror or exc}.")
