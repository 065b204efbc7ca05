"""The scikit-learn flavor: ``tracker.sklearn.log_model`` / ``save_model`` / ``load_model``.

Any estimator (fitted or not, as in MLflow) is accepted — pipelines included, such as the course's
``make_pipeline(DictVectorizer(), LinearRegression())`` that takes a list of dicts. The model is
pickled (cloudpickle by default, as MLflow does); unpickling runs code, so ``load_model`` first
checks the pickle's sha256 against the manifest and refuses a modified file without reading it.
The folder is MLflow's (``loader_module: mlflow.sklearn``, ``model_path``), so MLflow loads it.
"""

from __future__ import annotations

import os
import pickle
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from tracker.models.flavors import ModelInfo, SavedFlavor

__all__ = [
    "FLAVOR_NAME", "SERIALIZATION_FORMATS", "autolog", "load_model", "log_model", "save_model",
]

FLAVOR_NAME = "sklearn"
SERIALIZATION_FORMATS = ("cloudpickle", "pickle")
_DATA = "model.pkl"
LOADER_MODULE = "mlflow.sklearn"  # what MLflow records, so MLflow loads the folder too
PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")


def _check_model(sk_model: Any, where: str) -> None:
    """Refuse names, paths and objects that are not scikit-learn-like (no ``fit`` or ``predict``).

    Unfitted estimators are accepted, as MLflow accepts them (a template logged and registered
    before training); predicting with one raises scikit-learn's ``NotFittedError``.
    """
    if isinstance(sk_model, (str, bytes, os.PathLike)) or not (
        callable(getattr(sk_model, "predict", None)) or callable(getattr(sk_model, "fit", None))
    ):
        raise InvalidArgumentError(
            f"{where} expects a scikit-learn estimator or pipeline (an object with fit or "
            f"predict), got {type(sk_model).__module__}.{type(sk_model).__qualname__} "
            f"{_short_repr(sk_model)}."
        )


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_predict_fn(predict_fn: Any) -> str:
    """MLflow's ``pyfunc_predict_fn=``: the method the ``python_function`` flavor calls."""
    if predict_fn is None:
        return "predict"
    if predict_fn not in PREDICT_FNS:
        raise InvalidArgumentError(
            f"pyfunc_predict_fn must be one of {PREDICT_FNS}, got {predict_fn!r}."
        )
    return str(predict_fn)


def _check_format(serialization_format: str) -> str:
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidArgumentError(
            f"serialization_format must be one of {SERIALIZATION_FORMATS}, got "
            f"{serialization_format!r}."
        )
    return serialization_format


def _saver(sk_model: Any, serialization_format: str, predict_fn: str = "predict") -> Any:
    """The flavor writer ``tracker.models.flavors.save_folder`` calls with the folder."""

    def save(folder: str) -> SavedFlavor:
        from tracker.models.flavors import SavedFlavor
        from tracker.models.manifest import library_versions

        dump = pickle.dump
        if serialization_format == "cloudpickle":
            import cloudpickle

            dump = cloudpickle.dump
        with open(os.path.join(folder, _DATA), "wb") as fh:
            dump(sk_model, fh, protocol=pickle.DEFAULT_PROTOCOL)
        cls = type(sk_model)
        libraries = library_versions("sklearn", "numpy", "scipy", "pandas", serialization_format)
        libraries.pop("pickle", None)
        conf = {
            "sklearn_version": libraries.get("sklearn"),
            "pickled_model": _DATA,
            "serialization_format": serialization_format,
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "code": None,
        }
        return SavedFlavor(FLAVOR_NAME, conf, None, LOADER_MODULE, libraries,
                           pyfunc={"model_path": _DATA, "predict_fn": predict_fn})

    return save


