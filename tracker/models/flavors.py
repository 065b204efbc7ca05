"""What every flavor shares: saving a model folder, logging it to a run, opening it by URI.

A flavor module (``tracker.xgboost``, ``tracker.sklearn``) supplies three functions — write the
model file(s) into a folder, load them back, predict on prepared input — and calls ``save_folder``,
``log_to_run`` and ``open_model`` from here for the rest: signature inference, input example,
requirements, checksums, the ``MLmodel`` manifest, the run's artifacts and registration.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracker.exceptions import AlreadyExistsError, InvalidArgumentError, NotFoundError
from tracker.models import manifest as mf
from tracker.models.params import infer_param_schema
from tracker.models.signature import ModelSignature, as_frame, as_signature, infer_signature

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracker.model_uri import ResolvedModel

PYFUNC = "python_function"

# MLflow keyword arguments accepted for compatibility (not used: environments are not rebuilt).
MLFLOW_KWARGS = frozenset({
    "conda_env", "code_paths", "code_path", "pip_requirements", "extra_pip_requirements",
    "await_registration_for", "pyfunc_predict_fn", "metadata", "params", "tags", "model_type",
    "step", "model_id", "resources", "auth_policy", "prompts", "mlflow_model",
})


@dataclass(frozen=True)
class SavedFlavor:
    """What a flavor wrote into the model folder.

    Args:
        name: the flavor name (``xgboost``, ``sklearn``).
        conf: the flavor's manifest entry (library version, file, format, model class).
        data: the model file, relative to the folder (None: the flavor records its own files).
        loader_module: the ``python_function`` loader MLflow names for it (``mlflow.xgboost``),
            so MLflow loads the folder too; tracker maps it to its own module.
        libraries: ``{module: version}`` the model needs.
        requirements: the lines of ``requirements.txt`` (None: pins of ``libraries``).
        pyfunc: extra keys of the ``python_function`` entry (``model_path``, ``predict_fn``).

    A flavor named ``python_function`` (custom models) has its ``conf`` merged into the
    ``python_function`` entry instead of getting an entry of its own, as MLflow writes it.
    """

    name: str
    conf: dict[str, Any]
    data: str | None
    loader_module: str
    libraries: dict[str, str]
    requirements: tuple[str, ...] | None = None
    pyfunc: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` returns, like MLflow's ``ModelInfo``."""

    artifact_path: str
    model_uri: str
    run_id: str
    flavors: dict[str, Any]
    signature: ModelSignature | None
    model_uuid: str
    utc_time_created: str
    registered_model_version: int | None = None
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    signature_dict: dict[str, Any] | None = field(default=None, repr=False)
    model_id: str | None = None  # the MLflow 3 logged model (model_uri is models:/<model_id>)


@dataclass(frozen=True)
class OpenedModel:
    """A model folder found from a URI, with its manifest."""

    local_path: str
    manifest: dict[str, Any]
    resolved: ResolvedModel | None = None


# -- arguments ------------------------------------------------------------------------------------


def target_path(artifact_path: str | None, name: str | None, where: str) -> str:
    """The artifact path from MLflow 2's ``artifact_path=`` or MLflow 3's ``name=`` (exactly one).

    Args:
        artifact_path: MLflow 2 spelling.
        name: MLflow 3 spelling.
        where: the calling function, for messages.
    """
    from tracker.validation import validate_artifact_path

    if artifact_path is not None and name is not None:
        raise InvalidArgumentError(
            f"{where}: give artifact_path= (MLflow 2) or name= (MLflow 3), not both "
            f"(got artifact_path={artifact_path!r}, name={name!r})."
        )
    given = artifact_path if artifact_path is not None else name
    if name is not None:  # MLflow 3's name= follows its logged-model name rule
        from tracker.logged_models import validate_logged_model_name

        validate_logged_model_name(name, where)
    if given is None:
        raise InvalidArgumentError(
            f"{where}: say where to log the model with artifact_path='model' (or name='model')."
        )
    path = validate_artifact_path(given)
    if not path:
        raise InvalidArgumentError(f"{where}: artifact path {given!r} must name a folder.")
    return path


def check_kwargs(kwargs: dict[str, Any], where: str) -> dict[str, Any] | None:
    """Refuse unknown keyword arguments; return ``metadata=`` (the one MLflow extra we keep).

    Args:
        kwargs: the extra keyword arguments the caller passed.
        where: the calling function, for messages.
    """
    unknown = sorted(set(kwargs) - MLFLOW_KWARGS)
    if unknown:
        raise InvalidArgumentError(
            f"{where} got unexpected keyword argument(s) {unknown}; MLflow's "
            f"{sorted(MLFLOW_KWARGS)} are accepted (only metadata= is used)."
        )
    metadata = kwargs.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidArgumentError(f"{where}: metadata must be a dict, got {type(metadata).__name__}.")
    return metadata


