"""Unit tests of ``tracker/site/render.py``: every filter, the environment, the theme lookup.

Naming contract: a test of the filter ``x`` is called ``test_filter_x`` or ``test_filter_x_…``;
``test_every_filter_has_a_test`` fails when a filter is added to the environment without one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from tests.conftest import write_files
from tracker.site import render
from tracker.site.pages import Link, Page


def _env(templates: Path | None = None) -> jinja2.Environment:
    return render.environment(templates)


def _render(source: str, page_path: str = "index.html", **context: Any) -> str:
    return _env().from_string(source).render(page_path=page_path, **context)


def test_every_filter_has_a_test() -> None:
    ours = set(_env().filters) - set(jinja2.Environment().filters)
    tested = {name[len("test_filter_"):] for name in globals() if name.startswith("test_filter_")}
    missing = {f for f in ours if not any(t == f or t.startswith(f + "_") for t in tested)}
    assert not missing, f"filters without a test_filter_<name> test: {sorted(missing)}"
    assert {"rel", "metric", "utc", "duration", "filesize", "json_data", "markdown", "short"} <= ours


# -- rel ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_path", "target", "expected"),
    [
        ("index.html", "runs/abc.html", "runs/abc.html"),
        ("index.html", "index.html", "index.html"),
        ("runs/abc.html", "index.html", "../index.html"),
        ("runs/abc.html", "runs/def.html", "def.html"),
        ("runs/abc.html", "runs/abc.html", "abc.html"),
        ("models/m/v1.html", "assets/site.css", "../../assets/site.css"),
        ("models/m/v1.html", "models/m.html", "../m.html"),
        ("experiments/x.html", "experiments/x.html#runs", "x.html#runs"),
        ("runs/abc.html", "runs/abc/artifacts/a b/c.txt", "abc/artifacts/a b/c.txt"),
        ("runs/abc.html", "#top", "#top"),
        ("runs/abc.html", "https://github.com/o/r/commit/1234", "https://github.com/o/r/commit/1234"),
        ("runs/abc.html", "mailto:a@example.com", "mailto:a@example.com"),
    ],
)
def test_filter_rel(page_path: str, target: str, expected: str) -> None:
    assert _render("{{ t | rel }}", page_path=page_path, t=target) == expected


def test_filter_rel_escapes_in_attributes() -> None:
    html = _render('<a href="{{ t | rel }}">', page_path="index.html", t='runs/"x<y>.html')
    assert html == '<a href="runs/&#34;x&lt;y&gt;.html">'


# -- metric ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (0, "0"),
        (2.0, "2"),
        (-7, "-7"),
        (1.5, "1.5"),
        (-3.25, "-3.25"),
        (0.1234567, "0.1235"),
        (0.001, "0.001"),
        (0.0001, "0.0001"),
        (1.23e-7, "1.23e-07"),
        (12.3456789, "12.35"),
        (5.27294, "5.273"),
        (999.96, "1,000"),
        (1234.0, "1,234"),
        (12345.678, "12,346"),
        (1e6, "1e+06"),
        (2.5e9, "2.5e+09"),
        (float("nan"), "NaN"),
        (float("inf"), "∞"),
        (float("-inf"), "-∞"),
        ("n/a", "n/a"),
    ],
)
def test_filter_metric(value: Any, expected: str) -> None:
    assert render.format_metric(value) == expected
    assert _render("{{ v | metric }}", v=value) == expected


# -- utc ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (None, ""),
        (0, "1970-01-01 00:00 UTC"),
        (1_700_000_000_123, "2023-11-14 22:13 UTC"),
        (1_700_000_000_123.9, "2023-11-14 22:13 UTC"),
        ("1700000000000", "2023-11-14 22:13 UTC"),
    ],
)
def test_filter_utc(ms: Any, expected: str) -> None:
    assert render.format_time(ms) == expected
    assert _render("{{ v | utc }}", v=ms) == expected


def test_filter_utc_ignores_the_local_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert render.format_time(0) == "1970-01-01 00:00 UTC"
    finally:
        monkeypatch.undo()
        time.tzset()


# -- duration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, ""),
        (0, "0 ms"),
        (0.85, "850 ms"),
        (1, "1.0 s"),
        (59.94, "59.9 s"),
        (60, "1 min 0 s"),
        (65, "1 min 5 s"),
        (123, "2 min 3 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h 0 min"),
        (7260, "2 h 1 min"),
        (90061, "25 h 1 min"),
        ("5", "5.0 s"),
    ],
)
def test_filter_duration(seconds: Any, expected: str) -> None:
    assert render.format_duration(seconds) == expected
    assert _render("{{ v | duration }}", v=seconds) == expected


# -- filesize -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (None, ""),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (1536, "1.5 KB"),
        (1_000_000, "976.6 KB"),
        (5 * 1024**2, "5.0 MB"),
        (1024**3, "1.0 GB"),
        (10 * 1024**4, "10240.0 GB"),
    ],
)
def test_filter_filesize(size: Any, expected: str) -> None:
    assert render.format_size(size) == expected
    assert _render("{{ v | filesize }}", v=size) == expected


# -- json_data ------------------------------------------------------------------------------


def test_filter_json_data_is_safe_inside_a_script_element() -> None:
    value = {"b": "</script><script>alert(1)</script>", "a": "&amp; <!-- \u2028\u2029 é"}
    html = _render('<script type="application/json">{{ v | json_data }}</script>', v=value)
    body = html[len('<script type="application/json">'):-len("</script>")]
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in body
    assert json.loads(body) == value
    assert body.index('"a"') < body.index('"b"')  # sorted keys: deterministic output


def test_filter_json_data_is_compact_and_not_escaped_again() -> None:
    result = render.json_data({"x": [1, 2.5, None], "s": 'say "hi"'})
    assert isinstance(result, Markup)
    assert str(result) == '{"s":"say \\"hi\\"","x":[1,2.5,null]}'
    assert _render("{{ v | json_data }}", v={"s": '"'}) == '{"s":"\\""}'


def test_filter_json_data_converts_arrays_and_refuses_nan() -> None:
    class Array:
        def tolist(self) -> list[int]:
            return [1, 2]

    assert str(render.json_data({"v": Array()})) == '{"v":[1,2]}'
    with pytest.raises(ValueError):
        render.json_data({"v": math.nan})
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        render.json_data({"v": object()})


# -- markdown -------------------------------------------------------------------------------


def test_filter_markdown_renders_markdown() -> None:
    html = str(render.markdown_html(
        "# Title\n\nSome **bold** and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "```python\nx = 1 < 2\n```\n\n[docs](https://example.com/x)"
    ))
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "x = 1 &lt; 2" in html
    assert '<a href="https://example.com/x" rel="noopener noreferrer">docs</a>' in html


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '"><svg onload=alert(1)>',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        "<iframe src=https://example.com></iframe>",
        '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<object data=x></object><embed src=x><form action=x><input></form>",
        "<details open ontoggle=alert(1)>x</details>",
    ],
)
def test_filter_markdown_sanitizes(payload: str) -> None:
    html = str(render.markdown_html(f"text {payload} more")).lower()
    for bad in ("<script", "onerror", "onload", "onclick", "ontoggle", "javascript:", "<iframe",
                "<svg", "data:text", "<object", "<embed", "<form", "<input", "style="):
        assert bad not in html, (payload, html)
    assert "text" in html and "more" in html


def test_filter_markdown_empty_and_non_text() -> None:
    assert render.markdown_html(None) == Markup("")
    assert render.markdown_html("") == Markup("")
    assert str(render.markdown_html(42)) == "<p>42</p>"
    assert _render("{{ v | markdown }}", v="*x*") == "<p><em>x</em></p>"


def test_sanitize_html_keeps_the_allowed_subset() -> None:
    html = render.sanitize_html(
        '<p class="x">a <span class="k">b</span> <img src="plot.png" alt="p" width="10"></p>'
        '<a href="mailto:a@example.com">m</a><a href="reports/x.html">r</a>'
    )
    assert '<span class="k">b</span>' in html
    assert '<img src="plot.png" alt="p" width="10">' in html
    assert 'href="mailto:a@example.com"' in html
    assert 'href="reports/x.html"' in html
    assert '<p class="x">' not in html  # only the listed attributes survive


# -- chart_table ----------------------------------------------------------------------------


def test_filter_chart_table() -> None:
    """A chart's text alternative (#18): summary, axis-titled columns, one row per point."""
    figure = {
        "data": [
            {"type": "scatter", "name": "trials", "x": [0, 1], "y": [4.5, float("nan")],
             "text": ["trial-0", "trial-1"]},
            {"type": "scatter", "name": "best so far", "x": [0, 1], "y": [4.5, 4.5]},
            {"type": "heatmap", "z": [[1, 2], [3, 4]]},
        ],
        "layout": {"title": {"text": "rmse by trial"}, "xaxis": {"title": {"text": "trial"}},
                   "yaxis": {"title": {"text": "rmse"}}},
    }
    table = render.chart_table(figure)
    assert table["summary"] == ("rmse by trial: 4 points in 3 series "
                                "(trials, best so far, series 3).")
    assert table["columns"] == ["series", "point", "trial", "rmse"]
    assert table["rows"] == [("trials", "trial-0", "0", "4.5"), ("trials", "trial-1", "1", "—"),
                             ("best so far", "", "0", "4.5"), ("best so far", "", "1", "4.5")]
    assert table["more"] == 0
    pie = render.chart_table({"data": [{"type": "pie", "labels": ["a"], "values": [3]}]})
    assert pie["columns"] == ["series", "x", "y"] and pie["rows"] == [("series 1", "a", "3")]
    big = {"data": [{"x": list(range(600)), "y": list(range(600))}], "layout": {}}
    assert len(render.chart_table(big)["rows"]) == 500 and render.chart_table(big)["more"] == 100
    assert render.chart_table(None)["rows"] == []
    html = _env().from_string("{{ f | chart_table | tojson }}").render(f=figure)
    assert "<" not in html  # autoescaped like any other value


