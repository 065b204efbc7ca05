"""The store: immutable Parquet record files in Hive-style folders (format version 1).

Layout of a store rooted at ``<root>`` (a folder, or ``s3://bucket/prefix``: ``tracker.store.s3``)::

    <root>/tracker-store.json                         {"format": "tracker-store", "format_version": 1}
    <root>/experiments/experiment_id=<eid>/seg-<id>.parquet       experiment events
    <root>/runs/experiment_id=<eid>/run_id=<rid>/seg-<id>.parquet flush segments of a run
    <root>/runs/experiment_id=<eid>/run_id=<rid>/final-<id>.parquet   the run's consolidated file
    <root>/parts/experiment_id=<eid>/part-<id>.parquet            compacted finished runs
    <root>/artifacts/<eid>/<rid>/artifacts/…                       default artifact location
    <root>/.locks/compact.lock                                      compaction lock (tracker.store.lock)

Every ``.parquet`` file has the record schema of ``tracker.store.schema`` and key-value
metadata ``tracker.format_version``. Ids are time-ordered (16 hex digits of nanoseconds, 8
random) so names never collide. Files are written to ``.tmp-<uuid>-<name>.tmp`` names (which no
``*.parquet`` glob matches) and renamed into place (on S3: one PUT of the final name, which is
atomic), never modified afterwards, and deleted only by compaction (or ``tracker gc``) once a
consolidated file that covers them (footer key ``tracker.covers``: the JSON list of ids it
supersedes) is published.

In a local store, a writer that publishes or deletes a file also sets the modification time of
the folder above the file's folder to now, before and after (``LocalFS._stamp_above``: writing
``runs/experiment_id=<eid>/run_id=<rid>/final-….parquet`` stamps ``runs/experiment_id=<eid>``). A
process that lists the store again and again (a warm query layer, ``LocalFS.list_files_cached``)
then stats a run folder only when the experiment folder above it changed; another program that
writes into an existing run folder without stamping is seen by the full walk it makes every
``FULL_WALK_SECONDS`` (30 s).

Readers (``Store.plan``) read each segment exactly once: a file whose id is covered by a
consolidated file is skipped, a consolidated file too (a part absorbed by a newer part);
overlapping consolidated files are resolved by level (part over final over segment), then by
name. A ``tracker.covers`` claim that would leave out a file or rows is believed only when the
claimer holds at least as many rows of each segment concerned (``tracker.store.covers``).
Unreadable files (footer or data page) are skipped with a warning naming them. Engines that
read every file count a superseded file's rows twice until it is deleted (see the README's
"Store format").
"""

from __future__ import annotations

from tracker.store.fs import ArrowFS, FileEntry, LocalFS, StoreFS
from tracker.store.schema import SCHEMA_VERSION
from tracker.store.store import ReadPlan, Store, StoreFile

__all__ = [
    "ArrowFS",
    "FileEntry",
    "LocalFS",
    "ReadPlan",
    "SCHEMA_VERSION",
    "Store",
    "StoreFile",
    "StoreFS",
]
