"""Custom pyfunc models: ``PythonModel`` subclasses, saved in MLflow's layout and loaded back.

The folder ``tracker.pyfunc.log_model(python_model=...)`` writes is the one MLflow writes::

    model/
      MLmodel            flavors.python_function: loader_module mlflow.pyfunc.model,
                         python_model python_model.pkl, cloudpickle_version, artifacts, code
      python_model.pkl   the PythonModel instance, pickled with cloudpickle
      artifacts/         a copy of each entry of artifacts={name: path or URI}
      code/              a copy of each entry of code_paths=[...]
      requirements.txt

Loading reads ``python_model.pkl`` once, checks those bytes against the manifest's sha256 and
unpickles the same bytes; the files under ``code/`` and ``artifacts/`` are checked first too
(code is imported, artifacts are usually unpickled by ``load_context``). ``code/`` is put on
``sys.path`` from a verified copy in the user's cache, so importing never writes into the store.
This module imports only the standard library; cloudpickle is imported when a model is saved.
"""

from __future__ import annotations

import inspect
import os
import pickle
import shutil
import sys
import tempfile
import typing
import warnings
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracker.models.flavors import SavedFlavor

__all__ = ["PythonModel", "PythonModelContext"]

LOADER_MODULE = "mlflow.pyfunc.model"  # what MLflow records, so the folder is MLflow's format
PYTHON_MODEL = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
CODE_DIR = "code"


class TypeHints(typing.NamedTuple):
    """The type hints of a custom model's ``predict`` (MLflow's ``_TypeHints``)."""

    input: Any
    output: Any


class PythonModel:
    """Base class of custom models: override ``predict`` (and ``load_context`` to read artifacts).

    ``predict(self, context, model_input, params=None)`` gets the ``PythonModelContext`` and the
    input (checked against the signature); ``predict(self, model_input, params=None)`` without
    the context works too, as in MLflow 3. ``params`` is passed only when ``predict`` takes it.
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Read artifacts once when the model is loaded (e.g. unpickle a fitted estimator).

        Args:
            context: ``context.artifacts`` maps each artifact name to its local path.
        """

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Return predictions for ``model_input``; every subclass overrides this.

        Args:
            context: the ``PythonModelContext`` (artifacts, model_config).
            model_input: the input, checked against the model's signature when it has one.
            params: inference params declared by the signature, with their defaults.
        """
        raise NotImplementedError(f"{type(self).__name__} must define predict().")

    @property
    def predict_type_hints(self) -> TypeHints:
        """MLflow's property: the type hints of ``predict``'s input and return value."""
        try:
            output = typing.get_type_hints(type(self).predict).get("return")
        except Exception:  # noqa: BLE001 - unresolvable annotations: no hint
            output = None
        return TypeHints(input_hint(self), output)

    def predict_stream(
        self, context: Any, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        """Streaming predictions (MLflow API); not implemented unless a subclass overrides it.

        Args:
            context: the ``PythonModelContext``.
            model_input: the input.
            params: inference params.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define predict_stream().")


class PythonModelContext:
    """What a custom model gets at load time: its artifacts' local paths and its configuration.

    Args:
        artifacts: ``{name: absolute local path}`` of the artifacts logged with the model.
        model_config: the ``model_config=`` given when logging (or loading), or None.
    """

    def __init__(self, artifacts: dict[str, str], model_config: dict[str, Any] | None) -> None:
        self._artifacts = artifacts
        self._model_config = model_config

    @property
    def artifacts(self) -> dict[str, str]:
        """``{name: absolute local path}`` of the model's artifacts."""
        return self._artifacts

    @property
    def model_config(self) -> dict[str, Any] | None:
        """The model configuration (a dict), or None."""
        return self._model_config

    def __repr__(self) -> str:
        return (f"PythonModelContext(artifacts={self._artifacts!r}, "
                f"model_config={self._model_config!r})")


