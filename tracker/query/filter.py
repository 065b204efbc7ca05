"""MLflow's search filter and order_by grammar, compiled to parameterized DuckDB SQL."""

from __future__ import annotations

from typing import Any

from tracker.exceptions import FilterSyntaxError


def compile_filter(filter_string: str | None) -> tuple[str, list[Any]]:
    if filter_string is None or not str(filter_string).strip():
        return "TRUE", []
    raise FilterSyntaxError(f"Filters are not supported yet: {filter_string!r}")


def compile_order_by(order_by: list[str] | None) -> tuple[list[str], list[Any]]:
    if not order_by:
        return [], []
    raise FilterSyntaxError(f"order_by is not supported yet: {order_by!r}")
