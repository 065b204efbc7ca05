"""Sweep pages: one per parent run that has child runs (hyperopt sweeps or any nested runs).

Pre-rendered, no selection needed: the loss (or the experiment's primary metric) by trial with
the running best, parallel coordinates of params → loss (brushing an axis filters the trials
table; the address keeps the brush), the best trial, and every trial in a table, best first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from tracker.site import charts_compare
from tracker.site.charts_compare import TrialPoint
from tracker.site.links import run_label
from tracker.site.pages import Group, Link, Page, doc

if TYPE_CHECKING:
    from tracker.site.data import SiteData

TRIAL_TAG = "trial_number"
COMPARE_TRIALS = 5


@dataclass(frozen=True)
class Trial:
    """One child run of the sweep."""

    run_id: str = doc("Run id.")
    number: int = doc("Trial number: the trial_number tag, else the position by start time.")
    link: Link = doc("Run name and run page.")
    status: str = doc("Run status.")
    dead: bool = doc("True when a RUNNING run's process died.")
    params: tuple[str, ...] = doc("Param values, aligned with the page's param_keys ('' = none).")
    value: float | None = doc("The sweep metric's latest value (None when not logged).")
    best: bool = doc("True for the best trial.")


@dataclass(frozen=True)
class SweepPage(Page):
    """The trials of one parent run."""

    template = "sweep.html"

    parent: Link | None = doc("The parent run and its run page.", None)
    experiment: Link | None = doc("The experiment's leaderboard.", None)
    metric: str = doc("The metric trials are ranked by ('' when the trials have none).", "")
    direction: str = doc("'min' or 'max': which value of the metric is best.", "min")
    param_keys: tuple[str, ...] = doc(
        "Keys of the params that differ between trials, by name (the table's columns).",
        factory=tuple,
    )
    fixed_params: tuple[tuple[str, str], ...] = doc(
        "Params every trial has with the same value, by key.", factory=tuple
    )
    trials: tuple[Trial, ...] = doc("Every trial, best first (no value last).", factory=tuple)
    best: Trial | None = doc("The best trial, if any trial has the metric.", None)
    figures: tuple[dict[str, Any], ...] = doc(
        "Plotly figures: the metric by trial with the running best.", factory=tuple
    )
    parcoords: dict[str, Any] | None = doc(
        "Parallel coordinates of the scored trials (params → metric), drawn as SVG by "
        "assets/parcoords.js; None without a metric or varying params.", None
    )
    parent_params: tuple[tuple[str, str], ...] = doc("The parent run's params.", factory=tuple)
    compare: Link | None = doc("The compare page with the best trials selected.", None)


def _metric_of(site: SiteData, parent: dict[str, Any], kids: list[dict[str, Any]],
               primary: list[str] | None = None) -> str:
    """``loss`` if the trials log it, else the experiment's primary metric (``primary``: its
    ``primary_metrics``, when known), else theirs."""
    if site.metric_logged(kids, ["loss"]):  # numpy columns, not each trial's dict (#14)
        return "loss"
    if primary is None:
        primary = site.primary_metrics(
            site.runs_by_experiment.get(parent["experiment_id"], []), 3)
    logged = site.metric_logged(kids, primary)
    for key in primary:
        if key in logged:
            return key
    own = site.primary_metrics(kids, 1)
    return own[0] if own else ""


def _trial_number(site: SiteData, run: dict[str, Any]) -> int | None:
    text = site.tags.get(run["run_id"], {}).get(TRIAL_TAG)
    try:
        return int(str(text).strip()) if text is not None else None
    except ValueError:
        return None


def trial_order(site: SiteData, kids: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(trial number, run) in trial order: by the ``trial_number`` tag when every trial has
    one, else by start time (numbered from 0)."""
    numbers = {kid["run_id"]: _trial_number(site, kid) for kid in kids}
    by_start = sorted(kids, key=lambda r: (r["start_time"] or 0, r["run_id"]))
    tagged = {k: n for k, n in numbers.items() if n is not None}
    if kids and len(tagged) == len(kids):
        ordered = sorted(by_start, key=lambda r: tagged[r["run_id"]])
        return [(tagged[r["run_id"]], r) for r in ordered]
    return list(enumerate(by_start))


def _split_params(
    site: SiteData, kids: list[dict[str, Any]]
) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """(keys of params that differ between trials, (key, value) of those that do not)."""
    columns: dict[str, list[str | None]] = {}
    for key in sorted({k for kid in kids for k in site.params.get(kid["run_id"], {})}):
        columns[key] = [site.params.get(kid["run_id"], {}).get(key) for kid in kids]
    varying = [k for k, values in columns.items() if len(set(values)) > 1]
    fixed = tuple((k, str(values[0])) for k, values in columns.items() if k not in varying)
    return varying, fixed


def _value(site: SiteData, run: dict[str, Any], metric: str) -> float | None:
    value = site.metrics.get(run["run_id"], {}).get(metric) if metric else None
    return None if value is None or not math.isfinite(value) else float(value)


