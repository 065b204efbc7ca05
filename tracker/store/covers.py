"""Claims of consolidated files, checked against rows before a reader acts on them (#15).

A ``final`` or ``part`` file lists in its footer (``tracker.covers``) the ids of the files it
supersedes, and readers skip those files. A footer is only text: a crafted part listing other
files' segments would hide their runs from every reader. So whenever a claim would leave out a
file that exists, or rows of a file that is read, the claimer must hold at least as many rows
of each segment concerned (its ``seg`` column); otherwise the claim is ignored for that segment,
with a warning naming both files (``Store.warnings``, ``tracker doctor``). In a healthy store a
claimed file exists only between a compaction's publish and its deletes, so the check reads
almost nothing.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from tracker.exceptions import CorruptFileError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tracker.store.fs import StoreFS
    from tracker.store.store import Store, StoreFile

log = logging.getLogger("tracker.store")

META_COVERS = b"tracker.covers"
LEVEL_SEGMENT = 0


def covers_of(table: Any) -> frozenset[str]:
    """Ids a consolidated file claims to supersede, from the metadata of its table as read."""
    return _claims((table.schema.metadata or {}).get(META_COVERS))


def _claims(raw: bytes | None) -> frozenset[str]:
    if raw is None:
        return frozenset()
    try:
        claimed = json.loads(raw)
    except ValueError:
        return frozenset()
    return frozenset(str(i) for i in claimed) if isinstance(claimed, list) else frozenset()


def read_covers(fs: StoreFS, path: str) -> frozenset[str]:
    """Ids a consolidated file claims to supersede, from its footer (read from its bytes when
    local: ``tracker.store.footer``)."""
    if fs.is_local:
        from tracker.store.footer import UNSURE, footer_value

        try:
            raw = footer_value(fs.full_path(path), META_COVERS)
        except FileNotFoundError:
            return frozenset()
        except OSError:
            raw = UNSURE  # pyarrow below says what is wrong
        if raw is not UNSURE:
            return _claims(raw)
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with fs.open_input(path) as source:
            meta = pq.read_metadata(source).metadata or {}
    except FileNotFoundError:
        return frozenset()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptFileError(
            f"{fs.full_path(path)} is not a readable Parquet file ({exc})"
        ) from exc
    return _claims(meta.get(META_COVERS))


def seg_counts(fs: StoreFS, path: str) -> dict[str, int]:
    """Rows per segment id of a record file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        with fs.open_input(path) as source:
            table = pq.ParquetFile(source).read(columns=["seg"], use_threads=False)
    except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
        raise CorruptFileError(
            f"{fs.full_path(path)} is not a readable Parquet file ({exc})"
        ) from exc
    counts = pc.value_counts(table.column("seg")).to_pylist()
    return {str(c["values"]): int(c["counts"]) for c in counts if c["values"] is not None}


def num_rows(fs: StoreFS, path: str) -> int:
    """The row count in a file's footer; ``CorruptFileError`` when it cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with fs.open_input(path) as source:
            return int(pq.read_metadata(source).num_rows)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptFileError(
            f"{fs.full_path(path)} is not a readable Parquet file ({exc})"
        ) from exc


class _Rows:
    """Rows per segment of the files a plan involves, read at most once each."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.counts: dict[str, dict[str, int]] = {}

    def of(self, f: StoreFile) -> dict[str, int]:
        if f.path not in self.counts:
            try:
                self.counts[f.path] = (
                    {f.file_id: num_rows(self.store.fs, f.path)} if f.level == LEVEL_SEGMENT
                    else seg_counts(self.store.fs, f.path)
                )
            except (CorruptFileError, FileNotFoundError):
                self.counts[f.path] = {}
        return self.counts[f.path]


def short_claims(
    store: Store, held: Sequence[StoreFile], files: Sequence[StoreFile], chosen: list[str],
    exclude: dict[str, frozenset[str]],
) -> list[str]:
    """Check the claims a plan acted on; return the held files to read after all.

    ``held`` are files left out because chosen files claim them or all they claim;
    ``exclude`` maps chosen files to segments left out of them because a file chosen before
    claims those. Where the claimer holds fewer rows of a segment than the other file, the
    other file's rows of it are read after all and the claimer's rows of it are left out
    (``exclude`` is updated), with a warning naming both files.
    """
    picked = set(chosen)
    holders = sorted((f for f in files if f.path in picked and f.level > LEVEL_SEGMENT),
                     key=lambda f: (-f.level, f.path))  # the plan's order
    if not holders or (not held and not exclude):
        return []
    rows = _Rows(store)
    by_path = {f.path: f for f in files}

    def holder_of(seg: str, before: StoreFile | None) -> StoreFile | None:
        for h in holders:
            if before is not None and h.path == before.path:
                return None  # only files chosen before it can claim its rows
            if seg in store.cached_covers(h) and seg not in exclude.get(h.path, frozenset()):
                return h
        return None

    def short(f: StoreFile, seg: str, n: int, holder: StoreFile | None) -> bool:
        has = rows.of(holder).get(seg, 0) if holder is not None else 0
        if has >= n:
            return False
        if holder is not None:
            exclude[holder.path] = exclude.get(holder.path, frozenset()) | {seg}
        claimer = holder or next((h for h in holders if f.file_id in store.cached_covers(h)), f)
        _report(store, claimer, f, seg, has, n)
        return True

    planned = dict(exclude)  # the overlaps the plan found, checked after the held files
    out = []
    for f in held:
        counts = rows.of(f)
        missing = {seg for seg, n in sorted(counts.items()) if short(f, seg, n, holder_of(seg, None))}
        if missing:
            out.append(f.path)
            rest = frozenset(counts) - missing
            if rest:
                exclude[f.path] = rest
    for path, segs in sorted(planned.items()):
        later = by_path.get(path)
        if later is None:
            continue
        counts = rows.of(later)
        back = {seg for seg in sorted(segs)
                if seg in counts and short(later, seg, counts[seg], holder_of(seg, later))}
        if back:
            exclude[path] = exclude[path] - back
    return out


def _report(store: Store, claimer: StoreFile, f: StoreFile, seg: str, has: int, n: int) -> None:
    if not store.first_report(("short", claimer.path, claimer.size, f.path, seg)):
        return
    what = (f"its tracker.covers footer claims segment {seg} of {f.path} but it holds {has} of "
            f"its {n} rows")
    store.cover_problems.append((claimer.path, what))
    store.warn_file(claimer, (
        f"Ignoring the claim of store file {store.fs.full_path(claimer.path)} on segment {seg} "
        f"of {store.fs.full_path(f.path)}: it holds {has} of its {n} rows; those are read from "
        f"{store.fs.full_path(f.path)}. Run tracker doctor."
    ))
