"""Images and tables in a run's artifacts, in MLflow's file formats.

- ``log_image(image, artifact_file)`` saves one file (PNG from a numpy array, any format Pillow
  writes from a PIL image). ``log_image(image, key=, step=)`` is MLflow 3's time-stepped form:
  ``images/<key>+step+<step>+timestamp+<ms>+<uuid>.png`` (``/`` in the key becomes ``~``), plus
  the 256-pixel ``…+compressed.webp`` preview when Pillow is installed, and the run tag
  ``mlflow.loggedImages``. Numpy arrays are encoded by ``tracker.png`` (no Pillow needed).
- ``log_table(data, artifact_file)`` writes a dict or DataFrame as JSON in pandas' ``split``
  layout (``{"columns": [...], "data": [[...]]}``) or as Parquet, appends to a table the run
  already has under that name, and lists it in the run tag ``mlflow.loggedArtifacts``.
- ``load_table(artifact_file)`` reads that table back from every run of the experiment (or the
  given runs) into one DataFrame, with ``extra_columns`` such as ``run_id`` from ``search_runs``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from tracker.entities import FileInfo, Run

__all__ = ["MediaClientMixin"]

LOGGED_IMAGES = "mlflow.loggedImages"
LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"
COMPRESSED_SIZE = 256
_KEY = re.compile(r"^[a-zA-Z0-9_\-./ ]+$")
_TABLE_FORBIDDEN = ('"', "'", ",", ":", "[", "]", "{", "}")


class MediaClientMixin:
    """``log_image``, ``log_table`` and ``load_table`` of ``TrackerClient``."""

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        raise NotImplementedError

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        raise NotImplementedError

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        raise NotImplementedError

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        raise NotImplementedError

    def get_run(self, run_id: str) -> Run:
        raise NotImplementedError

    def search_runs_frame(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        raise NotImplementedError

    def _log_saved(self, run_id: str, artifact_file: str, save: Callable[[str], None]) -> None:
        """Call ``save(path)`` on a temporary path named like ``artifact_file``, then log it."""
        from tracker.validation import validate_artifact_path

        rel = validate_artifact_path(artifact_file)
        if not rel:
            raise InvalidArgumentError(f"artifact_file must name a file, got {artifact_file!r}.")
        folder, _, name = rel.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, name)
            save(path)
            self.log_artifact(run_id, path, folder or None)

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """Log a numpy array or PIL image: as ``artifact_file``, or under ``key`` at ``step``.

        Args:
            run_id: the run.
            image: numpy array (H×W, H×W×1, H×W×3, H×W×4; bool, int 0–255 or float 0–1) or
                PIL image.
            artifact_file: run-relative path such as ``"plots/mask.png"``.
            key: image name for MLflow 3's time-stepped images (letters, digits, ``_-./ ``).
            step: training step of a keyed image (default 0).
            timestamp: milliseconds since the epoch of a keyed image (default now).
            synchronous: accepted for MLflow compatibility; images are always written at once.
        """
        if artifact_file is not None and (key, step, timestamp) != (None, None, None):
            raise InvalidArgumentError(
                "log_image takes either artifact_file, or key (with step/timestamp), not both; "
                f"got artifact_file={artifact_file!r}, key={key!r}."
            )
        if artifact_file is None and key is None:
            raise InvalidArgumentError(
                "log_image needs artifact_file (a file such as 'image.png') or key (a "
                "time-stepped image name)."
            )
        picture = _Picture(image)
        if artifact_file is not None:
            self._log_saved(run_id, artifact_file, picture.save)
            return
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidArgumentError(
                f"Invalid image key {key!r}: use letters, digits, '_', '-', '.', ' ' and '/'."
            )
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise InvalidArgumentError(f"log_image step must be an integer, got {step!r}.")
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
            raise InvalidArgumentError(
                f"log_image timestamp must be milliseconds as an integer, got {timestamp!r}."
            )
        stamp = timestamp or int(time.time() * 1000)
        base = f"images/{key.replace('/', '~')}+step+{step or 0}+timestamp+{stamp}+{uuid.uuid4()}"
        self._log_saved(run_id, f"{base}.png", picture.save)
        preview = picture.preview()
        if preview is not None:
            self._log_saved(run_id, f"{base}+compressed.webp", preview.save)
        self.set_tag(run_id, LOGGED_IMAGES, "True")

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Log a dict or DataFrame as a table (``.json`` in pandas' split layout, or ``.parquet``).

        Args:
            run_id: the run.
            data: a dict of columns (or of one row's values) or a pandas DataFrame.
            artifact_file: run-relative ``.json`` or ``.parquet`` path; an existing table of
                that name gets the new rows appended.
        """
        import pandas as pd

        _check_table_file(artifact_file)
        if isinstance(data, dict):
            try:
                data = pd.DataFrame(data)
            except ValueError:
                data = pd.DataFrame([data])
        elif not isinstance(data, pd.DataFrame):
            raise InvalidArgumentError(
                f"log_table needs a dict or a pandas DataFrame, got {type(data).__name__}."
            )
        data = self._table_images(run_id, data, artifact_file)
        folder = artifact_file.rpartition("/")[0] or None
        if artifact_file in {f.path for f in self.list_artifacts(run_id, folder)}:
            data = pd.concat([self._read_table(run_id, artifact_file), data], ignore_index=True)

        def write(path: str) -> None:
            if path.endswith(".json"):
                try:
                    data.to_json(path, orient="split", index=False, date_format="iso")
                except (TypeError, ValueError, OverflowError) as exc:
                    raise InvalidArgumentError(
                        f"log_table: the table for {artifact_file!r} is not JSON-serializable: {exc}"
                    ) from exc
            else:
                data.to_parquet(path, index=False)

        self._log_saved(run_id, artifact_file, write)
        logged = json.loads(self.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS) or "[]")
        entry = {"path": artifact_file, "type": "table"}
        if entry not in logged:
            self.set_tag(run_id, LOGGED_ARTIFACTS, json.dumps([*logged, entry]))

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: list[str] | None = None,
        extra_columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """The table ``artifact_file`` from every run of the experiment that logged it (or from
        ``run_ids``, in any experiment), concatenated; ``extra_columns`` are ``search_runs``
        columns (``run_id``, ``tags.mlflow.runName`` …) added to each row.

        Args:
            experiment_id: the experiment whose runs are read (ignored when ``run_ids`` is given).
            artifact_file: the table's run-relative path, as given to ``log_table``.
            run_ids: read only these runs.
            extra_columns: run columns to add; a name the table already has gets a ``_`` suffix.
        """
        import pandas as pd

        _check_table_file(artifact_file)
        if extra_columns is not None and (
            isinstance(extra_columns, str) or not all(isinstance(c, str) for c in extra_columns)
        ):
            raise InvalidArgumentError(
                f"extra_columns must be a list of column names such as ['run_id'], got "
                f"{extra_columns!r}."
            )
        if run_ids is not None:
            if isinstance(run_ids, str) or not all(isinstance(r, str) for r in run_ids):
                raise InvalidArgumentError(f"run_ids must be a list of run ids, got {run_ids!r}.")
            runs = self.search_runs_frame(None)
            runs = runs[runs["run_id"].isin(list(run_ids))]
        else:
            runs = self.search_runs_frame([experiment_id])
        column = f"tags.{LOGGED_ARTIFACTS}"
        entry = {"path": artifact_file, "type": "table"}
        frames = []
        for _, run in runs.iterrows():
            if column not in run or not isinstance(run[column], str):
                continue
            if entry not in json.loads(run[column]):
                continue
            frame = self._read_table(run["run_id"], artifact_file)
            for name in extra_columns or []:
                if name not in run:
                    raise InvalidArgumentError(
                        f"load_table: unknown extra column {name!r}; use a search_runs column "
                        "such as 'run_id', 'experiment_id' or 'tags.mlflow.runName'."
                    )
                frame[f"{name}_" if name in frame.columns else name] = run[name]
            frames.append(frame)
        if not frames:
            where = f"runs {list(run_ids)}" if run_ids is not None else f"experiment {experiment_id}"
            raise NotFoundError(
                f"No run in {where} logged a table {artifact_file!r}; log one with "
                "log_table(data, artifact_file) first."
            )
        return pd.concat(frames, ignore_index=True)

    def _read_table(self, run_id: str, artifact_file: str) -> pd.DataFrame:
        import pandas as pd

        with tempfile.TemporaryDirectory() as tmp:
            path = self.download_artifacts(run_id, artifact_file, tmp)
            if artifact_file.endswith(".json"):
                with open(path, encoding="utf-8") as fh:
                    return pd.read_json(fh, orient="split")
            return pd.read_parquet(path)

    def _table_images(self, run_id: str, data: pd.DataFrame, artifact_file: str) -> pd.DataFrame:
        """Columns of PIL images become image files and ``{"type": "image", …}`` cells."""
        import pandas as pd

        for column in [c for c in data.columns if data[c].dtype == object]:
            flags = [_is_pil(v) for v in data[column]]
            if any(flags) and not all(flags):
                raise InvalidArgumentError(
                    f"log_table: column {column!r} mixes images and other values; use one kind."
                )
            if flags and all(flags):
                data = data.copy()
                cells = [self._table_image(run_id, v, artifact_file) for v in data[column]]
                data[column] = pd.Series(cells, index=data.index, dtype=object)
        return data

    def _table_image(self, run_id: str, image: Any, artifact_file: str) -> dict[str, str]:
        base = f"table_images/{os.path.splitext(artifact_file)[0]}/{uuid.uuid4()}"
        picture = _Picture(image)
        self._log_saved(run_id, f"{base}.png", picture.save)
        preview = picture.preview()
        if preview is not None:
            self._log_saved(run_id, f"{base}.webp", preview.save)
        return {"type": "image", "filepath": f"{base}.png", "compressed_filepath": f"{base}.webp"}


