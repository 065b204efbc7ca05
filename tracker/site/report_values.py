"""Live values in report prose (#17): ``{{ best("exp", "rmse") }}`` and friends.

Expressions are evaluated at build time by a tiny evaluator of its own (never Python ``eval``,
never Jinja over the file). The grammar is one call, optionally followed by an attribute and
a filter::

    expr   := call ["." name] ["|" name]
    call   := name "(" [arg ("," arg)*] ")"
    arg    := [name "="] (string | number)

Functions:

* ``best(experiment, metric)``: the best value of ``metric`` among the experiment's runs (by
  the metric's direction), linked to that run's page.
* ``metric(run=..., key=...)``: a run's latest value of a metric (run by name or id prefix),
  linked to the run page.
* ``model("name@alias" | "name/3" | "name")``: a version of a registered model, linked to the
  model page; ``.version`` (default), ``.stage``, ``.run_id`` or ``.metric`` (its run's
  primary metric).
* ``runs(experiment, filter="...")``: the runs of a filter (``tracker.search_runs`` grammar),
  with ``| count`` their number, linked to the experiment's leaderboard.

Numbers are formatted with ``render.format_metric`` (the full value is the link's ``title``).
An unknown function, run, model or key raises ``ReportError`` naming file:line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from tracker.site.report_blocks import Context, find_run, find_version, run_set

if TYPE_CHECKING:
    from tracker.site.data import SiteData

FUNCTIONS = ("best", "metric", "model", "runs")
MODEL_FIELDS = ("version", "stage", "run_id", "metric")
FILTERS = ("count",)
EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_CODE_OR_EXPR = re.compile(r"(`+)(?:.*?)\1|\{\{(.*?)\}\}", re.DOTALL)
_TOKEN = re.compile(r"""\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>[(),=.|]))""")


@dataclass(frozen=True)
class Value:
    """An evaluated expression: the text shown, the site path it links to, the full value."""

    text: str
    href: str = ""
    title: str = ""


@dataclass(frozen=True)
class _Call:
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    attribute: str
    filter: str


def parse(text: str, ctx: Context) -> _Call:
    """The call of an expression (``ctx`` names file:line in errors)."""
    tokens: list[tuple[str, Any]] = []
    position = 0
    source = text.strip()
    while position < len(source):
        match = _TOKEN.match(source, position)
        if not match or match.end() == position:
            raise ctx.error("expression", f"cannot read {source!r} at "
                            f"{source[position:position + 10]!r}.", _grammar())
        position = match.end()
        if match["name"]:
            tokens.append(("name", match["name"]))
        elif match["string"]:
            tokens.append(("value", _unescape(match["string"][1:-1])))
        elif match["number"]:
            number = float(match["number"])
            tokens.append(("value", int(number) if number.is_integer() else number))
        elif match["op"]:
            tokens.append(("op", match["op"]))
    pos = 0

    def take(kind: str, value: str | None = None) -> Any:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos][0] != kind or (value and tokens[pos][1] != value):
            raise ctx.error("expression", f"{source!r} is not a call like "
                            "best(\"experiment\", \"metric\").", _grammar())
        pos += 1
        return tokens[pos - 1][1]

    function = take("name")
    if function not in FUNCTIONS:
        raise ctx.error("expression", f"unknown function {function!r}.", FUNCTIONS)
    take("op", "(")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    while pos < len(tokens) and tokens[pos] != ("op", ")"):
        if tokens[pos][0] == "name" and pos + 1 < len(tokens) and tokens[pos + 1] == ("op", "="):
            key = take("name")
            take("op", "=")
            kwargs[key] = take("value")
        else:
            if kwargs:
                raise ctx.error("expression", "a positional argument after a named one.")
            args.append(take("value"))
        if pos < len(tokens) and tokens[pos] == ("op", ","):
            pos += 1
    take("op", ")")
    attribute = filter_name = ""
    if pos < len(tokens) and tokens[pos] == ("op", "."):
        pos += 1
        attribute = take("name")
    if pos < len(tokens) and tokens[pos] == ("op", "|"):
        pos += 1
        filter_name = take("name")
    if pos != len(tokens):
        raise ctx.error("expression", f"unexpected text after the call in {source!r}.",
                        _grammar())
    return _Call(function, tuple(args), kwargs, attribute, filter_name)


def _grammar() -> str:
    return ('best("experiment", "metric"), metric(run="name", key="rmse"), '
            'model("name@alias").version|.stage|.run_id|.metric, '
            'runs("experiment", filter="...") | count')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _arguments(call: _Call, names: tuple[str, ...], ctx: Context) -> dict[str, Any]:
    """Positional and named arguments of ``call`` by name; every one of ``names`` required
    except ``filter``."""
    if len(call.args) > len(names):
        raise ctx.error(call.function, f"takes at most {len(names)} arguments.", names)
    out = dict(zip(names, call.args))
    for key, value in call.kwargs.items():
        if key not in names:
            raise ctx.error(call.function, f"unknown argument {key!r}.", names)
        out[key] = value
    for name in names:
        if name not in out and name != "filter":
            raise ctx.error(call.function, f"missing argument {name!r}.", names)
    return {k: str(v) if isinstance(v, str) else v for k, v in out.items()}


def evaluate(site: SiteData, text: str, ctx: Context) -> Value:
    """The value of one ``{{ ... }}`` expression (its inside, without the braces)."""
    from tracker.site.render import format_metric, format_param

    call = parse(text, ctx)
    if call.function != "model" and call.attribute:
        raise ctx.error(call.function, f"{call.function}() has no attribute "
                        f"{call.attribute!r}.")
    if call.filter and (call.function != "runs" or call.filter not in FILTERS):
        raise ctx.error(call.function, f"unknown filter {call.filter!r} here.",
                        ["runs(...) | count"])
    if call.function == "best":
        args = _arguments(call, ("experiment", "metric"), ctx)
        metric = str(args["metric"]).removeprefix("metrics.")
        direction = site.direction(metric)
        if not direction:
            raise ctx.error("metric", f"{metric!r} has no direction (neither lower nor higher "
                            "is better); set one in the [metrics] configuration.")
        order = f"metrics.`{metric}` {'ASC' if direction == 'min' else 'DESC'}"
        options = {"experiment": args["experiment"], "order_by": [order]}
        _, runs = run_set(site, options, ctx, 0)
        for run in runs:  # search_runs order: the best first (runs without it last)
            value = site.metrics.get(run["run_id"], {}).get(metric)
            if value is not None and value == value:
                return _number(value, site.urls.run(run["run_id"]), format_metric)
        raise ctx.error("metric", f"no run of {args['experiment']!r} logged {metric!r}.",
                        _metric_keys(site, ctx, options))
    if call.function == "metric":
        args = _arguments(call, ("run", "key"), ctx)
        run = find_run(site, str(args["run"]), ctx, "run")
        key = str(args["key"]).removeprefix("metrics.")
        metrics = site.metrics.get(run["run_id"], {})
        if key not in metrics:
            raise ctx.error("key", f"run {args['run']!r} has no metric {key!r}.",
                            sorted(metrics) or "none logged")
        return _number(metrics[key], site.urls.run(run["run_id"]), format_metric)
    if call.function == "model":
        args = _arguments(call, ("name",), ctx)
        state, version = find_version(site, str(args["name"]), ctx, "model")
        href = site.urls.model(state.model.name)
        field = call.attribute or "version"
        if field not in MODEL_FIELDS:
            raise ctx.error("model", f"unknown attribute {field!r}.", MODEL_FIELDS)
        if field == "version":
            return Value(str(version.version), href, f"{state.model.name} v{version.version}")
        if field == "stage":
            return Value(version.current_stage, href)
        if field == "run_id":
            return Value((version.run_id or "")[:8], href, version.run_id or "")
        source = site.runs_by_id.get(version.run_id or "")
        metric = site.primary_metric(source["experiment_id"]) if source else ""
        value = site.metrics.get(source["run_id"], {}).get(metric) if source and metric else None
        if value is None:
            raise ctx.error("model", f"the run of {args['name']!r} has no primary metric "
                            "value in this site.")
        return _number(value, href, format_metric)
    args = _arguments(call, ("experiment", "filter"), ctx)
    options = {"experiment": args["experiment"], "filter": args.get("filter")}
    eid, runs = run_set(site, options, ctx, 0)
    if call.filter == "count":
        return Value(f"{len(runs):,}", site.urls.experiment(eid), str(len(runs)))
    names = ", ".join(format_param(r["run_name"] or r["run_id"][:8]) for r in runs[:10])
    return Value(names + (" …" if len(runs) > 10 else ""), site.urls.experiment(eid))


def _metric_keys(site: SiteData, ctx: Context, options: dict[str, Any]) -> list[str]:
    from tracker.site.report_blocks import experiment_id

    eid = experiment_id(site, options, ctx)
    return sorted({k for r in site.runs_by_experiment.get(eid, [])
                   for k in site.metrics.get(r["run_id"], {})})


def _number(value: float, href: str, formatter: Callable[[float], str]) -> Value:
    text = formatter(value)
    return Value(text, href, repr(value) if text != repr(value) else "")


def expression_lines(text: str, first_line: int = 0) -> list[tuple[str, int]]:
    """Every ``{{ ... }}`` outside code (fences and `spans`) of a report body, with its line."""
    out = []
    in_fence = ""
    for number, line in enumerate(text.split("\n"), first_line + 1):
        stripped = line.strip()
        if in_fence:
            if stripped.startswith(in_fence) and set(stripped) == {in_fence[0]}:
                in_fence = ""
            continue
        fence = re.match(r"^(`{3,}|~{3,})", stripped)
        if fence:
            in_fence = fence.group(1)
            continue
        for match in _CODE_OR_EXPR.finditer(line):
            if match.group(2) is not None:
                out.append((match.group(2), number))
    return out


def substitute(markdown: str, token: str) -> tuple[str, list[str]]:
    """Replace each ``{{ ... }}`` outside code spans by a placeholder ``<token>V<n>E``;
    return the new text and the expressions in order."""
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(2) is None:
            return match.group(0)
        found.append(match.group(2))
        return f"{token}V{len(found) - 1}E"

    out, in_fence = [], ""
    for line in markdown.split("\n"):
        stripped = line.strip()
        if in_fence:
            if stripped.startswith(in_fence) and set(stripped) == {in_fence[0]}:
                in_fence = ""
            out.append(line)
            continue
        fence = re.match(r"^(`{3,}|~{3,})", stripped)
        if fence:
            in_fence = fence.group(1)
            out.append(line)
            continue
        out.append(_CODE_OR_EXPR.sub(replace, line))
    return "\n".join(out), found


def value_html(value: Value, page_path: str) -> Markup:
    """A value as a link (relative to ``page_path``) with its full value as the title."""
    from tracker.site.urls import relative

    title = Markup(' title="{}"').format(value.title) if value.title else Markup("")
    if value.href:
        return Markup('<a class="live-value" href="{}"{}>{}</a>').format(
            relative(page_path, value.href), title, value.text)
    return Markup('<span class="live-value"{}>{}</span>').format(title, value.text)


def error_html(message: str) -> Markup:
    return Markup('<span class="live-value-error" role="alert">{}</span>').format(
        escape(message))
