"""The XGBoost flavor: ``tracker.xgboost.log_model`` / ``save_model`` / ``load_model`` / ``autolog``.

Models are saved with XGBoost's own ``save_model`` in UBJ (default) or JSON — never pickled — and
the class is recorded so ``load_model`` returns what was logged: a ``Booster`` for a ``Booster``,
an ``XGBRegressor`` for an ``XGBRegressor``. The file's sha256 is checked before it is read.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from tracker.models.flavors import ModelInfo, SavedFlavor

__all__ = ["FLAVOR_NAME", "autolog", "load_model", "log_model", "save_model"]

FLAVOR_NAME = "xgboost"
MODEL_FORMATS = ("ubj", "json")
LOADER_MODULE = "mlflow.xgboost"  # what MLflow records, so MLflow loads the folder too


def _xgboost() -> Any:
    try:
        import xgboost
    except ImportError:
        raise InvalidArgumentError(
            "tracker.xgboost needs the xgboost package: pip install xgboost (or xgboost-cpu)."
        ) from None
    return xgboost


def _check_model(xgb_model: Any, where: str) -> None:
    """Refuse anything but a ``Booster`` or a fitted XGBoost scikit-learn wrapper."""
    xgb = _xgboost()
    if isinstance(xgb_model, xgb.Booster):
        return
    if isinstance(xgb_model, xgb.XGBModel):
        try:
            xgb_model.get_booster()
        except Exception:  # noqa: BLE001 - sklearn's NotFittedError
            raise InvalidArgumentError(
                f"{where}: the {type(xgb_model).__name__} is not fitted; call fit() first."
            ) from None
        return
    hint = ""
    if isinstance(xgb_model, (str, os.PathLike)):
        hint = (
            f" The first argument is the trained model, not a name or path: write "
            f"{where}(booster, artifact_path={os.fspath(xgb_model)!r})."
        )
    raise InvalidArgumentError(
        f"{where} expects an xgboost.Booster (from xgboost.train) or a fitted XGBoost "
        f"scikit-learn model (XGBRegressor, XGBClassifier, XGBRanker, XGBRF*), got "
        f"{type(xgb_model).__module__}.{type(xgb_model).__qualname__} "
        f"{_short_repr(xgb_model)}.{hint}"
    )


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_format(model_format: str) -> str:
    if model_format not in MODEL_FORMATS:
        raise InvalidArgumentError(
            f"model_format must be one of {MODEL_FORMATS} (XGBoost's own formats), got "
            f"{model_format!r}."
        )
    return model_format


def _saver(xgb_model: Any, model_format: str) -> Any:
    """The flavor writer ``tracker.models.flavors.save_folder`` calls with the folder."""

    def save(folder: str) -> SavedFlavor:
        from tracker.models.flavors import SavedFlavor
        from tracker.models.manifest import library_versions

        xgb = _xgboost()
        data = f"model.{model_format}"
        xgb_model.save_model(os.path.join(folder, data))
        cls = type(xgb_model)
        conf = {
            "xgb_version": xgb.__version__,
            "data": data,
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "model_format": model_format,
            "code": None,
        }
        modules = ["xgboost", "numpy", "scipy", "pandas"]
        if not isinstance(xgb_model, xgb.Booster):
            modules.append("sklearn")
        return SavedFlavor(FLAVOR_NAME, conf, data, LOADER_MODULE, library_versions(*modules))

    return save


def save_model(
    xgb_model: Any,
    path: str | os.PathLike[str],
    *,
    input_example: Any = None,
    signature: Any = None,
    model_format: str = "ubj",
    **kwargs: Any,
) -> None:
    """Save an XGBoost model as a model folder at ``path`` (which must not exist or be empty).

    Args:
        xgb_model: an ``xgboost.Booster`` or a fitted ``XGBRegressor``/``XGBClassifier``/….
        path: the folder to create.
        input_example: optional example input; saved, and used to infer the signature.
        signature: a ``ModelSignature`` or dict; inferred from ``input_example`` when omitted.
        model_format: ``ubj`` (default, binary) or ``json``.
        **kwargs: MLflow's other arguments (``conda_env``, ``metadata``, …), accepted.
    """
    from tracker.models.flavors import check_kwargs, save_folder

    _check_model(xgb_model, "tracker.xgboost.save_model")
    metadata = check_kwargs(kwargs, "tracker.xgboost.save_model")
    save_folder(
        os.fspath(path), _saver(xgb_model, _check_format(model_format)),
        lambda data: _predict(xgb_model, data),
        input_example=input_example, signature=signature, metadata=metadata,
    )


def log_model(
    xgb_model: Any,
    artifact_path: str | None = None,
    *,
    name: str | None = None,
    input_example: Any = None,
    signature: Any = None,
    registered_model_name: str | None = None,
    model_format: str = "ubj",
    **kwargs: Any,
) -> ModelInfo:
    """Log an XGBoost model to the active run (one is started if none is active).

    Args:
        xgb_model: an ``xgboost.Booster`` or a fitted ``XGBRegressor``/``XGBClassifier``/….
        artifact_path: where in the run's artifacts (MLflow 2 spelling), e.g. ``"model"``.
        name: the same, MLflow 3 spelling; give exactly one of the two.
        input_example: optional example input; saved, and used to infer the signature.
        signature: a ``ModelSignature`` or dict; inferred from ``input_example`` when omitted.
        registered_model_name: also register the logged model under this name.
        model_format: ``ubj`` (default, binary) or ``json``.
        **kwargs: MLflow's other arguments (``conda_env``, ``metadata``, …), accepted.
    """
    from tracker.models.flavors import check_kwargs, log_to_run, target_path

    where = "tracker.xgboost.log_model"
    _check_model(xgb_model, where)
    path = target_path(artifact_path, name, where)
    metadata = check_kwargs(kwargs, where)
    return log_to_run(
        path, _saver(xgb_model, _check_format(model_format)),
        lambda data: _predict(xgb_model, data),
        input_example=input_example, signature=signature,
        registered_model_name=registered_model_name, metadata=metadata, options=kwargs,
    )


def load_model(model_uri: str | os.PathLike[str], dst_path: str | None = None) -> Any:
    """Load a logged XGBoost model as the class it was logged as (``Booster``, ``XGBRegressor``…).

    Args:
        model_uri: ``runs:/<run_id>/model``, ``models:/<name>/<version|stage|latest>``,
            ``models:/<name>@<alias>``, a folder path or ``file://`` URI.
        dst_path: accepted for MLflow compatibility (local models are read in place).
    """
    from tracker.models.flavors import open_model

    opened = open_model(model_uri, FLAVOR_NAME)
    return _load(opened.local_path, opened.manifest)


def _load(folder: str, manifest: dict[str, Any]) -> Any:
    """Read the model file of a folder: read once, checked against the manifest's sha256 (when
    it lists checksums: MLflow's folders do not), and the same bytes loaded."""
    from tracker.models.manifest import read_model_file

    conf = manifest["flavors"][FLAVOR_NAME]
    cls = _model_class(str(conf.get("model_class", "xgboost.core.Booster")))
    payload = read_model_file(folder, manifest, str(conf["data"]), runs_code=False)
    model = cls()
    model.load_model(bytearray(payload))  # XGBoost reads UBJ and JSON from memory too
    return model


