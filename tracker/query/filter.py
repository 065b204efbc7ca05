"""MLflow's search filter and order_by grammar, compiled to parameterized DuckDB SQL.

The pipeline is: a small tokenizer (:func:`_tokenize`), a recursive-descent parser
(:class:`_Parser`) producing an AST (:class:`Compare` / :class:`BoolOp`), and a compiler
turning that AST into a SQL boolean expression over ``runs r``.

Filter grammar (MLflow's, plus ``OR``, parentheses, ``IN`` on params/tags/string
attributes and ``IS [NOT] NULL``)::

    filter     := or_expr
    or_expr    := and_expr (OR and_expr)*
    and_expr   := primary (AND primary)*
    primary    := '(' or_expr ')' | comparison
    comparison := field op value | field [NOT] IN '(' string (',' string)* ')'
                | field IS [NOT] NULL
    field      := metrics.<key> | params.<key> | tags.<key> | attributes.<attr> | <attr>

Every user-supplied key and value becomes a positional ``?`` parameter; the SQL text only
ever contains fixed fragments and whitelisted column names.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, NoReturn, Union

from tracker.exceptions import FilterSyntaxError

__all__ = ["compile_filter", "compile_order_by", "parse_filter", "parse_order_by"]

# --------------------------------------------------------------------------- vocabulary

_PREFIXES: dict[str, str] = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
}

# Searchable name -> column of ``runs`` (the values are the only column names put in SQL).
_STRING_ATTRIBUTES: dict[str, str] = {
    "run_id": "run_id",
    "run_name": "run_name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "lifecycle_stage": "lifecycle_stage",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}
_NUMERIC_ATTRIBUTES: dict[str, str] = {
    "start_time": "start_time",
    "end_time": "end_time",
    "created": "start_time",
    "Created": "start_time",
}
_ATTRIBUTE_NAMES = sorted(
    name
    for name in (*_STRING_ATTRIBUTES, *_NUMERIC_ATTRIBUTES)
    if name.isidentifier() and name == name.lower()
)

_NULL_OPS = ("IS NULL", "IS NOT NULL")
_COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")
_NUMERIC_OPS = (*_COMPARISON_OPS, *_NULL_OPS)
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", *_NULL_OPS)
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"})

# Per entity kind: (table, alias) of the one-row-per-(run_id, key) table holding it.
_TABLES: dict[str, tuple[str, str]] = {
    "metric": ("latest_metrics", "m"),
    "param": ("params", "p"),
    "tag": ("tags", "t"),
}

_MAX_DEPTH = 50  # nesting of parentheses; deeper filters are rejected, not recursed into
_INT64_MAX = 2**63 - 1
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPACE_RE = re.compile(r"\s+")
_OP_RE = re.compile(r"[=!<>]+")
_WORD_RE = re.compile(r"[^\s=!<>(),'\"`]+")
_QUOTES = "'\"`"

# --------------------------------------------------------------------------- tokens


# NamedTuples rather than frozen dataclasses: a new process makes them ~5x faster (3 ms, #16).
class _Source(NamedTuple):
    """The text being parsed, and what to call it in error messages."""

    text: str
    label: str  # "filter" or "order_by item"

    def error(self, detail: str) -> FilterSyntaxError:
        """A ``FilterSyntaxError`` quoting the whole text."""
        return FilterSyntaxError(f"Invalid {self.label} {self.text!r}: {detail}")


class _Token(NamedTuple):
    """One lexical token: ``kind`` is word/string/backtick/op/(/)/,/end."""

    kind: str
    text: str  # exactly as written
    value: str  # decoded content for quoted tokens, else the text
    pos: int
    end: int


def _tokenize(src: _Source) -> list[_Token]:
    """Split ``src.text`` into tokens, ending with an ``end`` token."""
    text, pos, tokens = src.text, 0, []
    while pos < len(text):
        space = _SPACE_RE.match(text, pos)
        if space:
            pos = space.end()
            continue
        char = text[pos]
        if char in _QUOTES:
            token = _read_quoted(src, pos)
        elif char in "(),":
            token = _Token(char, char, char, pos, pos + 1)
        else:
            match = _OP_RE.match(text, pos) or _WORD_RE.match(text, pos)
            if match is None:  # pragma: no cover - every character is covered above
                raise src.error(f"unexpected character {char!r} at position {pos}")
            kind = "op" if char in "=!<>" else "word"
            token = _Token(kind, match.group(), match.group(), pos, match.end())
        tokens.append(token)
        pos = token.end
    tokens.append(_Token("end", "", "", len(text), len(text)))
    return tokens


def _read_quoted(src: _Source, start: int) -> _Token:
    """Read a '...', "..." or `...` token; ``\\<quote>``, ``\\\\`` and doubled quotes escape."""
    text, quote = src.text, src.text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        nxt = text[pos + 1] if pos + 1 < len(text) else ""
        if char == "\\" and nxt and nxt in "\\'\"`":
            chars.append(nxt)
            pos += 2
        elif char == quote and nxt == quote:
            chars.append(quote)
            pos += 2
        elif char == quote:
            kind = "backtick" if quote == "`" else "string"
            return _Token(kind, text[start : pos + 1], "".join(chars), start, pos + 1)
        else:
            chars.append(char)
            pos += 1
    raise src.error(f"unterminated quoted text starting at position {start}")


# --------------------------------------------------------------------------- AST


class Field(NamedTuple):
    """What a comparison or sort looks at: a metric, param, tag or ``runs`` column."""

    kind: str  # "metric" | "param" | "tag" | "attribute"
    key: str  # metric/param/tag key, or the runs column for attributes
    name: str  # as the user wrote it (for messages)
    numeric: bool

    def describe(self) -> str:
        """E.g. ``metric 'rmse'`` or ``attribute 'status'``."""
        return f"{self.kind} {self.name!r}"


class Compare(NamedTuple):
    """``field op value``; value is a str, a number, a tuple of str (IN) or None (IS NULL)."""

    field: Field
    op: str
    value: str | float | int | tuple[str, ...] | None


class BoolOp(NamedTuple):
    """``AND`` / ``OR`` of two or more sub-expressions."""

    op: str
    items: tuple[Node, ...]


Node = Union[Compare, BoolOp]  # noqa: UP007 - runtime alias, must work on Python 3.10


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive-descent parser over the tokens of one filter or order_by item."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        self.tokens = _tokenize(src)
        self.index = 0
        self.depth = 0

    # -- token helpers

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def next(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.upper() in words

    def describe(self, token: _Token) -> str:
        if token.kind == "end":
            return f"end of {self.src.label}"
        return f"token {token.text!r}"

    def error(self, token: _Token, detail: str) -> FilterSyntaxError:
        """An error about ``token``: ``<detail>; got <token> at position <n>``."""
        return self.src.error(f"{detail}; got {self.describe(token)} at position {token.pos}")

    def fail(self, token: _Token, expected: str) -> NoReturn:
        raise self.src.error(
            f"unexpected {self.describe(token)} at position {token.pos}; expected {expected}"
        )

    # -- expressions

    def parse_filter(self) -> Node:
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            self.fail(token, "AND, OR or the end of the filter")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.at_keyword("OR"):
            self.next()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_primary()]
        while self.at_keyword("AND"):
            self.next()
            items.append(self.parse_primary())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def parse_primary(self) -> Node:
        token = self.peek()
        if token.kind != "(":
            return self.parse_comparison()
        if self.depth >= _MAX_DEPTH:
            raise self.error(token, f"parentheses nested deeper than {_MAX_DEPTH} levels")
        self.next()
        self.depth += 1
        node = self.parse_or()
        self.depth -= 1
        close = self.next()
        if close.kind != ")":
            self.fail(close, "')', AND or OR")
        return node

    # -- comparisons

    def parse_comparison(self) -> Compare:
        field = self.parse_field()
        op = self.parse_operator(field)
        if op in _NULL_OPS:
            return Compare(field, op, None)
        if op in ("IN", "NOT IN"):
            return Compare(field, op, self.parse_list(field))
        return Compare(field, op, self.parse_value(field))

    def parse_field(self) -> Field:
        """``prefix.key``, ``prefix.`quoted key```, or a bare attribute name."""
        token = self.next()
        if token.kind != "word" or token.text.upper() in _KEYWORDS:
            self.fail(
                token,
                "an identifier such as metrics.<key>, params.<key>, tags.<key> "
                "or an attribute like status",
            )
        prefix, dot, key = token.text.partition(".")
        if not dot:
            return self.attribute(token, token.text)
        kind = _PREFIXES.get(prefix)
        if kind is None:
            raise self.error(
                token,
                f"unknown entity type {prefix!r}; expected one of "
                "metrics., params., tags. or attributes. (or their aliases "
                f"{', '.join(sorted(_PREFIXES))})",
            )
        key_token = token
        if not key:
            key_token = self.next()
            if key_token.kind not in ("string", "backtick") or key_token.pos != token.end:
                self.fail(key_token, f"a key right after {token.text!r}")
            key = key_token.value
        if not key:
            raise self.error(key_token, "empty key")
        if kind == "attribute":
            return self.attribute(key_token, key)
        return Field(kind, key, key, numeric=kind == "metric")

    def attribute(self, token: _Token, name: str) -> Field:
        if name in _NUMERIC_ATTRIBUTES:
            return Field("attribute", _NUMERIC_ATTRIBUTES[name], name, numeric=True)
        if name in _STRING_ATTRIBUTES:
            return Field("attribute", _STRING_ATTRIBUTES[name], name, numeric=False)
        raise self.error(
            token,
            f"unknown attribute {name!r}; allowed attributes are "
            f"{', '.join(_ATTRIBUTE_NAMES)} (use metrics.<key>, params.<key> or "
            "tags.<key> for logged data)",
        )

    def parse_operator(self, field: Field) -> str:
        allowed = _NUMERIC_OPS if field.numeric else _STRING_OPS
        token = self.next()
        word = token.text.upper() if token.kind == "word" else ""
        if token.kind == "op" and token.text in _COMPARISON_OPS:
            op = token.text
        elif word in ("LIKE", "ILIKE", "IN"):
            op = word
        elif word == "NOT":
            if not self.at_keyword("IN"):
                self.fail(self.peek(), "IN after NOT")
            self.next()
            op = "NOT IN"
        elif word == "IS":
            op = self.parse_is_null()
        else:
            self.fail(token, "one of " + " ".join(allowed))
        if op not in allowed:
            kinds = "metrics and start_time/end_time"
            if not field.numeric:
                kinds = "params, tags and string attributes"
            raise self.error(
                token,
                f"operator {op} cannot be used with {field.describe()}: "
                f"{kinds} support only {' '.join(allowed)}",
            )
        return op

    def parse_is_null(self) -> str:
        """The rest of ``IS [NOT] NULL`` (``IS`` already consumed)."""
        negate = self.at_keyword("NOT")
        if negate:
            self.next()
        if not self.at_keyword("NULL"):
            self.fail(self.peek(), "NOT NULL or NULL after IS" if not negate else "NULL")
        self.next()
        return "IS NOT NULL" if negate else "IS NULL"

    def parse_value(self, field: Field) -> str | float | int:
        token = self.next()
        if field.numeric:
            if token.kind == "word" and _NUMBER_RE.fullmatch(token.text):
                return _number(token.text, integral=field.kind == "attribute")
            raise self.error(
                token,
                f"{field.describe()} can only be compared with a number (e.g. 3, -0.5, 1e-4)",
            )
        if token.kind == "string":
            return token.value
        raise self.error(
            token,
            f"{field.describe()} can only be compared with a quoted string "
            "(e.g. 'value' or \"value\")",
        )

    def parse_list(self, field: Field) -> tuple[str, ...]:
        opening = self.next()
        if opening.kind != "(":
            self.fail(opening, "'(' starting a list of quoted strings, e.g. ('a', 'b')")
        values: list[str] = []
        while True:
            token = self.next()
            if token.kind != "string":
                self.fail(token, f"a quoted string in the list for {field.describe()}")
            values.append(token.value)
            separator = self.next()
            if separator.kind == ")":
                return tuple(values)
            if separator.kind != ",":
                self.fail(separator, "',' or ')'")

    # -- order_by

    def parse_order_item(self) -> tuple[Field, bool]:
        """``field [ASC|DESC]`` -> (field, ascending)."""
        field = self.parse_field()
        ascending = True
        if self.at_keyword("ASC", "DESC"):
            ascending = self.next().text.upper() == "ASC"
        token = self.peek()
        if token.kind != "end":
            self.fail(token, "ASC, DESC or the end of the item")
        return field, ascending


def _number(text: str, integral: bool) -> float | int:
    """The number written as ``text``; an int for integral attribute values that fit BIGINT."""
    if integral and not any(char in text for char in ".eE"):
        value = int(text)
        if -_INT64_MAX <= value <= _INT64_MAX:
            return value
    return float(text)


# --------------------------------------------------------------------------- compiler


def _predicate(column: str, op: str, value: Any, nan_guard: bool) -> tuple[str, list[Any]]:
    """``column op ?``; NaN (which DuckDB sorts above everything) only satisfies ``!=``."""
    if op in ("IN", "NOT IN"):
        return f"{column} {op} ({', '.join('?' * len(value))})", list(value)
    if op in _NULL_OPS:
        return f"{column} {op}", []
    sql = f"{column} {op} ?"
    if nan_guard and op != "!=":
        sql += f" AND NOT isnan({column})"
    return sql, [value]


def _compile_compare(node: Compare) -> tuple[str, list[Any]]:
    """One comparison: a column test for attributes, an EXISTS subquery otherwise."""
    field = node.field
    if field.kind == "attribute":
        return _predicate(f"r.{field.key}", node.op, node.value, nan_guard=False)
    table, alias = _TABLES[field.kind]
    rows = f"SELECT 1 FROM {table} {alias} WHERE {alias}.run_id = r.run_id AND {alias}.key = ?"
    if node.op == "IS NULL":
        return f"NOT EXISTS ({rows})", [field.key]
    if node.op == "IS NOT NULL":
        return f"EXISTS ({rows})", [field.key]
    condition, params = _predicate(
        f"{alias}.value", node.op, node.value, nan_guard=field.kind == "metric"
    )
    return f"EXISTS ({rows} AND {condition})", [field.key, *params]


def _compile_node(node: Node) -> tuple[str, list[Any]]:
    """SQL and params for a whole (sub)tree, parameters in textual order."""
    if isinstance(node, Compare):
        return _compile_compare(node)
    parts = [_compile_node(item) for item in node.items]
    sql = f" {node.op} ".join(f"({part_sql})" for part_sql, _ in parts)
    return sql, [param for _, part_params in parts for param in part_params]


def _compile_order_item(field: Field, ascending: bool) -> tuple[list[str], list[Any]]:
    """ORDER BY items for one entry; missing values (and NaN metrics) always sort last."""
    direction = "ASC" if ascending else "DESC"
    if field.kind == "attribute":
        return [f"r.{field.key} {direction} NULLS LAST"], []
    table, alias = _TABLES[field.kind]
    value = (
        f"(SELECT {alias}.value FROM {table} {alias} "
        f"WHERE {alias}.run_id = r.run_id AND {alias}.key = ?)"
    )
    if field.kind == "metric":  # first "is it NaN or missing", then the value itself
        nan_last = f"coalesce(isnan({value}), TRUE)"
        return [nan_last, f"{value} {direction} NULLS LAST"], [field.key, field.key]
    return [f"{value} {direction} NULLS LAST"], [field.key]


# --------------------------------------------------------------------------- public API


def parse_filter(filter_string: str | None) -> Node | None:
    """The syntax tree of an MLflow ``search_runs`` filter (None: match every run).

    ``None`` or a blank string gives None. Raises :class:`FilterSyntaxError` for anything
    malformed. ``compile_filter`` turns the tree into SQL; ``tracker.query.express``
    evaluates it over an Arrow table.
    """
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise FilterSyntaxError(f"A filter must be a string, got {type(filter_string).__name__}")
    if not filter_string.strip():
        return None
    return _Parser(_Source(filter_string, "filter")).parse_filter()


def parse_order_by(order_by: list[str] | None) -> list[tuple[Field, bool]]:
    """The (field, ascending) pairs of MLflow ``order_by`` entries (``"metrics.rmse DESC"``...).

    ``None``/``[]`` gives ``[]``. Raises :class:`FilterSyntaxError` for anything malformed.
    """
    if not order_by:
        return []
    if isinstance(order_by, str):
        raise FilterSyntaxError(
            f"order_by must be a list of strings, got the string {order_by!r}; "
            f"did you mean [{order_by!r}]?"
        )
    items = []
    for entry in order_by:
        if not isinstance(entry, str):
            raise FilterSyntaxError(
                f"Invalid order_by item {entry!r}: expected a string such as 'metrics.rmse DESC'"
            )
        items.append(_Parser(_Source(entry, "order_by item")).parse_order_item())
    return items


def compile_filter(filter_string: str | None) -> tuple[str, list[Any]]:
    """Compile an MLflow ``search_runs`` filter to ``(SQL boolean expression, params)``.

    The expression refers to the outer ``runs r`` row and uses only positional ``?``
    placeholders, whose values are returned in textual order. ``None`` or a blank string
    gives ``("TRUE", [])``. Raises :class:`FilterSyntaxError` for anything malformed.
    """
    tree = parse_filter(filter_string)
    return ("TRUE", []) if tree is None else _compile_node(tree)


def compile_order_by(order_by: list[str] | None) -> tuple[list[str], list[Any]]:
    """Compile MLflow ``order_by`` entries (``"metrics.rmse DESC"``...) to ORDER BY items.

    Returns ``(SQL ORDER BY items, params)``; several items may come from one entry. Missing
    values and NaN metrics sort last in both directions. ``None``/``[]`` gives ``([], [])``.
    """
    items: list[str] = []
    params: list[Any] = []
    for field, ascending in parse_order_by(order_by):
        entry_items, entry_params = _compile_order_item(field, ascending)
        items.extend(entry_items)
        params.extend(entry_params)
    return items, params
