"""A metric history as the CSV file the run page links, capped in size (#15).

A run of 10 M points wrote one 445 MB CSV into the site. Past ``[tool.tracker.site]
max_csv_size`` (default 5 MB) the series is downsampled (LTTB plus the extremes, as the charts
are) until its CSV fits, and the run page says so: the full history stays in the store
(``tracker sql``, ``get_metric_history``), not on the published site.
"""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING, Any

from tracker.site import timeseries

if TYPE_CHECKING:
    from collections.abc import Sequence

HEADER = ("step", "timestamp", "value")
_SAMPLE_ROWS = 1000  # rows encoded to estimate the size of the whole file
_HEADER_LINE = (",".join(HEADER) + "\n").encode("utf-8")


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def encode(points: Sequence[tuple[int, int, float]]) -> bytes:
    """``step,timestamp,value`` rows of ``points`` (values as Python's shortest repr)."""
    # Numbers need no quoting: one f-string per row is ~1.6x faster than csv.writer (#10).
    text = "".join([f"{step},{ts},{value!r}\n" if type(value) is float
                    else f"{step},{ts},{_number(value)!r}\n" for step, ts, value in points])
    if "None" not in text:  # a float's repr never holds it: no step or timestamp was None
        return _HEADER_LINE + text.encode("utf-8")
    buf = io.StringIO()  # csv writes None as an empty field
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows((step, ts, repr(_number(value))) for step, ts, value in points)
    return buf.getvalue().encode("utf-8")


def history_csv(points: Sequence[tuple[int, int, float]], max_bytes: int) -> tuple[bytes, int]:
    """The CSV of ``points`` and how many points it holds (fewer when downsampled to fit).

    Args:
        points: (step, timestamp, value) sorted by step, then time.
        max_bytes: the largest file to write; 0 means no limit.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative integer, got {max_bytes!r}.")
    n = len(points)
    sample = encode(points[:_SAMPLE_ROWS])
    header = len(_HEADER_LINE)
    per_row = (len(sample) - header) / max(1, min(n, _SAMPLE_ROWS))
    estimate = header + per_row * n
    if not max_bytes or estimate <= max_bytes:
        data = encode(points) if n > _SAMPLE_ROWS else sample
        if not max_bytes or len(data) <= max_bytes:
            return data, n
        estimate = len(data)
    steps = [p[0] for p in points]
    # Logged without steps (all equal): time spreads the points out, as on the chart.
    xs = [p[1] for p in points] if steps and steps[0] == steps[-1] else steps
    values = [_number(p[2]) for p in points]
    limit = n
    while True:
        limit = max(4, min(limit - 1, int(limit * max_bytes / estimate * 0.97)))
        keep = timeseries.downsample(xs, values, limit)
        data = encode([points[i] for i in keep])
        if len(data) <= max_bytes or limit <= 4:
            return data, len(keep)
        estimate = len(data)
