"""Which ids a consolidated file covers, checked against its own rows (#15).

A ``final`` or ``part`` file lists in its footer (``tracker.covers``) the ids of the files it
supersedes, and readers skip those files. A footer is only text: a crafted part listing other
files' segments would hide their runs from every reader. So a claim is believed only for the
segment ids whose rows the file holds (its ``seg`` column), and a segment file that still exists
is skipped only when the file claiming it holds at least as many of its rows. Ignored claims
are reported by path (``Store.warnings``, ``tracker doctor``).
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
    """Ids a consolidated file supersedes, from its table as read: those its footer lists and
    its rows hold (see ``Store.covers``)."""
    raw = (table.schema.metadata or {}).get(META_COVERS)
    if raw is None:
        return frozenset()
    return _trusted(raw, _segs_of(table))[0]


def _segs_of(table: Any) -> frozenset[str]:
    import pyarrow.compute as pc

    if "seg" not in table.column_names:
        return frozenset()
    return frozenset(str(s) for s in pc.unique(table.column("seg")).to_pylist() if s is not None)


def _trusted(raw: bytes, segs: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(claimed ids the rows hold, claimed ids they do not) from a raw ``tracker.covers``."""
    try:
        claimed = json.loads(raw)
    except ValueError:
        claimed = []
    ids = frozenset(str(i) for i in claimed) if isinstance(claimed, list) else frozenset()
    return ids & segs, ids - segs


def read_covers(fs: StoreFS, path: str) -> tuple[frozenset[str], frozenset[str]]:
    """(ids a consolidated file covers, ids its footer claims but its rows do not hold)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with fs.open_input(path) as source:
            parquet = pq.ParquetFile(source)
            raw = (parquet.metadata.metadata or {}).get(META_COVERS)
            if raw is None:
                return frozenset(), frozenset()
            # Only the seg column (dictionary-encoded in consolidated files), once per file:
            # the result is cached on disk with the covers.
            table = parquet.read(columns=["seg"], use_threads=False)
    except FileNotFoundError:
        return frozenset(), frozenset()
    except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
        raise CorruptFileError(
            f"{fs.full_path(path)} is not a readable Parquet file ({exc})"
        ) from exc
    return _trusted(raw, _segs_of(table))


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


def report_lies(store: Store, f: StoreFile, files: Sequence[StoreFile]) -> None:
    """Warn (once per file) when the footer of ``f`` claims files of the store whose rows it
    does not hold: readers ignore those claims, ``tracker doctor`` reports them."""
    claims = store.untrusted_covers(f)
    if not claims or not store.first_report(("covers", f.path, f.size)):
        return
    named = sorted(g.path for g in files
                   if g.file_id in claims and g.path != f.path and not _held(store, f, g))
    if named:
        what = (f"its tracker.covers footer lists {len(named)} file(s) whose rows it does not "
                f"hold ({', '.join(named[:3])}{', …' if len(named) > 3 else ''})")
        store.cover_problems.append((f.path, what))
        store.warn_file(f, (
            f"Ignoring part of the tracker.covers footer of store file "
            f"{store.fs.full_path(f.path)}: it {what[len('its tracker.covers footer '):]}; they "
            "are read as usual. Run tracker doctor."
        ))


def _held(store: Store, f: StoreFile, g: StoreFile) -> bool:
    """Whether ``f`` holds the rows of the consolidated file ``g`` it claims (a part claims the
    finals it merged: their own ids are no segment of its rows, their segments are)."""
    if g.level == LEVEL_SEGMENT:
        return False
    try:
        return store.covers(g) <= store.covers(f)
    except CorruptFileError:
        return True  # unreadable: reported as such, nothing is hidden by skipping it


def short_claims(
    store: Store, held: Sequence[StoreFile], files: Sequence[StoreFile], chosen: list[str],
    exclude: dict[str, frozenset[str]],
) -> list[str]:
    """Files skipped because chosen files claim all their segments, checked row by row: when a
    claimer holds fewer rows of a segment than the skipped file (a crafted part with one row of
    another file's segment), the skipped file is read after all, the claimer's rows of that
    segment are left out, and so are the skipped file's rows that claimers hold in full.
    Returns the paths to read after all (``exclude`` is updated)."""
    if not held:
        return []
    picked = set(chosen)
    holders = [f for f in files if f.path in picked and f.level > LEVEL_SEGMENT]
    counts: dict[str, dict[str, int]] = {}

    def rows_of(f: StoreFile) -> dict[str, int]:
        if f.path not in counts:
            try:
                counts[f.path] = (
                    {f.file_id: num_rows(store.fs, f.path)} if f.level == LEVEL_SEGMENT
                    else seg_counts(store.fs, f.path)
                )
            except (CorruptFileError, FileNotFoundError):
                counts[f.path] = {}
        return counts[f.path]

    out = []
    for f in held:
        short: dict[str, tuple[StoreFile, int]] = {}
        for seg, n in rows_of(f).items():
            holder = next((h for h in holders if seg in store.cached_covers(h)
                           and seg not in exclude.get(h.path, frozenset())), None)
            if holder is not None and rows_of(holder).get(seg, 0) < n:
                short[seg] = (holder, n)
        if not short:
            continue
        out.append(f.path)
        rest = frozenset(rows_of(f)) - frozenset(short)
        if rest:
            exclude[f.path] = rest
        for seg, (holder, n) in sorted(short.items()):
            exclude[holder.path] = exclude.get(holder.path, frozenset()) | {seg}
            if store.first_report(("short", holder.path, holder.size, seg)):
                what = (f"its tracker.covers footer claims segment {seg} of {f.path} but it "
                        f"holds {counts[holder.path].get(seg, 0)} of its {n} rows")
                store.cover_problems.append((holder.path, what))
                store.warn_file(holder, (
                    f"Ignoring the claim of store file {store.fs.full_path(holder.path)} on "
                    f"segment {seg} of {store.fs.full_path(f.path)}: it holds "
                    f"{counts[holder.path].get(seg, 0)} of its {n} rows; the file is read as "
                    "usual. Run tracker doctor."
                ))
    return out
