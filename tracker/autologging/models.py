"""What autologging records about the trained model: estimator tags, the ``fit`` arguments that
matter (X, y, sample_weight), and the input example and signature a logged model gets.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracker.autologging.session import RunContext


def estimator_tags(estimator: Any) -> dict[str, str]:
    """MLflow's ``estimator_name`` and ``estimator_class`` tags.

    Args:
        estimator: the fitted object.
    """
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def fit_inputs(fit: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[
    Any, Any, Any
]:
    """X, y and ``sample_weight`` of a ``fit(self, X, y, ...)`` call; None for what is missing.

    Args:
        fit: the unbound ``fit`` function.
        args: its positional arguments, ``self`` first.
        kwargs: its keyword arguments.
    """
    try:
        signature = inspect.signature(fit)
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None, None, None
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in list(signature.parameters.values())[1:3] if p.kind in plain]
    features = bound.arguments.get(names[0]) if names else None
    labels = bound.arguments.get(names[1]) if len(names) > 1 else None
    return features, labels, bound.arguments.get("sample_weight")


def example_and_signature(
    ctx: RunContext, get_example: Callable[[], Any], predict: Callable[[Any], Any]
) -> tuple[Any, Any]:
    """The ``input_example`` and ``signature`` to log the model with, as the options ask.

    Returns ``(example or None, signature or False)``: False keeps ``log_model`` from inferring.

    Args:
        ctx: the training's run context (options ``log_input_examples``, ``log_model_signatures``).
        get_example: takes the first rows of the training data.
        predict: the trained model's predict, used for the signature's outputs.
    """
    want_example = bool(ctx.opts.get("log_input_examples"))
    want_signature = bool(ctx.opts.get("log_model_signatures"))
    if not (want_example or want_signature):
        return None, False
    example = ctx.attempt("take an input example from the training data", get_example)
    if example is None:
        return None, False
    signature: Any = False
    if want_signature:
        inferred = ctx.attempt("infer the model signature", _infer, example, predict)
        signature = inferred if inferred is not None else False
    return (example if want_example else None), signature


def _infer(example: Any, predict: Callable[[Any], Any]) -> Any:
    from tracker.models.signature import infer_signature

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. feature-name notices from predicting on a slice
        output = predict(copy.deepcopy(example))
    return infer_signature(example, output)
