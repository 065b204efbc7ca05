"""``tracker.pyfunc``: any logged model behind one ``predict(data, params=None)``, and custom models.

``load_model`` picks the flavor from the manifest's ``python_function.loader_module`` — only
tracker's own modules are imported, never a module named by a (possibly edited) manifest. When
the model has a signature, input is checked against it before ``predict`` (missing columns and
wrong types are refused with a message naming them; extra columns are dropped), and ``params``
against its params schema.

Custom models are ``PythonModel`` subclasses logged with ``log_model(name, python_model=...,
artifacts=..., code_paths=...)``; ``tracker.pyfunc.model`` has their folder format.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError
from tracker.pyfunc.model import PythonModel, PythonModelContext

if TYPE_CHECKING:
    from types import ModuleType

    from tracker.models.flavors import ModelInfo
    from tracker.models.signature import ModelSignature
    from tracker.pyfunc.model import CustomSaver

__all__ = [
    "FLAVOR_NAME", "PyFuncModel", "PythonModel", "PythonModelContext", "load_model", "log_model",
    "save_model",
]

FLAVOR_NAME = "python_function"

# loader_module values a manifest may name, and the module that loads each one: MLflow's names
# (what tracker writes, and what MLflow wrote) and the tracker.* names of older tracker folders.
_LOADERS = {
    "mlflow.xgboost": "tracker.xgboost",
    "mlflow.sklearn": "tracker.sklearn",
    "mlflow.pyfunc.model": "tracker.pyfunc.model",  # custom models
    "tracker.xgboost": "tracker.xgboost",
    "tracker.sklearn": "tracker.sklearn",
}


class PyFuncModel:
    """A loaded model with a flavor-independent ``predict``.

    Args:
        impl: what the flavor's loader returned (a ``Booster``, a pipeline, a loaded custom model).
        flavor: the module that loaded it.
        manifest: the model folder's ``MLmodel`` manifest.
        model_uri: the URI the model was loaded from.
    """

    def __init__(
        self, impl: Any, flavor: ModuleType, manifest: dict[str, Any], model_uri: str
    ) -> None:
        from tracker.models.signature import ModelSignature

        self._impl = impl
        self._flavor = flavor
        self._manifest = manifest
        self.model_uri = model_uri
        sig = manifest.get("signature")
        self._signature = ModelSignature.from_dict(sig) if sig else None

    @property
    def metadata(self) -> dict[str, Any]:
        """The ``MLmodel`` manifest (flavors, signature, files, versions, run id…)."""
        return self._manifest

    @property
    def signature(self) -> ModelSignature | None:
        """The model's signature, or None when it was logged without one."""
        return self._signature

    @property
    def loader_module(self) -> str:
        """The module that loaded the model (``tracker.xgboost``, ``tracker.pyfunc.model``…)."""
        return self._flavor.__name__

    def get_raw_model(self) -> Any:
        """The underlying model object: the flavor's model, or a custom model's ``PythonModel``."""
        raw = getattr(self._flavor, "_raw", None)
        return raw(self._impl) if raw is not None else self._impl

    def unwrap_python_model(self) -> Any:
        """MLflow's name for the custom model's ``PythonModel`` instance (``get_raw_model``)."""
        return self.get_raw_model()

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict on a pandas DataFrame, numpy array, dict (columns or one record) or list.

        Args:
            data: the input; checked against the signature when the model has one.
            params: inference params; only those the signature declares are passed on (checked,
                with defaults filled in); others are ignored with a warning, as in MLflow.
        """
        from tracker.models.params import enforce_params

        sig = self._signature
        if sig is not None:
            from tracker.models.enforce import enforce_schema

            data = enforce_schema(sig.inputs, data)
        params = enforce_params(params, sig.params if sig is not None else None)
        with_params = getattr(self._flavor, "_predict_with_params", None)
        if with_params is not None:
            return with_params(self._impl, data, params)
        return self._flavor._predict(self._impl, data)

    def __repr__(self) -> str:
        flavors = sorted(k for k in self._manifest["flavors"] if k != FLAVOR_NAME) or [FLAVOR_NAME]
        return (
            f"<PyFuncModel: uri={self.model_uri!r}, flavor={', '.join(flavors)}, "
            f"run_id={self._manifest.get('run_id')!r}>"
        )


def load_model(
    model_uri: str | os.PathLike[str],
    suppress_warnings: bool = False,
    dst_path: str | None = None,
    model_config: dict[str, Any] | None = None,
) -> PyFuncModel:
    """Load any logged model as a ``PyFuncModel`` (``.predict``, ``.metadata``, ``.get_raw_model``).

    Args:
        model_uri: ``runs:/<run_id>/model``, ``models:/<name>/<version|stage|latest>``,
            ``models:/<name>@<alias>``, a folder path or ``file://`` URI.
        suppress_warnings: accepted for MLflow compatibility.
        dst_path: accepted for MLflow compatibility (local models are read in place).
        model_config: for custom models, new values for keys of the logged ``model_config``.
    """
    import importlib

    from tracker.models.flavors import PYFUNC, open_model

    if model_config is not None and not isinstance(model_config, dict):
        raise InvalidArgumentError(
            f"model_config must be a dict, got {type(model_config).__name__}."
        )
    opened = open_model(model_uri, PYFUNC)
    loader = str(opened.manifest["flavors"][PYFUNC].get("loader_module"))
    if loader not in _LOADERS:
        raise InvalidArgumentError(
            f"The model at {model_uri!r} names loader_module {loader!r}, which tracker cannot "
            f"load; supported: {sorted(_LOADERS)}."
        )
    flavor = importlib.import_module(_LOADERS[loader])
    if loader == "mlflow.pyfunc.model":
        impl = flavor._load(opened.local_path, opened.manifest, model_config)
    else:
        impl = flavor._load(opened.local_path, opened.manifest)
    return PyFuncModel(impl, flavor, opened.manifest, os.fspath(model_uri))


# -- custom models --------------------------------------------------------------------------------


def save_model(
    path: str | os.PathLike[str],
    python_model: Any = None,
    *,
    artifacts: dict[str, str] | None = None,
    code_paths: list[str] | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_config: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Save a custom model (a ``PythonModel`` instance) as a model folder at ``path``.

    Args:
        path: the folder to create (must not exist or be empty).
        python_model: an instance of a ``tracker.pyfunc.PythonModel`` subclass (or a function
            taking the model input).
        artifacts: ``{name: path or URI}`` copied into the model; ``load_context`` finds them in
            ``context.artifacts[name]``. Local paths, ``file://``, ``runs:/`` and ``models:/``.
        code_paths: local Python files or folders copied into ``code/`` and put on ``sys.path``
            when the model is loaded (modules the model imports).
        signature: a ``ModelSignature`` (``infer_signature(input, output, params=...)``) or dict;
            inferred from ``input_example`` by predicting on it when omitted.
        input_example: example input, or ``(input, params)``; saved with the model.
        pip_requirements: the requirements (a list of strings or a requirements file path).
        extra_pip_requirements: requirements added to the defaults.
        model_config: a dict handed to the model as ``context.model_config``.
        **kwargs: MLflow's other arguments (``conda_env``, ``metadata``, …), accepted.
    """
    from tracker.models.flavors import check_kwargs, save_folder

    where = "tracker.pyfunc.save_model"
    _refuse_loader_module(where, kwargs.pop("loader_module", None), kwargs.pop("data_path", None))
    saver, example, example_params = _custom_saver(
        where, python_model, artifacts, code_paths, model_config, pip_requirements,
        extra_pip_requirements, input_example, kwargs,
    )
    metadata = check_kwargs(kwargs, where)
    save_folder(
        os.fspath(path), saver.save, saver.predict, input_example=example,
        signature=_signature(signature, example, saver), metadata=metadata,
        example_params=example_params,
    )


