"""Pure functions over metric histories: LTTB downsampling and TensorBoard-style EMA smoothing.

No I/O and no third-party imports: the run page calls ``downsample`` at build time, and
``site_templates/assets/run.js`` has a line-for-line JavaScript twin of ``ema`` (the smoothing
slider works in the browser on the embedded points).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def lttb(xs: Sequence[float], ys: Sequence[float], threshold: int) -> list[int]:
    """Largest-Triangle-Three-Buckets: indices of at most ``threshold`` points that keep the shape.

    The first and last points are always kept. ``xs`` must be non-decreasing and every value
    finite (see ``downsample`` for series with gaps).

    Args:
        xs: x values (steps), non-decreasing.
        ys: y values, same length as ``xs``.
        threshold: the most points to keep.
    """
    n = len(xs)
    if threshold >= n:
        return list(range(n))
    if threshold <= 2:
        return [0, n - 1][: max(threshold, 0)] if n > 1 else list(range(n))
    every = (n - 2) / (threshold - 2)
    kept = [0]
    a = 0
    for i in range(threshold - 2):
        # The average of the next bucket is the third corner of the triangle.
        nxt_start = int((i + 1) * every) + 1
        nxt_end = min(int((i + 2) * every) + 1, n)
        span = nxt_end - nxt_start
        avg_x = sum(xs[nxt_start:nxt_end]) / span
        avg_y = sum(ys[nxt_start:nxt_end]) / span
        ax, ay = xs[a], ys[a]
        best, best_area = -1, -1.0
        for j in range(int(i * every) + 1, int((i + 1) * every) + 1):
            area = abs((ax - avg_x) * (ys[j] - ay) - (ax - xs[j]) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        kept.append(best)
        a = best
    kept.append(n - 1)
    return kept


def downsample(xs: Sequence[float], ys: Sequence[float], limit: int = 1000) -> list[int]:
    """Indices of at most ``limit`` finite points: LTTB plus the exact minimum and maximum.

    Non-finite values (NaN, ±inf) are left out (a chart cannot draw them); the first and last
    finite points and the lowest and highest values are always kept, so a spike never vanishes.

    Args:
        xs: x values (steps), non-decreasing.
        ys: y values, same length as ``xs``.
        limit: the most points to return (at least 4 when downsampling is needed).
    """
    finite = [i for i, y in enumerate(ys) if math.isfinite(y)]
    if len(finite) <= limit:
        return finite
    if limit < 4:
        raise ValueError(f"Cannot downsample to {limit} points: keep at least 4.")
    fx = [float(xs[i]) for i in finite]
    fy = [float(ys[i]) for i in finite]
    low = min(range(len(fy)), key=fy.__getitem__)
    high = max(range(len(fy)), key=fy.__getitem__)
    picked = set(lttb(fx, fy, limit - 2))
    picked.update((low, high))
    return [finite[i] for i in sorted(picked)]


def ema(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average (its smoothing slider).

    ``last = last * w + (1 - w) * v`` over the finite values, divided by ``1 - w ** n`` where
    ``n`` counts the finite values so far; a non-finite value is passed through unchanged and
    does not move the average. A constant series is returned as is (as TensorBoard does).

    Args:
        values: the series, in step order.
        weight: the smoothing weight ``w`` in [0, 1).
    """
    if not 0 <= weight < 1:
        raise ValueError(f"Smoothing weight {weight!r} must be at least 0 and less than 1.")
    if values and all(v == values[0] for v in values):
        return [float(v) for v in values]
    last = 0.0
    count = 0
    out: list[float] = []
    for value in values:
        if not math.isfinite(value):
            out.append(float(value))
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out.append(last / (1 - weight**count))
    return out
