"""Small filters for experiments and registry searches: ``field OP value`` clauses joined by AND.

Fields are plain attributes (``name``, ``run_id``, …) or ``tags.<key>`` (and, where the caller
allows them, ``params.<key>`` and ``metrics.<key>``); operators are
``= != LIKE ILIKE NOT LIKE IN NOT IN`` (and ``< <= > >=`` for numeric fields); values are quoted
strings, numbers, or parenthesised lists for IN.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tracker.exceptions import FilterSyntaxError

_CLAUSE = re.compile(
    r"""\s*(?P<field>(?:tags|params|metrics)\.(?:`[^`]+`|"[^"]+"|[\w.\-/:]+)|[A-Za-z_][\w.]*)\s*
        (?P<op>!=|<=|>=|=|<|>|NOT\s+LIKE|ILIKE|LIKE|NOT\s+IN|IN)\s*
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|\((?:[^()'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")*\))
        \s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_ITEM = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?)""")
_AND = re.compile(r"\s+AND\s+(?=(?:[^'\"]|'[^']*'|\"[^\"]*\")*$)", re.IGNORECASE)

Record = Mapping[str, Any]


_REGEX_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def like_regex(pattern: str) -> str:
    """SQL LIKE ``pattern`` (DuckDB's: no escape character; ``%`` any run of characters, ``_``
    one character) as a regular expression for the whole text, the same in Python's ``re`` and
    in RE2 (``tracker.query.express`` evaluates it with ``pyarrow.compute``); newlines are
    characters like any other."""
    out = []
    for char in pattern:
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append("\\" + char if char in _REGEX_SPECIAL else char)
    return "(?s)^" + "".join(out) + "$"


def like(pattern: str, text: str, case_sensitive: bool = True) -> bool:
    """SQL LIKE: ``%`` any run of characters, ``_`` one character."""
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(like_regex(pattern), text, flags) is not None


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _values(raw: str) -> list[str]:
    if raw.startswith("("):
        found = [m.group(1) or m.group(2) or m.group(3) or "" for m in _ITEM.finditer(raw)]
        return [re.sub(r"\\(.)", r"\1", v) for v in found]
    return [_unquote(raw) if raw[0] in "'\"" else raw]


def compile_simple(
    filter_string: str | None, fields: Mapping[str, str], what: str,
    prefixes: Mapping[str, str] | None = None,
) -> Callable[[Record], bool]:
    """A predicate over records (dicts with the fields and a ``tags`` dict).

    Args:
        filter_string: the user's filter (None or blank matches everything).
        fields: allowed field names mapped to ``"str"`` or ``"num"``.
        what: what is searched, for error messages (e.g. ``"model version"``).
        prefixes: ``<prefix>.<key>`` fields allowed, mapped to ``"str"`` or ``"num"``; the
            record holds a dict under each prefix (default: ``{"tags": "str"}``).
    """
    prefixes = {"tags": "str"} if prefixes is None else prefixes
    if filter_string is None or not str(filter_string).strip():
        return lambda record: True
    checks = [_clause(part, filter_string, fields, what, prefixes)
              for part in _AND.split(filter_string.strip())]
    return lambda record: all(check(record) for check in checks)


def _clause(
    part: str, whole: str, fields: Mapping[str, str], what: str, prefixes: Mapping[str, str]
) -> Callable[[Record], bool]:
    match = _CLAUSE.match(part)
    if match is None:
        raise FilterSyntaxError(
            f"Invalid {what} filter {whole!r} at {part.strip()!r}: write <field> <op> <value>, "
            f"with fields {', '.join(sorted(fields))} or {_prefixed(prefixes)}, joined by AND."
        )
    field = match.group("field")
    op = " ".join(match.group("op").upper().split())
    values = _values(match.group("value"))
    prefix = field.split(".", 1)[0].lower()
    if prefix in prefixes and "." in field:
        key = field.split(".", 1)[1].strip("`\"")
        kind = prefixes[prefix]

        def get(record: Record) -> Any:
            return record.get(prefix, {}).get(key)
    else:
        name = field.lower().removeprefix("attributes.")
        if name not in fields:
            raise FilterSyntaxError(
                f"Invalid {what} filter {whole!r}: unknown field {field!r}; allowed: "
                f"{', '.join(sorted(fields))}, {_prefixed(prefixes)}."
            )
        kind = fields[name]

        def get(record: Record) -> Any:
            return record.get(name)
    return _operator(op, values, kind, get, whole, what)


def _prefixed(prefixes: Mapping[str, str]) -> str:
    return ", ".join(f"{p}.<key>" for p in prefixes)


def _operator(
    op: str, values: list[str], kind: str, get: Callable[[Record], Any], whole: str, what: str
) -> Callable[[Record], bool]:
    if kind == "num":
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            raise FilterSyntaxError(
                f"Invalid {what} filter {whole!r}: {values[0]!r} is not a number."
            ) from None
        compare = {
            "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        }
        if op in compare:
            fn = compare[op]
            return lambda r: get(r) is not None and fn(float(get(r)), numbers[0])
        if op in ("IN", "NOT IN"):
            inside = op == "IN"
            return lambda r: get(r) is not None and (float(get(r)) in numbers) == inside
        raise FilterSyntaxError(f"Invalid {what} filter {whole!r}: {op} needs a text field.")
    value = values[0]
    if op == "=":
        return lambda r: get(r) is not None and str(get(r)) == value
    if op == "!=":
        return lambda r: get(r) is not None and str(get(r)) != value
    if op in ("LIKE", "ILIKE", "NOT LIKE"):
        case = op != "ILIKE"
        negate = op == "NOT LIKE"
        return lambda r: get(r) is not None and like(value, str(get(r)), case) != negate
    if op in ("IN", "NOT IN"):
        inside = op == "IN"
        return lambda r: get(r) is not None and (str(get(r)) in values) == inside
    raise FilterSyntaxError(
        f"Invalid {what} filter {whole!r}: {op} compares numbers; use =, !=, LIKE, ILIKE or IN."
    )
