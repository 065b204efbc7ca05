"""Report blocks with YAML bodies (#17): ```runs, ```history, ```scatter, ```bar, ```parallel,
```importance, ```model and ```compare.

Each block is parsed with ``yaml.safe_load``, every option is checked (a ``ReportError`` names
the file, line, key and the allowed values), and the block is drawn from the same models the
rest of the site uses: leaderboard columns, cells and rows (``pages.leaderboard``), Plotly
figures drawn by ``site.js`` (``charts``), the SVG parallel coordinates (``parcoords.js``,
``charts_compare``), the run page's importance bars (``pages.artifacts``) and the registry's
version rows and champion card (``pages.registry``, ``pages.home``).

A run set (``experiment``, ``filter``, ``order_by``, ``limit``) is selected by
``tracker.query.reads.search_runs`` on the build's query layer, so the filter grammar, its error
messages and the publish/redaction rules are those of ``tracker.search_runs`` and the build.

Every block also has "view data": the rows behind it (``BlockData``), shown in a closed
``<details>`` and written next to the report as ``reports/<slug>/block-<n>.csv``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracker.site import charts
from tracker.site.pages import Link
from tracker.site.reports import ReportError

if TYPE_CHECKING:
    from tracker.registry import ModelVersion
    from tracker.site.data import ModelState, SiteData
    from tracker.site.pages.artifacts import Importance
    from tracker.site.pages.home import Champion
    from tracker.site.pages.leaderboard import Cell, Column, Row
    from tracker.site.pages.registry import VersionRow

KINDS = ("runs", "history", "scatter", "bar", "parallel", "importance", "model", "compare")
RUN_SET_KEYS = ("experiment", "filter", "order_by", "limit")
KEYS: dict[str, tuple[str, ...]] = {
    "runs": (*RUN_SET_KEYS, "columns", "group_by", "aggregates", "title"),
    "history": (*RUN_SET_KEYS, "metric", "x", "smoothing", "log", "group_by", "title"),
    "scatter": (*RUN_SET_KEYS, "x", "y", "color", "title"),
    "bar": (*RUN_SET_KEYS, "x", "y", "title"),
    "parallel": (*RUN_SET_KEYS, "columns", "title"),
    "importance": ("run", "model", "type", "top", "title"),
    "model": ("name", "version", "alias", "stage", "title"),
    "compare": (*RUN_SET_KEYS, "runs", "title"),
}
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
AGGREGATES = ("count", "mean", "min", "max", "sum", "median")
DEFAULT_AGGREGATES = ("count", "mean", "min")
HISTORY_X = ("step", "time", "relative")
STAGES = ("None", "Staging", "Production", "Archived")
ATTRIBUTES = ("status", "start_time", "end_time", "duration", "user", "commit", "run_id",
              "run_name")
CHART_POINTS = 1000  # points of a run's series drawn by a ```history block
COMPARE_HISTORIES = 4  # metric histories drawn under a ```compare table
VIEW_ROWS = 200  # rows of "view data" shown in the page (the CSV has them all)


@dataclass(frozen=True)
class BlockData:
    """The rows behind a block ("view data"), also written as CSV."""

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    csv: str = ""  # site path of the CSV file ('' until the page sets it)

    def view(self) -> list[list[tuple[str, bool, str]]]:
        """The first ``VIEW_ROWS`` rows as (text, numeric, full value) cells."""
        return [[view_cell(v) for v in row] for row in self.rows[:VIEW_ROWS]]


@dataclass(frozen=True)
class BlockView:
    """A drawn block: what the template shows for it (fields by ``kind``)."""

    kind: str
    line: int
    title: str = ""
    columns: tuple[Column, ...] = ()  # runs: leaderboard Columns
    rows: tuple[Row, ...] | tuple[CompareRow, ...] = ()  # runs: leaderboard Rows; compare
    primary_metric: str = ""
    figures: tuple[dict[str, Any], ...] = ()  # Plotly figures (history, scatter, bar, compare)
    parcoords: dict[str, Any] | None = None  # parallel: parcoords.js spec
    importance: Importance | None = None  # importance: the scores drawn
    run: Link | None = None  # importance: the run the scores come from
    version: VersionRow | None = None  # model: the version's row
    model: Link | None = None  # model: the model page
    champion: Champion | None = None  # model: the champion card when this version serves
    runs: tuple[Link, ...] = ()  # compare: the compared runs, baseline first
    note: str = ""  # a line under the block (how many runs matched, ...)
    data: BlockData = field(default_factory=BlockData)
    # history, compare: the series drawn in the page with on-page controls (history-view.js)
    view: dict[str, Any] | None = None
    legend: tuple[tuple[Link, str], ...] = ()  # history, compare: (run or group, colour)


@dataclass(frozen=True)
class CompareRow:
    """A row of a ```compare table: one param or metric across the runs."""

    kind: str  # 'param' or 'metric'
    key: str
    cells: tuple[tuple[str, str, str], ...]  # (text, delta text, 'better'|'worse'|'') per run


class Context:
    """Where a block is: its report file, line and the report's front matter (for errors and
    the default ``experiment``)."""

    def __init__(self, file: str, line: int, kind: str, meta: dict[str, str]) -> None:
        self.file = file
        self.line = line
        self.kind = kind
        self.meta = meta

    def error(self, key: str, message: str, allowed: Any = None) -> ReportError:
        """A ReportError naming file:line, the block, the key and (when given) what is allowed."""
        what = self.kind if self.kind == "inline value" else f"{self.kind} block"
        text = f"{self.file}:{self.line}: {what}, {key}: {message}"
        if allowed:
            text += " Allowed: " + (", ".join(str(a) for a in allowed)
                                    if isinstance(allowed, (list, tuple)) else str(allowed)) + "."
        return ReportError(text)


# ---------------------------------------------------------------------------- options


def parse_options(text: str, ctx: Context) -> dict[str, Any]:
    """The block's YAML mapping, keys checked against ``KEYS[kind]``."""
    import yaml

    try:
        loaded = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (block line {mark.line + 1})" if mark is not None else ""
        raise ctx.error("yaml", f"the block is not valid YAML{where}: "
                        f"{getattr(exc, 'problem', None) or exc}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ctx.error("yaml", "the block must be 'key: value' lines.", KEYS[ctx.kind])
    options: dict[str, Any] = {}
    for key, value in loaded.items():
        name = str(key)
        if name not in KEYS[ctx.kind]:
            raise ctx.error(name, "unknown option.", KEYS[ctx.kind])
        options[name] = value
    return options


def _text(options: dict[str, Any], key: str, ctx: Context, default: str = "") -> str:
    value = options.get(key, default)
    if value is None:
        return default
    if isinstance(value, (dict, list)):
        raise ctx.error(key, f"expected text, got {value!r}.")
    return str(value).strip()


def _int(options: dict[str, Any], key: str, ctx: Context, default: int, low: int,
         high: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ctx.error(key, f"{value!r} is not a whole number from {low} to {high}.")
    return value


def _list(options: dict[str, Any], key: str, ctx: Context) -> list[str]:
    value = options.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v).strip() for v in value]
    raise ctx.error(key, f"expected a list like [a, b], got {value!r}.")


def _choice(options: dict[str, Any], key: str, ctx: Context, allowed: tuple[str, ...],
            default: str) -> str:
    value = _text(options, key, ctx, default)
    if value not in allowed:
        raise ctx.error(key, f"{value!r} is not allowed.", allowed)
    return value


def _field(text: str, key: str, ctx: Context, kinds: tuple[str, ...] = (
        "metrics", "params", "tags", "attributes")) -> tuple[str, str]:
    """('metrics'|'params'|'tags'|'attributes', name) of a ``metrics.rmse``-style column."""
    prefix, dot, name = text.partition(".")
    aliases = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes",
               "attr": "attributes"}
    prefix = aliases.get(prefix, prefix)
    if not dot and text in ATTRIBUTES and "attributes" in kinds:
        return "attributes", text
    if not dot or prefix not in kinds or not name:
        allowed = [f"{k}.<name>" for k in kinds]
        if "attributes" in kinds:
            allowed += list(ATTRIBUTES)
        raise ctx.error(key, f"{text!r} is not a column.", allowed)
    if prefix == "attributes" and name not in ATTRIBUTES:
        raise ctx.error(key, f"{text!r} is not an attribute.", ATTRIBUTES)
    return prefix, name


# ---------------------------------------------------------------------------- run sets


def experiment_id(site: SiteData, options: dict[str, Any], ctx: Context) -> str:
    name = _text(options, "experiment", ctx) or ctx.meta.get("experiment", "")
    if not name:
        raise ctx.error("experiment", "the block needs an experiment (or set `experiment:` in "
                        "the report's front matter).",
                        sorted(e["name"] for e in site.experiments))
    for exp in site.experiments:
        if exp["name"] == name or exp["experiment_id"] == name:
            return str(exp["experiment_id"])
    raise ctx.error("experiment", f"no experiment {name!r}.",
                    sorted(e["name"] for e in site.experiments))


def default_order(site: SiteData, eid: str) -> list[str]:
    """The experiment's primary metric, best first (none when no metric is directed)."""
    primary = site.primary_metric(eid)
    if not primary:
        return []
    return [f"metrics.`{primary}` {'ASC' if site.direction(primary) == 'min' else 'DESC'}"]


def run_set(site: SiteData, options: dict[str, Any], ctx: Context,
            default_limit: int = DEFAULT_LIMIT) -> tuple[str, list[dict[str, Any]]]:
    """(experiment id, runs) of a block: ``tracker.search_runs`` on the build's (published,
    redacted) store, in its order; runs the site does not publish are left out."""
    from tracker.exceptions import TrackerError
    from tracker.query.reads import search_runs

    eid = experiment_id(site, options, ctx)
    filter_string = _text(options, "filter", ctx)
    order_by = _list(options, "order_by", ctx) if "order_by" in options else default_order(
        site, eid)
    limit = _int(options, "limit", ctx, default_limit, 1, MAX_LIMIT) if options.get(
        "limit") is not None else default_limit  # 0: every run
    try:
        ids = search_runs(site.query, [eid], filter_string or None, max_results=None,
                          order_by=order_by or None)
    except TrackerError as exc:
        key = "filter" if "order" not in str(exc).lower() else "order_by"
        raise ctx.error(key, str(exc)) from None
    runs = [site.runs_by_id[i] for i in ids if i in site.runs_by_id]
    return eid, runs[:limit] if limit else runs


def find_run(site: SiteData, text: str, ctx: Context, key: str = "run") -> dict[str, Any]:
    """A published run by exact name or by a unique id prefix (4+ characters)."""
    named = [r for r in site.runs if r["run_name"] == text]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise ctx.error(key, f"{len(named)} runs are named {text!r}; use one of their ids.",
                        sorted(r["run_id"] for r in named))
    if len(text) >= 4:
        found = [r for r in site.runs if r["run_id"].startswith(text)]
        if len(found) == 1:
            return found[0]
    raise ctx.error(key, f"no run named {text!r} and no run id starting with it.",
                    "a run name, or the first 4+ characters of a run id")


def find_version(site: SiteData, spec: str, ctx: Context, key: str = "model") -> tuple[
        ModelState, ModelVersion]:
    """(model state, version) of ``name@alias``, ``name/3`` or ``name`` (its latest version)."""
    name, alias, number = spec, "", ""
    if "@" in spec:
        name, _, alias = spec.rpartition("@")
    elif "/" in spec and spec.rpartition("/")[2].isdigit():
        name, _, number = spec.rpartition("/")
    state = model_state(site, name.strip(), ctx, key)
    versions = {v.version: v for v in state.versions}
    if alias:
        if alias not in state.model.aliases:
            raise ctx.error(key, f"model {name!r} has no alias {alias!r}.",
                            sorted(state.model.aliases) or "none (set one with "
                            "set_registered_model_alias)")
        wanted = int(state.model.aliases[alias])
    elif number:
        wanted = int(number)
    elif versions:
        wanted = max(versions)
    else:
        raise ctx.error(key, f"model {name!r} has no versions.")
    if wanted not in versions:
        raise ctx.error(key, f"model {name!r} has no version {wanted}.", sorted(versions))
    return state, versions[wanted]


def model_state(site: SiteData, name: str, ctx: Context, key: str) -> ModelState:
    for state in site.models:
        if state.model.name == name:
            return state
    raise ctx.error(key, f"no registered model {name!r}.",
                    sorted(s.model.name for s in site.models) or "none registered")


def value_of(site: SiteData, run: dict[str, Any], kind: str, name: str) -> Any:
    """A run's metric (float), param or tag (text) or attribute; None when it has none."""
    run_id = run["run_id"]
    if kind == "metrics":
        return site.metrics.get(run_id, {}).get(name)
    if kind == "params":
        return site.params.get(run_id, {}).get(name)
    if kind == "tags":
        return site.tags.get(run_id, {}).get(name)
    if name == "duration":
        start, end = run["start_time"], run["end_time"]
        return (end - start) / 1000 if start and end else None
    if name == "user":
        return run["user_id"]
    if name == "commit":
        return site.tags.get(run_id, {}).get("mlflow.source.git.commit")
    if name == "run_name":
        return run["run_name"]
    return run.get(name)


def _label(site: SiteData, run: dict[str, Any]) -> Link:
    from tracker.site.links import run_label

    return Link(run_label(run), site.urls.run(run["run_id"]))


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _matched(runs: list[dict[str, Any]]) -> str:
    return f"{len(runs)} run{'' if len(runs) == 1 else 's'}."


# ---------------------------------------------------------------------------- runs


def runs_block(site: SiteData, options: dict[str, Any], ctx: Context) -> BlockView:
    from tracker.site.pages import leaderboard as lb

    eid, runs = run_set(site, options, ctx)
    title = _text(options, "title", ctx)
    if options.get("group_by") is not None:
        return _grouped_runs(site, options, ctx, eid, runs, title)
    primary = site.primary_metric(eid)
    wanted = _list(options, "columns", ctx)
    if wanted:
        columns = [_column(site, runs, text, ctx) for text in wanted]
    else:  # the leaderboard's default (visible) columns
        columns = [c for c in lb._columns(site, runs, site.primary_metrics(runs, 3)) if c.visible]
    best = lb._best_values(site, runs, columns)
    rows = tuple(lb.Row(run["run_id"], _label(site, run), run["status"], bool(run["dead"]), "",
                        0, _cells(site, run, columns, best), None) for run in runs)
    data_columns = ("run", "run_id", *(_data_name(c.key) for c in columns))
    data_rows = tuple(
        (row.link.label, row.run_id, *(_raw(site, run, c) for c in columns))
        for row, run in zip(rows, runs))
    return BlockView("runs", ctx.line, title, tuple(columns), rows, primary,
                     note=_matched(runs), data=BlockData(data_columns, data_rows))


def _column(site: SiteData, runs: list[dict[str, Any]], text: str, ctx: Context) -> Column:
    from tracker.site.pages import leaderboard as lb

    kind, name = _field(text, "columns", ctx)
    if kind == "metrics":
        return lb.Column(f"metrics.{name}", name, "metric", True, site.direction(name), True)
    if kind == "params":
        return lb.Column(f"params.{name}", name, "param", lb._all_numeric(site, runs, name), "",
                         True)
    if kind == "tags":
        return lb.Column(f"tags.{name}", name, "attr", False, "", True)
    attr = {"start_time": "attr.start", "status": "attr.status", "duration": "attr.duration",
            "user": "attr.user", "commit": "attr.commit"}.get(name, f"attr.{name}")
    label = {"attr.start": "start (UTC)"}.get(attr, name)
    return lb.Column(attr, label, "attr", name in ("duration", "end_time"), "", True)


def _cells(site: SiteData, run: dict[str, Any], columns: list[Column], best: dict[str, float]
           ) -> tuple[Cell, ...]:
    """Leaderboard cells (``pages.leaderboard``), plus tag, run id, run name and end columns."""
    from tracker.site.pages import leaderboard as lb

    cells = []
    for col in columns:
        if col.key.startswith("tags."):
            value = site.tags.get(run["run_id"], {}).get(col.key[5:], "")
            cells.append(lb.Cell(value, value, False))
        elif col.key in ("attr.run_id", "attr.run_name"):
            value = run[col.key[5:]] or ""
            cells.append(lb.Cell(value, value, False))
        elif col.key == "attr.end_time":
            cells.append(lb.Cell(lb._iso(run["end_time"]), str(run["end_time"] or ""), False))
        else:
            cells.extend(lb._cells(site, run, [col], best))
    return tuple(cells)


def _data_name(key: str) -> str:
    """A column's name in view data and CSV: ``metrics.rmse``, ``start_time``."""
    prefix, _, name = key.partition(".")
    return {"start": "start_time"}.get(name, name) if prefix == "attr" else key


def _raw(site: SiteData, run: dict[str, Any], column: Column) -> Any:
    """A column's value in full (for the CSV); times as ISO 8601 (UTC)."""
    from tracker.site.render import format_iso

    prefix, _, name = column.key.partition(".")
    if prefix == "attr":
        name = _data_name(column.key)
        value = value_of(site, run, "attributes", name)
        return format_iso(value) if name in ("start_time", "end_time") and value else value
    return value_of(site, run, prefix, name)


@dataclass(frozen=True)
class _Aggregate:
    name: str

    def __call__(self, values: list[float]) -> float | None:
        if self.name == "count":
            return float(len(values))
        if not values:
            return None
        if self.name == "mean":
            return sum(values) / len(values)
        if self.name == "min":
            return min(values)
        if self.name == "max":
            return max(values)
        if self.name == "sum":
            return sum(values)
        ordered = sorted(values)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def group_key(site: SiteData, run: dict[str, Any], kind: str, name: str) -> str:
    value = value_of(site, run, kind, name)
    return "" if value is None else str(value)


def _grouped_runs(site: SiteData, options: dict[str, Any], ctx: Context, eid: str,
                  runs: list[dict[str, Any]], title: str) -> BlockView:
    """One row per value of ``group_by``: the run count and aggregates of each metric column."""
    from tracker.site.pages import leaderboard as lb
    from tracker.site.render import format_metric

    kind, name = _field(_text(options, "group_by", ctx), "group_by", ctx,
                        ("params", "tags", "attributes"))
    aggregates = _list(options, "aggregates", ctx) or list(DEFAULT_AGGREGATES)
    for agg in aggregates:
        if agg not in AGGREGATES:
            raise ctx.error("aggregates", f"{agg!r} is not an aggregate.", AGGREGATES)
    wanted = _list(options, "columns", ctx)
    metrics = []
    for text in wanted:
        k, n = _field(text, "columns", ctx, ("metrics",))
        metrics.append(n)
    if not metrics:
        metrics = site.primary_metrics(runs, 3) or sorted(
            {k for r in runs for k in site.metrics.get(r["run_id"], {})})[:3]
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(group_key(site, run, kind, name), []).append(run)
    columns: list[Column] = []
    if "count" in aggregates:
        columns.append(lb.Column("agg.count", "runs", "attr", True, "", True))
    for metric in metrics:
        for agg in aggregates:
            if agg != "count":
                columns.append(lb.Column(f"metrics.{metric}.{agg}", f"{metric} {agg}", "metric",
                                         True, site.direction(metric) if agg != "sum" else "",
                                         True))
    values: list[tuple[str, list[float | None]]] = []
    for group in sorted(groups, key=_natural):
        members = groups[group]
        row: list[float | None] = []
        for col in columns:
            if col.key == "agg.count":
                row.append(float(len(members)))
                continue
            metric, agg = col.key.removeprefix("metrics.").rsplit(".", 1)
            found = [v for r in members if (v := _number(site.metrics.get(r["run_id"], {}).get(
                metric))) is not None]
            row.append(_Aggregate(agg)(found))
        values.append((group, row))
    best: dict[str, float] = {}
    for i, col in enumerate(columns):
        if col.direction:
            found = [v for _, row in values if (v := row[i]) is not None]
            if found:
                best[col.key] = min(found) if col.direction == "min" else max(found)
    rows = []
    for group, row in values:
        cells = tuple(
            lb.Cell(format_metric(v) if v is not None else "", lb.sort_text(v),
                    v is not None and best.get(col.key) == v,
                    repr(v) if v is not None and format_metric(v) != repr(v) else "")
            for col, v in zip(columns, row))
        label = f"{name} = {group}" if group else f"{name} not set"
        rows.append(lb.Row("", Link(label, ""), "", False, "", 0, cells, None))
    data_columns = (f"{kind}.{name}", *(c.key for c in columns))
    data_rows = tuple((group, *row) for group, row in values)
    return BlockView("runs", ctx.line, title or f"Runs by {name}", tuple(columns), tuple(rows),
                     "", note=f"{len(runs)} runs in {len(groups)} groups.",
                     data=BlockData(data_columns, data_rows))


def _natural(text: str) -> tuple[int, float, str]:
    number = _number(text)
    return (0, number, text) if number is not None else (1, 0.0, text)


# ---------------------------------------------------------------------------- charts


def _style(index: int) -> tuple[str, str, str]:
    return (charts.PALETTE[index % len(charts.PALETTE)], charts.DASHES[index % len(charts.DASHES)],
            charts.SYMBOLS[index % len(charts.SYMBOLS)])


def _legend_on_top(layout: dict[str, Any]) -> dict[str, Any]:
    layout["legend"] = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0,
                        "yanchor": "bottom"}
    layout["margin"] = {**layout["margin"], "t": 80}
    layout["title"] = {**layout["title"], "y": 0.97, "yanchor": "top"}
    return layout


def history_block(site: SiteData, options: dict[str, Any], ctx: Context) -> BlockView:
    from tracker.site.timeseries import downsample, ema

    eid, runs = run_set(site, options, ctx, 10)
    metrics = _list(options, "metric", ctx)
    if not metrics:
        primary = site.primary_metric(eid)
        if not primary:
            raise ctx.error("metric", "the block needs a metric.",
                            sorted({k for r in runs for k in site.metrics.get(r["run_id"], {})}))
        metrics = [primary]
    metrics = [m.removeprefix("metrics.") for m in metrics]
    known = {k for r in site.runs_by_experiment.get(eid, []) for k in site.metrics.get(
        r["run_id"], {})}
    for metric in metrics:
        if metric not in known:
            raise ctx.error("metric", f"no run of the experiment logged {metric!r}.",
                            sorted(known))
    x = _choice(options, "x", ctx, HISTORY_X, "step")
    smoothing = options.get("smoothing", 0)
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not (
            0 <= smoothing < 1):
        raise ctx.error("smoothing", f"{smoothing!r} is not a number from 0 to 1 (below 1).",
                        "0 (none) to 0.99")
    log_scale = options.get("log", False)
    if not isinstance(log_scale, bool):
        raise ctx.error("log", f"{log_scale!r} is not true or false.", ("true", "false"))
    group = _text(options, "group_by", ctx)
    grouping = _field(group, "group_by", ctx, ("params", "tags")) if group else None
    if grouping and x != "step":
        raise ctx.error("group_by", "runs are grouped by step only.", ("x: step",))
    x_title = {"step": "step", "time": "time (UTC)", "relative": "hours since start"}[x]
    figures, data = [], []
    for metric in metrics:
        traces: list[dict[str, Any]] = []
        series: list[tuple[dict[str, Any], list[Any], list[float]]] = []
        for run in runs:
            points = [p for p in site.history(run["run_id"]).get(metric, [])
                      if math.isfinite(p[2])]
            if not points:
                continue
            for p in points:
                data.append((_label(site, run).label, run["run_id"], metric, p[0], p[1], p[2]))
            # drawn: at most CHART_POINTS per run (LTTB plus the extremes, as the run page);
            # the view data and CSV keep every point
            keep = downsample([p[0] if x == "step" else p[1] for p in points],
                              [p[2] for p in points], CHART_POINTS)
            points = [points[i] for i in keep]
            start = run["start_time"] or points[0][1]
            xs: list[Any] = (
                [p[0] for p in points] if x == "step" else
                [_utc(p[1]) for p in points] if x == "time" else
                [round((p[1] - start) / 3_600_000, 6) for p in points])
            ys = [p[2] for p in points]
            series.append((run, xs, ys))
        if grouping:
            traces = _band_traces(site, series, grouping, smoothing, ema)
        else:
            place = {r["run_id"]: i for i, r in enumerate(runs)}
            for run, xs, ys in series:
                color, dash, symbol = _style(place[run["run_id"]])
                shown = ema(ys, smoothing) if smoothing else ys
                if smoothing:
                    traces.append({"type": "scatter", "mode": "lines", "x": xs,
                                   "y": [charts.rounded(v) for v in ys], "showlegend": False,
                                   "name": f"{_label(site, run).label} (raw)", "opacity": 0.25,
                                   "line": {"color": color, "width": 1}, "hoverinfo": "skip"})
                traces.append({"type": "scatter",
                               "mode": "lines" if len(xs) > 30 else "lines+markers",
                               "name": _label(site, run).label, "x": xs,
                               "y": [charts.rounded(v) for v in shown],
                               "line": {"color": color, "dash": dash},
                               "marker": {"color": color, "symbol": symbol}})
        title = _text(options, "title", ctx) or f"{metric} by {x_title}"
        if len(metrics) > 1 and _text(options, "title", ctx):
            title = f"{title} · {metric}"
        layout = charts.layout(title, x_title, metric)
        if log_scale:
            layout["yaxis"] = {**layout["yaxis"], "type": "log"}
        if x == "time":
            layout["xaxis"] = {**layout["xaxis"], "type": "date"}
        if len(traces) > 1:
            _legend_on_top(layout)
        figures.append({"data": traces, "layout": layout})
    view, legend = history_view(site, runs, metrics, {"x": x, "smoothing": smoothing,
                                                      "log": log_scale, "title": _text(
                                                          options, "title", ctx)}, grouping)
    return BlockView("history", ctx.line, _text(options, "title", ctx), figures=tuple(figures),
                     note=_matched(runs), data=BlockData(
                         ("run", "run_id", "metric", "step", "timestamp", "value"),
                         tuple(data)), view=view, legend=legend)


VIEW_X = {"step": "step", "time": "wall", "relative": "relative"}  # block x: → view x


def history_view(site: SiteData, runs: list[dict[str, Any]], metrics: list[str],
                 options: dict[str, Any], grouping: tuple[str, str] | None = None,
                 ) -> tuple[dict[str, Any] | None, tuple[tuple[Link, str], ...]]:
    """The series a block draws in the page with the compare page's controls (x axis, EMA
    smoothing, log scale; ``assets/history-view.js``) and its legend, or (None, ()) when no run
    has a point of the metrics.

    The view is JSON: ``{"x": "step"|"wall"|"relative", "smoothing", "log", "title", "metrics":
    [keys], "group": name or "", "groups": [{"n": label, "c": colour, "d": dash}], "runs": [{"i":
    run id, "n": label, "c": colour, "d": dash, "y": symbol, "g": group index, "t": start ms,
    "h": {metric: [[steps], [values], [seconds since t]]}}]}``. A run's colour is its place in
    the run set, a group's its place in the sorted group values, so colours do not move when
    the controls change. Values are exact; a series has at most ``CHART_POINTS`` points (LTTB
    plus the extremes by step).

    Args:
        options: the block's ``x`` (``HISTORY_X``), ``smoothing``, ``log`` and ``title``.
        grouping: (kind, name) of ``group_by``: the view draws a mean line and a min–max band
            per group.
    """
    from tracker.site.timeseries import downsample

    labels = {r["run_id"]: _label(site, r) for r in runs}
    records = []
    for index, run in enumerate(runs):
        found = {m: pts for m in metrics if (pts := [
            p for p in site.history(run["run_id"]).get(m, []) if math.isfinite(p[2])])}
        if not found:
            continue
        origin = run["start_time"]
        if origin is None:
            origin = min(pts[0][1] for pts in found.values())
        histories: dict[str, list[list[Any]]] = {}
        for metric, points in found.items():
            keep = downsample([p[0] for p in points], [p[2] for p in points], CHART_POINTS)
            histories[metric] = [[points[i][0] for i in keep], [points[i][2] for i in keep],
                                 [round((points[i][1] - origin) / 1000, 3) for i in keep]]
        color, dash, symbol = _style(index)
        record: dict[str, Any] = {"i": run["run_id"], "n": labels[run["run_id"]].label,
                                  "c": color, "d": dash, "y": symbol, "t": origin,
                                  "h": histories}
        if grouping:
            record["g"] = group_key(site, run, *grouping)
        records.append(record)
    if not records:
        return None, ()
    groups = sorted({r["g"] for r in records}, key=_natural) if grouping else []
    for record in records:
        if grouping:
            record["g"] = groups.index(record["g"])
    view: dict[str, Any] = {
        "x": VIEW_X[options.get("x", "step")], "smoothing": options.get("smoothing", 0),
        "log": bool(options.get("log", False)), "title": options.get("title", ""),
        "metrics": list(metrics), "group": grouping[1] if grouping else "", "runs": records}
    if grouping:
        name = grouping[1]
        view["groups"] = [{"n": f"{name} = {g}" if g else f"{name} not set",
                           "c": _style(i)[0], "d": _style(i)[1]} for i, g in enumerate(groups)]
        legend = tuple((Link(g["n"], ""), g["c"]) for g in view["groups"])
    else:
        legend = tuple((labels[r["i"]], r["c"]) for r in records)
    return view, legend


def _utc(ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[
        :-3]


def _band_traces(site: SiteData, series: list[tuple[dict[str, Any], list[Any], list[float]]],
                 grouping: tuple[str, str], smoothing: float,
                 ema: Callable[[list[float], float], list[float]]) -> list[dict[str, Any]]:
    """Per group: the mean by step as a line, the min–max range as a band."""
    kind, name = grouping
    groups: dict[str, dict[Any, list[float]]] = {}
    for run, xs, ys in series:
        points = groups.setdefault(group_key(site, run, kind, name), {})
        shown = ema(ys, smoothing) if smoothing else ys
        for step, value in zip(xs, shown):
            points.setdefault(step, []).append(value)
    traces: list[dict[str, Any]] = []
    for index, group in enumerate(sorted(groups, key=_natural)):
        color, dash, symbol = _style(index)
        by_step = groups[group]
        steps = sorted(by_step)
        label = f"{name} = {group}" if group else f"{name} not set"
        lows = [charts.rounded(min(by_step[s])) for s in steps]
        highs = [charts.rounded(max(by_step[s])) for s in steps]
        means = [charts.rounded(sum(by_step[s]) / len(by_step[s])) for s in steps]
        traces.append({"type": "scatter", "mode": "lines", "x": steps, "y": lows,
                       "line": {"width": 0, "color": color}, "showlegend": False,
                       "name": f"{label} min", "hoverinfo": "skip"})
        traces.append({"type": "scatter", "mode": "lines", "x": steps, "y": highs,
                       "fill": "tonexty", "fillcolor": _rgba(color, 0.18),
                       "line": {"width": 0, "color": color}, "showlegend": False,
                       "name": f"{label} max", "hoverinfo": "skip"})
        traces.append({"type": "scatter", "mode": "lines+markers" if len(steps) <= 30 else "lines",
                       "name": f"{label} (mean)", "x": steps, "y": means,
                       "line": {"color": color, "dash": dash},
                       "marker": {"color": color, "symbol": symbol}})
    return traces


def _rgba(color: str, alpha: float) -> str:
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _axis_value(site: SiteData, run: dict[str, Any], kind: str, name: str) -> Any:
    value = value_of(site, run, kind, name)
    if kind == "metrics":
        return _number(value)
    number = _number(value)
    return number if number is not None and kind == "params" else value


def scatter_block(site: SiteData, options: dict[str, Any], ctx: Context) -> BlockView:
    eid, runs = run_set(site, options, ctx, MAX_LIMIT)
    for key in ("x", "y"):
        if not _text(options, key, ctx):
            raise ctx.error(key, "the scatter needs x: and y:.", ("metrics.<name>",
                                                                  "params.<name>"))
    xk, xn = _field(_text(options, "x", ctx), "x", ctx, ("metrics", "params"))
    yk, yn = _field(_text(options, "y", ctx), "y", ctx, ("metrics", "params"))
    color = _text(options, "color", ctx)
    ck, cn = _field(color, "color", ctx, ("params", "tags")) if color else ("", "")
    groups: dict[str, list[tuple[Any, Any, dict[str, Any]]]] = {}
    data = []
    for run in runs:
        xv, yv = _axis_value(site, run, xk, xn), _axis_value(site, run, yk, yn)
        if xv is None or yv is None:
            continue
        group = group_key(site, run, ck, cn) if color else ""
        groups.setdefault(group, []).append((xv, yv, run))
        data.append((_label(site, run).label, run["run_id"], xv, yv, *((group,) if color else ())))
    traces = []
    for index, group in enumerate(sorted(groups, key=_natural)):
        colour, _, symbol = _style(index)
        points = groups[group]
        name = (f"{cn} = {group}" if group else f"{cn} not set") if color else yn
        traces.append({"type": "scatter", "mode": "markers", "name": name,
                       "x": [p[0] for p in points], "y": [p[1] for p in points],
                       "text": [_label(site, p[2]).label for p in points],
                       "marker": {"color": colour, "symbol": symbol, "size": 9},
                       "hovertemplate": "%{text}: %{x}, %{y}<extra></extra>"})
    title = _text(options, "title", ctx) or f"{yn} against {xn}"
    layout = charts.layout(title, xn, yn)
    if len(traces) > 1:
        _legend_on_top(layout)
    columns = ("run", "run_id", f"{xk}.{xn}", f"{yk}.{yn}", *((f"{ck}.{cn}",) if color else ()))
    return BlockView("scatter", ctx.line, title, figures=({"data": traces, "layout": layout},),
                     note=f"{len(data)} of {len(runs)} runs have both values.",
                     data=BlockData(columns, tuple(data)))


def bar_block(site: SiteData, options: dict[str, Any], ctx: Context) -> BlockView:
    eid, runs = run_set(site, options, ctx)
    y = _text(options, "y", ctx) or (f"metrics.{site.primary_metric(eid)}"
                                      if site.primary_metric(eid) else "")
    if not y:
        raise ctx.error("y", "the bar chart needs y:.", ("metrics.<name>",))
    yk, yn = _field(y, "y", ctx, ("metrics",))
    x = _text(options, "x", ctx, "run")
    title = _text(options, "title", ctx)
    labels: list[str] = []
    values: list[float | None] = []
    data: list[tuple[Any, ...]] = []
    if x == "run":
        for run in runs:
            value = _number(site.metrics.get(run["run_id"], {}).get(yn))
            labels.append(_label(site, run).label)
            values.append(value)
            data.append((_label(site, run).label, run["run_id"], value))
        columns: tuple[str, ...] = ("run", "run_id", f"metrics.{yn}")
        x_title = "run"
    else:
        xk, xn = _field(x, "x", ctx, ("params", "tags"))
        groups: dict[str, list[float]] = {}
        for run in runs:
            value = _number(site.metrics.get(run["run_id"], {}).get(yn))
            if value is not None:
                groups.setdefault(group_key(site, run, xk, xn), []).append(value)
        labels = sorted(groups, key=_natural)
        values = [sum(groups[g]) / len(groups[g]) for g in labels]
        data = [(g, len(groups[g]), v, min(groups[g]), max(groups[g]))
                for g, v in zip(labels, values)]
        columns = (f"{xk}.{xn}", "runs", f"mean {yn}", f"min {yn}", f"max {yn}")
        x_title = xn
        labels = [g if g else "(not set)" for g in labels]
        yn_title = f"mean {yn}"
    title = title or (f"{yn} per run" if x == "run" else f"mean {yn} by {x_title}")
    layout = charts.layout(title, x_title, yn if x == "run" else yn_title)
    span = charts.value_range(values)
    if span is not None:
        layout["yaxis"] = {**layout["yaxis"], "range": span}
    layout["xaxis"] = {**layout["xaxis"], "type": "category"}
    trace = {"type": "bar", "name": yn, "x": labels, "y": [charts.finite(v) for v in values],
             "marker": {"color": charts.PALETTE[0]}}
    return BlockView("bar", ctx.line, title, figures=({"data": [trace], "layout": layout},),
                     note=_matched(runs), data=BlockData(columns, tuple(data)))


def parallel_block(site: SiteData, options: dict[str, Any], ctx: Context) -> BlockView:
    from tracker.site.charts_compare import dimension

    eid, runs = run_set(site, options, ctx, MAX_LIMIT)
    wanted = _list(options, "columns", ctx)
    fields = [_field(text, "columns", ctx, ("params", "metrics")) for text in wanted]
    if not fields:
        primary = site.primary_metric(eid)
        params = sorted({k for r in runs for k in site.params.get(r["run_id"], {})})
        fields = [("params", p) for p in params][:6] + ([("metrics", primary)] if primary else [])
    if len(fields) < 2 or fields[-1][0] != "metrics":
        raise ctx.error("columns", "parallel coordinates need 2+ columns, the last a metric "
                        "(it colours the lines).", ("[params.a, params.b, metrics.rmse]",))
    metric = fields[-1][1]
    kept = [r for r in runs if _number(site.metrics.get(r["run_id"], {}).get(metric)) is not None]
    dims = []
    for kind, name in fields[:-1]:
        if kind == "params":
            dims.append(dimension(name, [site.params.get(r["run_id"], {}).get(name)
                                         for r in kept]))
        else:
            dims.append({"label": name, "values": [
                _number(site.metrics.get(r["run_id"], {}).get(name)) for r in kept]})
    values = [_number(site.metrics[r["run_id"]][metric]) for r in kept]
    dims.append({"label": metric, "values": values})
    title = _text(options, "title", ctx) or f"{metric} across {', '.join(n for _, n in fields[:-1])}"
    direction = site.direction(metric)
    spec = {"title": title, "metric": metric,
            "direction": direction if direction in ("min", "max") else "",
            "dimensions": dims,
            "lines": [{"id": r["run_id"], "name": _label(site, r).label,
                       "href": site.urls.run(r["run_id"])} for r in kept]}
    columns = ("run", "run_id", *(f"{k}.{n}" for k, n in fields))
    data = tuple((_label(site, r).label, r["run_id"], *(value_of(site, r, k, n) for k, n in fields))
                 for r in kept)
    return BlockView("parallel", ctx.line, title, parcoords=spec,
                     note=f"{len(kept)} of {len(runs)} runs have {metric}.",
                     data=BlockData(columns, data))


# ---------------------------------------------------------------------------- importance, model


def importance_block(site: SiteData, options: dict[str, Any], ctx: Context) -> BlockView:
    from tracker.site.pages.artifacts import Bar, Importance, artifacts, importance

    run_text, model_text = _text(options, "run", ctx), _text(options, "model", ctx)
    if bool(run_text) == bool(model_text):
        raise ctx.error("run", "give either run: or model:, not both or neither.",
                        ("run: <run name or id prefix>", "model: name@alias | name/3"))
    if run_text:
        run = find_run(site, run_text, ctx, "run")
    else:
        _, version = find_version(site, model_text, ctx)
        found_run = site.runs_by_id.get(version.run_id or "")
        if found_run is None:
            raise ctx.error("model", f"the run of {model_text!r} is not in this site.")
        run = found_run
    found = importance(artifacts(site, run, []))
    kinds = [i.kind for i in found]
    if not found:
        raise ctx.error("run" if run_text else "model", f"run {_label(site, run).label!r} logged "
                        "no feature importance (a feature_importance*.json artifact).")
    kind = _text(options, "type", ctx, kinds[0])
    if kind not in kinds:
        raise ctx.error("type", f"{kind!r} is not logged for this run.", kinds)
    top = _int(options, "top", ctx, 20, 1, 200)
    chosen = next(i for i in found if i.kind == kind)
    bars = chosen.bars[:top]
    high = max((b.value for b in bars), default=0.0) or 1.0
    shown = Importance(kind, tuple(Bar(b.feature, b.value, b.value / high if high > 0 else 0.0)
                                   for b in bars), chosen.features, chosen.source)
    title = _text(options, "title", ctx) or f"Feature importance ({kind})"
    return BlockView("importance", ctx.line, title, importance=shown, run=_label(site, run),
                     data=BlockData(("feature", kind), tuple((b.feature, b.value) for b in bars)))


def model_block(site: SiteData, options: dict[str, Any], ctx: Context) -> BlockView:
    from tracker.site.pages.home import champion
    from tracker.site.pages.registry import version_row

    name = _text(options, "name", ctx)
    if not name:
        raise ctx.error("name", "the block needs the model's name.",
                        sorted(s.model.name for s in site.models) or "none registered")
    given = [k for k in ("version", "alias", "stage") if options.get(k) is not None]
    if len(given) > 1:
        raise ctx.error(given[1], "give one of version:, alias: or stage:.",
                        ("version", "alias", "stage"))
    state = model_state(site, name, ctx, "name")
    versions = {v.version: v for v in state.versions}
    if "version" in given:
        number = options["version"]
        if isinstance(number, str) and number.strip().isdigit():
            number = int(number)
        if isinstance(number, bool) or not isinstance(number, int) or number not in versions:
            raise ctx.error("version", f"model {name!r} has no version {number!r}.",
                            sorted(versions))
        version = versions[number]
    elif "alias" in given:
        alias = _text(options, "alias", ctx)
        _, version = find_version(site, f"{name}@{alias}", ctx, "alias")
    elif "stage" in given:
        stage = _choice(options, "stage", ctx, STAGES, "Production")
        staged = [v for v in state.versions if v.current_stage == stage]
        if not staged:
            raise ctx.error("stage", f"model {name!r} has no version in {stage}.",
                            sorted({v.current_stage for v in state.versions}))
        version = max(staged, key=lambda v: v.version)
    else:
        card = champion(site, state)
        version = versions[int(card.version.label[1:])] if card else versions[max(versions)]
    row = version_row(site, version)
    card = champion(site, state)
    serving = card if card is not None and card.version.label == f"v{version.version}" else None
    title = _text(options, "title", ctx) or f"{name} v{version.version}"
    data = (("model", name), ("version", version.version), ("stage", version.current_stage),
            ("aliases", ", ".join(row.aliases)), ("run_id", row.run_id),
            ("metric", row.metric), ("value", row.value), ("registered", row.created),
            ("source", row.source))
    return BlockView("model", ctx.line, title, version=row,
                     model=Link(name, site.urls.model(name)), champion=serving,
                     data=BlockData(("field", "value"), data))


# ---------------------------------------------------------------------------- compare


def compare_block(site: SiteData, options: dict[str, Any], ctx: Context) -> BlockView:
    from tracker.site.render import format_metric, format_param

    named = _list(options, "runs", ctx)
    if named:
        if any(options.get(k) is not None for k in RUN_SET_KEYS):
            raise ctx.error("runs", "give runs: or a run set (experiment/filter/order_by/"
                            "limit), not both.")
        runs = [find_run(site, text, ctx, "runs") for text in named]
    else:
        _, runs = run_set(site, options, ctx, 3)
    if len(runs) < 2:
        raise ctx.error("runs", f"compare needs 2 or more runs; {len(runs)} found.",
                        ("runs: [name-or-id, name-or-id, ...]", "a run set with limit: 2+"))
    base = runs[0]
    param_keys = sorted({k for r in runs for k in site.params.get(r["run_id"], {})})
    metric_keys = sorted({k for r in runs for k in site.metrics.get(r["run_id"], {})},
                         key=lambda k: (site.direction(k) == "", k))
    rows: list[CompareRow] = []
    data: list[tuple[Any, ...]] = []
    for key in param_keys:
        values = [site.params.get(r["run_id"], {}).get(key) for r in runs]
        rows.append(CompareRow("param", key, tuple(
            (format_param(v) if v is not None else "", "" if i == 0 or v == values[0] else
             "changed", "") for i, v in enumerate(values))))
        data.append(("param", key, *values))
    for key in metric_keys:
        values_m = [site.metrics.get(r["run_id"], {}).get(key) for r in runs]
        first = values_m[0]
        direction = site.direction(key)
        cells = []
        for i, v in enumerate(values_m):
            delta, mood = "", ""
            if i and v is not None and first is not None and math.isfinite(v) and math.isfinite(
                    first) and v != first:
                delta = f"{v - first:+.4g}" + (f" ({(v - first) / abs(first) * 100:+.1f} %)"
                                                if first else "")
                if direction:
                    mood = "better" if (v < first) == (direction == "min") else "worse"
            cells.append((format_metric(v) if v is not None else "", delta, mood))
        rows.append(CompareRow("metric", key, tuple(cells)))
        data.append(("metric", key, *values_m))
    figures = []
    primary = next((k for k in metric_keys if site.direction(k)), "")
    if primary:
        labels = [_label(site, r).label for r in runs]
        bars = [_number(site.metrics.get(r["run_id"], {}).get(primary)) for r in runs]
        layout = charts.layout(f"{primary} per run", "run", primary)
        span = charts.value_range(bars)
        if span is not None:
            layout["yaxis"] = {**layout["yaxis"], "range": span}
        layout["xaxis"] = {**layout["xaxis"], "type": "category"}
        figures.append({"data": [{"type": "bar", "name": primary, "x": labels, "y": bars,
                                  "marker": {"color": charts.PALETTE[0]}}], "layout": layout})
    title = _text(options, "title", ctx) or f"{len(runs)} runs against {_label(site, base).label}"
    columns = ("kind", "key", *(f"{_label(site, r).label} ({r['run_id'][:8]})" for r in runs))
    # the metrics some run logged at 2+ steps, drawn as on the compare page (primary first)
    stepped = [k for k in metric_keys if any(
        len(site.history(r["run_id"]).get(k, [])) > 1 for r in runs)]
    stepped.sort(key=lambda k: k != primary)
    view, legend = history_view(site, runs, stepped[:COMPARE_HISTORIES], {})
    return BlockView("compare", ctx.line, title, rows=tuple(rows), figures=tuple(figures),
                     runs=tuple(_label(site, r) for r in runs),
                     data=BlockData(columns, tuple(data)), view=view, legend=legend)


BUILDERS = {
    "runs": runs_block, "history": history_block, "scatter": scatter_block, "bar": bar_block,
    "parallel": parallel_block, "importance": importance_block, "model": model_block,
    "compare": compare_block,
}


def render_block(site: SiteData, kind: str, text: str, ctx: Context) -> BlockView:
    """Parse, check and draw one block.

    Raises:
        ReportError: an option is unknown or bad, or what it names does not exist.
    """
    import dataclasses

    options = parse_options(text, ctx)
    view = BUILDERS[kind](site, options, ctx)
    return dataclasses.replace(view, figures=tuple(literal_text(f) for f in view.figures))


def literal_text(figure: dict[str, Any]) -> dict[str, Any]:
    """The figure with every name, label and title shown literally (``charts.plotly_text``):
    run names, params and tags come from the store, and Plotly reads a little HTML in them."""
    def text(value: Any) -> Any:
        return charts.plotly_text(value) if isinstance(value, str) else value

    data = []
    for trace in figure["data"]:
        trace = dict(trace)
        for key in ("name", "text", "x"):
            if key in trace:
                trace[key] = [text(v) for v in trace[key]] if isinstance(
                    trace[key], list) else text(trace[key])
        data.append(trace)
    layout = dict(figure["layout"])
    for key in ("title", "xaxis", "yaxis"):
        if key not in layout:
            continue
        part = dict(layout[key])
        if key == "title":
            part["text"] = text(part.get("text", ""))
        elif "title" in part:
            part["title"] = {**part["title"], "text": text(part["title"].get("text", ""))}
        layout[key] = part
    return {**figure, "data": data, "layout": layout}


# ---------------------------------------------------------------------------- view data


def csv_bytes(columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...] | list[Any]) -> bytes:
    """The rows as CSV; text that a spreadsheet would run as a formula gets a leading quote."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([_csv_cell(c) for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (int, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and _number(text) is None \
        else text


def view_cell(value: Any) -> tuple[str, bool, str]:
    """(text, numeric, full value) of a view-data cell."""
    from tracker.site.render import format_metric

    if value is None:
        return "", False, ""
    if isinstance(value, bool):
        return str(value).lower(), False, ""
    if isinstance(value, (int, float)):
        text = format_metric(value)
        return text, True, repr(value) if text != repr(value) else ""
    return str(value), False, ""
