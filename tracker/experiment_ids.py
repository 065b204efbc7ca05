"""Experiment ids as users type them: tracker's own ids, or MLflow's numbering (0, 1, 2, …).

tracker derives an experiment's id from its name (so two machines that create the same
experiment agree), while MLflow's database numbers experiments in creation order: ``Default`` is
``0``, the next one ``1``. Code written for MLflow passes ``experiment_ids='1'``. An id that is
not one of the store's is read as that MLflow number when the creation order is clear (every
experiment has a creation time and no two share the one asked for); a one-line notice on stderr
says which experiment it chose. Anything else raises ``NotFoundError`` listing the experiments,
so a search is never silently empty.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from tracker.entities import Experiment

__all__ = ["mlflow_numbers", "resolve_experiment_id", "resolve_experiment_ids"]

DEFAULT_ID = "0"
_noticed: set[tuple[str, str]] = set()
_LISTED = 20


def mlflow_numbers(
    experiments: dict[str, Experiment], created_ns: dict[str, int] | None = None
) -> dict[str, str]:
    """MLflow-style number → experiment id, for the numbers whose creation order is clear.

    Args:
        experiments: the store's experiments by id.
        created_ns: creation time in nanoseconds by id, where known (else ``creation_time``).

    Deleted experiments keep their number, as in MLflow. ``Default`` is always ``0``.
    """
    others = [e for e in experiments.values() if e.experiment_id != DEFAULT_ID]
    ns = created_ns or {}
    when: dict[str, int | None] = {
        e.experiment_id: ns.get(e.experiment_id)
        or (None if e.creation_time is None else e.creation_time * 1_000_000)
        for e in others
    }
    if any(t is None for t in when.values()):
        return {}
    others.sort(key=lambda e: (when[e.experiment_id] or 0, e.experiment_id))
    times = list(when.values())
    return {
        str(n): e.experiment_id
        for n, e in enumerate(others, start=1)
        if times.count(when[e.experiment_id]) == 1
    }


def resolve_experiment_id(
    experiments: dict[str, Experiment],
    experiment_id: Any,
    where: str,
    created_ns: dict[str, int] | None = None,
) -> str:
    """The store's id for ``experiment_id`` (its own id, or an MLflow number); else an error.

    Args:
        experiments: the store's experiments by id.
        experiment_id: what the user passed (str or int).
        where: the store's URI, for messages.
        created_ns: creation times in nanoseconds by id (``mlflow_numbers``).
    """
    if isinstance(experiment_id, bool) or not isinstance(experiment_id, (str, int)):
        raise InvalidArgumentError(
            f"Experiment id must be a string (or int), got {experiment_id!r}."
        )
    text = str(experiment_id).strip()
    if text in experiments:
        return text
    numbers = mlflow_numbers(experiments, created_ns)
    found = numbers.get(text) if text.isdigit() and not text.startswith("0") else None
    if found is not None:
        if (where, text) not in _noticed:
            _noticed.add((where, text))
            print(
                f"tracker: experiment id {text!r} read as MLflow's numbering: experiment "
                f"{experiments[found].name!r} (id {found}), number {text} in creation order.",
                file=sys.stderr,
            )
        return found
    raise NotFoundError(_unknown_message(experiments, numbers, text, where))


def resolve_experiment_ids(
    experiments: dict[str, Experiment],
    experiment_ids: Any,
    where: str,
    created_ns: dict[str, int] | None = None,
) -> list[str]:
    """``resolve_experiment_id`` for one id or a list of them."""
    if isinstance(experiment_ids, (str, int)) and not isinstance(experiment_ids, bool):
        experiment_ids = [experiment_ids]
    if not isinstance(experiment_ids, (list, tuple, set)):
        raise InvalidArgumentError(
            f"experiment_ids must be a list of experiment ids, got {experiment_ids!r}."
        )
    return [resolve_experiment_id(experiments, e, where, created_ns) for e in experiment_ids]


def _unknown_message(
    experiments: dict[str, Experiment], numbers: dict[str, str], text: str, where: str
) -> str:
    number_of = {eid: n for n, eid in numbers.items()}
    ordered = sorted(
        experiments.values(), key=lambda e: (e.experiment_id != DEFAULT_ID, e.creation_time or 0)
    )
    lines = []
    for exp in ordered[:_LISTED]:
        extra = f", MLflow number {number_of[exp.experiment_id]}" if exp.experiment_id in number_of else ""
        deleted = ", deleted" if exp.lifecycle_stage != "active" else ""
        lines.append(f"  {exp.experiment_id}  {exp.name}{extra}{deleted}")
    if len(ordered) > _LISTED:
        lines.append(f"  … and {len(ordered) - _LISTED} more (`tracker experiments list`)")
    return (
        f"No experiment with id {text!r} in the store at {where}. Pass one of these ids, or the "
        "name with experiment_names=[…] / get_experiment_by_name():\n" + "\n".join(lines)
    )
