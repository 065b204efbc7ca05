"""What changed in a store since a baseline: new and changed runs against the baseline's best.

``tracker summary`` compares the store with a *baseline*: the same store as it was at a git ref
(``main``, ``origin/main``, a commit), materialized with ``git archive``, or a folder holding a
snapshot of a store. It reports the runs that are new or changed (status, metrics or params)
since then, grouped per experiment, and for each metric the baseline's best against the best
new value, with the metric directions of the site (``tracker.directions``: the project's
``[metrics]`` rules, else lower is better for well-known losses and errors and higher for
accuracies and scores; counters such as ``best_iteration`` or ``n_trials`` are neutral and get
no verdict). Only FINISHED runs compete for "best", so
a crashed run's partial metrics neither win nor count as a regression.

The report renders as a plain-text table or as GitHub-flavoured Markdown (for a job summary or
a pull-request comment); every name and value from the store is escaped there, since a run
name is data. ``summary(..., publish=rules)`` reads both stores through the site's publish
rules (``tracker.site.publish.PublishRules``), so a summary shows exactly what the site shows:
the same experiments, and the same redaction of run and experiment names, param keys and
values, and metric keys (#15). ``redact(key, value)`` lets a caller of ``to_text`` or
``to_markdown`` hide more: it is applied to param values (by key) and to every name shown
(with an empty key).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
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
    "to_markdown",
    "to_text",
]

Redact = Callable[[str, str], str]
"""``redact(key, value)`` → the text to show for a param or tag value."""

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


def read_snapshot(uri: str, publish: PublishFilter | None = None) -> Snapshot:
    """Read the active experiments and runs of the store at ``uri`` through the query layer.

    Args:
        uri: the store.
        publish: publish rules applied to the records first (the site's: hidden experiments
            and metrics left out, names and values redacted); None reads the store as it is.
    """
    from tracker.query import StoreQuery, bulk
    from tracker.uri import open_store

    if not isinstance(uri, str) or not uri:
        raise InvalidArgumentError(f"read_snapshot needs a store URI, got {uri!r}.")
    query = StoreQuery(open_store(uri), publish=publish)
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
        before = read_snapshot(path, publish)
    return summarize(current, before, label, metrics=metrics, directions=directions)


# -- rendering ----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Inline syntax a name could use; block syntax (#, +, >) only acts at a line start, never in a cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _num(value: float) -> str:
    return f"{value:.6g}"


def _signed(value: float) -> str:
    return f"{value:+.4g}"


def _name(run: RunState, redact: Redact | None) -> str:
    name = run.name or run.run_id[:8]
    return redact(RUN_NAME_TAG, name) if redact else name


def _params(run: RunState, redact: Redact | None) -> str:
    shown = (
        (redact("", k), redact(k, v)) if redact else (k, v) for k, v in sorted(run.params.items())
    )
    return ", ".join(f"{k}={v}" for k, v in shown)


def _text(text: str, redact: Redact | None) -> str:
    """An experiment name or metric key as shown (names take the redactor with no key)."""
    return redact("", text) if redact else text


def _cell(run: RunState, verdict: MetricVerdict) -> str:
    """A run's value of one metric, marked against the baseline's best."""
    value = run.metrics.get(verdict.key)
    if value is None:
        return ""
    if verdict.baseline is None or not math.isfinite(value):
        return _num(value)
    if verdict.better(value, verdict.baseline.value):
        return f"{_num(value)} (new best)"
    if value == verdict.baseline.value:
        return f"{_num(value)} (= best)"
    return f"{_num(value)} ({_signed(value - verdict.baseline.value)} vs best)"


def _verdict_text(
    m: MetricVerdict, name: Callable[[Best], str], redact: Redact | None
) -> list[str]:
    """metric, better, baseline best, best now, verdict: one row of the metrics table."""
    better = "lower" if m.direction == "min" else "higher"
    base = f"{_num(m.baseline.value)} ({name(m.baseline)})" if m.baseline else "none"
    now = f"{_num(m.current.value)} ({name(m.current)})" if m.current else "none"
    verdict = m.verdict
    if m.baseline and m.current and m.verdict in (IMPROVED, REGRESSED):
        verdict = f"{m.verdict} ({_signed(m.current.value - m.baseline.value)})"
    return [_text(m.key, redact), better, base, now, verdict]


def _headline(s: Summary) -> str:
    runs = sum(len(e.runs) for e in s.experiments)
    if not runs:
        return f"No new or changed runs since {s.baseline}."
    return (
        f"{runs} new or changed run{'s' * (runs != 1)} in {len(s.experiments)} "
        f"experiment{'s' * (len(s.experiments) != 1)} since {s.baseline}: "
        f"{len(s.improvements)} new best, {len(s.regressions)} regression"
        f"{'s' * (len(s.regressions) != 1)}."
    )


def _run_rows(e: ExperimentSummary, redact: Redact | None) -> list[list[str]]:
    return [
        [
            _name(c.run, redact),
            c.run.run_id,
            c.run.status,
            c.change,
            *(_cell(c.run, m) for m in e.metrics),
            _params(c.run, redact),
        ]
        for c in e.runs
    ]


def _plain(text: str) -> str:
    """One line without control characters (a name could hold terminal escape sequences)."""
    return _CONTROL.sub("?", text)


def to_text(summary: Summary, *, site_url: str | None = None, redact: Redact | None = None) -> str:
    """The summary as plain text: a headline, then per experiment a metrics and a runs table.

    Args:
        summary: what ``summarize`` found.
        site_url: the published site; its run pages are listed under each table.
        redact: ``redact(key, value)`` → the shown text of a param value or run name.
    """
    from tracker.output import render

    if site_url is not None:
        _check_site_url(site_url)

    def best_name(best: Best) -> str:
        run = RunState(best.run_id, "", best.run_name, "", {}, {})
        return _name(run, redact)

    out = [_headline(summary)]
    for e in summary.experiments:
        out += ["", f"Experiment {_plain(_text(e.name, redact))}"]
        if e.metrics:
            header = ["metric", "better", "baseline best", "best now", "verdict"]
            rows = [_verdict_text(m, best_name, redact) for m in e.metrics]
            out += ["", render(header, [[_plain(c) for c in r] for r in rows], "table")]
        keys = (_text(m.key, redact) for m in e.metrics)
        header = ["run", "run_id", "status", "change", *keys, "params"]
        rows = [[_plain(c) for c in r] for r in _run_rows(e, redact)]
        out += ["", render([_plain(h) for h in header], rows, "table")]
        if site_url:
            out += ["", f"Site: {_site(site_url)}"]
    out += _removed_lines(summary, redact, _plain)
    return "\n".join(out) + "\n"


def md(text: str) -> str:
    """Text made inert in GitHub-flavoured Markdown: HTML escaped, Markdown syntax escaped,
    one line, and no @mentions (a zero-width space after ``@``)."""
    text = _CONTROL.sub(" ", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("@", "@\u200b")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _site(site_url: str, page: str = "") -> str:
    return site_url.rstrip("/") + "/" + page


def _link(text: str, site_url: str | None, page: str) -> str:
    """Markdown link to a page of the site (text already escaped)."""
    if not site_url:
        return text
    return f"[{text}](<{_site(site_url, page)}>)"


def to_markdown(
    summary: Summary,
    *,
    site_url: str | None = None,
    redact: Redact | None = None,
) -> str:
    """The summary as GitHub-flavoured Markdown, every name and value escaped.

    Args:
        summary: what ``summarize`` found.
        site_url: the published site: experiment and run names link to their pages.
        redact: ``redact(key, value)`` → the shown text of a param value or run name.
    """
    from tracker.site.urls import Urls

    if site_url is not None:
        _check_site_url(site_url)
    urls = Urls({e.experiment_id: e.name for e in summary.experiments})

    def best_name(best: Best) -> str:
        run = RunState(best.run_id, "", best.run_name, "", {}, {})
        return _link(md(_name(run, redact)), site_url, urls.run(best.run_id))

    out = ["### Tracker summary", "", md(_headline(summary))]
    if site_url:
        out[-1] += f" Site: <{_site(site_url)}>"
    for e in summary.experiments:
        out += [
            "",
            "#### Experiment "
            + _link(md(_text(e.name, redact)), site_url, urls.experiment(e.experiment_id)),
        ]
        if e.metrics:
            header = ["metric", "better", "baseline best", "best now", "verdict"]
            rows = []
            for m in e.metrics:
                row = _verdict_text(m, best_name, redact)
                marker = {IMPROVED: "✅ ", REGRESSED: "❌ "}.get(m.verdict, "")
                rows.append([md(row[0]), row[1], *row[2:4], marker + md(row[4])])
            out += ["", *_md_table(header, rows)]
        header = ["run", "status", "change", *(md(_text(m.key, redact)) for m in e.metrics),
                  "params"]
        rows = [
            [
                _link(md(r[0]), site_url, urls.run(r[1])) + f" {md(r[1][:8])}",
                *(md(c) for c in r[2:]),
            ]
            for r in _run_rows(e, redact)
        ]
        out += ["", *_md_table(header, rows)]
    out += _removed_lines(summary, redact, md)
    return "\n".join(out) + "\n"


def _check_site_url(site_url: str) -> None:
    if not re.fullmatch(r"https?://[^\s<>()\[\]\"'`]+", site_url):
        raise InvalidArgumentError(
            f"Site URL {site_url!r}: give an http(s) URL without spaces, quotes or brackets, "
            "e.g. https://me.github.io/project/."
        )


def _removed_lines(
    summary: Summary, redact: Redact | None, escape: Callable[[str], str]
) -> list[str]:
    if not summary.removed:
        return []
    names = ", ".join(escape(_name(r, redact)) for r in summary.removed)
    return ["", f"{len(summary.removed)} baseline run(s) no longer in the store: {names}"]


def exit_code(summary: Summary, fail_on_regression: bool) -> int:
    """3 when regressions were found and should fail the job, else 0 (1 is left for errors)."""
    return 3 if fail_on_regression and summary.regressions else 0
