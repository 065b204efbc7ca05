"""What changed: the Changes page (one entry per training commit, newest first) and the home
page's "Since the last build" panel.

Entries come from the store itself: runs are grouped by the commit they were trained at
(``mlflow.source.git.commit``, with the message recorded in ``tracker.source.git.message``), so a
site built in CI from a shallow checkout still knows them. Runs trained outside git are grouped
by the build that first saw them: the build keeps that history in its output folder
(``.tracker-cache/changes.json``), which ``pages.yml`` carries from one CI build to the next.

Whether an entry improved or regressed an experiment's best is decided by
``tracker.changes.summarize`` — the same code as ``tracker summary`` — between the store as of
the previous entry and as of this one.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from tracker.site.pages import Link, Page, SiteFile, doc

if TYPE_CHECKING:
    from tracker.changes import Snapshot
    from tracker.site.data import SiteData

NAMESPACE, KEY, FORMAT = "changes", "state", "1"
MAX_BUILDS = 200
#: Runs an entry lists (best first); the others are counted, and are on the leaderboards
#: (#14: a commit of 5,000 runs made a page of megabytes, rendered again after every run).
ENTRY_RUNS = 20
COMMIT_TAG, MESSAGE_TAG = "mlflow.source.git.commit", "tracker.source.git.message"
REMOTE_TAG, USER_TAG = "mlflow.source.git.repoURL", "mlflow.user"


@dataclass(frozen=True)
class ChangedRun:
    """A run an entry added, with its experiment's primary metric."""

    link: Link = doc("Run name and run page.")
    experiment: Link = doc("Its experiment's leaderboard.")
    metric: str = doc("The experiment's primary metric ('' when none).")
    value: float | None = doc("The run's value of ``metric``.")


@dataclass(frozen=True)
class Verdict:
    """An experiment's best primary metric before and after an entry."""

    experiment: Link = doc("The experiment's leaderboard.")
    metric: str = doc("Its primary metric.")
    direction: str = doc("'min' or 'max'.")
    before: float | None = doc("The best value before the entry (None: no earlier run).")
    after: float | None = doc("The best value of the entry's finished runs.")
    verdict: str = doc("'improved', 'regressed', 'unchanged', 'no baseline' or 'not finished'.")
    best: Link | None = doc("The entry's run with ``after``.")


@dataclass(frozen=True)
class Entry:
    """One training commit (or, outside git, one build) and what it changed."""

    key: str = doc("The commit's SHA, or 'build-<n>'.")
    title: str = doc("The commit message's first line, or 'Build <n>'.")
    sha: str = doc("The commit SHA ('' for a build).")
    url: str = doc("The commit's page on its forge ('' when unknown).")
    author: str = doc("Who trained (the runs' user).")
    time: int | None = doc("When its first run started (a build: its newest data), ms.")
    runs: tuple[ChangedRun, ...] = doc(
        f"The runs it added, per experiment best first (at most ``ENTRY_RUNS`` = {ENTRY_RUNS}).")
    verdicts: tuple[Verdict, ...] = doc("Per experiment: best primary metric vs before.")
    events: tuple[tuple[str, Link], ...] = doc("Registry events in its time span: (text, model).")
    run_count: int = doc("How many runs it added (``runs`` lists the first ones).", 0)
    experiments: tuple[Link, ...] = doc("The leaderboards of the experiments of its runs.",
                                        factory=tuple)


@dataclass(frozen=True)
class ChangesPage(Page):
    """Every training commit of the store, newest first."""

    template = "changes.html"

    entries: tuple[Entry, ...] = doc("Newest first.", factory=tuple)