def save_model(
    sk_model: Any,
    path: str | os.PathLike[str],
    *,
    input_example: Any = None,
    signature: Any = None,
    serialization_format: str = "cloudpickle",
    **kwargs: Any,
) -> None:
    """Save a scikit-learn model as a model folder at ``path`` (which must not exist or be empty).

    Args:
        sk_model: an estimator or pipeline, fitted or not (as in MLflow).
        path: the folder to create.
        input_example: optional example input; saved, and used to infer the signature.
        signature: a ``ModelSignature`` or dict; inferred from ``input_example`` when omitted.
        serialization_format: ``cloudpickle`` (default) or ``pickle``.
        **kwargs: MLflow's other arguments (``conda_env``, ``metadata``, …), accepted.
    """
    from tracker.models.flavors import check_kwargs, save_folder

    _check_model(sk_model, "tracker.sklearn.save_model")
    metadata = check_kwargs(kwargs, "tracker.sklearn.save_model")
    predict_fn = _check_predict_fn(kwargs.get("pyfunc_predict_fn"))
    save_folder(
        os.fspath(path), _saver(sk_model, _check_format(serialization_format), predict_fn),
        lambda data: _predict(sk_model, data),
        input_example=input_example, signature=signature, metadata=metadata,
    )


def log_model(
    sk_model: Any,
    artifact_path: str | None = None,
    *,
    name: str | None = None,
    input_example: Any = None,
    signature: Any = None,
    registered_model_name: str | None = None,
    serialization_format: str = "cloudpickle",
    **kwargs: Any,
) -> ModelInfo:
    """Log a scikit-learn model to the active run (one is started if none is active).

    Args:
        sk_model: an estimator or pipeline, fitted or not (as in MLflow).
        artifact_path: where in the run's artifacts (MLflow 2 spelling), e.g. ``"model"``.
        name: the same, MLflow 3 spelling; give exactly one of the two.
        input_example: optional example input; saved, and used to infer the signature.
        signature: a ``ModelSignature`` or dict; inferred from ``input_example`` when omitted.
        registered_model_name: also register the logged model under this name.
        serialization_format: ``cloudpickle`` (default) or ``pickle``.
        **kwargs: MLflow's other arguments (``conda_env``, ``metadata``, …), accepted.
    """
    from tracker.models.flavors import check_kwargs, log_to_run, target_path

    where = "tracker.sklearn.log_model"
    _check_model(sk_model, where)
    path = target_path(artifact_path, name, where)
    metadata = check_kwargs(kwargs, where)
    predict_fn = _check_predict_fn(kwargs.get("pyfunc_predict_fn"))
    return log_to_run(
        path, _saver(sk_model, _check_format(serialization_format), predict_fn),
        lambda data: _predict(sk_model, data),
        input_example=input_example, signature=signature,
        registered_model_name=registered_model_name, metadata=metadata, options=kwargs,
    )


def load_model(model_uri: str | os.PathLike[str], dst_path: str | None = None) -> Any:
    """Load a logged scikit-learn model, after verifying the pickle's checksum.

    Args:
        model_uri: ``runs:/<run_id>/model``, ``models:/<name>/<version|stage|latest>``,
            ``models:/<name>@<alias>``, a folder path or ``file://`` URI.
        dst_path: accepted for MLflow compatibility (local models are read in place).
    """
    from tracker.models.flavors import open_model

    opened = open_model(model_uri, FLAVOR_NAME)
    return _load(opened.local_path, opened.manifest)


def _load(folder: str, manifest: dict[str, Any]) -> Any:
    """Unpickle the model of a folder — only once its sha256 matches the manifest. The file is
    read once: the bytes that were hashed are the bytes unpickled. Folders MLflow wrote (no
    checksums) need ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``, as in MLflow 3."""
    from tracker.models.manifest import read_model_file

    conf = manifest["flavors"][FLAVOR_NAME]
    fmt = conf.get("serialization_format", "pickle")
    if fmt not in (*SERIALIZATION_FORMATS, "skops"):
        raise InvalidArgumentError(
            f"The manifest's serialization_format {fmt!r} is not one tracker reads; supported: "
            f"{[*SERIALIZATION_FORMATS, 'skops']}."
        )
    payload = read_model_file(folder, manifest, str(conf.get("pickled_model", _DATA)),
                              runs_code=True)
    if fmt == "skops":
        return _load_skops(payload, folder)
    return pickle.loads(payload)  # noqa: S301 - verified above (or the user opted in)


