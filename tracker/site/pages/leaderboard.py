"""The experiment leaderboard: every run as a row, best values marked, trends above.

The table is complete HTML (it works without JavaScript); the site script adds sorting,
filtering, a column chooser and URL state on top, from the ``data-*`` attributes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tracker.site import charts
from tracker.site.pages import Link, Page, SiteFile, doc
from tracker.site.pages.home import run_label

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


@dataclass(frozen=True)
class Row:
    """One run."""

    run_id: str = doc("Run id.")
    link: Link = doc("Run name and run page.")
    status: str = doc("Run status.")
    dead: bool = doc("True when a RUNNING run's process died.")
    parent_id: str = doc("Parent run id ('' for top-level runs).")
    depth: int = doc("0 for a top-level run, 1 for a child shown under its parent.")
    cells: tuple[Cell, ...] = doc("One cell per column, in column order.")


@dataclass(frozen=True)
class LeaderboardPage(Page):
    """One experiment's runs."""

    template = "leaderboard.html"

    experiment_id: str = doc("Experiment id.", "")
    columns: tuple[Column, ...] = doc("Columns in display order.", factory=tuple)
    rows: tuple[Row, ...] = doc("Runs: parents then their children, best first.", factory=tuple)
    trends: tuple[dict[str, Any], ...] = doc("Trend figures (one per primary metric).", factory=tuple)
    primary_metric: str = doc("The metric rows are ranked by ('' when none).", "")
    compare: Link | None = doc("The compare page of this experiment.", None)
    data_script: str = doc("Site path of the experiment's compact JSON (as a script).", "")


def _number_text(value: float | None) -> tuple[str, str]:
    from tracker.site.render import format_metric

    if value is None:
        return "", ""
    return format_metric(value), repr(float(value)) if math.isfinite(value) else ("" if math.isnan(value) else repr(value))


def _iso(ms: Any) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _columns(site: SiteData, runs: list[dict[str, Any]], primary: list[str]) -> list[Column]:
    metric_keys = sorted({k for r in runs for k in site.metrics.get(r["run_id"], {})})
    param_keys = sorted({k for r in runs for k in site.params.get(r["run_id"], {})})
    metric_keys.sort(key=lambda k: (k not in primary, primary.index(k) if k in primary else 0, k))
    cols = [
        Column("attr.status", "status", "attr", False, "", True),
        Column("attr.start", "start (UTC)", "attr", False, "", True),
        Column("attr.duration", "duration", "attr", True, "", True),
        Column("attr.user", "user", "attr", False, "", False),
        Column("attr.commit", "commit", "attr", False, "", False),
    ]
    cols += [Column(f"metrics.{k}", k, "metric", True, site.direction(k), i < VISIBLE_METRICS)
             for i, k in enumerate(metric_keys)]
    cols += [Column(f"params.{k}", k, "param", _all_numeric(site, runs, k), "", i < VISIBLE_PARAMS)
             for i, k in enumerate(param_keys)]
    return cols


def _all_numeric(site: SiteData, runs: list[dict[str, Any]], key: str) -> bool:
    values = [site.params.get(r["run_id"], {}).get(key) for r in runs]
    try:
        [float(v) for v in values if v is not None]
    except ValueError:
        return False
    return True


def _best_values(site: SiteData, runs: list[dict[str, Any]], columns: list[Column]) -> dict[str, float]:
    best = {}
    for col in columns:
        if col.kind != "metric":
            continue
        key = col.key[len("metrics."):]
        values = [v for r in runs if (v := site.metrics.get(r["run_id"], {}).get(key)) is not None
                  and not math.isnan(v)]
        if values:
            best[col.key] = min(values) if col.direction == "min" else max(values)
    return best


