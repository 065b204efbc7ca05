"""Autologging: record params, metrics, datasets and models of XGBoost and scikit-learn training.

``tracker.autologging.autolog()`` (exposed as ``tracker.autolog()``) turns on every integration
whose library is installed; ``tracker.xgboost.autolog()`` and ``tracker.sklearn.autolog()`` turn
on one, with its own options. Importing this package imports neither library: each integration
module (``tracker.xgboost._autolog``, ``tracker.sklearn._autolog``) is imported when its
``autolog`` is called. See ``docs/autolog.md``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from tracker.autologging.session import AutologWarning

__all__ = ["INTEGRATIONS", "AutologWarning", "autolog"]

# integration name -> the library it needs (importable for ``autolog()`` to turn it on)
INTEGRATIONS = {"xgboost": "xgboost", "sklearn": "sklearn"}


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Turn on (or off, ``disable=True``) autologging for every installed library it supports.

    Like ``mlflow.autolog()``: the same options go to ``tracker.xgboost.autolog`` and
    ``tracker.sklearn.autolog``, each of which keeps its own defaults for the rest
    (``max_tuning_runs``, ``model_format``, …). A library that is not installed is skipped.

    Args:
        log_input_examples: save the first 5 training rows with each logged model.
        log_model_signatures: infer each model's signature from those rows.
        log_models: log trained models at ``model``.
        log_datasets: log training (and eval) data as dataset inputs.
        disable: turn every integration off and restore the libraries' functions.
        exclusive: do not log into runs the user started.
        disable_for_unsupported_versions: skip libraries older than the supported versions.
        silent: no warnings from autologging (debug log records instead).
        extra_tags: tags for the runs autologging starts.
    """
    shared = {
        "log_input_examples": log_input_examples, "log_model_signatures": log_model_signatures,
        "log_models": log_models, "log_datasets": log_datasets, "disable": disable,
        "exclusive": exclusive, "silent": silent, "extra_tags": extra_tags,
        "disable_for_unsupported_versions": disable_for_unsupported_versions,
    }
    for name, library in INTEGRATIONS.items():
        if disable and name not in _loaded():
            continue  # never turned on: nothing to restore, and no need to import it
        if importlib.util.find_spec(library) is None:
            continue
        module = importlib.import_module(f"tracker.{name}._autolog")
        module.autolog(**shared)


def _loaded() -> set[str]:
    import sys

    return {name for name in INTEGRATIONS if f"tracker.{name}._autolog" in sys.modules}
