"""The run page: info, description, params, metrics with history charts, code version, tags,
datasets, artifacts with previews, parent and child runs, and the model versions it produced.

Besides ``runs/<id>.html`` a run gets one CSV file per charted metric (the full history; the
page embeds at most ``MAX_POINTS`` points per series) and a copy of each artifact that is
readable (a folder or S3) and that the publish rules let through (``artifacts.max_size``, ``include``,
``exclude``), so the page can link and preview it. Other artifacts are listed with their size
and the reason, without a link, a preview or a copy.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tracker import context as ctx
from tracker.query.bulk import Series
from tracker.site import charts, metric_csv, timeseries
from tracker.site.links import commit_url, repo_web_url, run_label
from tracker.site.pages import Group, KeptGroups, Link, Page, SiteFile, doc
from tracker.site.pages.artifacts import Artifact, Importance, importance, lazy_previews
from tracker.site.pages.artifacts import artifacts as artifact_list
from tracker.site.pages.run_summary import RunStrip, run_strip

if TYPE_CHECKING:
    from tracker.site.data import SiteData

log = logging.getLogger("tracker.site")

MAX_POINTS = 1000  # per displayed series; the CSV download has every point up to a size
# Tags shown elsewhere on the page (title, parent link, description, the code table).
SYSTEM_TAGS = frozenset({
    ctx.SOURCE_NAME, ctx.SOURCE_TYPE, ctx.GIT_COMMIT, ctx.GIT_BRANCH, ctx.GIT_REPO_URL,
    ctx.GIT_DIRTY, ctx.USER, ctx.RUN_NAME, ctx.PARENT_RUN_ID, ctx.NOTE, ctx.GIT_MESSAGE,
    ctx.SOURCE_PATH,
})


@dataclass(frozen=True)
class Field:
    """A labelled value: a param, a tag or a row of the code table."""

    label: str = doc("Name (escaped when rendered).")
    text: str = doc("Value (escaped when rendered).")
    href: str = doc("Link target: a site path or an https web page; '' for no link.", "")


@dataclass(frozen=True)
class MetricRow:
    """A metric's latest value in the metrics table."""

    key: str = doc("Metric name.")
    value: float = doc("Latest value (highest step, then latest time).")
    step: int = doc("Step of the latest value.")
    points: int = doc("Number of logged values.")
    best: float | None = doc("Best finite value over the history (by direction), if any.")
    direction: str = doc("'min' or 'max': which value is best; '' for a neutral metric.")
    csv: str = doc("Site path of the history as CSV ('' when it has one point).")
    csv_points: int = doc("Points in the CSV: fewer than ``points`` when the history was "
                          "downsampled to fit the config's site.max_csv_size (0: no CSV).", 0)


@dataclass(frozen=True)
class MetricChart:
    """A metric-history chart (drawn by run.js) and its CSV download."""

    key: str = doc("Metric name.")
    figure: dict[str, Any] = doc("Figure dict from charts.metric_history_figure.")
    csv: str = doc("Site path of the full history as CSV (step,timestamp,value).")
    points: int = doc("Number of logged values.")
    shown: int = doc("Number of points drawn (at most MAX_POINTS, after LTTB).")


@dataclass(frozen=True)
class Dataset:
    """A dataset the run used (``log_input``)."""

    name: str = doc("Dataset name.")
    context: str = doc("How it was used: training, validation, eval…")
    digest: str = doc("Digest of its content.")
    source: str = doc("Where it came from (path or URI), as text.")
    source_type: str = doc("Kind of source.")
    rows: int | None = doc("Number of rows, from its profile.")


@dataclass(frozen=True)
class ChildRun:
    """A child run (e.g. a sweep trial) with its primary metrics."""

    link: Link = doc("Name and run page.")
    status: str = doc("Run status.")
    dead: bool = doc("True when a RUNNING run's process died.")
    values: tuple[float | None, ...] = doc("Latest value of each of RunPage.child_metrics.")


@dataclass(frozen=True)
class VersionLink:
    """A registered model version produced by the run."""

    link: Link = doc("'name vN' and the version's lineage page.")
    stage: str = doc("Stage (None, Staging, Production, Archived).")
    aliases: tuple[str, ...] = doc("Aliases pointing at this version.")


