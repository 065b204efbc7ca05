"""The synthetic runs both sides log: 10 params, 5 metrics and 3 tags per run, deterministic.

``FILTER`` matches exactly 12 % of the runs (240 of 2,000): ``p0`` is ``'x'`` on even runs, and
``m0`` cycles over 25 values of which 6 are below 0.12.
"""

from __future__ import annotations

EXPERIMENT = "bench"
FILTER = "metrics.m0 < 0.12 and params.p0 = 'x'"


def params(i: int) -> dict[str, str]:
    out = {"p0": "x" if i % 2 == 0 else "y"}
    out.update({f"p{j}": f"v{(i + j) % 7}" for j in range(1, 10)})
    return out


def metrics(i: int) -> dict[str, float]:
    out = {"m0": ((i // 2) % 25) / 50 + 0.001}
    out.update({f"m{j}": (i * (j + 2) % 101) / 101 for j in range(1, 5)})
    return out


def tags(i: int) -> dict[str, str]:
    return {f"t{j}": f"tag{(i + j) % 5}" for j in range(3)}


def matches(i: int) -> bool:
    """Whether run ``i`` matches ``FILTER``."""
    return params(i)["p0"] == "x" and metrics(i)["m0"] < 0.12


def expected_matches(n: int) -> int:
    return sum(1 for i in range(n) if matches(i))
