"""Publish rules applied to the query layer's records, first in full, then file by file (#14).

A build (``tracker build``) reads the store through ``StoreQuery(publish=rules)``: the records of
hidden experiments and redacted metric keys are deleted, and every text value and key is
rewritten (``apply``) before the tables are folded. Those published tables are saved like the
plain ones (``tracker.query.snapshot``), in a snapshot of their own named by ``cache_key`` (a
digest of the rules' fingerprint, never a store value), so the next build restores them instead
of reading and redacting the whole store again, then loads the files added since and applies
the rules to just their records.

What stays true: the published tables hold only what a full load with the same rules holds.
The snapshot holds redacted records only (the unredacted ones never leave memory), a plain
snapshot is never served with rules nor a published one without, and the cases an incremental
apply cannot decide load everything again (``StoreQuery._apply``): other rules, a removed file
(compaction), and an experiment's record among the new files (created, renamed or deleted: which
experiments are published may change). Hidden experiments are remembered by a digest of their
id (``Published``), so a new run of one is dropped without any of its records being kept.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracker.query import views

if TYPE_CHECKING:
    from tracker.query import PublishFilter, StoreQuery

_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass
class Published:
    """Which experiments' records are in the published tables.

    Args:
        shown: the ids of the experiments kept.
        hidden: sha256 digests of the ids of the experiments dropped (their ids are left out of
            the published tables, so the snapshot does not keep them either).
    """

    shown: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, list[str]]:
        return {"shown": sorted(self.shown), "hidden": sorted(self.hidden)}

    @classmethod
    def from_json(cls, data: Any) -> Published | None:
        """The state saved by ``as_json``; None when ``data`` is not one (a damaged snapshot)."""
        if not isinstance(data, dict):
            return None
        shown, hidden = data.get("shown"), data.get("hidden")
        if not isinstance(shown, list) or not isinstance(hidden, list):
            return None
        if not all(isinstance(s, str) for s in shown) or not all(
            isinstance(h, str) and _DIGEST.fullmatch(h) for h in hidden
        ):
            return None
        return cls(set(shown), set(hidden))


def cache_key(publish: PublishFilter) -> str | None:
    """The name of the snapshot of tables published with ``publish``: a digest of its
    ``fingerprint()`` (the rules and the redaction code's version); None when it has none (a
    filter without a fingerprint is never cached)."""
    fingerprint = getattr(publish, "fingerprint", None)
    text = fingerprint() if callable(fingerprint) else None
    if not isinstance(text, str):
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _digest(experiment_id: str) -> str:
    return hashlib.sha256(experiment_id.encode("utf-8", "surrogatepass")).hexdigest()


def names_experiments(q: StoreQuery, files: list[str]) -> bool:
    """Whether the records loaded from ``files`` include an experiment's record."""
    (count,) = q._execute(
        views.EXPERIMENT_RECORDS.format(scope=views.NEW_FILES), {"files": files}
    ).fetchone() or (0,)
    return bool(count)


def apply(
    q: StoreQuery, publish: PublishFilter, files: list[str] | None = None,
    state: Published | None = None,
) -> Published:
    """Drop hidden experiments and metrics from ``records``; rewrite text values and keys.

    Args:
        q: the query layer whose ``records`` are published.
        publish: the rules.
        files: None for every record; else the files just loaded on top of records published
            before (``state``): only their records are changed. They hold no experiment's
            record (``names_experiments``), so an experiment not seen before has no name.
        state: the experiments shown and hidden so far (with ``files``).

    Returns the experiments shown and hidden now.
    """
    if files is None or state is None:
        files, state = None, Published()
    scope = "" if files is None else views.NEW_FILES
    scoped: dict[str, Any] | None = None if files is None else {"files": files}
    dropped = []
    for eid, name in q._execute(views.EXPERIMENT_NAMES.format(scope=scope), scoped).fetchall():
        eid = str(eid)
        if eid in state.shown:
            continue
        if _digest(eid) in state.hidden or not publish.keeps_experiment(name):
            state.hidden.add(_digest(eid))
            dropped.append(eid)
        else:
            state.shown.add(eid)
    if dropped:
        q._execute(views.DELETE_EXPERIMENTS, {"ids": dropped})
    keys = [k for (k,) in q._execute(views.METRIC_KEYS.format(scope=scope), scoped).fetchall()]
    hidden_keys = [k for k in keys if not publish.keeps_metric(k)]
    if hidden_keys:
        q._execute(views.DELETE_METRICS.format(scope=scope), {"keys": hidden_keys, **(scoped or {})})
    changed = [
        (kind, key, value, new)
        for kind, key, value in q._execute(views.TEXT_VALUES.format(scope=scope), scoped).fetchall()
        if (new := publish.scrub(kind, key, value)) != value
    ]
    if changed:
        _replace(q, views.REPLACE_VALUES.format(scope=scope), scoped, "scrubbed",
                 ("kind", "key", "old", "new"), changed)
    # Keys after values: a value is redacted by its key as logged (#15: keys are names too).
    renamed = [
        (kind, key, new)
        for kind, key in q._execute(views.NAMED_KEYS.format(scope=scope), scoped).fetchall()
        if (new := publish.scrub_key(kind, key)) != key
    ]
    if renamed:
        _replace(q, views.REPLACE_KEYS.format(scope=scope), scoped, "renamed",
                 ("kind", "old", "new"), renamed)
    return state


def _replace(
    q: StoreQuery, sql: str, params: dict[str, Any] | None, table: str, names: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Run ``sql`` with ``rows`` registered as the string table ``table``."""
    import pyarrow as pa

    columns = list(zip(*rows))
    arrow = pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, columns)})
    con = q.con
    con.register(table, arrow)
    try:
        q._execute(sql, params)
    finally:
        con.unregister(table)
