"""The XSS store: every text a user or a training script controls carries script payloads, and
the built site must show them as text and never run them (#5).

Static checks parse every page (no script element but ``src=assets/…`` and JSON data, no event
handler attributes, no ``javascript:`` URLs, payloads visible as text); the browser checks open
every page type in Chromium from ``file://`` with ``alert``/``confirm``/``prompt`` hooked, and
type payloads into the page's search and filter boxes.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag

from tests.browser import LOCAL_SCHEMES, browser, file_url  # noqa: F401 (the fixture)
from tests.conftest import write_files
from tracker.client import TrackerClient
from tracker.site.build import build

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
JS_URL = "javascript:alert(1)"
LINK = '<a href="javascript:alert(1)">click</a>'
MARKDOWN = (
    f"**bold** {SCRIPT} {IMG} {SVG} [md link]({JS_URL}) {LINK} "
    '<iframe src="javascript:alert(1)"></iframe> <div onclick="alert(1)">div</div> '
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"
)
KEY = "javascript:alert"  # the most a param/metric/tag/alias name may carry ([\w\-. /:]+)
PAYLOADS = (SCRIPT, IMG, SVG, JS_URL)
T0 = 1_767_225_600_000

REPORT = f"""---
title: "{IMG} report"
description: "{SVG}"
---
# Review {SCRIPT}

{MARKDOWN}

```sql
SELECT run_name, run_id FROM runs ORDER BY run_name
```

```chart
sql: SELECT run_name, value FROM latest_metrics WHERE key = 'rmse'
x: run_name
y: value
kind: bar
title: {IMG}
```
"""


def _figure_artifact() -> dict[str, Any]:
    """A Plotly figure whose text fields carry payloads (Plotly renders a subset of HTML)."""
    return {
        "data": [{"type": "scatter", "x": [1, 2], "y": [3, 4], "name": LINK,
                  "text": [IMG, SCRIPT], "hovertemplate": f"{LINK} %{{y}}"}],
        "layout": {"title": {"text": f"{LINK} {IMG}"},
                   "xaxis": {"title": {"text": SVG}}},
    }


def seed_xss_store(uri: str, tmp: Path) -> dict[str, str]:
    """A store in which every user-controlled text is a payload; returns names → ids."""
    client = TrackerClient(uri)
    ids: dict[str, str] = {}
    exp = ids["exp"] = client.create_experiment(SCRIPT, tags={"mlflow.note.content": MARKDOWN})
    ids["exp2"] = client.create_experiment(SVG)
    parent = ids["parent"] = _run(client, exp, IMG, T0, parent=None)
    for i, name in enumerate((SCRIPT, LINK, JS_URL)):
        ids[f"child-{i}"] = _run(client, exp, name, T0 + (i + 1) * 60_000, parent=parent)
    _run(client, ids["exp2"], SVG, T0 + 3_600_000, parent=None)
    _artifacts(client, parent, tmp)
    _registry(client, parent, ids["child-0"])
    client.flush()
    return ids


def _run(client: TrackerClient, exp: str, name: str, start: int, parent: str | None) -> str:
    import pandas as pd

    import tracker.data

    tags = {
        "t": SCRIPT, KEY: IMG, "mlflow.note.content": MARKDOWN,
        "mlflow.source.git.repoURL": JS_URL, "mlflow.source.git.commit": SVG,
        "mlflow.source.name": IMG, "mlflow.user": SVG, "mlflow.source.type": SCRIPT,
    }
    run_id = client.create_run(exp, start_time=start, run_name=name, tags=tags,
                               parent_run_id=parent).info.run_id
    for key, value in (("p", SVG), (KEY, JS_URL), ("q", SCRIPT), ("img", IMG), ("n", "1")):
        client.log_param(run_id, key, value)
    for step, value in enumerate([3.0, 2.0, float("nan"), float("inf")]):
        client.log_metric(run_id, "rmse", value, timestamp=start + step, step=step)
        client.log_metric(run_id, KEY, value + 1, timestamp=start + step, step=step)
    frame = pd.DataFrame({"a": [1, 2], SCRIPT: [3, 4]})  # a column name is data too
    dataset = tracker.data.from_pandas(frame, source=JS_URL, name=IMG, targets=SCRIPT)
    client.log_inputs(run_id, [(dataset, SVG)])
    client.set_terminated(run_id, end_time=start + 30_000)
    return run_id


def _artifacts(client: TrackerClient, run_id: str, tmp: Path) -> None:
    client.log_text(run_id, SCRIPT, f"{IMG}.txt")
    client.log_text(run_id, MARKDOWN, f"{SVG}.md")
    client.log_text(run_id, MARKDOWN, "notes/readme.md")
    client.log_dict(run_id, {"k": SCRIPT, IMG: SVG}, "config.json")
    client.log_dict(run_id, _figure_artifact(), "figure.json")
    client.log_text(run_id, f"a,b\n{SCRIPT},{IMG}\n", "table.csv")
    client.log_text(run_id, f"<html><body>{SCRIPT}{IMG}</body></html>", "page.html")
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
           "<script>alert(1)</script></svg>")
    client.log_text(run_id, svg, "image.svg")


def _registry(client: TrackerClient, run_id: str, other: str) -> None:
    for name in (IMG, SVG):
        client.create_registered_model(name, tags={"t": SCRIPT}, description=MARKDOWN,
                                       reason=SCRIPT)
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id,
                                    description=MARKDOWN, tags={KEY: IMG}, reason=SVG)
        client.create_model_version(name, f"runs:/{other}/{IMG}", run_id=other, reason=IMG,
                                    run_link=JS_URL)
        client.transition_model_version_stage(name, 1, "Production", reason=LINK)
        client.set_registered_model_alias(name, KEY, 2, reason=MARKDOWN)


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("xss")
    ids = seed_xss_store(str(root / "store"), root)
    reports = write_files(root / "reports", {"xss.md": REPORT, f"{'x' * 3}-second.md": MARKDOWN})
    build(str(root / "store"), root / "site", reports=reports)
    return root / "site", ids


def _artifact_copies(site: Path) -> set[Path]:
    return {p for p in site.glob("runs/*/artifacts/**/*") if p.is_file()}


def _pages(site: Path) -> list[Path]:
    """The site's own pages (artifact copies are checked separately)."""
    copies = _artifact_copies(site)
    return [p for p in sorted(site.rglob("*.html")) if p not in copies]


