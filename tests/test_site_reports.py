"""Markdown reports in the static site (#5): front matter and order, sanitized Markdown, ```sql
tables with run links, ```chart figures, broken blocks as warnings naming file and line, and
``--strict`` failing on them."""

from __future__ import annotations

import json
import logging
import posixpath
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag

from tests.browser import browser, open_page  # noqa: F401 (fixtures)
from tests.conftest import write_files
from tests.test_site_registry import assert_no_injection, seed_registry_store
from tracker.site import reports
from tracker.site.build import BuildError, build

OVERVIEW = """---
title: "Weekly: <review>"
order: 2
description: Best runs & charts.
---
Intro with **bold** and a [link](https://example.com/x).

```sql
SELECT r.run_id, r.run_name, m.value AS rmse
FROM latest_metrics m JOIN runs r USING (run_id)
WHERE m.key = 'rmse' AND r.lifecycle_stage = 'active'
ORDER BY m.value
```

| a | b |
|---|---|
| 1 | 2 |

```chart
title: RMSE by run
sql: SELECT r.run_name, m.value AS rmse, t.value AS model
     FROM latest_metrics m JOIN runs r USING (run_id)
     JOIN tags t ON t.run_id = r.run_id AND t.key = 'model'
     WHERE m.key = 'rmse'
     ORDER BY r.run_name
x: run_name
y: rmse
color: model
kind: bar
```

```python
print("shown as code, never run")
```
"""

SECOND = """---
title: A second report
order: 1
---
```sql
SELECT range AS n FROM range(250)
```
"""

BROKEN = """---
title: Broken
---
Text.

```sql
SELECT * FROM no_such_table
```

```chart
sql: SELECT 1 AS a
x: a
y: b
```

```sql
DROP TABLE runs
```
"""

