"""The experiment leaderboard: every run as a row, best values marked, trends above.

The page carries the first screen (the ``FIRST_SCREEN`` best-ranked rows) as HTML; without
JavaScript the rest is on paginated pages (``<slug>-p2.html`` ... linked with rel=next/prev,
``FIRST_SCREEN`` rows each). With JavaScript, ``assets/leaderboard.js`` loads every row from
row chunks (scripts named by the hash of their content: a run's chunk is picked by the hash
of its run id, so one new run rewrites its own chunk, the rank order and the chunks whose
best marks moved, not the whole board) and adds sorting, filtering, a column chooser,
parent/child collapsing, row selection for the compare page and URL state on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tracker.site import charts
from tracker.site.chunks import chunk_of as _chunk_of
from tracker.site.links import run_label
from tracker.site.pages import Group, Link, Page, SiteFile, doc

if TYPE_CHECKING:
    from tracker.site.data import SiteData

VISIBLE_PARAMS = 6
VISIBLE_METRICS = 6
#: Rows in the leaderboard page's HTML and on each of its no-JS pages.
FIRST_SCREEN = 200
#: About this many rows per row chunk (the number of chunks is a power of two).
CHUNK_ROWS = 2000
ROWS_GLOBAL = "TRACKER_LEADERBOARD_ROWS"


@dataclass(frozen=True)
class Column:
    """A leaderboard column."""

    key: str = doc("Stable id: 'attr.<name>', 'metrics.<key>' or 'params.<key>'.")
    label: str = doc("Header text.")
    kind: str = doc("'attr', 'metric' or 'param'.")
    numeric: bool = doc("Sort numerically.")
    direction: str = doc("'min'/'max' for metrics (which value is best), '' otherwise.")
    visible: bool = doc("Shown by default (others via the column chooser).")


@dataclass(frozen=True)
class Cell:
    """One table cell: what is shown and what is sorted on."""

    text: str = doc("Displayed text (escaped when rendered).")
    sort: str = doc("Sort key: a number as text for numeric columns, '' when missing.")
    best: bool = doc("True for the best value of a metric column.")
    full: str = doc("The value in full when ``text`` shortens it (shown as a tooltip).", "")


@dataclass(frozen=True)
class Row:
    """One run."""

    run_id: str = doc("Run id.")
    link: Link = doc("Run name and run page.")
    status: str = doc("Run status.")
    dead: bool = doc("True when a RUNNING run's process died.")
    parent_id: str = doc("Parent run id when the parent is on this leaderboard, else ''.")
    depth: int = doc("Nesting level: 0 for a top-level run, 1 for its children, and so on.")
    cells: tuple[Cell, ...] = doc("One cell per column, in column order.")
    sweep: Link | None = doc("The sweep page when this run has child runs.", None)


@dataclass(frozen=True)
class LeaderboardPage(Page):
    """One experiment's runs."""

    template = "leaderboard.html"

    experiment_id: str = doc("Experiment id.", "")
    columns: tuple[Column, ...] = doc("Columns in display order.", factory=tuple)
    rows: tuple[Row, ...] = doc("Runs: parents then their children, best first.", factory=tuple)
    trends: tuple[dict[str, Any], ...] = doc(
        "Trend figures (one per primary metric).", factory=tuple
    )
    primary_metric: str = doc("The metric rows are ranked by ('' when none).", "")
    compare: Link | None = doc("The compare page of this experiment.", None)
    charts: Link | None = doc("The chart view of this experiment (all runs per metric).", None)
    data_script: str = doc("Site path of the experiment's compact JSON (as a script).", "")
    filter_scripts: tuple[str, ...] = doc(
        "Site paths of the filter data chunks the filter box evaluates filters on.", factory=tuple
    )
    total_rows: int = doc("Runs on the whole leaderboard (``rows`` holds the first screen).", 0)
    row_chunks: tuple[str, ...] = doc(
        "Site paths of the row chunk scripts (the rank order first), '' when none.", factory=tuple
    )
    next_page: Link | None = doc("The no-JS page with the next rows.", None)
    pages: tuple[Link, ...] = doc("Every no-JS page of the board, the first included.",
                                  factory=tuple)


@dataclass(frozen=True)
class LeaderboardRowsPage(Page):
    """Rows ``first``.. of a leaderboard, for reading it without JavaScript. It does not name
    the total, so a page whose rows did not move is not rendered again after a new run."""

    template = "leaderboard_rows.html"

    experiment_id: str = doc("Experiment id.", "")
    columns: tuple[Column, ...] = doc("Columns in display order.", factory=tuple)
    rows: tuple[Row, ...] = doc("This page's runs, in rank order.", factory=tuple)
    first: int = doc("Rank of this page's first row (1-based).", 1)
    primary_metric: str = doc("The metric rows are ranked by ('' when none).", "")
    board: Link | None = doc("The leaderboard page.", None)
    prev_page: Link | None = doc("The previous page.", None)
    next_page: Link | None = doc("The next page.", None)
    pages: tuple[Link, ...] = doc("Every page of the board, the first included.", factory=tuple)
    number: int = doc("This page's number (the leaderboard itself is 1).", 2)


