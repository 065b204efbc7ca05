"""The artifact half of ``TrackerClient``: log files, text, dicts and figures into a run's
artifact location, list and download them (MLflow's client methods)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError
from tracker.validation import validate_artifact_path, validate_local_path

if TYPE_CHECKING:
    from tracker.artifacts import ArtifactRepo
    from tracker.entities import FileInfo
    from tracker.runlog import RunLog


class ArtifactClientMixin:
    """Artifact methods of ``TrackerClient``; it provides ``_artifact_uri`` and ``_runlog``."""

    def _artifact_uri(self, run_id: str) -> str:
        raise NotImplementedError

    def _runlog(self, run_id: str) -> RunLog:
        raise NotImplementedError

    def _repo(self, run_id: str) -> ArtifactRepo:
        from tracker.artifacts import ArtifactRepo

        return ArtifactRepo(self._artifact_uri(run_id))

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts (under ``artifact_path``)."""
        validate_local_path(local_path, "local_path")
        validate_artifact_path(artifact_path)
        repo = self._repo(run_id)
        rel, size, digest = repo.log_file(local_path, artifact_path)
        self._runlog(run_id).add_record("artifact", rel, json.dumps({"sha256": digest}), size)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy every file of a local folder into the run's artifacts."""
        validate_local_path(local_dir, "local_dir")
        validate_artifact_path(artifact_path)
        repo = self._repo(run_id)
        run = self._runlog(run_id)
        for rel, size, digest in repo.log_dir(local_dir, artifact_path):
            run.add_record("artifact", rel, json.dumps({"sha256": digest}), size)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        if not isinstance(text, str):
            raise InvalidArgumentError(f"log_text needs a str, got {type(text).__name__}.")
        self._log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Save a dict as JSON (or YAML for ``.yaml``/``.yml`` names) in the run's artifacts."""
        validate_artifact_path(artifact_file, "artifact_file")
        if artifact_file.endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:
                raise InvalidArgumentError(
                    f"log_dict to {artifact_file!r} needs PyYAML; install it or use a .json name."
                ) from None
            data = yaml.safe_dump(dictionary, sort_keys=False).encode()
        else:
            try:
                data = json.dumps(dictionary, indent=2, default=_json_default).encode()
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(f"log_dict: the value is not JSON-serializable: {exc}") from exc
        self._log_bytes(run_id, data, artifact_file)

    def log_figure(
        self, run_id: str, figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
    ) -> None:
        """Save a matplotlib or plotly figure (plotly: ``.html`` self-contained or ``.json``)."""
        from tracker.figures import figure_bytes

        self._log_bytes(run_id, figure_bytes(figure, artifact_file, save_kwargs), artifact_file)

    def _log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        rel = validate_artifact_path(artifact_file, "artifact_file")
        if not rel:
            raise InvalidArgumentError(f"artifact_file must name a file, got {artifact_file!r}.")
        folder, _, name = rel.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, name)
            with open(path, "wb") as fh:
                fh.write(data)
            self.log_artifact(run_id, path, folder or None)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        validate_artifact_path(path, "path")
        return self._repo(run_id).list(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Copy an artifact file or folder to ``dst_path`` (a new temp folder by default)."""
        validate_artifact_path(path, "path")
        if dst_path is not None:
            validate_local_path(dst_path, "dst_path")
        dst = dst_path or tempfile.mkdtemp(prefix="tracker-artifacts-")
        return self._repo(run_id).download(path, dst)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
