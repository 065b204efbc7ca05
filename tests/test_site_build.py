"""``tracker build`` and ``tracker serve`` as a whole: deterministic and incremental output,
``--strict``, theme overrides, assets, a link checker over the whole built site, and the
development server (#5).

``seed_site_store`` and the link-checking helpers here are shared by the other site tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from tests import browser as browser_fixtures
from tests.conftest import write_files
from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.site import build as build_module
from tracker.site.build import BuildError, build
from tracker.site.writer import FOLDERS, MANIFEST

browser, open_page = browser_fixtures.browser, browser_fixtures.open_page  # fixtures

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
HOUR = 3_600_000
COMMITS = ("a1a1a1a1" + "0" * 32, "b2b2b2b2" + "0" * 32, "c3c3c3c3" + "0" * 32)
EPOCH = "1700000000"  # SOURCE_DATE_EPOCH used by the tests that need a fixed footer


# -- a small store with every kind of content ----------------------------------------------


def _log_run(
    client: TrackerClient, experiment_id: str, name: str, start: int,
    metrics: dict[str, list[float]], params: dict[str, Any], *, commit: str | None = None,
    parent: str | None = None, status: str = "FINISHED",
) -> str:
    """One finished run: metric histories (one point per step), params and a git commit tag."""
    tags = {"mlflow.source.git.commit": commit} if commit else None
    run_id = client.create_run(experiment_id, start_time=start, run_name=name, tags=tags,
                               parent_run_id=parent).info.run_id
    for key, value in sorted(params.items()):
        client.log_param(run_id, key, value)
    for key, values in sorted(metrics.items()):
        for step, value in enumerate(values):
            client.log_metric(run_id, key, value, timestamp=start + 1000 * (step + 1), step=step)
    client.set_terminated(run_id, status, end_time=start + 65_000)
    return run_id


def seed_site_store(uri: str) -> dict[str, str]:
    """A store with three experiments, a sweep with trials, artifacts and a registered model.

    Experiment ``nyc-taxi`` (ranked by rmse, lowest best; accuracy highest best):

    ===========  ========  =====  ========  ======  ==================================
    run          parent    rmse   accuracy  commit  notes
    ===========  ========  =====  ========  ======  ==================================
    lasso                  5.5    0.70      a1      baseline, two rmse steps (6.0, 5.5)
    xgb-sweep              4.2    0.88      b2      parent of the three trials
    trial-0      sweep     4.5    0.85      b2
    trial-1      sweep     3.9    0.80      b2      best rmse
    trial-2      sweep     4.8    0.95      b2      best accuracy
    retrain                4.6    0.86      c3      regression vs b2; has artifacts
    broken                                          FAILED, no metrics
    ===========  ========  =====  ========  ======  ==================================

    ``beta`` has two runs with ``loss``; ``empty`` has none. Model ``taxi-duration``: v1 from
    lasso, v2 from retrain (Production, alias ``champion``).
    """
    client = TrackerClient(uri)
    taxi = client.create_experiment("nyc-taxi")
    beta = client.create_experiment("beta")
    empty = client.create_experiment("empty")
    ids: dict[str, str] = {"nyc-taxi": taxi, "beta": beta, "empty": empty}
    ids["lasso"] = _log_run(client, taxi, "lasso", T0, {"rmse": [6.0, 5.5], "accuracy": [0.70]},
                            {"model": "lasso", "alpha": 0.1}, commit=COMMITS[0])
    ids["xgb-sweep"] = sweep = _log_run(
        client, taxi, "xgb-sweep", T0 + HOUR, {"rmse": [4.2], "accuracy": [0.88]},
        {"model": "xgboost"}, commit=COMMITS[1])
    for i, (rmse, acc) in enumerate([(4.5, 0.85), (3.9, 0.80), (4.8, 0.95)]):
        ids[f"trial-{i}"] = _log_run(
            client, taxi, f"trial-{i}", T0 + HOUR + (i + 1) * 60_000,
            {"rmse": [rmse + 1, rmse], "accuracy": [acc]},
            {"model": "xgboost", "max_depth": 3 + i, "learning_rate": (0.1, 0.2, 0.3)[i]},
            commit=COMMITS[1], parent=sweep)
    ids["retrain"] = retrain = _log_run(
        client, taxi, "retrain", T0 + 2 * HOUR, {"rmse": [4.6], "accuracy": [0.86]},
        {"model": "xgboost", "max_depth": 4}, commit=COMMITS[2])
    client.log_text(retrain, "# Notes\n\nRetrained on all data.\n", "notes/readme.md")
    client.log_dict(retrain, {"max_depth": 4, "objective": "reg:squarederror"}, "config.json")
    ids["broken"] = _log_run(client, taxi, "broken", T0 + 3 * HOUR, {}, {"model": "lasso"},
                             status="FAILED")
    for i, loss in enumerate([0.5, 0.25]):
        ids[f"beta-{i}"] = _log_run(client, beta, f"beta-{i}", T0 + (4 + i) * HOUR,
                                    {"loss": [1.0, loss]}, {"lr": 0.01 * (i + 1)})
    client.create_registered_model("taxi-duration", description="Trip **duration** model.")
    client.create_model_version("taxi-duration", f"runs:/{ids['lasso']}/model",
                                run_id=ids["lasso"])
    client.create_model_version("taxi-duration", f"runs:/{retrain}/model", run_id=retrain)
    client.transition_model_version_stage("taxi-duration", 2, "Production", reason="better rmse")
    client.set_registered_model_alias("taxi-duration", "champion", 2)
    client.flush()
    return ids


REPORT = """# Weekly review