def sort_text(value: float | None) -> str:
    """A number as a sort key the page script parses: '' for missing and NaN, ±Infinity."""
    if value is None or math.isnan(value):
        return ""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def _iso(ms: Any) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _columns(site: SiteData, runs: list[dict[str, Any]], primary: list[str],
             experiment_id: str | None = None) -> list[Column]:
    """Attributes, then metrics (the primary and other directed metrics shown, counters hidden),
    then params (those that vary across runs shown first, a sweep parent's own ``best_*`` not).
    ``experiment_id``: ``runs`` is that experiment's whole list (its keys are known, #14)."""
    if experiment_id is not None:
        metric_keys = site.keys(experiment_id, "metrics")
    else:
        metric_keys = sorted({k for r in runs for k in site.metrics.get(r["run_id"], {})})
    metric_keys.sort(key=lambda k: (k not in primary, primary.index(k) if k in primary else 0,
                                    site.direction(k) == "", k))
    shown_metrics = {k for k in metric_keys if site.direction(k)}
    shown_metrics = set(sorted(shown_metrics, key=metric_keys.index)[:VISIBLE_METRICS])
    seen = (site.param_values(experiment_id) if experiment_id is not None
            else _param_values(site, runs))
    param_keys = sorted(seen)
    varying = [k for k in param_keys if seen[k][0]][:VISIBLE_PARAMS]
    cols = [
        Column("attr.status", "status", "attr", False, "", True),
        Column("attr.start", "start (UTC)", "attr", False, "", True),
        Column("attr.duration", "duration", "attr", True, "", True),
        Column("attr.user", "user", "attr", False, "", False),
        Column("attr.commit", "commit", "attr", False, "", False),
    ]
    cols += [Column(f"metrics.{k}", k, "metric", True, site.direction(k), k in shown_metrics)
             for k in metric_keys]
    cols += [Column(f"params.{k}", k, "param", seen[k][1], "", k in varying)
             for k in param_keys]
    return cols


def _param_values(
    site: SiteData, runs: list[dict[str, Any]]
) -> dict[str, tuple[bool, bool]]:
    """Per param key, in one pass over the runs (#14): whether it has two distinct values or
    more, and whether every non-empty value is a number (``SiteData.param_values`` of an
    experiment's whole list)."""
    from tracker.site.render import is_number

    values: dict[str, set[str]] = {}
    params = site.params
    for run in runs:
        mine = params.get(run["run_id"])
        if mine:
            for key, value in mine.items():
                found = values.get(key)
                if found is None:
                    values[key] = {value}
                else:
                    found.add(value)
    return {key: (len(distinct) > 1,
                  all(is_number(v) for v in distinct if v is not None and v != ""))
            for key, distinct in values.items()}


def _all_numeric(site: SiteData, runs: list[dict[str, Any]], key: str) -> bool:
    values = [site.params.get(r["run_id"], {}).get(key) for r in runs]
    try:
        [float(v) for v in values if v is not None and v != ""]
    except ValueError:
        return False
    return True


def _best_values(
    site: SiteData, runs: list[dict[str, Any]], columns: list[Column],
    experiment_id: str | None = None,
) -> dict[str, float]:
    """The best value of each directed metric column (NaN left out). ``experiment_id``:
    ``runs`` is that experiment's whole list, read as numpy columns (#14)."""
    from tracker.directions import best_index

    best = {}
    for col in columns:
        if col.kind != "metric" or not col.direction:
            continue
        key = col.key[len("metrics."):]
        if experiment_id is not None:
            at = best_index(site.metric_column(experiment_id, key), col.direction)
            if at is not None:
                best[col.key] = site.metrics[runs[at]["run_id"]][key]
            continue
        values = [v for r in runs if (v := site.metrics.get(r["run_id"], {}).get(key)) is not None
                  and not math.isnan(v)]
        if values:
            best[col.key] = min(values) if col.direction == "min" else max(values)
    return best