def _load_skops(payload: bytes, folder: str) -> Any:
    """A model MLflow 3 saved in its default ``skops`` format (only skops' default trusted
    types: the manifest's own ``skops_trusted_types`` is not trusted)."""
    try:
        import skops.io
    except ImportError:
        raise InvalidArgumentError(
            f"The scikit-learn model in {folder} was saved by MLflow in the skops format; "
            "loading it needs the skops package: pip install skops."
        ) from None
    return skops.io.loads(payload)


def takes_dicts(model: Any) -> bool:
    """True when the model's first step is a ``DictVectorizer`` (its input is a list of dicts).

    Args:
        model: an estimator or pipeline.
    """
    try:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.pipeline import Pipeline
    except ImportError:
        return False
    while isinstance(model, Pipeline) and model.steps:
        model = model.steps[0][1]
    return isinstance(model, DictVectorizer)


def _predict(model: Any, data: Any) -> Any:
    """Predict, converting the input to what the model takes (records for a DictVectorizer)."""
    import pandas as pd

    from tracker.models.flavors import model_input

    if takes_dicts(model):
        return model.predict(_records(data))
    data = model_input(data)
    if isinstance(data, pd.DataFrame) and not hasattr(model, "feature_names_in_"):
        data = data.to_numpy()  # fitted on an array: avoid sklearn's feature-name warning
    return model.predict(data)


def _records(data: Any) -> list[dict[str, Any]]:
    """A list of dicts from a DataFrame, a dict (columns or one record) or records.

    Missing values (NaN/None) are left out of each record, as a record lacking the key would be.
    """
    import pandas as pd

    from tracker.models.signature import as_frame

    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    frame = as_frame(data)
    if frame is None:
        raise InvalidArgumentError(
            "This model starts with a DictVectorizer: pass a DataFrame, a dict or a list of "
            f"dicts, not a {type(data).__name__}."
        )
    rows = frame.to_dict(orient="records")
    return [{str(k): v for k, v in row.items() if not _missing(v, pd)} for row in rows]


def _missing(value: Any, pd: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# -- autologging ----------------------------------------------------------------------------------


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str = "cloudpickle",
    registered_model_name: str | None = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Log the outermost ``fit`` of every scikit-learn estimator, pipeline and parameter search.

    Params, estimator tags, ``training_*`` metrics, the training data and the model; searches
    also get ``best_*`` params, ``best_cv_score``, ``cv_results.csv`` and child runs. Into the
    active run, or a run started and ended around the fit; ``docs/autolog.md`` has every name.

    Args:
        log_input_examples: save the first 5 training rows with the model.
        log_model_signatures: infer the model signature from those rows.
        log_models: log the model at ``model`` (and a search's best estimator).
        log_datasets: log the training data as a ``training`` input.
        disable: undo ``autolog()``: every patched ``fit`` is restored.
        exclusive: do not log into runs the user started.
        disable_for_unsupported_versions: stay off for scikit-learn older than 1.0.
        silent: no warnings from autologging (debug log records instead).
        max_tuning_runs: child runs per parameter search, best first (None: all).
        log_post_training_metrics: accepted for MLflow compatibility (not implemented).
        serialization_format: ``cloudpickle`` (default) or ``pickle``.
        registered_model_name: register every logged model under this name.
        extra_tags: tags for the runs autologging starts.
    """
    options = dict(locals())
    import importlib.util

    if not disable and importlib.util.find_spec("sklearn") is None:
        raise InvalidArgumentError(
            "tracker.sklearn.autolog needs the scikit-learn package: pip install scikit-learn."
        )
    from tracker.sklearn import _autolog as integration  # imports no scikit-learn module

    integration.autolog(**options)
