"""Tables, JSON and CSV for command output: the formatting the CLI shares (no I/O here)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Duration", "duration", "fit", "frame_rows", "is_number", "json_default", "plain", "render",
    "text", "utc",
]

MAX_CELL = 24  # characters of a text cell in a table fitted to the terminal

class Duration(float):
    """Seconds: a number in JSON and CSV, ``1h 02m 03s`` in tables."""

    def human(self) -> str:
        seconds = float(self)
        if seconds < 60:
            return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"
        minutes, secs = divmod(int(round(seconds)), 60)
        if minutes < 60:
            return f"{minutes}m {secs:02d}s"
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m {secs:02d}s"


def plain(value: Any) -> Any:
    """A JSON-ready Python value: no NaN/NaT/NA, no numpy scalars, no Decimals."""
    if value is None or isinstance(value, (bool, str, Duration)):
        return value
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value if math.isfinite(value) else str(value)
    if isinstance(value, (int, datetime, date, time)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (timedelta, bytes)):
        return value.total_seconds() if isinstance(value, timedelta) else value.hex()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return plain(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return str(value)


def text(value: Any, *, table: bool) -> str:
    """One cell as text, for a table or a CSV file."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, Duration):
        return value.human() if table else repr(float(value))
    if isinstance(value, float):
        return f"{value:.6g}" if table else repr(value)
    if isinstance(value, datetime) and table:
        utc = value.astimezone(timezone.utc) if value.tzinfo else value
        return utc.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    text = str(value)
    return text.replace("\r", "\\r").replace("\n", "\\n") if table else text


def json_default(value: Any) -> Any:
    """Dates and times for ``json.dumps`` (everything else went through ``_plain``)."""
    return text(value, table=False)


def render(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> str:
    """Rows as an aligned text table, a JSON array of objects, or CSV with a header line."""
    rows = list(rows)
    if fmt == "json":
        objects = [{c: plain(v) for c, v in zip(columns, row)} for row in rows]
        return json.dumps(objects, indent=2, default=json_default)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([text(v, table=False) for v in row] for row in rows)
        return out.getvalue().rstrip("\n")
    cells = [[text(v, table=True) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [bool(rows) and all(is_number(r[i]) for r in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        padded = (v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric))
        return "  ".join(padded).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def fit(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int, *, keep: int
) -> tuple[list[str], list[list[Any]], int]:
    """A table that fits ``width`` characters: text cells cut to ``MAX_CELL`` characters (with
    "…"), then columns dropped from the right, never the first ``keep``.

    Returns:
        The columns and rows left, and how many columns were dropped.
    """
    cut = [[_cut(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(text(r[i], table=True)) for r in cut)])
              for i, c in enumerate(columns)]
    shown = len(columns)
    while shown > keep and sum(widths[:shown]) + 2 * (shown - 1) > width:
        shown -= 1
    return list(columns[:shown]), [row[:shown] for row in cut], len(columns) - shown


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_CELL:
        return value[: MAX_CELL - 1] + "…"
    return value


def is_number(value: Any) -> bool:
    value = plain(value)
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def frame_rows(frame: pd.DataFrame) -> tuple[list[str], list[tuple[Any, ...]]]:
    return [str(c) for c in frame.columns], list(frame.itertuples(index=False, name=None))


def utc(ms: Any) -> datetime | None:
    ms = plain(ms)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def duration(start_ms: Any, end_ms: Any) -> Duration | None:
    start, end = plain(start_ms), plain(end_ms)
    if start is None or end is None:
        return None
    if isinstance(start, datetime):
        return Duration((end - start).total_seconds())
    return Duration((end - start) / 1000)
