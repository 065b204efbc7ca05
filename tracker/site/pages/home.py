"""The home page as a dashboard: for each registered model the version that serves and why it
won; per experiment its best run, size and last activity; recent runs; the registry summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.site.links import run_label
from tracker.site.pages import Link, Page, SiteFile, doc
from tracker.site.pages.changes import SinceLastBuild, since_last_build

if TYPE_CHECKING:
    from tracker.registry import ModelVersion, RegistryEvent
    from tracker.site.data import ModelState, SiteData

RECENT_RUNS = 15


@dataclass(frozen=True)
class BestRun:
    """The best run of an experiment for one metric."""

    metric: str = doc("Metric name.")
    direction: str = doc("'min' or 'max': which value is best.")
    value: float = doc("The best value.")
    run: Link = doc("The run that has it.")


@dataclass(frozen=True)
class ExperimentCard:
    """One experiment on the home page."""

    link: Link = doc("Name and leaderboard page.")
    runs: int = doc("Number of (non-deleted) runs.")
    running: int = doc("Runs still RUNNING (not dead).")
    last_activity: int | None = doc("Last time a run wrote, ms since the epoch.")
    best: tuple[BestRun, ...] = doc("Best run per primary metric.")


@dataclass(frozen=True)
class RunSummary:
    """A run in a list: link, status, experiment and start time."""

    link: Link = doc("Run name and run page.")
    experiment: Link = doc("Its experiment's leaderboard.")
    status: str = doc("RUNNING, FINISHED, FAILED or KILLED.")
    dead: bool = doc("True when a RUNNING run's process died.")
    start_time: int | None = doc("Start, ms since the epoch.")


@dataclass(frozen=True)
class ModelSummary:
    """A registered model on the home page."""

    link: Link = doc("Model name and registry page.")
    versions: int = doc("Number of versions.")
    production: Link | None = doc("The latest version in Production, if any.")
    aliases: tuple[tuple[str, int], ...] = doc("(alias, version) pairs.")


@dataclass(frozen=True)
class Champion:
    """A registered model's serving version (Production, else ``@champion``) and why it won."""

    model: Link = doc("Model name and registry page.")
    version: Link = doc("The serving version and its lineage page.")
    role: str = doc("'Production' or '@champion'.")
    metric: str = doc("The primary metric of the version's experiment ('' when none).")
    direction: str = doc("'min' or 'max' for ``metric``.")
    value: float | None = doc("The version's run's value of ``metric``.")
    previous: Link | None = doc("The version it replaced in that role, if any.")
    previous_value: float | None = doc("The replaced version's value of ``metric``.")
    change_pct: float | None = doc("Relative change against ``previous_value``, in %.")
    improved: bool | None = doc("True when the change is for the better (None: no change known).")
    since: int | None = doc("When it took the role, ms since the epoch.")
    by: str = doc("Who moved it there.")
    baseline: Link | None = doc("The experiment's baseline run (tagged baseline, else the first).")
    baseline_value: float | None = doc("The baseline run's value of ``metric``.")
    baseline_pct: float | None = doc("The serving version's change against the baseline, in %.")
    why: str = doc("One generated sentence: what it replaced, by how much, from which commit.")


@dataclass(frozen=True)
class HomePage(Page):
    """The front page of the site."""

    template = "home.html"

    experiments: tuple[ExperimentCard, ...] = doc("Experiments, by name.", factory=tuple)
    recent_runs: tuple[RunSummary, ...] = doc("The newest runs of all experiments.", factory=tuple)
    models: tuple[ModelSummary, ...] = doc("Registered models, by name.", factory=tuple)
    since: SinceLastBuild | None = doc("What is new since the previous build.", None)
    changes: Link | None = doc("The Changes page.", None)
    champions: tuple[Champion, ...] = doc("Serving versions with their why, by model name.",
                                          factory=tuple)
    data_as_of: str = doc("ISO time of the newest data (or SOURCE_DATE_EPOCH); '' if none.", "")


def best_runs(site: SiteData, runs: list[dict[str, Any]], metrics: list[str],
              experiment_id: str | None = None) -> tuple[BestRun, ...]:
    """For each metric, the run with the best finite latest value (the first such run of
    ``runs`` on a tie). ``experiment_id``: ``runs`` is that experiment's whole list
    (``SiteData.runs_by_experiment``), read as numpy columns (#14)."""
    import math

    out = []
    for key in metrics:
        direction = site.direction(key)
        if not direction:  # a neutral metric (a count, a time) has no best run
            continue
        if experiment_id is not None:
            from tracker.directions import best_index

            at = best_index(site.metric_column(experiment_id, key), direction)
            if at is None:
                continue
            run = runs[at]
            value = site.metrics[run["run_id"]][key]
        else:
            scored = [
                (got, run) for run in runs
                if (got := site.metrics.get(run["run_id"], {}).get(key)) is not None
                and not math.isnan(got)
            ]
            if not scored:
                continue
            value, run = (min if direction == "min" else max)(scored, key=lambda pair: pair[0])
        out.append(BestRun(key, direction, value, Link(run_label(run), site.urls.run(run["run_id"]))))
    return tuple(out)


def run_summary(site: SiteData, run: dict[str, Any]) -> RunSummary:
    eid = run["experiment_id"]
    return RunSummary(
        link=Link(run_label(run), site.urls.run(run["run_id"])),
        experiment=Link(site.experiment_name(eid), site.urls.experiment(eid)),
        status=run["status"],
        dead=bool(run["dead"]),
        start_time=run["start_time"],
    )


