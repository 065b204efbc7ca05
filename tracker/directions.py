"""Which value of a metric is best: the one source of truth for the site, summaries and reports.

A metric's direction is ``"min"`` (lower is better), ``"max"`` (higher is better) or ``None``
(neutral: shown, never ranked, never highlighted as best, never called a regression). The
project's configuration decides first::

    [tool.tracker.metrics]
    rmse = "min"
    "*accuracy*" = "max"
    best_iteration = "none"

Without a rule, only well-known names get a direction, judged by the last word of the key
(words split at anything not a letter or digit, trailing numbers skipped), so
``validation_0-rmse``, ``val_loss`` and ``training_mean_squared_error`` are ``min`` and
``test_accuracy``, ``roc_auc`` and ``ndcg@10`` are ``max``. Everything else — iterations,
counts, ``n_*``, times, sizes — is neutral: guessing there is how ``best_iteration`` came to be
highlighted as a score.

An experiment's primary metric (what its leaderboard is ranked by) is configured per
experiment (``[tool.tracker.experiments."name"] primary = "rmse"``), else it is the directed
metric that most of its finished runs have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracker.exceptions import InvalidArgumentError

__all__ = ["DIRECTION_VALUES", "Directions", "known_direction"]

DIRECTION_VALUES = ("min", "max", "none")
_MIN_WORDS = frozenset({"loss", "error", "err", "rmse", "mse", "mae", "mape", "smape", "rmsle",
                        "msle", "logloss", "perplexity", "regret", "wer", "cer", "mlogloss",
                        "nll", "deviance", "brier"})
_MAX_WORDS = frozenset({"accuracy", "acc", "auc", "f1", "precision", "recall", "r2", "map",
                        "ndcg", "bleu", "rouge", "iou", "dice", "score", "aucpr", "mrr",
                        "reward", "kappa", "mcc", "fscore", "f1score", "specificity",
                        "sensitivity", "top1", "top5"})
_WORDS = re.compile(r"[a-z0-9]+")
# Words that make a metric a count or a size whatever comes after them (``n_errors``).
_NEUTRAL_FIRST = frozenset({"n", "num", "count", "number", "best", "stopped"})


def known_direction(key: str) -> str | None:
    """``"min"``/``"max"`` for a well-known metric name, else None (neutral).

    Args:
        key: the metric key.
    """
    words = _WORDS.findall(key.lower())
    while words and words[-1].isdigit():
        words.pop()
    if not words:
        return None
    if words[0] in _NEUTRAL_FIRST and len(words) > 1 and words[1] not in _MIN_WORDS | _MAX_WORDS:
        return None
    if words[0] in ("n", "num", "count", "number"):
        return None
    last = words[-1]
    if last in _MIN_WORDS:
        return "min"
    if last in _MAX_WORDS:
        return "max"
    return None


def _glob(pattern: str) -> re.Pattern[str]:
    import fnmatch

    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


@dataclass(frozen=True)
class Directions:
    """Metric directions and primary metrics: configured rules first, then well-known names.

    Args:
        rules: metric name or glob → ``"min"``, ``"max"`` or ``"none"``, in the order given
            (an exact name wins over any glob; among globs the first match wins).
        primary: experiment name → its primary metric.
    """

    rules: tuple[tuple[str, str], ...] = ()
    primary: tuple[tuple[str, str], ...] = ()
    _compiled: tuple[tuple[re.Pattern[str], str], ...] = field(
        default=(), init=False, repr=False, compare=False)
    # ``of`` by key: a site build asks for the same few metrics ~100,000 times (#14).
    _known: dict[str, str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for key, value in self.rules:
            if value not in DIRECTION_VALUES:
                raise InvalidArgumentError(
                    f"Metric direction of {key!r} is {value!r}; allowed: min, max, none.")
        globs = tuple((_glob(k), v) for k, v in self.rules if any(c in k for c in "*?["))
        object.__setattr__(self, "_compiled", globs)

    @classmethod
    def from_mapping(cls, rules: Mapping[str, str] | None = None,
                     primary: Mapping[str, str] | None = None) -> Directions:
        """Directions from plain dicts (``{"rmse": "min"}``)."""
        return cls(tuple((rules or {}).items()), tuple((primary or {}).items()))

    def of(self, key: str) -> str | None:
        """``"min"``, ``"max"``, or None when the metric is neutral."""
        try:
            return self._known[key]
        except KeyError:
            found = self._known[key] = self._of(key)
            return found

    def _of(self, key: str) -> str | None:
        for name, value in self.rules:
            if name == key:
                return None if value == "none" else value
        for pattern, value in self._compiled:
            if pattern.match(key):
                return None if value == "none" else value
        return known_direction(key)

    def better(self, key: str, value: float, than: float) -> bool:
        """Whether ``value`` beats ``than`` (always False for a neutral metric)."""
        direction = self.of(key)
        if direction == "min":
            return value < than
        if direction == "max":
            return value > than
        return False

    def best(self, key: str, values: Iterable[float]) -> float | None:
        """The best of ``values`` (None for a neutral metric or no values)."""
        direction = self.of(key)
        finite = [v for v in values if v == v]  # NaN is never best
        if direction is None or not finite:
            return None
        return min(finite) if direction == "min" else max(finite)

    def primary_metric(self, experiment: str, runs_metrics: Iterable[Iterable[str]]) -> str:
        """The metric an experiment is ranked by: configured, else the directed metric most of
        its runs have (ties: min-metrics first, then by name); '' when none is directed.

        Args:
            experiment: the experiment's name.
            runs_metrics: the metric keys of each of its finished runs.
        """
        counts: dict[str, int] = {}
        for keys in runs_metrics:
            for key in set(keys):
                counts[key] = counts.get(key, 0) + 1
        return self.primary_from_counts(experiment, counts)

    def primary_from_counts(self, experiment: str, counts: Mapping[str, int]) -> str:
        """``primary_metric`` from how many finished runs have each metric key."""
        for name, metric in self.primary:
            if name == experiment:
                return metric
        directed = {k: n for k, n in counts.items() if n and self.of(k) is not None}
        if not directed:
            return ""
        return min(directed, key=lambda k: (-directed[k], self.of(k) != "min", _noise(k), k))


def _noise(key: str) -> int:
    """How far a name is from a plain headline metric (``rmse`` before ``validation_0-rmse``)."""
    return len(_WORDS.findall(key.lower()))


def best_index(column: Any, direction: str) -> int | None:
    """The index of the first lowest (``"min"``) or highest value of a numpy column, NaN left
    out; None when every value is NaN (or there is none)."""
    import numpy as np

    present = np.flatnonzero(~np.isnan(column))
    if not len(present):
        return None
    # Not nanargmin/nanargmax: they stand NaN in for ±inf, so a column whose best is -inf
    # ("max") gave the first NaN's index, a run without the value (a KeyError in the build).
    values = column[present]
    return int(present[np.argmin(values) if direction == "min" else np.argmax(values)])
