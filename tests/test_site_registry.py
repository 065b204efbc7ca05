"""The registry pages, the model pages and the lineage pages of the static site (#5):
BeautifulSoup assertions on a built site, payloads from the store escaped (HTML and inline SVG),
and the lineage graph in Chromium."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bs4 import BeautifulSoup, Tag

import tracker
import tracker.api
from tests.browser import browser, open_page  # noqa: F401  (fixtures)
from tracker.site import svg
from tracker.site.build import build

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MODEL = "taxi-duration"
# Registered model names may hold anything but '/', '@' and ':'.
EVIL_MODEL = 'x"><script>alert(1)<\\script><img src=x onerror=alert(2)>'
EVIL_RUN = "<svg onload=alert(3)>"
EVIL_DATASET = "</text></svg><script>alert(4)</script>"
EVIL_DESCRIPTION = "<img src=x onerror=alert(5)> [click](javascript:alert(6)) <iframe src=x>"
EVIL_REASON = "<script>alert(7)</script>"
EVIL_TAG = '"><script>alert(8)</script>'


def _log_model(files: dict[str, str]) -> None:
    """A model folder like the flavors write: MLmodel (files and flavors) and the files."""
    for name, content in files.items():
        tracker.log_text(content, f"model/{name}")
    digests = {name: f"{i:02d}" * 32 for i, name in enumerate(sorted(files))}
    tracker.log_dict({"flavors": {"python_function": {}, "sklearn": {}}, "files": digests},
                     "model/MLmodel")


def seed_registry_store(uri: str) -> dict[str, str]:
    """Runs, datasets, a model with an eventful history, a hostile model, a version whose run
    was deleted. Returns names → run ids."""
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("taxi")
    ids: dict[str, str] = {}
    for name, rmse, params in (("lasso", 5.5, {"alpha": 0.1}), ("xgb", 4.2, {"max_depth": 6})):
        with tracker.start_run(run_name=name) as run:
            tracker.log_params(params)
            tracker.log_metric("rmse", rmse)
            tracker.set_tags({"model": name, "mlflow.source.git.commit": COMMIT,
                              "mlflow.source.git.branch": "main"})
            for context, rows in (("training", 30), ("validation", 20)):
                data = tracker.data.from_numpy(np.arange(rows * 2.0).reshape(rows, 2),
                                               source=f"data/{context}.parquet",
                                               name=f"{context}-2021")
                tracker.log_input(data, context=context)
            _log_model({"model.pkl": f"weights of {name}", "requirements.txt": "scikit-learn"})
            ids[name] = run.info.run_id
    with tracker.start_run(run_name=EVIL_RUN) as run:
        tracker.log_metric("rmse", 9.0)
        tracker.set_tag("note", EVIL_TAG)
        tracker.log_input(tracker.data.from_numpy(np.zeros((3, 1)), name=EVIL_DATASET),
                          context=EVIL_TAG)
        ids["evil"] = run.info.run_id
    with tracker.start_run(run_name="gone") as run:
        ids["gone"] = run.info.run_id
    _register(ids)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    return ids


def _register(ids: dict[str, str]) -> None:
    client = tracker.tracking.MlflowClient()
    tracker.register_model(f"runs:/{ids['lasso']}/model", MODEL)
    client.update_registered_model(MODEL, description="Trip **duration** model.")
    client.set_registered_model_tag(MODEL, "team", "rides")
    tracker.register_model(f"runs:/{ids['xgb']}/model", MODEL)
    client.transition_model_version_stage(MODEL, 1, "Production", reason="baseline")
    client.transition_model_version_stage(MODEL, 2, "Staging")
    client.transition_model_version_stage(MODEL, 2, "Production", archive_existing_versions=True,
                                          reason="better rmse")
    client.set_registered_model_alias(MODEL, "champion", 2)
    client.set_registered_model_alias(MODEL, "baseline", 1)
    client.update_model_version(MODEL, 2, description="XGBoost, *tuned*.")
    tracker.register_model(f"runs:/{ids['gone']}/model", MODEL)
    client.delete_run(ids["gone"])
    client.create_registered_model(EVIL_MODEL, tags={"owner": EVIL_TAG},
                                   description=EVIL_DESCRIPTION)
    client.create_model_version(EVIL_MODEL, f"runs:/{ids['evil']}/model", run_id=ids["evil"],
                                description=EVIL_DESCRIPTION)
    client.transition_model_version_stage(EVIL_MODEL, 1, "Staging", reason=EVIL_REASON)
    client.set_registered_model_alias(EVIL_MODEL, "prod", 1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("registry")
    ids = seed_registry_store(str(root / "store"))
    build(str(root / "store"), root / "site")
    return root / "site", ids


def soup_of(out: Path, path: str) -> BeautifulSoup:
    return BeautifulSoup((out / path).read_text(encoding="utf-8"), "html.parser")


def text(element: Any) -> str:
    assert isinstance(element, Tag), element
    return " ".join(element.get_text(" ", strip=True).split())


def model_path(out: Path, name: str) -> str:
    """The model page's path, found from the registry page's link."""
    registry = soup_of(out, "models/index.html")
    anchor = registry.find("a", string=name)
    assert isinstance(anchor, Tag), name
    return posixpath.normpath(posixpath.join("models", str(anchor["href"])))


def resolve(page: str, href: str) -> str:
    """A relative link of ``page`` as a site-root path (fragment dropped)."""
    assert not re.match(r"^[a-z][a-z0-9+.-]*:|^/", href), href
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), href.split("#")[0]))


def assert_no_injection(soup: BeautifulSoup) -> None:
    """No script but the site's own files and JSON data; no event handlers; no javascript: URLs."""
    for script in soup.find_all("script"):
        assert script.get("src") or script.get("type") == "application/json", script
        if script.get("src"):
            assert str(script["src"]).endswith(".js") and "alert" not in str(script["src"])
    for element in soup.find_all(True):
        for attribute, value in element.attrs.items():
            assert not attribute.lower().startswith("on"), element
            if attribute in ("href", "src", "xlink:href"):
                assert not str(value).strip().lower().startswith(("javascript:", "data:")), element
    assert not soup.find_all(["iframe", "object", "embed"])


