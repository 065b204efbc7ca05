"""The model registry: every registered model with its versions, stages and aliases, and one
page per model with its versions table, tags and full history as a timeline."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tracker.registry import CONFLICT_RESOLVED
from tracker.site.links import run_label
from tracker.site.pages import Link, Page, SiteFile, doc

if TYPE_CHECKING:
    from tracker.registry import ModelVersion, RegistryEvent
    from tracker.site.data import ModelState, SiteData


@dataclass(frozen=True)
class VersionRow:
    """One version of a registered model."""

    version: int = doc("Version number.")
    link: Link = doc("'v<n>' and the version's lineage page.")
    stage: str = doc("Current stage: None, Staging, Production or Archived.")
    aliases: tuple[str, ...] = doc("Aliases pointing at this version, sorted.")
    run: Link | None = doc("The run that logged the model (None when it is not in this store).")
    run_id: str = doc("Run id recorded at registration ('' when none).")
    created: int = doc("Registration time, ms since the epoch.")
    user: str = doc("Who registered it.")
    description: str = doc("Description (Markdown, sanitized when rendered).")
    source: str = doc("The model's source URI (runs:/…, a path).")
    tags: tuple[tuple[str, str], ...] = doc("Version tags as (key, value), sorted.")
    metric: str = doc("The primary metric of its run's experiment ('' when none).", "")
    value: float | None = doc("Its run's value of ``metric``.", None)
    baseline: Link | None = doc("The version in Production when this one was registered.", None)
    change_pct: float | None = doc("Change of ``value`` against ``baseline``'s, in %.", None)
    improved: bool | None = doc("True when that change is for the better.", None)


@dataclass(frozen=True)
class TimelineEntry:
    """One change in a model's history, in words."""

    time: int = doc("When, ms since the epoch.")
    iso: str = doc("The same time as ISO 8601 (UTC), for <time datetime>.")
    user: str = doc("Who made the change.")
    text: str = doc("What happened, e.g. 'moved v3 to Production (archived v2)'.")
    reason: str = doc("The free-text reason given with the change ('' when none).")
    version: Link | None = doc(
        "The version concerned and its lineage page (None: model-wide, or a deleted version).")


@dataclass(frozen=True)
class ModelCard:
    """A registered model on the registry page."""

    link: Link = doc("Model name and its page.")
    description: str = doc("Description (Markdown, sanitized when rendered).")
    tags: tuple[tuple[str, str], ...] = doc("Model tags as (key, value), sorted.")
    aliases: tuple[tuple[str, Link], ...] = doc("(alias, version link) pairs, sorted by alias.")
    versions: tuple[VersionRow, ...] = doc("Versions, newest first.")
    updated: int = doc("Last change, ms since the epoch.")


@dataclass(frozen=True)
class RegistryPage(Page):
    """Every registered model (models/index.html)."""

    template = "registry.html"

    models: tuple[ModelCard, ...] = doc("Registered models, by name.", factory=tuple)


@dataclass(frozen=True)
class ModelPage(Page):
    """One registered model: versions, tags, aliases and its history."""

    template = "model.html"

    card: ModelCard | None = doc("The model (name, description, tags, aliases, versions).", None)
    created: int = doc("Creation time, ms since the epoch.", 0)
    timeline: tuple[TimelineEntry, ...] = doc("Every change, oldest first.", factory=tuple)