def _attr_cell(site: SiteData, run: dict[str, Any], key: str) -> Cell:
    from tracker.site.render import format_duration

    if key == "attr.status":
        status = "DEAD" if run["dead"] else run["status"]
        return Cell(status, status, False)
    if key == "attr.start":
        return Cell(_iso(run["start_time"]), str(run["start_time"] or ""), False)
    if key == "attr.duration":
        start, end = run["start_time"], run["end_time"]
        seconds = (end - start) / 1000 if end and start else None
        return Cell(format_duration(seconds), "" if seconds is None else repr(seconds), False)
    if key == "attr.user":
        return Cell(run["user_id"] or "", run["user_id"] or "", False)
    commit = site.tags.get(run["run_id"], {}).get("mlflow.source.git.commit", "")
    return Cell(commit[:8], commit, False)


def _cells(
    site: SiteData, run: dict[str, Any], columns: list[Column], best: dict[str, float]
) -> tuple[Cell, ...]:
    from tracker.site.render import format_metric, format_param

    params = site.params.get(run["run_id"], {})
    metrics = site.metrics.get(run["run_id"], {})
    cells = []
    for col in columns:
        if col.kind == "attr":
            cells.append(_attr_cell(site, run, col.key))
        elif col.kind == "metric":
            value = metrics.get(col.key[len("metrics."):])
            text = format_metric(value) if value is not None else ""
            is_best = value is not None and best.get(col.key) == value
            full = repr(value) if value is not None and text != repr(value) else ""
            cells.append(Cell(text, sort_text(value), is_best, full))
        else:
            param = params.get(col.key[len("params."):]) or ""
            short = format_param(param)
            cells.append(Cell(short, param, False, param if short != param else ""))
    return tuple(cells)


def ordered_runs(
    site: SiteData, runs: list[dict[str, Any]], primary: str, *, cache_key: str = ""
) -> list[tuple[dict[str, Any], int]]:
    """(run, depth) pairs, the best run first: top-level runs ranked by ``primary``, a parent at
    the rank of the best run of its subtree (a sweep sits where its best trial would), each
    followed by its descendants ranked the same way; runs without the metric last.

    ``cache_key`` names ``runs`` for the rest of the build (e.g. ``experiment:<id>``): the
    leaderboard and the compare data ask for the same order once (#14)."""
    if cache_key:
        cached = site.orders.get((cache_key, primary))
        if cached is None:
            cached = site.orders[(cache_key, primary)] = ordered_runs(site, runs, primary)
        return cached
    if runs and runs is site.runs_by_experiment.get(runs[0]["experiment_id"]):
        return [(runs[i], depth) for i, depth in _ordered_places(
            site, runs[0]["experiment_id"], primary)]
    ids = {r["run_id"] for r in runs}
    direction = site.direction(primary) if primary else ""
    subtree: dict[str, float | None] = {}

    def own(run: dict[str, Any]) -> float | None:
        value = site.metrics.get(run["run_id"], {}).get(primary) if direction else None
        return None if value is None or math.isnan(value) else value

    def best_below(run: dict[str, Any], path: frozenset[str]) -> float | None:
        run_id = run["run_id"]
        if run_id in subtree:
            return subtree[run_id]
        values = [own(run)]
        for kid_id in site.children.get(run_id, []):
            if kid_id in ids and kid_id not in path:
                values.append(best_below(site.runs_by_id[kid_id], path | {kid_id}))
        found = [v for v in values if v is not None]
        best = (min(found) if direction == "min" else max(found)) if found else None
        subtree[run_id] = best
        return best

    def score(run: dict[str, Any]) -> tuple[int, float, int, str]:
        value = best_below(run, frozenset({run["run_id"]}))
        newest = -(run["start_time"] or 0)
        if value is None:
            return (1, 0.0, newest, run["run_id"])
        return (0, value if direction == "min" else -value, newest, run["run_id"])

    out: list[tuple[dict[str, Any], int]] = []
    seen: set[str] = set()

    def visit(run: dict[str, Any], depth: int) -> None:
        if run["run_id"] in seen:  # a cycle of parent ids: show each run once
            return
        seen.add(run["run_id"])
        out.append((run, depth))
        kids = [site.runs_by_id[c] for c in site.children.get(run["run_id"], []) if c in ids]
        for kid in sorted(kids, key=score):
            visit(kid, depth + 1)

    for run in sorted((r for r in runs if r["parent_run_id"] not in ids), key=score):
        visit(run, 0)
    for run in sorted((r for r in runs if r["run_id"] not in seen), key=score):
        visit(run, 0)  # only runs caught in a parent cycle are left
    return out


