"""The PNG figures autologging saves, under MLflow 3's names: a classifier's
``training_confusion_matrix.png`` (plus ``training_roc_curve.png`` and
``training_precision_recall_curve.png`` for two classes) and XGBoost's
``feature_importance_<type>.png``.

They need matplotlib (in the ``ml`` extras). Without it they are skipped with one warning per
process; everything else is logged as usual. Figures are drawn on a ``matplotlib.figure.Figure``
of their own (never pyplot's current figure), so the user's plots are not touched.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import TYPE_CHECKING, Any

from tracker.autologging.session import notify

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracker.autologging.session import RunContext

_MISSING_WARNED: list[bool] = []
# scikit-learn's figures: small type at 175 dpi; XGBoost's chart: matplotlib's defaults (100 dpi).
CLASSIFIER_STYLE: dict[Any, Any] = {"savefig.dpi": 175, "figure.autolayout": True, "font.size": 8}
IMPORTANCE_STYLE: dict[Any, Any] = {"savefig.dpi": 100, "figure.autolayout": True}


def matplotlib_available(ctx: RunContext) -> bool:
    """True when matplotlib can be imported; else warn once per process and return False.

    Args:
        ctx: the training's run context (for ``silent=``).
    """
    import importlib.util

    if importlib.util.find_spec("matplotlib") is not None:
        return True
    if not _MISSING_WARNED:
        _MISSING_WARNED.append(True)
        notify(
            f"tracker autologging ({ctx.flavor}): matplotlib is not installed, so the PNG "
            "figures MLflow logs (confusion matrix, ROC and precision-recall curves, feature "
            "importance) are skipped; everything else is logged. pip install matplotlib "
            "(or tracker[ml]) to get them.", ctx.opts,
        )
    return False


def log_figures(
    ctx: RunContext, drawers: dict[str, Callable[[Any], None]], style: dict[Any, Any]
) -> None:
    """Draw each figure and log the PNGs at the root of the run's artifacts, in one call.

    A figure that cannot be drawn is reported (``ctx.report``) and left out.

    Args:
        ctx: the training's run context.
        drawers: file name (``training_roc_curve.png``) -> function drawing on the (empty)
            ``Figure`` given.
        style: matplotlib rc settings for drawing and saving.
    """
    if not drawers or not matplotlib_available(ctx):
        return
    import matplotlib
    from matplotlib.figure import Figure

    with tempfile.TemporaryDirectory(prefix="tracker-autolog-") as folder:
        written = 0
        for name, draw in drawers.items():
            try:
                with matplotlib.rc_context(style), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the libraries' warnings, not ours
                    figure = Figure()
                    draw(figure)
                    figure.savefig(os.path.join(folder, name), format="png")
                written += 1
            except Exception as exc:  # noqa: BLE001 - one figure failing costs only that figure
                ctx.report(f"draw {name}", exc)
        if written:
            ctx.client.log_artifacts(ctx.run_id, folder)


def classifier_figures(
    estimator: Any, features: Any, labels: Any, weights: Any, prefix: str
) -> dict[str, Callable[[Any], None]]:
    """The drawers of a fitted classifier's figures on its training data, as MLflow logs them:
    the normalized confusion matrix always, ROC and precision-recall curves for two classes.

    Args:
        estimator: the fitted classifier.
        features: the training X.
        labels: the training y.
        weights: the sample weights, or None.
        prefix: ``training_``.
    """
    from sklearn import metrics

    def axes(figure: Any) -> Any:
        figure.set_size_inches(6.0, 4.0)
        return figure.add_subplot()

    def confusion(figure: Any) -> None:
        display = metrics.ConfusionMatrixDisplay.from_estimator(
            estimator, features, labels, sample_weight=weights, normalize="true", cmap="Blues",
            ax=axes(figure))
        display.ax_.set_title("Normalized confusion matrix")

    def roc(figure: Any) -> None:
        display = metrics.RocCurveDisplay.from_estimator(
            estimator, features, labels, sample_weight=weights, ax=axes(figure))
        display.ax_.set_title("ROC curve")

    def precision_recall(figure: Any) -> None:
        display = metrics.PrecisionRecallDisplay.from_estimator(
            estimator, features, labels, sample_weight=weights, ax=axes(figure))
        display.ax_.set_title("Precision recall curve")

    drawers: dict[str, Callable[[Any], None]] = {f"{prefix}confusion_matrix.png": confusion}
    if _class_count(labels) == 2:
        drawers[f"{prefix}roc_curve.png"] = roc
        drawers[f"{prefix}precision_recall_curve.png"] = precision_recall
    return drawers


def _class_count(labels: Any) -> int:
    import numpy as np

    values = np.asarray(labels)
    if values.ndim != 1:
        return 0  # multi-output: no binary curves
    return len(np.unique(values))


def importance_figure(scores: dict[str, float], importance_type: str) -> Callable[[Any], None]:
    """The drawer of a horizontal bar chart of XGBoost feature importance, largest at the top
    (matplotlib's default size, taller by 0.1 inch a feature beyond 10, as MLflow's).

    Args:
        scores: ``booster.get_score(importance_type=...)``.
        importance_type: ``weight``, ``gain``…, for the title.
    """

    def draw(figure: Any) -> None:
        extra = 0.1 * len(scores) if len(scores) > 10 else 0.0
        figure.set_size_inches(6.4, 4.8 + extra)
        ax = figure.add_subplot()
        ranked = sorted(scores.items(), key=lambda item: abs(float(item[1])))
        names = [str(name) for name, _ in ranked]
        values = [float(value) for _, value in ranked]
        ax.barh(range(len(values)), values, align="center", height=0.6)
        ax.set_yticks(range(len(values)))
        ax.set_yticklabels(names)
        ax.set_xlabel("Importance")
        ax.set_title(f"Feature Importance ({importance_type})")

    return draw
