"""``search_experiments`` filters and ordering (``name``, ``tags.<key>``, times)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.exceptions import FilterSyntaxError
from tracker.simple_filter import compile_simple

if TYPE_CHECKING:
    from tracker.entities import Experiment

FIELDS = {"name": "str", "experiment_id": "str", "creation_time": "num",
          "last_update_time": "num", "lifecycle_stage": "str"}


def matches_experiment(filter_string: str, experiment: Experiment) -> bool:
    check = compile_simple(filter_string, FIELDS, "experiment")
    record = {
        "name": experiment.name,
        "experiment_id": experiment.experiment_id,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "lifecycle_stage": experiment.lifecycle_stage,
        "tags": experiment.tags,
    }
    return check(record)


def sort_experiments(experiments: list[Experiment], order_by: list[str]) -> list[Experiment]:
    out = list(experiments)
    for item in reversed(order_by):
        parts = item.split()
        field = parts[0].lower().removeprefix("attributes.")
        desc = len(parts) > 1 and parts[1].upper() == "DESC"
        if field not in ("name", "experiment_id", "creation_time", "last_update_time"):
            raise FilterSyntaxError(
                f"Invalid order_by {item!r}: use name, experiment_id, creation_time or "
                "last_update_time, optionally followed by ASC or DESC."
            )
        out.sort(key=lambda e: _sort_value(e, field), reverse=desc)
    return out


def _sort_value(experiment: Experiment, field: str) -> str | int:
    value = getattr(experiment, field)
    if field in ("name", "experiment_id"):
        return str(value)
    return int(value or 0)
