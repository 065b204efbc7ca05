"""The strip a run page opens with: the answer first (#10).

Status, the experiment's primary metric and this run's rank by it, the model versions built from
the run with their stage and aliases, its sweep (and whether it is the sweep's best trial), and
the run it was retrained from when a tag says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.site.pages import Link, doc

if TYPE_CHECKING:
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
    rank: int | None = doc("1 = the experiment's best run by ``metric`` (None: not ranked).")
    ranked: int = doc("How many runs of the experiment have ``metric``.")
    versions: tuple[tuple[Link, str], ...] = doc(
        "Model versions built from this run: (lineage page, stage and aliases in words).")
    sweep: Link | None = doc("The sweep this run is a trial of.")
    best_trial: bool = doc("True when it is that sweep's best trial by ``metric``.")
    retrained_from: Link | None = doc("The run it was retrained from, when tagged.")


def _value(site: SiteData, run_id: str, metric: str) -> float | None:
    value = site.metrics.get(run_id, {}).get(metric) if metric else None
    return None if value is None or math.isnan(value) else value


def _rank(site: SiteData, runs: list[dict[str, Any]], metric: str, value: float | None,
          direction: str) -> tuple[int | None, int]:
    values = [v for r in runs if (v := _value(site, r["run_id"], metric)) is not None]
    if value is None or not direction:
        return None, len(values)
    better = sum(1 for v in values if (v < value if direction == "min" else v > value))
    return better + 1, len(values)


def run_strip(site: SiteData, run: dict[str, Any]) -> RunStrip:
    """The strip of ``run``'s page."""
    from tracker.site.pages.home import run_label

    run_id, eid = run["run_id"], run["experiment_id"]
    metric = site.primary_metric(eid)
    direction = site.direction(metric) if metric else ""
    value = _value(site, run_id, metric)
    rank, ranked = _rank(site, site.runs_by_experiment.get(eid, []), metric, value, direction)
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
        siblings = [site.runs_by_id[c] for c in site.children.get(parent["run_id"], [])
                    if c in site.runs_by_id]
        sibling_rank, _ = _rank(site, siblings, metric, value, direction)
        best_trial = sibling_rank == 1
    tags = site.tags.get(run_id, {})
    source = next((tags[t] for t in RETRAINED_FROM_TAGS if tags.get(t) in site.runs_by_id), "")
    retrained = site.runs_by_id.get(source) if source else None
    return RunStrip(
        metric=metric, direction=direction, value=value, rank=rank, ranked=ranked,
        versions=tuple(versions), sweep=sweep, best_trial=best_trial,
        retrained_from=Link(run_label(retrained), site.urls.run(source)) if retrained else None,
    )