@dataclass(frozen=True)
class RunPage(Page):
    """Everything about one run."""

    template = "run.html"

    run_id: str = doc("Run id.", "")
    experiment: Link = doc("The run's experiment.", Link("", ""))
    status: str = doc("RUNNING, FINISHED, FAILED or KILLED.", "")
    dead: bool = doc("True when the run is RUNNING but its process died.", False)
    start_time: int | None = doc("Start, ms since the epoch.", None)
    end_time: int | None = doc("End, ms since the epoch.", None)
    duration: float | None = doc("Seconds from start to end (None while running).", None)
    user: str = doc("Who ran it.", "")
    parent: Field | None = doc("The parent run (href '' when it is not in the site).", None)
    description: str = doc("Markdown description (mlflow.note.content).", "")
    params: tuple[Field, ...] = doc("Parameters, by name.", factory=tuple)
    metrics: tuple[MetricRow, ...] = doc("Latest metric values, by name.", factory=tuple)
    charts: tuple[MetricChart, ...] = doc("History charts of metrics with 2+ points.", factory=tuple)
    code: tuple[Field, ...] = doc("Source, commit, repository, branch, dirty, user.", factory=tuple)
    tags: tuple[Field, ...] = doc("The other tags, by name.", factory=tuple)
    inputs: tuple[Dataset, ...] = doc("Datasets used.", factory=tuple)
    artifacts: tuple[Artifact, ...] = doc("Artifact files, by path.", factory=tuple)
    previews_script: str = doc("Site path of the script with the long text previews "
                               "('' when every preview is in the page).", "")
    importance: tuple[Importance, ...] = doc("Feature importances from autolog's "
                                             "feature_importance_*.json, one per type.",
                                             factory=tuple)
    children: tuple[ChildRun, ...] = doc("Child runs, oldest first.", factory=tuple)
    child_metrics: tuple[str, ...] = doc("Metric columns of the children table.", factory=tuple)
    sweep: Link | None = doc("The sweep page of this run's children, when it has any.", None)
    versions: tuple[VersionLink, ...] = doc("Model versions registered from this run.", factory=tuple)
    strip: RunStrip | None = doc("The answer first: primary metric and rank, versions, sweep.", None)


# -- code version ---------------------------------------------------------------------------


def _redacted(remote: str) -> str:
    """A remote URL without its user:password part (tokens end up there)."""
    try:
        parts = urlsplit(remote)
    except ValueError:  # not a URL; the publish rules have already scanned it for secrets
        return remote
    if parts.scheme and "@" in parts.netloc:
        return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
    return remote


