"""Read MLflow's file store (an ``mlruns`` folder) without MLflow: meta.yaml files and key files.

Layout read (MLflow 1.x to 3.x)::

    <root>/<experiment_id>/meta.yaml                 experiment; tags/<key> files beside it
    <root>/<experiment_id>/<run_id>/meta.yaml        run; params/, tags/, metrics/<key> files
    <root>/<experiment_id>/<run_id>/inputs/<id>/meta.yaml   dataset inputs (MLflow ≥ 2.4)
    <root>/<experiment_id>/datasets/<id>/meta.yaml   the datasets they point to
    <root>/.trash/<experiment_id>/…                  deleted experiments, same layout
    <root>/models/<name>/meta.yaml                   registered model; tags/, aliases/,
    <root>/models/<name>/version-<n>/meta.yaml       versions with their tags/

Keys may contain ``/`` (nested files). A metric file has one ``timestamp value [step]`` line
per point. A run folder without a readable meta.yaml is skipped with a warning, as MLflow does.
"""

from __future__ import annotations

import logging
import math
import os
from typing import TYPE_CHECKING, Any

from tracker.exceptions import StoreError
from tracker.importers.mlflow_source import (
    CONTEXT_TAG,
    MlflowDataset,
    MlflowExperiment,
    MlflowMetric,
    MlflowModel,
    MlflowRun,
    MlflowVersion,
    dataset_source,
    status_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

log = logging.getLogger("tracker.importers")

TRASH = ".trash"
MODELS = "models"
META = "meta.yaml"
# Folders inside an experiment folder that are not runs.
NOT_RUNS = frozenset({"tags", "datasets", "models", "traces"})


class FileSource:
    """An MLflow ``mlruns`` folder.

    Args:
        root: the folder.
        uri: the URI the user gave, for messages.
    """

    def __init__(self, root: str, uri: str) -> None:
        self.root = root
        self.uri = uri
        self.warnings: list[str] = []
        self._dirs = self._experiment_dirs()
        if not self._dirs and not os.path.isdir(os.path.join(root, MODELS)):
            raise StoreError(
                f"{root} (from {uri!r}) is not an MLflow store: it has no experiment folders "
                "with a meta.yaml (like 0/meta.yaml) and no models/ folder. Give the mlruns "
                "folder itself, or sqlite:///path/to/mlflow.db."
            )

    def artifact_bases(self) -> Sequence[str]:
        return (self.root, os.path.join(self.root, TRASH), os.path.dirname(self.root))

    def artifact_roots(self) -> Sequence[str]:
        return (self.root,)

    def _experiment_dirs(self) -> dict[str, str]:
        """MLflow experiment id → its folder (live ones win over the trash)."""
        found: dict[str, str] = {}
        for parent in (os.path.join(self.root, TRASH), self.root):
            for name in _subdirs(parent):
                if name not in (TRASH, MODELS) and os.path.isfile(os.path.join(parent, name, META)):
                    found[name] = os.path.join(parent, name)
        return found

    def experiments(self) -> list[MlflowExperiment]:
        out = []
        for folder in self._dirs.values():
            meta = _meta(os.path.join(folder, META))
            trashed = os.path.dirname(folder).endswith(TRASH)
            out.append(
                MlflowExperiment(
                    experiment_id=str(meta.get("experiment_id", os.path.basename(folder))),
                    name=_text(meta.get("name"), os.path.basename(folder)),
                    artifact_location=_text(meta.get("artifact_location")),
                    lifecycle_stage="deleted"
                    if trashed
                    else _text(meta.get("lifecycle_stage"), "active"),
                    creation_time=_int_or_none(meta.get("creation_time")),
                    last_update_time=_int_or_none(meta.get("last_update_time")),
                    tags=_key_files(os.path.join(folder, "tags")),
                )
            )
        return sorted(out, key=lambda e: (len(e.experiment_id), e.experiment_id))

    def runs(self, experiment: MlflowExperiment) -> Iterator[MlflowRun]:
        folder = self._dirs[experiment.experiment_id]
        datasets = self._datasets(folder)
        runs = []
        for name in _subdirs(folder):
            if name in NOT_RUNS:
                continue
            run = self._run(os.path.join(folder, name), experiment.experiment_id, datasets)
            if run is not None:
                runs.append(run)
        yield from sorted(runs, key=lambda r: (r.start_time or 0, r.run_id))

    def _run(
        self, folder: str, experiment_id: str, datasets: dict[str, dict[str, Any]]
    ) -> MlflowRun | None:
        path = os.path.join(folder, META)
        try:
            meta = _meta(path)
        except (StoreError, FileNotFoundError) as exc:
            self._warn(f"Skipping MLflow run folder {folder}: {exc}")
            return None
        run_id = _text(meta.get("run_id") or meta.get("run_uuid"), os.path.basename(folder))
        tags = _key_files(os.path.join(folder, "tags"))
        return MlflowRun(
            run_id=run_id,
            experiment_id=experiment_id,
            name=_text(meta.get("run_name") or tags.get("mlflow.runName")),
            status=status_name(meta.get("status"), path),
            start_time=_int_or_none(meta.get("start_time")),
            end_time=_int_or_none(meta.get("end_time")),
            user_id=_text(meta.get("user_id")),
            lifecycle_stage=_text(meta.get("lifecycle_stage"), "active"),
            artifact_uri=_text(meta.get("artifact_uri")),
            params=_key_files(os.path.join(folder, "params")),
            tags=tags,
            metrics=self._metrics(os.path.join(folder, "metrics")),
            inputs=self._inputs(os.path.join(folder, "inputs"), datasets),
        )

    def _metrics(self, folder: str) -> list[MlflowMetric]:
        points = []
        for key, text in sorted(_key_files(folder).items()):
            for number, line in enumerate(text.splitlines(), start=1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    step = int(fields[2]) if len(fields) > 2 else 0
                    points.append(MlflowMetric(key, float(fields[1]), int(fields[0]), step))
                except (IndexError, ValueError):
                    self._warn(
                        f"Skipping line {number} of metric file {folder}/{key}: {line!r} "
                        "is not 'timestamp value step'."
                    )
        points.sort(key=lambda m: (m.key, m.step, m.timestamp))
        return points

    def _datasets(self, folder: str) -> dict[str, dict[str, Any]]:
        base = os.path.join(folder, "datasets")
        out = {}
        for name in _subdirs(base):
            path = os.path.join(base, name, META)
            if os.path.isfile(path):
                out[name] = _meta(path)
        return out

    def _inputs(self, folder: str, datasets: dict[str, dict[str, Any]]) -> list[MlflowDataset]:
        out = []
        for name in _subdirs(folder):
            path = os.path.join(folder, name, META)
            if not os.path.isfile(path):
                continue
            meta = _meta(path)
            dataset = datasets.get(str(meta.get("source_id")))
            if meta.get("source_type") != "DATASET" or dataset is None:
                continue
            raw_tags = meta.get("tags")
            tags = raw_tags if isinstance(raw_tags, dict) else {}
            out.append(
                MlflowDataset(
                    _text(dataset.get("name")),
                    _text(dataset.get("digest")),
                    _text(dataset.get("source_type")),
                    dataset_source(_text(dataset.get("source"))),
                    _text(dataset.get("schema")),
                    _text(dataset.get("profile")),
                    _text(tags.get(CONTEXT_TAG)),
                )
            )
        return sorted(out, key=lambda d: (d.name, d.digest))

    def models(self) -> list[MlflowModel]:
        base = os.path.join(self.root, MODELS)
        out = []
        for name in _subdirs(base):
            folder = os.path.join(base, name)
            if os.path.isfile(os.path.join(folder, META)):
                out.append(self._model(folder))
        return sorted(out, key=lambda m: m.name)

    def _model(self, folder: str) -> MlflowModel:
        meta = _meta(os.path.join(folder, META))
        aliases = {str(k): int(v) for k, v in (meta.get("aliases") or {}).items()}
        aliases.update({k: int(v) for k, v in _key_files(os.path.join(folder, "aliases")).items()})
        versions = []
        for name in _subdirs(folder):
            path = os.path.join(folder, name, META)
            if name.startswith("version-") and os.path.isfile(path):
                version = _version(_meta(path), os.path.join(folder, name, "tags"))
                if version is not None:
                    versions.append(version)
        return MlflowModel(
            name=_text(meta.get("name"), os.path.basename(folder)),
            creation_time=int(meta.get("creation_timestamp") or 0),
            last_updated_time=int(meta.get("last_updated_timestamp") or 0),
            description=_text(meta.get("description")),
            tags=_key_files(os.path.join(folder, "tags")),
            aliases=dict(sorted(aliases.items())),
            versions=sorted(versions, key=lambda v: v.version),
        )

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s", message)


def _version(meta: dict[str, Any], tags_folder: str) -> MlflowVersion | None:
    stage = _text(meta.get("current_stage"), "None")
    if stage == "Deleted_Internal":
        return None
    return MlflowVersion(
        version=int(meta["version"]),
        creation_time=int(meta.get("creation_timestamp") or 0),
        last_updated_time=int(meta.get("last_updated_timestamp") or 0),
        description=_text(meta.get("description")),
        user_id=_text(meta.get("user_id")),
        stage=stage,
        source=_text(meta.get("source")),
        run_id=meta.get("run_id") or None,
        status=_text(meta.get("status"), "READY"),
        status_message=meta.get("status_message"),
        tags=_key_files(tags_folder),
    )


def _meta(path: str) -> dict[str, Any]:
    """One meta.yaml as a dict; a malformed one is a ``StoreError`` naming the file."""
    import yaml

    with open(path, encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise StoreError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise StoreError(f"{path} does not hold a YAML mapping (got {type(data).__name__}).")
    return data


def _key_files(folder: str) -> dict[str, str]:
    """Files under ``folder`` as key (relative path with ``/``) → content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            key = os.path.relpath(path, folder).replace(os.sep, "/")
            with open(path, encoding="utf-8") as fh:
                out[key] = fh.read()
    return out


def _subdirs(folder: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _text(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)