def _ordered_places(site: SiteData, experiment_id: str, primary: str
                    ) -> list[tuple[int, int]]:
    """``ordered_runs`` of an experiment's whole run list, as (place in the list, depth): the
    same walk over places in its columns (``SiteData.run_columns``, ``metric_column``), so a
    run costs list look-ups, not look-ups in its dicts (#14: 100,000 runs)."""
    columns = site.run_columns(experiment_id)
    ids, parents, starts = columns["run_id"], columns["parent_run_id"], columns["start_time"]
    at = {run_id: i for i, run_id in enumerate(ids)}
    direction = site.direction(primary) if primary else ""
    own: list[float | None] = [None] * len(ids)
    if direction:
        own = [None if v != v else v
               for v in site.metric_column(experiment_id, primary).tolist()]
    kids_of: dict[int, list[int]] = {}
    for parent, kids in site.children.items():
        place = at.get(parent)
        if place is not None:
            mine = [at[k] for k in kids if k in at]
            if mine:
                kids_of[place] = mine
    pick = min if direction == "min" else max
    subtree: dict[int, float | None] = {}

    def best_below(i: int, path: frozenset[int]) -> float | None:
        if i in subtree:
            return subtree[i]
        values = [own[i]]
        for kid in kids_of[i]:
            if kid not in path:
                values.append(own[kid] if kid not in kids_of else best_below(kid, path | {kid}))
        found = [v for v in values if v is not None]
        best = subtree[i] = pick(found) if found else None
        return best

    def score(i: int) -> tuple[int, float, int, str]:
        value = own[i] if i not in kids_of else best_below(i, frozenset({i}))
        newest = -(starts[i] or 0)
        if value is None:
            return (1, 0.0, newest, ids[i])
        return (0, value if direction == "min" else -value, newest, ids[i])

    out: list[tuple[int, int]] = []
    seen: set[int] = set()

    def visit(i: int, depth: int) -> None:
        if i in seen:  # a cycle of parent ids: show each run once
            return
        seen.add(i)
        out.append((i, depth))
        kids = kids_of.get(i)
        if kids:
            for kid in sorted(kids, key=score):
                visit(kid, depth + 1)

    for i in sorted((i for i, parent in enumerate(parents) if parent not in at), key=score):
        visit(i, 0)
    if len(seen) < len(ids):
        for i in sorted((i for i in range(len(ids)) if i not in seen), key=score):
            visit(i, 0)  # only runs caught in a parent cycle are left
    return out


def _trend(site: SiteData, timed: list[dict[str, Any]], key: str,
           shown: dict[str, tuple[str, str, str]] | None = None) -> dict[str, Any] | None:
    """The trend figure of metric ``key`` over ``timed`` (runs in start order); ``shown``
    keeps each run's (start, label, page) for the next metric's figure."""
    direction = site.direction(key)
    points = []
    per_commit: dict[str, float] = {}
    messages: dict[str, str] = {}
    shown = {} if shown is None else shown
    for run in timed:
        value = site.metrics.get(run["run_id"], {}).get(key)
        if value is None or not math.isfinite(value):
            continue
        point = shown.get(run["run_id"])
        if point is None:
            point = shown[run["run_id"]] = (
                _iso(run["start_time"]), run_label(run), site.urls.run(run["run_id"]))
        points.append((point[0], value, point[1], point[2]))
        commit = site.tags.get(run["run_id"], {}).get("mlflow.source.git.commit")
        if commit:
            short = commit[:8]
            messages.setdefault(short, site.tags[run["run_id"]].get(
                "tracker.source.git.message", ""))
            old = per_commit.get(short)
            if old is None or (value < old if direction == "min" else value > old):
                per_commit[short] = value  # dicts keep first-seen order: commit order
    commits = _commit_points(per_commit, messages, direction)
    return charts.trend_figure(key, direction, points, commits) if points else None


def _trends(
    site: SiteData, runs: list[dict[str, Any]], metrics: list[str],
    experiment_id: str | None = None,
) -> tuple[dict[str, Any], ...]:
    """The trend figures of ``metrics`` over ``runs`` by start time. ``experiment_id``: ``runs``
    is that experiment's whole list, whose values are read as numpy columns (#14)."""
    if experiment_id is not None:
        fast = _column_trends(site, runs, metrics, experiment_id)
        if fast is not None:
            return fast
    timed = sorted((r for r in runs if r["start_time"]),
                   key=lambda r: (r["start_time"], r["run_id"]))
    shown: dict[str, tuple[str, str, str]] = {}
    figures = [_trend(site, timed, key, shown) for key in metrics]
    return tuple(f for f in figures if f is not None)


#: Start times (ms) whose ``_iso`` text numpy writes alike (years 1970-9999).
_NUMPY_TIMES = (0, 253_402_300_800_000)