def _promotions(state: ModelState) -> tuple[str, list[RegistryEvent]]:
    """The serving role ('Production', else '@champion') and the events that gave it, in order."""
    stage = [e for e in state.history
             if e.event == "version_stage" and e.value == "Production" and e.key != "archived_by"]
    if any(v.current_stage == "Production" for v in state.versions):
        return "Production", stage
    alias = [e for e in state.history if e.event == "alias_set" and e.key == "champion"]
    return ("@champion", alias) if "champion" in state.model.aliases else ("", [])


def _baseline(site: SiteData, experiment_id: str) -> dict[str, Any] | None:
    """The run tagged ``baseline`` (key, or value of any tag), else the first finished run."""
    runs = sorted(site.runs_by_experiment.get(experiment_id, []),
                  key=lambda r: (r["start_time"] or 0, r["run_id"]))
    for run in runs:
        tags = site.tags.get(run["run_id"], {})
        if "baseline" in tags or "baseline" in tags.values():
            return run
    return next((r for r in runs if r["status"] == "FINISHED"), None)


def champion(site: SiteData, state: ModelState) -> Champion | None:
    """The card of ``state``'s serving version, or None when nothing serves."""
    import math

    from tracker.site.render import format_metric, format_time

    role, events = _promotions(state)
    versions = {v.version: v for v in state.versions}
    if role == "Production":
        current = max(v.version for v in state.versions if v.current_stage == "Production")
    elif role:
        current = state.model.aliases["champion"]
    else:
        return None
    name, serving = state.model.name, versions.get(current)
    took = [e for e in events if e.version == current]
    before = [e for e in events if e.version != current and (not took or e.timestamp
                                                              <= took[-1].timestamp)]
    previous = versions.get(before[-1].version) if before and before[-1].version else None
    run = site.runs_by_id.get(serving.run_id or "") if serving else None
    metric = site.primary_metric(run["experiment_id"]) if run else ""

    def value_of(version: ModelVersion | None) -> float | None:
        got = site.metrics.get(version.run_id or "", {}).get(metric) if version else None
        return None if got is None or math.isnan(got) else got

    value, old = value_of(serving), value_of(previous)
    direction = site.direction(metric)
    pct = (value - old) / abs(old) * 100 if value is not None and old not in (None, 0) else None
    improved = None if value is None or old is None or value == old else (
        value < old if direction == "min" else value > old)
    base = _baseline(site, run["experiment_id"]) if run else None
    base_value = site.metrics.get(base["run_id"], {}).get(metric) if base and metric else None
    since = took[-1].timestamp if took else (serving.last_updated_timestamp if serving else None)
    day = format_time(since)[:10] if since else ""
    if previous is not None:
        why = f"v{current} replaced v{previous.version} as {role}" + (f" on {day}" if day else "")
    else:
        why = f"v{current} is the first version as {role}" + (f" (since {day})" if day else "")
    if metric and value is not None:
        why += f": {metric} {format_metric(value)}"
        if old is not None:
            why += f" vs {format_metric(old)}" + (f" ({pct:+.1f} %)" if pct is not None else "")
    tags = site.tags.get(serving.run_id or "", {}) if serving else {}
    commit = tags.get("mlflow.source.git.commit", "")
    if commit:
        message = tags.get("tracker.source.git.message", "")
        if len(message) > 72:
            message = message[:71].rstrip() + "…"
        why += f", trained at commit {commit[:7]}" + (f" '{message}'" if message else "")
    return Champion(
        model=Link(name, site.urls.model(name)),
        version=Link(f"v{current}", site.urls.lineage(name, current)),
        role=role, metric=metric, direction=direction, value=value,
        previous=Link(f"v{previous.version}", site.urls.lineage(name, previous.version))
        if previous else None,
        previous_value=old, change_pct=pct, improved=improved, since=since,
        by=took[-1].user if took else "",
        baseline=Link(run_label(base), site.urls.run(base["run_id"])) if base else None,
        baseline_value=base_value,
        baseline_pct=(value - base_value) / abs(base_value) * 100
        if value is not None and base_value not in (None, 0) else None,
        why=why + ".",
    )


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    cards = []
    for exp in site.experiments:
        eid = exp["experiment_id"]
        runs = site.runs_by_experiment[eid]
        primary = site.primary_metric(eid)
        seen = [r["last_seen"] for r in runs if r["last_seen"] is not None]
        cards.append(ExperimentCard(
            link=Link(exp["name"], site.urls.experiment(exp["experiment_id"])),
            runs=len(runs),
            running=sum(1 for r in runs if r["status"] == "RUNNING" and not r["dead"]),
            last_activity=max(seen) if seen else exp["last_update_time"],
            best=best_runs(site, runs, [primary] if primary else [], eid),
        ))
    models = []
    for state in site.models:
        prod = [v for v in state.versions if v.current_stage == "Production"]
        name = state.model.name
        models.append(ModelSummary(
            link=Link(name, site.urls.model(name)),
            versions=len(state.versions),
            production=Link(f"v{prod[-1].version}", site.urls.lineage(name, prod[-1].version))
            if prod else None,
            aliases=tuple(sorted(state.model.aliases.items())),
        ))
    yield HomePage(
        path=site.urls.home,
        title="Experiments",
        breadcrumbs=(Link("Home", site.urls.home),),
        experiments=tuple(cards),
        recent_runs=tuple(run_summary(site, r) for r in site.runs[:RECENT_RUNS]),
        models=tuple(models),
        since=since_last_build(site),
        changes=Link("All changes by commit", site.urls.changes),
        champions=tuple(c for state in site.models if (c := champion(site, state)) is not None),
        data_as_of=site.data_as_of,
    )