def log_model(
    artifact_path: str | None = None,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_paths: list[str] | None = None,
    conda_env: Any = None,
    python_model: Any = None,
    artifacts: dict[str, str] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    *,
    name: str | None = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_config: dict[str, Any] | None = None,
    infer_code_paths: bool = False,
    **kwargs: Any,
) -> ModelInfo:
    """Log a custom model (a ``PythonModel`` instance) to the active run (one is started if none).

    Args:
        artifact_path: where in the run's artifacts (MLflow 2 spelling), e.g. ``"model"``.
        loader_module: MLflow's other way to define a pyfunc model; not supported (an error).
        data_path: goes with ``loader_module``; not supported.
        code_paths: local Python files or folders copied into ``code/`` (see ``save_model``).
        conda_env: accepted for MLflow compatibility (environments are not rebuilt).
        python_model: an instance of a ``tracker.pyfunc.PythonModel`` subclass (or a function).
        artifacts: ``{name: path or URI}`` copied into the model (see ``save_model``).
        registered_model_name: also register the logged model under this name.
        signature: a ``ModelSignature`` or dict; inferred from ``input_example`` when omitted.
        input_example: example input, or ``(input, params)``; saved with the model.
        name: the artifact path, MLflow 3 spelling; give exactly one of the two.
        pip_requirements: the requirements (a list of strings or a requirements file path).
        extra_pip_requirements: requirements added to the defaults.
        model_config: a dict handed to the model as ``context.model_config``.
        infer_code_paths: MLflow's automatic code_paths; not supported (an error when True).
        **kwargs: MLflow's other arguments (``metadata``, ``await_registration_for``, …).
    """
    from tracker.models.flavors import check_kwargs, log_to_run, target_path

    where = "tracker.pyfunc.log_model"
    if infer_code_paths:
        raise InvalidArgumentError(
            f"{where}: infer_code_paths=True is not supported; list the modules the model "
            "imports in code_paths=[...]."
        )
    _refuse_loader_module(where, loader_module, data_path)
    path = target_path(artifact_path, name, where)
    saver, example, example_params = _custom_saver(
        where, python_model, artifacts, code_paths, model_config, pip_requirements,
        extra_pip_requirements, input_example, kwargs,
    )
    metadata = check_kwargs({**kwargs, "conda_env": conda_env}, where)
    return log_to_run(
        path, saver.save, saver.predict, input_example=example,
        signature=_signature(signature, example, saver),
        registered_model_name=registered_model_name, metadata=metadata, options=kwargs,
        example_params=example_params,
    )