# -- registry page ---------------------------------------------------------------------------


def test_registry_lists_every_model_with_versions_stages_and_aliases(site: Any) -> None:
    out, ids = site
    soup = soup_of(out, "models/index.html")
    assert text(soup.find("h1")) == "Model registry"
    cards = soup.select("section.model-card")
    assert [text(c.find("h2").find("a")) for c in cards] == sorted([MODEL, EVIL_MODEL])
    card = next(c for c in cards if text(c.find("h2").find("a")) == MODEL)
    heading = card.find("h2")
    assert [text(b) for b in heading.select(".badge-stage-production")] == ["Production: v2"]
    assert [text(b) for b in heading.select(".badge-alias")] == ["@baseline → v1",
                                                                  "@champion → v2"]
    assert text(card.select_one(".description")) == "Trip duration model."
    assert card.select_one(".description strong") is not None
    tags = zip(card.select("dl.tags dt"), card.select("dl.tags dd"))
    assert [(text(dt), text(dd)) for dt, dd in tags] == [("team", "rides")]
    rows = card.select("table.versions tbody tr")
    assert [text(r.find("th")) for r in rows] == ["v3", "v2", "v1"]
    assert [text(r.select_one(".badge[class*=badge-stage-]")) for r in rows] == [
        "None", "Production", "Archived"]
    assert [text(b) for b in rows[1].select(".badge-alias")] == ["@champion"]
    run_link = rows[1].find_all("td")[3].find("a")  # after stage, primary metric, aliases
    assert text(run_link) == "xgb" and resolve("models/index.html", run_link["href"]) == (
        f"runs/{ids['xgb']}.html")
    assert "not in this store" in text(rows[0].find_all("td")[3])


def test_model_page_versions_table(site: Any) -> None:
    out, ids = site
    path = model_path(out, MODEL)
    soup = soup_of(out, path)
    assert text(soup.find("h1")).startswith(MODEL)
    table = soup.select_one("table.versions")
    assert [text(th) for th in table.select("thead th")] == [
        "Version", "Stage", "Primary metric", "Aliases", "Run", "Registered", "By",
        "Description", "Source"]
    rows = table.select("tbody tr")
    assert [r["id"] for r in rows] == ["v3", "v2", "v1"]
    cells = [text(td) for td in rows[1].find_all(["th", "td"])]
    del cells[2]  # the primary metric (tests/test_site_home.py checks it)
    assert cells[:4] == ["v2", "Production", "@champion", "xgb"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", cells[4])
    assert cells[5] == tracker.context.current_user()
    description = rows[1].select_one("td.description")
    assert description.get_text().strip() == "XGBoost, tuned." and description.find("em")
    assert cells[7] == f"runs:/{ids['xgb']}/model"
    version_link = rows[1].find("th").find("a")["href"]
    assert resolve(path, version_link) == f"models/{Path(path).stem}/v2.html"
    assert [text(li) for li in soup.select("ul.aliases li")] == ["@baseline → v1",
                                                                 "@champion → v2"]
    assert [text(dt) for dt in soup.select("dl.tags dt")] == ["team"]


def test_model_page_timeline_in_order_and_in_words(site: Any) -> None:
    out, ids = site
    soup = soup_of(out, model_path(out, MODEL))
    entries = soup.select("ol.timeline li")
    assert [text(li.select_one(".what")) for li in entries] == [
        f"created model {MODEL}",
        f"registered v1 from run {ids['lasso'][:8]}",
        "changed the description",
        "set tag team = rides",
        f"registered v2 from run {ids['xgb'][:8]}",
        "moved v1 to Production",
        "moved v2 to Staging",
        "moved v2 to Production (archived v1)",
        "set alias champion → v2",
        "set alias baseline → v1",
        "changed the description of v2",
        f"registered v3 from run {ids['gone'][:8]}",
    ]
    reasons = [text(li.select_one(".reason")) if li.select_one(".reason") else ""
               for li in entries]
    assert reasons[5] == "— baseline" and reasons[7] == "— better rmse"
    times = [li.find("time")["datetime"] for li in entries]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)
    assert all(text(li.select_one(".who")) == tracker.context.current_user() for li in entries)
    moved = entries[7].select_one(".what a")
    assert moved is not None and moved["href"].endswith("/v2.html")


