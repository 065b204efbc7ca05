"""The experiment leaderboard: every run as a row, best values marked, trends above.

The table is complete HTML (it works without JavaScript); ``assets/leaderboard.js`` adds
sorting, filtering, a column chooser, parent/child collapsing, row selection for the compare
page and URL state on top, from the ``data-*`` attributes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tracker.site import charts
from tracker.site.links import run_label
from tracker.site.pages import Link, Page, SiteFile, doc

if TYPE_CHECKING:
    from tracker.site.data import SiteData

VISIBLE_PARAMS = 6
VISIBLE_METRICS = 6


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


def _columns(site: SiteData, runs: list[dict[str, Any]], primary: list[str]) -> list[Column]:
    """Attributes, then metrics (the primary and other directed metrics shown, counters hidden),
    then params (those that vary across runs shown first, a sweep parent's own ``best_*`` not)."""
    metric_keys = sorted({k for r in runs for k in site.metrics.get(r["run_id"], {})})
    metric_keys.sort(key=lambda k: (k not in primary, primary.index(k) if k in primary else 0,
                                    site.direction(k) == "", k))
    shown_metrics = {k for k in metric_keys if site.direction(k)}
    shown_metrics = set(sorted(shown_metrics, key=metric_keys.index)[:VISIBLE_METRICS])
    param_keys = sorted({k for r in runs for k in site.params.get(r["run_id"], {})})
    varying = [k for k in param_keys if _varies(site, runs, k)][:VISIBLE_PARAMS]
    cols = [
        Column("attr.status", "status", "attr", False, "", True),
        Column("attr.start", "start (UTC)", "attr", False, "", True),
        Column("attr.duration", "duration", "attr", True, "", True),
        Column("attr.user", "user", "attr", False, "", False),
        Column("attr.commit", "commit", "attr", False, "", False),
    ]
    cols += [Column(f"metrics.{k}", k, "metric", True, site.direction(k), k in shown_metrics)
             for k in metric_keys]
    cols += [Column(f"params.{k}", k, "param", _all_numeric(site, runs, k), "", k in varying)
             for k in param_keys]
    return cols


def _varies(site: SiteData, runs: list[dict[str, Any]], key: str) -> bool:
    """True when at least two runs have ``key`` with at least two different values."""
    values = [p[key] for r in runs if key in (p := site.params.get(r["run_id"], {}))]
    return len(values) > 1 and len(set(values)) > 1


def _all_numeric(site: SiteData, runs: list[dict[str, Any]], key: str) -> bool:
    values = [site.params.get(r["run_id"], {}).get(key) for r in runs]
    try:
        [float(v) for v in values if v is not None and v != ""]
    except ValueError:
        return False
    return True


def _best_values(
    site: SiteData, runs: list[dict[str, Any]], columns: list[Column]
) -> dict[str, float]:
    best = {}
    for col in columns:
        if col.kind != "metric" or not col.direction:
            continue
        key = col.key[len("metrics."):]
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
    site: SiteData, runs: list[dict[str, Any]], primary: str
) -> list[tuple[dict[str, Any], int]]:
    """(run, depth) pairs, the best run first: top-level runs ranked by ``primary``, a parent at
    the rank of the best run of its subtree (a sweep sits where its best trial would), each
    followed by its descendants ranked the same way; runs without the metric last."""
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


def _trend(site: SiteData, timed: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    direction = site.direction(key)
    points = []
    per_commit: dict[str, float] = {}
    messages: dict[str, str] = {}
    for run in timed:
        value = site.metrics.get(run["run_id"], {}).get(key)
        if value is None or not math.isfinite(value):
            continue
        href = site.urls.run(run["run_id"])
        points.append((_iso(run["start_time"]), value, run_label(run), href))
        commit = site.tags.get(run["run_id"], {}).get("mlflow.source.git.commit")
        if commit:
            short = commit[:8]
            messages.setdefault(short, site.tags[run["run_id"]].get(
                "tracker.source.git.message", ""))
            old = per_commit.get(short)
            if old is None or (value < old if direction == "min" else value > old):
                per_commit[short] = value  # dicts keep first-seen order: commit order
    commits: list[tuple[str, float, bool, str]] = []
    previous: float | None = None
    for short, value in per_commit.items():
        regressed = previous is not None and (
            value > previous if direction == "min" else value < previous
        )
        commits.append((short, value, regressed, messages.get(short, "")))
        previous = value
    return charts.trend_figure(key, direction, points, commits) if points else None


def _trends(
    site: SiteData, runs: list[dict[str, Any]], metrics: list[str]
) -> tuple[dict[str, Any], ...]:
    timed = sorted((r for r in runs if r["start_time"]),
                   key=lambda r: (r["start_time"], r["run_id"]))
    figures = [_trend(site, timed, key) for key in metrics]
    return tuple(f for f in figures if f is not None)


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


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    urls = site.urls
    for exp in site.experiments:
        eid = exp["experiment_id"]
        runs = site.runs_by_experiment[eid]
        primary = site.primary_metrics(runs, 3)
        ranked_by = site.primary_metric(eid)
        columns = _columns(site, runs, primary)
        best = _best_values(site, runs, columns)
        rows = tuple(_row(site, run, depth, columns, best)
                     for run, depth in ordered_runs(site, runs, ranked_by))
        yield LeaderboardPage(
            path=urls.experiment(eid),
            title=exp["name"],
            breadcrumbs=(Link("Home", urls.home), Link(exp["name"], urls.experiment(eid))),
            experiment_id=eid,
            columns=tuple(columns),
            rows=rows,
            trends=_trends(site, runs, primary[:2]),
            primary_metric=ranked_by,
            compare=Link("Compare runs", urls.compare(eid)) if runs else None,
            charts=Link("Chart view", urls.experiment_charts(eid)) if runs else None,
            data_script=urls.experiment_data(eid) if runs else "",
        )