def _column_trends(
    site: SiteData, runs: list[dict[str, Any]], metrics: list[str], experiment_id: str
) -> tuple[dict[str, Any], ...] | None:
    """``_trends`` of an experiment's whole run list from its columns (``SiteData``'s
    ``run_columns``, ``metric_column`` and ``tag_column``): the runs are put in start order and
    filtered by numpy, and only the runs shown get their texts. The same figures as ``_trend``
    makes; None when a start time is outside what numpy writes alike."""
    import numpy as np

    columns = site.run_columns(experiment_id)
    starts = [t or 0 for t in columns["start_time"]]
    if not all(type(t) is int for t in starts):
        return None
    begins = np.array(starts, dtype=np.int64)
    if len(begins) and (begins.min() < _NUMPY_TIMES[0] or begins.max() >= _NUMPY_TIMES[1]):
        return None
    ids, names = columns["run_id"], columns["run_name"]
    order = np.lexsort((np.array(ids, dtype=str), begins))
    order = order[begins[order] != 0]  # runs without a start time are not on the time axis
    values = [site.metric_column(experiment_id, key)[order] for key in metrics]
    kept = [np.isfinite(column) for column in values]
    shown = np.zeros(len(order), dtype=bool)
    for mask in kept:
        shown |= mask
    at = order[shown].tolist()
    stamps = np.datetime_as_string(begins[at].astype("datetime64[ms]"), unit="m").tolist()
    run_url = site.urls.run
    texts = {i: (stamp.replace("T", " "), str(names[i] or ids[i][:8]), run_url(ids[i]))
             for i, stamp in zip(at, stamps)}
    commits = (site.tag_column(experiment_id, "mlflow.source.git.commit")
               if "mlflow.source.git.commit" in site.keys(experiment_id, "tags") else None)
    figures = []
    for key, column, mask in zip(metrics, values, kept):
        if not mask.any():
            continue
        direction = site.direction(key)
        picked = order[mask].tolist()
        numbers = column[mask].tolist()
        points = [(texts[i][0], value, texts[i][1], texts[i][2])
                  for i, value in zip(picked, numbers)]
        per_commit: dict[str, float] = {}
        messages: dict[str, str] = {}
        for i, value in zip(picked, numbers) if commits is not None else ():
            commit = commits[i]  # type: ignore[index]
            if commit:
                short = commit[:8]
                old = per_commit.get(short)
                if old is None:
                    messages[short] = site.tags[ids[i]].get("tracker.source.git.message", "")
                    per_commit[short] = value  # dicts keep first-seen order: commit order
                elif value < old if direction == "min" else value > old:
                    per_commit[short] = value
        figures.append(charts.trend_figure(key, direction, points,
                                           _commit_points(per_commit, messages, direction)))
    return tuple(figures)


def _commit_points(per_commit: dict[str, float], messages: dict[str, str], direction: str
                   ) -> list[tuple[str, float, bool, str]]:
    """(short commit, its best value, regressed?, message) in commit order."""
    commits: list[tuple[str, float, bool, str]] = []
    previous: float | None = None
    for short, value in per_commit.items():
        regressed = previous is not None and (
            value > previous if direction == "min" else value < previous
        )
        commits.append((short, value, regressed, messages.get(short, "")))
        previous = value
    return commits


def _row(
    site: SiteData, run: dict[str, Any], depth: int, columns: list[Column], best: dict[str, float]
) -> Row:
    urls = site.urls
    run_id = run["run_id"]
    return Row(
        run_id, Link(run_label(run), urls.run(run_id)), run["status"], bool(run["dead"]),
        (run["parent_run_id"] or "") if depth else "", depth,
        _cells(site, run, columns, best),
        Link("sweep", urls.sweep(run_id)) if site.children.get(run_id) else None,
    )


FILTER_GLOBAL = "TRACKER_FILTER_DATA"
#: Tags left out of the filter data: the training script's absolute local path (#10).
UNPUBLISHED_TAGS = frozenset({"mlflow.source.name"})


def _number(value: float) -> float | str:
    """A metric value for JSON: NaN and ±inf as the strings JavaScript's Number() reads."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def filter_records(site: SiteData, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``search_runs`` filters look at, per run: attributes (not ``artifact_uri``, a local
    path), params, latest metrics (full precision) and tags (not ``mlflow.source.name``)."""
    records = []
    for run in runs:
        run_id = run["run_id"]
        tags = site.tags.get(run_id, {})
        records.append({
            "i": run_id, "n": run["run_name"], "s": run["status"], "u": run["user_id"],
            "t": run["start_time"], "e": run["end_time"],
            "p": site.params.get(run_id, {}),
            "m": {k: _number(v) for k, v in site.metrics.get(run_id, {}).items()},
            "g": {k: v for k, v in tags.items() if k not in UNPUBLISHED_TAGS},
        })
    return records


