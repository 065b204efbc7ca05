"""Site search (#5): the index script (one entry per experiment, run, param/tag key, model,
version, alias and report; every path a file of the site; small for 10,000 runs), the header
search box on every page, and type-ahead in Chromium."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from bs4 import BeautifulSoup

from tests.browser import browser, open_page  # noqa: F401  (fixtures)
from tests.conftest import write_files
from tests.test_site_registry import EVIL_MODEL, MODEL, seed_registry_store
from tracker.site.build import build
from tracker.site.pages import search
from tracker.site.urls import Urls

PREFIX = "window.TRACKER_SEARCH = "
REPORT = "---\ntitle: Weekly review\ndescription: What changed this week.\n---\nBody.\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("search")
    ids = seed_registry_store(str(root / "store"))
    folder = write_files(root / "reports", {"weekly.md": REPORT})
    build(str(root / "store"), root / "site", reports=str(folder))
    return root / "site", ids


def load_index(out: Path) -> list[list[str]]:
    raw = (out / "assets" / "search-index.js").read_text(encoding="utf-8")
    assert raw.startswith(PREFIX) and raw.endswith(";\n")
    entries = json.loads(raw[len(PREFIX):-2])
    assert all(isinstance(e, list) and len(e) == 4 and all(isinstance(x, str) for x in e)
               for e in entries)
    return entries


def test_index_has_every_kind_and_every_path_exists(site: Any) -> None:
    out, ids = site
    entries = load_index(out)
    by_kind: dict[str, list[list[str]]] = {}
    for entry in entries:
        by_kind.setdefault(entry[0], []).append(entry)
    assert sorted(by_kind) == ["alias", "experiment", "model", "param", "report", "run", "tag",
                               "version"]
    for kind, label, _extra, path in entries:
        assert not path.startswith(("/", "http")) and (out / path).is_file(), (kind, label, path)
    assert [e[1] for e in by_kind["experiment"]] == ["taxi"]
    runs = {e[1]: e for e in by_kind["run"]}
    assert sorted(runs) == sorted(["lasso", "xgb", "<svg onload=alert(3)>"])  # "gone" deleted
    assert runs["xgb"][3] == f"runs/{ids['xgb']}.html"
    assert runs["xgb"][2] == f"{ids['xgb']} taxi xgb"  # id, experiment, user tag values
    assert ids["xgb"] in runs["xgb"][2] and "main" not in runs["xgb"][2]  # no system tags
    assert ["alpha", "param in taxi"] in [e[1:3] for e in by_kind["param"]]
    assert "mlflow.source.git.commit" in [e[1] for e in by_kind["tag"]]
    assert sorted(e[1] for e in by_kind["model"]) == sorted([MODEL, EVIL_MODEL])
    assert sorted(e[1] for e in by_kind["alias"]) == sorted(
        [f"{MODEL}@baseline", f"{MODEL}@champion", f"{EVIL_MODEL}@prod"])
    champion = next(e for e in by_kind["alias"] if e[1] == f"{MODEL}@champion")
    assert champion[2] == "→ v2" and champion[3].endswith("/v2.html")
    versions = {e[1]: e for e in by_kind["version"]}
    assert versions[f"{MODEL} v2"][2] == f"Production @champion run {ids['xgb']}"
    assert by_kind["report"] == [["report", "Weekly review", "What changed this week.",
                                  "reports/weekly.html"]]


def test_index_is_deterministic(site: Any, tmp_path: Path) -> None:
    out, _ = site
    first = (out / "assets" / "search-index.js").read_bytes()
    again = build(str(out.parent / "store"), tmp_path / "again",
                  reports=str(out.parent / "reports"))
    assert again.warnings == []
    assert (tmp_path / "again" / "assets" / "search-index.js").read_bytes() == first


def test_every_page_loads_the_search_scripts_relative_to_itself(site: Any) -> None:
    out, _ = site
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        box = soup.select_one("header form.search input#site-search")
        assert box is not None and box.has_attr("disabled"), page  # enabled by search.js
        assert box["aria-controls"] == "search-results"
        scripts = [s for s in soup.find_all("script", src=True) if "search" in s["src"]]
        assert [s.has_attr("defer") for s in scripts] == [True, True], page
        rel = page.relative_to(out).as_posix()
        targets = [posixpath.normpath(posixpath.join(posixpath.dirname(rel), s["src"]))
                   for s in scripts]
        assert targets == ["assets/search-index.js", "assets/search.js"], page
        root = soup.body["data-root"]
        assert posixpath.normpath(posixpath.join(posixpath.dirname(rel), root or ".")) == "."


def test_index_stays_small_for_10000_runs() -> None:
    """10,000 runs with long names and the usual tags: well under 3 MB."""
    experiments = [{"experiment_id": str(i), "name": f"experiment-{i}"} for i in range(5)]
    runs = [{"run_id": f"{i:032x}", "experiment_id": str(i % 5),
             "run_name": f"xgboost-trial-{i:05d}-tuned"} for i in range(10_000)]
    tags = {r["run_id"]: {"mlflow.source.git.commit": "f" * 40, "mlflow.user": "someone",
                          "mlflow.source.name": "/home/someone/project/train.py",
                          "model": "xgboost", "developer": "someone", "dataset": "green-2021-01",
                          "note": "x" * 200} for r in runs}
    params = {r["run_id"]: {f"param_{k}": "0.1" for k in range(20)} for r in runs}
    by_experiment: dict[str, list[dict[str, Any]]] = {e["experiment_id"]: [] for e in experiments}
    for run in runs:
        by_experiment[run["experiment_id"]].append(run)
    tables = {"tags": tags, "params": params}

    def keys(eid: str, table: str) -> list[str]:
        return sorted({k for r in by_experiment[eid] for k in tables[table][r["run_id"]]})

    def tagged_runs(eid: str, word: str, exclude: tuple[str, ...] = ()) -> list[int]:
        return [i for i, r in enumerate(by_experiment[eid])
                if any(not k.startswith(exclude) for k in tags[r["run_id"]])]

    fake = SimpleNamespace(
        experiments=experiments, runs=runs, tags=tags, params=params,
        runs_by_experiment=by_experiment, models=[], reports_dir=None,
        urls=Urls({e["experiment_id"]: e["name"] for e in experiments}),
        experiment_name=lambda eid: f"experiment-{eid}", keys=keys, tagged_runs=tagged_runs,
        run_columns=lambda eid: {k: [r.get(k) for r in by_experiment[eid]]
                                 for k in ("run_id", "run_name")},
    )
    data = search.index_script(search.entries(fake))  # type: ignore[arg-type]
    assert len(data) < 2_000_000, len(data)
    entries = json.loads(data.decode()[len(PREFIX):-2])
    assert len([e for e in entries if e[0] == "run"]) == 10_000
    assert max(len(e[2]) for e in entries) < 32 + 14 + 3 * 41


# -- in Chromium -----------------------------------------------------------------------------


def lineage_page(out: Path) -> Path:
    pages = sorted((out / "models").glob("taxi-duration/v2.html"))
    assert pages, "no lineage page"
    return pages[0]


@pytest.mark.browser
def test_typing_shows_results_and_enter_opens_the_first(
    site: Any, open_page: Any  # noqa: F811
) -> None:
    out, ids = site
    page, errors = open_page(lineage_page(out))  # two folders deep: links must be relative
    box = page.locator("#site-search")
    assert box.is_enabled()
    box.fill("lass")
    results = page.locator("#search-results li")
    assert page.locator("#search-results").is_visible()
    assert results.first.inner_text().startswith("RUN")
    assert "lasso" in results.first.inner_text()
    assert results.first.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-expanded") == "true"
    with page.expect_navigation():
        box.press("Enter")
    assert page.url.endswith(f"/runs/{ids['lasso']}.html")
    assert errors == []


@pytest.mark.browser
def test_arrow_keys_escape_and_no_matches(site: Any, open_page: Any) -> None:  # noqa: F811
    out, _ = site
    page, errors = open_page(out / "index.html")
    box = page.locator("#site-search")
    box.fill("champion")
    options = page.locator("#search-results li[role=option]")
    labels = options.all_inner_texts()
    assert len(labels) >= 2 and any("taxi-duration@champion" in t for t in labels)
    box.press("ArrowDown")
    assert options.nth(1).get_attribute("aria-selected") == "true"
    assert options.nth(0).get_attribute("aria-selected") == "false"
    assert box.get_attribute("aria-activedescendant") == "search-result-1"
    target = options.nth(1).get_attribute("data-href")
    with page.expect_navigation():
        box.press("Enter")
    assert page.url.endswith("/" + posixpath.normpath(str(target)))
    page.go_back()
    box = page.locator("#site-search")
    box.fill("zzz-nothing-like-this")
    assert page.locator("#search-results li").all_inner_texts() == [
        "No matches for “zzz-nothing-like-this”"]
    box.press("Escape")
    assert page.locator("#search-results").is_hidden()
    assert box.get_attribute("aria-expanded") == "false"
    box.fill("<svg onload")
    assert "<svg onload=alert(3)>" in page.locator("#search-results").inner_text()
    assert page.locator("#search-results svg").count() == 0
    page.locator("h1").click()
    assert page.locator("#search-results").is_hidden()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-search"
    assert errors == []
