"""What changed in a store since a baseline: new and changed runs against the baseline's best.

The comparison behind ``tracker summary`` (``tracker.summary`` renders it as text or Markdown)
and the site's Changes page (``tracker.site.pages.changes``). The baseline is the same store as
it was at a git ref (``main``, ``origin/main``, a commit), materialized with ``git archive``, or
a folder holding a snapshot of a store. New or changed runs (status, metrics or params) are
grouped per experiment, and for each metric the baseline's best is set against the best new
value, with the metric directions of the site (``tracker.directions``: the project's
``[metrics]`` rules, else lower is better for well-known losses and errors and higher for
accuracies and scores; counters such as ``best_iteration`` or ``n_trials`` are neutral and get
no verdict). Only FINISHED runs compete for "best", so a crashed run's partial metrics neither
win nor count as a regression. ``publish`` rules (``tracker.site.publish.PublishRules``) make
both stores read as the site shows them (#15).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tracker.directions import Directions
from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from tracker.query import PublishFilter

__all__ = [
    "ExperimentSummary",
    "MetricVerdict",
    "RunChange",
    "RunState",
    "Snapshot",
    "Summary",
    "baseline_store",
    "read_snapshot",
    "summarize",
    "summary",
]

FINISHED = "FINISHED"
NEW, CHANGED = "new", "changed"
IMPROVED, REGRESSED, UNCHANGED = "improved", "regressed", "unchanged"
NO_BASELINE, NOT_FINISHED = "no baseline", "no finished run"
RUN_NAME_TAG = "mlflow.runName"


# -- what is compared ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    """One run as the summary compares it: attributes, latest metrics and params."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    metrics: dict[str, float]
    params: dict[str, str]


@dataclass(frozen=True)
class Snapshot:
    """A store read once: experiment id → name, and run id → run (active runs only)."""

    experiments: dict[str, str]
    runs: dict[str, RunState]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunChange:
    """A run that is new since the baseline, or whose status, metrics or params changed."""

    run: RunState
    change: str  # NEW or CHANGED
    before: RunState | None


@dataclass(frozen=True)
class Best:
    """The best value of one metric, and the run that has it."""

    value: float
    run_id: str
    run_name: str


