"""Jinja environment, filters and globals of the site (every filter is unit-tested).

Templates get one page model as ``page`` plus ``TEMPLATE_BASE_CONTEXT``. Autoescaping is on and
undefined names are errors. A user's template folder overrides any default template by name,
and ``{% extends "default:base.html" %}`` reaches the default one.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from markupsafe import Markup

from tracker.site.urls import relative

SIGNIFICANT_DIGITS = 4  # of a metric on a page (the full value is in its title and downloads)
_FLOAT_TEXT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][-+]?\d+)$")

if TYPE_CHECKING:
    import jinja2

    from tracker.site.pages import Link, Page
    from tracker.site.pages.leaderboard import Column, Row

# Names every template may use besides ``page`` (written down in one place).
TEMPLATE_BASE_CONTEXT = {
    "site_title": "Site title from the build options.",
    "base_url": "Absolute URL the site is published at, or '' (links stay relative).",
    "nav": "Top navigation links: (label, site path) pairs.",
    "page_path": "Site-root path of the page being rendered (for relative links).",
    "plotly_js": "Site path of the bundled plotly.js (load it only on pages with charts).",
}


class BaseContext(TypedDict):
    """What the build gives every template besides ``page`` and ``page_path`` (the same for
    every page of a build; described in ``TEMPLATE_BASE_CONTEXT``)."""

    plotly_js: str
    site_title: str
    base_url: str
    nav: list[tuple[str, str]]


def default_theme() -> Path:
    """The default theme: ``site_templates/`` of a checkout, or the copy inside the wheel."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_theme", package.parent / "site_templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError("The default site theme (site_templates/) is missing.")


def environment(user_templates: str | os.PathLike[str] | None = None) -> jinja2.Environment:
    """The Jinja environment: user templates first, then the default theme."""
    import jinja2

    default = jinja2.FileSystemLoader(str(default_theme()))
    loaders: list[jinja2.BaseLoader] = []
    if user_templates is not None:
        loaders.append(jinja2.FileSystemLoader(os.fspath(user_templates)))
    loaders.append(default)
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.PrefixLoader({"default": default}, delimiter=":"), *loaders]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # a build's templates do not change: no stat of each per page (#14)
        bytecode_cache=_bytecode_cache(),
    )
    env.filters.update(
        breakable=breakable,
        rel=rel,
        metric=format_metric,
        param=format_param,
        iso=format_iso,
        utc=format_time,
        duration=format_duration,
        filesize=format_size,
        json_data=json_data,
        markdown=markdown_html,
        short=short_id,
        chart_table=chart_table,
    )
    env.globals["runs_table_rows"] = runs_table_rows
    env.globals["page_links"] = page_links
    return env


_BREAK_AFTER = re.compile(r"([_\-./:])")