def _refuse_loader_module(where: str, loader_module: Any, data_path: Any) -> None:
    if loader_module is not None or data_path is not None:
        raise InvalidArgumentError(
            f"{where}: loader_module=/data_path= models are not supported (got "
            f"loader_module={loader_module!r}, data_path={data_path!r}); subclass "
            "tracker.pyfunc.PythonModel and pass python_model=MyModel()."
        )


def _custom_saver(
    where: str, python_model: Any, artifacts: Any, code_paths: Any, model_config: Any,
    pip_requirements: Any, extra_pip_requirements: Any, input_example: Any,
    kwargs: dict[str, Any],
) -> tuple[CustomSaver, Any, dict[str, Any] | None]:
    """Validate the custom-model arguments (before any run or folder is touched)."""
    from tracker.pyfunc.model import CustomSaver, check_python_model

    if python_model is None:
        raise InvalidArgumentError(
            f"{where} needs python_model=, an instance of a tracker.pyfunc.PythonModel subclass "
            "(mlflow.pyfunc.PythonModel); to log a fitted library model use its flavor, e.g. "
            "tracker.sklearn.log_model."
        )
    model = check_python_model(python_model, where)
    artifact_map = _check_artifacts(artifacts, where)
    codes = _check_paths(code_paths, "code_paths", where)
    if model_config is not None and not isinstance(model_config, dict):
        raise InvalidArgumentError(
            f"{where}: model_config must be a dict, got {type(model_config).__name__}."
        )
    requirements = _requirements(pip_requirements, extra_pip_requirements, where)
    example, example_params = input_example, None
    if isinstance(input_example, tuple) and len(input_example) == 2 and isinstance(
        input_example[1], dict
    ):
        example, example_params = input_example  # MLflow's (data, params) example
    saver = CustomSaver(model, artifact_map, codes, model_config, requirements)
    return saver, example, example_params


def _signature(signature: Any, example: Any, saver: CustomSaver) -> Any:
    """The signature to save: the given one; else MLflow 3's from ``predict``'s type hints
    (``list[str]`` and other lists of scalars) when there is no example to infer it from."""
    if signature is not None or example is not None:
        return signature
    from tracker.pyfunc.model import hint_signature

    return hint_signature(saver.python_model)


def _check_artifacts(artifacts: Any, where: str) -> dict[str, str]:
    if artifacts is None:
        return {}
    if not isinstance(artifacts, dict):
        raise InvalidArgumentError(
            f"{where}: artifacts must be a dict of name to path or URI, got "
            f"{type(artifacts).__name__}."
        )
    out = {}
    for key, value in artifacts.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(
                f"{where}: artifact names must be non-empty strings, got {key!r}."
            )
        if not isinstance(value, (str, os.PathLike)):
            raise InvalidArgumentError(
                f"{where}: artifact {key!r} must be a path or URI string, got "
                f"{type(value).__name__} {value!r}."
            )
        out[key] = os.fspath(value)
    return out


def _check_paths(paths: Any, what: str, where: str) -> list[str]:
    if paths is None:
        return []
    if isinstance(paths, (str, os.PathLike)) or not isinstance(paths, (list, tuple)):
        raise InvalidArgumentError(
            f"{where}: {what} must be a list of paths, got {type(paths).__name__} {paths!r}."
        )
    out = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)) or not os.path.exists(os.fspath(path)):
            raise InvalidArgumentError(
                f"{where}: {what} entry {path!r} is not an existing file or folder."
            )
        out.append(os.fspath(path))
    return out


def _requirements(pip: Any, extra: Any, where: str) -> list[str] | None:
    """``pip_requirements`` (replacing the defaults) or defaults + ``extra_pip_requirements``."""
    from tracker.models.manifest import library_versions

    if pip is not None and extra is not None:
        raise InvalidArgumentError(
            f"{where}: give pip_requirements= or extra_pip_requirements=, not both."
        )
    if pip is not None:
        given, name = pip, "pip_requirements"
    else:
        given, name = extra, "extra_pip_requirements"
    if given is None:
        return None
    if isinstance(given, (str, os.PathLike)):
        if not os.path.isfile(os.fspath(given)):
            raise InvalidArgumentError(
                f"{where}: {name}={os.fspath(given)!r} is not a requirements file; pass a list "
                "of requirement strings or the path of an existing requirements.txt."
            )
        with open(os.fspath(given), encoding="utf-8") as fh:
            lines = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    elif isinstance(given, (list, tuple)) and all(isinstance(r, str) for r in given):
        lines = [r.strip() for r in given if r.strip()]
    else:
        raise InvalidArgumentError(
            f"{where}: {name} must be a list of requirement strings or a file path, got "
            f"{type(given).__name__} {given!r}."
        )
    if pip is not None:
        return lines
    defaults = [f"{n}=={v}" for n, v in library_versions("cloudpickle", "numpy", "pandas").items()]
    return defaults + [line for line in lines if line not in defaults]
