"""``tracker report new NAME``: a starting report written from what the store holds (#17).

The report is about one experiment (the one with the most runs unless one is named): its best
runs (a ```runs table ranked by the primary metric), the primary metric over training (a
```history chart), and the champion of the registered model trained in it (a ```model card),
under front matter a reader can edit. Store names are written as JSON strings (valid YAML), so a
name cannot break out of its block.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError, TrackerError

if TYPE_CHECKING:
    from tracker.config import TrackerConfig
    from tracker.site.data import SiteData

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")


class ScaffoldError(TrackerError):
    """The report cannot be written: a bad name, an existing file, or nothing to report on."""


@dataclass(frozen=True)
class Champion:
    """The model version the ```model block shows."""

    name: str
    selector: str  # "alias", "stage" or "version"
    value: str


@dataclass(frozen=True)
class Plan:
    """What the scaffold reports on."""

    experiment: str
    runs: int
    metric: str  # '' when the experiment has no directed metric
    direction: str  # 'min', 'max' or ''
    champion: Champion | None


def checked_name(name: str) -> str:
    """``name`` without a trailing ``.md``, when it is a safe file name.

    Raises:
        InvalidArgumentError: it is not 1-80 letters, digits, ``-`` or ``_`` (starting with a
            letter or digit).
    """
    stem = name[:-3] if name.lower().endswith(".md") else name
    if not NAME_PATTERN.match(stem):
        raise InvalidArgumentError(
            f"Report name {name!r} is not a safe file name: use 1-80 letters, digits, '-' or '_', "
            "starting with a letter or digit (e.g. weekly-review).")
    return stem


def plan(site: SiteData, experiment: str | None = None) -> Plan:
    """Which experiment, metric and model a new report shows.

    Raises:
        ScaffoldError: the store has no experiment, or ``experiment`` is not one of them.
    """
    names = {e["experiment_id"]: str(e["name"]) for e in site.experiments}
    active = {eid: [r for r in site.runs_by_experiment.get(eid, [])
                    if r.get("lifecycle_stage", "active") == "active"] for eid in names}
    if not names:
        raise ScaffoldError("The store has no experiments to report on; log some runs first.")
    if experiment is None:
        eid = min(names, key=lambda e: (-len(active[e]), names[e], e))
    else:
        matches = [e for e, n in names.items() if n == experiment or e == experiment]
        if not matches:
            raise ScaffoldError(
                f"No experiment {experiment!r} in the store; its experiments are "
                f"{', '.join(sorted(names.values()))}.")
        eid = matches[0]
    metric = site.primary_metric(eid)
    return Plan(names[eid], len(active[eid]), metric, site.direction(metric) if metric else "",
                _champion(site, {r["run_id"] for r in active[eid]}))


def _champion(site: SiteData, run_ids: set[str]) -> Champion | None:
    """The registered model with the most versions from these runs, and its best-known version:
    the ``champion`` alias, else the Production version, else the newest."""
    best: tuple[int, str] | None = None
    chosen = None
    for state in site.models:
        ours = [v for v in state.versions if v.run_id in run_ids]
        if ours and (best is None or (-len(ours), state.model.name) < best):
            best, chosen = (-len(ours), state.model.name), (state, ours)
    if chosen is None:
        return None
    state, ours = chosen
    aliases = dict(getattr(state.model, "aliases", None) or {})
    if "champion" in aliases:
        return Champion(state.model.name, "alias", "champion")
    if any(str(v.current_stage) == "Production" for v in state.versions):
        return Champion(state.model.name, "stage", "Production")
    newest = max(ours, key=lambda v: int(v.version))
    return Champion(state.model.name, "version", str(newest.version))


def _q(text: str) -> str:
    """A YAML-safe double-quoted string (JSON's quoting is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def render(name: str, spec: Plan, today: dt.date | None = None) -> str:
    """The text of the new report."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    title = name.replace("-", " ").replace("_", " ").strip().capitalize()
    order = "ASC" if spec.direction != "max" else "DESC"
    lines = [
        "---",
        f"title: {_q(title)}",
        f"description: {_q(f'The best runs of {spec.experiment} and how they train.')}",
        f"date: {today.isoformat()}",
        f"tags: [{_q(spec.experiment)}]",
        f"experiment: {_q(spec.experiment)}",
        "---",
        "What this report is about, and what changed since the last one.",
        "",
        "## Best runs",
        "",
        "```runs",
        f"experiment: {_q(spec.experiment)}",
    ]
    if spec.metric:
        lines.append(f"order_by: [{_q(f'metrics.{spec.metric} {order}')}]")
    lines += ["limit: 10", "```", ""]
    if spec.metric:
        lines += [
            f"## {_md_text(spec.metric)} during training",
            "",
            "```history",
            f"experiment: {_q(spec.experiment)}",
            f"metric: {_q(spec.metric)}",
            "limit: 10",
            "x: step",
            "```",
            "",
        ]
    if spec.champion is not None:
        champion = spec.champion
        value = champion.value if champion.selector == "version" else _q(champion.value)
        lines += [
            "## The model in use",
            "",
            "```model",
            f"name: {_q(champion.name)}",
            f"{champion.selector}: {value}",
            "```",
            "",
        ]
    lines += ["## Conclusions", "", "What we learned, and what to try next.", ""]
    return "\n".join(lines)


def _md_text(text: str) -> str:
    """``text`` with Markdown's punctuation escaped and no line breaks (for a heading)."""
    flat = " ".join(text.split())
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~&])", r"\\\1", flat)


def new_report(
    store_uri: str, name: str, reports_dir: str | os.PathLike[str] = "reports", *,
    experiment: str | None = None, config: TrackerConfig | None = None,
) -> tuple[str, Plan]:
    """Write ``<reports_dir>/<name>.md`` from the store; returns its path and what it shows.

    Raises:
        InvalidArgumentError: ``name`` is not a safe file name.
        ScaffoldError: the file exists (it is never overwritten), or no experiment fits.
    """
    from tracker.client import TrackerClient
    from tracker.query import StoreQuery
    from tracker.registry import Registry
    from tracker.site.data import SiteData
    from tracker.site.publish import PublishRules

    stem = checked_name(name)
    path = os.path.join(os.fspath(reports_dir), stem + ".md")
    if os.path.lexists(path):
        raise ScaffoldError(f"{path} already exists; it was left as it is (choose another name "
                            "or delete the file first).")
    client = TrackerClient(store_uri)
    if not client.store.fs.exists(""):
        raise ScaffoldError(f"No store at {client.store.fs.root} (from {store_uri!r}).")
    rules = PublishRules.from_config(config)
    site = SiteData(StoreQuery(client.store, publish=rules), Registry(client.store),
                    publish=rules)
    spec = plan(site, experiment)
    text = render(stem, spec)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as fh:  # "x": never over a file made meanwhile
            fh.write(text)
    except FileExistsError:
        raise ScaffoldError(f"{path} already exists; it was left as it is.") from None
    return path, spec


def describe(spec: Plan) -> dict[str, Any]:
    """What the scaffold chose, for the command's message."""
    return {"experiment": spec.experiment, "runs": spec.runs, "metric": spec.metric,
            "model": spec.champion.name if spec.champion else ""}
