"""The model folder: its ``MLmodel`` manifest (JSON, which is also valid YAML), input example,
requirements, and the checksums that are verified before a model file is loaded.

Layout written by ``tracker.<flavor>.save_model`` / ``log_model`` — MLflow's, so MLflow 3 loads
and serves the folder unchanged (``mlflow.pyfunc.load_model``, ``mlflow models serve``)::

    model/
      MLmodel              manifest: flavors (python_function's loader_module is MLflow's:
                           mlflow.sklearn, mlflow.xgboost, mlflow.pyfunc.model), signature,
                           files {path: sha256}, versions, ids
      model.ubj | model.pkl  the model itself (the flavor decides the name and format)
      input_example.json   when an input example was given
      requirements.txt     pinned versions of the libraries the model needs
      conda.yaml           the same requirements as a conda environment (MLflow's env files)
      python_env.yaml      the Python version and ``-r requirements.txt``, for virtualenv
"""

from __future__ import annotations

import json
import os
import platform
import sys
import uuid
from datetime import datetime, timezone
from typing import Any

from tracker.artifacts import sha256_file
from tracker.exceptions import InvalidArgumentError, ModelIntegrityError, NotFoundError

MANIFEST = "MLmodel"
INPUT_EXAMPLE = "input_example.json"
REQUIREMENTS = "requirements.txt"
CONDA_ENV = "conda.yaml"
PYTHON_ENV = "python_env.yaml"
# The python_function entry's ``env``, as MLflow records it.
ENVIRONMENTS = {"conda": CONDA_ENV, "virtualenv": PYTHON_ENV}

# Distribution names used in requirements.txt for the modules a model may need.
_PIP_NAMES = {"sklearn": "scikit-learn"}


def now_utc() -> str:
    """The creation time as MLflow writes it (``2024-01-31 12:00:00.123456``, UTC)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def library_versions(*modules: str) -> dict[str, str]:
    """The installed versions of ``modules`` (import names, e.g. ``sklearn``), skipping missing ones.

    Args:
        modules: import names.
    """
    from importlib import metadata

    out: dict[str, str] = {}
    for name in modules:
        loaded = sys.modules.get(name)
        version = getattr(loaded, "__version__", None) if loaded is not None else None
        if version is None:
            try:
                version = metadata.version(_PIP_NAMES.get(name, name))
            except metadata.PackageNotFoundError:
                continue
        out[name] = str(version)
    return out


def build_manifest(
    *,
    flavors: dict[str, Any],
    signature: dict[str, Any] | None,
    example_info: dict[str, Any] | None,
    files: dict[str, str],
    libraries: dict[str, str],
    run_id: str | None = None,
    artifact_path: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest dict for a model folder (see the module docstring for the fields).

    Args:
        flavors: ``{"python_function": {...}, "<flavor>": {...}}``.
        signature: ``ModelSignature.to_dict()`` or None.
        example_info: what ``write_input_example`` returned, or None.
        files: ``{relative path: sha256}`` of every file but the manifest.
        libraries: ``{module: version}``.
        run_id: the run the model is logged to (None for ``save_model``).
        artifact_path: where in the run's artifacts (None for ``save_model``).
        metadata: free-form user metadata (MLflow's ``metadata=``).
    """
    from tracker._version import __version__

    manifest: dict[str, Any] = {
        "artifact_path": artifact_path,
        "run_id": run_id,
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": now_utc(),
        "flavors": flavors,
        "signature": signature,
        "saved_input_example_info": example_info,
        "files": files,
        "python_version": platform.python_version(),
        "library_versions": libraries,
        "tracker_version": __version__,
    }
    if metadata:
        manifest["metadata"] = metadata
    return manifest


