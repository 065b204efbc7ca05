"""scikit-learn autologging: the ``fit`` of every estimator, pipeline and parameter search.

Only the outermost ``fit`` logs (a ``Pipeline``'s steps and a search's candidate fits do not):
its params (``get_params(deep=True)``), ``estimator_name``/``estimator_class`` tags, training
metrics under MLflow's names, a classifier's ``training_confusion_matrix.png`` (and ROC and
precision-recall curves for two classes), the training data as a dataset input and the model. A parameter
search adds ``best_*`` params, ``best_cv_score``, ``cv_results.csv``, the best estimator and one
child run per candidate (see ``tracker.sklearn._search``).
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import TYPE_CHECKING, Any

from tracker.autologging import patching
from tracker.autologging.datasets import head, training_dataset
from tracker.autologging.models import estimator_tags, example_and_signature, fit_inputs
from tracker.autologging.session import log, notify, run_patched
from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracker.autologging.session import RunContext

FLAVOR = "sklearn"
MIN_VERSION = (1, 0)
PREFIX = "training_"
# Data preparation steps fitted on their own are not model training (as in MLflow); inside a
# Pipeline they are logged through the pipeline's params.
EXCLUDED_MODULES = (
    "sklearn.preprocessing", "sklearn.impute", "sklearn.feature_extraction",
    "sklearn.feature_selection",
)
EXCLUDED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)


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
    """Turn scikit-learn autologging on (off: ``disable=True``); see ``tracker.sklearn.autolog``.

    Args:
        log_input_examples: save the first 5 training rows with the model.
        log_model_signatures: infer the model signature from those rows.
        log_models: log the model at ``model`` (and a search's best estimator).
        log_datasets: log the training data as a ``training`` input.
        disable: remove the patches.
        exclusive: do not log into runs the user started.
        disable_for_unsupported_versions: stay off for scikit-learn older than 1.0.
        silent: no warnings from autologging (debug log records instead).
        max_tuning_runs: child runs per parameter search, best first (None: all).
        log_post_training_metrics: accepted for MLflow compatibility (not implemented).
        serialization_format: ``cloudpickle`` or ``pickle``.
        registered_model_name: register every logged model under this name.
        extra_tags: tags for the runs autologging starts.
    """
    opts = dict(locals())
    if disable:
        return patching.disable(FLAVOR)
    import sklearn

    from tracker.sklearn import _check_format

    _check_tuning_runs(max_tuning_runs)
    opts["serialization_format"] = _check_format(serialization_format)
    opts["extra_tags"] = dict(extra_tags or {})
    if disable_for_unsupported_versions and not patching.version_at_least(
        sklearn.__version__, MIN_VERSION
    ):
        notify(f"tracker autologging: scikit-learn {sklearn.__version__} is older than 1.0; "
               "scikit-learn autologging stays off (disable_for_unsupported_versions=True).", opts)
        return patching.disable(FLAVOR)
    patching.enable(FLAVOR, opts, _install)


def _check_tuning_runs(value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidArgumentError(
            f"max_tuning_runs must be None (all candidates) or an int >= 0, got {value!r}."
        )


def _install() -> None:
    for cls in estimator_classes():
        patching.patch(FLAVOR, cls, "fit", _fit_wrapper)


def estimator_classes() -> list[type]:
    """The classes whose ``fit`` is patched: ``all_estimators()`` plus searches and Pipeline."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # importing every estimator module may warn
        classes = {cls for _, cls in all_estimators()}
    classes |= {GridSearchCV, RandomizedSearchCV, Pipeline}
    kept = [
        cls for cls in classes
        if not cls.__module__.startswith(EXCLUDED_MODULES)
        and f"{cls.__module__}.{cls.__qualname__}" not in EXCLUDED_CLASSES
    ]
    # Base classes first: their subclasses then inherit the patch instead of wrapping it again.
    return sorted(kept, key=lambda cls: (len(cls.__mro__), cls.__module__, cls.__qualname__))


def _fit_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        return run_patched(
            FLAVOR, self, "fit", lambda: original(self, *args, **kwargs),
            lambda ctx, role: _log_fit(ctx, original, self, args, kwargs),
        )

    return fit


def _log_fit(
    ctx: RunContext, original: Callable[..., Any], estimator: Any, args: Any, kwargs: dict[str, Any]
) -> Any:
    from tracker.sklearn._search import is_search, log_search

    features, labels, weights = fit_inputs(original, (estimator, *args), kwargs)
    deep = not is_search(estimator)  # a search's seed estimator params are not what was used
    ctx.attempt("log the params", lambda: ctx.log_params(estimator.get_params(deep=deep)))
    ctx.attempt("set the estimator tags", ctx.set_tags, estimator_tags(estimator))
    if ctx.opts["log_datasets"] and features is not None:
        ctx.attempt("log the training dataset", _log_dataset, ctx, features, labels)
    result = original(estimator, *args, **kwargs)
    if ctx.opts["log_models"]:
        ctx.attempt("log the model", log_estimator, ctx, estimator, features, "model")
    if labels is not None:
        ctx.attempt("log the training metrics", _log_training_metrics, ctx, estimator, features,
                    labels, weights)
        ctx.attempt("log the training figures", _log_training_figures, ctx, estimator, features,
                    labels, weights)
    ctx.attempt("log estimator.html", _log_html, ctx, estimator)
    if not deep:
        log_search(ctx, estimator, features)
    return result


def _log_dataset(ctx: RunContext, features: Any, labels: Any) -> None:
    dataset = training_dataset(features, labels, "train")
    if dataset is None:
        log.debug("autologging: no dataset description for %s input", type(features).__name__)
        return
    ctx.log_input(dataset, "training")


def log_estimator(ctx: RunContext, estimator: Any, features: Any, path: str) -> None:
    """Log a fitted estimator with ``tracker.sklearn.log_model`` (skipped without ``predict``).

    Args:
        ctx: the training's run context.
        estimator: the fitted estimator.
        features: the training X, for the input example and signature.
        path: ``model`` (registered when asked) or ``best_estimator``.
    """
    from tracker.sklearn import log_model

    if not callable(getattr(estimator, "predict", None)):
        log.debug("autologging: %s has no predict; model not logged", type(estimator).__name__)
        return
    example, signature = example_and_signature(
        ctx, lambda: None if features is None else head(features), estimator.predict
    )
    log_model(
        estimator, artifact_path=path, input_example=example, signature=signature,
        registered_model_name=ctx.opts["registered_model_name"] if path == "model" else None,
        serialization_format=ctx.opts["serialization_format"],
    )


def _log_html(ctx: RunContext, estimator: Any) -> None:
    from sklearn.utils import estimator_html_repr

    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="UTF-8"/></head>\n<body>\n'
        f"{estimator_html_repr(estimator)}\n</body>\n</html>\n"
    )
    ctx.client.log_text(ctx.run_id, page, "estimator.html")