# -- lineage page ----------------------------------------------------------------------------


def lineage_path(out: Path, name: str, version: int) -> str:
    return f"models/{Path(model_path(out, name)).stem}/v{version}.html"


def test_lineage_page_tables(site: Any) -> None:
    out, ids = site
    path = lineage_path(out, MODEL, 2)
    soup = soup_of(out, path)
    assert text(soup.find("h1")) == f"{MODEL} v2 Production @champion"
    datasets = soup.select("table.datasets tbody tr")
    assert [[text(c) for c in r.find_all(["th", "td"])][:4] for r in datasets] == [
        ["training-2021", "training", datasets[0].find("code").get_text(), "30 rows"],
        ["validation-2021", "validation", datasets[1].find("code").get_text(), "20 rows"],
    ]
    assert all(len(r.find("code").get_text()) == 16 for r in datasets)
    files = [[text(c) for c in r.find_all(["th", "td"])] for r in soup.select("table.files tr")[1:]]
    assert files == [["model.pkl", "00" * 32], ["requirements.txt", "01" * 32]]
    assert "flavors: python_function, sklearn" in text(soup.find("main"))
    assert [[text(c) for c in r.find_all(["th", "td"])] for r in
            soup.select("table.params tbody tr")] == [["max_depth", "6"]]
    assert [[text(c) for c in r.find_all(["th", "td"])] for r in
            soup.select("table.metrics tbody tr")] == [["rmse", "4.2"]]
    run = soup.select_one("#h-run").find_parent("section")
    assert COMMIT in text(run) and "on main" in text(run)
    assert resolve(path, run.find("a", string="xgb")["href"]) == f"runs/{ids['xgb']}.html"
    assert [text(li.select_one(".what")) for li in soup.select("ol.timeline li")] == [
        f"created model {MODEL}", f"registered v2 from run {ids['xgb'][:8]}",
        "moved v2 to Staging", "moved v2 to Production", "set alias champion → v2",
        "changed the description of v2"]
    archived = soup_of(out, lineage_path(out, MODEL, 1))
    texts = [text(li) for li in archived.select("ol.timeline li")]
    assert any("archived v1" in t and "when version 2 moved to Production" in t for t in texts)


def test_lineage_svg_nodes_link_to_pages_of_the_site(site: Any) -> None:
    out, ids = site
    path = lineage_path(out, MODEL, 2)
    graph = soup_of(out, path).select_one("svg.lineage-graph")
    assert graph is not None and graph.get("aria-label") == f"Lineage of {MODEL} version 2"
    nodes = graph.select("g.node")
    kinds = [next(c for c in n["class"] if c.startswith("node-")) for n in nodes]
    assert kinds == ["node-dataset", "node-dataset", "node-code", "node-experiment", "node-run",
                     "node-files", "node-version", "node-stage-production", "node-alias"]
    titles = [text(n.select_one("text.node-title")) for n in nodes]
    assert titles == ["training-2021", "validation-2021", f"git {COMMIT[:10]}", "taxi", "xgb",
                      "model", f"{MODEL} v2", "stage: Production", "@champion"]
    targets = {}
    for node in nodes:
        anchor = node.parent
        assert anchor.name == "a", node
        targets[text(node.select_one("text.node-title"))] = resolve(path, anchor["href"])
    for target in targets.values():
        assert (out / target).is_file(), target
    assert targets["xgb"] == f"runs/{ids['xgb']}.html"
    assert targets["taxi"].startswith("experiments/")
    assert targets["@champion"] == model_path(out, MODEL)
    assert len(graph.select("path.edge")) == 4 + 1 + 1 + 2