@dataclass(frozen=True)
class SinceLastBuild:
    """The home page's panel: what is new since the previous build that saw a different store."""

    first: bool = doc("True when no earlier build of this output folder is known.")
    runs: tuple[Link, ...] = doc("New runs (newest first, at most 10).")
    more_runs: int = doc("New runs not listed.")
    versions: tuple[Link, ...] = doc("New model versions.")
    moves: tuple[tuple[str, Link], ...] = doc("Stage and alias moves: (text, version page).")
    regressions: tuple[tuple[str, Link], ...] = doc(
        "Experiments whose best primary metric got worse: (text, leaderboard).")


# -- state kept between builds ----------------------------------------------------------------


def _now_state(site: SiteData) -> dict[str, Any]:
    versions = {f"{s.model.name}|{v.version}": [v.current_stage, sorted(v.aliases)]
                for s in site.models for v in s.versions}
    return {"runs": sorted(site.runs_by_id), "versions": versions, "best": _bests(site)}


def _bests(site: SiteData) -> dict[str, list[Any]]:
    """Per experiment, [primary metric, its best finite value among the FINISHED runs] (numpy
    over the experiment's column, #14; on a tie the first run's value, as ``min`` gives)."""
    import numpy as np

    out = {}
    for exp in site.experiments:
        eid = exp["experiment_id"]
        metric = site.primary_metric(eid)
        direction = site.direction(metric) if metric else ""
        if not direction:  # ``Directions.best`` has no best of a neutral metric
            continue
        runs = site.runs_by_experiment[eid]
        column = site.metric_column(eid, metric)
        at = np.flatnonzero(site.finished(eid) & np.isfinite(column))
        if len(at):
            pick = at[int(np.argmin(column[at]) if direction == "min" else np.argmax(column[at]))]
            out[eid] = [metric, site.metrics[runs[pick]["run_id"]][metric]]
    return out


def state(site: SiteData) -> dict[str, Any]:
    """The builds seen so far and the store as of this build and as of the previous different one.

    Read from and saved to the build cache; a rebuild of an unchanged store keeps the previous
    state as its reference, so building twice gives the same pages.
    """
    old = site.cache.get(NAMESPACE, KEY, FORMAT)
    old = old if isinstance(old, dict) else {}
    now = _now_state(site)
    current, previous = old.get("current"), old.get("previous")
    current = current if isinstance(current, dict) else None
    previous = previous if isinstance(previous, dict) else None
    if current is not None and (current.get("runs"), current.get("versions")) != (
            now["runs"], now["versions"]):
        previous = current
    # The cache is a file in the output folder: a damaged entry costs history, never the build.
    builds = [b for b in old.get("builds", []) if isinstance(b, dict)
              and isinstance(b.get("n"), int) and isinstance(b.get("runs"), list)]
    known = {r for b in builds for r in _strings(b["runs"])}
    unknown = [r for r in now["runs"] if r not in known]
    # Only the commit tag: runs with one are never "known", so every run of a store whose runs
    # all have commits is asked about on every build (#14: all tags of 100,000 runs read).
    from tracker.query import bulk

    commits = bulk.tags_named(site.query, [COMMIT_TAG]) if unknown else {}
    loose = sorted(r for r in unknown if not commits.get(r, {}).get(COMMIT_TAG))
    if loose:
        newest = max((site.runs_by_id[r]["last_seen"] or 0) for r in loose)
        builds.append({"n": (builds[-1]["n"] + 1) if builds else 1, "time": newest,
                       "runs": loose})
    value = {"builds": builds[-MAX_BUILDS:], "current": now, "previous": previous}
    site.cache.put(NAMESPACE, KEY, FORMAT, value)
    return value