# -- short ----------------------------------------------------------------------------------


def test_filter_short() -> None:
    assert render.short_id("0123456789abcdef") == "01234567"
    assert render.short_id("abc") == "abc"
    assert render.short_id(1234567890, 4) == "1234"
    assert _render("{{ v | short }} {{ v | short(3) }}", v="abcdefghij") == "abcdefgh abc"


# -- breakable ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("best_iteration", "best_<wbr>iteration"),
        ("validation-rmse", "validation-<wbr>rmse"),
        ("mlflow.source.git.commit", "mlflow.<wbr>source.<wbr>git.<wbr>commit"),
        ("s3://b/k", "s3:<wbr>/<wbr>/<wbr>b/<wbr>k"),
        ("loss", "loss"),
        ("", ""),
        # Markup in a name is text; no entity escaping makes holds a character broken after.
        ("<script>_x</script>", "&lt;script&gt;_<wbr>x&lt;/<wbr>script&gt;"),
        ("a&b's \"c\"", "a&amp;b&#39;s &#34;c&#34;"),
    ],
)
def test_filter_breakable(text: str, expected: str) -> None:
    assert render.breakable(text) == expected
    assert _render("{{ v | breakable }}", v=text) == expected


# -- the environment and the theme ----------------------------------------------------------


def test_environment_autoescapes_and_is_strict() -> None:
    assert _render("{{ v }}", v="<b>&") == "&lt;b&gt;&amp;"
    with pytest.raises(jinja2.UndefinedError):
        _render("{{ missing }}")
    with pytest.raises(jinja2.UndefinedError):
        _render("{{ v.nope }}", v=Link("a", "b.html"))