def _cells(site: SiteData, run: dict[str, Any], columns: list[Column], best: dict[str, float]) -> tuple[Cell, ...]:
    tags = site.tags.get(run["run_id"], {})
    params = site.params.get(run["run_id"], {})
    metrics = site.metrics.get(run["run_id"], {})
    cells = []
    for col in columns:
        if col.key == "attr.status":
            status = "DEAD" if run["dead"] else run["status"]
            cells.append(Cell(status, status, False))
        elif col.key == "attr.start":
            cells.append(Cell(_iso(run["start_time"]), str(run["start_time"] or ""), False))
        elif col.key == "attr.duration":
            seconds = (run["end_time"] - run["start_time"]) / 1000 if run["end_time"] and run["start_time"] else None
            from tracker.site.render import format_duration

            cells.append(Cell(format_duration(seconds), "" if seconds is None else repr(seconds), False))
        elif col.key == "attr.user":
            cells.append(Cell(run["user_id"] or "", run["user_id"] or "", False))
        elif col.key == "attr.commit":
            commit = tags.get("mlflow.source.git.commit", "")
            cells.append(Cell(commit[:8], commit, False))
        elif col.kind == "metric":
            value = metrics.get(col.key[len("metrics."):])
            text, sort = _number_text(value)
            cells.append(Cell(text, sort, value is not None and best.get(col.key) == value))
        else:
            param = params.get(col.key[len("params."):]) or ""
            cells.append(Cell(param, param, False))
    return tuple(cells)


def _ordered(site: SiteData, runs: list[dict[str, Any]], primary: str) -> list[tuple[dict[str, Any], int]]:
    """Top-level runs ranked by the primary metric (best first), each followed by its children."""
    ids = {r["run_id"] for r in runs}
    direction = site.direction(primary) if primary else "min"

    def score(run: dict[str, Any]) -> tuple[int, float, int]:
        value = site.metrics.get(run["run_id"], {}).get(primary) if primary else None
        if value is None or math.isnan(value):
            return (1, 0.0, -(run["start_time"] or 0))
        return (0, value if direction == "min" else -value, -(run["start_time"] or 0))

    tops = sorted((r for r in runs if r["parent_run_id"] not in ids), key=score)
    out: list[tuple[dict[str, Any], int]] = []
    for run in tops:
        out.append((run, 0))
        kids = [site.runs_by_id[c] for c in site.children.get(run["run_id"], []) if c in ids]
        out.extend((kid, 1) for kid in sorted(kids, key=score))
    return out


def _trends(site: SiteData, runs: list[dict[str, Any]], metrics: list[str]) -> tuple[dict[str, Any], ...]:
    figures = []
    timed = sorted((r for r in runs if r["start_time"]), key=lambda r: (r["start_time"], r["run_id"]))
    for key in metrics:
        direction = site.direction(key)
        points = []
        per_commit: dict[str, float] = {}
        order: list[str] = []
        for run in timed:
            value = site.metrics.get(run["run_id"], {}).get(key)
            if value is None or not math.isfinite(value):
                continue
            points.append((_iso(run["start_time"]), value, run_label(run), site.urls.run(run["run_id"])))
            commit = site.tags.get(run["run_id"], {}).get("mlflow.source.git.commit")
            if commit:
                short = commit[:8]
                if short not in per_commit:
                    order.append(short)
                    per_commit[short] = value
                else:
                    better = value < per_commit[short] if direction == "min" else value > per_commit[short]
                    per_commit[short] = value if better else per_commit[short]
        commits = []
        previous: float | None = None
        for short in order:
            value = per_commit[short]
            regressed = previous is not None and (value > previous if direction == "min" else value < previous)
            commits.append((short, value, regressed))
            previous = value
        if points:
            figures.append(charts.trend_figure(key, direction, points, commits))
    return tuple(figures)


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    urls = site.urls
    for exp in site.experiments:
        eid = exp["experiment_id"]
        runs = site.runs_by_experiment[eid]
        primary = site.primary_metrics(runs, 3)
        columns = _columns(site, runs, primary)
        best = _best_values(site, runs, columns)
        rows = tuple(
            Row(run["run_id"], Link(run_label(run), urls.run(run["run_id"])), run["status"],
                bool(run["dead"]), run["parent_run_id"] or "", depth, _cells(site, run, columns, best))
            for run, depth in _ordered(site, runs, primary[0] if primary else "")
        )
        yield LeaderboardPage(
            path=urls.experiment(eid),
            title=exp["name"],
            breadcrumbs=(Link("Home", urls.home), Link(exp["name"], urls.experiment(eid))),
            experiment_id=eid,
            columns=tuple(columns),
            rows=rows,
            trends=_trends(site, runs, primary),
            primary_metric=primary[0] if primary else "",
            compare=None,
            data_script="",
        )