def _strings(value: Any) -> list[str]:
    """The strings of a list read back from the cache file (anything else: none)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# -- entries ----------------------------------------------------------------------------------


def _snapshot(site: SiteData, run_ids: Iterable[str]) -> Snapshot:
    """The runs as ``summarize`` compares them, with only their experiment's primary metric
    (the one verdict the page shows; params and other metrics would only cost time, #14)."""
    from tracker.changes import RunState, Snapshot

    runs = {}
    for run_id in run_ids:
        run = site.runs_by_id[run_id]
        primary = site.primary_metric(run["experiment_id"])
        metrics = site.metrics.get(run_id, {})
        runs[run_id] = RunState(run_id, run["experiment_id"], run["run_name"] or run_id[:8],
                                run["status"],
                                {primary: metrics[primary]} if primary in metrics else {}, {})
    return Snapshot({e["experiment_id"]: e["name"] for e in site.experiments}, runs)


class _Table:
    """What the entries read of each run, from its experiment's columns (``SiteData``'s
    ``run_columns``, ``metric_column``; #14: five passes over 100,000 runs' dicts took ~1 s):
    ``at`` maps a run id to its experiment and place, ``columns`` an experiment to
    (primary metric, its direction, run ids, labels, start times, FINISHED?, values of the
    primary metric (NaN: none), whether each run has the metric)."""

    def __init__(self, site: SiteData) -> None:
        self.at: dict[str, tuple[str, int]] = {}
        self.columns: dict[str, _Columns] = {}
        for exp in site.experiments:
            eid = exp["experiment_id"]
            if eid in self.columns:
                continue
            runs = site.run_columns(eid)
            ids = runs["run_id"]
            metric = site.primary_metric(eid)
            if metric:
                values = site.metric_column(eid, metric).tolist()
                present = site.metric_present(eid, metric).tolist()
            else:
                values, present = [math.nan] * len(ids), [False] * len(ids)
            self.columns[eid] = _Columns(
                metric, site.direction(metric) if metric else "", ids,
                [name or run_id[:8] for name, run_id in zip(runs["run_name"], ids)],
                runs["start_time"], site.finished(eid).tolist(), values, present)
            self.at.update(zip(ids, zip(itertools.repeat(eid), range(len(ids)))))


class _Columns(NamedTuple):
    """An experiment's columns in ``_Table``."""

    metric: str
    direction: str
    ids: list[str]
    names: list[str]
    starts: list[int | None]
    finished: list[bool]
    values: list[float]
    present: list[bool]


def _groups(site: SiteData, table: _Table, builds: list[dict[str, Any]]
            ) -> list[tuple[str, list[str], int]]:
    """(key, run ids, time) per commit and per build, oldest first."""
    by_commit: dict[str, list[str]] = {}
    for eid, columns in table.columns.items():
        if COMMIT_TAG not in site.keys(eid, "tags"):
            continue
        for run_id, sha in zip(columns.ids, site.tag_column(eid, COMMIT_TAG)):
            if sha:
                by_commit.setdefault(sha, []).append(run_id)
    at, tables = table.at, table.columns
    groups = [(sha, ids, min(tables[(place := at[r])[0]].starts[place[1]] or 0 for r in ids))
              for sha, ids in by_commit.items()]
    for build in builds:
        ids = [r for r in _strings(build.get("runs")) if r in at]
        if ids:
            groups.append((f"build-{build['n']}", ids, int(build.get("time") or 0)))
    return sorted(groups, key=lambda g: (g[2], g[0]))


def _verdicts(site: SiteData, table: _Table, before: set[str], added: list[str],
              bests: Iterable[str]) -> tuple[Verdict, ...]:
    """Each experiment's best primary metric before and after ``added``, by ``summarize``.

    ``summarize`` sees, of the runs ``before``, only ``bests`` (the best of each experiment,
    ``_Bests``) and those ``added`` again: the best it finds among them is the best among all
    of ``before``, and the page stays proportional to what an entry added (#14).
    """
    from tracker.changes import summarize

    added_set = set(added)
    earlier = set(bests) | (before & added_set)
    current = _snapshot(site, earlier | _deciding(table, added_set - earlier))
    result = summarize(current, _snapshot(site, earlier), "previous entry",
                       directions=site.directions)
    out = []
    for exp in result.experiments:
        primary = site.primary_metric(exp.experiment_id)
        for m in exp.metrics:
            if m.key != primary:
                continue
            best = Link(m.current.run_name, site.urls.run(m.current.run_id)) if m.current else None
            out.append(Verdict(
                Link(exp.name, site.urls.experiment(exp.experiment_id)), m.key, m.direction,
                m.baseline.value if m.baseline else None, m.current.value if m.current else None,
                m.verdict.replace("_", " ").lower(), best))
    return tuple(out)


def _deciding(table: _Table, found: set[str]) -> set[str]:
    """The runs of ``found`` (an entry's new runs) that decide its verdicts in ``summarize``:
    per experiment the run its ``_best`` picks (FINISHED, finite primary metric, the best
    value, then the first by name and id), else any run with the metric (the verdict is then
    'not finished'); an experiment none of whose runs has the metric gets no verdict shown.
    ``summarize`` over these gives the same verdicts as over every run (#14: the first entry of
    a 100,000-run store made a snapshot of all of them on each build)."""
    picked: dict[str, tuple[float, str, str]] = {}
    some: dict[str, str] = {}
    for run_id in found:
        eid, i = table.at[run_id]
        columns = table.columns[eid]
        if not columns.present[i]:
            continue
        some.setdefault(eid, run_id)
        value = columns.values[i]
        if not columns.finished[i] or not columns.direction or not math.isfinite(value):
            continue
        key = (value if columns.direction == "min" else -value, columns.names[i], run_id)
        old = picked.get(eid)
        if old is None or key < old:
            picked[eid] = key
    return {picked[eid][2] if eid in picked else run_id for eid, run_id in some.items()}


class _Bests:
    """The best FINISHED run of each experiment by its primary metric, as runs are added: the
    run ``tracker.changes`` would pick among all of them (ties: the first by name, then id)."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.best: dict[str, tuple[float, str, str]] = {}  # experiment -> (value, name, id)

    def add(self, run_ids: Iterable[str]) -> None:
        at, tables = self.table.at, self.table.columns
        for run_id in run_ids:
            eid, i = at[run_id]
            columns = tables[eid]
            value = columns.values[i]
            if not columns.finished[i] or not math.isfinite(value) or not columns.direction:
                continue
            mine = (value, columns.names[i], run_id)
            old = self.best.get(eid)
            if old is None or (value < old[0] if columns.direction == "min" else
                               value > old[0]) or (value == old[0] and mine[1:] < old[1:]):
                self.best[eid] = mine

    def runs(self) -> list[str]:
        return [best[2] for best in self.best.values()]


def _entry(site: SiteData, table: _Table, key: str, ids: list[str], start: int,
           end: int | None, before: set[str], bests: Iterable[str]) -> Entry:
    from tracker.site.links import commit_url, run_label
    from tracker.site.pages.registry import _event_text

    at, tables = table.at, table.columns

    def start_of(run_id: str) -> tuple[int, str]:
        eid, i = at[run_id]
        return (tables[eid].starts[i] or 0, run_id)

    first = min(ids, key=start_of)
    tags = site.tags.get(first, {})

    def best_first(run_id: str) -> tuple[str, int, float, str]:
        eid, i = at[run_id]
        columns = tables[eid]
        value = columns.values[i]
        if math.isnan(value):  # no value, or NaN
            return (eid, 1, 0.0, run_id)
        return (eid, 0, value if columns.direction == "min" else -value, run_id)

    runs = []
    for run_id in heapq.nsmallest(ENTRY_RUNS, ids, key=best_first):
        run = site.runs_by_id[run_id]
        eid = run["experiment_id"]
        metric = site.primary_metric(eid)
        runs.append(ChangedRun(Link(run_label(run), site.urls.run(run_id)),
                               Link(site.experiment_name(eid), site.urls.experiment(eid)),
                               metric, site.metrics.get(run_id, {}).get(metric)))
    events = tuple(
        (f"{state.model.name}: {_event_text(e)}", Link(state.model.name,
                                                        site.urls.model(state.model.name)))
        for state in site.models for e in state.history
        if e.timestamp >= start and (end is None or e.timestamp < end)
        and not (e.event == "version_stage" and e.key == "archived_by"))
    is_build = key.startswith("build-")
    return Entry(
        key=key, title=(f"Build {key[6:]}" if is_build else tags.get(MESSAGE_TAG, "")
                        or f"Commit {key[:7]}"),
        sha="" if is_build else key,
        url="" if is_build else commit_url(tags.get(REMOTE_TAG, ""), key),
        author=tags.get(USER_TAG, "") or site.runs_by_id[first]["user_id"] or "",
        time=start or None, runs=tuple(runs), run_count=len(ids),
        experiments=tuple(Link(site.experiment_name(eid), site.urls.experiment(eid))
                          for eid in sorted({at[r][0] for r in ids})),
        verdicts=_verdicts(site, table, before, ids, bests), events=events,
    )


def entries(site: SiteData) -> list[Entry]:
    """Every commit and build entry, oldest first."""
    table = _Table(site)
    groups = _groups(site, table, site.changes_state["builds"])
    out: list[Entry] = []
    seen: set[str] = set()
    bests = _Bests(table)
    for index, (key, ids, start) in enumerate(groups):
        end = groups[index + 1][2] if index + 1 < len(groups) else None
        out.append(_entry(site, table, key, ids, start, end, seen, bests.runs()))
        seen |= set(ids)
        bests.add(ids)
    return out


def since_last_build(site: SiteData) -> SinceLastBuild:
    """The home panel, from the state the previous different build left."""
    from tracker.site.links import run_label

    reference = site.changes_state.get("previous")
    if not isinstance(reference, dict):
        return SinceLastBuild(True, (), 0, (), (), ())
    old_runs = set(_strings(reference.get("runs")))
    new = sorted((r for r in site.runs if r["run_id"] not in old_runs),
                 key=lambda r: (-(r["start_time"] or 0), r["run_id"]))
    old_versions = reference.get("versions")
    old_versions = old_versions if isinstance(old_versions, dict) else {}
    versions, moves = [], []
    for s in site.models:
        for v in s.versions:
            link = Link(f"{s.model.name} v{v.version}", site.urls.lineage(s.model.name, v.version))
            before = old_versions.get(f"{s.model.name}|{v.version}")
            if not (isinstance(before, list) and len(before) == 2):
                before = None
            if before is None:
                versions.append(link)
            elif before != [v.current_stage, sorted(v.aliases)]:
                moves.append((f"now {v.current_stage}" + "".join(
                    f" @{a}" for a in sorted(v.aliases)) + f" (was {before[0]}" + "".join(
                    f" @{a}" for a in _strings(before[1])) + ")", link))
    regressions = []
    bests = reference.get("best")
    current_bests = _bests(site)
    for eid, entry in sorted(bests.items() if isinstance(bests, dict) else ()):
        if not (isinstance(entry, list) and len(entry) == 2
                and isinstance(entry[1], (int, float))):
            continue
        metric, value = entry
        now = current_bests.get(eid)
        if now and now[0] == metric and site.directions.better(metric, value, now[1]):
            regressions.append((f"{site.experiment_name(eid)}: best {metric} {now[1]:.4g} "
                                f"(was {value:.4g})", Link(site.experiment_name(eid),
                                                           site.urls.experiment(eid))))
    return SinceLastBuild(
        False, tuple(Link(run_label(r), site.urls.run(r["run_id"])) for r in new[:10]),
        max(0, len(new) - 10), tuple(versions), tuple(moves), tuple(regressions))


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    urls = site.urls
    yield ChangesPage(
        path=urls.changes, title="Changes",
        breadcrumbs=(Link("Home", urls.home), Link("Changes", urls.changes)),
        entries=tuple(reversed(entries(site))),
    )