def filter_script(key: str, records: list[dict[str, Any]]) -> bytes:
    """The records as a script assigning ``window.TRACKER_FILTER_DATA[<key>]``; the key of a
    chunk of an experiment's records is ``<experiment id>:<index>/<count>``."""
    from tracker.site.render import json_data

    return (
        f"window.{FILTER_GLOBAL} = window.{FILTER_GLOBAL} || {{}};\n"
        f"window.{FILTER_GLOBAL}[{json_data(key)}] = {json_data(records)};\n"
    ).encode()


def parse_filter_script(content: bytes | str) -> tuple[str, list[dict[str, Any]]]:
    """(key, records) back from a filter data script (for tests and tools)."""
    import json

    text = content.decode("utf-8") if isinstance(content, bytes) else content
    head, _, body = text.strip().splitlines()[-1].partition("] = ")
    prefix = f"window.{FILTER_GLOBAL}["
    if not head.startswith(prefix) or not body.endswith(";"):
        raise ValueError("Not a tracker filter data script: expected "
                         f"window.{FILTER_GLOBAL}[...] = [...];")
    return json.loads(head[len(prefix):]), json.loads(body[:-1])


def chunk_of(run_id: str, count: int) -> int:
    """The row chunk holding ``run_id`` among ``count`` (``tracker.site.chunks.chunk_of``)."""
    return _chunk_of(run_id, count)


def _row_data(row: Row, experiments_dir: str) -> list[Any]:
    """A row for the page script: [id, label, href, parent id, depth, status, dead, sweep href,
    cells], hrefs relative to the leaderboard's folder, each cell [text, sort(, best, full)]."""
    from tracker.site.urls import relative

    page = f"{experiments_dir}/_" if experiments_dir else "_"  # any page of that folder

    def rel(href: str) -> str:  # not posixpath.relpath: it asks the OS for the cwd each time
        return relative(page, href) if href else ""

    cells: list[list[Any]] = []
    for cell in row.cells:
        if cell.best or cell.full:
            cells.append([cell.text, cell.sort, 1 if cell.best else 0, cell.full])
        else:
            cells.append([cell.text, cell.sort])
    return [row.run_id, row.link.label, rel(row.link.href), row.parent_id, row.depth, row.status,
            1 if row.dead else 0, rel(row.sweep.href) if row.sweep else "", cells]


def _rows_script(key: str, data: Any) -> bytes:
    from tracker.site.render import json_data

    return (f"window.{ROWS_GLOBAL} = window.{ROWS_GLOBAL} || {{}};\n"
            f"window.{ROWS_GLOBAL}[{json_data(key)}] = {json_data(data)};\n").encode()


def row_chunks(
    experiment_id: str, rows: tuple[Row, ...], folder: str, stem: str
) -> list[SiteFile]:
    """The rank order (run ids) and the rows, in chunks by run id, as scripts assigning
    ``window.TRACKER_LEADERBOARD_ROWS["<experiment id>:<part>"]``; each file is named by the
    hash of its content, so an unchanged chunk keeps its name and is not rewritten."""
    import posixpath

    from tracker.site.chunks import chunk_count
    from tracker.site.writer import content_hash

    count = chunk_count(len(rows), CHUNK_ROWS)
    parts: list[tuple[str, Any]] = [("order", [row.run_id for row in rows])]
    buckets: list[list[list[Any]]] = [[] for _ in range(count)]
    for row in rows:
        buckets[chunk_of(row.run_id, count)].append(_row_data(row, folder))
    parts += [(f"{index}/{count}", bucket) for index, bucket in enumerate(buckets)]
    files = []
    for part, data in parts:
        content = _rows_script(f"{experiment_id}:{part}", data)
        name = f"{stem}.rows-{content_hash(content)[:16]}.js"
        files.append(SiteFile(posixpath.join(folder, name), content))
    return files


