"""Report front matter (#17): the ``---``-fenced YAML header of a report, validated key by key.

::

    ---
    title: Weekly review
    description: The best runs of the week and how they compare.
    author: Ana
    date: 2026-01-05
    tags: [nyc-taxi, weekly]
    order: 1
    home: true          # this report is the site's landing page (index.html)
    experiment: nyc-taxi-experiment   # the default experiment of the report's blocks
    ---

Every problem (an unknown key, a value of the wrong type, YAML that does not parse) is a message
naming ``file:line``, the key and what is allowed; the build logs each as a warning (so
``tracker build --strict`` fails) and shows them at the top of the report. The keys that are
valid are still used.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass
from typing import Any

from tracker.exceptions import TrackerError

# key -> what the value may be (quoted in error messages).
KEYS: dict[str, str] = {
    "title": "text",
    "description": "text",
    "author": "text or a list of names",
    "date": "a date (YYYY-MM-DD) or date and time",
    "tags": "a list of words ([a, b]) or comma-separated text",
    "order": "a number (lower first)",
    "home": "true or false",
    "experiment": "an experiment name (the default of the report's blocks)",
}
MAX_TAGS = 20
_TEXT_LIMIT = 2000


class FrontMatterError(TrackerError):
    """Two reports set ``home: true`` (the site can have one landing page)."""


@dataclass(frozen=True)
class FrontMatter:
    """The validated front matter of a report (defaults where a key is missing or invalid)."""

    title: str = ""
    description: str = ""
    author: str = ""
    date: str = ""  # ISO date or date-time, '' when none
    tags: tuple[str, ...] = ()
    order: float = math.inf
    home: bool = False
    experiment: str = ""
    errors: tuple[str, ...] = ()  # "file:line: ..." messages


def split(text: str) -> tuple[str, str, int] | None:
    """``(front matter text, body, lines before the body)``, or None when there is none.

    The front matter is the lines between a first line ``---`` and the next ``---`` (or
    ``...``); without a closing fence the ``---`` was a thematic break.
    """
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            return "\n".join(lines[1:end]), "\n".join(lines[end + 1:]), end + 1
    return None


def parse(text: str, file: str) -> tuple[FrontMatter, str, int]:
    """The front matter of a report's text, its body, and the number of lines before the body.

    Args:
        text: the whole file (``\\n`` line ends).
        file: the file's path, for messages (its base name is quoted).
    """
    parts = split(text)
    if parts is None:
        return FrontMatter(), text, 0
    header, body, offset = parts
    name = os.path.basename(file)
    values, lines, errors = _load_yaml(header, name)
    return _validated(values, lines, errors, name), body, offset


def _load_yaml(header: str, name: str) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """Values and the file line of each key (line 1 is the opening ``---``)."""
    import yaml

    if not header.strip():
        return {}, {}, []
    try:
        node = yaml.compose(header, Loader=yaml.SafeLoader)
        data = yaml.safe_load(header)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date like 2026-13-01
        # Not YAML, e.g. "title: Taxi: overview" (reports before #17): read it line by line.
        return _lines(header, name, exc)
    if data is None:
        return {}, {}, []
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return {}, {}, [f"{name}:2: the front matter must be one key per line, a colon, then "
                        f"its value; allowed keys are {', '.join(KEYS)}."]
    lines = {}
    for key_node, _value in node.value:
        lines[str(key_node.value)] = key_node.start_mark.line + 2
    return {str(k): v for k, v in data.items()}, lines, []


def _lines(
    header: str, name: str, exc: Exception
) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """``key: value`` lines, each value read as YAML when it is a YAML scalar or list, else as
    text; a line of another shape is an error naming its line."""
    import yaml

    pattern = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_-]*)[ \t]*:[ \t]?(?P<value>.*)$")
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    errors: list[str] = []
    for number, line in enumerate(header.split("\n"), 2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = pattern.match(line.strip())
        if match is None or line[:1].isspace():
            problem = getattr(exc, "problem", None) or "not a key and a value"
            errors.append(f"{name}:{number}: this front matter line cannot be read ({problem}); "
                          "write each key on its own line, a colon, then its value (quoted "
                          "when it spans lines); allowed keys are " + ", ".join(KEYS) + ".")
            continue
        raw = match["value"].strip()
        try:
            value = yaml.safe_load(raw) if raw else None
        except (yaml.YAMLError, ValueError):
            value = raw
        if isinstance(value, dict):
            value = raw
        values[match["key"]] = value
        lines[match["key"]] = number
    return values, lines, errors


def _validated(
    values: dict[str, Any], lines: dict[str, int], errors: list[str], name: str
) -> FrontMatter:
    out: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{name}:{lines.get(key, 2)}"
        lowered = key.lower()
        if lowered not in KEYS:
            errors.append(f"{where}: unknown front matter key {key!r}; allowed keys are "
                          f"{', '.join(KEYS)}.")
            continue
        try:
            out[lowered] = _value(lowered, value)
        except ValueError as exc:
            errors.append(f"{where}: front matter key {lowered!r}: {exc}; expected "
                          f"{KEYS[lowered]}.")
    return FrontMatter(**out, errors=tuple(errors))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"got {_kind(value)}")
    text = str(value).strip()
    if len(text) > _TEXT_LIMIT:
        raise ValueError(f"the text is {len(text)} characters long (at most {_TEXT_LIMIT})")
    return text


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (dt.date, dt.datetime)):
        return "a date"
    return f"{value!r}"


def _value(key: str, value: Any) -> Any:
    if key in ("title", "description", "experiment"):
        return _text(value)
    if key == "author":
        if isinstance(value, list):
            return ", ".join(_text(v) for v in value if _text(v))
        return _text(value)
    if key == "tags":
        items = value if isinstance(value, list) else (
            [] if value is None else _text(value).split(","))
        tags = tuple(dict.fromkeys(t for t in (_text(i) for i in items) if t))
        if len(tags) > MAX_TAGS:
            raise ValueError(f"{len(tags)} tags (at most {MAX_TAGS})")
        return tags
    if key == "order":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            raise ValueError(f"got {_kind(value)}")
        return float(value)
    if key == "home":
        if not isinstance(value, bool):
            raise ValueError(f"got {_kind(value)}")
        return value
    if key == "date":
        return _date(value)
    raise AssertionError(key)  # pragma: no cover - KEYS and _value list the same keys


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"got {text!r}") from None
        return parsed.date().isoformat() if len(text) == 10 else parsed.replace(
            microsecond=0).isoformat(sep=" ")
    raise ValueError(f"got {_kind(value)}")


def home_file(metas: list[tuple[str, FrontMatter]]) -> str | None:
    """The one report (file path) that sets ``home: true``, or None.

    Raises:
        FrontMatterError: more than one does; the message names them all.
    """
    homes = [path for path, meta in metas if meta.home]
    if len(homes) > 1:
        names = ", ".join(os.path.basename(p) for p in sorted(homes))
        raise FrontMatterError(
            f"{len(homes)} reports set 'home: true' ({names}); the site has one landing page: "
            "keep 'home: true' in one report and remove it from the others.")
    return homes[0] if homes else None