def iso_time(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC (``2026-11-27T07:03:05Z``)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _production_before(site: SiteData, version: ModelVersion) -> ModelVersion | None:
    """The version that was in Production when ``version`` was registered (not itself)."""
    state = next((s for s in site.models if s.model.name == version.name), None)
    if state is None:
        return None
    number = None
    for event in state.history:
        if event.timestamp > version.creation_timestamp:
            break
        if event.event == "version_stage" and event.value == "Production" \
                and event.key != "archived_by" and event.version != version.version:
            number = event.version
    return next((v for v in state.versions if v.version == number), None)


def _metric_change(
    site: SiteData, version: ModelVersion, run: dict[str, Any] | None
) -> dict[str, Any]:
    """The primary metric of a version's run and its change against the Production before."""
    import math

    if run is None:
        return {}
    metric = site.primary_metric(run["experiment_id"])
    value = site.metrics.get(run["run_id"], {}).get(metric) if metric else None
    if value is None or math.isnan(value):
        return {"metric": metric}
    out: dict[str, Any] = {"metric": metric, "value": value}
    before = _production_before(site, version)
    old = site.metrics.get(before.run_id or "", {}).get(metric) if before else None
    if before is not None and old is not None and not math.isnan(old):
        out["baseline"] = Link(f"v{before.version}", site.urls.lineage(before.name,
                                                                     before.version))
        if old != 0:
            out["change_pct"] = (value - old) / abs(old) * 100
        direction = site.direction(metric)
        out["improved"] = None if value == old else (
            value < old if direction == "min" else value > old)
    return out


def version_row(site: SiteData, version: ModelVersion) -> VersionRow:
    """A version as a table row (run linked only when the run is in this store), with its
    run's primary metric and the change against the version in Production before it."""
    run = site.runs_by_id.get(version.run_id or "")
    return VersionRow(
        **_metric_change(site, version, run),
        version=version.version,
        link=Link(f"v{version.version}", site.urls.lineage(version.name, version.version)),
        stage=version.current_stage,
        aliases=tuple(sorted(version.aliases)),
        run=Link(run_label(run), site.urls.run(run["run_id"])) if run else None,
        run_id=version.run_id or "",
        created=version.creation_timestamp,
        user=version.user_id,
        description=version.description or "",
        source=version.source,
        tags=tuple(sorted(version.tags.items())),
    )


def _card(site: SiteData, state: ModelState) -> ModelCard:
    model = state.model
    urls = site.urls
    return ModelCard(
        link=Link(model.name, urls.model(model.name)),
        description=model.description or "",
        tags=tuple(sorted(model.tags.items())),
        aliases=tuple(
            (alias, Link(f"v{number}", urls.lineage(model.name, number)))
            for alias, number in sorted(model.aliases.items())
        ),
        versions=tuple(version_row(site, v) for v in sorted(
            state.versions, key=lambda v: -v.version)),
        updated=model.last_updated_timestamp,
    )


def _event_text(event: RegistryEvent) -> str:
    """One event in words (stage moves are handled by ``timeline``)."""
    v = f"v{event.version}"
    kind, key, value = event.event, event.key or "", event.value
    if kind == "model_created":
        return f"created model {value}"
    if kind == "model_renamed":
        return f"renamed the model to {value}"
    if kind == "model_deleted":
        return "deleted the model"
    if kind == "model_description":
        return "changed the description" if value else "cleared the description"
    if kind == "model_tag":
        return f"set tag {key} = {value}" if value is not None else f"removed tag {key}"
    if kind == "alias_set":
        return f"set alias {key} → {v}"
    if kind == "alias_deleted":
        return f"removed alias {key}"
    if kind == "version_created":
        return _registered_text(event)
    if kind == "version_stage":
        return f"moved {v} to {value}"
    if kind == "version_description":
        return f"changed the description of {v}" if value else f"cleared the description of {v}"
    if kind == "version_tag":
        if value is None:
            return f"removed tag {key} of {v}"
        return f"set tag {key} = {value} on {v}"
    if kind == "version_deleted":
        return f"deleted {v}"
    if kind == CONFLICT_RESOLVED:
        return _conflict_text(event)
    return f"{kind} {v if event.version is not None else ''}".strip()


def _conflict_text(event: RegistryEvent) -> str:
    """``tracker doctor --fix`` after two git branches both registered one version number."""
    try:
        info = json.loads(event.value or "{}")
    except ValueError:
        info = {}
    moved = info.get("moved_to") if isinstance(info, dict) else None
    other = f"; the other registration became v{moved}" if moved is not None else ""
    return f"kept v{event.version} for one of two registrations merged from git branches{other}"


def _registered_text(event: RegistryEvent) -> str:
    try:
        info = json.loads(event.value or "{}")
    except ValueError:
        info = {}
    run_id = info.get("run_id") if isinstance(info, dict) else None
    source = f" from run {str(run_id)[:8]}" if run_id else ""
    return f"registered v{event.version}{source}"


def timeline(
    site: SiteData, name: str, history: Sequence[RegistryEvent]
) -> tuple[TimelineEntry, ...]:
    """The history in words, oldest first; an archival is folded into the move that caused it.

    Args:
        site: the site data (for version links).
        name: the model's current name (links use it).
        history: the model's events (or a subset of them), oldest first.
    """
    live = {v.version for s in site.models if s.model.name == name for v in s.versions}
    pending: list[RegistryEvent] = []  # archivals are recorded just before the move causing them
    out: list[TimelineEntry] = []
    for event in history:
        if event.event == "version_stage" and event.key == "archived_by":
            pending.append(event)
            continue
        text = _event_text(event)
        if event.event == "version_stage" and event.key == "archive_existing" and pending:
            text += " (archived " + ", ".join(f"v{e.version}" for e in pending) + ")"
        else:  # the move is not in ``history`` (a subset): show the archivals on their own
            out.extend(_entry(site, name, e, f"archived v{e.version}", live) for e in pending)
        pending = []
        out.append(_entry(site, name, event, text, live))
    out.extend(_entry(site, name, e, f"archived v{e.version}", live) for e in pending)
    return tuple(out)


def _entry(site: SiteData, name: str, event: RegistryEvent, text: str,
           live: set[int]) -> TimelineEntry:
    link = None
    if event.version is not None and event.version in live:
        link = Link(f"v{event.version}", site.urls.lineage(name, event.version))
    return TimelineEntry(event.timestamp, iso_time(event.timestamp), event.user or "", text,
                         event.reason or "", link)


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    urls = site.urls
    home = Link("Home", urls.home)
    registry = Link("Models", urls.registry)
    cards = [_card(site, state) for state in site.models]
    yield RegistryPage(path=urls.registry, title="Model registry", breadcrumbs=(home, registry),
                       models=tuple(cards))
    for state, card in zip(site.models, cards):
        name = state.model.name
        yield ModelPage(
            path=urls.model(name),
            title=name,
            breadcrumbs=(home, registry, Link(name, urls.model(name))),
            card=card,
            created=state.model.creation_timestamp,
            timeline=timeline(site, name, state.history),
        )