class _FunctionPythonModel(PythonModel):
    """A plain function given as ``python_model=``: called with the input only (MLflow's rule)."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def predict(  # type: ignore[override]
        self, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        return self.func(model_input)


def check_python_model(python_model: Any, where: str) -> PythonModel:
    """``python_model`` as a ``PythonModel`` instance (a plain function is wrapped), or an error.

    Args:
        python_model: what the caller passed.
        where: the calling function, for messages.
    """
    if isinstance(python_model, PythonModel):
        if type(python_model).predict is PythonModel.predict:
            raise InvalidArgumentError(
                f"{where}: {type(python_model).__name__} does not define predict(self, context, "
                "model_input, params=None); a PythonModel subclass must."
            )
        return python_model
    if isinstance(python_model, type):
        hint = (f" Pass an instance: python_model={python_model.__name__}()."
                if issubclass(python_model, PythonModel) else "")
        raise InvalidArgumentError(
            f"{where}: python_model must be a PythonModel instance, got the class "
            f"{python_model.__module__}.{python_model.__qualname__}.{hint}"
        )
    if isinstance(python_model, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"{where}: python_model={os.fspath(python_model)!r} is a path; tracker does not "
            "support MLflow's models-from-code. Pass a PythonModel instance."
        )
    if callable(python_model) and inspect.isfunction(python_model):
        return _FunctionPythonModel(python_model)
    raise InvalidArgumentError(
        f"{where}: python_model must be an instance of a tracker.pyfunc.PythonModel subclass "
        f"(mlflow.pyfunc.PythonModel) or a function, got {type(python_model).__module__}."
        f"{type(python_model).__qualname__}."
    )


# -- saving ---------------------------------------------------------------------------------------


class CustomSaver:
    """Writes a custom model into a folder; afterwards predicts with it (to infer outputs).

    Args:
        python_model: the checked ``PythonModel`` instance.
        artifacts: ``{name: local path, file:// URI, runs:/ or models:/ URI}``.
        code_paths: local files or folders copied into ``code/``.
        model_config: the configuration handed to the model's context.
        requirements: the lines of ``requirements.txt`` (None: the defaults).
    """

    def __init__(self, python_model: PythonModel, artifacts: dict[str, str],
                 code_paths: list[str], model_config: dict[str, Any] | None,
                 requirements: list[str] | None) -> None:
        self.python_model = python_model
        self.artifacts = artifacts
        self.code_paths = code_paths
        self.model_config = model_config
        self.requirements = requirements
        self._folder: str | None = None
        self._paths: dict[str, str] = {}
        self._loaded: LoadedPythonModel | None = None

    def save(self, folder: str) -> SavedFlavor:
        """Write ``python_model.pkl``, ``artifacts/`` and ``code/``; return the flavor entry.

        Args:
            folder: the (empty) model folder.
        """
        import cloudpickle

        from tracker.models.flavors import PYFUNC, SavedFlavor
        from tracker.models.manifest import library_versions

        try:
            payload = dumps(self.python_model)
        except Exception as exc:  # noqa: BLE001 - any pickling failure, reported with its cause
            raise InvalidArgumentError(
                f"python_model {type(self.python_model).__name__} cannot be pickled with "
                f"cloudpickle: {exc}. Keep unpicklable objects (connections, open files, locks) "
                "out of the instance and create them in load_context()."
            ) from None
        with open(os.path.join(folder, PYTHON_MODEL), "wb") as fh:
            fh.write(payload)
        conf: dict[str, Any] = {
            "cloudpickle_version": cloudpickle.__version__,
            "python_model": PYTHON_MODEL,
            "code": _copy_code(folder, self.code_paths),
            "streamable": type(self.python_model).predict_stream is not PythonModel.predict_stream,
        }
        if self.artifacts:
            conf["artifacts"] = _copy_artifacts(folder, self.artifacts)
        if self.model_config is not None:
            conf["config"] = self.model_config
        self._folder = folder
        self._paths = {k: os.path.join(folder, *v["path"].split("/"))
                       for k, v in (conf.get("artifacts") or {}).items()}
        libraries = library_versions("cloudpickle", "numpy", "pandas")
        lines = self.requirements
        if lines is None:
            lines = [f"{name}=={version}" for name, version in libraries.items()]
        return SavedFlavor(PYFUNC, conf, None, LOADER_MODULE, libraries, tuple(lines))

    def predict(self, data: Any) -> Any:
        """Predict with the saved model on an example (load_context is called first, once)."""
        if self._folder is None:
            raise InvalidArgumentError("CustomSaver.predict is only available after save().")
        if self._loaded is None:
            context = PythonModelContext(dict(self._paths), self.model_config)
            self.python_model.load_context(context)
            self._loaded = LoadedPythonModel(self.python_model, context)
        return self._loaded.predict(data, None)


def _copy_code(folder: str, code_paths: list[str]) -> str | None:
    if not code_paths:
        return None
    target = os.path.join(folder, CODE_DIR)
    for path in code_paths:
        destination = os.path.join(target, os.path.basename(os.path.abspath(path)))
        if os.path.exists(destination):
            raise InvalidArgumentError(
                f"code_paths has two entries named {os.path.basename(destination)!r}; each file "
                "or folder is copied into code/ under its own name."
            )
        _copy(path, destination)
    return CODE_DIR


def _copy_artifacts(folder: str, artifacts: dict[str, str]) -> dict[str, dict[str, str]]:
    """Copy each artifact to ``artifacts/<basename>`` (``artifacts/<n>/<basename>`` when two
    different sources share a name); ``{name: {"path": ..., "uri": ...}}`` for the manifest."""
    sources: dict[str, str] = {}  # uri -> local source
    for name, uri in artifacts.items():
        if uri not in sources:
            sources[uri] = _local_artifact(name, uri)
    basenames = [os.path.basename(os.path.abspath(src)).casefold() for src in sources.values()]
    taken: set[str] = set()
    saved: dict[str, str] = {}
    for (uri, src), base in zip(sources.items(), basenames):
        rel = f"{ARTIFACTS_DIR}/{os.path.basename(os.path.abspath(src))}"
        if basenames.count(base) > 1:
            n = 0
            while str(n) in taken or str(n) in basenames:
                n += 1
            taken.add(str(n))
            rel = f"{ARTIFACTS_DIR}/{n}/{os.path.basename(os.path.abspath(src))}"
        _copy(src, os.path.join(folder, *rel.split("/")))
        saved[uri] = rel
    return {name: {"path": saved[uri], "uri": uri} for name, uri in artifacts.items()}


def _local_artifact(name: str, uri: str) -> str:
    """The local file or folder an ``artifacts=`` entry names (run/registry URIs resolved)."""
    if uri.startswith(("runs:/", "models:/")):
        from tracker.api import _client
        from tracker.model_uri import resolve

        return resolve(_client(), uri).local_path
    if "://" in uri and not uri.startswith("file://"):
        raise InvalidArgumentError(
            f"Artifact {name!r} has URI {uri!r}; artifacts= takes local paths, file:// URIs, "
            "runs:/<run_id>/<path> or models:/<name>/<version>."
        )
    from tracker.uri import resolve_local_path

    local = resolve_local_path(uri, notice=False)
    if not os.path.exists(local):
        raise NotFoundError(
            f"Artifact {name!r} points at {uri!r}, which does not exist ({local}); artifacts= "
            "maps names to existing files or folders."
        )
    return local


def _copy(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copyfile(src, dst)


# -- loading --------------------------------------------------------------------------------------


# Type hints of predict's input (MLflow 3) that give a signature: list[<scalar>].
_HINT_TYPES = {str: "string", bool: "boolean", int: "long", float: "double"}


def input_hint(python_model: PythonModel) -> Any:
    """The type hint of ``predict``'s input argument (None when there is none or it is unreadable).

    Args:
        python_model: the model.
    """
    func = getattr(type(python_model), "predict", None)
    try:
        hints = typing.get_type_hints(func)
        names = [p for p in inspect.signature(python_model.predict).parameters if p != "params"]
    except Exception:  # noqa: BLE001 - unresolvable annotations: no hint
        return None
    return hints.get(names[-1]) if names else None


def hint_signature(python_model: PythonModel) -> Any:
    """MLflow 3's signature from type hints, for ``list[str]``-style inputs (None otherwise).

    Args:
        python_model: the model.
    """
    from tracker.models.signature import ColSpec, ModelSignature, Schema

    def column(hint: Any) -> Schema | None:
        args = typing.get_args(hint)
        if typing.get_origin(hint) is list and len(args) == 1 and args[0] in _HINT_TYPES:
            return Schema((ColSpec(_HINT_TYPES[args[0]]),))
        return None

    hints = python_model.predict_type_hints
    inputs = column(hints.input)
    return ModelSignature(inputs, column(hints.output)) if inputs is not None else None


class LoadedPythonModel:
    """A loaded custom model and its context; ``predict`` calls the user's ``predict``.

    Args:
        python_model: the unpickled ``PythonModel``.
        context: its ``PythonModelContext``.
    """

    def __init__(self, python_model: PythonModel, context: PythonModelContext) -> None:
        self.python_model = python_model
        self.context = context
        parameters = inspect.signature(python_model.predict).parameters
        self._takes_params = "params" in parameters
        # MLflow's rule: a parameter named context, or two parameters besides params.
        self._takes_context = "context" in parameters or len(
            [p for p in parameters if p not in ("self", "params")]
        ) == 2
        hint = input_hint(python_model)
        self._wants_text_list = typing.get_origin(hint) is list and typing.get_args(hint) == (str,)

    def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        """Call the model's ``predict`` with the context and params it takes.

        Args:
            data: the (already checked) input.
            params: the (already checked) inference params.
        """
        if self._wants_text_list:
            data = _text_list(data)
        kwargs: dict[str, Any] = {}
        if self._takes_params:
            kwargs["params"] = params
        elif params:
            warnings.warn(
                f"{type(self.python_model).__name__}.predict takes no params argument; ignoring "
                f"params {sorted(params)}.", UserWarning, stacklevel=4,
            )
        if self._takes_context:
            return self.python_model.predict(self.context, data, **kwargs)
        return self.python_model.predict(data, **kwargs)


def _text_list(data: Any) -> Any:
    """A DataFrame as the list of its first text column, for ``predict(model_input: list[str])``
    (what MLflow 3 hands such a model); other input unchanged."""
    columns = getattr(data, "columns", None)
    if columns is None or not len(data):
        return data
    first = data.iloc[0]
    for name in columns:
        if isinstance(first[name], str):
            return data[name].tolist()
    raise InvalidArgumentError(
        "This model's predict takes list[str], but the input DataFrame has no text column "
        f"(columns: {list(columns)})."
    )


def _load(
    folder: str, manifest: dict[str, Any], model_config: dict[str, Any] | None = None
) -> LoadedPythonModel:
    """Verify, unpickle and ``load_context`` a custom model folder.

    Args:
        folder: the model folder.
        manifest: its manifest.
        model_config: overrides of the logged ``model_config`` keys.
    """
    from tracker.models.flavors import PYFUNC
    from tracker.models.manifest import has_checksums, read_model_file, verify_tree

    conf = manifest["flavors"][PYFUNC]
    artifacts = {name: _inside(folder, str(info.get("path")), f"artifact {name!r}")
                 for name, info in (conf.get("artifacts") or {}).items()}
    verified = has_checksums(manifest)
    # A folder MLflow wrote has no checksums: read_model_file refuses it unless the user opted
    # in (MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true), before any code or artifact is used.
    payload = read_model_file(folder, manifest, str(conf.get("python_model", PYTHON_MODEL)),
                              runs_code=True)
    if conf.get("code"):
        code = str(conf["code"])
        _inside(folder, code, "code")
        if verified:
            verify_tree(folder, manifest, code)
            _add_to_sys_path(folder, manifest, code)
        else:
            _add_unverified_code(folder, code)
    if artifacts and verified:
        verify_tree(folder, manifest, ARTIFACTS_DIR)
    _warn_cloudpickle_version(conf.get("cloudpickle_version"))
    try:
        python_model = loads(payload)  # verified just above (or the user opted in)
    except ModuleNotFoundError as exc:
        if str(exc.name).split(".")[0] == "mlflow":
            raise InvalidArgumentError(
                f"The custom model in {folder} was pickled by MLflow and refers to MLflow's own "
                f"module {exc.name!r} (MLflow 3 wraps predict in its input validation); loading "
                "it needs mlflow installed next to tracker: pip install mlflow."
            ) from None
        raise InvalidArgumentError(
            f"The custom model in {folder} needs module {exc.name!r}, which cannot be imported. "
            "Install it, or log the model with code_paths=[...] holding that module."
        ) from None
    if not isinstance(python_model, PythonModel):
        raise InvalidArgumentError(
            f"{folder}/{PYTHON_MODEL} holds a {type(python_model).__qualname__}, not a "
            "tracker.pyfunc.PythonModel; it was not written by tracker.pyfunc.log_model."
        )
    context = PythonModelContext(artifacts, _model_config(conf.get("config"), model_config))
    python_model.load_context(context)
    return LoadedPythonModel(python_model, context)


def _add_unverified_code(folder: str, code: str) -> None:
    """Put ``code/`` of a folder MLflow wrote on ``sys.path`` (as MLflow does: the user opted
    in to loading it unverified)."""
    path = os.path.join(folder, *code.split("/"))
    if path not in sys.path:
        sys.path.insert(0, path)


# -- pickling: the PythonModel base class under MLflow's name -------------------------------------
#
# A custom model class defined in a script or notebook is pickled by value, and its base class by
# name. Recorded as tracker.pyfunc.model.PythonModel, MLflow could not unpickle it without
# tracker installed; so the base classes are recorded as mlflow.pyfunc.model's, which MLflow
# has, and tracker's unpickler maps that name back to its own classes (for pickles MLflow wrote
# too).

_MLFLOW_MODULES = ("mlflow.pyfunc.model", "mlflow.pyfunc")
_BASES = ("PythonModel", "PythonModelContext")


class _ModuleByName:
    """Pickles as ``importlib.import_module(name)``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        import importlib

        return importlib.import_module, (self.name,)


def dumps(python_model: PythonModel) -> bytes:
    """``python_model`` pickled with cloudpickle, its base classes named as MLflow names them.

    Args:
        python_model: the model instance.
    """
    import io

    import cloudpickle

    bases = {id(PythonModel): "PythonModel", id(PythonModelContext): "PythonModelContext"}

    class _Pickler(cloudpickle.CloudPickler):
        def reducer_override(self, obj: Any) -> Any:
            name = bases.get(id(obj)) if isinstance(obj, type) else None
            if name is not None:
                return getattr, (_ModuleByName("mlflow.pyfunc.model"), name)
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.DEFAULT_PROTOCOL).dump(python_model)
    return buffer.getvalue()