class _Picture:
    """An image to save: a numpy array (PNG without Pillow) or a PIL image."""

    def __init__(self, image: Any) -> None:
        self.pil: Any = None
        self.array: Any = None
        if type(image).__module__ == "numpy" and hasattr(image, "dtype"):
            from tracker.png import image_array

            self.array = image_array(image)
        elif _is_pil(image):
            self.pil = image
        else:
            raise InvalidArgumentError(
                f"log_image needs a numpy array or a PIL image, got {type(image).__name__}."
            )

    def save(self, path: str) -> None:
        if self.pil is not None:
            self.pil.save(path)
            return
        if path.lower().endswith(".png"):
            from tracker.png import encode_png

            with open(path, "wb") as fh:
                fh.write(encode_png(self.array))
            return
        image = _pil_from_array(self.array)
        if image is None:
            raise InvalidArgumentError(
                f"Saving a numpy array as {os.path.basename(path)!r} needs Pillow (pip install "
                "Pillow); without it, name the file .png."
            )
        image.save(path)

    def preview(self) -> Any:
        """MLflow's 256-pixel preview (saved as .webp), or None without Pillow."""
        image = self.pil if self.pil is not None else _pil_from_array(self.array)
        if image is None:
            return None
        width, height = image.size
        scale = COMPRESSED_SIZE / max(width, height)
        return image.resize((max(1, int(width * scale)), max(1, int(height * scale))))


def _pil_from_array(array: Any) -> Any:
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image.fromarray(array)


def _is_pil(value: Any) -> bool:
    return all(callable(getattr(value, name, None)) for name in ("save", "resize")) and hasattr(
        value, "size"
    )


def _check_table_file(artifact_file: Any) -> None:
    if not isinstance(artifact_file, str) or not artifact_file.endswith((".json", ".parquet")):
        raise InvalidArgumentError(
            f"Invalid table artifact_file {artifact_file!r}: name a .json or .parquet file."
        )
    bad = [c for c in _TABLE_FORBIDDEN if c in artifact_file]
    if bad:
        raise InvalidArgumentError(
            f"Invalid table artifact_file {artifact_file!r}: it may not contain {' '.join(bad)}."
        )
