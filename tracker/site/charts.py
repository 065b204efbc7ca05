"""Plotly figure dicts built directly (no ``go.Figure``; ~80× faster). No I/O here.

Templates embed a figure as ``<script type="application/json" class="chart">`` and the site's
script draws it with the bundled plotly.js.
"""

from __future__ import annotations

import math
from typing import Any

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")
# Series differ by more than colour (#18): a marker symbol, a line dash, a bar pattern each.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "triangle-down")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
PATTERNS = ("", "/", ".", "x", "\\", "+", "-", "|")


def finite(value: Any) -> float | None:
    """A JSON-safe number: NaN and ±inf become None (a gap in the chart)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}},
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True},
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "height": 320,
        "legend": {"orientation": "h", "y": -0.25},
        "hovermode": "closest",
    }
    base.update(extra)
    return base


def value_range(values: list[float | None]) -> list[float] | None:
    """[low, high] of a bar chart's value axis: from 0 when 0 is near the data, else around the
    data, so 5.56 and 5.27 do not look equal (#11); None when there is no finite value. The
    twin of valueRange in site_templates/assets/compare-views.js.

    Args:
        values: the bar lengths (None and non-finite values are ignored).
    """
    xs = [v for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return None
    lo, hi = min(xs), max(xs)
    span = hi - lo
    if span == 0:
        return [0.0, hi * 1.1 or 1.0] if hi >= 0 else [lo * 1.1, 0.0]
    if lo >= 0 and lo <= span * 2:
        return [0.0, rounded(hi + span * 0.08)]
    if hi <= 0 and -hi <= span * 2:
        return [rounded(lo - span * 0.08), 0.0]
    return [rounded(lo - span * 0.25), rounded(hi + span * 0.25)]


def running_best(values: list[float | None], direction: str) -> list[float | None]:
    """The best value so far at each position (None until the first value)."""
    best: float | None = None
    out: list[float | None] = []
    for value in values:
        if value is not None and (
            best is None or (value < best if direction == "min" else value > best)
        ):
            best = value
        out.append(best)
    return out


def _same_shape(times: list[str]) -> bool:
    """Whether every text is a ``YYYY-MM-DD HH:MM`` time (as the leaderboard writes them)."""
    import re

    shape = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}")
    return bool(times) and all(map(shape.fullmatch, times))


SHORT_SPAN_SECONDS = 300  # runs that all started within this: plotted by run order, not time


def trend_figure(
    metric: str,
    direction: str,
    points: list[tuple[str, float, str, str]],
    commits: list[tuple[str, float, bool]] | list[tuple[str, float, bool, str]],
) -> dict[str, Any]:
    """Best value of a metric over time (runs by start time) and by git commit.

    When every run started within a few minutes (a sweep, a demo), the x-axis is the run order
    instead: a time axis would collapse them onto one vertical line.

    Args:
        metric: the metric name.
        direction: ``"min"`` or ``"max"``.
        points: (ISO start time, value, run label, run path) in time order.
        commits: (short commit, best value of that commit, regressed?, message's first line)
            in commit order (the message may be left out).
    """
    from datetime import datetime

    times = [p[0] for p in points]
    values = [v if type(v) is float and math.isfinite(v) else finite(v)
              for v in [p[1] for p in points]]
    same = _same_shape(times)
    # "YYYY-MM-DD HH:MM" texts sort as their times do: two are read, not 100,000 (#14)
    moments = [datetime.fromisoformat(t).timestamp()
               for t in ((min(times), max(times)) if same else times) if t]
    by_order = (same or len(moments) == len(times)) and bool(moments) and (
        max(moments) - min(moments) < SHORT_SPAN_SECONDS)
    xs: list[Any] = list(range(1, len(points) + 1)) if by_order else times
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "markers", "name": "runs", "x": xs, "y": values,
         "text": [p[2] for p in points], "customdata": [p[3] for p in points],
         "marker": {"color": "#6e7781", "size": 6}, "hovertemplate": "%{text}: %{y}<extra></extra>"},
        {"type": "scatter", "mode": "lines", "name": f"best so far ({direction})", "x": xs,
         "y": running_best(values, direction), "line": {"color": PALETTE[0], "shape": "hv"}},
    ]
    if commits:
        labels = [plotly_text(f"{c[0][:7]} {c[3][:24]}" if len(c) > 3 and c[3] else c[0])
                  for c in commits]
        traces.append({
            "type": "scatter", "mode": "lines+markers", "name": "best per commit",
            "x": [c[0] for c in commits], "y": [finite(c[1]) for c in commits],
            "text": [plotly_text(c[3]) if len(c) > 3 else "" for c in commits],
            "xaxis": "x2", "yaxis": "y2", "line": {"color": PALETTE[2]},
            "marker": {"color": [PALETTE[1] if c[2] else PALETTE[2] for c in commits],
                       "size": [11 if c[2] else 7 for c in commits],
                       "symbol": ["x" if c[2] else "circle" for c in commits]},
            "hovertemplate": "commit %{x} %{text}: %{y}<extra></extra>",
        })
    extra: dict[str, Any] = {
        "grid": {"rows": 1, "columns": 2 if commits else 1, "pattern": "independent"},
        # the legend above the plots: below them it covered the axis titles
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "margin": {"l": 50, "r": 20, "t": 70, "b": 40},
    }
    if by_order:
        extra["xaxis"] = {"title": {"text": "run, in start order (all within minutes)"},
                          "automargin": True, "dtick": 1 if len(points) <= 20 else None}
    if commits:
        extra["xaxis2"] = {"title": {"text": "git commit (red × = regression)"},
                           "type": "category", "automargin": True,
                           "tickvals": [c[0] for c in commits], "ticktext": labels}
        extra["yaxis2"] = {"title": {"text": metric}, "automargin": True}
    return {"data": traces, "layout": layout(f"{metric}: best over time and by commit",
                                             "run start (UTC)", metric, **extra)}


# -- run page: metric histories and logged figures -------------------------------------------


def plotly_text(text: str) -> str:
    """Text for a Plotly label, shown literally (Plotly reads a little HTML in titles and names)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rounded(value: float, digits: int = 6) -> float:
    """``value`` to ``digits`` significant digits: compact JSON, no visible change in a chart."""
    return float(f"{value:.{digits}g}")


def metric_history_figure(
    key: str, steps: list[int], offsets: list[int], values: list[float], start: int,
    *, stepless: bool = False,
) -> dict[str, Any]:
    """One metric's history on the run page: the (downsampled) points as one raw trace.

    ``site_templates/assets/run.js`` draws it: it adds the EMA-smoothed trace, switches the
    x-axis between step, wall time (``start + offset`` ms) and hours since ``start``, and holds
    the layout defaults shared by every chart (so each page carries only the data).

    Args:
        key: the metric name.
        steps: the step of each point.
        offsets: each point's timestamp minus ``start``, in milliseconds.
        values: finite values, one per point.
        start: the run's start time (or first timestamp), ms since the epoch.
        stepless: every point has the same step (logged without one): run.js plots such a
            series against hours since start when the page shows steps.
    """
    label = plotly_text(key)
    time: dict[str, Any] = {"start": start, "offsets": offsets}
    if stepless:
        time["stepless"] = True
    return {
        "data": [{
            "type": "scatter", "mode": "lines" if len(steps) > 30 else "lines+markers",
            "name": label, "x": steps, "y": [float(f"{v:.6g}") for v in values],
        }],
        "layout": {
            "xaxis": {"title": {"text": "hours since start" if stepless else "step"}},
            "yaxis": {"title": {"text": label}},
        },
        "time": time,
    }


_TRACE_KEYS = ("type", "x", "y", "z", "values", "lat", "r", "a", "dimensions")


def logged_figure(obj: Any) -> dict[str, Any] | None:
    """The figure of a ``log_figure`` Plotly JSON artifact (only its data and layout), else None.

    Args:
        obj: the parsed JSON (parse NaN/±inf as None: the page embeds strict JSON).
    """
    if not isinstance(obj, dict):
        return None
    data, fig_layout = obj.get("data"), obj.get("layout", {})
    if not isinstance(data, list) or not data or not isinstance(fig_layout, dict):
        return None
    if not all(isinstance(t, dict) and any(k in t for k in _TRACE_KEYS) for t in data):
        return None
    return {"data": data, "layout": fig_layout}


# -- text alternative: the points behind a chart (#18) ----------------------------------------

TABLE_ROWS = 500  # a chart's data table lists at most this many points


def _axis_title(fig_layout: dict[str, Any], axis: str) -> str:
    """The title text of ``xaxis``/``xaxis2``… in a layout, or ''."""
    spec = fig_layout.get(axis)
    title = spec.get("title") if isinstance(spec, dict) else None
    text = title.get("text") if isinstance(title, dict) else title
    return str(text) if isinstance(text, (str, int, float)) else ""


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else "—"
    return str(value)


def _column(trace: dict[str, Any], key: str) -> list[Any] | None:
    values = trace.get(key)
    return values if isinstance(values, list) and not any(isinstance(v, list) for v in values) \
        else None


def figure_table(figure: dict[str, Any]) -> dict[str, Any]:
    """A chart's text alternative: a one-sentence summary and its points as table rows.

    Each trace with ``x``/``y`` (or pie-style ``labels``/``values``) lists one row per point:
    series, point label (hover text), x, y. Traces of other shapes (heatmaps, 3-D) are counted
    in the summary only. At most ``TABLE_ROWS`` rows; ``more`` counts the rest.

    Args:
        figure: a Plotly figure dict (``data`` and ``layout``).
    """
    fig_layout = figure.get("layout") if isinstance(figure.get("layout"), dict) else {}
    assert isinstance(fig_layout, dict)
    title = _axis_title({"t": {"title": fig_layout.get("title")}}, "t")
    traces = [t for t in figure.get("data") or [] if isinstance(t, dict)]
    rows: list[tuple[str, ...]] = []
    names: list[str] = []
    axes: set[tuple[str, str]] = set()
    labelled = False
    total = 0
    for number, trace in enumerate(traces, 1):
        name = str(trace.get("name") or f"series {number}")
        names.append(name)
        xs, ys = _column(trace, "x"), _column(trace, "y")
        if xs is None or ys is None:
            xs, ys = _column(trace, "labels"), _column(trace, "values")
        if xs is None or ys is None:
            continue
        axes.add((str(trace.get("xaxis") or "x"), str(trace.get("yaxis") or "y")))
        text = _column(trace, "text")
        labelled = labelled or text is not None
        for i, (x, y) in enumerate(zip(xs, ys)):
            total += 1
            if len(rows) < TABLE_ROWS:
                label = _cell(text[i]) if text is not None and i < len(text) else ""
                rows.append((name, label, _cell(x), _cell(y)))
    if len(axes) == 1:
        ((x_axis, y_axis),) = axes
        x_head = _axis_title(fig_layout, x_axis.replace("x", "xaxis", 1)) or "x"
        y_head = _axis_title(fig_layout, y_axis.replace("y", "yaxis", 1)) or "y"
    else:
        x_head, y_head = "x", "y"
    columns = ["series", "point", x_head, y_head] if labelled else ["series", x_head, y_head]
    if not labelled:
        rows = [(r[0], r[2], r[3]) for r in rows]
    series = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    summary = (f"{title + ': ' if title else ''}{total} point{'' if total == 1 else 's'} "
               f"in {len(names)} series ({series}).")
    return {"summary": summary, "columns": columns, "rows": rows, "more": total - len(rows)}