class _Rows:
    """A board's rows in rank order, each made only when a page or chunk that shows it is
    made (#14): a rebuild after one new run makes the first screen and the new run's page and
    chunk, not 10,000 rows. ``marks`` says, cheaply, what else a row shows besides its run."""

    def __init__(self, site: SiteData, ranked: list[tuple[dict[str, Any], int]],
                 columns: list[Column], best: dict[str, float]) -> None:
        self.site, self.ranked, self.columns, self.best = site, ranked, columns, best
        self._made: dict[int, Row] = {}
        self._metric_columns = [(i, c.key, c.key[len("metrics."):])
                                for i, c in enumerate(columns) if c.kind == "metric"]

    def __len__(self) -> int:
        return len(self.ranked)

    def row(self, index: int) -> Row:
        made = self._made.get(index)
        if made is None:
            run, depth = self.ranked[index]
            made = self._made[index] = _row(self.site, run, depth, self.columns, self.best)
        return made

    def rows(self, start: int = 0, stop: int | None = None) -> tuple[Row, ...]:
        return tuple(self.row(i) for i in range(len(self.ranked))[start:stop])

    def marks(self, index: int) -> tuple[int, str, tuple[int, ...]]:
        """(depth, parent id shown, columns where the row has the best value) of a row."""
        run, depth = self.ranked[index]
        return depth, (run["parent_run_id"] or "") if depth else "", self._best_cells.get(
            index, ())

    def marked(self, indexes: Iterable[int]
               ) -> tuple[tuple[int, ...], list[tuple[int, tuple[int, ...]]]]:
        """What the rows at ``indexes`` show besides their runs, for a chunk key: each one's
        depth (a nested row also shows its parent's id, which its run's fingerprint holds),
        and (place among ``indexes``, columns) of those holding a best value. The same as
        their ``marks``, without a call and a tuple per row of a 100,000-run board (#14)."""
        indexes = list(indexes)
        best = self._best_cells
        return (tuple(map(self._depths.__getitem__, indexes)),
                sorted((indexes.index(i), best[i]) for i in best.keys() & set(indexes)))

    @cached_property
    def _depths(self) -> list[int]:
        return [depth for _, depth in self.ranked]

    @cached_property
    def _best_cells(self) -> dict[int, tuple[int, ...]]:
        """Row index → the columns where the row has the best value (rows that have one)."""
        import numpy as np

        wanted = [(column, key, name) for column, key, name in self._metric_columns
                  if self.best.get(key) is not None]
        values = self.site.metric_values([run for run, _ in self.ranked],
                                         {name for _, _, name in wanted}) if wanted else {}
        found: dict[int, list[int]] = {}
        for column, key, name in wanted:
            for index in np.flatnonzero(values[name] == self.best[key]).tolist():
                found.setdefault(index, []).append(column)
        return {index: tuple(columns) for index, columns in found.items()}


def _keyed_row_chunks(
    site: SiteData, experiment_id: str, rows: _Rows, folder: str, stem: str,
) -> tuple[list[str], list[SiteFile | Group]]:
    """``row_chunks`` of a board, each chunk kept unread when its rows did not change
    (``tracker.site.chunks``): (site paths, the order first; the files and groups)."""
    import posixpath

    from tracker.site.chunks import chunk_count, chunk_file, chunk_key
    from tracker.site.writer import content_hash

    count = chunk_count(len(rows), CHUNK_ROWS)
    order = _rows_script(f"{experiment_id}:order", [run["run_id"] for run, _ in rows.ranked])
    order_path = posixpath.join(folder, f"{stem}.rows-{content_hash(order)[:16]}.js")
    paths: list[str] = [order_path]
    items: list[SiteFile | Group] = [SiteFile(order_path, order)]
    buckets: list[list[int]] = [[] for _ in range(count)]
    for index, (run, _) in enumerate(rows.ranked):
        buckets[chunk_of(run["run_id"], count)].append(index)
    shape = tuple((c.key, c.kind) for c in rows.columns)
    for part, bucket in enumerate(buckets):
        def make(bucket: list[int] = bucket, part: int = part) -> bytes:
            return _rows_script(f"{experiment_id}:{part}/{count}",
                                [_row_data(rows.row(i), folder) for i in bucket])

        # A row is its run (the fingerprint), its place in the tree and its best marks.
        fingerprint = chunk_key(
            site, (rows.ranked[i][0] for i in bucket), "rows", experiment_id, part, count,
            folder, shape, rows.marked(bucket))
        chunk = chunk_file(site, f"chunk:{experiment_id}:rows:{part}/{count}", fingerprint,
                           folder, f"{stem}.rows", make)
        paths.append(chunk.path)
        items.append(chunk.group)
    return paths, items


def _filter_chunks(
    site: SiteData, experiment_id: str, runs: list[dict[str, Any]], folder: str, stem: str
) -> tuple[list[str], list[Group]]:
    """The filter data in chunks by run id (``filter_records``, ``filter_script``), each kept
    unread when its runs did not change: (site paths, groups)."""
    from tracker.site.chunks import chunk_count, chunk_file, chunk_key

    count = chunk_count(len(runs), CHUNK_ROWS)
    buckets: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    for run in runs:
        buckets[chunk_of(run["run_id"], count)].append(run)
    paths, groups = [], []
    for index, bucket in enumerate(buckets):
        def make(bucket: list[dict[str, Any]] = bucket, index: int = index) -> bytes:
            return filter_script(f"{experiment_id}:{index}/{count}",
                                 filter_records(site, bucket))

        fingerprint = chunk_key(site, bucket, "filter", experiment_id, index, count)
        chunk = chunk_file(site, f"chunk:{experiment_id}:filter:{index}/{count}", fingerprint,
                           folder, f"{stem}.filter", make)
        paths.append(chunk.path)
        groups.append(chunk.group)
    return paths, groups