def test_default_theme_has_the_base_template_and_assets() -> None:
    theme = render.default_theme()
    assert (theme / "base.html").is_file()
    assert (theme / "_macros.html").is_file()
    assert (theme / "assets" / "site.js").is_file()
    assert (theme / "assets" / "site.css").is_file()


def test_user_templates_override_by_name_and_extend_the_default(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "base.html": '{% extends "default:base.html" %}'
                     "{% block content %}<p id=custom>custom {{ page.title }}</p>{% endblock %}",
    })
    env = _env(tmp_path)
    page = Page(path="runs/x.html", title="T<1>", breadcrumbs=(Link("Home", "index.html"),))
    base = {"site_title": "S", "base_url": "",
            "nav": [("Experiments", "index.html")], "plotly_js": "assets/vendor/plotly.min.js"}
    html = render.render_page(env, page, base)
    assert "<p id=custom>custom T&lt;1&gt;</p>" in html
    assert 'href="../assets/site.css"' in html  # the default base's links, made relative
    assert "<title>T&lt;1&gt; · S</title>" in html


def test_template_base_context_documents_the_base_names() -> None:
    names = {"site_title", "base_url", "nav", "page_path", "plotly_js"}
    assert names <= set(render.TEMPLATE_BASE_CONTEXT)
    assert all(isinstance(v, str) and v for v in render.TEMPLATE_BASE_CONTEXT.values())


