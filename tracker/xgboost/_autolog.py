"""XGBoost autologging: ``xgboost.train`` and the scikit-learn wrappers' ``fit``.

Per training, what MLflow 3 logs: the booster params and ``xgboost.train``'s other arguments
(``num_boost_round``, ``custom_metric``…; for the scikit-learn wrappers, the params their
``fit`` hands to ``train``), every eval metric of every boosting round (``validation-rmse`` at
step = round) through a callback that appends to the run's buffer, the early-stopping figures,
``feature_importance_<type>.json`` and ``.png`` for each of ``importance_types`` (default
``weight``), the training data as a dataset input and the model.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import xgboost

from tracker.autologging import patching
from tracker.autologging.datasets import (
    dmatrix_dataset,
    dmatrix_example,
    head,
    remember_dmatrix_data,
    training_dataset,
)
from tracker.autologging.models import example_and_signature, fit_inputs
from tracker.autologging.session import notify, run_patched
from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracker.autologging.session import RunContext

FLAVOR = "xgboost"
IMPORTANCE_TYPES = ("weight", "gain", "cover", "total_gain", "total_cover")
DEFAULT_IMPORTANCE_TYPES = ("weight",)  # MLflow's default
MIN_VERSION = (1, 7)  # DMatrix.get_data(), keyword-only train() arguments
# xgboost.train arguments not logged as params (data, objects and the params dict itself); every
# other argument is, with its default when not given — the set MLflow logs.
UNLOGGED_ARGS = frozenset({
    "params", "dtrain", "evals", "obj", "feval", "evals_result", "xgb_model", "callbacks",
    "learning_rates",
})


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
    """Turn XGBoost autologging on (or off with ``disable=True``); see ``tracker.xgboost.autolog``.

    Args:
        log_input_examples: save the first 5 training rows with the model.
        log_model_signatures: infer the model signature from those rows.
        log_models: log the model at ``model``.
        log_datasets: log the training (``training``) and eval (``eval``) data as inputs.
        disable: remove the patches.
        exclusive: do not log into runs the user started.
        disable_for_unsupported_versions: stay off for XGBoost older than 1.7.
        silent: no warnings from autologging (debug log records instead).
        registered_model_name: register every logged model under this name.
        model_format: ``ubj`` or ``json``.
        extra_tags: tags for the runs autologging starts.
        importance_types: feature importance types to log (default: ``["weight"]``, as MLflow).
    """
    opts = dict(locals())
    if disable:
        patching.disable(FLAVOR)
        return
    from tracker.xgboost import _check_format

    opts["model_format"] = _check_format(model_format)
    opts["importance_types"] = _importance_types(importance_types)
    opts["extra_tags"] = dict(extra_tags or {})
    if disable_for_unsupported_versions and not patching.version_at_least(
        xgboost.__version__, MIN_VERSION
    ):
        notify(f"tracker autologging: XGBoost {xgboost.__version__} is older than 1.7; XGBoost "
               "autologging stays off (disable_for_unsupported_versions=True).", opts)
        patching.disable(FLAVOR)
        return
    patching.enable(FLAVOR, opts, _install)


def _importance_types(given: list[str] | None) -> list[str]:
    if isinstance(given, str):
        given = [given]
    types = list(DEFAULT_IMPORTANCE_TYPES if given is None else given)
    unknown = sorted(set(types) - set(IMPORTANCE_TYPES))
    if unknown:
        raise InvalidArgumentError(
            f"importance_types {unknown} are not XGBoost importance types; use some of "
            f"{list(IMPORTANCE_TYPES)}."
        )
    return types


def _install() -> None:
    import xgboost.sklearn

    # Like MLflow, keep the first rows of the data each DMatrix is built from: the example and
    # signature then come from the original (e.g. float64) frame, not the DMatrix's float32.
    patching.patch(FLAVOR, xgboost.DMatrix, "__init__", _dmatrix_init_wrapper)
    patching.patch(FLAVOR, xgboost, "train", _train_wrapper)
    patching.patch(FLAVOR, xgboost.sklearn, "train", _train_wrapper)  # what the wrappers call
    for cls in vars(xgboost.sklearn).values():
        if isinstance(cls, type) and issubclass(cls, xgboost.XGBModel) and "fit" in vars(cls):
            patching.patch(FLAVOR, cls, "fit", _fit_wrapper)


# -- xgboost.DMatrix ---------------------------------------------------------------------------------


def _dmatrix_init_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            remember_dmatrix_data(self, args[0] if args else kwargs.get("data"))
        except Exception:  # noqa: BLE001 - never break building a DMatrix
            pass

    return __init__


# -- xgboost.train ---------------------------------------------------------------------------------


def _train_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def train(*args: Any, **kwargs: Any) -> Any:
        return run_patched(
            FLAVOR, None, "train", lambda: original(*args, **kwargs),
            lambda ctx, role: _log_train(ctx, role, original, args, kwargs),
        )

    return train


def _log_train(
    ctx: RunContext, role: str, original: Callable[..., Any], args: Any, kwargs: dict[str, Any]
) -> Any:
    """Train with logging; ``role`` is ``root`` or ``child`` (inside a logged wrapper ``fit``)."""
    arguments = _arguments(original, args, kwargs)
    if arguments is None:
        return original(*args, **kwargs)  # a call XGBoost itself will refuse: let it explain
    ctx.attempt("log the training params", _log_train_params, ctx, arguments)
    if role == "root" and ctx.opts["log_datasets"]:
        ctx.attempt("log the training datasets", _log_dmatrices, ctx, arguments)
    recorder = None
    user_callbacks = kwargs.get("callbacks")
    if user_callbacks is None or isinstance(user_callbacks, (list, tuple)):
        recorder = ctx.attempt("set up per-round metric logging", _Recorder, ctx)
    if recorder is not None:
        # First, so it still sees the round where an early-stopping callback stops training.
        kwargs = {**kwargs, "callbacks": [recorder, *(user_callbacks or [])]}
    booster = original(*args, **kwargs)
    if recorder is not None:
        ctx.attempt("log the best iteration", _log_early_stopping, ctx, booster, arguments, recorder)
    ctx.attempt("log feature importance", _log_importance, ctx, booster)
    if role == "root" and ctx.opts["log_models"]:
        ctx.attempt("log the model", _log_booster, ctx, booster, arguments["dtrain"])
    return booster


def _arguments(original: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    import inspect

    signature = inspect.signature(original)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    return dict(bound.arguments)


def _log_train_params(ctx: RunContext, arguments: dict[str, Any]) -> None:
    params = arguments.get("params") or {}
    if not isinstance(params, dict):  # XGBoost also takes [(key, value), ...]
        grouped: dict[str, list[Any]] = {}
        for key, value in params:
            grouped.setdefault(key, []).append(value)
        params = {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}
    logged = {k: v for k, v in params.items() if not callable(v)}
    for name, value in arguments.items():
        if name in UNLOGGED_ARGS or name in logged:
            continue
        if callable(value):  # custom_metric=my_metric: its name, not a repr with an address
            value = getattr(value, "__name__", type(value).__name__)
        logged[name] = value
    ctx.log_params(logged)


def _log_dmatrices(ctx: RunContext, arguments: dict[str, Any]) -> None:
    dtrain = arguments["dtrain"]
    train = dmatrix_dataset(dtrain, "train")
    ctx.log_input(train, "training")
    for dmatrix, name in arguments.get("evals") or ():
        if dmatrix is dtrain:
            import dataclasses

            ctx.log_input(dataclasses.replace(train, name=str(name)), "eval")
        else:
            ctx.log_input(dmatrix_dataset(dmatrix, str(name)), "eval")


def metric_key(data_name: str, metric: str) -> str:
    """The metric name for an eval set's metric: ``validation-rmse``; ``ndcg@3`` -> ``ndcg_at_3``.

    Args:
        data_name: the eval set's name.
        metric: XGBoost's metric name.
    """
    key = f"{data_name}-{metric}".replace("@", "_at_")
    return re.sub(r"[^\w\-. /:]", "_", key)


class _Recorder(xgboost.callback.TrainingCallback):
    """Logs each round's eval metrics straight into the run's buffer (about 1 µs a value).

    Args:
        ctx: the training's run context.
    """

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        self._ctx = ctx
        self._log_metric = ctx.runlog.log_metric
        self._keys: dict[tuple[str, str], str] = {}
        self._failed = False
        self.history: dict[int, dict[str, float]] = {}

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        if self._failed:
            return False
        try:
            self.history[epoch] = self._record(epoch, evals_log)
        except Exception as exc:  # noqa: BLE001 - never stop the training
            self._failed = True
            self._ctx.report(
                f"log the eval metrics of boosting round {epoch} (and of later rounds)", exc
            )
        return False

    def _record(self, epoch: int, evals_log: Any) -> dict[str, float]:
        values: dict[str, float] = {}
        keys = self._keys
        for data_name, metrics in evals_log.items():
            for metric, history in metrics.items():
                key = keys.get((data_name, metric))
                if key is None:
                    key = keys[(data_name, metric)] = metric_key(data_name, metric)
                last = history[-1]
                value = float(last[0] if type(last) is tuple else last)  # cv gives (mean, std)
                self._log_metric(key, value, epoch)
                values[key] = value
        return values


def _log_early_stopping(
    ctx: RunContext, booster: Any, arguments: dict[str, Any], recorder: _Recorder
) -> None:
    """``best_iteration``, ``stopped_iteration``, and the best round's metrics one step later."""
    callbacks = arguments.get("callbacks") or ()
    stopping = arguments.get("early_stopping_rounds") is not None or any(
        isinstance(cb, xgboost.callback.EarlyStopping) for cb in callbacks
    )
    if not stopping or not recorder.history:
        return
    try:
        best = int(booster.best_iteration)
    except AttributeError:
        return
    stopped = max(recorder.history)
    ctx.log_metrics({"best_iteration": best, "stopped_iteration": stopped})
    # Logged again after the last round, so each metric's latest value is the kept model's.
    ctx.log_metrics(recorder.history.get(best, {}), step=stopped + 1)