def local_name(value: str) -> str:
    """A recorded local path as something safe to publish: its file name (an absolute path
    names the machine and user that trained); URIs with a scheme and relative paths as given."""
    if value.startswith(("/", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", value) \
            or value.startswith("file:"):
        return re.split(r"[\\/]", value.rstrip("/\\"))[-1]
    return value


def _code_rows(tags: dict[str, str]) -> tuple[Field, ...]:
    rows = []
    source = tags.get(ctx.SOURCE_PATH) or local_name(tags.get(ctx.SOURCE_NAME, ""))
    if source:
        kind = tags.get(ctx.SOURCE_TYPE)
        rows.append(Field("source", source + (f" ({kind})" if kind else "")))
    remote = tags.get(ctx.GIT_REPO_URL, "")
    if tags.get(ctx.GIT_COMMIT):
        sha = tags[ctx.GIT_COMMIT]
        rows.append(Field("commit", sha, commit_url(remote, sha)))
        if tags.get(ctx.GIT_MESSAGE):
            rows.append(Field("message", tags[ctx.GIT_MESSAGE]))
    if remote:
        rows.append(Field("repository", _redacted(remote), repo_web_url(remote)))
    if tags.get(ctx.GIT_BRANCH):
        rows.append(Field("branch", tags[ctx.GIT_BRANCH]))
    if ctx.GIT_DIRTY in tags:
        dirty = tags[ctx.GIT_DIRTY].lower() == "true"
        rows.append(Field("dirty", "yes: uncommitted changes when the run started" if dirty
                          else "no"))
    if tags.get(ctx.USER):
        rows.append(Field("user", tags[ctx.USER]))
    return tuple(rows)


# -- metrics --------------------------------------------------------------------------------


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _metrics(
    site: SiteData, run: dict[str, Any], files: list[SiteFile]
) -> tuple[tuple[MetricRow, ...], tuple[MetricChart, ...]]:
    """The metrics table and the history charts; CSV files of the histories go to ``files``."""
    run_id = run["run_id"]
    latest = site.metrics.get(run_id, {})
    history = site.history(run_id)
    counts = site.metric_counts.get(run_id, {})
    rows, figures = [], []
    for key in sorted(set(latest) | set(history)):
        points = history.get(key) or Series([], [], [])
        values = points.values
        if None in values:
            values = [_number(v) for v in values]
        # every value finite (the usual case): no per-point filtering
        finite = values if all(map(math.isfinite, values)) else [
            v for v in values if math.isfinite(v)]
        direction = site.direction(key)
        csv_path = site.urls.run_metric_csv(run_id, key) if len(points) > 1 else ""
        csv_points = 0
        if csv_path:
            data, csv_points = metric_csv.history_csv(points, site.publish.config.site.max_csv_size)
            files.append(SiteFile(csv_path, data))
            chart = _chart(run, key, points, values, len(finite) == len(values), csv_path,
                           counts.get(key, len(points)))
            if chart is not None:
                figures.append(chart)
        rows.append(MetricRow(
            key=key,
            value=_number(latest.get(key, values[-1] if values else None)),
            step=points.steps[-1] if points else 0,
            points=counts.get(key, len(points)),
            best=(min if direction == "min" else max)(finite) if finite and direction else None,
            direction=direction,
            csv=csv_path,
            csv_points=min(csv_points, counts.get(key, len(points))),
        ))
    return tuple(rows), tuple(figures)


def _ints(numbers: list[int]) -> list[int]:
    """Steps or timestamps as ints (a NULL fails here, as it did before #14)."""
    return numbers if None not in numbers else [int(v) for v in numbers]


def _chart(
    run: dict[str, Any], key: str, points: Series, values: list[float], all_finite: bool,
    csv_path: str, logged: int,
) -> MetricChart | None:
    steps, times = _ints(points.steps), _ints(points.times)
    # Logged without steps (all 0): time is the only x-axis that spreads the points out.
    stepless = steps[0] == steps[-1]
    start = int(run["start_time"] or min(times))
    if all_finite and len(values) <= MAX_POINTS:  # every point drawn: no index lists (#14)
        shown, offsets, drawn = steps, [t - start for t in times], values
    else:
        keep = timeseries.downsample(times if stepless else steps, values, MAX_POINTS)
        if len(keep) < 2:
            return None
        shown = [steps[i] for i in keep]
        offsets = [times[i] - start for i in keep]
        drawn = [values[i] for i in keep]
    figure = charts.metric_history_figure(key, shown, offsets, drawn, start, stepless=stepless)
    return MetricChart(key, figure, csv_path, logged, len(shown))


# -- the rest -------------------------------------------------------------------------------


def _datasets(rows: list[dict[str, Any]]) -> tuple[Dataset, ...]:
    out = []
    for row in rows:
        try:
            profile = json.loads(row.get("profile") or "{}")
        except ValueError:
            profile = {}
        count = profile.get("num_rows") if isinstance(profile, dict) else None
        out.append(Dataset(
            name=row.get("name") or "", context=row.get("context") or "",
            digest=row.get("digest") or "", source=row.get("source") or "",
            source_type=row.get("source_type") or "",
            rows=count if isinstance(count, int) and not isinstance(count, bool) else None,
        ))
    return tuple(out)


def _children(site: SiteData, run_id: str) -> tuple[tuple[ChildRun, ...], tuple[str, ...]]:
    kids = [site.runs_by_id[c] for c in site.children.get(run_id, [])]
    keys = tuple(site.primary_metrics(kids, 3, directed_only=False))
    return tuple(
        ChildRun(
            link=Link(run_label(kid), site.urls.run(kid["run_id"])),
            status=kid["status"],
            dead=bool(kid["dead"]),
            values=tuple(site.metrics.get(kid["run_id"], {}).get(k) for k in keys),
        )
        for kid in kids
    ), keys


def _versions(site: SiteData, run_id: str) -> tuple[VersionLink, ...]:
    versions = sorted(site.versions_by_run.get(run_id, []), key=lambda v: (v.name, v.version))
    return tuple(
        VersionLink(Link(f"{v.name} v{v.version}", site.urls.lineage(v.name, v.version)),
                    v.current_stage, tuple(sorted(v.aliases)))
        for v in versions
    )


def _parent(site: SiteData, run: dict[str, Any]) -> Field | None:
    parent_id = run["parent_run_id"]
    if not parent_id:
        return None
    parent = site.runs_by_id.get(parent_id)
    if parent is None:
        return Field("parent", parent_id)
    return Field("parent", run_label(parent), site.urls.run(parent_id))


def run_page(site: SiteData, run: dict[str, Any], files: list[SiteFile]) -> RunPage:
    """The page of ``run``; the CSV histories and artifact copies it links are added to ``files``.

    Args:
        site: the build's data.
        run: a row of ``site.runs``.
        files: collects the run's ``SiteFile``s.
    """
    urls, run_id, eid = site.urls, run["run_id"], run["experiment_id"]
    tags = site.tags.get(run_id, {})
    metrics, figures = _metrics(site, run, files)
    artifacts, previews = lazy_previews(artifact_list(site, run, files),
                                        urls.run_previews(run_id))
    if previews is not None:
        files.append(previews)
    children, child_metrics = _children(site, run_id)
    start, end = run["start_time"], run["end_time"]
    experiment = Link(site.experiment_name(eid), urls.experiment(eid))
    return RunPage(
        strip=run_strip(site, run),
        path=urls.run(run_id),
        title=run_label(run),
        breadcrumbs=(Link("Home", urls.home), experiment, Link(run_label(run), urls.run(run_id))),
        run_id=run_id,
        experiment=experiment,
        status=run["status"],
        dead=bool(run["dead"]),
        start_time=start,
        end_time=end,
        duration=(end - start) / 1000 if start and end else None,
        user=run["user_id"] or tags.get(ctx.USER, ""),
        parent=_parent(site, run),
        description=tags.get(ctx.NOTE, ""),
        params=tuple(Field(k, v) for k, v in sorted(site.params.get(run_id, {}).items())),
        metrics=metrics,
        charts=figures,
        code=_code_rows(tags),
        tags=tuple(Field(k, v) for k, v in sorted(tags.items()) if k not in SYSTEM_TAGS),
        inputs=_datasets(site.inputs.get(run_id, [])),
        artifacts=artifacts,
        importance=importance(artifacts),
        previews_script=previews.path if previews is not None else "",
        children=children,
        sweep=Link(f"Sweep of {len(children)} trials", site.urls.sweep(run_id)) if children else None,
        child_metrics=child_metrics,
        versions=_versions(site, run_id),
    )


def _run_items(site: SiteData, run: dict[str, Any]) -> list[Page | SiteFile]:
    files: list[SiteFile] = []
    return [run_page(site, run, files), *files]


def collect(site: SiteData) -> Iterable[Group | KeptGroups]:
    """One group per run: its page, CSV histories and artifact copies, redone when it changes;
    the runs that did not change are kept in one go."""
    dirty = site.dirty_runs  # the groups the build makes: their histories are read in batches
    # In run id order: the store's rows mostly are, so each batch reads a few row groups (#14).
    runs = sorted(site.runs, key=lambda run: run["run_id"])
    site.plan_histories(run["run_id"] for run in runs if run["run_id"] in dirty)
    fingerprint = site.run_fingerprint
    yield KeptGroups(tuple((f"run:{run['run_id']}", fingerprint(run)) for run in site.runs
                           if run["run_id"] not in dirty))
    for run in runs:
        if run["run_id"] in dirty:
            yield Group(f"run:{run['run_id']}", fingerprint(run), partial(_run_items, site, run))
