"""Lineage of a registered model version: data → run → model files → version → stages/aliases."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.client import TrackerClient
    from tracker.entities import Experiment, Run
    from tracker.registry import ModelVersion, RegistryEvent


@dataclass(frozen=True)
class DatasetLink:
    name: str
    digest: str
    source: str
    context: str | None
    profile: str | None


@dataclass(frozen=True)
class ModelFiles:
    """The model artifact: where it is, its files' checksums, and whether they still match."""

    source: str
    local_path: str | None
    flavors: list[str]
    files: dict[str, str]
    verified: bool | None
    mismatched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lineage:
    """Everything that led to a registered model version, and what happened to it since."""

    name: str
    version: ModelVersion
    datasets: list[DatasetLink]
    run: Run | None
    experiment: Experiment | None
    git_commit: str | None
    model_files: ModelFiles
    stage: str
    aliases: list[str]
    history: list[RegistryEvent]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lineage(client: TrackerClient, name: str, version: Any) -> Lineage:
    from tracker.exceptions import NotFoundError

    mv = client.registry.get_model_version(name, version)
    info = client.registry.version_info(name, mv.version)
    run = experiment = None
    datasets: list[DatasetLink] = []
    if mv.run_id:
        try:
            run = client.get_run(mv.run_id)
            experiment = client.get_experiment(run.info.experiment_id)
        except NotFoundError:
            run = None
    if run is not None:
        for item in run.inputs.dataset_inputs:
            ds = item.dataset
            datasets.append(DatasetLink(ds.name, ds.digest, ds.source, item.context, ds.profile))
    return Lineage(
        name=mv.name,
        version=mv,
        datasets=datasets,
        run=run,
        experiment=experiment,
        git_commit=run.data.tags.get("mlflow.source.git.commit") if run else None,
        model_files=_files(client, mv.source, info),
        stage=mv.current_stage,
        aliases=list(mv.aliases),
        history=[
            e for e in client.registry.history(name)
            if e.version == mv.version or e.event in ("model_created", "model_renamed")
        ],
    )


def _files(client: TrackerClient, source: str, info: dict[str, Any]) -> ModelFiles:
    from tracker.artifacts import sha256_file
    from tracker.model_uri import resolve

    recorded: dict[str, str] = dict(info.get("files") or {})
    try:
        local: str | None = resolve(client, source).local_path
    except Exception:  # noqa: BLE001 - the files may be gone; lineage still shows the record
        local = None
    mismatched = []
    if local is not None and recorded:
        for rel, digest in sorted(recorded.items()):
            path = os.path.join(local, *rel.split("/"))
            if not os.path.isfile(path) or sha256_file(path) != digest:
                mismatched.append(rel)
    verified = None if local is None or not recorded else not mismatched
    return ModelFiles(source, local, list(info.get("flavors") or []), recorded, verified, mismatched)