HOSTILE = """# Hostile <b>title</b>

<script>alert(1)</script>
<img src=x onerror=alert(2)>
[link](javascript:alert(3))
<iframe src="https://evil.example"></iframe>
<a href="data:text/html,<script>alert(4)</script>">data</a>
<svg><script>alert(7)</script></svg>

```sql
SELECT '<script>alert(5)</script>' AS "<b>col</b>", 'javascript:alert(6)' AS run_id
```
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("reports")
    ids = seed_registry_store(str(root / "store"))
    folder = write_files(root / "reports", {
        "overview.md": OVERVIEW, "second.md": SECOND, "broken.md": BROKEN, "xss.md": HOSTILE,
        "notes.txt": "not a report",
    })
    result = build(str(root / "store"), root / "site", reports=str(folder))
    return {"out": root / "site", "ids": ids, "folder": str(folder), "result": result,
            "root": root}


def soup_of(out: Path, path: str) -> BeautifulSoup:
    return BeautifulSoup((out / path).read_text(encoding="utf-8"), "html.parser")


def text(element: Any) -> str:
    assert isinstance(element, Tag), element
    return " ".join(element.get_text(" ", strip=True).split())


def resolve(page: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), href.split("#")[0]))


def broken_warnings(folder: str) -> list[str]:
    path = f"{folder}/broken.md"
    return [
        f"{path}:6: sql block: the query failed: Catalog Error: Table with name no_such_table "
        "does not exist!",
        f"{path}:10: chart block: the query has no column 'b'; its columns are a.",
        f"{path}:16: sql block: only reading statements may run in a report (SELECT, WITH, FROM, "
        "PIVOT…), not DROP.",
    ]


def test_reports_index_lists_reports_in_front_matter_order(built: dict[str, Any]) -> None:
    out = built["out"]
    soup = soup_of(out, "reports/index.html")
    assert text(soup.find("h1")) == "Reports"
    links = soup.select("ul.reports li a")
    assert [text(a) for a in links] == ["A second report", "Weekly: <review>", "Broken",
                                        "Hostile <b>title</b>"]
    assert [a["href"] for a in links] == ["second.html", "overview.html", "broken.html",
                                          "xss.html"]
    assert "Best runs & charts." in text(soup.select("ul.reports li")[1])
    assert not (out / "reports" / "notes.html").exists()
    for page in ("index.html", "models/index.html", "reports/overview.html"):
        nav = soup_of(out, page).select("header nav a")
        assert [text(a) for a in nav] == ["Experiments", "Changes", "Models", "Reports"]
        assert resolve(page, nav[3]["href"]) == "reports/index.html"


def test_report_markdown_front_matter_and_sql_table(built: dict[str, Any]) -> None:
    out, ids = built["out"], built["ids"]
    soup = soup_of(out, "reports/overview.html")
    assert text(soup.find("h1")) == "Weekly: <review>"
    assert soup.title.get_text().startswith("Weekly: <review>")
    body = soup.select_one("div.report-body")
    assert body.find("strong").get_text() == "bold"
    assert body.find("a", string="link")["href"] == "https://example.com/x"
    assert "title:" not in text(body) and "order:" not in text(body)
    table = body.select_one("div.report-table table")
    assert [text(th) for th in table.select("thead th")] == ["run_id", "run_name", "rmse"]
    rows = [[text(td) for td in tr.find_all("td")] for tr in table.select("tbody tr")]
    assert [r[1:] for r in rows] == [["xgb", "4.2"], ["lasso", "5.5"], ["<svg onload=alert(3)>",
                                                                        "9"]]
    for tr, name in zip(table.select("tbody tr"), ("xgb", "lasso")):
        anchor = tr.find("td").find("a")
        assert anchor.get_text() == ids[name][:8] and tr.find("td")["title"] == ids[name]
        assert resolve("reports/overview.html", anchor["href"]) == f"runs/{ids[name]}.html"
        assert (out / "runs" / f"{ids[name]}.html").is_file()
    assert "SELECT r.run_id" in body.select_one("div.report-table details pre").get_text()
    assert [text(td) for td in body.select("table:not(.grid) td")] == ["1", "2"]
    code = body.find("code", class_="language-python")
    assert code is not None and "never run" in code.get_text()
    assert "Source: overview.md" in text(soup.find("main"))


def test_report_chart_block_is_a_plotly_figure(built: dict[str, Any]) -> None:
    soup = soup_of(built["out"], "reports/overview.html")
    figure = soup.select_one("div.report-chart figure.chart")
    assert figure["aria-label"] == "RMSE by run"
    spec = json.loads(figure.select_one("script.chart-data").get_text())
    assert [(t["type"], t["name"], t["x"], t["y"]) for t in spec["data"]] == [
        ("bar", "lasso", ["lasso"], [5.5]), ("bar", "xgb", ["xgb"], [4.2])]
    assert spec["layout"]["title"]["text"] == "RMSE by run"
    assert spec["layout"]["xaxis"]["title"]["text"] == "run_name"
    assert spec["layout"]["yaxis"]["title"]["text"] == "rmse"
    plotly = [s["src"] for s in soup.find_all("script", src=True) if "plotly" in s["src"]]
    assert len(plotly) == 1 and plotly[0].startswith("../assets/vendor/plotly-")
    assert "plotly" not in (built["out"] / "reports" / "second.html").read_text()


def test_long_results_are_cut_at_200_rows_with_a_note(built: dict[str, Any]) -> None:
    soup = soup_of(built["out"], "reports/second.html")
    rows = soup.select("div.report-table tbody tr")
    assert len(rows) == reports.MAX_ROWS == 200
    assert [text(td) for td in rows[-1].find_all("td")] == ["199"]
    assert text(soup.select_one("div.report-table p.note")) == "Showing the first 200 of 250 rows."


def test_broken_blocks_are_warnings_and_error_boxes(built: dict[str, Any]) -> None:
    assert built["result"].warnings == broken_warnings(built["folder"])
    soup = soup_of(built["out"], "reports/broken.html")
    boxes = soup.select("div.report-error")
    assert [b["data-line"] for b in boxes] == ["6", "10", "16"]
    assert text(boxes[0]).startswith(
        "This block (line 6 of broken.md) could not be shown: the query failed: Catalog Error:")
    assert "SELECT * FROM no_such_table" in boxes[0].find("pre").get_text()
    assert "its columns are a" in text(boxes[1])
    assert text(soup.find("main")).count("Text.") == 1


def test_broken_report_warnings_in_the_log(built: dict[str, Any], tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    folder = write_files(tmp_path / "reports", {"broken.md": BROKEN})
    with caplog.at_level(logging.WARNING, logger="tracker.site"):
        build(str(built["root"] / "store"), tmp_path / "site", reports=str(folder))
    messages = [r.getMessage() for r in caplog.records if r.name == "tracker.site"]
    assert messages == broken_warnings(str(folder))


def test_strict_build_fails_on_a_broken_report(built: dict[str, Any], tmp_path: Path) -> None:
    folder = write_files(tmp_path / "reports", {"broken.md": BROKEN})
    with pytest.raises(BuildError) as caught:
        build(str(built["root"] / "store"), tmp_path / "site", reports=str(folder), strict=True)
    assert str(caught.value).startswith("--strict: the build logged 3 warning(s): ")
    assert f"{folder}/broken.md:6: sql block" in str(caught.value)


def test_reports_may_not_inject_script(built: dict[str, Any]) -> None:
    raw = (built["out"] / "reports" / "xss.html").read_text(encoding="utf-8")
    assert "<script>alert" not in raw and "<iframe" not in raw and "<img src=x onerror" not in raw
    soup = BeautifulSoup(raw, "html.parser")
    assert_no_injection(soup)
    assert text(soup.find("h1")) == "Hostile <b>title</b>"
    body = soup.select_one("div.report-body")
    assert body.find("a", string="link").get("href") is None
    assert body.find("a", string="data").get("href") is None
    table = body.select_one("div.report-table table")
    assert [text(th) for th in table.select("thead th")] == ["<b>col</b>", "run_id"]
    assert [text(td) for td in table.select("tbody td")] == ["<script>alert(5)</script>",
                                                             "javascript:alert(6)"]
    assert table.find("a") is None


def test_no_reports_no_nav_entry_and_no_index(built: dict[str, Any], tmp_path: Path) -> None:
    empty = write_files(tmp_path / "reports", {"readme.txt": "nothing"})
    for folder in (None, str(empty)):
        out = tmp_path / f"site-{folder is None}"
        result = build(str(built["root"] / "store"), out, reports=folder)
        assert result.warnings == []
        assert not (out / "reports").exists()
        nav = soup_of(out, "index.html").select("header nav a")
        assert [text(a) for a in nav] == ["Experiments", "Changes", "Models"]


# -- parsing ---------------------------------------------------------------------------------


def test_front_matter() -> None:
    meta, body, offset = reports.parse_front_matter(
        "---\ntitle: 'Quoted: yes'\norder: 3\nDescription: x\n---\n# Body\n")
    assert meta == {"title": "Quoted: yes", "order": "3", "description": "x"}
    assert body == "# Body\n" and offset == 5
    assert reports.parse_front_matter("---\nno end\n") == ({}, "---\nno end\n", 0)
    assert reports.parse_front_matter("# Just text\n") == ({}, "# Just text\n", 0)


def test_blocks_keep_their_file_line_numbers(tmp_path: Path) -> None:
    path = write_files(tmp_path, {"r.md": "---\ntitle: T\n---\n\ntext\n~~~sql\nSELECT 1\n~~~\n"
                                          "````chart\nsql: x\n```\n````\n"}) / "r.md"
    source = reports.load_report(str(path), "r")
    assert [(b.kind, b.line, b.text) for b in source.blocks] == [
        ("sql", 6, "SELECT 1"), ("chart", 9, "sql: x\n```")]
    assert source.title == "T" and source.order == float("inf")
    pieces = reports.render_markdown(source)
    assert pieces[1:] == [0, 1] and "text" in str(pieces[0])


def test_title_falls_back_to_the_first_heading_then_the_slug(tmp_path: Path) -> None:
    folder = write_files(tmp_path, {"a.md": "\n# From heading\nbody\n", "my-notes.md": "body\n"})
    first = reports.load_report(str(folder / "a.md"), "a")
    assert first.title == "From heading" and "From heading" not in first.markdown
    assert reports.load_report(str(folder / "my-notes.md"), "my-notes").title == "My notes"


@pytest.mark.parametrize("spec, message", [
    ("x: a\ny: b", "the chart needs sql: (sql:, x: and y: lines)."),
    ("sql: SELECT 1\nx: a\ny: b\nkind: pie", "unknown chart kind 'pie'; use line, scatter, bar."),
    ("sql: SELECT 1\nx: a\ny: b\nsize: 3", "unknown chart key 'size'; use sql, x, y, color, kind, "
                                            "title."),
    ("just words", "expected 'key: value', got 'just words'."),
])
def test_chart_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(reports.ReportError) as caught:
        reports.parse_chart_spec(spec)
    assert str(caught.value) == message


def test_chart_figure_groups_by_color_and_draws_several_y_columns() -> None:
    spec = reports.parse_chart_spec("sql: |\n  SELECT 1\nx: step\ny: a, b\nkind: scatter")
    assert spec.sql == "SELECT 1" and spec.y == ("a", "b")
    figure = reports.chart_figure(spec, ["step", "a", "b"], [(1, 2.0, float("nan")), (2, 3, 4)])
    assert [(t["name"], t["mode"], t["y"]) for t in figure["data"]] == [
        ("a", "markers", [2.0, 3.0]), ("b", "markers", [None, 4.0])]
    colored = reports.parse_chart_spec("sql: s\nx: x\ny: y\ncolor: c")
    rows = [(1, 1, "b"), (2, 2, "a"), (3, 3, None)]
    figure = reports.chart_figure(colored, ["x", "y", "c"], rows)
    assert [(t["name"], t["x"]) for t in figure["data"]] == [("", [3]), ("a", [2]), ("b", [1])]
    exact = reports.chart_figure(colored, ["x", "y", "c"], [(Decimal("1.5"), Decimal("2"), "a")])
    assert (exact["data"][0]["x"], exact["data"][0]["y"]) == ([1.5], [2.0])


def test_only_single_read_statements_run(built: dict[str, Any]) -> None:
    from tracker.client import TrackerClient
    from tracker.query.sandbox import Sandbox

    query = Sandbox(TrackerClient(str(built["root"] / "store")).query)
    assert reports.run_sql(query, "SELECT 1 AS one;") == (["one"], [(1,)])
    assert reports.run_sql(query, "select ';' as s") == (["s"], [(";",)])
    for sql, message in [
        ("DELETE FROM runs", "only reading statements may run in a report (SELECT, WITH, FROM, "
                             "PIVOT…), not DELETE."),
        ("SELECT 1; DROP TABLE runs", "one statement per block, found 2: split them into "
                                      "blocks."),
        ("  ", "the block is empty; write one SELECT statement."),
    ]:
        with pytest.raises(reports.ReportError) as caught:
            reports.run_sql(query, sql)
        assert str(caught.value) == message
    assert re.match(r"the SQL does not parse: Parser Error", _error(query, "SELECT FROM WHERE"))


def _error(query: Any, sql: str) -> str:
    try:
        reports.run_sql(query, sql)
    except reports.ReportError as exc:
        return str(exc)
    raise AssertionError(sql)


def test_the_example_reports_build_without_warnings(tmp_path: Path) -> None:
    from tests.test_report_blocks import seed_demo_store

    folder = Path(__file__).resolve().parent.parent / "reports"
    assert sorted(p.name for p in folder.glob("*.md")) == ["overview.md", "sweep.md"]
    seed_demo_store(str(tmp_path / "store"))  # the demo's experiment and model, in small
    result = build(str(tmp_path / "store"), tmp_path / "site", reports=str(folder), strict=True)
    assert result.warnings == []
    soup = soup_of(tmp_path / "site", "reports/overview.html")
    assert len(soup.select("table.report-runs")) == 2  # blocks only (#17): no SQL
    assert len(soup.select("div.report-block script.chart-data")) == 3


# -- bar axis range and legend placement (#11) ----------------------------------------------

CLOSE_BARS = """\
# Close bars