The sweep beat the baseline. See the [home page](../index.html).

| model | rmse |
| --- | --- |
| lasso | 5.5 |
"""


@pytest.fixture(scope="module")
def site_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """The seeded store (module-scoped: the tests here only read it or copy it)."""
    uri = str(tmp_path_factory.mktemp("site-store") / "store")
    return uri, seed_site_store(uri)


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_files(tmp_path_factory.mktemp("reports"), {"weekly-review.md": REPORT})


def site_files(out: Path) -> dict[str, bytes]:
    """Every file of a built site (manifest included) by site path, but the folders' times
    the build keeps for the next one (``writer.FOLDERS``: machine-local)."""
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != FOLDERS}


# -- the link checker ----------------------------------------------------------------------

_URL_ATTRIBUTES = ("href", "src", "srcset", "poster", "data", "action", "formaction", "xlink:href")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def page_urls(site: Path) -> Iterator[tuple[str, str, str, str]]:
    """(page, tag, attribute, URL) of every URL-bearing attribute in every HTML page, and
    (stylesheet, "css", "url", URL) of every ``url(…)`` in the stylesheets."""
    for page in sorted(site.rglob("*.html")):
        rel = page.relative_to(site).as_posix()
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for element in soup.find_all(True):
            for attr in _URL_ATTRIBUTES:
                value = element.get(attr)
                if value is None:
                    continue
                values = [v.strip().split()[0] for v in str(value).split(",") if v.strip()] \
                    if attr == "srcset" else [str(value)]
                for url in values:
                    yield rel, element.name, attr, url
    for sheet in sorted(site.rglob("*.css")):
        for url in _CSS_URL.findall(sheet.read_text(encoding="utf-8")):
            yield sheet.relative_to(site).as_posix(), "css", "url", url


def link_problems(site: Path) -> list[str]:
    """Every internal link with no target file, and every external URL the page would load.

    External ``<a href>`` links (e.g. to a GitHub commit) are fine: they are followed, not
    loaded. Fragments and query strings are ignored; paths are resolved relative to the page.
    """
    problems = []
    for page, tag, attr, raw in page_urls(site):
        url = raw.strip()
        where = f"{page}: <{tag} {attr}={raw!r}>"
        scheme = _SCHEME.match(url)
        if url.startswith("//") or (scheme and scheme.group(1).lower() in ("http", "https")):
            if not (tag == "a" and attr == "href"):
                problems.append(f"{where} loads an external URL")
            continue
        if scheme:
            name = scheme.group(1).lower()
            if name == "mailto" and tag == "a" or name == "data" and tag in ("img", "css"):
                continue
            problems.append(f"{where} has a {name}: URL")
            continue
        path = unquote(urlsplit(url).path)
        if not path:
            continue  # "#fragment" or "?query" on the same page
        if path.startswith("/"):
            problems.append(f"{where} is root-absolute (breaks under a Pages sub-path)")
            continue
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
        if target == ".." or target.startswith("../"):
            problems.append(f"{where} points outside the site")
        elif not (site / target).is_file():
            problems.append(f"{where} has no target file {target}")
    return problems


def test_the_link_checker_finds_every_kind_of_problem(tmp_path: Path) -> None:
    site = write_files(tmp_path, {
        "index.html": (
            '<a href="runs/a.html#metrics">ok</a><a href="runs/a.html?x=1">ok</a>'
            '<a href="#top">ok</a><a href="https://github.com/o/r/commit/1">ok</a>'
            '<a href="mailto:a@example.com">ok</a><img src="data:image/png;base64,AA">'
            '<a href="runs/missing.html">1</a><img src="https://cdn.example.com/x.png">'
            '<script src="//cdn.example.com/x.js"></script><a href="/abs.html">3</a>'
            '<a href="../outside.html">4</a><a href="javascript:alert(1)">5</a>'
            '<link rel="stylesheet" href="http://fonts.example.com/f.css">'
            '<a href="runs/a%20b.html">ok</a><img srcset="runs/x.png 1x, runs/y.png 2x">'
        ),
        "runs/a.html": '<a href="../index.html">ok</a><a href="b/../a.html">ok</a>',
        "runs/a b.html": "",
        "runs/x.png": b"",
        "assets/site.css": "body { background: url('../runs/gone.png') }",
    })
    problems = link_problems(site)
    expected = [
        "index.html: <a href='runs/missing.html'> has no target file runs/missing.html",
        "index.html: <img src='https://cdn.example.com/x.png'> loads an external URL",
        "index.html: <script src='//cdn.example.com/x.js'> loads an external URL",
        "index.html: <a href='/abs.html'> is root-absolute (breaks under a Pages sub-path)",
        "index.html: <a href='../outside.html'> points outside the site",
        "index.html: <a href='javascript:alert(1)'> has a javascript: URL",
        "index.html: <link href='http://fonts.example.com/f.css'> loads an external URL",
        "index.html: <img srcset='runs/y.png'> has no target file runs/y.png",
        "assets/site.css: <css url='../runs/gone.png'> has no target file runs/gone.png",
    ]
    assert sorted(problems) == sorted(expected)


# -- builds --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(site_store: tuple[str, dict[str, str]], reports_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded store built once, with a report, strictly."""
    out = tmp_path_factory.mktemp("built") / "site"
    build(site_store[0], out, reports=reports_dir, strict=True)
    return out