def model_input(data: Any) -> Any:
    """Prediction input in a form flavors accept: a DataFrame for columns, else a numpy array.

    Args:
        data: a DataFrame, numpy array, dict (of columns or one record), list of records or values.
    """
    import numpy as np

    frame = as_frame(data)
    if frame is not None:
        return frame
    if isinstance(data, np.ndarray) or type(data).__module__.startswith("scipy.sparse"):
        return data
    return np.asarray(data)


# -- saving ---------------------------------------------------------------------------------------


def save_folder(
    folder: str,
    saver: Callable[[str], SavedFlavor],
    predict: Callable[[Any], Any],
    *,
    input_example: Any = None,
    signature: Any = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    metadata: dict[str, Any] | None = None,
    example_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a complete model folder and return its manifest.

    Args:
        folder: where to write (must not exist or be empty).
        saver: the flavor's writer: called with the folder, returns what it wrote.
        predict: the flavor's predict on the in-memory model (used to infer output specs).
        input_example: optional example input, saved and used to infer the signature.
        signature: a ``ModelSignature`` or dict; None to infer it from ``input_example``;
            False for no signature.
        run_id: the run the folder is logged to, if any.
        artifact_path: the folder's path in the run's artifacts, if any.
        metadata: free-form user metadata.
        example_params: inference params given with the input example (MLflow's
            ``input_example=(data, params)``), recorded in the inferred signature.
    """
    sig = as_signature(signature)  # validated before anything is written
    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise AlreadyExistsError(f"Cannot save a model to {folder!r}: it exists and is not empty.")
    created = not os.path.exists(folder)
    os.makedirs(folder, exist_ok=True)
    try:
        return _write_folder(folder, saver, predict, input_example, sig, signature is None,
                             run_id, artifact_path, metadata, example_params)
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _write_folder(
    folder: str,
    saver: Callable[[str], SavedFlavor],
    predict: Callable[[Any], Any],
    input_example: Any,
    signature: ModelSignature | None,
    infer: bool,
    run_id: str | None,
    artifact_path: str | None,
    metadata: dict[str, Any] | None,
    example_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    saved = saver(folder)
    example_info = mf.write_input_example(folder, input_example)
    sig = (_infer(input_example, predict, example_params)
           if signature is None and infer else signature)
    if saved.requirements is not None:
        mf.write_requirement_lines(folder, saved.requirements)
    else:
        mf.write_requirements(folder, saved.libraries)
    mf.write_environments(folder)
    pyfunc: dict[str, Any] = {"loader_module": saved.loader_module}
    if saved.data is not None:
        pyfunc["data"] = saved.data
    pyfunc.update(saved.pyfunc)
    pyfunc["env"] = dict(mf.ENVIRONMENTS)
    pyfunc["python_version"] = platform.python_version()
    flavors = {PYFUNC: pyfunc}
    if saved.name == PYFUNC:
        pyfunc.update(saved.conf)
    else:
        flavors[saved.name] = saved.conf
    manifest = mf.build_manifest(
        flavors=flavors,
        signature=sig.to_mlflow_dict() if sig is not None else None,
        example_info=example_info,
        files=mf.folder_checksums(folder),
        libraries=saved.libraries,
        run_id=run_id,
        artifact_path=artifact_path,
        metadata=metadata,
    )
    mf.write_manifest(folder, manifest)
    return manifest


def _infer(
    example: Any, predict: Callable[[Any], Any], params: dict[str, Any] | None = None
) -> ModelSignature | None:
    """The signature of ``example`` (and its params), with outputs from predicting on it when
    that works."""
    if example is None:
        return None
    inputs = infer_signature(example).inputs
    param_schema = infer_param_schema(params) if params else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            output = predict(model_input(example))
        outputs = infer_signature(output).inputs
    except Exception:  # noqa: BLE001 - output specs are optional; the input spec is what matters
        outputs = None
    return ModelSignature(inputs, outputs, param_schema)


def info_from_manifest(
    manifest: dict[str, Any], version: int | None, model_id: str | None = None
) -> ModelInfo:
    """The ``ModelInfo`` of a logged model folder.

    Args:
        manifest: the folder's manifest (with ``run_id`` and ``artifact_path`` set).
        version: the registered version number, if it was registered.
        model_id: the logged model's id (then ``model_uri`` is ``models:/<model_id>``).
    """
    sig = manifest.get("signature")
    runs_uri = f"runs:/{manifest['run_id']}/{manifest['artifact_path']}"
    return ModelInfo(
        model_id=model_id,
        artifact_path=manifest["artifact_path"],
        model_uri=f"models:/{model_id}" if model_id else runs_uri,
        run_id=manifest["run_id"],
        flavors=manifest["flavors"],
        signature=ModelSignature.from_dict(sig) if sig else None,
        model_uuid=manifest["model_uuid"],
        utc_time_created=manifest["utc_time_created"],
        registered_model_version=version,
        saved_input_example_info=manifest.get("saved_input_example_info"),
        metadata=manifest.get("metadata"),
        signature_dict=sig,
    )


# -- logging --------------------------------------------------------------------------------------


def log_to_run(
    path: str,
    saver: Callable[[str], SavedFlavor],
    predict: Callable[[Any], Any],
    *,
    input_example: Any,
    signature: Any,
    registered_model_name: str | None,
    metadata: dict[str, Any] | None,
    example_params: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> ModelInfo:
    """Save a model folder into the active run's artifacts at ``path`` (a run is started if none).

    The folder is also an MLflow 3 logged model (``tracker.active_model``): PENDING while its
    files are written, then READY (FAILED if writing raised), with ``model_uri`` ``models:/<id>``.

    Args:
        path: the validated artifact path.
        saver: the flavor's writer.
        predict: the flavor's predict on the in-memory model.
        input_example: optional example input.
        signature: optional signature (else inferred from the example).
        registered_model_name: register the logged model under this name too.
        metadata: free-form user metadata.
        example_params: inference params given with the input example.
        options: MLflow 3's ``log_model`` keywords (``params``, ``tags``, ``model_type``,
            ``step``, ``model_id``).
    """
    from tracker import api, model_links

    as_signature(signature)  # refuse a bad signature before a run is started
    active = api.active_run() or api.start_run()
    client, run_id = active._client, str(active.info.run_id)
    if client._repo(run_id).exists(path):
        raise AlreadyExistsError(
            f"Run {run_id} already has artifacts at {path!r}; log the model under another "
            "artifact_path (logged models are not overwritten: versions may point at them)."
        )
    options = options or {}
    model = model_links.begin_log_model(
        client, run_id, str(active.info.experiment_id), path, options
    )
    try:
        with tempfile.TemporaryDirectory(prefix="tracker-model-") as tmp:
            folder = os.path.join(tmp, "model")
            manifest = save_folder(
                folder, saver, predict, input_example=input_example, signature=signature,
                run_id=run_id, artifact_path=path, metadata=metadata,
                example_params=example_params,
            )
            client.log_artifacts(run_id, folder, path)
    except BaseException:
        model_links.finish_log_model(client, model, run_id, path, options.get("step"), False)
        raise
    model_links.finish_log_model(client, model, run_id, path, options.get("step"), True)
    version = None
    if registered_model_name is not None:
        registered = api.register_model(f"runs:/{run_id}/{path}", registered_model_name,
                                        _logged_model_id=model.model_id)
        version = int(registered.version)
    return info_from_manifest(manifest, version, model.model_id)


# -- loading --------------------------------------------------------------------------------------


def open_model(model_uri: Any, flavor: str | None) -> OpenedModel:
    """Find the model folder ``model_uri`` names and read its manifest.

    Args:
        model_uri: ``runs:/``, ``models:/`` (version, stage, ``latest`` or ``@alias``), a path or
            a ``file://`` URI.
        flavor: the flavor the caller needs (None: any).
    """
    from tracker.model_uri import resolve

    uri = os.fspath(model_uri) if isinstance(model_uri, os.PathLike) else model_uri
    client: Any = None
    if isinstance(uri, str) and uri.startswith(("runs:/", "models:/")):
        from tracker.api import _client

        client = _client()
    resolved = resolve(client, uri)
    local = resolved.local_path
    if not os.path.isdir(local):
        raise InvalidArgumentError(
            f"{uri!r} points at a file ({local}); a model URI names the model folder (the one "
            "holding MLmodel), e.g. runs:/<run_id>/model."
        )
    manifest = mf.read_manifest(local)
    if flavor is not None and flavor not in manifest["flavors"]:
        raise NotFoundError(
            f"The model at {uri!r} has no {flavor!r} flavor; its flavors: "
            f"{sorted(manifest['flavors'])}. Load it with tracker.pyfunc.load_model or the "
            "matching tracker.<flavor>.load_model."
        )
    if resolved.version is not None:
        info = client.registry.version_info(resolved.version.name, resolved.version.version)
        mf.check_registered_files(manifest, info.get("files"))
    return OpenedModel(local, manifest, resolved)