def _import_module(name: str) -> Any:
    """``importlib.import_module``, with MLflow's pyfunc modules meaning this one."""
    import importlib

    if name in _MLFLOW_MODULES:
        return sys.modules[__name__]
    return importlib.import_module(name)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "importlib" and name == "import_module":
            return _import_module
        if module in _MLFLOW_MODULES and name in _BASES:
            return globals()[name]
        return super().find_class(module, name)


def loads(payload: bytes) -> Any:
    """Unpickle a custom model (``dumps``' output, or MLflow's ``python_model.pkl``).

    Args:
        payload: the verified bytes.
    """
    import io

    return _Unpickler(io.BytesIO(payload)).load()  # noqa: S301 - the caller verified the bytes


def _raw(loaded: LoadedPythonModel) -> PythonModel:
    return loaded.python_model


def _predict_with_params(
    loaded: LoadedPythonModel, data: Any, params: dict[str, Any] | None
) -> Any:
    return loaded.predict(data, params)


def _inside(folder: str, rel: str, what: str) -> str:
    """``folder/rel`` — refused when a (possibly edited) manifest points outside the folder."""
    root = os.path.realpath(folder)
    full = os.path.realpath(os.path.join(folder, *rel.split("/")))
    if os.path.commonpath([root, full]) != root:
        raise InvalidArgumentError(
            f"The MLmodel manifest in {folder} places the {what} at {rel!r}, outside the model "
            "folder; refusing to load it."
        )
    return full


