"""What the example prints: the sweep, the champion's predictions, the leaderboard, the registry.

``leaderboard`` queries the store; everything else formats what a session returned as aligned
text tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

import tracker as mlflow

if TYPE_CHECKING:
    import pandas as pd

    from examples.nyc_taxi.registry import RegistrySummary
    from examples.nyc_taxi.train import Outcome
    from tracker.entities import Run

LEADERBOARD_PARAMS = [
    "alpha", "max_depth", "learning_rate", "min_child_weight", "reg_alpha", "reg_lambda",
]


def leaderboard(experiment_name: str, max_results: int = 10) -> pd.DataFrame:
    """The experiment's best runs by validation rmse; sweep parent runs (no rmse) left out."""
    runs = mlflow.search_runs(experiment_names=[experiment_name], order_by=["metrics.rmse ASC"])
    assert not isinstance(runs, list)
    if "tags.sweep" in runs.columns:
        runs = runs[runs["tags.sweep"].isna()]
    return runs.head(max_results).reset_index(drop=True)


def _cell(value: Any) -> str:
    """A value for a table: numbers to 3 significant digits, missing as '-'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.3g}"


def table(rows: list[list[str]], left: set[int]) -> str:
    """Rows (the first is the header) as aligned columns; columns in ``left`` left-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_leaderboard(runs: pd.DataFrame) -> str:
    """Rank, run name, model tag, rmse and the swept params.

    A run without rmse (it failed, or is still running) shows its status instead.
    """
    rows = [["#", "run name", "model", "rmse", *LEADERBOARD_PARAMS]]
    for rank, (_, run) in enumerate(runs.iterrows(), start=1):
        metric = run.get("metrics.rmse")
        rows.append([
            str(rank),
            str(run.get("tags.mlflow.runName") or run["run_id"][:8]),
            _cell(run.get("tags.model")),
            run["status"] if metric is None or np.isnan(metric) else f"{metric:.4f}",
            *(_cell(run.get(f"params.{key}")) for key in LEADERBOARD_PARAMS),
        ])
    return table(rows, left={1, 2})


def format_sweep(sweep: Run, trial_names: dict[str, str]) -> str:
    """The sweep's parent run: trials, failures, best loss and the best trial's run."""
    metrics, tags = sweep.data.metrics, sweep.data.tags
    best_id = tags.get("best_trial_run_id", "")
    best = trial_names.get(best_id, best_id[:8] or "-")
    params = {k.removeprefix("best_"): v for k, v in sorted(sweep.data.params.items())
              if k.startswith("best_")}
    return "\n".join([
        f"Sweep {sweep.info.run_name!r} (run {sweep.info.run_id[:8]}, algo "
        f"{tags.get('algo', '?')}): {metrics.get('n_trials', 0):.0f} trials, "
        f"{metrics.get('n_failed', 0):.0f} failed, best loss {metrics.get('best_loss', np.nan):.4f} "
        f"in trial run {best}",
        "  best params: " + ", ".join(f"{k}={_cell(v)}" for k, v in params.items()),
    ])


def format_predictions(predictions: pd.DataFrame) -> str:
    """The champion's predictions beside the actual durations (minutes)."""
    rows = [["PU_DO", "trip_distance", "duration", "predicted", "error"]]
    for _, row in predictions.iterrows():
        rows.append([
            str(row["PU_DO"]), f"{row['trip_distance']:.2f}", f"{row['duration']:.2f}",
            f"{row['predicted']:.2f}", f"{row['predicted'] - row['duration']:+.2f}",
        ])
    return table(rows, left={0})


def format_registry(summary: RegistrySummary) -> str:
    """The model's versions with stage, aliases and run; who is in Production; the aliases."""
    aliases: dict[int, list[str]] = {}
    for alias, number in sorted(summary.aliases.items()):
        aliases.setdefault(number, []).append(alias)
    rows = [["version", "stage", "aliases", "run"]]
    for mv in summary.versions:
        rows.append([str(mv.version), mv.current_stage,
                     ", ".join(aliases.get(int(mv.version), [])) or "-", (mv.run_id or "-")[:8]])
    production = summary.production
    lines = [f"Model registry: {summary.name!r} ({len(summary.versions)} version"
             f"{'' if len(summary.versions) == 1 else 's'})", "", table(rows, left={1, 2, 3}), ""]
    if production is None:
        lines.append("Production: none")
    else:
        lines.append(f"Production: version {production.version} - {production.description}")
    named = ", ".join(f"{a} -> version {v}" for a, v in sorted(summary.aliases.items()))
    lines.append(f"Aliases: {named or 'none'}")
    return "\n".join(lines)


def report(outcome: Outcome, seconds: float, experiment_name: str) -> str:
    """The text printed at the end of a session."""
    from examples.nyc_taxi.registry import ALIAS, MODEL_NAME

    assert outcome.leaderboard is not None and outcome.registry is not None
    assert outcome.sweep_run is not None and outcome.predictions is not None
    names = dict(zip(outcome.leaderboard["run_id"], outcome.leaderboard["tags.mlflow.runName"]))
    trials = len(outcome.xgboost_run_ids)
    board = outcome.leaderboard
    return "\n".join([
        "",
        format_sweep(outcome.sweep_run, names),
        "",
        f"Best params retrained with autologging: run {outcome.best_run_id[:8]}, validation "
        f"rmse {outcome.best_rmse:.4f}; registered as {MODEL_NAME!r} version "
        f"{outcome.model_version}, Staging -> Production, alias {ALIAS!r}.",
        "",
        f"Predictions of models:/{MODEL_NAME}@{ALIAS} for {len(outcome.predictions)} "
        "validation trips (minutes):",
        "",
        format_predictions(outcome.predictions),
        "",
        f"Leaderboard of {experiment_name!r} (best {len(board)} runs by validation rmse):",
        "",
        format_leaderboard(board),
        "",
        format_registry(outcome.registry),
        "",
        f"This session: 1 Lasso run (rmse {outcome.lasso_rmse:.4f}), a sweep of {trials} "
        f"XGBoost trial{'' if trials == 1 else 's'} and the retrained best in {seconds:.1f} s.",
        f"Store: {outcome.store_path}  (experiment id {outcome.experiment_id})",
    ])
