"""Report pages (#17 part B): validated front matter naming file:line, ``home: true`` as the
landing page, heading anchors and a table of contents, "data as of" and the git commit, the
reports index, ``tracker report new``, the print stylesheet on every page, and ``--pdf``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from bs4 import BeautifulSoup
from click.testing import CliRunner

import tracker
from tests import browser as browser_fixtures
from tests.conftest import write_files
from tests.test_site_build import seed_site_store
from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.site import report_meta, report_pdf, report_scaffold
from tracker.site.build import BuildError, build

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

HOME = """---
title: "Weekly: <review>"
description: Best runs & what changed.
author: [Ana, Bo]
date: 2026-01-05
tags: [taxi, weekly]
order: 1
home: true
---
Intro with an [external link](https://example.com/docs) and [the models](../models/index.html).

## Best runs

```sql
SELECT r.run_id, r.run_name, m.value AS rmse, 'a fairly long text value' AS notes,
       'another long value' AS comment, 123.456 AS score, 'x' AS flag, 'alpha-column' AS alpha,
       'bravo-column' AS bravo, 'last-column' AS zulu
FROM latest_metrics m JOIN runs r USING (run_id)
WHERE m.key = 'rmse' ORDER BY m.value
```

## Best runs

The same heading twice gets two anchors.

```chart
sql: SELECT run_name, value FROM latest_metrics WHERE key = 'rmse' ORDER BY run_name
x: run_name
y: value
kind: bar
```

### <script>alert(1)</script> "quoted" & done

## Conclusions

Done.
"""

OLD = """---
title: Old notes
date: 2025-06-01
order: 2
---
## Only one heading

Text.
"""

NEW = """---
title: New notes
date: 2025-07-01
order: 2
tags: solo
---
Text.
"""

UNORDERED = """---
title: Zebra
---
## One
## Two
"""

BAD = """---
title: Bad
bogus: 1
order: two
home: maybe
---
Text.
"""


def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def text(node: Any) -> str:
    return " ".join(node.get_text(" ", strip=True).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("report-pages")
    ids = seed_site_store(str(root / "store"))
    reports = write_files(root / "reports", {
        "weekly.md": HOME, "old.md": OLD, "new.md": NEW, "zebra.md": UNORDERED})
    result = build(str(root / "store"), root / "site", reports=reports, strict=True)
    return {"root": root, "out": root / "site", "ids": ids, "reports": reports,
            "result": result}


# -- front matter --------------------------------------------------------------------------------


def test_front_matter_values_are_validated_and_typed() -> None:
    front, body, offset = report_meta.parse(HOME, "/r/weekly.md")
    assert front == report_meta.FrontMatter(
        title="Weekly: <review>", description="Best runs & what changed.", author="Ana, Bo",
        date="2026-01-05", tags=("taxi", "weekly"), order=1.0, home=True)
    assert offset == 9 and body.startswith("Intro with")
    # Reports written before #17 are not YAML ("title: a: b") and still read.
    legacy, _, _ = report_meta.parse("---\ntitle: Taxi: overview\norder: 3\n---\nx", "o.md")
    assert (legacy.title, legacy.order, legacy.errors) == ("Taxi: overview", 3.0, ())


@pytest.mark.parametrize(("header", "message"), [
    ("title: x\nbogus: 1", "bad.md:3: unknown front matter key 'bogus'; allowed keys are title, "
     "description, author, date, tags, order, home, experiment."),
    ("order: two", "bad.md:2: front matter key 'order': got 'two'; expected a number (lower "
     "first)."),
    ("title: t\nhome: 1", "bad.md:3: front matter key 'home': got 1; expected true or false."),
    ("date: 2026-13-40", "bad.md:2: front matter key 'date': got '2026-13-40'; expected a date "
     "(YYYY-MM-DD) or date and time."),
    ("tags: {a: 1}", "bad.md:2: front matter key 'tags': got a mapping; expected a list of "
     "words ([a, b]) or comma-separated text."),
    ("title: [1, 2]", "bad.md:2: front matter key 'title': got a list; expected text."),
    ("- a\n- b", "bad.md:2: the front matter must be one key per line, a colon, then its value; "
     "allowed keys are title, description, author, date, tags, order, home, experiment."),
])
def test_front_matter_errors_name_file_line_key_and_allowed_values(
    header: str, message: str
) -> None:
    front, _, _ = report_meta.parse(f"---\n{header}\n---\nText.", "/somewhere/bad.md")
    assert front.errors == (message,)


def test_bad_front_matter_is_shown_logged_and_fails_strict(
    site: dict[str, Any], tmp_path: Path
) -> None:
    reports = write_files(tmp_path / "reports", {"bad.md": BAD})
    store = str(site["root"] / "store")
    result = build(store, tmp_path / "site", reports=reports)
    assert result.warnings == [
        "bad.md:3: unknown front matter key 'bogus'; allowed keys are title, description, "
        "author, date, tags, order, home, experiment.",
        "bad.md:4: front matter key 'order': got 'two'; expected a number (lower first).",
        "bad.md:5: front matter key 'home': got 'maybe'; expected true or false.",
    ]
    soup = soup_of(tmp_path / "site" / "reports" / "bad.html")
    box = soup.select_one("main div.report-error[role=alert]")
    assert [text(li) for li in box.select("li")] == result.warnings
    assert text(soup.find("h1")) == "Bad"  # the valid keys are used
    assert (tmp_path / "site" / "index.html").read_text().count("Since the last build") == 1
    with pytest.raises(BuildError, match=r"--strict: the build logged 3 warning\(s\): bad.md:3: "):
        build(store, tmp_path / "strict", reports=reports, strict=True)


# -- home: true ----------------------------------------------------------------------------------


def test_home_report_is_the_landing_page_and_the_dashboard_stays_linked(
    site: dict[str, Any]
) -> None:
    out = site["out"]
    home = soup_of(out / "index.html")
    assert text(home.find("h1")) == "Weekly: <review>"
    assert home.select_one("div.report-body table.grid") is not None
    assert not (out / "reports" / "weekly.html").exists()  # one page, at index.html
    dashboard = soup_of(out / "dashboard.html")
    assert text(dashboard.find("h1")) == "Experiments"
    assert "nyc-taxi" in text(dashboard.find("main"))
    for page in ("index.html", "dashboard.html", "reports/index.html", "reports/old.html",
                 f"runs/{site['ids']['lasso']}.html"):
        soup = soup_of(out / page)
        nav = {text(a): a["href"] for a in soup.select("header nav a")}
        target = os.path.normpath(os.path.join(os.path.dirname(page), nav["Experiments"]))
        assert target == "dashboard.html", page
        brand = os.path.normpath(os.path.join(os.path.dirname(page),
                                              soup.select_one("a.brand")["href"]))
        assert brand == "index.html", page
    crumbs = soup_of(out / f"runs/{site['ids']['lasso']}.html").select("nav.breadcrumbs a")
    assert crumbs[0]["href"] == "../dashboard.html"
    listed = soup_of(out / "reports/index.html").select("ul.reports > li")
    assert listed[0].select_one("a")["href"] == "../index.html"
    assert "home page" in text(listed[0])


def test_two_home_reports_are_an_error_naming_both(site: dict[str, Any], tmp_path: Path) -> None:
    reports = write_files(tmp_path / "reports", {
        "a.md": "---\nhome: true\n---\nA", "b.md": "---\nhome: true\n---\nB",
        "c.md": "---\nhome: false\n---\nC"})
    with pytest.raises(report_meta.FrontMatterError) as caught:
        build(str(site["root"] / "store"), tmp_path / "site", reports=reports)
    assert str(caught.value) == (
        "2 reports set 'home: true' (a.md, b.md); the site has one landing page: keep "
        "'home: true' in one report and remove it from the others.")


# -- anchors and contents ------------------------------------------------------------------------


def test_headings_get_safe_unique_anchors_and_long_reports_a_toc(site: dict[str, Any]) -> None:
    soup = soup_of(site["out"] / "index.html")
    headings = soup.select("div.report-body h2, div.report-body h3")
    assert [h["id"] for h in headings] == [
        "best-runs", "best-runs-2", "quoted-done", "conclusions"]  # the sanitizer drops <script>
    assert soup.find("script", string=re.compile("alert")) is None
    toc = soup.select_one("main nav.toc")
    links = [(a["href"], text(a), a.find_parent("li")["class"]) for a in toc.select("a")]
    assert links == [
        ("#best-runs", "Best runs", ["toc-0"]), ("#best-runs-2", "Best runs", ["toc-0"]),
        ("#quoted-done", '"quoted" & done', ["toc-1"]),
        ("#conclusions", "Conclusions", ["toc-0"])]
    ids = [tag["id"] for tag in soup.find_all(id=True)]
    assert len(ids) == len(set(ids))
    # Fewer than three headings: no contents.
    assert soup_of(site["out"] / "reports/zebra.html").select_one("nav.toc") is None
    assert soup_of(site["out"] / "reports/old.html").select_one("nav.toc") is None


# -- provenance ----------------------------------------------------------------------------------


def test_data_as_of_is_the_latest_run_end(site: dict[str, Any]) -> None:
    client = TrackerClient(str(site["root"] / "store"))
    ends = [r.info.end_time for e in client.search_experiments()
            for r in client.search_runs([e.experiment_id]) if r.info.end_time]
    expected = datetime.fromtimestamp(max(ends) / 1000, tz=timezone.utc)
    line = text(soup_of(site["out"] / "reports/old.html").select_one("p.provenance"))
    assert line == f"Data as of {expected:%Y-%m-%d %H:%M} UTC"  # not a git repository


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_commit_of_the_reports_repository_is_shown(site: dict[str, Any], tmp_path: Path) -> None:
    repo = write_files(tmp_path / "project", {"reports/a.md": "# A\n\nText."})
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "Add <the> report"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], check=True,
                         capture_output=True, text=True).stdout.strip()
    build(str(site["root"] / "store"), tmp_path / "site", reports=repo / "reports")
    soup = soup_of(tmp_path / "site" / "reports" / "a.html")
    assert text(soup.select_one("p.provenance code")) == f"{sha} Add <the> report"


# -- the index -----------------------------------------------------------------------------------


def test_index_lists_title_description_author_date_tags_by_order_then_date(
    site: dict[str, Any]
) -> None:
    items = soup_of(site["out"] / "reports/index.html").select("ul.reports > li")
    rows = [(text(li.select_one(".report-title")),
             text(li.select_one(".author")) if li.select_one(".author") else "",
             li.select_one("time")["datetime"] if li.select_one("time") else "",
             [text(t) for t in li.select(".tag")]) for li in items]
    assert rows == [
        ("Weekly: <review>", "By Ana, Bo", "2026-01-05", ["taxi", "weekly"]),
        ("New notes", "", "2025-07-01", ["solo"]),  # same order as Old notes: newer first
        ("Old notes", "", "2025-06-01", []),
        ("Zebra", "", "", []),
    ]
    assert "Best runs & what changed." in text(items[0])
    page = soup_of(site["out"] / "index.html")
    assert text(page.select_one("p.report-meta")) == "By Ana, Bo 2026-01-05 taxi weekly"


# -- tracker report new --------------------------------------------------------------------------


def _new(store: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["report", "new", *args, "--store", store])


def test_report_new_scaffolds_from_the_store(
    site: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = str(site["root"] / "store")
    result = _new(store, "weekly-review")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Wrote reports/weekly-review.md: experiment 'nyc-taxi' (7 runs), metric 'rmse', model "
        "'taxi-duration'. Edit it, then run `tracker build`.\n")
    content = (tmp_path / "reports" / "weekly-review.md").read_text()
    front, body, _ = report_meta.parse(content, "weekly-review.md")
    assert (front.title, front.experiment, front.tags, front.errors) == (
        "Weekly review", "nyc-taxi", ("nyc-taxi",), ())
    blocks = re.findall(r"^```(\w+)\n(.*?)^```$", body, re.DOTALL | re.MULTILINE)
    assert [(kind, yaml.safe_load(text_)) for kind, text_ in blocks] == [
        ("runs", {"experiment": "nyc-taxi", "order_by": ["metrics.rmse ASC"], "limit": 10}),
        ("history", {"experiment": "nyc-taxi", "metric": "rmse", "limit": 10, "x": "step"}),
        ("model", {"name": "taxi-duration", "alias": "champion"}),
    ]
    beta = _new(store, "beta", "--experiment", "beta")
    assert beta.exit_code == 0, beta.output
    assert "experiment 'beta' (2 runs), metric 'loss', no registered model" in beta.output
    beta_text = (tmp_path / "reports" / "beta.md").read_text()
    assert "```model" not in beta_text and "metric: \"loss\"" in beta_text


def test_report_new_refuses_to_overwrite_and_bad_names(
    site: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = str(site["root"] / "store")
    existing = write_files(tmp_path / "reports", {"mine.md": "my words"}) / "mine.md"
    result = _new(store, "mine")
    assert result.exit_code == 1
    assert "Error: reports/mine.md already exists; it was left as it is" in result.output
    assert existing.read_text() == "my words"
    for bad in ("../escape", "a/b", ".hidden", "", "x" * 81, "white space"):
        result = _new(store, bad)
        assert result.exit_code == 1, bad
        assert f"Error: Report name {bad!r} is not a safe file name" in result.output
    assert sorted(os.listdir(tmp_path / "reports")) == ["mine.md"]
    result = _new(store, "other", "--experiment", "nope")
    assert result.exit_code == 1
    assert "Error: No experiment 'nope' in the store; its experiments are beta, empty, nyc-taxi."\
        in result.output


def test_scaffold_quotes_store_names() -> None:
    spec = report_scaffold.Plan('evil"\n```\n<script>', 3, "rmse", "min", report_scaffold.Champion(
        "m: x", "version", "3"))
    content = report_scaffold.render("r", spec)
    front, body, _ = report_meta.parse(content, "r.md")
    assert front.errors == () and front.experiment == 'evil"\n```\n<script>'
    assert body.count("```") == 8  # four blocks, none broken by the name
    assert 'name: "m: x"\nversion: 3\n' in body


# -- print ---------------------------------------------------------------------------------------


def test_every_page_links_the_print_stylesheet(site: dict[str, Any]) -> None:
    out = site["out"]
    pages = sorted(p for p in out.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        links = soup_of(page).select('head link[rel=stylesheet][media=print]')
        assert [os.path.normpath(page.parent / link["href"]) for link in links] == [
            str(out / "assets" / "print.css")], page
    assert "@media print" in (out / "assets" / "print.css").read_text()


PRINTED = {  # page type -> path
    "report": lambda ids: "index.html",
    "reports index": lambda ids: "reports/index.html",
    "dashboard": lambda ids: "dashboard.html",
    "changes": lambda ids: "changes.html",
    "leaderboard": lambda ids: "experiments/nyc-taxi.html",
    "compare": lambda ids: "experiments/nyc-taxi-compare.html",
    "charts": lambda ids: "experiments/nyc-taxi-charts.html",
    "run": lambda ids: f"runs/{ids['retrain']}.html",
    "sweep": lambda ids: f"sweeps/{ids['xgb-sweep']}.html",
    "registry": lambda ids: "models/index.html",
    "model": lambda ids: "models/taxi-duration.html",
    "lineage": lambda ids: "models/taxi-duration/v2.html",
}

HIDDEN = """() => [...document.querySelectorAll(
    'header.top, nav.breadcrumbs, .search, footer, button:not(.lb-sort), select, input, .table-tools')]
  .filter((el) => el.getClientRects().length > 0).map((el) => el.outerHTML.slice(0, 80))"""


@pytest.mark.browser
@pytest.mark.parametrize("kind", sorted(PRINTED))
def test_printed_pages_show_no_navigation_or_controls(
    kind: str, site: dict[str, Any], browser: Any
) -> None:
    path = site["out"] / PRINTED[kind](site["ids"])
    assert path.is_file(), path
    context = browser.new_context(viewport={"width": 794, "height": 1100})
    try:
        page = context.new_page()
        page.emulate_media(media="print")
        page.goto(browser_fixtures.file_url(path))
        assert page.evaluate(HIDDEN) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 794
        tables = page.evaluate("""() => [...document.querySelectorAll('main table')]
            .filter((t) => t.getClientRects().length > 0)
            .map((t) => t.getBoundingClientRect().right)""")
        assert all(right <= 794 for right in tables), tables
        headers = page.evaluate("""() => [...document.querySelectorAll('main table')]
            .filter((t) => t.getClientRects().length > 0 && t.tHead)
            .map((t) => t.tHead.getBoundingClientRect().height)""")
        assert all(height > 5 for height in headers), headers  # column names are printed
        charts = page.evaluate("""() => [...document.querySelectorAll('figure.chart')]
            .filter((f) => f.getClientRects().length > 0)
            .map((f) => [f.getBoundingClientRect().width,
                         f.closest('main').getBoundingClientRect().width])""")
        assert all(width >= 0.95 * full for width, full in charts), charts
    finally:
        context.close()


@pytest.mark.browser
def test_report_pages_keep_the_csp_and_the_narrow_layout(
    site: dict[str, Any], open_page: Any
) -> None:
    for path in ("index.html", "reports/index.html", "reports/old.html"):
        page, errors = open_page(site["out"] / path, width=390,
                                 init_script=browser_fixtures.CSP_LISTENER)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__csp") == [] and errors == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        if path == "index.html":
            page.click("nav.toc a[href='#conclusions']")
            assert page.evaluate("location.hash") == "#conclusions"


# -- PDF -----------------------------------------------------------------------------------------


def test_pdf_without_chromium_is_a_clear_error(
    site: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("TRACKER_CHROMIUM", raising=False)
    monkeypatch.setattr(report_pdf, "DEFAULT_PATHS", ())
    result = CliRunner().invoke(cli, ["build", "--pdf", "--out", str(tmp_path / "site"),
                                      "--reports", str(site["reports"]),
                                      "--store", str(site["root"] / "store")])
    assert result.exit_code == 1
    assert "Error: --pdf needs Chromium and none was found" in result.output
    assert not (tmp_path / "site").exists()  # checked before building


@pytest.mark.slow
@pytest.mark.browser
def test_pdf_of_a_report(site: dict[str, Any], tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.skip("needs poppler-utils (pdftotext, pdfinfo)")
    try:
        report_pdf.chromium()
    except report_pdf.PdfError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "site"
    result = build(str(site["root"] / "store"), out, reports=site["reports"], pdf=True)
    assert sorted(result.pdfs) == ["index.pdf", "reports/new.pdf", "reports/old.pdf",
                                   "reports/zebra.pdf"]
    pdf = out / "index.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE).group(1))
    assert 1 <= pages <= 3
    content = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                             text=True, check=True).stdout
    for nav in ("Skip to content", "Search runs", "Changes", "Built by tracker"):
        assert nav not in content
    assert content.count("Weekly: <review> · 2026-01-05") == pages  # the footer of each page
    for number in range(1, pages + 1):
        assert f"Page {number} of {pages}" in content
    for column in ("run_id", "run_name", "rmse", "notes", "comment", "score", "flag", "alpha",
                   "bravo", "zulu"):
        assert re.search(rf"\b{column}\b", content), column
    assert "(https://example.com/docs)" in content  # the address after an external link
    assert "Contents" in content and "Data as of" in content
    # A second build without --pdf removes the PDFs it no longer makes.
    build(str(site["root"] / "store"), out, reports=site["reports"])
    assert not pdf.exists()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_report_pages_pass_axe(
    width: int, site: dict[str, Any], open_page: Any, tmp_path: Path
) -> None:
    from tests.test_site_a11y import _report, axe_source, run_axe

    axe = axe_source()
    out = tmp_path / "site"
    shutil.copytree(site["out"], out)
    (out / "_test").mkdir()
    shutil.copyfile(axe, out / "_test" / "axe.min.js")
    problems = write_files(tmp_path / "bad", {"bad.md": BAD})
    build(str(site["root"] / "store"), tmp_path / "bad-site", reports=problems)
    (tmp_path / "bad-site" / "_test").mkdir()
    shutil.copyfile(axe, tmp_path / "bad-site" / "_test" / "axe.min.js")

    class Site:
        def __init__(self, root: Path) -> None:
            self.out = root

    for root, path in ((out, "index.html"), (out, "reports/index.html"),
                       (tmp_path / "bad-site", "reports/bad.html")):
        page, errors = open_page(root / path, width=width,
                                 init_script=browser_fixtures.CSP_LISTENER)
        page.wait_for_function(browser_fixtures.CHARTS_DRAWN, timeout=20_000)
        violations = run_axe(page, Site(root))
        assert violations == [], f"{path}: " + _report(violations)
        assert errors == [] and page.evaluate("window.__csp") == []


def test_a_scaffolded_report_builds_strict_with_its_table_chart_and_model_card(
    site: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = str(site["root"] / "store")
    assert _new(store, "weekly-review").exit_code == 0
    result = build(store, tmp_path / "site", reports=tmp_path / "reports", strict=True)
    assert result.warnings == []
    page = soup_of(tmp_path / "site" / "reports" / "weekly-review.html")
    table_rows = page.select("table.report-runs tbody tr")
    tracker.set_tracking_uri(store)
    try:
        expected = tracker.search_runs(experiment_names=["nyc-taxi"],
                                       order_by=["metrics.rmse ASC"], max_results=10)
    finally:
        tracker.api._tracking_uri = None
    assert 0 < len(table_rows) == len(expected)
    assert page.select_one(".report-history .chart, .report-history figure") is not None
    card = page.select_one(".report-model .model-card")
    assert card is not None and "taxi-duration" in text(card)