# -- training metrics ------------------------------------------------------------------------------


def _log_training_metrics(
    ctx: RunContext, estimator: Any, features: Any, labels: Any, weights: Any
) -> None:
    from sklearn.base import is_classifier, is_regressor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. UndefinedMetricWarning for an unseen class
        if is_classifier(estimator):
            metrics = _classifier_metrics(ctx, estimator, features, labels, weights)
        elif is_regressor(estimator):
            metrics = _regressor_metrics(ctx, estimator, features, labels, weights)
        else:
            metrics = {}
        score = _score(ctx, estimator, features, labels, weights)
    if score is not None:
        metrics[PREFIX + "score"] = score
    ctx.log_metrics(metrics)


def _log_training_figures(
    ctx: RunContext, estimator: Any, features: Any, labels: Any, weights: Any
) -> None:
    """A classifier's ``training_confusion_matrix.png`` (and ROC and precision-recall curves
    for two classes), as MLflow logs them."""
    from sklearn.base import is_classifier

    from tracker.autologging.plots import (
        CLASSIFIER_STYLE,
        classifier_figures,
        log_figures,
        matplotlib_available,
    )

    if is_classifier(estimator) and matplotlib_available(ctx):
        log_figures(ctx, classifier_figures(estimator, features, labels, weights, PREFIX),
                    CLASSIFIER_STYLE)


def _computed(ctx: RunContext, named: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Each metric that can be computed; the others are reported and left out."""
    values = {}
    for name, compute in named.items():
        value = ctx.attempt(f"compute {name}", compute)
        if value is not None:
            values[name] = float(value)
    return values


def _regressor_metrics(
    ctx: RunContext, estimator: Any, features: Any, labels: Any, weights: Any
) -> dict[str, float]:
    from sklearn import metrics as m

    predicted = estimator.predict(features)
    args = {"y_true": labels, "y_pred": predicted, "sample_weight": weights,
            "multioutput": "uniform_average"}
    values = _computed(ctx, {
        PREFIX + "mean_squared_error": lambda: m.mean_squared_error(**args),
        PREFIX + "mean_absolute_error": lambda: m.mean_absolute_error(**args),
        PREFIX + "r2_score": lambda: m.r2_score(**args),
    })
    mse = values.get(PREFIX + "mean_squared_error")
    if mse is not None:
        values[PREFIX + "root_mean_squared_error"] = math.sqrt(mse)
    return values


def _classifier_metrics(
    ctx: RunContext, estimator: Any, features: Any, labels: Any, weights: Any
) -> dict[str, float]:
    from sklearn import metrics as m

    predicted = estimator.predict(features)
    args = {"y_true": labels, "y_pred": predicted, "sample_weight": weights}
    named: dict[str, Callable[[], Any]] = {
        PREFIX + "precision_score": lambda: m.precision_score(**args, average="weighted"),
        PREFIX + "recall_score": lambda: m.recall_score(**args, average="weighted"),
        PREFIX + "f1_score": lambda: m.f1_score(**args, average="weighted"),
        PREFIX + "accuracy_score": lambda: m.accuracy_score(**args, normalize=True),
    }
    if callable(getattr(estimator, "predict_proba", None)):
        proba = estimator.predict_proba(features)
        scores = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
        named[PREFIX + "log_loss"] = lambda: m.log_loss(labels, proba, sample_weight=weights)
        named[PREFIX + "roc_auc"] = lambda: m.roc_auc_score(
            labels, scores, average="weighted", sample_weight=weights, multi_class="ovr"
        )
    return _computed(ctx, named)


def _score(ctx: RunContext, estimator: Any, features: Any, labels: Any, weights: Any) -> Any:
    score = getattr(estimator, "score", None)
    if not callable(score):
        return None
    try:
        takes_weights = "sample_weight" in inspect.signature(score).parameters
    except (TypeError, ValueError):
        takes_weights = False
    args = (features, labels, weights) if takes_weights else (features, labels)
    return ctx.attempt(f"compute {PREFIX}score", score, *args)