def _log_importance(ctx: RunContext, booster: Any) -> None:
    """``feature_importance_<type>.json`` and ``.png`` for each requested type, as MLflow."""
    from tracker.autologging.plots import IMPORTANCE_STYLE, importance_figure, log_figures

    scores: dict[str, Any] = {}
    for importance_type in ctx.opts["importance_types"]:
        try:
            scores[importance_type] = booster.get_score(importance_type=importance_type)
        except xgboost.core.XGBoostError:
            continue  # gblinear models only have "weight"
    if scores:
        ctx.log_json_files({f"feature_importance_{kind}.json": value
                            for kind, value in scores.items()})
        log_figures(ctx, {f"feature_importance_{kind}.png": importance_figure(value, kind)
                          for kind, value in scores.items() if value}, IMPORTANCE_STYLE)


def _log_booster(ctx: RunContext, booster: Any, dtrain: Any) -> None:
    from tracker.xgboost import log_model

    example, signature = example_and_signature(
        ctx, lambda: dmatrix_example(dtrain), lambda data: booster.predict(xgboost.DMatrix(data))
    )
    log_model(
        booster, artifact_path="model", input_example=example, signature=signature,
        registered_model_name=ctx.opts["registered_model_name"],
        model_format=ctx.opts["model_format"],
    )