def _soup(page: Path) -> BeautifulSoup:
    return BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


# -- static checks -----------------------------------------------------------------------------


def test_the_store_really_holds_the_payloads(xss_site: tuple[Path, dict[str, str]]) -> None:
    site, ids = xss_site
    kinds = {p.relative_to(site).parts[0] for p in _pages(site)}
    assert {"index.html", "experiments", "runs", "models"} <= kinds
    home = _soup(site / "index.html").get_text()
    for payload in (SCRIPT, SVG, IMG):
        assert payload in home, payload  # experiment name, run name, model name: shown as text


def _script_problems(page: str, soup: BeautifulSoup) -> Iterator[str]:
    for script in soup.find_all("script"):
        kind = script.get("type")
        src = script.get("src")
        if src is None and kind == "application/json":
            try:
                json.loads(script.string or "null")
            except ValueError as exc:
                yield f"{page}: JSON data block does not parse: {exc}"
            continue
        if src is not None and kind in (None, "text/javascript", "module"):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page), str(src)))
            # Theme code, vendored plotly.js, or generated data (checked by
            # test_generated_scripts_are_data_only).
            if (target.startswith("assets/") or target.endswith(".data.js")) \
                    and not script.string:
                continue
        yield f"{page}: unexpected script element {str(script)[:120]!r}"


_DANGEROUS_URL = re.compile(r"^\s*(javascript|vbscript|data):", re.IGNORECASE)
_URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data", "poster",
                   "srcset", "background", "ping")


def _attribute_problems(page: str, soup: BeautifulSoup) -> Iterator[str]:
    for element in soup.find_all(True):
        if element.name in ("iframe", "object", "embed", "base", "frame", "frameset", "applet"):
            yield f"{page}: <{element.name}> element"
        for attr, value in element.attrs.items():
            if attr.lower().startswith("on"):
                yield f"{page}: event handler {attr}= on <{element.name}>"
            text = " ".join(value) if isinstance(value, list) else str(value)
            cleaned = re.sub(r"[\x00-\x20]", "", text)
            image_data = element.name == "img" and cleaned.lower().startswith("data:image/")
            if attr.lower() in _URL_ATTRIBUTES and _DANGEROUS_URL.match(cleaned) and not image_data:
                yield f"{page}: {attr}={text[:60]!r} on <{element.name}>"
            if attr.lower() == "style" and "javascript:" in cleaned.lower():
                yield f"{page}: script URL in style on <{element.name}>"
        if element.name == "meta" and str(element.get("http-equiv", "")).lower() == "refresh":
            yield f"{page}: meta refresh"


