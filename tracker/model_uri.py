"""Model URIs: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
``models:/<name>@<alias>``, MLflow 3's ``models:/<model_id>`` (a logged model), and plain paths or ``file:`` URIs — resolved to a local folder
(downloaded first when the run's artifacts are in S3)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracker.exceptions import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from tracker.client import TrackerClient
    from tracker.entities.model_registry import ModelVersion

_RUNS = re.compile(r"^runs:/(?P<run_id>[^/]+)(?:/(?P<path>.*))?$")
_LOGGED = re.compile(r"^models:/(?P<model_id>[^/@]+)/?$")
_MLFLOW_ID = re.compile(r"^m-[0-9a-f]{32}$")
_MODELS = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<ref>[^/]+)|@(?P<alias>[^/]+))/?$")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model URI points: the local folder, and the run/version it came from."""

    uri: str
    local_path: str
    run_id: str | None = None
    artifact_path: str | None = None
    version: ModelVersion | None = None


def parse_runs_uri(uri: str) -> tuple[str, str]:
    match = _RUNS.match(uri)
    if match is None:
        raise InvalidArgumentError(
            f"Invalid runs URI {uri!r}: expected runs:/<run_id>/<artifact path>."
        )
    return match.group("run_id"), (match.group("path") or "").strip("/")


def model_version_for(client: TrackerClient, uri: str) -> ModelVersion:
    """The registered version a ``models:/`` URI names (by number, stage, latest or alias)."""
    from tracker.entities.model_registry import STAGES, canonical_stage

    match = _MODELS.match(uri)
    if match is None:
        raise InvalidArgumentError(
            f"Invalid models URI {uri!r}: expected models:/<name>/<version>, "
            "models:/<name>/<stage>, models:/<name>/latest or models:/<name>@<alias>."
        )
    registry = client.registry
    name = match.group("name")
    if match.group("alias"):
        return registry.get_model_version_by_alias(name, match.group("alias"))
    ref = match.group("ref")
    if ref.isdigit():
        return registry.get_model_version(name, int(ref))
    if ref.lower() == "latest":
        versions = registry.search_model_versions(f"name = '{_escape(name)}'")
        if not versions:
            raise NotFoundError(f"Model {name!r} has no versions yet.")
        return max(versions, key=lambda v: v.version)
    if ref.lower() in (s.lower() for s in STAGES):
        stage = canonical_stage(ref)
        found = registry.get_latest_versions(name, [stage])
        if not found:
            stages = {v.current_stage: v.version for v in registry.get_latest_versions(name)}
            raise NotFoundError(
                f"Model {name!r} has no version in stage {stage!r}; latest per stage: "
                f"{stages or 'no versions'}."
            )
        return found[-1]
    raise InvalidArgumentError(
        f"Invalid models URI {uri!r}: {ref!r} is not a version number, 'latest' or a stage "
        f"({', '.join(STAGES)}); use models:/{name}@{ref} for an alias."
    )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def resolve(client: TrackerClient, uri: str) -> ResolvedModel:
    """The local folder holding the model at ``uri``; errors list what exists."""
    if not isinstance(uri, (str, os.PathLike)):
        raise InvalidArgumentError(f"A model URI must be a string, got {type(uri).__name__}.")
    uri = os.fspath(uri)
    if uri.startswith("runs:/"):
        from tracker.query.reads import resolve_run_id

        run_id, path = parse_runs_uri(uri)
        run_id = resolve_run_id(client.query, run_id)  # a unique prefix is enough (#13)
        repo = client._repo(run_id)  # raises "Run … not found" for an unknown run
        local = repo.local_path(path)
        found = os.path.exists(local) if local is not None else repo.exists(path)
        if not found:
            listing = [f.path for f in client.list_artifacts(run_id)]
            raise NotFoundError(
                f"Run {run_id} has no artifact {path!r}; its artifacts: {listing or 'none'}."
            )
        # A remote location (S3) is downloaded once per process into a temporary cache.
        return ResolvedModel(uri, local or repo.fetch(path), run_id, path)
    logged = _LOGGED.match(uri)
    if logged is not None:
        return _resolve_logged(client, uri, logged.group("model_id"))
    if uri.startswith("models:/"):
        version = model_version_for(client, uri)
        inner = resolve(client, version.source)
        return ResolvedModel(uri, inner.local_path, version.run_id, inner.artifact_path, version)
    if "://" in uri and not uri.startswith("file://"):
        raise InvalidArgumentError(
            f"Unsupported model URI {uri!r}; use runs:/, models:/, a path or a file:// URI."
        )
    from tracker.uri import resolve_local_path

    local = resolve_local_path(uri, notice=False)
    if not os.path.exists(local):
        raise NotFoundError(f"No model at {local!r} (from {uri!r}).")
    return ResolvedModel(uri, local)


def logged_model_source(client: TrackerClient, uri: str) -> tuple[str, str] | None:
    """(``runs:/<run_id>/<path>``, run id) of a ``models:/<model_id>`` URI; None for other URIs.

    Registering a logged model records this source, so the registry, lineage and site treat
    the version like one registered from its run.
    """
    logged = _LOGGED.match(uri)
    if logged is None:
        return None
    run_id, path = _logged_files(client, logged.group("model_id"))
    return f"runs:/{run_id}/{path}", run_id


def _resolve_logged(client: TrackerClient, uri: str, model_id: str) -> ResolvedModel:
    """The folder of the logged model ``model_id`` (its run's artifacts at its path)."""
    run_id, path = _logged_files(client, model_id)
    inner = resolve(client, f"runs:/{run_id}/{path}")
    return ResolvedModel(uri, inner.local_path, run_id, path)


def _logged_files(client: TrackerClient, model_id: str) -> tuple[str, str]:
    from tracker.logged_models import validate_model_id

    validate_model_id(model_id)
    try:
        state = client.logged_models.state(model_id)
    except NotFoundError as exc:
        hint = ("A registered model is loaded with models:/<name>/<version>, "
                "models:/<name>/<stage>, models:/<name>/latest or models:/<name>@<alias>.")
        if _MLFLOW_ID.match(model_id):
            raise NotFoundError(f"{exc} {hint}") from None
        raise InvalidArgumentError(
            f"Invalid models URI 'models:/{model_id}': no logged model has the id {model_id!r} "
            f"(MLflow 3's models:/<model_id>). {hint}"
        ) from None
    run_id, path = state.get("source_run_id"), state.get("artifact_path")
    if not run_id or not path:
        raise NotFoundError(
            f"Logged model {model_id!r} ({state.get('name')!r}, status "
            f"{state.get('status') or 'unknown'}) has no files yet; log them with "
            f"log_model(..., model_id={model_id!r})."
        )
    return str(run_id), str(path)