# -- XGBRegressor.fit, XGBClassifier.fit, ... --------------------------------------------------------


def _fit_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        return run_patched(
            FLAVOR, self, "fit", lambda: original(self, *args, **kwargs),
            lambda ctx, role: _log_fit(ctx, original, self, args, kwargs),
        )

    return fit


def _log_fit(
    ctx: RunContext, original: Callable[..., Any], model: Any, args: Any, kwargs: dict[str, Any]
) -> Any:
    """Fit with logging; the ``xgboost.train`` it calls logs the params it is given (as MLflow:
    not ``get_params()``, no estimator tags), the per-round metrics and feature importance."""
    features, labels, _ = fit_inputs(original, (model, *args), kwargs)
    if ctx.opts["log_datasets"] and features is not None:
        ctx.attempt("log the training datasets", _log_fit_datasets, ctx, features, labels,
                    kwargs.get("eval_set"))
    result = original(model, *args, **kwargs)
    if ctx.opts["log_models"]:
        ctx.attempt("log the model", _log_wrapper_model, ctx, model, features)
    return result


def _log_fit_datasets(ctx: RunContext, features: Any, labels: Any, eval_set: Any) -> None:
    train = training_dataset(features, labels, "train")
    if train is not None:
        ctx.log_input(train, "training")
    for i, (eval_features, eval_labels) in enumerate(eval_set or ()):
        dataset = training_dataset(eval_features, eval_labels, f"validation_{i}")
        if dataset is not None:
            ctx.log_input(dataset, "eval")


def _log_wrapper_model(ctx: RunContext, model: Any, features: Any) -> None:
    from tracker.xgboost import log_model

    example, signature = example_and_signature(
        ctx, lambda: None if features is None else head(features), model.predict
    )
    log_model(
        model, artifact_path="model", input_example=example, signature=signature,
        registered_model_name=ctx.opts["registered_model_name"],
        model_format=ctx.opts["model_format"],
    )
