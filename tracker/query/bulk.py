"""Bulk reads for the site builder: whole tables at once, grouped in Python.

One query per table instead of one per run keeps a 10,000-run build fast. Results are plain
Python structures (no DuckDB relations leave this module).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from tracker.exceptions import InvalidArgumentError, TrackerError

if TYPE_CHECKING:
    from tracker.query import StoreQuery


def experiments(q: StoreQuery) -> list[dict[str, Any]]:
    """Active experiments that have a name, sorted by name."""
    q.refresh()
    return q.rows(
        "SELECT * FROM experiments WHERE name IS NOT NULL AND lifecycle_stage = 'active' "
        "ORDER BY name, experiment_id"
    )


def runs(q: StoreQuery) -> list[dict[str, Any]]:
    """Every active run with its attributes, newest first."""
    q.refresh()
    return q.rows(
        "SELECT run_id, experiment_id, run_name, status, start_time, end_time, user_id, "
        "artifact_uri, parent_run_id, last_seen, dead FROM runs "
        "WHERE lifecycle_stage = 'active' ORDER BY start_time DESC NULLS LAST, run_id"
    )


class Grouped(Mapping[str, dict[str, Any]]):
    """Run id → key → value, as ``_grouped`` read it, runs in id order and each run's keys in
    key order. A run's dict is made the first time it is asked for, then kept: a rebuild after
    one new run looks at a few thousand runs' params of 100,000 (#14: making every run's dict
    took ~0.25 s a table). Read-only, like the tables it comes from."""

    __slots__ = ("_keys", "_codes", "_values", "_at", "_starts", "_made")

    def __init__(self, keys: list[Any], codes: list[int], values: list[Any],
                 heads: list[tuple[str, int]]) -> None:
        self._keys, self._codes, self._values = keys, codes, values
        self._at = {run_id: i for i, (run_id, _) in enumerate(heads)}
        self._starts = list(itertools.accumulate((count for _, count in heads), initial=0))
        self._made: dict[str, dict[str, Any]] = {}

    def __getitem__(self, run_id: str) -> dict[str, Any]:
        made = self._made.get(run_id)
        if made is None:
            i = self._at[run_id]
            start, stop = self._starts[i], self._starts[i + 1]
            made = self._made[run_id] = dict(zip(
                map(self._keys.__getitem__, self._codes[start:stop]), self._values[start:stop]))
        return made

    def get(self, run_id: str, default: Any = None) -> Any:
        made = self._made.get(run_id)
        if made is not None:
            return made
        return self[run_id] if run_id in self._at else default

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


def _grouped(q: StoreQuery, table: str, column: str = "value") -> Grouped:
    """run id → key → ``column`` of ``table`` (``Grouped``: each run's dict made when asked for)."""
    return _grouped_columns(q, table, (column,))[0]


def _grouped_columns(q: StoreQuery, table: str, columns: tuple[str, ...]) -> list[Grouped]:
    """``_grouped`` of each of ``columns``, read in one query.

    The keys come as numbers into the table's sorted distinct keys and each value as an array
    element (``fetchnumpy``): a Python tuple, and a key string, per row took twice as long
    (#14: 1,000,000 params at 100,000 runs, ~1.1 s → ~0.5 s), and each key is one string
    object for all runs.
    """
    q.refresh()
    heads = q._execute(f"SELECT run_id, count(*) FROM {table} GROUP BY run_id "
                       "ORDER BY run_id").fetchall()
    names = q._execute(f"SELECT DISTINCT key FROM {table} ORDER BY key NULLS LAST").fetchall()
    read = q._execute(
        f"WITH names AS (SELECT key, (row_number() OVER (ORDER BY key NULLS LAST) - 1)::INTEGER "
        f"AS i FROM (SELECT DISTINCT key FROM {table})) "
        f"SELECT n.i, {', '.join(f't.{c}' for c in columns)} FROM {table} t "
        "JOIN names n ON t.key IS NOT DISTINCT FROM n.key ORDER BY t.run_id, n.i",
        None).fetchnumpy()
    codes: list[Any] = read["i"].tolist()
    if len(codes) != sum(count for _, count in heads):
        raise TrackerError(f"{table} changed while it was read.")
    keys = [key for key, in names]
    # a masked (NULL) value gives None
    return [Grouped(keys, codes, read[column].tolist(), heads) for column in columns]


def params(q: StoreQuery) -> Grouped:
    return _grouped(q, "params")


def tags(q: StoreQuery) -> Grouped:
    return _grouped(q, "tags")


def latest_metrics(q: StoreQuery) -> Grouped:
    return _grouped(q, "latest_metrics")


def latest_metrics_and_counts(q: StoreQuery) -> tuple[Grouped, Grouped]:
    """``latest_metrics`` and ``metric_counts``, read together."""
    values, points = _grouped_columns(q, "latest_metrics", ("value", "points"))
    return values, points


def metric_points(
    q: StoreQuery, run_ids: list[str] | None = None, max_points: int | None = None
) -> dict[str, dict[str, list[tuple[int, int, float]]]]:
    """run id → metric key → [(step, timestamp, value)] sorted by step then time.

    Args:
        q: the query layer.
        run_ids: only these runs (default: every run).
        max_points: reduce longer series in SQL before they reach Python (#15: a run of 10 M
            points took 7.2 GB to build a site): each series is cut into ``max_points // 4``
            stretches of steps, and each keeps its first, last, lowest and highest point, so
            the shape, the extremes and the last point stay. None: every point.
    """
    if max_points is not None and (
        isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 4
    ):
        raise InvalidArgumentError(f"max_points must be an integer of at least 4, got {max_points!r}.")
    out: dict[str, dict[str, list[tuple[int, int, float]]]] = defaultdict(lambda: defaultdict(list))
    q.refresh()
    params: dict[str, Any] = {} if run_ids is None else {"runs": list(run_ids)}
    where = "" if run_ids is None else "WHERE run_id IN (SELECT unnest($runs::VARCHAR[])) "
    if max_points is None:
        sql = (f'SELECT run_id, key, step, "timestamp", value FROM metrics {where}'
               'ORDER BY run_id, key, step, "timestamp"')
    else:
        sql = _CAPPED_POINTS.format(where=where)
        params["cap"], params["buckets"] = max_points, max_points // 4
    cur = q._execute(sql, params or None)
    while batch := cur.fetchmany(100_000):
        for run_id, key, step, ts, value in batch:
            out[run_id][key].append((step, ts, value))
    return {run: dict(keys) for run, keys in out.items()}


class Series(Sequence[tuple[int, int, float]]):
    """One metric's history as three columns (``steps``, ``times``, ``values``), which also
    reads as the list of (step, timestamp, value) tuples ``metric_points`` returns.

    The site reads 30 M points at 100,000 runs: a tuple per point cost ~2 s per batch of
    500,000 points, the columns come from DuckDB as arrays in one call (#14).
    """

    __slots__ = ("steps", "times", "values")

    def __init__(self, steps: list[int], times: list[int], values: list[float]) -> None:
        self.steps, self.times, self.values = steps, times, values

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[tuple[int, int, float]]:
        return zip(self.steps, self.times, self.values)

    @overload
    def __getitem__(self, index: int) -> tuple[int, int, float]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, int, float]]: ...

    def __getitem__(
        self, index: int | slice
    ) -> tuple[int, int, float] | list[tuple[int, int, float]]:
        if isinstance(index, slice):
            return list(zip(self.steps[index], self.times[index], self.values[index]))
        return self.steps[index], self.times[index], self.values[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Series({list(self)!r})"


def metric_series(
    q: StoreQuery, run_ids: list[str], max_points: int | None = None, *,
    longest: int | None = None,
) -> dict[str, dict[str, Series]]:
    """``metric_points`` of ``run_ids`` as columns: run id → metric key → ``Series``.

    Args:
        q: the query layer.
        run_ids: the runs to read (the store's rows are mostly in run id order: a batch of
            nearby ids reads a few row groups, the range is part of the filter).
        max_points: reduce longer series in SQL (see ``metric_points``); None: every point.
        longest: the longest series among the runs when the caller knows it: at most
            ``max_points`` skips the reduction's extra aggregation.
    """
    if max_points is not None and (
        isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 4
    ):
        raise InvalidArgumentError(f"max_points must be an integer of at least 4, got {max_points!r}.")
    if not run_ids:
        return {}
    q.refresh()
    params: dict[str, Any] = {"runs": list(run_ids), "lo": min(run_ids), "hi": max(run_ids)}
    where = "WHERE run_id BETWEEN $lo AND $hi AND run_id IN (SELECT unnest($runs::VARCHAR[])) "
    if max_points is not None and (longest is None or longest > max_points):
        sql = _CAPPED_POINTS.format(where=where)
        columns = q._execute(sql, {**params, "cap": max_points, "buckets": max_points // 4}
                             ).fetchnumpy()
        heads = _heads(columns["run_id"], columns["key"])
    else:
        # The series (run, key, length) first, then only the numbers in the same order: a
        # run id and key per point as Python strings took half the time of the read.
        heads = q._execute(f"SELECT run_id, key, count(*) FROM metrics {where}"
                           "GROUP BY run_id, key ORDER BY run_id, key", params).fetchall()
        columns = q._execute(f'SELECT step, "timestamp", value FROM metrics {where}'
                             'ORDER BY run_id, key, step, "timestamp"', params).fetchnumpy()
    # tolist() of a masked column (NULLs) gives None there, as fetchall does
    steps: list[Any] = columns["step"].tolist()
    times: list[Any] = columns["timestamp"].tolist()
    values: list[Any] = columns["value"].tolist()
    out: dict[str, dict[str, Series]] = {}
    start = 0
    for run_id, key, length in heads:
        stop = start + length
        series = out.get(run_id)
        if series is None:
            series = out[run_id] = {}
        series[key] = Series(steps[start:stop], times[start:stop], values[start:stop])
        start = stop
    if start != len(steps):
        raise TrackerError(f"metric_series read {len(steps)} points, its series hold {start}.")
    return out


def _heads(runs: Any, keys: Any) -> list[tuple[str, str, int]]:
    """(run id, key, length) of each series of rows sorted by run id and key (numpy columns)."""
    import numpy as np

    n = len(runs)
    if not n:
        return []
    cuts = (np.flatnonzero((runs[1:] != runs[:-1]) | (keys[1:] != keys[:-1])) + 1).tolist()
    starts, stops = [0, *cuts], [*cuts, n]
    return [(runs[a], keys[a], b - a) for a, b in zip(starts, stops)]


# Series of at most $cap points are kept whole. Longer ones are cut into $buckets stretches of
# their x axis (steps; time when every step is equal), each keeping its first, last, lowest and
# highest point: hash aggregates only, no sort of the whole series (a window over 10 M points
# took longer and more memory than fetching them all).
_CAPPED_POINTS = """
WITH points AS (
    SELECT run_id, key, step, "timestamp", value FROM metrics {where}
), series AS (
    SELECT run_id, key, count(*) AS n, min(step) AS s0, max(step) AS s1,
           min("timestamp") AS t0, max("timestamp") AS t1
    FROM points GROUP BY run_id, key
), bucketed AS (
    SELECT p.*, CASE WHEN s.s0 = s.s1
        THEN (p."timestamp" - s.t0)::HUGEINT * $buckets // (s.t1 - s.t0 + 1)
        ELSE (p.step - s.s0)::HUGEINT * $buckets // (s.s1 - s.s0 + 1) END AS bucket
    FROM points p JOIN series s USING (run_id, key) WHERE s.n > $cap
), kept AS (
    SELECT run_id, key, unnest([
        arg_min(struct_pack(step, "timestamp", value), step),
        arg_max(struct_pack(step, "timestamp", value), step),
        arg_min(struct_pack(step, "timestamp", value), value),
        arg_max(struct_pack(step, "timestamp", value), value)]) AS p
    FROM bucketed GROUP BY run_id, key, bucket
)
SELECT run_id, key, step, "timestamp", value FROM points
    SEMI JOIN (SELECT run_id, key FROM series WHERE n <= $cap) USING (run_id, key)
UNION ALL
SELECT DISTINCT run_id, key, p.step, p."timestamp", p.value FROM kept
ORDER BY run_id, key, step, "timestamp", value
"""


def metric_counts(q: StoreQuery) -> Grouped:
    """run id → metric key → number of logged points."""
    return _grouped(q, "latest_metrics", "points")


def metric_digests(q: StoreQuery) -> dict[str, str]:
    """run id → a digest of all its metric points (any added or changed point changes it)."""
    q.refresh()
    rows = q._execute(
        'SELECT run_id, count(*), sum(hash(key, step, "timestamp", value)) FROM metrics '
        "GROUP BY run_id"
    ).fetchall()
    return {run_id: f"{count}:{total}" for run_id, count, total in rows}


def artifacts(q: StoreQuery) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    q.refresh()
    for row in q.rows("SELECT run_id, path, file_size, info FROM artifacts ORDER BY run_id, path"):
        out[row["run_id"]].append(row)
    return dict(out)


def inputs(q: StoreQuery) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    q.refresh()
    for row in q.rows('SELECT * FROM inputs ORDER BY run_id, "timestamp", name'):
        out[row["run_id"]].append(row)
    return dict(out)




#: The columns of ``runs`` the site reads (``runs``), in a run's content digest.
_RUN_COLUMNS = ("experiment_id, run_name, status, start_time, end_time, user_id, artifact_uri, "
                "parent_run_id, last_seen, dead")

# Every row the site reads of a run, hashed twice (two seeds) and summed per run with the
# count of rows, and its metrics' rows apart: one aggregate over the tables instead of a Python
# pass over each run's data (#14). A metric's history enters as its point count and last point
# (``latest_metrics``): histories are append-only, so any new point changes the count, and
# hashing the 30 M points of 100,000 runs took ~1.4 s of CPU per build.
_DIGEST_ROWS = f"""
SELECT run_id, count(*) AS n, sum(h1) AS s1, sum(h2) AS s2, count(*) FILTER (WHERE m) AS mn,
    sum(h1) FILTER (WHERE m) AS ms1, sum(h2) FILTER (WHERE m) AS ms2
FROM (
    SELECT run_id, hash('r', {_RUN_COLUMNS}) AS h1, hash('R', {_RUN_COLUMNS}) AS h2, false AS m
        FROM runs WHERE lifecycle_stage = 'active'
    UNION ALL SELECT run_id, hash('p', key, value), hash('P', key, value), false FROM params
    UNION ALL SELECT run_id, hash('t', key, value), hash('T', key, value), false FROM tags
    UNION ALL SELECT run_id, hash('l', key, value, step, "timestamp", points),
        hash('L', key, value, step, "timestamp", points), true FROM latest_metrics
    UNION ALL SELECT run_id, hash('a', path, file_size, info), hash('A', path, file_size, info),
        false FROM artifacts
    UNION ALL SELECT run_id, hash('i', name, digest, context, source_type, source, "schema",
        profile, "timestamp"), hash('I', name, digest, context, source_type, source, "schema",
        profile, "timestamp"), false FROM inputs
) GROUP BY run_id
"""


#: ``_DIGEST_ROWS`` as text, ``count:sum1:sum2`` in hexadecimal (the text Python formatted).
_DIGEST_TEXT = f"""
SELECT run_id, format('{{}}:{{:x}}:{{:x}}', n, s1, s2) AS digest,
    CASE WHEN mn > 0 THEN format('{{}}:{{:x}}:{{:x}}', mn, ms1, ms2) END AS metrics
FROM ({_DIGEST_ROWS})
"""


def run_digests(q: StoreQuery) -> tuple[dict[str, str], dict[str, str]]:
    """run id → a digest of everything the site reads of the run (its ``runs`` row, params,
    tags, each metric's point count and last point, artifacts and inputs: any added, removed
    or changed row, and any new metric point, changes it), and run id → a digest of its metrics
    alone (the runs that have some). One query, its text made in SQL: not a pass per run in
    Python (#14: formatting 100,000 runs' digests in Python took ~0.2 s)."""
    q.refresh()
    columns = q._execute(_DIGEST_TEXT).fetchnumpy()
    ids, metrics = columns["run_id"], columns["metrics"]
    present = ~metrics.mask if hasattr(metrics, "mask") else metrics != None  # noqa: E711
    return (dict(zip(ids.tolist(), columns["digest"].tolist())),
            dict(zip(ids[present].tolist(), metrics[present].tolist())))


def tags_named(q: StoreQuery, keys: Sequence[str]) -> dict[str, dict[str, str]]:
    """``tags`` of only the tags named ``keys`` (run id → key → value)."""
    q.refresh()
    out: dict[str, dict[str, str]] = {}
    for run_id, key, value in q._execute(
            "SELECT run_id, key, value FROM tags WHERE key IN (SELECT unnest($keys::VARCHAR[])) "
            "ORDER BY run_id, key", {"keys": list(keys)}).fetchall():
        out.setdefault(run_id, {})[key] = value
    return out