def test_every_internal_link_has_a_target_and_nothing_is_loaded_from_outside(built: Path) -> None:
    assert (built / "index.html").is_file()
    assert link_problems(built) == []


def test_the_example_store_builds_strictly_through_the_cli(
    site_store: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./reports of the checkout
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["--store", site_store[0], "build", "--out", str(out),
                                      "--strict"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"Built \d+ pages into .+ in [\d.]+ s \(\d+ files written, 0 unchanged, 0 removed\)\.\n",
        result.stdout,
    ), result.stdout
    assert "warning" not in result.stderr
    assert (out / "index.html").is_file()


def test_two_builds_of_one_store_are_byte_identical(
    site_store: tuple[str, dict[str, str]], reports_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = build(site_store[0], tmp_path / "a", reports=reports_dir)
    second = build(site_store[0], tmp_path / "b", reports=reports_dir)
    a, b = site_files(tmp_path / "a"), site_files(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []
    assert first.pages == second.pages > 0
    assert sorted(first.written) == sorted(second.written) == sorted(
        name for name in a if not name.startswith(".tracker-"))  # not the manifest and cache


def test_without_source_date_epoch_the_footer_shows_the_newest_data(
    site_store: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    build(site_store[0], tmp_path / "site")
    stamp = _footer_time(tmp_path / "site" / "index.html")
    # The newest run (beta-1) ended at T0 + 5 h + 65 s: no wall-clock time in the output.
    assert stamp == "2026-01-01T05:01:05+00:00"


def test_source_date_epoch_sets_the_home_page_footer_and_no_other_page_has_a_time(
    site_store: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    build(site_store[0], tmp_path / "site")
    pages = sorted((tmp_path / "site").rglob("*.html"))
    assert pages
    assert _footer_time(tmp_path / "site" / "index.html") == "2023-11-14T22:13:20+00:00"
    # Only the home page carries the time, so a new run does not change every page.
    for page in pages:
        if page.name != "index.html" or page.parent != tmp_path / "site":
            soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
            assert soup.select_one("footer time") is None, page


def _footer_time(page: Path) -> str:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    stamp = soup.select_one("footer time")
    assert stamp is not None, page
    assert stamp.get_text(strip=True) == stamp["datetime"]
    return str(stamp["datetime"])


def test_plotly_is_shipped_once_and_no_asset_is_duplicated(built: Path) -> None:
    files = site_files(built)
    vendor = [name for name in files if name.startswith("assets/vendor/")]
    plotly = [name for name in vendor if "plotly" in name]
    assert plotly == [build_module.plotly_asset_name()]
    assert re.fullmatch(r"assets/vendor/plotly-\d+\.\d+\.\d+\.[0-9a-f]{10}\.min\.js", plotly[0])
    assert files[plotly[0]] == build_module.plotly_asset()[1]
    assert [n for n in files if "plotly" in n.lower() and n.endswith(".js")] == plotly
    digests: dict[str, list[str]] = {}
    for name, data in files.items():
        if len(data) > 1024 and not name.endswith((".html", ".csv", ".json")):
            digests.setdefault(hashlib.sha256(data).hexdigest(), []).append(name)
    assert [names for names in digests.values() if len(names) > 1] == []
    for theme_asset in ("assets/site.css", "assets/site.js"):
        assert theme_asset in files
    for page in built.rglob("*.html"):  # every page that loads plotly.js loads that one file
        for src in re.findall(r'<script[^>]* src="([^"]*plotly[^"]*)"', page.read_text("utf-8")):
            target = posixpath.normpath(posixpath.join(
                posixpath.dirname(page.relative_to(built).as_posix()), src))
            assert target == plotly[0], (page, src)


def test_base_context_is_what_template_base_context_documents(
    site_store: tuple[str, dict[str, str]],
) -> None:
    from tracker.registry import Registry
    from tracker.site import render
    from tracker.site.data import SiteData

    client = TrackerClient(site_store[0])
    site = SiteData(client.query, Registry(client.store))
    base = build_module._base_context(site, "T", "")
    assert set(base) | {"page_path"} == set(render.TEMPLATE_BASE_CONTEXT)


def test_a_missing_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="No store at .*nowhere"):
        build(str(tmp_path / "nowhere"), tmp_path / "site")
    assert not (tmp_path / "nowhere").exists()


# -- incremental builds ----------------------------------------------------------------------


@pytest.fixture
def own_store(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A fresh copy of the seeded store that a test may add runs to."""
    uri = str(tmp_path / "store")
    return uri, seed_site_store(uri)


def test_a_second_build_writes_nothing(
    own_store: tuple[str, dict[str, str]], reports_dir: Path, tmp_path: Path,
) -> None:
    out = tmp_path / "site"
    first = build(own_store[0], out, reports=reports_dir)
    before = site_files(out)
    second = build(own_store[0], out, reports=reports_dir)
    assert first.written and first.removed == []
    assert second.written == [] and second.removed == []
    # every file but the manifest and the build cache
    assert second.unchanged == len([f for f in before if not f.startswith(".tracker-")])
    assert site_files(out) == before


def _affected_by(files: set[str], run_id: str, experiment_page: str) -> tuple[set[str], set[str]]:
    """(must be rewritten, may be rewritten) when ``run_id`` of that experiment changes."""
    stem = experiment_page[: -len(".html")]
    must = {name for name in files if run_id in name} | {"index.html", experiment_page}
    may = {name for name in files if name.startswith(stem)}
    may |= {"assets/search-index.js", "assets/search-index.json", "changes.html"}
    return must, may


@pytest.mark.parametrize("epoch", [EPOCH, None], ids=["SOURCE_DATE_EPOCH", "data-time"])
def test_a_new_run_rewrites_only_its_pages_and_its_experiment(
    own_store: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    epoch: str | None,
) -> None:
    if epoch is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    uri, ids = own_store
    out = tmp_path / "site"
    build(uri, out)
    experiment_page = _experiment_page(out, "nyc-taxi")
    client = TrackerClient(uri)
    # The newest run of the store (as new runs are): "data as of" in the footer moves.
    new = _log_run(client, ids["nyc-taxi"], "late-run", T0 + 6 * HOUR,
                   {"rmse": [4.4], "accuracy": [0.87]}, {"model": "xgboost", "max_depth": 5},
                   commit=COMMITS[2])
    client.flush()
    result = build(uri, out)
    files = set(site_files(out))
    must, may = _affected_by(files, new, experiment_page)
    assert must <= set(result.written), sorted(must - set(result.written))
    assert set(result.written) <= must | may, sorted(set(result.written) - must - may)
    # only the replaced version of the experiment's content-named filter data (#14)
    stem = re.escape(experiment_page[: -len(".html")])
    assert len(result.removed) == 1, result.removed
    assert re.fullmatch(stem + r"\.filter-[0-9a-f]{16}\.js", result.removed[0])
    assert "late-run" in (out / experiment_page).read_text(encoding="utf-8")


def test_a_deleted_run_disappears_and_its_pages_are_removed(
    own_store: tuple[str, dict[str, str]], tmp_path: Path,
) -> None:
    uri, ids = own_store
    out = tmp_path / "site"
    build(uri, out)
    victim = ids["retrain"]
    before = {name for name in site_files(out) if victim in name}
    experiment_page = _experiment_page(out, "nyc-taxi")
    assert f'data-run="{victim}"' in (out / experiment_page).read_text(encoding="utf-8")
    TrackerClient(uri).delete_run(victim)
    result = build(uri, out)
    chunk = re.compile(re.escape(experiment_page[: -len(".html")]) + r"\.filter-[0-9a-f]{16}\.js")
    replaced = [name for name in result.removed if chunk.fullmatch(name)]  # its new version: #14
    assert len(replaced) == 1 and set(result.removed) - set(replaced) == before
    assert [name for name in site_files(out) if victim in name] == []
    assert all(not (out / name).exists() for name in before)
    assert f'data-run="{victim}"' not in (out / experiment_page).read_text(encoding="utf-8")
    assert experiment_page in result.written and "index.html" in result.written


def _mutations(client: TrackerClient, ids: dict[str, str]) -> Iterator[str]:
    """Changes a run's page depends on, one at a time (each yields what it changed)."""
    client.set_tag(ids["lasso"], "team", "forecasting")
    yield "a tag"
    client.log_metric(ids["trial-1"], "rmse", 3.7, timestamp=T0 + 2 * HOUR, step=2)
    yield "a new metric point"
    _log_run(client, ids["nyc-taxi"], "trial-3", T0 + HOUR + 4 * 60_000,
             {"rmse": [4.0, 3.8]}, {"model": "xgboost"}, parent=ids["xgb-sweep"])
    yield "a new child of the sweep"
    client.set_tag(ids["trial-0"], "mlflow.runName", "trial-zero")
    yield "a renamed child"
    client.create_model_version("taxi-duration", f"runs:/{ids['trial-1']}/model",
                                run_id=ids["trial-1"])
    yield "a model version from a run"
    client.transition_model_version_stage("taxi-duration", 3, "Staging")
    yield "a stage change"
    client.log_text(ids["beta-0"], "hello", "notes.txt")
    yield "an artifact"
    # What a run's page shows of other runs (#14: the fingerprints hash those apart).
    client.update_run(ids["xgb-sweep"], name="xgb-sweep-2")
    yield "a renamed sweep parent"
    client.set_tag(ids["retrain"], "retrained_from", ids["lasso"])
    yield "a retrained-from tag"
    client.update_run(ids["lasso"], name="lasso-2")
    yield "a renamed run another was retrained from"
    client.log_param(ids["lasso"], "solver", "saga")
    yield "a new param"
    client.delete_tag(ids["lasso"], "team")
    yield "a deleted tag"
    client.set_registered_model_alias("taxi-duration", "shadow", 1)
    yield "a new alias of a version"
    _log_run(client, ids["nyc-taxi"], "champion", T0 + 5 * HOUR, {"rmse": [1.0]},
             {"model": "xgboost"})
    yield "a new best run (the best marks move)"
    client.delete_run(ids["trial-2"])
    yield "a deleted child"


def test_an_incremental_rebuild_equals_a_fresh_build_after_each_kind_of_change(
    own_store: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    uri, ids = own_store
    out = tmp_path / "site"
    build(uri, out)
    client = TrackerClient(uri)
    for number, change in enumerate(_mutations(client, ids)):
        client.flush()
        # The Changes page and "Since the last build" depend on the previous build's state:
        # the fresh build starts from the same state (and only that) to be comparable.
        fresh = tmp_path / f"fresh-{number}"
        (fresh / ".tracker-cache").mkdir(parents=True)
        shutil.copy(out / ".tracker-cache" / "changes.json", fresh / ".tracker-cache")
        result = build(uri, out)
        build(uri, fresh)
        assert site_files(out) == site_files(fresh), change
        # Only the groups (runs, sweeps, data chunks) the change touched were collected
        # again; the rest were kept.
        groups = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["groups"]
        assert 0 < result.reused_groups < len(groups), change


def test_a_damaged_build_cache_only_costs_time(
    own_store: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    uri, ids = own_store
    out = tmp_path / "site"
    build(uri, out)
    caches = sorted((out / ".tracker-cache").glob("*.json"))
    assert caches, "the first build leaves its cache"
    for cache in caches:
        cache.write_text('{"not": "a cache entry"', encoding="utf-8")
    client = TrackerClient(uri)
    client.log_metric(ids["trial-2"], "rmse", 4.1, timestamp=T0 + 2 * HOUR, step=2)
    client.flush()
    build(uri, out)
    build(uri, tmp_path / "fresh")
    assert site_files(out) == site_files(tmp_path / "fresh")


def test_a_deleted_site_file_is_made_again(
    own_store: tuple[str, dict[str, str]], tmp_path: Path,
) -> None:
    uri, ids = own_store
    out = tmp_path / "site"
    build(uri, out)
    (page,) = [p for p in out.rglob("*.html") if ids["lasso"] in p.name]
    page.unlink()
    result = build(uri, out)
    assert page.is_file() and page.relative_to(out).as_posix() in result.written


def _experiment_page(out: Path, name: str) -> str:
    soup = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    link = soup.find("a", string=name)
    assert link is not None, f"no link to experiment {name!r} on the home page"
    return str(link["href"])


@pytest.mark.browser
def test_the_leaderboard_trend_plots_stack_on_a_narrow_screen(built: Path, open_page: Any) -> None:
    """Over time and by commit side by side at 1280 px; one above the other at 390 px, where
    side by side their titles and legends overlapped."""
    board = built / _experiment_page(built, "nyc-taxi")
    for width, stacked in ((1280, False), (390, True)):
        page, errors = open_page(board, width=width)
        page.wait_for_function(browser_fixtures.CHARTS_DRAWN)
        x, x2, y, y2 = page.evaluate("""() => {
            const l = document.querySelector("figure.chart .js-plotly-plot")._fullLayout;
            return [l.xaxis.domain, l.xaxis2.domain, l.yaxis.domain, l.yaxis2.domain];
        }""")
        if stacked:
            assert y2[1] < y[0] and x == x2 == [0, 1], (width, x, x2, y, y2)
        else:
            assert x2[0] > x[1] and y == y2, (width, x, x2, y, y2)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert errors == []


# -- --strict ------------------------------------------------------------------------------


def _corrupt_one_file(uri: str, run_id: str) -> Path:
    """Random bytes named like a segment file, in the folder of ``run_id``."""
    (folder,) = Path(uri).glob(f"runs/*/run_id={run_id}")
    bad = folder / "seg-ffffffffffffffffffffffff.parquet"
    bad.write_bytes(os.urandom(2048))
    return bad


def test_strict_fails_on_a_warning_and_a_normal_build_reports_it(
    own_store: tuple[str, dict[str, str]], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    uri, ids = own_store
    bad = _corrupt_one_file(uri, ids["beta-0"])
    with pytest.raises(BuildError) as info:
        build(uri, tmp_path / "strict", strict=True)
    message = str(info.value)
    assert message.startswith("--strict: the build logged 1 warning(s): Skipping unreadable "
                              f"store file {bad}: "), message
    result = build(uri, tmp_path / "lenient")
    assert result.warnings == [] or all(str(bad) in w for w in result.warnings)
    assert (tmp_path / "lenient" / "index.html").is_file()


def test_strict_build_command_exits_1_and_names_the_file(
    own_store: tuple[str, dict[str, str]], tmp_path: Path,
) -> None:
    uri, ids = own_store
    bad = _corrupt_one_file(uri, ids["beta-1"])
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "--store", uri, "build", "--out", str(tmp_path / "s"),
         "--strict"], capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )
    assert result.returncode == 1, result
    assert result.stderr.startswith("Error: --strict: the build logged 1 warning(s): "
                                    f"Skipping unreadable store file {bad}"), result.stderr
    lenient = subprocess.run(
        [sys.executable, "-m", "tracker", "--store", uri, "build", "--out", str(tmp_path / "l")],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )
    assert lenient.returncode == 0, lenient
    assert f"tracker: warning: Skipping unreadable store file {bad}" in lenient.stderr


# -- the theme -----------------------------------------------------------------------------


def test_a_user_template_overrides_the_default_by_name(
    site_store: tuple[str, dict[str, str]], tmp_path: Path,
) -> None:
    templates = write_files(tmp_path / "templates", {
        "home.html": '{% extends "base.html" %}{% block content %}'
                     '<h1 id="mine">My home: {{ page.experiments | length }} experiments</h1>'
                     "{% endblock %}",
    })
    build(site_store[0], tmp_path / "site", templates=templates)
    soup = BeautifulSoup((tmp_path / "site" / "index.html").read_text("utf-8"), "html.parser")
    mine = soup.select_one("h1#mine")
    assert mine is not None and mine.get_text() == "My home: 3 experiments"
    assert soup.select_one("footer") is not None  # the default base.html still wraps it
    assert soup.select("table.grid") == []
    leaderboard = (tmp_path / "site" / _experiment_page_from(tmp_path / "site")).read_text("utf-8")
    assert "leaderboard" in leaderboard  # other pages keep the default templates


def test_tracker_build_uses_the_projects_site_templates_folder(
    site_store: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_files(tmp_path / "project" / "site_templates", {
        "home.html": '{% extends "base.html" %}{% block content %}<h1 id="mine">Ours</h1>'
                     "{% endblock %}",
    })
    monkeypatch.chdir(tmp_path / "project")
    result = CliRunner().invoke(cli, ["build", "--store", site_store[0], "--out", "site"])
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup(Path("site/index.html").read_text("utf-8"), "html.parser")
    assert soup.select_one("h1#mine") is not None


def test_a_base_url_gives_a_sitemap_of_every_page(
    site_store: tuple[str, dict[str, str]], tmp_path: Path,
) -> None:
    import xml.etree.ElementTree as ET

    out = tmp_path / "site"
    build(site_store[0], out, base_url="https://org.github.io/repo/")
    tree = ET.parse(out / "sitemap.xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = [loc.text for loc in tree.getroot().findall("s:url/s:loc", ns)]
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert "https://org.github.io/repo/" in urls
    assert len(urls) == len(pages) and all(u.startswith("https://org.github.io/repo/") for u in urls)
    assert {u.removeprefix("https://org.github.io/repo/") or "index.html" for u in urls} == set(pages)
    assert not (tmp_path / "plain").exists()
    build(site_store[0], tmp_path / "plain")
    assert not (tmp_path / "plain" / "sitemap.xml").exists()


@pytest.mark.parametrize("bad", ["org.github.io/repo", "ftp://x/y", "javascript:alert(1)"])
def test_a_base_url_that_is_not_an_http_url_is_refused(
    site_store: tuple[str, dict[str, str]], tmp_path: Path, bad: str,
) -> None:
    with pytest.raises(BuildError, match="not an absolute http"):
        build(site_store[0], tmp_path / "site", base_url=bad)


def _experiment_page_from(out: Path) -> str:
    return next(p.relative_to(out).as_posix() for p in sorted((out / "experiments").glob("*.html")))


def test_a_user_base_template_extends_the_default_one(
    site_store: tuple[str, dict[str, str]], tmp_path: Path,
) -> None:
    templates = write_files(tmp_path / "templates", {
        "base.html": '{% extends "default:base.html" %}'
                     '{% block breadcrumbs %}<div class="banner">Team ML · {{ site_title }}</div>'
                     "{{ super() }}{% endblock %}",
        "assets/site.css": "body { color: rebeccapurple }\n",
        "assets/extra.css": "p { margin: 0 }\n",
    })
    first = build(site_store[0], tmp_path / "site", templates=templates, site_title="Lab")
    for page in sorted((tmp_path / "site").rglob("*.html")):
        soup = BeautifulSoup(page.read_text("utf-8"), "html.parser")
        banner = soup.select_one("div.banner")
        assert banner is not None and banner.get_text() == "Team ML · Lab", page
        assert soup.select_one("nav.breadcrumbs") is not None, page
    assert (tmp_path / "site/assets/site.css").read_text() == "body { color: rebeccapurple }\n"
    assert (tmp_path / "site/assets/extra.css").is_file()
    # Editing a template rebuilds the pages even though the data did not change.
    (templates / "base.html").write_text(
        (templates / "base.html").read_text().replace("Team ML", "Team AI"), encoding="utf-8")
    second = build(site_store[0], tmp_path / "site", templates=templates, site_title="Lab")
    html_pages = {n for n in first.written if n.endswith(".html")}
    assert html_pages and html_pages <= set(second.written)
    assert "Team AI · Lab" in (tmp_path / "site/index.html").read_text("utf-8")


# -- tracker serve / tracker ui ------------------------------------------------------------


def test_folder_fingerprint_sees_new_changed_and_removed_files(tmp_path: Path) -> None:
    from tracker.site.serve import folder_fingerprint

    assert folder_fingerprint(tmp_path / "missing") == ()
    write_files(tmp_path, {"a.md": "x", "sub/b.md": "y", "sub/.tmp-123-c.parquet": "in flight"})
    first = folder_fingerprint(tmp_path)
    assert [entry[:2] for entry in first] == [("a.md", 1), (os.path.join("sub", "b.md"), 1)]
    assert folder_fingerprint(tmp_path) == first
    (tmp_path / "a.md").write_text("longer")
    second = folder_fingerprint(tmp_path)
    assert second != first
    (tmp_path / "sub" / "b.md").unlink()
    assert [entry[0] for entry in folder_fingerprint(tmp_path)] == ["a.md"]


def test_watcher_reports_a_change_once(own_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    from tracker.site.serve import Watcher

    uri, ids = own_store
    reports = tmp_path / "reports"
    watcher = Watcher(uri, [reports, None])
    assert watcher.changed() is False
    client = TrackerClient(uri)
    client.set_tag(ids["lasso"], "note", "x")
    client.flush()
    assert watcher.changed() is True
    assert watcher.changed() is False
    write_files(reports, {"r.md": "# R"})
    assert watcher.changed() is True


def test_serve_options_reach_the_library(
    monkeypatch: pytest.MonkeyPatch, own_store: tuple[str, dict[str, str]], tmp_path: Path,
) -> None:
    import tracker.site.serve

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(tracker.site.serve, "serve", lambda *a, **k: calls.append((a, k)))
    monkeypatch.chdir(tmp_path)
    uri = own_store[0]
    runner = CliRunner()
    result = runner.invoke(cli, ["ui", "--backend-store-uri", uri, "-h", "0.0.0.0", "-p", "5000",
                                 "--default-artifact-root", "s3://bucket/artifacts"])
    assert result.exit_code == 0, result.output
    assert "--default-artifact-root is ignored" in result.stderr
    (args, kwargs), = calls
    assert args == (uri, "site")
    assert {k: kwargs[k] for k in ("host", "port", "reports", "templates", "site_title")} == {
        "host": "0.0.0.0", "port": 5000, "reports": None, "templates": None,
        "site_title": "Experiments",
    }
    calls.clear()
    write_files(tmp_path, {"reports/a.md": "# A"})
    result = runner.invoke(cli, ["--store", uri, "serve", "--out", "out", "--port", "0",
                                 "--host", "127.0.0.2", "--templates", "tpl", "--title", "Lab"])
    assert result.exit_code == 0, result.output
    (args, kwargs), = calls
    assert args == (uri, "out")
    assert (kwargs["host"], kwargs["port"], kwargs["reports"], kwargs["templates"],
            kwargs["site_title"]) == ("127.0.0.2", 0, "reports", "tpl", "Lab")
    assert result.stderr == ""
    calls.clear()
    write_files(tmp_path, {"site_templates/home.html": "{% extends 'default:home.html' %}"})
    assert runner.invoke(cli, ["--store", uri, "serve"]).exit_code == 0
    (args, kwargs), = calls
    assert kwargs["templates"] == "site_templates"  # a project's own overrides, by default


def test_serve_help_is_not_dash_h_and_a_missing_store_is_an_error(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("serve", "ui"):
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0
        assert "--host" in result.stdout and "-p, --port" in result.stdout
        # -h is help everywhere (#13) but in `tracker ui`, where it is --host as in `mlflow ui`.
        assert ("-h, --host" in result.stdout) == (name == "ui")
        missing = runner.invoke(cli, ["--store", str(tmp_path / "none"), name, "-p", "0"])
        assert missing.exit_code == 1
        assert "No store at" in missing.stderr


def test_serve_refuses_a_port_in_use(own_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    import socket

    from tracker.site.serve import ServeError, serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=f"Cannot serve on 127.0.0.1:{port}: .*another port"):
            serve(own_store[0], tmp_path / "site", port=port, echo=lambda line: None)
    assert (tmp_path / "site" / "index.html").is_file()  # it built before it tried to listen


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (localhost only)
        assert response.headers["Cache-Control"] == "no-cache"  # revalidated by ETag (#11)
        return str(response.read().decode("utf-8"))


def _wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
def test_serve_serves_the_site_and_rebuilds_when_a_run_is_logged(
    own_store: tuple[str, dict[str, str]], tmp_path: Path,
) -> None:
    uri, ids = own_store
    out = tmp_path / "site"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "tracker", "--store", uri, "serve", "--out", str(out),
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any("Serving" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {proc.wait(10)} {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line)
        match = re.search(r"at (http://127\.0\.0\.1:\d+/) ", lines[-1])
        assert match, lines
        base = match.group(1)
        home = _fetch(base)
        assert "nyc-taxi" in home and "fresh-run" not in home
        page = _experiment_page(out, "nyc-taxi")
        assert "trial-1" in _fetch(base + page)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "no-such-page.html", timeout=10)  # noqa: S310
        assert missing.value.code == 404

        filter_chunks_before = {p.name for p in (out / "experiments").glob("*.filter-*.js")}
        assert filter_chunks_before
        client = TrackerClient(uri)
        _log_run(client, ids["nyc-taxi"], "fresh-run", T0 + 6 * HOUR, {"rmse": [3.0]},
                 {"model": "xgboost"})
        client.flush()
        _wait_for(lambda: "fresh-run" in _fetch(base + page), 15, "the rebuilt leaderboard")
        assert "fresh-run" in _fetch(base + "index.html")
        rebuilt = proc.stdout.readline()  # printed once the rebuild's files are in place
        # The one file removed is the experiment's filter data chunk, replaced by the chunk
        # named after its new content (#14): nothing else goes.
        assert re.fullmatch(r"Built \d+ pages in [\d.]+ s \(\d+ files written, 1 removed\)\.\n",
                            rebuilt), rebuilt
        filter_chunks = {p.name for p in (out / "experiments").glob("*.filter-*.js")}
        assert len(filter_chunks) == len(filter_chunks_before)
        assert len(filter_chunks_before - filter_chunks) == 1
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=15) == 0
        assert proc.stdout.read().endswith("Stopped.\n")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_the_writer_writes_new_files_in_place_and_replaces_existing_ones(tmp_path: Path) -> None:
    """New files are created in place (#14: no temporary file and rename each), one folder made
    once; a file already there (a stray one, or a changed one) is replaced whole."""
    from tracker.site.writer import SiteWriter

    out = tmp_path / "site"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "stray.html").write_text("left by someone else")
    writer = SiteWriter(out)
    writer.write("runs/stray.html", b"new page")
    writer.write("runs/a.csv", b"1\n")
    writer.write("deep/er/b.js", b"2;")
    writer.write("deep/er/c.js", b"3;")
    assert writer.finish().written == ["runs/stray.html", "runs/a.csv", "deep/er/b.js",
                                       "deep/er/c.js"]
    again = SiteWriter(out)
    again.write("runs/stray.html", b"changed page")
    again.write("runs/a.csv", b"1\n")
    again.finish()
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and not p.name.startswith(".")} == {
        "runs/stray.html": b"changed page", "runs/a.csv": b"1\n"}
