"""The lineage of each registered model version: datasets and code → training run → model files
→ registered version → stage and aliases, drawn as an inline SVG with the same facts as tables.

Everything is read through ``SiteData`` (bulk query-layer reads and the registry), the same
facts ``tracker.provenance.lineage`` gathers through a client.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from tracker.exceptions import TrackerError
from tracker.site import svg
from tracker.site.pages import Link, Page, SiteFile, doc
from tracker.site.pages.registry import TimelineEntry, VersionRow, iso_time, timeline, version_row
from tracker.site.render import format_metric
from tracker.site.urls import relative

if TYPE_CHECKING:
    from tracker.registry import ModelVersion
    from tracker.site.data import ModelState, SiteData

COMMIT_TAG = "mlflow.source.git.commit"
BRANCH_TAG = "mlflow.source.git.branch"
DIRTY_TAG = "tracker.source.git.dirty"


@dataclass(frozen=True)
class DatasetRow:
    """A dataset the training run logged as an input."""

    name: str = doc("Dataset name.")
    digest: str = doc("Content digest.")
    context: str = doc("How the run used it (training, validation…), '' when not given.")
    source: str = doc("Where it came from (URI or path), '' when not given.")
    source_type: str = doc("Kind of source (local, synthetic, code…).")
    profile: str = doc("Rows × columns when profiled, else ''.")


@dataclass(frozen=True)
class LineagePage(Page):
    """One registered model version and everything that led to it."""

    template = "lineage.html"

    model: Link | None = doc("The registered model and its page.", None)
    version: VersionRow | None = doc("The version (stage, aliases, run, source…).", None)
    graph: Markup = doc("The lineage as inline SVG, built with escaped text.", Markup(""))
    steps: Markup = doc("The same lineage as a stacked HTML list, shown instead of the SVG on "
                        "narrow screens (#18).", Markup(""))
    experiment: Link | None = doc("The training run's experiment, when in this store.", None)
    run_status: str = doc("The training run's status ('' when the run is missing).", "")
    datasets: tuple[DatasetRow, ...] = doc("Input datasets of the run, in logging order.",
                                           factory=tuple)
    git_commit: str = doc("Git commit of the training code ('' when unknown).", "")
    git_branch: str = doc("Git branch of the training code ('' when unknown).", "")
    git_dirty: bool = doc("True when the working tree had uncommitted changes.", False)
    params: tuple[tuple[str, str], ...] = doc("The run's params, by key.", factory=tuple)
    metrics: tuple[tuple[str, float], ...] = doc("The run's latest metrics, by key.",
                                                 factory=tuple)
    artifact_path: str = doc("Where the model sits in the run's artifacts ('' unknown).", "")
    flavors: tuple[str, ...] = doc("Model flavors recorded at registration.", factory=tuple)
    files: tuple[tuple[str, str], ...] = doc("Model files and their sha256, by path.",
                                             factory=tuple)
    timeline: tuple[TimelineEntry, ...] = doc("Changes of this version, oldest first.",
                                              factory=tuple)


def _profile(text: Any) -> str:
    try:
        profile = json.loads(text) if text else None
    except ValueError:
        return ""
    if not isinstance(profile, dict):
        return ""
    rows, cols = profile.get("num_rows"), profile.get("num_columns")
    if isinstance(rows, int) and isinstance(cols, int):
        return f"{rows:,} rows × {cols:,} columns"
    return f"{rows:,} rows" if isinstance(rows, int) else ""


def _source(d: dict[str, Any]) -> tuple[str, str]:
    """(source as published, its kind in words): a local path as its file name (no path of the
    machine that trained is published, #10); no source at all says so instead of "code"."""
    from tracker.site.pages.run import local_name

    source = str(d.get("source") or "")
    kind = str(d.get("source_type") or "")
    if not source:
        return "", "in memory (no source recorded)" if kind in ("", "code") else kind
    return local_name(source), kind


def _datasets(site: SiteData, run_id: str) -> tuple[DatasetRow, ...]:
    return tuple(
        DatasetRow(str(d.get("name") or ""), str(d.get("digest") or ""),
                   str(d.get("context") or ""), *_source(d), _profile(d.get("profile")))
        for d in site.inputs.get(run_id, [])
    )


def _info(site: SiteData, version: ModelVersion) -> dict[str, Any]:
    """The version's model info (read from the registry, so its text is redacted here)."""
    try:
        info = site.registry.version_info(site.registered_name(version.name), version.version)
    except TrackerError:  # a version deleted since listing: show what we have
        return {}
    if not isinstance(info, dict):
        return {}
    return site.publish.redact_model_info(info)


def _input_nodes(page: LineagePage, run_href: str | None) -> list[svg.Node]:
    nodes = [
        svg.Node(f"dataset-{i}", "dataset", d.name or "dataset",
                 tuple(t for t in (d.context, f"digest {d.digest[:12]}" if d.digest else "",
                                   d.profile) if t),
                 run_href, f"dataset {d.name}\n{d.context}\ndigest {d.digest}\n{d.source}")
        for i, d in enumerate(page.datasets)
    ]
    if page.git_commit:
        lines = tuple(t for t in (page.git_branch and f"branch {page.git_branch}",
                                  "uncommitted changes" if page.git_dirty else "") if t)
        nodes.append(svg.Node("code", "code", f"git {page.git_commit[:10]}", lines, run_href,
                              f"git commit {page.git_commit}"))
    if page.experiment is not None:
        nodes.append(svg.Node("experiment", "experiment", page.experiment.label, ("experiment",),
                              relative(page.path, page.experiment.href)))
    return nodes


def _graph(site: SiteData, page: LineagePage) -> tuple[Markup, Markup]:
    """The SVG (inputs → run → model files → version → stage and aliases) and the same as a
    stacked list for narrow screens."""
    assert page.version is not None and page.model is not None
    version = page.version
    here = page.path
    run_href = relative(here, version.run.href) if version.run else None
    inputs = _input_nodes(page, run_href)
    metrics = site.primary_metrics([site.runs_by_id[version.run_id]], 2,
                                                directed_only=False) if version.run else []
    values = dict(page.metrics)
    run_lines = (page.run_status.lower(), *(f"{k} {format_metric(values[k])}" for k in metrics))
    run_node = svg.Node(
        "run", "run", version.run.label if version.run else f"run {version.run_id[:8] or '?'}",
        run_lines if version.run else ("not in this store",), run_href,
        f"training run {version.run_id}")
    file_lines = [f"{path} {digest[:8]}" for path, digest in page.files]
    files_node = svg.Node(
        "files", "files", page.artifact_path or "model files",
        tuple([", ".join(page.flavors)] if page.flavors else []) + tuple(file_lines),
        run_href, "model files\n" + "\n".join(f"{p} sha256 {d}" for p, d in page.files))
    model_href = relative(here, page.model.href)
    version_node = svg.Node(
        "version", "version", f"{page.model.label} v{version.version}",
        (f"registered {iso_time(version.created)[:10]}", f"by {version.user}"),
        model_href + f"#v{version.version}")
    outputs = [svg.Node("stage", f"stage-{version.stage.lower()}", f"stage: {version.stage}",
                        (), model_href)]
    outputs += [svg.Node(f"alias-{a}", "alias", f"@{a}", ("alias",), model_href)
                for a in version.aliases]
    columns = [inputs, [run_node], [files_node], [version_node], outputs]
    edges = [(n.key, "run") for n in inputs] + [("run", "files"), ("files", "version")]
    edges += [("version", n.key) for n in outputs]
    headings = ["Data and code", "Training run", "Model files", "Registered version",
                "Stage and aliases"]
    label = f"Lineage of {page.model.label} version {version.version}"
    kept = [(h, c) for h, c in zip(headings, columns) if c]
    return (svg.graph_svg([c for _, c in kept], edges, label),
            svg.graph_list([c for _, c in kept], [h for h, _ in kept], label))


def lineage_page(site: SiteData, state: ModelState, version: ModelVersion) -> LineagePage:
    """The lineage page of one version."""
    urls = site.urls
    name = state.model.name
    row = version_row(site, version)
    run = site.runs_by_id.get(row.run_id)
    tags = site.tags.get(row.run_id, {}) if run else {}
    info = _info(site, version)
    history = [e for e in state.history
               if e.version == version.version or e.event in ("model_created", "model_renamed")]
    page = LineagePage(
        path=urls.lineage(name, version.version),
        title=f"{name} v{version.version}",
        breadcrumbs=(Link("Home", urls.home), Link("Models", urls.registry),
                     Link(name, urls.model(name)),
                     Link(f"v{version.version}", urls.lineage(name, version.version))),
        model=Link(name, urls.model(name)),
        version=row,
        experiment=Link(site.experiment_name(run["experiment_id"]),
                        urls.experiment(run["experiment_id"])) if run else None,
        run_status=("DEAD" if run["dead"] else str(run["status"])) if run else "",
        datasets=_datasets(site, row.run_id) if run else (),
        git_commit=str(tags.get(COMMIT_TAG, "")),
        git_branch=str(tags.get(BRANCH_TAG, "")),
        git_dirty=str(tags.get(DIRTY_TAG, "")).lower() == "true",
        params=tuple(sorted(site.params.get(row.run_id, {}).items())) if run else (),
        metrics=tuple(sorted(site.metrics.get(row.run_id, {}).items())) if run else (),
        artifact_path=str(info.get("artifact_path") or ""),
        flavors=tuple(sorted(str(f) for f in info.get("flavors") or [])),
        files=tuple(sorted((str(k), str(v)) for k, v in dict(info.get("files") or {}).items())),
        timeline=timeline(site, name, history),
    )
    graph, steps = _graph(site, page)
    return replace(page, graph=graph, steps=steps)


def collect(site: SiteData) -> Iterable[Page | SiteFile]:
    for state in site.models:
        for version in state.versions:
            yield lineage_page(site, state, version)
