"""Import an MLflow store into a tracker store: ``import_mlflow(uri, client)``.

What is kept: experiments (name, tags, lifecycle stage, creation time; MLflow's ``Default``
experiment ``0`` becomes tracker's ``0``, every other experiment gets the id tracker derives from
its name), runs under MLflow's run ids (name, status, start and end time, user, lifecycle stage,
params, tags, full metric histories with NaN and ±inf, dataset inputs), local artifacts (copied
into the run's artifact folder of the tracker store), and the registry (models, versions with
source run, stage, status, description and tags, aliases) with MLflow's times and users.

Re-running is safe and incremental. Experiments are matched by name, runs by run id, models by
name and versions by number. A run that is already in the store gets only what differs from
MLflow, as one new file: new metric points, params and dataset inputs, tags and attributes
(status, end time, name, lifecycle stage) whose MLflow value changed, artifact files not copied
yet. So MLflow's value wins for what changed on both sides, and the store's history keeps both.
Nothing is deleted in the tracker store because it is missing from MLflow. The same rule holds
for the registry (stage, description, tags, aliases), whose events record the change.

Each new run is written as one file (all or nothing), after its artifacts are copied; a killed
import is finished by running it again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tracker.entities import LifecycleStage, RunStatus, ViewType
from tracker.exceptions import InvalidArgumentError, NotFoundError, TrackerError
from tracker.importers.mlflow_files import FileSource
from tracker.importers.mlflow_registry import RegistryImporter
from tracker.importers.mlflow_source import find_local_dir, inside, local_path
from tracker.importers.mlflow_sqlite import SqliteSource
from tracker.validation import validate_run_id

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tracker.client import TrackerClient
    from tracker.entities import Experiment
    from tracker.importers.mlflow_source import (
        MlflowDataset,
        MlflowExperiment,
        MlflowRun,
        MlflowSource,
    )

SOURCE_TAG = "tracker.import.source"
LOCATION_TAG = "tracker.import.artifact_location"
REMOTE_ARTIFACTS_TAG = "tracker.import.artifact_uri"
DEFAULT_ID = "0"


@dataclass
class ImportSummary:
    """What an import wrote (or, with ``dry_run``, would write)."""

    source: str
    dry_run: bool
    experiments: int = 0
    experiments_updated: int = 0
    runs: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    params: int = 0
    tags: int = 0
    metrics: int = 0
    inputs: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    models: int = 0
    versions: int = 0
    registry_events: int = 0
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Every count by name (for JSON output and tests)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("source", "dry_run", "warnings")
        }

    def written(self) -> int:
        """How many things were (or would be) written: 0 means the store already had it all."""
        return sum(
            v for k, v in self.counts().items() if k not in ("runs_unchanged", "artifact_bytes")
        )

    def text(self) -> str:
        """The summary as a few lines for the terminal."""
        verb = "Would import" if self.dry_run else "Imported"
        return "\n".join(
            (
                f"{verb} from {self.source}:",
                f"  experiments   {self.experiments} new, {self.experiments_updated} updated",
                f"  runs          {self.runs} new, {self.runs_updated} updated, "
                f"{self.runs_unchanged} unchanged",
                f"  params {self.params}, tags {self.tags}, metric points {self.metrics}, "
                f"dataset inputs {self.inputs}",
                f"  artifacts     {self.artifacts} files ({self.artifact_bytes} bytes)",
                f"  registry      {self.models} new models, {self.versions} new versions, "
                f"{self.registry_events} events",
            )
        )


def import_mlflow(
    uri: str,
    client: TrackerClient,
    experiments: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    artifact_roots: Sequence[str] = (),
) -> ImportSummary:
    """Import the MLflow store at ``uri`` into ``client``'s store and say what was imported.

    Artifacts are copied only from inside the MLflow store's own tree (the ``mlruns`` folder,
    the database's folder) or from ``artifact_roots``: a run's ``artifact_uri`` is data of the
    store being imported and could name any folder of this machine (#15). Runs whose artifacts
    are elsewhere are imported without them, with a warning naming the run and the location;
    runs whose id is not a valid run id are skipped with a warning.

    Args:
        uri: ``sqlite:///path/mlflow.db``, a ``file:`` URI or the path of an ``mlruns`` folder.
        client: the tracker store to import into.
        experiments: only these experiments (by name) and the model versions of their runs.
        dry_run: read everything and count what would be written, but write nothing.
        artifact_roots: more local folders artifacts may be copied from (MLflow's
            ``--default-artifact-root`` when it is outside the store).
    """
    if isinstance(artifact_roots, str) or not all(
        isinstance(r, (str, os.PathLike)) for r in artifact_roots
    ):
        raise InvalidArgumentError(
            f"artifact_roots must be a list of folder paths, got {artifact_roots!r}."
        )
    missing = [os.fspath(r) for r in artifact_roots if not os.path.isdir(r)]
    if missing:
        raise InvalidArgumentError(
            f"Artifact root {missing[0]!r} is not a folder; give folders artifacts may be "
            "copied from."
        )
    source = open_source(uri)
    summary = ImportSummary(_display_uri(uri), dry_run)
    chosen = _select(source.experiments(), experiments)
    importer = _Importer(source, client, summary, [os.fspath(r) for r in artifact_roots])
    for experiment in chosen:
        experiment_id = importer.experiment(experiment)
        for run in source.runs(experiment):
            try:
                validate_run_id(run.run_id)
            except InvalidArgumentError as exc:
                summary.warnings.append(f"Skipping MLflow run {run.run_id!r} of experiment "
                                        f"{experiment.name!r}: {exc}")
                continue
            importer.run(run, experiment_id)
    registry = RegistryImporter(client.registry, summary, importer.run_roots)
    registry.models(source.models(), None if experiments is None else importer.seen_runs)
    summary.warnings.extend(getattr(source, "warnings", []))
    return summary


def _display_uri(uri: str) -> str:
    """The source URI with an absolute path, so the provenance tags do not depend on the cwd."""
    if uri.startswith("sqlite:///"):
        return "sqlite:///" + os.path.abspath(os.path.expanduser(uri[len("sqlite:///") :]))
    return uri if "://" in uri else os.path.abspath(uri)


def _select(found: list[MlflowExperiment], names: Sequence[str] | None) -> list[MlflowExperiment]:
    if names is None:
        return found
    by_name = {e.name: e for e in found}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise NotFoundError(
            f"The MLflow store has no experiment {', '.join(map(repr, missing))}; it has "
            f"{', '.join(repr(n) for n in sorted(by_name)) or 'none'}."
        )
    return [by_name[n] for n in dict.fromkeys(names)]


@dataclass
class _RunState:
    """A run as the tracker store has it already (empty for a new run)."""

    attrs: dict[str, str | None] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str | None] = field(default_factory=dict)
    metrics: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    inputs: set[str] = field(default_factory=set)
    artifacts: set[str] = field(default_factory=set)

    FIRST = frozenset({"start_time", "user_id", "artifact_uri"})  # the first record wins

    @classmethod
    def fold(cls, records: list[dict[str, Any]]) -> _RunState:
        state = cls()
        for r in sorted(records, key=lambda r: r["seq"] or 0):
            kind, key = r["kind"], r["key"]
            if kind == "run" and not (key in cls.FIRST and key in state.attrs):
                state.attrs[key] = r["value"]
            elif kind == "param":
                state.params.setdefault(key, r["value"])
            elif kind == "tag":
                state.tags[key] = r["value"]
            elif kind == "metric":
                state.metrics[_point(key, r["num"], r["step"], r["timestamp"])] += 1
            elif kind == "input":
                state.inputs.add(key)
            elif kind == "artifact":
                state.artifacts.add(key)
        return state


def _point(
    key: str, value: float | None, step: int | None, timestamp: int | None
) -> tuple[Any, ...]:
    """A metric point as a comparable key (NaN equals NaN here)."""
    number = math.nan if value is None else float(value)
    return key, "nan" if math.isnan(number) else number, int(step or 0), int(timestamp or 0)


class _Importer:
    """Writes what one MLflow store holds and the tracker store lacks, counting as it goes."""

    def __init__(
        self, source: MlflowSource, client: TrackerClient, summary: ImportSummary,
        artifact_roots: Sequence[str] = (),
    ) -> None:
        self.source = source
        self.roots = [*source.artifact_roots(), *artifact_roots]
        self.client = client
        self.store = client.store
        self.summary = summary
        self.seq = time.time_ns()
        self.known: dict[str, Experiment] = {
            e.experiment_id: e for e in client.search_experiments(ViewType.ALL)
        }
        self.seen_runs: set[str] = set()
        # MLflow's artifact folder of every run seen, to turn version sources into runs:/ URIs.
        self.run_roots: dict[str, str] = {}

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # -- experiments ---------------------------------------------------------------------------

    def experiment(self, exp: MlflowExperiment) -> str:
        """The tracker id of ``exp``, creating it or bringing its tags and stage up to date."""
        existing = self._existing_experiment(exp)
        if existing is not None:
            experiment_id = existing.experiment_id
        elif exp.experiment_id == DEFAULT_ID:
            experiment_id = DEFAULT_ID
        else:
            experiment_id = self._new_experiment_id(exp.name)
        created = exp.creation_time or int(time.time() * 1000)
        updated = exp.last_update_time or created
        seq = self._next_seq()
        tags = dict(exp.tags)
        tags[SOURCE_TAG] = f"{self.summary.source}#experiment={exp.experiment_id}"
        if exp.artifact_location:
            tags[LOCATION_TAG] = exp.artifact_location
        rows: list[tuple[Any, ...]] = []
        if existing is None:
            location = self.store.default_artifact_location(experiment_id)
            rows += [
                ("experiment", "name", exp.name, None, None, created, seq),
                ("experiment", "artifact_location", location, None, None, created, seq),
            ]
        if existing is None or existing.lifecycle_stage != exp.lifecycle_stage:
            rows.append(
                ("experiment", "lifecycle_stage", exp.lifecycle_stage, None, None, updated, seq)
            )
        old_tags = existing.tags if existing else {}
        rows += [
            ("experiment_tag", k, v, None, None, created, seq)
            for k, v in sorted(tags.items())
            if old_tags.get(k) != v
        ]
        if rows:
            if existing is None:
                self.summary.experiments += 1
            else:
                self.summary.experiments_updated += 1
            if not self.summary.dry_run:
                from tracker.store.store import experiment_dir

                self.store.write_records(experiment_dir(experiment_id), experiment_id, None, rows)
        if existing is None:
            self.known[experiment_id] = _planned_experiment(self.store, experiment_id, exp.name)
        return experiment_id

    def _existing_experiment(self, exp: MlflowExperiment) -> Experiment | None:
        if exp.experiment_id == DEFAULT_ID:
            from tracker.store.store import experiment_dir

            written = self.store.list_record_files_in(experiment_dir(DEFAULT_ID))
            return self.known.get(DEFAULT_ID) if written else None
        matches = [e for e in self.known.values() if e.name == exp.name]
        matches.sort(key=lambda e: (e.lifecycle_stage != LifecycleStage.ACTIVE, e.experiment_id))
        return matches[0] if matches else None

    def _new_experiment_id(self, name: str) -> str:
        from tracker.experiments_client import experiment_id_for

        salt = 0
        experiment_id = experiment_id_for(name)
        while experiment_id in self.known or experiment_id == DEFAULT_ID:
            salt += 1
            experiment_id = experiment_id_for(name, salt)
        return experiment_id

    # -- runs ------------------------------------------------------------------------------------

    def run(self, run: MlflowRun, experiment_id: str) -> None:
        """Write the run, or what of it the store lacks."""
        from tracker.store.store import run_dir

        self.seen_runs.add(run.run_id)
        folder = self.store.find_run_folder(run.run_id)
        seen: list[str] = []
        if folder is None:
            state = _RunState()
            location = self.known[experiment_id].artifact_location.rstrip("/")
            artifact_uri = f"{location}/{run.run_id}/artifacts"
            folder = run_dir(experiment_id, run.run_id)
        else:
            seen = sorted(f.path for f in self.store.list_record_files_in(folder))
            state = _RunState.fold(self.store.read_folder_records(folder))
            artifact_uri = state.attrs.get("artifact_uri") or ""
            experiment_id = folder.split("/")[1].split("=", 1)[1]
        recorded = local_path(run.artifact_uri) if run.artifact_uri else None
        if recorded is not None:
            self.run_roots[run.run_id] = recorded
        rows = self._run_rows(run, state, artifact_uri)
        rows += self._artifacts(run, state, artifact_uri)
        if not rows:
            self.summary.runs_unchanged += 1
            return
        if state.attrs:
            self.summary.runs_updated += 1
        else:
            self.summary.runs += 1
        if not self.summary.dry_run:
            final = not state.attrs and RunStatus.is_terminated(run.status)
            self._publish(folder, experiment_id, run.run_id, rows, final, seen)

    def _publish(
        self,
        folder: str,
        experiment_id: str,
        run_id: str,
        rows: list[tuple[Any, ...]],
        final: bool,
        seen: list[str],
    ) -> None:
        """Publish a run's rows as one file, created only if absent.

        The file is named by its rows (without ``seq``) and the files they were computed
        from, so two imports of the same run at once publish it once instead of twice.
        """
        from tracker.store.store import encode_rows

        text = json.dumps([run_id, seen, [row[:6] for row in rows]], default=str)
        seg = "import_" + hashlib.sha256(text.encode()).hexdigest()[:24]
        prefix = "final" if final else "seg"
        data = encode_rows(experiment_id, run_id, seg, rows, covers=[seg] if final else None)
        self.store.ensure_initialized()
        self.store.fs.create_exclusive(f"{folder}/{prefix}-{seg}.parquet", data)

    def _run_rows(
        self, run: MlflowRun, state: _RunState, artifact_uri: str
    ) -> list[tuple[Any, ...]]:
        seq = self._next_seq()
        start = run.start_time or 0
        end = run.end_time if run.end_time is not None else start
        attrs: dict[str, tuple[str | None, int]] = {
            "run_name": (run.name, start),
            "start_time": (None if run.start_time is None else str(run.start_time), start),
            "user_id": (run.user_id, start),
            "artifact_uri": (artifact_uri, start),
            "status": (run.status, end),
            "end_time": (None if run.end_time is None else str(run.end_time), end),
            "lifecycle_stage": (run.lifecycle_stage, end),
        }
        rows: list[tuple[Any, ...]] = [
            ("run", key, value, None, None, ts, seq)
            for key, (value, ts) in attrs.items()
            if _changed(state.attrs, key, value)
        ]
        tags = dict(run.tags)
        if run.artifact_uri and local_path(run.artifact_uri) is None:
            tags[REMOTE_ARTIFACTS_TAG] = run.artifact_uri
        new_params = [(k, v) for k, v in sorted(run.params.items()) if k not in state.params]
        new_tags = [(k, v) for k, v in sorted(tags.items()) if state.tags.get(k) != v]
        rows += [("param", k, v, None, None, start, seq) for k, v in new_params]
        rows += [("tag", k, v, None, None, start, seq) for k, v in new_tags]
        wanted = Counter(_point(m.key, m.value, m.step, m.timestamp) for m in run.metrics)
        new_points = wanted - state.metrics
        for m in run.metrics:
            point = _point(m.key, m.value, m.step, m.timestamp)
            if new_points[point] > 0:
                new_points[point] -= 1
                rows.append(("metric", m.key, None, m.value, m.step, m.timestamp, 0))
        inputs = [_input_record(d) for d in run.inputs]
        new_inputs = [(k, v) for k, v in inputs if k not in state.inputs]
        rows += [("input", k, v, None, None, start, seq) for k, v in new_inputs]
        s = self.summary
        s.params += len(new_params)
        s.tags += len(new_tags)
        s.metrics += sum(1 for r in rows if r[0] == "metric")
        s.inputs += len(new_inputs)
        return rows

    def _artifacts(
        self, run: MlflowRun, state: _RunState, artifact_uri: str
    ) -> list[tuple[Any, ...]]:
        """Copy the local artifact files the store lacks; return their records."""
        folder = find_local_dir(run.artifact_uri, self.source.artifact_bases(), run.run_id)
        if folder is None:
            return []
        if not inside(folder, self.roots):
            self.summary.warnings.append(
                f"Run {run.run_id}: artifacts not copied from {folder} (its artifact_uri "
                f"{run.artifact_uri!r}): it is outside the MLflow store being imported "
                f"({', '.join(self.roots)}). If that folder is yours, import again with "
                f"--artifact-root {folder}."
            )
            return []
        files = []
        for rel, path in _walk(folder):
            if not inside(path, self.roots):  # a symlink out of the tree
                self.summary.warnings.append(
                    f"Run {run.run_id}: artifact {rel!r} not copied: it links to "
                    f"{os.path.realpath(path)}, outside the MLflow store being imported."
                )
            elif rel not in state.artifacts:
                files.append((rel, path))
        if not files:
            return []
        if self.summary.dry_run:
            self.summary.artifacts += len(files)
            self.summary.artifact_bytes += sum(os.path.getsize(p) for _, p in files)
            return []
        from tracker.artifacts import ArtifactRepo

        try:
            repo = ArtifactRepo(artifact_uri)
        except TrackerError as exc:
            self.summary.warnings.append(f"Run {run.run_id}: artifacts not copied: {exc}")
            return []
        rows: list[tuple[Any, ...]] = []
        seq = self._next_seq()
        for rel, path in files:
            parent = rel.rpartition("/")[0]
            copied, size, digest = repo.log_file(path, parent or None)
            rows.append(
                (
                    "artifact",
                    copied,
                    json.dumps({"sha256": digest}),
                    size,
                    None,
                    run.end_time or run.start_time or 0,
                    seq,
                )
            )
            self.summary.artifacts += 1
            self.summary.artifact_bytes += size
        return rows


def _changed(attrs: dict[str, str | None], key: str, value: str | None) -> bool:
    """Whether attribute ``key`` must be written to hold ``value``."""
    if key in attrs:
        # The query layer keeps the first start time, user and artifact URI: never rewrite them.
        return key not in _RunState.FIRST and attrs[key] != value
    return value is not None


def _planned_experiment(store: Any, experiment_id: str, name: str) -> Experiment:
    from tracker.entities import Experiment

    return Experiment(experiment_id, name, store.default_artifact_location(experiment_id))


def _input_record(d: MlflowDataset) -> tuple[str, str]:
    """Tracker's (key, JSON) record of a dataset input; MLflow's column spec becomes columns."""
    schema = d.schema
    try:
        parsed = json.loads(schema) if schema else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("mlflow_colspec"), list):
        columns = [
            {"name": c.get("name"), "type": c.get("type")}
            for c in parsed["mlflow_colspec"]
            if isinstance(c, dict)
        ]
        schema = json.dumps({"columns": columns}, sort_keys=True)
    body = {
        "name": d.name,
        "digest": d.digest,
        "source": d.source,
        "source_type": d.source_type,
        "schema": schema,
        "profile": d.profile,
        "context": d.context or None,
    }
    return f"{d.name}:{d.digest}:{d.context}", json.dumps(body, sort_keys=True)


def _walk(folder: str) -> list[tuple[str, str]]:
    """(relative path with ``/``, local path) of every file under ``folder``, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            out.append((os.path.relpath(path, folder).replace(os.sep, "/"), path))
    return out


# -- the source ------------------------------------------------------------------------------


def open_source(uri: str) -> MlflowSource:
    """The MLflow store at ``uri``: ``sqlite:///path.db``, a ``file:`` URI or a folder path.

    Raises ``NotFoundError`` when nothing is there and ``StoreError`` when it is not an MLflow
    store or its database schema is one this importer cannot read.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidArgumentError(f"The MLflow store URI must be a non-empty string, got {uri!r}.")
    path = _local_path(uri)
    if path is None:
        raise InvalidArgumentError(
            f"Cannot import from {uri!r}: give sqlite:///path/to/mlflow.db, a file: URI or the "
            "path of an mlruns folder (tracking servers and other databases are not read)."
        )
    if not os.path.exists(path):
        raise NotFoundError(f"No MLflow store at {path} (from {uri!r}): no such file or folder.")
    if os.path.isdir(path):
        return FileSource(path, uri)
    return SqliteSource(path, uri)


def _local_path(uri: str) -> str | None:
    """The filesystem path of a ``sqlite:``/``file:`` URI or plain path; None for other schemes."""
    if uri.startswith("sqlite:///"):
        return os.path.abspath(os.path.expanduser(unquote(uri[len("sqlite:///") :])))
    return local_path(uri)