def test_build_time_uses_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert render.build_time().isoformat() == "2023-11-14T22:13:20+00:00"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    now = render.build_time()
    assert now.tzinfo is not None and now.microsecond == 0


_SEGMENTS = st.sampled_from(["a", "b", "runs", "x.html", ".", "..", "experiments", "index.html"])


@given(target=st.lists(_SEGMENTS, min_size=1, max_size=4),
       start=st.lists(st.sampled_from(["a", "b", "runs", "."]), max_size=3))
def test_relative_links_match_posixpath_relpath(target: list[str], start: list[str]) -> None:
    import posixpath

    from tracker.site.urls import _relpath

    path, folder = "/".join(target), "/".join(start) or "."
    assert _relpath(path, folder) == posixpath.relpath(path, folder)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.30000000000000004", "0.3"),
        ("0.1", "0.1"),
        ("12.3456789", "12.35"),
        ("0.0500000000001", "0.05"),
        ("123456789", "123456789"),  # an integer param (a seed, an id) as written
        ("adam", "adam"),
        ("1e-05", "1e-05"),
        ("", ""),
        (None, ""),
    ],
)
def test_filter_param(value: Any, expected: str) -> None:
    assert render.format_param(value) == expected
    assert _render("{{ v | param }}", v=value) == expected


@pytest.mark.parametrize(
    ("ms", "expected"),
    [(None, ""), (0, "1970-01-01T00:00:00+00:00"), (1_700_000_000_123, "2023-11-14T22:13:20+00:00")],
)
def test_filter_iso(ms: Any, expected: str) -> None:
    assert render.format_iso(ms) == expected
    assert _render("{{ v | iso }}", v=ms) == expected


# The rows loop of ``runs_table`` as it was in Jinja before #14 moved it into Python
# (``render.runs_table_rows``): the two must write the same bytes.
_JINJA_ROWS = """{% from "_macros.html" import status_badge with context %}
  {% set ns = namespace(classes=[], status=-1) %}
  {% for col in columns %}{% set ns.classes = ns.classes + [('num' if col.numeric else '') ~ (' col-hidden' if not col.visible else '')] %}{% if col.key == 'attr.status' %}{% set ns.status = loop.index0 %}{% endif %}{% endfor %}
  {% set classes, status_at = ns.classes, ns.status %}
  {% for row in rows %}
  <tr data-run="{{ row.run_id }}"{% if row.parent_id %} data-parent="{{ row.parent_id }}"{% endif %} data-depth="{{ row.depth }}" class="depth-{{ row.depth if row.depth < 4 else 4 }}">
    {% if selectable %}<td class="select"><input type="checkbox" aria-label="Select {{ row.link.label }}" value="{{ row.run_id }}"></td>{% endif %}
    <th scope="row" data-sort="{{ row.link.label }}">{% if row.link.href %}<a href="{{ row.link.href | rel }}">{{ row.link.label }}</a>{% else %}{{ row.link.label }}{% endif %}{% if row.sweep %} <a class="sweep-link" href="{{ row.sweep.href | rel }}" title="Trials of this sweep">{{ row.sweep.label }}</a>{% endif %}</th>
    {% for cell in row.cells %}{% if cell.best %}<td data-sort="{{ cell.sort }}" class="{{ classes[loop.index0] }} best"{% if cell.full %} title="{{ cell.full }}"{% endif %}>{{ cell.text }}<span class="visually-hidden"> (best)</span></td>{% elif loop.index0 == status_at %}<td data-sort="{{ cell.sort }}" class="{{ classes[loop.index0] }}">{{ status_badge(row.status, row.dead) }}</td>{% else %}<td data-sort="{{ cell.sort }}" class="{{ classes[loop.index0] }}"{% if cell.full %} title="{{ cell.full }}"{% endif %}>{{ cell.text }}</td>{% endif %}{% endfor %}
  </tr>
  {% endfor %}
"""


