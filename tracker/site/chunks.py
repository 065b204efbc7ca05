"""Content-named chunk scripts kept from the previous build without being made again (#14).

A long experiment's data (compare records, leaderboard rows, filter records) is split into
chunk scripts by the hash of each run id, and each file is named by the hash of its content so
browsers may keep it. Learning that hash means serialising the chunk, so each chunk is also a
``Group`` whose fingerprint is a cheap key of what it is made from (its runs' ids, in order,
with each run's ``SiteData.run_fingerprint``, which the build computes anyway to reuse run
pages): when the previous build made the chunk from the same key and its file is still there,
the file keeps its name and is neither made, serialised nor written again.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from tracker.site.pages import Group, SiteFile

if TYPE_CHECKING:
    from tracker.site.data import SiteData

#: Part of every chunk key: bump it when what a chunk holds changes shape, so chunks made by
#: older code are made again.
FORMAT = "1"


def chunk_of(run_id: str, count: int) -> int:
    """The chunk holding ``run_id`` among ``count``: stable across builds, whatever runs are
    added (only the chunk count, a power of two, changes as an experiment grows)."""
    return _run_hash(run_id) % count


@functools.lru_cache(maxsize=1 << 18)
def _run_hash(run_id: str) -> int:
    # Remembered: the row, filter and compare chunks of a board each pick every run's (#14).
    return int(hashlib.sha1(run_id.encode("utf-8")).hexdigest()[:8], 16)


def chunk_count(items: int, per_chunk: int) -> int:
    """How many chunks ``items`` take at about ``per_chunk`` each: a power of two."""
    count = 1
    while count * per_chunk < items:
        count *= 2
    return count


def chunk_key(site: SiteData, runs: Iterable[dict[str, Any]], *extra: Any) -> str:
    """A hash of the runs (ids in order, each with its fingerprint) and ``extra``."""
    h = hashlib.sha256(f"{FORMAT}\0{extra!r}".encode())
    parts = site.chunk_parts
    runs = runs if isinstance(runs, list) else list(runs)
    try:
        h.update(b"".join([parts[run["run_id"]] for run in runs]))
    except KeyError:  # a run the site does not list: made one at a time
        h = hashlib.sha256(f"{FORMAT}\0{extra!r}".encode())
        h.update(b"".join([site.run_chunk_part(run) for run in runs]))
    return h.hexdigest()


class Chunk(NamedTuple):
    """One chunk script: where it is, the group the build keeps or writes, whether it is kept."""

    path: str
    group: Group
    kept: bool


def chunk_file(
    site: SiteData, key: str, fingerprint: str, folder: str, stem: str,
    make: Callable[[], bytes],
) -> Chunk:
    """One chunk script, named ``<folder>/<stem>-<content hash>.js``.

    Args:
        site: the build's data (``kept_files`` says what the previous build left).
        key: the group's stable name, e.g. ``chunk:<experiment id>:rows:3/8``.
        fingerprint: ``chunk_key`` of what the chunk is made from.
        folder: the site folder of the chunk.
        stem: the start of the file name, e.g. ``bench.rows``.
        make: the chunk's content; called only when the previous file cannot stay.
    """
    from tracker.site.writer import content_hash

    kept = site.kept_files(key, fingerprint)
    if kept is not None and len(kept) == 1:
        return Chunk(kept[0], Group(key, fingerprint, tuple), True)
    content = make()
    path = posixpath.join(folder, f"{stem}-{content_hash(content)[:16]}.js")
    return Chunk(path, Group(key, fingerprint, lambda: [SiteFile(path, content)]), False)
