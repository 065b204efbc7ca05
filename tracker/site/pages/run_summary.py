"""The strip a run page opens with: the answer first (#10).

Status, the experiment's primary metric (and whether this is the experiment's best run by it),
the model versions built from the run with their stage and aliases, its sweep (and whether it is
the sweep's best trial), and the run it was retrained from when a tag says so. Everything here
is part of the run page's fingerprint, so it holds only what changes for a few runs at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.site.links import run_label
from tracker.site.pages import Link, doc

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from tracker.site.data import SiteData

# Tags that name the run this one was retrained from (MLflow has no standard one).
RETRAINED_FROM_TAGS = ("retrained_from", "tracker.retrained_from", "source_run_id",
                       "best_trial_run_id")


@dataclass(frozen=True)
class RunStrip:
    """The first lines of a run page."""

    metric: str = doc("The experiment's primary metric ('' when none).")
    direction: str = doc("'min' or 'max'.")
    value: float | None = doc("This run's value of ``metric`` (None when it has none).")
    best: bool = doc("True when it is the experiment's best run by ``metric`` (only the best is "
                     "marked: a rank would change every run page whenever a run is added).")
    versions: tuple[tuple[Link, str], ...] = doc(
        "Model versions built from this run: (lineage page, stage and aliases in words).")
    sweep: Link | None = doc("The sweep this run is a trial of.")
    best_trial: bool = doc("True when it is that sweep's best trial by ``metric``.")
    retrained_from: Link | None = doc("The run it was retrained from, when tagged.")


def _value(site: SiteData, run_id: str, metric: str) -> float | None:
    value = site.metrics.get(run_id, {}).get(metric) if metric else None
    return None if value is None or math.isnan(value) else value


def _experiment_best(site: SiteData, eid: str, metric: str) -> float | None:
    """The best value of ``metric`` among the experiment's runs (once per build)."""
    key = f"experiment:{eid}:{metric}"
    found = site.best_values
    return found[key] if key in found else _best_of(site, key, metric,
                                                    site.metric_column(eid, metric))


def _sweep_best(site: SiteData, pid: str, metric: str) -> float | None:
    """The best value of ``metric`` among the trials of sweep ``pid`` (once per build)."""
    key = f"sweep:{pid}:{metric}"
    found = site.best_values
    if key in found:
        return found[key]
    kids = [site.runs_by_id[c] for c in site.children.get(pid, []) if c in site.runs_by_id]
    return _best_of(site, key, metric, site.metric_values(kids, [metric])[metric])


def strip_marks(site: SiteData, run: dict[str, Any]) -> tuple[bool, bool, str, str]:
    """What ``run_strip`` shows that comes from other runs: (best, best trial, the id and the
    label of the run it was retrained from); part of the run page's fingerprint, so cheap."""
    run_id, eid = run["run_id"], run["experiment_id"]
    metric = site.primary_metric(eid)
    value = _value(site, run_id, metric) if metric else None
    best = best_trial = False
    if value is not None and site.direction(metric):
        best = value == _experiment_best(site, eid, metric)
        pid = run["parent_run_id"]
        if pid and pid in site.runs_by_id:
            best_trial = value == _sweep_best(site, pid, metric)
    tags = site.tags.get(run_id)
    source = next((tags[t] for t in RETRAINED_FROM_TAGS if tags.get(t) in site.runs_by_id),
                  "") if tags else ""
    return best, best_trial, source, run_label(site.runs_by_id[source]) if source else ""


