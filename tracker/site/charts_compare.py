"""Chart data of the sweep and compare pages: trials vs loss, parallel coordinates. No I/O.

Built by hand like ``charts.py`` (plain dicts, JSON-safe: no NaN or ±inf). The loss chart is a
plotly figure; the parallel coordinates are data for our own SVG drawing
(``assets/parcoords.js``), which needs no WebGL and no ``eval``. The compare page builds the
same data in the browser (``assets/compare.js``) from the experiment's data script, with the
same encodings as here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracker.site.charts import PALETTE, finite, layout, running_best

MISSING = "(none)"
MAX_DIMENSIONS = 12
BEST_COLOR = "#1a7f37"


@dataclass(frozen=True)
class TrialPoint:
    """One trial of a sweep, as the charts see it."""

    number: int
    value: float | None
    label: str
    href: str
    best: bool = False


def as_number(text: Any) -> float | None:
    """A param value as a finite float, or None when it is not one."""
    if text is None or text == "":
        return None
    try:
        return finite(float(text))
    except (TypeError, ValueError):
        return None


def category_order(values: list[str]) -> list[str]:
    """Distinct values: numbers by value first, then text alphabetically, missing last."""
    distinct = sorted(set(values))

    def key(value: str) -> tuple[int, float, str]:
        if value == MISSING:
            return (2, 0.0, "")
        number = as_number(value)
        return (0, number, value) if number is not None else (1, 0.0, value)

    return sorted(distinct, key=key)


def dimension(label: str, values: list[str | None]) -> dict[str, Any]:
    """A parcoords dimension: numeric when every value is a number, else categories as indices
    with tick labels (missing values become the category ``(none)``)."""
    numbers = [as_number(v) for v in values]
    if values and all(n is not None for n in numbers):
        dim: dict[str, Any] = {"label": label, "values": numbers}
        low, high = min(numbers), max(numbers)  # type: ignore[type-var]
        if low != high:
            dim["range"] = [low, high]
        return dim
    texts = [MISSING if v is None or v == "" else str(v) for v in values]
    categories = category_order(texts)
    index = {c: i for i, c in enumerate(categories)}
    return {
        "label": label,
        "values": [index[t] for t in texts],
        "tickvals": list(range(len(categories))),
        "ticktext": categories,
        "range": [0, max(len(categories) - 1, 1)],
    }


def varying(columns: dict[str, list[str | None]]) -> list[str]:
    """Keys whose values differ between rows (all keys when none differ), at most a dozen."""
    keys = sorted(columns)
    moving = [k for k in keys if len(set(columns[k])) > 1]
    return (moving or keys)[:MAX_DIMENSIONS]


@dataclass(frozen=True)
class Line:
    """One polyline of the parallel coordinates: a run or trial."""

    id: str
    name: str
    href: str


def parcoords_data(
    params: dict[str, list[str | None]],
    metric: str,
    values: list[float],
    direction: str,
    title: str,
    lines: list[Line],
) -> dict[str, Any]:
    """What ``assets/parcoords.js`` draws as SVG: one axis per varying param, then the metric.

    Not a plotly figure: plotly's ``parcoords`` compiles WebGL shaders with ``new Function``,
    which the site's Content-Security-Policy forbids (#11).

    Args:
        params: param key → one value per line (None when a run lacks the param).
        metric: the metric name (the last axis and the colour).
        values: the metric value of each line (finite).
        direction: ``"min"``, ``"max"`` or ``""`` (neutral: coloured, nothing is best).
        title: the chart title.
        lines: the run or trial of each line (id, name, site-relative page), in the same order.
    """
    dims = [dimension(key, params[key]) for key in varying(params)]
    dims.append({"label": metric, "values": values})
    return {
        "title": title,
        "metric": metric,
        "direction": direction if direction in ("min", "max") else "",
        "dimensions": dims,
        "lines": [{"id": ln.id, "name": ln.name, "href": ln.href} for ln in lines],
    }


def sweep_figure(metric: str, direction: str, trials: list[TrialPoint]) -> dict[str, Any]:
    """Each trial's metric by trial number, the running best as a step line, the best starred.

    Args:
        metric: the metric name.
        direction: ``"min"`` or ``"max"``.
        trials: the trials in trial order (a None value is a failed or unfinished trial).
    """
    xs = [t.number for t in trials]
    ys = [finite(t.value) for t in trials]
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "markers", "name": "trials", "x": xs, "y": ys,
         "text": [t.label for t in trials], "customdata": [t.href for t in trials],
         "marker": {"color": PALETTE[0], "size": 7, "opacity": 0.75},
         "hovertemplate": "trial %{x} · %{text}: %{y}<extra></extra>"},
        {"type": "scatter", "mode": "lines", "name": f"best so far ({direction})", "x": xs,
         "y": running_best(ys, direction), "line": {"color": PALETTE[1], "shape": "hv"},
         "hoverinfo": "skip"},
    ]
    best = [t for t in trials if t.best and finite(t.value) is not None]
    if best:
        traces.append({
            "type": "scatter", "mode": "markers", "name": "best trial",
            "x": [best[0].number], "y": [finite(best[0].value)], "text": [best[0].label],
            "customdata": [best[0].href],
            "marker": {"color": BEST_COLOR, "size": 16, "symbol": "star",
                       "line": {"color": "#ffffff", "width": 1}},
            "hovertemplate": "best: trial %{x} · %{text}: %{y}<extra></extra>",
        })
    return {"data": traces, "layout": layout(f"{metric} by trial", "trial", metric)}