def parse_row_chunk(content: bytes | str) -> tuple[str, Any]:
    """(key, data) back from a row chunk script (for tests and tools)."""
    import json

    text = content.decode("utf-8") if isinstance(content, bytes) else content
    head, _, body = text.strip().splitlines()[-1].partition("] = ")
    prefix = f"window.{ROWS_GLOBAL}["
    if not head.startswith(prefix) or not body.endswith(";"):
        raise ValueError(f"Not a tracker row chunk: expected window.{ROWS_GLOBAL}[...] = ...;")
    return json.loads(head[len(prefix):]), json.loads(body[:-1])


def _page_path(board_path: str, number: int) -> str:
    return board_path if number == 1 else f"{board_path[:-len('.html')]}-p{number}.html"


def collect(site: SiteData) -> Iterable[Page | SiteFile | Group]:
    import posixpath
    from functools import partial

    from tracker.site.chunks import chunk_key

    urls = site.urls
    for exp in site.experiments:
        eid = exp["experiment_id"]
        runs = site.runs_by_experiment[eid]
        primary = site.primary_metrics(runs, 3)
        ranked_by = site.primary_metric(eid)
        columns = _columns(site, runs, primary, eid)
        best = _best_values(site, runs, columns, eid)
        rows = _Rows(site, ordered_runs(site, runs, ranked_by, cache_key=f"experiment:{eid}"),
                     columns, best)
        board = urls.experiment(eid)
        title = exp["name"]
        crumbs = (Link("Home", urls.home), Link(title, board))
        page_count = max(1, math.ceil(len(rows) / FIRST_SCREEN))
        pages = tuple(Link(str(n), _page_path(board, n)) for n in range(1, page_count + 1))
        if page_count == 1:
            pages = ()
        folder, name = posixpath.split(board)
        stem = name[:-len(".html")]
        filters: list[str] = []
        if runs:
            filters, groups = _filter_chunks(site, eid, runs, folder, stem)
            yield from groups
        chunks: list[str] = []
        if len(rows) > FIRST_SCREEN:
            chunks, items = _keyed_row_chunks(site, eid, rows, folder, stem)
            yield from items
        # What every no-JS page of the board shows alike, written out once: each page's
        # fingerprint had the 500 links of a 100,000-run board in it (#14).
        shape = repr((tuple(columns), pages, crumbs))
        for number in range(2, page_count + 1):
            first = (number - 1) * FIRST_SCREEN
            page = partial(
                LeaderboardRowsPage, path=_page_path(board, number),
                title=f"{title}, runs {first + 1}–{min(first + FIRST_SCREEN, len(rows))}",
                breadcrumbs=crumbs, experiment_id=eid, columns=tuple(columns),
                first=first + 1, primary_metric=ranked_by, board=Link(title, board),
                prev_page=pages[number - 2], number=number,
                next_page=pages[number] if number < page_count else None, pages=pages,
            )
            # A no-JS page is made again only when its rows or the board's shape changed.
            shown = range(len(rows))[first:first + FIRST_SCREEN]
            own = {k: v for k, v in page.keywords.items() if k not in _SHARED}
            fingerprint = chunk_key(site, (rows.ranked[i][0] for i in shown), "page",
                                    shape, repr(own), rows.marked(shown))
            yield Group(f"board:{eid}:{number}", fingerprint, partial(
                _rows_page, page, rows, first))
        yield LeaderboardPage(
            path=board,
            title=title,
            breadcrumbs=crumbs,
            experiment_id=eid,
            columns=tuple(columns),
            rows=rows.rows(0, FIRST_SCREEN),
            trends=_trends(site, runs, primary[:2], eid),
            primary_metric=ranked_by,
            compare=Link("Compare runs", urls.compare(eid)) if runs else None,
            charts=Link("Chart view", urls.experiment_charts(eid)) if runs else None,
            data_script=urls.experiment_data(eid) if runs else "",
            filter_scripts=tuple(filters),
            total_rows=len(rows),
            row_chunks=tuple(chunks),
            next_page=pages[1] if page_count > 1 else None,
            pages=pages,
        )


#: The no-JS pages' arguments that are the same on every page of a board (``shape``).
_SHARED = frozenset({"columns", "pages", "breadcrumbs"})


def _rows_page(page: Callable[..., LeaderboardRowsPage], rows: _Rows, first: int
               ) -> list[Page]:
    return [page(rows=rows.rows(first, first + FIRST_SCREEN))]