def _rank_key(direction: str) -> Callable[[Trial], tuple[int, float, int]]:
    def key(trial: Trial) -> tuple[int, float, int]:
        if trial.value is None:
            return (1, 0.0, trial.number)
        return (0, trial.value if direction == "min" else -trial.value, trial.number)

    return key


def _trials(
    site: SiteData, kids: list[dict[str, Any]], metric: str, direction: str, keys: list[str]
) -> list[Trial]:
    """Trials in trial order, the best one marked."""
    trials = []
    for number, run in trial_order(site, kids):
        params = site.params.get(run["run_id"], {})
        trials.append(Trial(
            run["run_id"], number, Link(run_label(run), site.urls.run(run["run_id"])),
            run["status"], bool(run["dead"]), tuple(params.get(k, "") for k in keys),
            _value(site, run, metric), False,
        ))
    scored = [t for t in trials if t.value is not None]
    if scored:
        best = min(scored, key=_rank_key(direction))
        trials = [replace(t, best=t is best) for t in trials]
    return trials


def _figures(metric: str, direction: str, trials: list[Trial]) -> tuple[dict[str, Any], ...]:
    if not metric:
        return ()
    points = [TrialPoint(t.number, t.value, t.link.label, t.link.href, t.best) for t in trials]
    return (charts_compare.sweep_figure(metric, direction, points),)


def _parcoords(
    metric: str, direction: str, keys: list[str], trials: list[Trial]
) -> dict[str, Any] | None:
    """Params → metric of the trials that have the metric, one line per trial (trial order)."""
    scored = [t for t in trials if t.value is not None]
    if not metric or not scored or not keys:
        return None
    columns: dict[str, list[str | None]] = {
        key: [t.params[i] or None for t in scored] for i, key in enumerate(keys)
    }
    values = [float(t.value) for t in scored if t.value is not None]
    lines = [charts_compare.Line(t.run_id, f"trial {t.number} · {t.link.label}", t.link.href)
             for t in scored]
    return charts_compare.parcoords_data(
        columns, metric, values, direction, f"Params → {metric} ({len(scored)} trials)", lines
    )


def sweep_page(site: SiteData, parent: dict[str, Any], kids: list[dict[str, Any]],
               metric: str | None = None) -> SweepPage:
    """The sweep page of ``parent`` with the child runs ``kids`` (ranked by ``metric``; None:
    ``_metric_of``)."""
    urls = site.urls
    eid = parent["experiment_id"]
    metric = _metric_of(site, parent, kids) if metric is None else metric
    direction = site.direction(metric) if metric else "min"
    keys, fixed = _split_params(site, kids)
    trials = _trials(site, kids, metric, direction, keys)
    best = next((t for t in trials if t.best), None)
    ranked = sorted(trials, key=_rank_key(direction))
    chosen = [t.run_id for t in ranked if t.value is not None][:COMPARE_TRIALS]
    label = run_label(parent)
    experiment = Link(site.experiment_name(eid), urls.experiment(eid))
    parent_link = Link(label, urls.run(parent["run_id"]))
    return SweepPage(
        path=urls.sweep(parent["run_id"]),
        title=f"Sweep {label}",
        breadcrumbs=(Link("Home", urls.home), experiment, parent_link,
                     Link("sweep", urls.sweep(parent["run_id"]))),
        parent=parent_link,
        experiment=experiment,
        metric=metric,
        direction=direction,
        param_keys=tuple(keys),
        fixed_params=fixed,
        trials=tuple(ranked),
        best=best,
        figures=_figures(metric, direction, trials),
        parcoords=_parcoords(metric, direction, keys, trials),
        parent_params=tuple(sorted(site.params.get(parent["run_id"], {}).items())),
        compare=Link(f"Compare the best {len(chosen)} trials",
                     f"{urls.compare(eid)}#runs={','.join(chosen)}") if chosen else None,
    )


def collect(site: SiteData) -> Iterable[Group]:
    """One group per sweep, made again only when its parent or a trial changed (#14): a page
    is made from those runs, each one's fingerprint covering its experiment and the rules."""
    from tracker.site.chunks import chunk_key

    primary: dict[str, list[str]] = {}
    for parent_id in sorted(site.children):
        parent = site.runs_by_id.get(parent_id)
        kids = [site.runs_by_id[c] for c in site.children[parent_id] if c in site.runs_by_id]
        eid = parent["experiment_id"] if parent is not None else ""
        if parent is None or not kids or eid not in site.runs_by_experiment:
            continue
        if eid not in primary:  # once per experiment, not per sweep
            primary[eid] = site.primary_metrics(site.runs_by_experiment[eid], 3)
        metric = _metric_of(site, parent, kids, primary[eid])
        yield Group(f"sweep:{parent_id}", chunk_key(site, [parent, *kids], "sweep", metric),
                    partial(_sweep_items, site, parent, kids, metric))


def _sweep_items(site: SiteData, parent: dict[str, Any], kids: list[dict[str, Any]],
                 metric: str) -> list[Page]:
    return [sweep_page(site, parent, kids, metric)]