def _add_to_sys_path(folder: str, manifest: dict[str, Any], code: str) -> None:
    """Put a verified copy of ``code/`` first on ``sys.path``.

    The copy lives in the user's cache (``<cache>/model-code/<digest>``), one per content, and is
    checked against the manifest each time it is used; importing from it never writes
    ``__pycache__`` into the store.
    """
    import hashlib

    from tracker.models.manifest import ModelIntegrityError
    from tracker.store.covers_cache import cache_root

    files = {k[len(code) + 1:]: v for k, v in (manifest.get("files") or {}).items()
             if k.startswith(code + "/")}
    digest = hashlib.sha256("".join(f"{k}={files[k]};" for k in sorted(files)).encode())
    parent = os.path.join(cache_root(), "model-code")
    target = os.path.join(parent, digest.hexdigest()[:24])
    if not _same_files(target, files):
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
        try:
            shutil.copytree(os.path.join(folder, *code.split("/")), os.path.join(staging, "code"),
                            ignore=shutil.ignore_patterns("__pycache__"))
            shutil.rmtree(target, ignore_errors=True)
            os.replace(os.path.join(staging, "code"), target)
        except OSError:
            pass  # another process put the same code there first: checked below
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if not _same_files(target, files):
            raise ModelIntegrityError(
                f"Could not prepare a verified copy of the model's code in {target}."
            )
    if target not in sys.path:
        sys.path.insert(0, target)