def folder_checksums(folder: str) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder`` except the manifest.

    Args:
        folder: the model folder.
    """
    out: dict[str, str] = {}
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, folder).replace(os.sep, "/")
            if rel != MANIFEST:
                out[rel] = sha256_file(full)
    return out


def write_manifest(folder: str, manifest: dict[str, Any]) -> None:
    """Write ``MLmodel`` (indented JSON) into ``folder``.

    Args:
        folder: the model folder.
        manifest: what ``build_manifest`` returned.
    """
    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=False)
        fh.write("\n")


def read_manifest(folder: str) -> dict[str, Any]:
    """The ``MLmodel`` manifest of a model folder (JSON; YAML as written by MLflow also read).

    Args:
        folder: the model folder.
    """
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        listing = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        raise NotFoundError(
            f"No {MANIFEST} manifest in {folder!r}, so it is not a logged model (it holds: "
            f"{listing or 'nothing'}). Log models with tracker.<flavor>.log_model."
        )
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        manifest = json.loads(text)
    except ValueError:
        manifest = _read_yaml(path, text)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("flavors"), dict):
        raise InvalidArgumentError(f"{path} is not a model manifest: it has no 'flavors' mapping.")
    return manifest


def _read_yaml(path: str, text: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise InvalidArgumentError(f"{path} is not JSON (YAML manifests need PyYAML).") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidArgumentError(f"{path} is neither JSON nor YAML: {exc}") from None


def read_verified(folder: str, manifest: dict[str, Any], rel: str) -> bytes:
    """The bytes of ``rel``, read once, after checking their sha256 against the manifest.

    The caller deserializes these same bytes, never the file again: hashing a file and then
    opening it a second time let a file swapped in between be unpickled (#15). A missing
    checksum, a missing file or a mismatch raises ``ModelIntegrityError`` naming the file and
    both checksums; nothing is deserialized.

    Args:
        folder: the model folder.
        manifest: its manifest.
        rel: the file's path relative to the folder, as listed in ``files``.
    """
    import hashlib

    recorded = (manifest.get("files") or {}).get(rel)
    full = os.path.join(folder, *rel.split("/"))
    if not recorded:
        raise ModelIntegrityError(
            f"Model file {rel!r} in {folder} has no checksum in the {MANIFEST} manifest, so it "
            "cannot be verified; refusing to load it."
        )
    try:
        with open(full, "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ModelIntegrityError(f"Model file {rel!r} is missing from {folder}.") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != recorded:
        raise ModelIntegrityError(
            f"Model file {rel!r} in {folder} was modified after the model was saved: its sha256 "
            f"is {actual} but the {MANIFEST} manifest records {recorded}. Refusing to load it "
            "(nothing was deserialized)."
        )
    return data


ALLOW_UNVERIFIED = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


def unverified_allowed() -> bool:
    """Whether the user opted in to deserializing model files that carry no checksums (folders
    MLflow wrote), with MLflow 3's own switch ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``."""
    return os.environ.get(ALLOW_UNVERIFIED, "").strip().lower() == "true"


def has_checksums(manifest: dict[str, Any]) -> bool:
    """True for folders tracker wrote (the manifest lists ``files``); False for MLflow's."""
    return isinstance(manifest.get("files"), dict)


def read_model_file(folder: str, manifest: dict[str, Any], rel: str, *, runs_code: bool) -> bytes:
    """The bytes of model file ``rel``, read once: verified (``read_verified``) when the manifest
    lists checksums, as tracker's do.

    A folder MLflow wrote lists none. Its file is then read only if it stays inside the folder,
    and — when deserializing it runs code (pickles) — only if the user opted in with
    ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``, the switch MLflow 3 itself requires; else
    ``ModelIntegrityError``. XGBoost's UBJ/JSON files run no code and are read.

    Args:
        folder: the model folder.
        manifest: its manifest.
        rel: the file's path relative to the folder.
        runs_code: whether deserializing the file can run code.
    """
    if has_checksums(manifest):
        return read_verified(folder, manifest, rel)
    root = os.path.realpath(folder)
    full = os.path.realpath(os.path.join(folder, *str(rel).split("/")))
    if os.path.commonpath([root, full]) != root:
        raise ModelIntegrityError(
            f"The {MANIFEST} manifest in {folder} names model file {rel!r}, outside the model "
            "folder; refusing to load it."
        )
    if runs_code and not unverified_allowed():
        raise ModelIntegrityError(
            f"Model file {rel!r} in {folder} has no checksum (the folder was not written by "
            "tracker, e.g. by MLflow), so it cannot be verified, and unpickling it can run "
            f"code. Refusing to load it; if you trust its source, set {ALLOW_UNVERIFIED}=true "
            "(as MLflow 3 itself requires)."
        )
    try:
        with open(full, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ModelIntegrityError(f"Model file {rel!r} is missing from {folder}.") from None


def verify_tree(folder: str, manifest: dict[str, Any], prefix: str) -> None:
    """Check every file under ``prefix`` (e.g. ``code``): listed in ``files``, unchanged, none
    added — a module dropped into a model's ``code/`` folder would be imported otherwise.

    Args:
        folder: the model folder.
        manifest: its manifest.
        prefix: a folder inside the model folder, relative, with ``/`` separators.
    """
    listed = sorted(k for k in (manifest.get("files") or {}) if k.startswith(prefix + "/"))
    for rel in listed:
        read_verified(folder, manifest, rel)
    root = os.path.join(folder, *prefix.split("/"))
    added = []
    for base, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            rel = os.path.relpath(os.path.join(base, name), folder).replace(os.sep, "/")
            if rel not in listed:
                added.append(rel)
    if added:
        raise ModelIntegrityError(
            f"Model folder {folder} holds file(s) {sorted(added)} that its {MANIFEST} manifest "
            "does not list: they were added after the model was saved. Refusing to load it."
        )


def check_registered_files(manifest: dict[str, Any], registered: dict[str, Any] | None) -> None:
    """Compare the manifest's checksums with those the registry recorded at registration.

    Args:
        manifest: the manifest read from the model folder.
        registered: the registry's ``files`` record for the version (None: nothing recorded).
    """
    if not registered:
        return
    current = manifest.get("files") or {}
    changed = sorted(k for k in set(registered) | set(current) if registered.get(k) != current.get(k))
    if changed:
        raise ModelIntegrityError(
            f"The model folder's {MANIFEST} lists checksums that differ from those recorded when "
            f"the version was registered, for {changed}; the model was changed after registration."
        )


# -- input examples ------------------------------------------------------------------------------


def write_input_example(folder: str, example: Any) -> dict[str, Any] | None:
    """Save ``example`` as ``input_example.json``; return the manifest's description of it.

    DataFrames, dicts and lists of records use pandas' ``split`` orient
    (``{"columns": [...], "data": [[...]]}``); numpy arrays and plain lists are saved as lists.

    Args:
        folder: the model folder.
        example: the input example, or None.
    """
    import numpy as np

    from tracker.models.signature import as_frame

    if example is None:
        return None
    frame = as_frame(example)
    if frame is not None:
        split = frame.to_dict(orient="split", index=False)
        payload: Any = {"columns": [str(c) for c in split["columns"]], "data": split["data"]}
        info: dict[str, Any] = {"type": "dataframe", "pandas_orient": "split"}
    else:
        if type(example).__module__.startswith("scipy.sparse") and hasattr(example, "toarray"):
            example = example.toarray()  # a few rows: saved dense
        array = np.asarray(example)
        if array.dtype.kind == "O":
            raise InvalidArgumentError(
                f"input_example of type {type(example).__name__} cannot be saved; pass a "
                "DataFrame, a numpy array, a dict of columns or a list of records."
            )
        payload = array.tolist()
        info = {"type": "ndarray", "dtype": array.dtype.name}
    with open(os.path.join(folder, INPUT_EXAMPLE), "w", encoding="utf-8") as fh:
        json.dump(payload, fh, default=_json_default)
    return {"artifact_path": INPUT_EXAMPLE, **info}


def load_input_example(folder: str, manifest: dict[str, Any]) -> Any:
    """The saved input example (a DataFrame or numpy array), or None when there is none.

    Args:
        folder: the model folder.
        manifest: its manifest.
    """
    info = manifest.get("saved_input_example_info")
    if not info:
        return None
    with open(os.path.join(folder, info.get("artifact_path", INPUT_EXAMPLE)), encoding="utf-8") as fh:
        payload = json.load(fh)
    if info.get("type") == "dataframe":
        import pandas as pd

        return pd.DataFrame(payload["data"], columns=payload["columns"])
    import numpy as np

    return np.asarray(payload, dtype=info.get("dtype"))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_requirements(folder: str, libraries: dict[str, str]) -> None:
    """Write ``requirements.txt`` pinning ``libraries`` (import names mapped to pip names).

    Args:
        folder: the model folder.
        libraries: ``{module: version}``.
    """
    lines = [f"{_PIP_NAMES.get(name, name)}=={version}" for name, version in libraries.items()]
    with open(os.path.join(folder, REQUIREMENTS), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def write_requirement_lines(folder: str, lines: tuple[str, ...] | list[str]) -> None:
    """Write ``requirements.txt`` with exactly ``lines`` (``pip_requirements=``).

    Args:
        folder: the model folder.
        lines: requirement specifiers, one per line.
    """
    with open(os.path.join(folder, REQUIREMENTS), "w", encoding="utf-8") as fh:
        fh.write("".join(f"{line}\n" for line in lines))


def write_environments(folder: str) -> None:
    """Write ``conda.yaml`` and ``python_env.yaml`` (MLflow's environment files) from the
    folder's ``requirements.txt``, so MLflow's tooling can rebuild the model's environment.

    Args:
        folder: the model folder, holding ``requirements.txt`` already.
    """
    import yaml

    with open(os.path.join(folder, REQUIREMENTS), encoding="utf-8") as fh:
        lines = [line.strip() for line in fh if line.strip()]
    python = platform.python_version()
    conda = {"channels": ["conda-forge"],
             "dependencies": [f"python={python}", "pip", {"pip": lines}], "name": "mlflow-env"}
    venv = {"python": python, "build_dependencies": ["pip", "setuptools", "wheel"],
            "dependencies": [f"-r {REQUIREMENTS}"]}
    for name, content in ((CONDA_ENV, conda), (PYTHON_ENV, venv)):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
            yaml.safe_dump(content, fh, sort_keys=False, default_flow_style=False)