def _board_rows() -> tuple[list[Any], list[Any]]:
    from tracker.site.pages.leaderboard import Cell, Column, Row

    columns = [
        Column("attr.status", "status", "attr", False, "", True),
        Column("metrics.loss", "loss", "metric", True, "min", True),
        Column("metrics.<b>", "<b>", "metric", True, "max", False),
        Column("params.p&q", "p&q", "param", False, "", False),
    ]
    hostile = "<script>alert('x')</script> & \"q\""
    rows = []
    for i, (status, dead, depth) in enumerate([("FINISHED", False, 0), ("RUNNING", True, 1),
                                                ("FAILED", False, 5), ("KILLED", False, 0)]):
        rows.append(Row(
            run_id=f"run{i}", link=Link(hostile if i == 1 else f"run-{i}",
                                        "" if i == 3 else f"runs/run{i}.html"),
            status=status, dead=dead, parent_id="run0" if depth else "", depth=depth,
            cells=(Cell(status, status, False), Cell("0.1234", "0.12345678", i == 0, "0.12345678"),
                   Cell(hostile, hostile, i == 2, hostile if i == 2 else ""),
                   Cell(Markup("<i>kept</i>") if i == 3 else "a&b", "a&b", False)),
            sweep=Link("sweep", f"sweeps/run{i}.html") if i == 0 else None,
        ))
    return columns, rows


@pytest.mark.parametrize("selectable", [True, False])
@pytest.mark.parametrize("page_path", ["experiments/board-p2.html", "report.html"])
def test_runs_table_rows_writes_what_the_jinja_loop_wrote(selectable: bool, page_path: str) -> None:
    columns, rows = _board_rows()
    env = _env()
    context = {"columns": columns, "rows": rows, "selectable": selectable, "page_path": page_path}
    old = env.from_string(_JINJA_ROWS).render(**context)
    new = env.from_string("{{ runs_table_rows(columns, rows, selectable) }}").render(**context)
    assert new == old
    assert "<script>" not in new and "&lt;script&gt;alert(&#39;x&#39;)" in new
    assert "<i>kept</i>" in new  # Markup stays as it is, as autoescape leaves it


def test_runs_table_rows_empty() -> None:
    rendered = _env().from_string("[{{ runs_table_rows([], []) }}]").render(page_path="a.html")
    assert rendered == "[]"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_page_links_write_what_the_jinja_loop_wrote(number: int) -> None:
    pages = [Link("1", "experiments/b&q.html"), Link("2", "experiments/b&q-p2.html"),
             Link("<3>", "experiments/b&q-p3.html")]
    env = _env()
    context = {"pages": pages, "number": number, "page_path": "experiments/b&q-p2.html"}
    old = env.from_string(
        '{% for p in pages %}<li>{% if loop.index == number %}<a aria-current="page" '
        'href="{{ p.href | rel }}">{{ p.label }}</a>{% else %}<a href="{{ p.href | rel }}">'
        "{{ p.label }}</a>{% endif %}</li>{% endfor %}").render(**context)
    new = env.from_string("{{ page_links(pages, number) }}").render(**context)
    assert new == old and new.count("aria-current") == 1 and "&lt;3&gt;" in new