def test_no_script_runs_from_data_in_any_page(xss_site: tuple[Path, dict[str, str]]) -> None:
    site, _ = xss_site
    problems: list[str] = []
    pages = _pages(site)
    assert len(pages) >= 10
    for path in pages:
        page = path.relative_to(site).as_posix()
        soup = _soup(path)
        problems += _script_problems(page, soup)
        problems += _attribute_problems(page, soup)
        csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})
        if not isinstance(csp, Tag) or "script-src 'self'" not in str(csp.get("content")):
            problems.append(f"{page}: no CSP meta with script-src 'self'")
    assert problems == []


def test_payloads_are_visible_as_text(xss_site: tuple[Path, dict[str, str]]) -> None:
    site, ids = xss_site
    leaderboard = next(p for p in site.glob("experiments/*.html")
                       if (h1 := _soup(p).find("h1")) is not None and h1.get_text() == SCRIPT
                       and _soup(p).select_one("table.leaderboard") is not None)
    text = _soup(leaderboard).get_text()
    for payload in (IMG, SVG, SCRIPT, JS_URL, LINK):
        assert payload in text, payload  # run names and param values as text
    run_page = site / "runs" / f"{ids['parent']}.html"
    text = _soup(run_page).get_text()
    for payload in (IMG, SVG, SCRIPT, JS_URL):
        assert payload in text, payload
    assert f"{IMG}.txt" in text  # an artifact file name
    registry = _soup(site / "models" / "index.html").get_text()
    assert IMG in registry and SVG in registry


def test_markdown_is_rendered_without_its_raw_html(xss_site: tuple[Path, dict[str, str]]) -> None:
    site, ids = xss_site
    soup = _soup(site / "runs" / f"{ids['parent']}.html")
    bold = [b for b in soup.find_all("strong") if b.get_text() == "bold"]
    assert bold, "the run description (mlflow.note.content) is not rendered as Markdown"
    for strong in bold:
        container = strong.parent
        assert container is not None
        assert container.find("img", onerror=True) is None
        assert container.find("svg") is None
        links = [a.get("href") for a in container.find_all("a")]
        assert all(h is None or not _DANGEROUS_URL.match(str(h)) for h in links), links


def test_json_data_blocks_keep_payloads_as_strings(xss_site: tuple[Path, dict[str, str]]) -> None:
    site, _ = xss_site
    found = False
    for path in _pages(site):
        raw = path.read_text(encoding="utf-8")
        for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', raw, re.S):
            assert "<" not in block and ">" not in block, path  # no way to close the element
            if IMG in json.dumps(json.loads(block), ensure_ascii=False):
                found = True
    assert found, "no chart carried a run name: the JSON escaping is not exercised"


_DATA_STATEMENT = re.compile(
    r'^window\.(?P<name>[A-Za-z_]\w*)(?:\[(?P<key>"(?:[^"\\]|\\.)*")\])?\s*=\s*(?P<value>.*);$'
)


def _code_in_data_script(raw: str) -> list[str]:
    """Statements of a generated script that are not ``window.X = <JSON>;``,
    ``window.X["k"] = <JSON>;`` or ``window.X = window.X || {};``."""
    bad = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        match = _DATA_STATEMENT.match(line.strip())
        if match is None:
            bad.append(line[:120])
            continue
        value = match.group("value")
        if value == f"window.{match.group('name')} || {{}}":
            continue
        try:
            json.loads(value)
        except ValueError:
            bad.append(line[:120])
    return bad


def test_generated_scripts_are_data_only(xss_site: tuple[Path, dict[str, str]]) -> None:
    """Generated .js files (search index, experiment data) are JSON assignments, nothing else."""
    site, _ = xss_site
    theme = {p.name for p in (Path(__file__).parents[1] / "site_templates" / "assets").glob("*")}
    generated = [p for p in sorted(site.rglob("*.js"))
                 if "vendor" not in p.parts and not (p.parent.name == "assets" and p.name in theme)]
    assert generated, "no generated data script: this test checks nothing"
    problems = {p.relative_to(site).as_posix(): bad for p in generated
                if (bad := _code_in_data_script(p.read_text(encoding="utf-8")))}
    assert problems == {}
    assert _code_in_data_script('window.A = {"x": "</script>"};\nwindow.B = 1; alert(1);\n') \
        == ["window.B = 1; alert(1);"]