```chart
title: RMSE by model
sql: SELECT * FROM (VALUES ('lasso · run 1', 5.56, 'lasso'), ('xgboost · run 2', 5.27, 'xgboost'))
       AS t(run, rmse, model)
x: run
y: rmse
color: model
kind: bar
```
"""


def test_bar_axis_fits_close_values_and_starts_at_0_otherwise() -> None:
    spec = reports.parse_chart_spec("sql: s\nx: run\ny: rmse\ncolor: model\nkind: bar")
    close = reports.chart_figure(spec, ["run", "rmse", "model"],
                                 [("a", 5.56, "lasso"), ("b", 5.27, "xgboost")])
    low, high = close["layout"]["yaxis"]["range"]
    assert 5.0 < low < 5.27 and 5.56 < high < 5.8
    assert close["layout"]["legend"]["yanchor"] == "bottom"  # above the plot, not on the labels
    apart = reports.chart_figure(spec, ["run", "rmse", "model"], [("a", 2, "x"), ("b", 10, "y")])
    assert apart["layout"]["yaxis"]["range"][0] == 0


@pytest.mark.browser
def test_close_bars_look_different_and_the_legend_covers_no_label(
    tmp_path: Path, open_page: Any  # noqa: F811 (fixture)
) -> None:
    root = tmp_path
    seed_registry_store(str(root / "store"))
    folder = write_files(root / "reports", {"close.md": CLOSE_BARS})
    build(str(root / "store"), root / "site", reports=str(folder))
    page, errors = open_page(root / "site" / "reports" / "close.html", width=390)
    page.wait_for_selector("div.report-chart .js-plotly-plot .barlayer path")
    heights = page.evaluate("""() => {  // visible bar heights (the plot area clips the bars)
        const area = document.querySelector('.report-chart .nsewdrag').getBoundingClientRect();
        return [...document.querySelectorAll('.report-chart .barlayer .point path')].map(
            p => area.bottom - Math.max(p.getBoundingClientRect().top, area.top));
    }""")
    assert len(heights) == 2 and max(heights) > 2 * min(heights)  # 5.56 vs 5.27 visibly apart
    boxes = page.evaluate("""() => {
        const box = e => { const r = e.getBoundingClientRect();
                           return [r.left, r.top, r.right, r.bottom]; };
        return {legend: box(document.querySelector('.report-chart .legend')),
                labels: [...document.querySelectorAll('.report-chart .xtick text')].map(box)};
    }""")
    lx0, ly0, lx1, ly1 = boxes["legend"]
    for x0, y0, x1, y1 in boxes["labels"]:
        assert x1 <= lx0 or x0 >= lx1 or y1 <= ly0 or y0 >= ly1, (boxes["legend"], (x0, y0, x1, y1))
    assert errors == []