@dataclass(frozen=True)
class MetricVerdict:
    """One metric of one experiment: the baseline's best against the best new value."""

    key: str
    direction: str  # "min" or "max"
    baseline: Best | None
    current: Best | None
    verdict: str  # IMPROVED, REGRESSED, UNCHANGED, NO_BASELINE or NOT_FINISHED

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` beats ``than`` in this metric's direction."""
        return _better(self.direction, value, than)


@dataclass(frozen=True)
class ExperimentSummary:
    """The new and changed runs of one experiment and the verdict per metric."""

    experiment_id: str
    name: str
    runs: list[RunChange]
    metrics: list[MetricVerdict]


@dataclass(frozen=True)
class Summary:
    """What changed since the baseline, per experiment (sorted by name)."""

    baseline: str
    experiments: list[ExperimentSummary]
    removed: list[RunState]
    warnings: list[str]

    @property
    def regressions(self) -> list[tuple[str, MetricVerdict]]:
        """(experiment name, verdict) of every metric whose best got worse."""
        return [(e.name, m) for e in self.experiments for m in e.metrics if m.verdict == REGRESSED]

    @property
    def improvements(self) -> list[tuple[str, MetricVerdict]]:
        """(experiment name, verdict) of every metric with a new best."""
        return [(e.name, m) for e in self.experiments for m in e.metrics if m.verdict == IMPROVED]


# -- reading a store and a baseline -------------------------------------------------------------


def read_snapshot(
    uri: str, publish: PublishFilter | None = None, *, cache: bool = True
) -> Snapshot:
    """Read the active experiments and runs of the store at ``uri`` through the query layer.

    Args:
        uri: the store.
        publish: publish rules applied to the records first (the site's: hidden experiments
            and metrics left out, names and values redacted); None reads the store as it is.
        cache: restore and save query snapshots of the tables (False for a store that is a
            temporary folder, such as a baseline extracted from git).
    """
    from tracker.query import StoreQuery, bulk
    from tracker.uri import open_store

    if not isinstance(uri, str) or not uri:
        raise InvalidArgumentError(f"read_snapshot needs a store URI, got {uri!r}.")
    query = StoreQuery(open_store(uri), publish=publish, snapshots=cache)
    experiments = {e["experiment_id"]: str(e["name"]) for e in bulk.experiments(query)}
    metrics, params = bulk.latest_metrics(query), bulk.params(query)
    runs = {}
    for row in bulk.runs(query):
        run_id = str(row["run_id"])
        if row["experiment_id"] not in experiments:
            continue  # a run of a deleted experiment
        runs[run_id] = RunState(
            run_id=run_id,
            experiment_id=str(row["experiment_id"]),
            name=str(row["run_name"] or ""),
            status=str(row["status"]),
            metrics={k: float(v) for k, v in metrics.get(run_id, {}).items()},
            params={k: str(v) for k, v in params.get(run_id, {}).items()},
        )
    return Snapshot(experiments, runs, list(query.warnings))


@contextmanager
def baseline_store(baseline: str, store_uri: str) -> Iterator[tuple[str, str]]:
    """The baseline as a store folder, and a label for it.

    An existing folder is used as it is (a snapshot of a store). Anything else is a git ref of
    the repository the store lives in: the store's folder as it was at that ref is extracted
    with ``git archive`` into a temporary folder, removed on exit.

    Args:
        baseline: a folder, or a git ref such as ``main``, ``origin/main`` or ``HEAD~1``.
        store_uri: the store being summarized (a local folder for a git baseline).
    """
    if not isinstance(baseline, str) or not baseline.strip():
        raise InvalidArgumentError(
            f"Baseline {baseline!r}: give a git ref (e.g. main) or the folder of a store snapshot."
        )
    if os.path.isdir(baseline):
        _check_snapshot(baseline)
        yield baseline, f"the snapshot {baseline}"
        return
    from tracker.gitstore import store_at_ref

    with store_at_ref(store_uri, baseline) as (path, commit):
        yield path, f"{baseline} ({commit[:8]})"


def _check_snapshot(folder: str) -> None:
    """A snapshot folder is a store (it has the store marker) or empty (no runs at all)."""
    from tracker.store.store import MARKER

    entries = os.listdir(folder)
    if entries and MARKER not in entries:
        raise InvalidArgumentError(
            f"Baseline folder {folder!r} is not a store snapshot: it has no {MARKER}. Give a "
            "copy of a store folder, an empty folder (every run is new), or a git ref."
        )


# -- comparing ----------------------------------------------------------------------------------


def summarize(
    current: Snapshot,
    baseline: Snapshot,
    label: str,
    *,
    metrics: Sequence[str] = (),
    directions: Directions | dict[str, str] | None = None,
) -> Summary:
    """The new and changed runs of ``current`` since ``baseline``, with a verdict per metric.

    Args:
        current: the store now.
        baseline: the store at the baseline.
        label: how the report names the baseline.
        metrics: only these metric keys (all by default).
        directions: the project's metric directions (a ``Directions`` or a dict of
            ``"min"``/``"max"``/``"none"`` by key); neutral metrics get no verdict.
    """
    rules = _directions(directions)
    changes: dict[str, list[RunChange]] = {}
    for run in current.runs.values():
        change = _change(run, baseline.runs.get(run.run_id))
        if change is not None:
            changes.setdefault(run.experiment_id, []).append(change)
    experiments = []
    for exp_id, found in changes.items():
        found.sort(key=lambda c: (c.run.name, c.run.run_id))
        keys = sorted({k for c in found for k in c.run.metrics if not metrics or k in metrics})
        olds = [r for r in baseline.runs.values() if r.experiment_id == exp_id]
        verdicts = [
            _verdict(key, direction, olds, [c.run for c in found])
            for key in keys if (direction := rules.of(key)) is not None
        ]
        experiments.append(ExperimentSummary(exp_id, current.experiments[exp_id], found, verdicts))
    experiments.sort(key=lambda e: (e.name, e.experiment_id))
    removed = sorted(
        (r for r in baseline.runs.values() if r.run_id not in current.runs),
        key=lambda r: (r.name, r.run_id),
    )
    return Summary(label, experiments, removed, [*baseline.warnings, *current.warnings])


def _directions(directions: Directions | dict[str, str] | None) -> Directions:
    if isinstance(directions, Directions):
        return directions
    if directions is not None and not isinstance(directions, dict):
        raise InvalidArgumentError(
            f"directions must be a tracker.directions.Directions or a dict of metric key to "
            f"'min', 'max' or 'none', got {directions!r}.")
    return Directions.from_mapping(directions)


def _change(run: RunState, before: RunState | None) -> RunChange | None:
    if before is None:
        return RunChange(run, NEW, None)
    same = (
        run.status == before.status
        and run.params == before.params
        and _same_metrics(run.metrics, before.metrics)
    )
    return None if same else RunChange(run, CHANGED, before)


def _same_metrics(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


def _best(key: str, direction: str, runs: Sequence[RunState]) -> Best | None:
    """The best finite value of ``key`` among the FINISHED runs (ties: the first by name, id)."""
    candidates = sorted(
        (r for r in runs if r.status == FINISHED and math.isfinite(r.metrics.get(key, math.nan))),
        key=lambda r: (r.name, r.run_id),
    )
    if not candidates:
        return None
    pick = min if direction == "min" else max
    best = pick(candidates, key=lambda r: r.metrics[key])
    return Best(best.metrics[key], best.run_id, best.name)


def _better(direction: str, value: float, than: float) -> bool:
    return value < than if direction == "min" else value > than


def _verdict(
    key: str, direction: str, olds: Sequence[RunState], news: Sequence[RunState]
) -> MetricVerdict:
    baseline, current = _best(key, direction, olds), _best(key, direction, news)
    if current is None:
        verdict = NOT_FINISHED
    elif baseline is None:
        verdict = NO_BASELINE
    elif current.value == baseline.value:
        verdict = UNCHANGED
    else:
        verdict = IMPROVED if _better(direction, current.value, baseline.value) else REGRESSED
    return MetricVerdict(key, direction, baseline, current, verdict)


def summary(
    store_uri: str,
    baseline: str = "main",
    *,
    metrics: Sequence[str] = (),
    directions: Directions | dict[str, str] | None = None,
    publish: PublishFilter | None = None,
) -> Summary:
    """Compare the store at ``store_uri`` with ``baseline`` (a git ref or a snapshot folder).

    Args:
        store_uri: the store (a folder; a git baseline needs it inside a git checkout).
        baseline: a git ref (default ``main``) or the folder of a store snapshot.
        metrics: only these metric keys (all by default).
        directions: the project's metric directions (see ``summarize``).
        publish: the site's publish rules (``PublishRules.from_config(config)``), applied to
            both stores, so the summary shows what the site shows; None: everything.
    """
    current = read_snapshot(store_uri, publish)
    with baseline_store(baseline, store_uri) as (path, label):
        before = read_snapshot(path, publish, cache=False)  # often a temporary folder
    return summarize(current, before, label, metrics=metrics, directions=directions)