def test_lineage_of_a_version_whose_run_was_deleted(site: Any) -> None:
    out, ids = site
    soup = soup_of(out, lineage_path(out, MODEL, 3))
    run_node = soup.select_one("svg g.node-run")
    assert run_node.parent.name != "a"
    assert [t.get_text() for t in run_node.find_all("text")] == [f"run {ids['gone'][:8]}",
                                                                 "not in this store"]
    assert "not in this store" in text(soup.select_one("#h-run").find_parent("section"))
    assert soup.select("table.datasets") == [] and soup.select("table.files") == []


# -- hostile text ----------------------------------------------------------------------------


def test_store_text_is_escaped_in_registry_model_and_lineage_pages(site: Any) -> None:
    out, ids = site
    model_page = model_path(out, EVIL_MODEL)
    pages = ["models/index.html", model_page, lineage_path(out, EVIL_MODEL, 1), "index.html"]
    for page in pages:
        raw = (out / page).read_text(encoding="utf-8")
        assert "<script>alert" not in raw and "<img src=x" not in raw
        soup = BeautifulSoup(raw, "html.parser")
        assert_no_injection(soup)
    soup = soup_of(out, model_page)
    assert text(soup.find("h1")).startswith(EVIL_MODEL)
    assert soup.select_one("ol.timeline .reason").get_text(strip=True) == f"— {EVIL_REASON}"
    assert [text(dd) for dd in soup.select("dl.tags dd")] == [EVIL_TAG]
    description = soup.select_one("div.description")
    assert description.find("img") is None or not description.find("img").get("onerror")
    assert description.find("a") is None or not description.find("a").get("href")


def test_store_text_is_escaped_in_the_lineage_svg(site: Any) -> None:
    out, ids = site
    raw = (out / lineage_path(out, EVIL_MODEL, 1)).read_text(encoding="utf-8")
    start, end = raw.index("<svg"), raw.index("</svg>") + len("</svg>")
    fragment = raw[start:end]
    assert fragment.count("<svg") == 1 and fragment.count("</svg>") == 1
    assert "<script" not in fragment and "</text></svg>" not in fragment.replace(
        "</text></g>", "")
    soup = BeautifulSoup(raw, "html.parser")
    graph = soup.select_one("svg.lineage-graph")
    tooltips = [t.get_text() for t in graph.find_all("title")]
    assert any(EVIL_DATASET in t for t in tooltips)
    assert any(text(t) == EVIL_RUN for t in graph.select("text.node-title"))
    assert_no_injection(soup)


def test_graph_svg_escapes_text_and_refuses_unsafe_links() -> None:
    nodes = [
        [svg.Node("a", 'x" onclick="alert(1)', '<script>alert("t")</script>', ("a & b\x00",),
                  "javascript:alert(1)")],
        [svg.Node("b", "run", "ok", (), "../runs/abc def.html#frag")],
    ]
    first = svg.graph_svg(nodes, [("a", "b"), ("a", "missing")], 'label "<x>"')
    assert first == svg.graph_svg(nodes, [("a", "b"), ("a", "missing")], 'label "<x>"')
    soup = BeautifulSoup(str(first), "html.parser")
    assert soup.find("script") is None
    assert all(not k.startswith("on") for el in soup.find_all(True) for k in el.attrs)
    assert soup.find("svg")["aria-label"] == 'label "<x>"'
    assert [a["href"] for a in soup.find_all("a")] == ["../runs/abc%20def.html#frag"]
    assert "node-x--onclick--alert-1-" in str(first)
    assert text(soup.select_one("g.node text.node-line")) == "a & b"
    assert len(soup.select("path.edge")) == 1
    assert svg.safe_href("//evil.example/x") is None and svg.safe_href(" javascript:x") is None


def test_truncated_text_keeps_the_full_text_as_tooltip() -> None:
    long = "a" * 100
    graph = BeautifulSoup(str(svg.graph_svg([[svg.Node("n", "run", long)]], [], "g")),
                          "html.parser")
    shown = graph.select_one("text.node-title").get_text()
    assert shown.endswith("…") and len(shown) < 40
    assert graph.find("title").get_text() == long


# -- in Chromium -----------------------------------------------------------------------------


@pytest.mark.browser
def test_lineage_graph_is_visible_and_a_node_click_navigates(
    site: Any, open_page: Any  # noqa: F811
) -> None:
    out, ids = site
    page, errors = open_page(out / lineage_path(out, MODEL, 2))
    graph = page.locator("svg.lineage-graph")
    assert graph.is_visible()
    box = graph.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 100
    node = page.locator("svg.lineage-graph a:has(g.node-run)")
    assert node.is_visible()
    with page.expect_navigation():
        node.click()
    assert page.url.endswith(f"/runs/{ids['xgb']}.html")
    page.go_back()
    with page.expect_navigation():
        page.locator("svg.lineage-graph a:has(g.node-alias)").click()
    assert page.url.endswith("/" + model_path(out, MODEL))
    assert page.locator("h1").inner_text().startswith(MODEL)
    assert errors == []