def breakable(text: Any) -> Markup:
    """``text`` escaped, with a line-break opportunity (``<wbr>``) after each ``_ - . / :``:
    a narrow column breaks a name like ``best_iteration`` between its words, not inside one
    (no entity that escaping makes holds one of those characters)."""
    from markupsafe import escape

    return Markup(_BREAK_AFTER.sub(r"\1<wbr>", str(escape(text))))


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between builds (#14: compiling them was ~0.1 s of each rebuild),
    in Jinja's own per-user folder of the system's temporary folder (owned by the user, mode
    0700; never the site's output folder, whose files a CI cache may carry from elsewhere).
    Each entry is keyed by its template's source, so an edited template is compiled again."""
    import jinja2

    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no usable temporary folder: compile every time
        return None


def render_page(env: jinja2.Environment, page: Page, base: BaseContext) -> str:
    """HTML of one page."""
    template = env.get_template(page.template)
    return template.render(page=page, page_path=page.path, **base)


# -- filters --------------------------------------------------------------------------------

_Filter = TypeVar("_Filter", bound=Callable[..., object])


def _pass_context(func: _Filter) -> _Filter:
    import jinja2

    return jinja2.pass_context(func)


@_pass_context
def rel(context: jinja2.runtime.Context, target: str) -> str:
    """A site-root path as a link relative to the page being rendered."""
    page = context["page_path"]
    key = (page[:page.rfind("/") + 1], target)  # a link depends on the page's folder only
    link = _LINKS.get(key)
    if link is None:
        link = relative(page, target)
        if len(_LINKS) < 50_000:  # the shared targets (assets, nav) come first
            _LINKS[key] = link
    return link


_LINKS: dict[tuple[str, str], str] = {}


def format_metric(value: Any) -> str:
    """A number for people: 4 significant digits (never fewer than the integer part's), integers
    with thousands separators, NaN and ±inf spelled out. Pages put the full value in a
    ``title``; CSV and JSON downloads keep every digit."""
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    if number != 0 and (abs(number) >= 1e6 or abs(number) < 1e-3):
        return f"{number:.4g}"
    if number == int(number):
        return f"{int(number):,}"
    if abs(number) < 1:
        return f"{number:.4g}"
    decimals = max(0, SIGNIFICANT_DIGITS - len(str(int(abs(number)))))
    text = f"{number:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_param(value: Any) -> str:
    """A param as written, except that a long float is shortened like a metric
    (``0.30000000000000004`` → ``0.3``); ids, words and integers are left alone."""
    text = "" if value is None else str(value)
    if len(text) <= 7 or not _FLOAT_TEXT.match(text):
        return text
    return format_metric(float(text))


def format_iso(ms: Any) -> str:
    """Milliseconds since the epoch as ISO 8601 in UTC (for ``<time datetime>``)."""
    if ms is None:
        return ""
    moment = datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).replace(microsecond=0)
    return moment.isoformat()


def format_time(ms: Any) -> str:
    """Milliseconds since the epoch as ``2026-11-27 07:03 UTC``."""
    if ms is None:
        return ""
    moment = datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def format_duration(seconds: Any) -> str:
    """Seconds as ``850 ms``, ``4.0 s``, ``2 min 3 s``, ``2 h 1 min``."""
    if seconds is None:
        return ""
    s = float(seconds)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    minutes, secs = divmod(int(round(s)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def format_size(size: Any) -> str:
    """Bytes as ``1.2 MB``."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def json_data(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` in it."""
    return script_safe(json.dumps(value, separators=(",", ":"), sort_keys=True,
                                  allow_nan=False, default=_json_default))


def script_safe(text: str) -> Markup:
    """JSON text made safe inside ``<script>`` as ``json_data`` makes it (for JSON put
    together from pieces encoded apart, #14)."""
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_BADGE_DEAD = ('<span class="badge badge-dead" title="The process logging this run died: it will '
               'never finish.">dead</span>')


def _esc(value: Any) -> str:
    """``value`` as Jinja's autoescape writes it (markupsafe's entities), as a plain str."""
    if isinstance(value, Markup):  # already HTML, as autoescape leaves it
        return str(value)
    text = value if type(value) is str else str(value)
    if not _NEEDS_ESCAPE.search(text):
        return text
    return str(Markup.escape(text))


_NEEDS_ESCAPE = re.compile(r"[&<>'\"]")


@_pass_context
def runs_table_rows(
    context: jinja2.runtime.Context, columns: Sequence[Column], rows: Sequence[Row],
    selectable: bool = True,
) -> Markup:
    """The ``<tr>`` rows of ``runs_table`` (``_macros.html``) as one string, built in Python:
    the 500 no-JS pages of a 100,000-run leaderboard spent most of their time in the Jinja loop
    over 20 cells a row (#14). Every value is escaped as autoescape would.

    Args:
        context: the template context (its ``page_path`` makes the links relative).
        columns: the table's ``Column``s.
        rows: leaderboard ``Row``s (a link without href shows its label as text).
        selectable: start each row with a checkbox cell.
    """
    page = context["page_path"]
    classes = [("num" if col.numeric else "") + ("" if col.visible else " col-hidden")
               for col in columns]
    status_at = next((i for i, col in enumerate(columns) if col.key == "attr.status"), -1)
    out: list[str] = []
    add = out.append
    for row in rows:
        run_id, label = _esc(row.run_id), _esc(row.link.label)
        parent = f' data-parent="{_esc(row.parent_id)}"' if row.parent_id else ""
        add(f'  <tr data-run="{run_id}"{parent} data-depth="{_esc(row.depth)}" '
            f'class="depth-{_esc(row.depth if row.depth < 4 else 4)}">\n')
        if selectable:
            add(f'<td class="select"><input type="checkbox" aria-label="Select {label}" '
                f'value="{run_id}"></td>')
        add(f'    <th scope="row" data-sort="{label}">')
        if row.link.href:
            add(f'<a href="{_esc(relative(page, row.link.href))}">{label}</a>')
        else:
            add(label)
        if row.sweep:
            add(f' <a class="sweep-link" href="{_esc(relative(page, row.sweep.href))}" '
                f'title="Trials of this sweep">{_esc(row.sweep.label)}</a>')
        add("</th>\n")
        for i, cell in enumerate(row.cells):
            title = f' title="{_esc(cell.full)}"' if cell.full else ""
            if cell.best:
                add(f'<td data-sort="{_esc(cell.sort)}" class="{classes[i]} best"{title}>'
                    f'{_esc(cell.text)}<span class="visually-hidden"> (best)</span></td>')
            elif i == status_at:
                status = _esc(row.status.lower())
                badge = _BADGE_DEAD if row.dead else (
                    f'<span class="badge badge-{status}">{status}</span>')
                add(f'<td data-sort="{_esc(cell.sort)}" class="{classes[i]}">{badge}</td>')
            else:
                add(f'<td data-sort="{_esc(cell.sort)}" class="{classes[i]}"{title}>'
                    f'{_esc(cell.text)}</td>')
        add("  </tr>\n")
    return Markup("".join(out))


@_pass_context
def page_links(context: jinja2.runtime.Context, pages: Sequence[Link], number: int) -> Markup:
    """``<li>`` links to every page of a paginated list (``page_nav`` in ``_macros.html``),
    page ``number`` (1-based) marked current: the 500 no-JS pages of a 100,000-run board each
    link all 500 (#14), in Python rather than a Jinja loop.

    Args:
        context: the template context (its ``page_path`` makes the links relative).
        pages: ``Link``s to the pages, in order.
        number: the current page's number.
    """
    out = []
    for index, page in enumerate(pages, 1):
        current = ' aria-current="page"' if index == number else ""
        out.append(f'<li><a{current} href="{_esc(rel(context, page.href))}">'
                   f"{_esc(page.label)}</a></li>")
    return Markup("".join(out))


def chart_table(figure: object) -> dict[str, Any]:
    """A chart's text alternative (summary, columns, rows): ``charts.figure_table`` (#18)."""
    from tracker.site.charts import figure_table

    return figure_table(figure if isinstance(figure, dict) else {})


def short_id(value: Any, length: int = 8) -> str:
    return str(value)[:length]


_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
    "span": {"class"},
    "div": {"class"},
}


def sanitize_html(html: str) -> str:
    """Allow-list HTML cleaning: no scripts, no event handlers, only http(s)/mailto/relative URLs."""
    import nh3

    return str(nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    ))


def markdown_html(text: Any) -> Markup:
    """Markdown (descriptions, notes) rendered and sanitized."""
    import markdown

    if not text:
        return Markup("")
    html = markdown.markdown(str(text), extensions=["fenced_code", "tables"])
    return Markup(sanitize_html(html))


def build_time() -> datetime:
    """The build's timestamp: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(timezone.utc).replace(microsecond=0)


def is_number(value: str) -> bool:
    """Whether ``float()`` reads ``value`` (a param shown as a number, sorted as one)."""
    try:
        float(value)
    except ValueError:
        return False
    return True