def test_artifact_copies_cannot_run_script_in_the_site(
    xss_site: tuple[Path, dict[str, str]],
) -> None:
    """A logged HTML/SVG artifact copied into the site as is would run its script, at the
    site's origin and without the pages' CSP, when its link is followed."""
    site, _ = xss_site
    active = {".html", ".htm", ".xhtml", ".svg", ".xml", ".shtml", ".mht"}
    risky = sorted(p.relative_to(site).as_posix() for p in _artifact_copies(site)
                   if p.suffix.lower() in active and re.search(
                       rb"<script|\son\w+\s*=", p.read_bytes(), re.IGNORECASE))
    assert risky == []


# -- in the browser ----------------------------------------------------------------------------

HOOK = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = function () { window.__xss.push(name + ":" + Array.from(arguments).join(",")); };
}
"""


def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:  # noqa: F811 (fixture value)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(HOOK)
    page = context.new_page()
    events: list[str] = []
    page.on("dialog", lambda d: (events.append(f"dialog: {d.type} {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: events.append(f"pageerror: {e}"))


    def console(message: Any) -> None:
        # A payload's <img src=x> survives sanitizing as a harmless broken image: not script.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            events.append(f"console: {message.text}")

    page.on("console", console)

    def guard(route: Any) -> None:
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            events.append(f"network: {route.request.url}")
            route.abort()

    page.route("**/*", guard)
    page.goto(file_url(path), wait_until="load")
    return page, events


def _settle(page: Any) -> None:
    page.wait_for_timeout(300)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")


def _poke(page: Any) -> None:
    """Type payloads into the search and filter boxes, hover the charts."""
    boxes = page.locator("input[type=search]:not([disabled]):visible")
    for i in range(min(boxes.count(), 3)):
        for payload in (IMG, SVG, "alert"):
            boxes.nth(i).fill(payload)
            page.wait_for_timeout(100)
        boxes.nth(i).fill("")
    for chart in page.locator(".js-plotly-plot").all()[:3]:
        try:
            chart.hover(force=True, timeout=2000)
        except Exception:  # a sticky header over the chart: hovering is best effort
            pass
    page.wait_for_timeout(200)


def _page_types(site: Path, ids: dict[str, str]) -> list[Path]:
    """One page of each type (two run pages: a parent and a child), ~2-4 s each."""
    wanted = [site / "index.html", site / "runs" / f"{ids['parent']}.html",
              site / "runs" / f"{ids['child-1']}.html", site / "models" / "index.html",
              site / "reports" / "index.html", site / "reports" / "xss.html"]
    experiments = sorted(site.glob("experiments/*.html"))
    stem = min((p.stem for p in experiments), key=len, default="")
    wanted += [p for p in experiments if p.stem.startswith(stem)]  # its leaderboard and compare
    for pattern in ("sweeps/*.html", "models/*.html", "models/*/*.html"):
        wanted += [p for p in sorted(site.glob(pattern)) if p.name != "index.html"][:1]
    return list(dict.fromkeys(p for p in wanted if p.is_file()))


@pytest.mark.browser
def test_no_payload_runs_in_chromium(
    browser: Any, xss_site: tuple[Path, dict[str, str]],  # noqa: F811 (fixture)
) -> None:
    site, ids = xss_site
    pages = _page_types(site, ids)
    kinds = {p.relative_to(site).parts[0] for p in pages}
    assert {"index.html", "experiments", "runs", "models"} <= kinds, kinds
    report: dict[str, list[str]] = {}
    for path in pages:
        page, events = _open(browser, path)
        try:
            _settle(page)
            _poke(page)
            fired = page.evaluate("() => window.__xss")
            # Nothing the store holds may become a live element either.
            live = page.evaluate(
                """() => Array.from(document.querySelectorAll('*')).filter(e =>
                     Array.from(e.attributes).some(a => /^on/i.test(a.name)) ||
                     (e.tagName === 'A' && /^\\s*javascript:/i.test(e.getAttribute('href') || ''))
                   ).map(e => e.outerHTML.slice(0, 120))"""
            )
            problems = [*fired, *events, *live]
            if problems:
                report[path.relative_to(site).as_posix()] = problems
        finally:
            page.context.close()
    assert report == {}


@pytest.mark.browser
def test_csp_blocks_an_injected_inline_script(
    browser: Any, xss_site: tuple[Path, dict[str, str]],  # noqa: F811 (fixture)
) -> None:
    site, _ = xss_site
    page, events = _open(browser, site / "index.html")
    try:
        page.evaluate(
            """() => { const s = document.createElement('script');
                       s.textContent = 'window.__inline = 1'; document.body.appendChild(s); }"""
        )
        page.wait_for_timeout(100)
        assert page.evaluate("() => window.__inline") is None
        assert any("Content Security Policy" in e for e in events), events
    finally:
        page.context.close()