def _model_class(qualified: str) -> Any:
    """The recorded class, only if it is XGBoost's ``Booster`` or one of its sklearn models."""
    import importlib

    xgb = _xgboost()
    module_name, _, class_name = qualified.rpartition(".")
    cls = None
    if module_name == "xgboost" or module_name.startswith("xgboost."):
        cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, (xgb.Booster, xgb.XGBModel))):
        raise InvalidArgumentError(
            f"The manifest's model_class {qualified!r} is not an XGBoost model class "
            "(xgboost.Booster or an xgboost.XGBModel subclass)."
        )
    return cls


def _predict(model: Any, data: Any) -> Any:
    """Predict with a ``Booster`` (through a DMatrix) or an XGBoost sklearn model."""
    from tracker.models.flavors import model_input

    xgb = _xgboost()
    data = model_input(data)
    if not isinstance(model, xgb.Booster):
        return model.predict(data)
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        names = model.feature_names
        if names and set(names) <= {str(c) for c in data.columns}:
            data = data[names]
        return model.predict(xgb.DMatrix(data, enable_categorical=True))
    return model.predict(xgb.DMatrix(data))


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
    registered_model_name: str | None = None,
    model_format: str = "ubj",
    extra_tags: dict[str, Any] | None = None,
    importance_types: list[str] | None = None,
) -> None:
    """Log every ``xgboost.train`` and ``XGBRegressor``/``XGBClassifier``/… ``fit`` call.

    Params, ``<eval>-<metric>`` per round, early-stopping figures, feature importance (JSON and
    PNG), the training data and the model, as MLflow 3 logs them; into the active run, or a run
    started and ended around the training. ``docs/autolog.md`` lists every name.

    Args:
        log_input_examples: save the first 5 training rows with the model.
        log_model_signatures: infer the model signature from those rows.
        log_models: log the model at ``model``.
        log_datasets: log the training (``training``) and eval (``eval``) data as inputs.
        disable: undo ``autolog()``: the original functions are restored.
        exclusive: do not log into runs the user started.
        disable_for_unsupported_versions: stay off for XGBoost older than 1.7.
        silent: no warnings from autologging (debug log records instead).
        registered_model_name: register every logged model under this name.
        model_format: ``ubj`` (default) or ``json``.
        extra_tags: tags for the runs autologging starts.
        importance_types: feature importance types to log as ``feature_importance_<type>.json``
            and ``.png`` (default ``["weight"]``, as MLflow; any of weight, gain, cover,
            total_gain, total_cover).
    """
    options = dict(locals())
    import sys

    if disable and "tracker.xgboost._autolog" not in sys.modules:
        return  # never turned on: nothing to restore
    _xgboost()  # a clear error when XGBoost is missing
    from tracker.xgboost import _autolog as integration

    integration.autolog(**options)