def marked_runs(site: SiteData) -> dict[str, tuple[bool, bool, str, str]]:
    """``strip_marks`` of the runs whose marks are not ``(False, False, "", "")``: each
    experiment's best runs, each sweep's best trials and the runs tagged as retrained from
    another. Numpy over each experiment's and sweep's metric column, not a look in each run's
    dict (#14)."""
    import numpy as np

    out: dict[str, tuple[bool, bool, str, str]] = {}
    for eid, runs in site.runs_by_experiment.items():
        metric = site.primary_metric(eid)
        if not metric or not site.direction(metric):
            continue
        column = site.metric_column(eid, metric)
        best = _experiment_best(site, eid, metric)
        if best is not None:
            for i in np.flatnonzero(column == best).tolist():
                out[runs[i]["run_id"]] = (True, False, "", "")
    by_id = site.runs_by_id
    directed: dict[str, str] = {}  # experiment id -> its primary metric if directed, else ""
    for pid, kid_ids in site.children.items():
        kids = [by_id[c] for c in kid_ids if c in by_id]
        ranked: dict[str, list[int]] = {}  # metric -> the kids whose experiment ranks by it
        for i, kid in enumerate(kids):
            eid = kid["experiment_id"]
            known = directed.get(eid)
            if known is None:
                known = site.primary_metric(eid)
                directed[eid] = known = known if known and site.direction(known) else ""
            if known:
                ranked.setdefault(known, []).append(i)
        if not ranked:
            continue
        values = site.metric_values(kids, ranked)
        for metric, index in ranked.items():
            column = values[metric]  # every kid's, as the best is of all of them
            if np.isnan(column[index]).all():
                continue
            key = f"sweep:{pid}:{metric}"  # of every kid's values, as ``_sweep_best``
            best = site.best_values[key] if key in site.best_values else _best_of(
                site, key, metric, column)
            for i in index:
                if column[i] == best:
                    run_id = kids[i]["run_id"]
                    out[run_id] = (out.get(run_id, (False,))[0], True, "", "")
    for run_id, tags in bulk_retrained(site).items():
        if run_id not in by_id:
            continue
        source = next((tags[t] for t in RETRAINED_FROM_TAGS if tags.get(t) in by_id), "")
        if source:
            best, best_trial = out.get(run_id, (False, False))[:2]
            out[run_id] = (best, best_trial, source, run_label(by_id[source]))
    return out


def _best_of(site: SiteData, key: str, metric: str, column: NDArray[np.float64]
             ) -> float | None:
    """The best of a numpy column of ``metric`` (NaN: none), kept for ``key`` in
    ``site.best_values`` (the run strips and ``marked_runs`` share it)."""
    import numpy as np

    found = site.best_values[key] = site.directions.best(
        metric, column[~np.isnan(column)].tolist())
    return found


def bulk_retrained(site: SiteData) -> dict[str, dict[str, str]]:
    """Run id → its ``RETRAINED_FROM_TAGS`` (only runs that have one)."""
    from tracker.query import bulk

    return bulk.tags_named(site.query, RETRAINED_FROM_TAGS)


def run_strip(site: SiteData, run: dict[str, Any]) -> RunStrip:
    """The strip of ``run``'s page."""
    run_id, eid = run["run_id"], run["experiment_id"]
    metric = site.primary_metric(eid)
    direction = site.direction(metric) if metric else ""
    value = _value(site, run_id, metric)
    best = value is not None and bool(direction) and value == _experiment_best(site, eid, metric)
    versions = []
    for v in sorted(site.versions_by_run.get(run_id, []), key=lambda v: (v.name, v.version)):
        words = [v.current_stage] if v.current_stage and v.current_stage != "None" else []
        words += [f"@{a}" for a in sorted(v.aliases)]
        versions.append((Link(f"{v.name} v{v.version}", site.urls.lineage(v.name, v.version)),
                         " ".join(words)))
    parent = site.runs_by_id.get(run["parent_run_id"] or "")
    sweep, best_trial = None, False
    if parent is not None:
        sweep = Link(f"sweep {run_label(parent)}", site.urls.sweep(parent["run_id"]))
        pid = parent["run_id"]
        best_trial = value is not None and bool(direction) and value == _sweep_best(
            site, pid, metric)
    tags = site.tags.get(run_id, {})
    source = next((tags[t] for t in RETRAINED_FROM_TAGS if tags.get(t) in site.runs_by_id), "")
    retrained = site.runs_by_id.get(source) if source else None
    return RunStrip(
        metric=metric, direction=direction, value=value, best=best,
        versions=tuple(versions), sweep=sweep, best_trial=best_trial,
        retrained_from=Link(run_label(retrained), site.urls.run(source)) if retrained else None,
    )