def _same_files(root: str, files: dict[str, str]) -> bool:
    """True when ``root`` holds exactly ``files`` ({relative path: sha256}), __pycache__ aside."""
    from tracker.artifacts import sha256_file

    if not os.path.isdir(root):
        return False
    found = set()
    for base, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            rel = os.path.relpath(os.path.join(base, name), root).replace(os.sep, "/")
            if files.get(rel) != sha256_file(os.path.join(base, name)):
                return False
            found.add(rel)
    return found == set(files)


def _warn_cloudpickle_version(saved: Any) -> None:
    try:
        from importlib.metadata import version

        current = version("cloudpickle")
    except Exception:  # noqa: BLE001 - cloudpickle missing: unpickling will say so
        return
    if saved and saved != current:
        warnings.warn(
            f"This model was pickled with cloudpickle {saved}; cloudpickle {current} is installed "
            "and may not read it the same way.", UserWarning, stacklevel=4,
        )


def _model_config(saved: Any, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """The logged ``model_config`` with ``load_model(model_config=...)`` overrides (existing keys
    only, as MLflow does: other keys are ignored with a warning)."""
    if not given:
        return saved
    if not saved:
        warnings.warn(
            f"model_config keys {sorted(given)} are ignored: the model was logged without a "
            "model_config.", UserWarning, stacklevel=4,
        )
        return None
    ignored = sorted(set(given) - set(saved))
    if ignored:
        warnings.warn(
            f"model_config keys {ignored} are ignored: the logged model_config has only "
            f"{sorted(saved)}.", UserWarning, stacklevel=4,
        )
    return {**saved, **{k: v for k, v in given.items() if k in saved}}

