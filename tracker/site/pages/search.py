"""The client-side search index: ``window.TRACKER_SEARCH = [[kind, label, extra, path], …]``.

``assets/search.js`` filters it as the user types in the header's search box. Entries cover
experiments, runs (name, id, experiment and a few tag values; not every param, so 10,000 runs
stay around 2 MB), param and tag keys (one entry per key and experiment), registered models,
their versions and aliases, and reports. Paths are site-root paths; the script makes them
relative to the page it runs on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tracker.site.pages import Page, SiteFile

if TYPE_CHECKING:
    from tracker.site.data import SiteData

Entry = tuple[str, str, str, str]

RUN_TAG_VALUES = 3  # tag values per run in the index (user tags only)
MAX_VALUE = 40  # characters of one tag value
SYSTEM_TAG_PREFIXES = ("mlflow.", "tracker.")


def _run_entries(site: SiteData) -> list[Entry]:
    """The runs' entries, in ``site.runs`` order. Made per experiment from its columns
    (``SiteData.run_columns``); only the runs SQL finds with a user tag look at their tags
    (#14: a look in each of 100,000 runs' dicts cost more than the entries)."""
    tags = site.tags
    run_url = site.urls.run
    made: dict[str, list[Entry]] = {}
    for exp in site.experiments:
        eid = exp["experiment_id"]
        if eid in made:
            continue
        columns = site.run_columns(eid)
        name = site.experiment_name(eid)
        tagged = set(site.tagged_runs(eid, "", exclude=SYSTEM_TAG_PREFIXES))
        out: list[Entry] = []
        made[eid] = out
        for place, (run_id, run_name) in enumerate(zip(columns["run_id"], columns["run_name"])):
            if place in tagged:
                values = [str(v)[:MAX_VALUE] for k, v in sorted(tags.get(run_id, {}).items())
                          if not k.startswith(SYSTEM_TAG_PREFIXES) and v][:RUN_TAG_VALUES]
                extra = " ".join([run_id, name, *values])
            else:
                extra = f"{run_id} {name}"
            # the label as ``links.run_label`` makes it
            out.append(("run", str(run_name or run_id[:8]), extra, run_url(run_id)))
    if sum(1 for entries in made.values() if entries) <= 1:
        return [entry for entries in made.values() for entry in entries]
    # several experiments: in ``site.runs`` order (each experiment's runs are in that order)
    each = {eid: iter(entries) for eid, entries in made.items()}
    return [next(each[run["experiment_id"]]) for run in site.runs]


def _key_entries(site: SiteData) -> list[Entry]:
    """One entry per (param or tag key, experiment): the key leads to that leaderboard."""
    out: list[Entry] = []
    for exp in site.experiments:
        path = site.urls.experiment(exp["experiment_id"])
        for kind, table in (("param", "params"), ("tag", "tags")):
            keys = site.keys(exp["experiment_id"], table)
            out.extend((kind, key, f"{kind} in {exp['name']}", path) for key in keys)
    return out


def _model_entries(site: SiteData) -> list[Entry]:
    urls = site.urls
    out: list[Entry] = []
    for state in site.models:
        name = state.model.name
        aliases = " ".join(f"@{a}" for a in sorted(state.model.aliases))
        count = len(state.versions)
        plural = "" if count == 1 else "s"
        out.append(("model", name, f"{count} version{plural} {aliases}".strip(), urls.model(name)))
        for version in state.versions:
            extra = " ".join([version.current_stage, *(f"@{a}" for a in sorted(version.aliases)),
                              f"run {version.run_id}" if version.run_id else ""]).strip()
            out.append(("version", f"{name} v{version.version}", extra,
                        urls.lineage(name, version.version)))
        for alias, number in sorted(state.model.aliases.items()):
            out.append(("alias", f"{name}@{alias}", f"→ v{number}", urls.lineage(name, number)))
    return out


def _report_entries(site: SiteData) -> list[Entry]:
    from tracker.site.pages.reports import report_sources

    return [("report", s.title, s.description, site.urls.report(s.slug))
            for s in report_sources(site)]


def entries(site: SiteData) -> list[Entry]:
    """Every search entry: experiments, models, versions, aliases, reports, runs, keys."""
    out: list[Entry] = [("experiment", str(e["name"]),
                         f"{len(site.runs_by_experiment[e['experiment_id']])} runs",
                         site.urls.experiment(e["experiment_id"])) for e in site.experiments]
    out += _model_entries(site) + _report_entries(site) + _run_entries(site) + _key_entries(site)
    return out


def index_script(items: list[Entry]) -> bytes:
    """The index as a script (JSON is valid JavaScript; U+2028/9 escaped for old parsers)."""
    text = json.dumps([list(item) for item in items], ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.TRACKER_SEARCH = {text};\n".encode()


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    yield SiteFile(site.urls.search_index, index_script(entries(site)))
