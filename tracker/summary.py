"""``tracker summary``'s report: what changed in a store since a baseline, as text or Markdown.

``tracker summary`` compares the store with a *baseline* (``tracker.changes``): the same store as
it was at a git ref (``main``, ``origin/main``, a commit), materialized with ``git archive``, or
a folder holding a snapshot of a store. It reports the runs that are new or changed (status, metrics or params)
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
import re
from collections.abc import Callable, Sequence

from tracker.changes import (
    IMPROVED,
    REGRESSED,
    RUN_NAME_TAG,
    Best,
    ExperimentSummary,
    MetricVerdict,
    RunChange,
    RunState,
    Snapshot,
    Summary,
    baseline_store,
    read_snapshot,
    summarize,
    summary,
)
from tracker.exceptions import InvalidArgumentError

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
