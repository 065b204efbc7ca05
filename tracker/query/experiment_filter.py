"""``search_experiments`` filters: ``name`` and ``tags.<key>`` with = != LIKE ILIKE, joined by AND."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tracker.exceptions import FilterSyntaxError

if TYPE_CHECKING:
    from tracker.entities import Experiment

_CLAUSE = re.compile(
    r"""\s*(?P<field>name|attributes\.name|creation_time|tags\.(?:`[^`]+`|"[^"]+"|[\w.\-/: ]+?))\s*
        (?P<op>!=|=|LIKE|ILIKE|NOT\s+LIKE)\s*
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def _like(pattern: str, text: str, case: bool) -> bool:
    regex = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern
    )
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE | re.DOTALL) is not None


def _clauses(filter_string: str) -> list[re.Match[str]]:
    out = []
    for part in re.split(r"\s+AND\s+", filter_string.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if match is None:
            raise FilterSyntaxError(
                f"Invalid experiment filter {filter_string!r} at {part!r}: use name or "
                "tags.<key> with =, !=, LIKE or ILIKE and a quoted value, joined by AND."
            )
        out.append(match)
    return out


def matches_experiment(filter_string: str, experiment: Experiment) -> bool:
    for clause in _clauses(filter_string):
        field = clause.group("field")
        op = clause.group("op").upper().split()
        raw = clause.group("value")
        value = raw[1:-1] if raw[0] in "'\"" else raw
        if field.lower().endswith("name") and not field.lower().startswith("tags."):
            actual: str | None = experiment.name
        elif field.lower() == "creation_time":
            actual = str(experiment.creation_time)
        else:
            key = field[5:].strip("`\"")
            actual = experiment.tags.get(key)
        if actual is None:
            return False
        if op == ["="] and actual != value:
            return False
        if op == ["!="] and actual == value:
            return False
        if op[-1] in ("LIKE", "ILIKE"):
            hit = _like(value, actual, op[-1] == "LIKE")
            if hit == (op[0] == "NOT"):
                return False
    return True


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
