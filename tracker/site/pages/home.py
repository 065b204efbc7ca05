"""The home page: experiments with run counts, best runs and last activity; recent runs;
the registry summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.site.pages import Link, Page, SiteFile, doc

if TYPE_CHECKING:
    from tracker.site.data import SiteData

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
class HomePage(Page):
    """The front page of the site."""

    template = "home.html"

    experiments: tuple[ExperimentCard, ...] = doc("Experiments, by name.", factory=tuple)
    recent_runs: tuple[RunSummary, ...] = doc("The newest runs of all experiments.", factory=tuple)
    models: tuple[ModelSummary, ...] = doc("Registered models, by name.", factory=tuple)
    data_as_of: str = doc("ISO time of the newest data (or SOURCE_DATE_EPOCH); '' if none.", "")


def run_label(run: dict[str, Any]) -> str:
    return str(run["run_name"] or run["run_id"][:8])


def best_runs(site: SiteData, runs: list[dict[str, Any]], metrics: list[str]) -> tuple[BestRun, ...]:
    """For each metric, the run with the best finite latest value."""
    import math

    out = []
    for key in metrics:
        direction = site.direction(key)
        scored = [
            (value, run) for run in runs
            if (value := site.metrics.get(run["run_id"], {}).get(key)) is not None
            and not math.isnan(value)
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


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    cards = []
    for exp in site.experiments:
        runs = site.runs_by_experiment[exp["experiment_id"]]
        seen = [r["last_seen"] for r in runs if r["last_seen"] is not None]
        cards.append(ExperimentCard(
            link=Link(exp["name"], site.urls.experiment(exp["experiment_id"])),
            runs=len(runs),
            running=sum(1 for r in runs if r["status"] == "RUNNING" and not r["dead"]),
            last_activity=max(seen) if seen else exp["last_update_time"],
            best=best_runs(site, runs, site.primary_metrics(runs, 1)),
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
        data_as_of=site.data_as_of,
    )
