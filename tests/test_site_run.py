"""The run page (issue #5): a site built from a seeded store, checked with BeautifulSoup."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import struct
import subprocess
import sys
import textwrap
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from bs4 import BeautifulSoup

import tracker
import tracker.api
import tracker.artifacts
import tracker.data
from tests.browser import browser, open_page  # noqa: F401 (fixtures)
from tracker.site.build import build
from tracker.site.links import commit_url, repo_web_url

SHA = "0123456789abcdef0123456789abcdef01234567"
XSS = "<img src=x onerror=alert(1)>"
DESCRIPTION = textwrap.dedent(
    """\
    # Baseline run

    Trained with **early stopping**; see [the docs](https://example.com/docs).

    <script>alert("description")</script>

    [bad link](javascript:alert(1))
    """
)


@dataclass
class Built:
    """The seeded store, its built site and the ids the tests look up."""

    store: str
    site: Path
    main: str
    budget: str
    children: list[str]
    crashed: str


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    pixels = b"".join(b"\x00" + b"\xd6\x27\x28" * 4 for _ in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels))
            + chunk(b"IEND", b""))


def _artifact_files(folder: Path) -> dict[str, bytes]:
    rows = "\n".join(f"{i},{i * i},{XSS if i == 3 else 'ok'}" for i in range(80))
    return {
        "plot.png": _png(),
        "diagram.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "metrics.json": json.dumps({"rmse": 1.5, "note": "</script><script>alert(1)</script>"})
        .encode(),
        "table.csv": ("i,square,comment\n" + rows + "\n").encode(),
        "README.md": b"# Notes\n\n* item **one**\n\n<script>alert('md')</script>\n",
        "page.html": b"<html><body><script>alert('html')</script><p>hi</p></body></html>",
        "notes.txt": b"plain text notes\nsecond line\n",
        "big.bin": b"\0" * (5 * 1024 * 1024 + 1),
        f"{XSS}.txt": b"a file with a nasty name\n",
    }


def _log_main_run(tmp: Path, rng: random.Random) -> str:
    import pandas as pd
    import plotly.graph_objects as go

    tags = {
        "mlflow.source.git.commit": SHA,
        "mlflow.source.git.repoURL": "git@github.com:acme/proj.git",
        "mlflow.source.git.branch": "feature/x",
        "tracker.source.git.dirty": "true",
        "team": "vision",
        "html": XSS,
    }
    with tracker.start_run(run_name="baseline", tags=tags, description=DESCRIPTION) as run:
        start = int(run.info.start_time)  # one point a second from the start
        tracker.log_params({f"p{i}": i for i in range(8)} | {"model": "xgboost", "evil": XSS})
        for step in range(5000):
            value = 10 * math.exp(-step / 800) + rng.gauss(0, 0.05)
            tracker.log_metric("loss", 40.0 if step == 2345 else value, step=step,
                               timestamp=start + step * 1000)
        for step in range(100):
            tracker.log_metric("accuracy", 0.5 + step / 250, step=step, timestamp=start + step)
        tracker.log_metric("final_score", 0.93, step=7)
        for minute in range(5):  # logged without a step: every point has step 0
            tracker.log_metric("gpu_util", 50.0 + minute, timestamp=start + minute * 60_000)
        for name, content in _artifact_files(tmp).items():
            path = tmp / "files" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            tracker.log_artifact(str(path), "nested/dir" if name == "notes.txt" else None)
        tracker.log_figure(go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="fig")),
                           "plots/figure.json")
        frame = pd.DataFrame({"a": range(12), "b": [0.5] * 12})
        tracker.log_input(tracker.data.from_pandas(frame, source="data/train.csv", name="train"),
                          context="training")
        return str(run.info.run_id)


def _log_children(parent: str) -> list[str]:
    ids = []
    for i in range(2):
        with tracker.start_run(run_name=f"trial-{i}", nested=True, parent_run_id=parent) as kid:
            tracker.log_params({"trial": i})
            tracker.log_metric("loss", 1.0 + i)
            ids.append(str(kid.info.run_id))
    return ids


def _log_budget_run(rng: random.Random) -> str:
    with tracker.start_run(run_name="budget") as run:
        tracker.log_params({f"param_{i}": rng.random() for i in range(10)})
        for key in ("train_loss", "val_loss", "val_accuracy"):
            for step in range(100):
                tracker.log_metric(key, rng.random(), step=step)
        return str(run.info.run_id)


def _crash_a_run(store: str) -> str:
    """A RUNNING run whose process was SIGKILLed: the site must call it dead."""
    script = textwrap.dedent(
        f"""
        import os, signal, tracker
        client = tracker.TrackerClient({store!r})
        exp = client.get_experiment_by_name("run-page")
        run = client.create_run(exp.experiment_id, run_name="crashed")
        client.log_metric(run.info.run_id, "loss", 1.0)
        client.flush()
        print(run.info.run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == -9, proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("run-page")
    store = str(tmp / "store")
    rng = random.Random(42)
    tracker.set_tracking_uri(store)
    try:
        tracker.set_experiment("run-page")
        main = _log_main_run(tmp, rng)
        children = _log_children(main)
        budget = _log_budget_run(rng)
        tracker.register_model(f"runs:/{main}/model", "demo-model")
    finally:
        tracker.api._tracking_uri = None
        tracker.api._experiment_id = None
    crashed = _crash_a_run(store)
    build(store, tmp / "site")
    yield Built(store, tmp / "site", main, budget, children, crashed)


def page(built: Built, run_id: str) -> BeautifulSoup:
    html = (built.site / "runs" / f"{run_id}.html").read_text(encoding="utf-8")
    return BeautifulSoup(html, "html.parser")


def table_rows(soup: BeautifulSoup, css: str) -> dict[str, list[str]]:
    """Row header text → the row's cell texts, for the table matching ``css``."""
    table = soup.select_one(css)
    assert table is not None, css
    return {tr.th.get_text(strip=True): [td.get_text(" ", strip=True) for td in tr.find_all("td")]
            for tr in table.select("tbody tr")}


def resolve(built: Built, href: str) -> Path:
    """The file a link on a run page points at."""
    return (built.site / "runs" / unquote(href)).resolve()


def charts_of(soup: BeautifulSoup) -> dict[str, dict[str, Any]]:
    out = {}
    for figure in soup.select("figure.run-chart"):
        out[figure.figcaption.strong.get_text()] = json.loads(
            figure.select_one("script.run-chart-data").string)
    return out


# -- header, info, tables -------------------------------------------------------------------


def test_title_breadcrumbs_and_info(built: Built) -> None:
    soup = page(built, built.main)
    assert soup.title.get_text().startswith("baseline · ")
    assert soup.h1.get_text(" ", strip=True).startswith("baseline")
    assert soup.select_one("h1 .badge-finished") is not None
    crumbs = soup.select("nav.breadcrumbs li")
    assert [c.get_text(strip=True) for c in crumbs] == ["Home", "run-page", "baseline"]
    assert [a["href"] for a in soup.select("nav.breadcrumbs a")] == [
        "../index.html", "../experiments/run-page.html"]
    info = {dt.get_text(): dt.find_next_sibling("dd") for dt in soup.select("dl.run-info dt")}
    assert info["Run id"].get_text() == built.main
    assert info["Experiment"].a["href"] == "../experiments/run-page.html"
    assert info["Status"].get_text() == "finished"
    assert "UTC" in info["Started"].get_text() and "UTC" in info["Ended"].get_text()
    assert info["User"].get_text()


def test_params_table_escapes_values(built: Built) -> None:
    soup = page(built, built.main)
    params = table_rows(soup, "table.params")
    assert list(params) == sorted(params)
    assert params["model"] == ["xgboost"] and params["p3"] == ["3"]
    assert params["evil"] == [XSS]
    assert soup.select_one("table.params img") is None


def test_metrics_table_has_latest_value_step_and_csv(built: Built) -> None:
    metrics = table_rows(page(built, built.main), "table.metrics")
    assert list(metrics) == ["accuracy", "final_score", "gpu_util", "loss"]
    assert metrics["accuracy"][:3] == ["0.896", "99", "0.896"]  # latest, step, best (max)
    assert metrics["final_score"][:2] == ["0.93", "7"]
    assert metrics["final_score"][3] == "1 point"
    assert metrics["loss"][1] == "4999"
    assert metrics["loss"][3].startswith("5000 points")


def test_code_rows_link_the_commit_on_github(built: Built) -> None:
    soup = page(built, built.main)
    code = {tr.th.get_text(): tr.td for tr in soup.select("table.code tr")}
    # "message" (the commit's first line) is there when the test runs in a git checkout
    assert [k for k in code if k != "message"] == [
        "source", "commit", "repository", "branch", "dirty", "user"]
    assert "/" not in code["source"].get_text().split(" (")[0].lstrip("./") or not \
        code["source"].get_text().startswith("/")  # never an absolute path of this machine
    assert code["commit"].a["href"] == f"https://github.com/acme/proj/commit/{SHA}"
    assert code["commit"].get_text() == SHA
    assert code["repository"].a["href"] == "https://github.com/acme/proj"
    assert code["branch"].get_text() == "feature/x"
    assert code["dirty"].get_text().startswith("yes")


def test_other_tags_are_listed_separately(built: Built) -> None:
    soup = page(built, built.main)
    tags = table_rows(soup, "table.tags")
    assert tags["team"] == ["vision"] and tags["html"] == [XSS]
    assert not [k for k in tags if k.startswith(("mlflow.source", "mlflow.note", "mlflow.user"))]
    assert "mlflow.runName" not in tags
    assert soup.select_one("table.tags img") is None


def test_description_is_rendered_and_sanitized(built: Built) -> None:
    soup = page(built, built.main)
    description = soup.select_one(".description")
    assert description.h1.get_text() == "Baseline run"
    assert description.strong.get_text() == "early stopping"
    assert description.find("a", string="the docs")["href"] == "https://example.com/docs"
    assert description.find("script") is None
    assert "javascript:" not in str(description)


def test_no_script_element_comes_from_data(built: Built) -> None:
    for run_id in (built.main, built.budget, built.crashed, *built.children):
        soup = page(built, run_id)
        for script in soup.find_all("script"):
            assert script.get("src") or script.get("type") == "application/json", script
        assert not soup.find_all(attrs={"onerror": True})
        assert soup.find("svg") is None and soup.find("iframe") is None


# -- metric history -------------------------------------------------------------------------


def test_chart_json_is_one_compact_trace_per_metric(built: Built) -> None:
    charts = charts_of(page(built, built.main))
    # final_score has one point: table only.
    assert list(charts) == ["accuracy", "gpu_util", "loss"]
    for key, figure in charts.items():
        assert len(figure["data"]) == 1
        trace = figure["data"][0]
        assert trace["name"] == key
        x_title = "hours since start" if key == "gpu_util" else "step"
        assert figure["layout"]["xaxis"]["title"]["text"] == x_title
        assert figure["layout"]["yaxis"]["title"]["text"] == key
        assert len(trace["x"]) == len(trace["y"]) == len(figure["time"]["offsets"])
        assert len(trace["x"]) <= 1000
    assert len(charts["accuracy"]["data"][0]["x"]) == 100
    loss = charts["loss"]
    assert loss["data"][0]["x"][0] == 0 and loss["data"][0]["x"][-1] == 4999
    assert 40.0 in loss["data"][0]["y"]  # the spike survives downsampling
    assert charts["gpu_util"]["time"] == {"start": charts["loss"]["time"]["start"],
                                          "offsets": [0, 60_000, 120_000, 180_000, 240_000],
                                          "stepless": True}
    assert "stepless" not in loss["time"]
    steps, offsets = loss["data"][0]["x"], loss["time"]["offsets"]
    assert offsets == [step * 1000 for step in steps]  # one point a second from the run start


def test_csv_has_the_full_history(built: Built) -> None:
    soup = page(built, built.main)
    figure = next(f for f in soup.select("figure.run-chart") if f.strong.get_text() == "loss")
    link = figure.find("a", string="download CSV")
    rows = list(csv.reader(io.StringIO(resolve(built, link["href"]).read_text())))
    assert rows[0] == ["step", "timestamp", "value"]
    history = tracker.TrackerClient(built.store).get_metric_history(built.main, "loss")
    expected = sorted((m.step, m.timestamp, m.value) for m in history)
    assert [(int(s), int(t), float(v)) for s, t, v in rows[1:]] == expected
    assert len(expected) == 5000


def test_page_budget_3_metrics_x_100_steps(built: Built) -> None:
    path = built.site / "runs" / f"{built.budget}.html"
    size = path.stat().st_size
    assert size <= 100 * 1024, size
    charts = charts_of(page(built, built.budget))
    assert sorted(charts) == ["train_loss", "val_accuracy", "val_loss"]
    assert all(len(c["data"][0]["y"]) == 100 for c in charts.values())
    assert (built.site / "runs" / f"{built.main}.html").stat().st_size <= 150 * 1024


# -- artifacts ------------------------------------------------------------------------------


def artifact_rows(soup: BeautifulSoup) -> dict[str, Any]:
    return {tr.th.get_text(): tr for tr in soup.select("table.artifacts tbody tr")}


def test_artifact_links_resolve_to_copies_in_the_site(built: Built) -> None:
    rows = artifact_rows(page(built, built.main))
    assert f"{XSS}.txt" in rows and "nested/dir/notes.txt" in rows
    run = tracker.TrackerClient(built.store).get_run(built.main)
    repo = tracker.artifacts.ArtifactRepo(run.info.artifact_uri)
    for path, row in rows.items():
        link = row.find("a", string="download")
        if path == "big.bin":
            continue
        assert link is not None, path
        assert link["download"] == path.rsplit("/", 1)[-1]
        copy = resolve(built, link["href"])
        assert copy.is_file(), path
        assert copy.read_bytes() == Path(str(repo.local_path(path))).read_bytes(), path
    assert rows[f"{XSS}.txt"].find("a", string="download")["href"].endswith(
        "/artifacts/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt")


def test_html_and_svg_copies_are_served_as_plain_text(built: Built) -> None:
    rows = artifact_rows(page(built, built.main))
    for path in ("page.html", "diagram.svg"):
        link = rows[path].find("a", string="download")
        assert link["href"] == f"{built.main}/artifacts/{path}.txt"
        assert link["download"] == path
        assert "plain text" in rows[path].get_text()
    copies = (built.site / "runs").glob("*/artifacts/**/*")
    assert [p for p in copies if p.is_file() and p.suffix in (".html", ".svg")] == []


def test_big_artifact_is_listed_without_a_link(built: Built) -> None:
    row = artifact_rows(page(built, built.main))["big.bin"]
    assert row.find("a") is None
    assert "larger than 5.0 MB" in row.get_text()
    assert not (built.site / "runs" / built.main / "artifacts" / "big.bin").exists()


def previews(soup: BeautifulSoup) -> dict[str, Any]:
    return {d.summary.contents[0].strip(): d for d in soup.select("details.artifact-preview")}


def test_previews_are_escaped_and_never_run_code(built: Built) -> None:
    shown = previews(page(built, built.main))
    assert "big.bin" not in shown
    svg = shown["diagram.svg"]  # an <img> of a data: URI: an image document runs no script
    assert [img["src"].split(",")[0] for img in svg.find_all("img")] == [
        "data:image/svg+xml;base64"]
    assert svg.find("script") is None and svg.find("svg") is None
    assert shown["plot.png"].img["src"] == f"{built.main}/artifacts/plot.png"
    assert (shown["plot.png"].img["width"], shown["plot.png"].img["height"]) == ("4", "4")
    html = shown["page.html"]
    assert html.find("script") is None
    assert "<script>alert('html')</script>" in html.pre.get_text()
    assert "not rendered" in html.summary.get_text()
    assert shown["README.md"].h1.get_text() == "Notes"
    assert shown["README.md"].find("script") is None
    assert shown["nested/dir/notes.txt"].pre.get_text() == "plain text notes\nsecond line\n"
    assert shown[f"{XSS}.txt"].pre.get_text() == "a file with a nasty name\n"
    assert json.loads(shown["metrics.json"].pre.get_text())["rmse"] == 1.5


def test_csv_preview_is_a_table_of_the_first_50_rows(built: Built) -> None:
    preview = previews(page(built, built.main))["table.csv"]
    assert [th.get_text() for th in preview.select("thead th")] == ["i", "square", "comment"]
    body = preview.select("tbody tr")
    assert len(body) == 50
    assert [td.get_text() for td in body[3].find_all("td")] == ["3", "9", XSS]
    assert preview.find("img") is None
    assert "start of the file" in preview.summary.get_text()


def test_logged_plotly_figure_is_drawn_from_data_and_layout_only(built: Built) -> None:
    soup = page(built, built.main)
    preview = previews(soup)["plots/figure.json"]
    figure = json.loads(preview.select_one("figure.chart script.chart-data").string)
    assert set(figure) == {"data", "layout"}
    assert figure["data"][0]["name"] == "fig"
    assert soup.find("script", src=lambda s: bool(s) and "vendor/plotly-" in s) is not None


# -- inputs, family, registry, dead runs ----------------------------------------------------


def test_dataset_inputs(built: Built) -> None:
    inputs = table_rows(page(built, built.main), "table.inputs")
    context, rows, digest, source = inputs["train"]
    assert (context, rows) == ("training", "12")
    assert len(digest) == 16
    assert source.startswith("data/train.csv")


def test_children_table_and_parent_link(built: Built) -> None:
    soup = page(built, built.main)
    table = soup.select_one("table.children")
    assert [th.get_text() for th in table.select("thead th")] == ["Run", "Status", "loss"]
    rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
            for tr in table.select("tbody tr")]
    assert rows == [["trial-0", "finished", "1"], ["trial-1", "finished", "2"]]
    assert [a["href"] for a in table.select("tbody th a")] == [f"{c}.html" for c in built.children]
    child = page(built, built.children[0])
    info = {dt.get_text(): dt.find_next_sibling("dd") for dt in child.select("dl.run-info dt")}
    assert info["Parent run"].a["href"] == f"{built.main}.html"
    assert info["Parent run"].a.get_text() == "baseline"


def test_registered_versions_link_to_lineage(built: Built) -> None:
    soup = page(built, built.main)
    links = soup.select("#versions ~ ul a")
    assert [(a.get_text(), a["href"]) for a in links] == [
        ("demo-model v1", "../models/demo-model/v1.html")]


def test_crashed_run_gets_a_dead_badge(built: Built) -> None:
    soup = page(built, built.crashed)
    assert soup.select_one("h1 .badge-dead") is not None
    assert soup.select_one("h1 .badge-running") is not None
    assert "died" in soup.select_one(".notice-dead").get_text()
    assert page(built, built.main).select_one(".badge-dead") is None


def test_internal_links_of_run_pages_resolve(built: Built) -> None:
    for run_id in (built.main, built.budget, *built.children):
        soup = page(built, run_id)
        for tag, attr in (("a", "href"), ("img", "src"), ("script", "src"), ("link", "href")):
            for element in soup.find_all(tag, attrs={attr: True}):
                target = element[attr].split("#")[0]
                if not target or "://" in target or "models/" in target or (
                        tag == "img" and target.startswith("data:image/")):
                    continue  # external, in-page, another team's registry page, an SVG preview
                assert resolve(built, target).is_file(), (run_id, target)


# -- code-version links ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/acme/proj.git", "https://github.com/acme/proj/commit/"),
        ("https://github.com/acme/proj", "https://github.com/acme/proj/commit/"),
        ("git@github.com:acme/proj.git", "https://github.com/acme/proj/commit/"),
        ("ssh://git@github.com/acme/proj.git", "https://github.com/acme/proj/commit/"),
        ("https://user:s3cret@github.com/acme/proj.git", "https://github.com/acme/proj/commit/"),
        ("https://gitlab.com/group/sub/proj.git", "https://gitlab.com/group/sub/proj/-/commit/"),
        ("git@gitlab.com:group/proj.git", "https://gitlab.com/group/proj/-/commit/"),
        ("https://bitbucket.org/team/repo.git", "https://bitbucket.org/team/repo/commits/"),
        ("git@bitbucket.org:team/repo.git", "https://bitbucket.org/team/repo/commits/"),
        ("https://example.com/acme/proj.git", ""),
        ("/srv/git/proj.git", ""),
        ("javascript:alert(1)//github.com/a/b", ""),
        ('https://github.com/acme/"><script>', ""),
        ("https://github.com/a/b/c", ""),
    ],
)
def test_commit_url(remote: str, expected: str) -> None:
    assert commit_url(remote, SHA) == (expected + SHA if expected else "")


def test_commit_url_needs_a_hex_sha() -> None:
    assert commit_url("https://github.com/acme/proj", "main") == ""
    assert commit_url("https://github.com/acme/proj", "abc/../x") == ""
    assert repo_web_url("https://www.github.com/acme/proj/") == "https://github.com/acme/proj"


def test_repository_row_hides_credentials(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    tracker.set_tracking_uri(store)
    remote = "https://oauth2:glpat-TOKEN@gitlab.com/group/proj.git"
    with tracker.start_run(tags={"mlflow.source.git.repoURL": remote,
                                 "mlflow.source.git.commit": SHA}) as run:
        pass
    build(store, tmp_path / "site")
    html = (tmp_path / "site" / "runs" / f"{run.info.run_id}.html").read_text()
    assert "glpat-TOKEN" not in html
    soup = BeautifulSoup(html, "html.parser")
    code = {tr.th.get_text(): tr.td for tr in soup.select("table.code tr")}
    assert code["repository"].get_text() == "https://gitlab.com/group/proj.git"
    assert code["commit"].a["href"] == f"https://gitlab.com/group/proj/-/commit/{SHA}"


def test_missing_artifact_file_is_listed_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = str(tmp_path / "store")
    tracker.set_tracking_uri(store)
    with tracker.start_run() as run:
        tracker.log_text("gone soon", "gone.txt")
    local = tracker.artifacts.ArtifactRepo(run.info.artifact_uri).local_path("gone.txt")
    assert local is not None
    os.unlink(local)
    result = build(store, tmp_path / "site")
    message = (f"Run {run.info.run_id}: artifact 'gone.txt' is listed but its file {local} is "
               "missing; the run page lists it without a link.")
    assert message in result.warnings
    soup = BeautifulSoup((tmp_path / "site" / "runs" / f"{run.info.run_id}.html").read_text(),
                         "html.parser")
    row = artifact_rows(soup)["gone.txt"]
    assert row.find("a") is None and "file missing" in row.get_text()


# -- in a real browser ----------------------------------------------------------------------

CHARTS = "window.tracker.runPage.charts"


@pytest.mark.browser
def test_charts_draw_smooth_and_switch_axes_in_chromium(
    built: Built, open_page: Any,  # noqa: F811 (fixture)
) -> None:
    """One page load (plotly.js takes ~2 s to parse): drawing, controls, EMA twin, offline."""
    from tracker.site.timeseries import ema

    tab, errors = open_page(built.site / "runs" / f"{built.main}.html", width=1300)
    tab.wait_for_function(f"() => window.tracker && window.tracker.runPage && {CHARTS}.length == 3")
    tab.evaluate("window.tracker.runPage.drawAll()")  # charts below the fold draw when scrolled to
    drawn = tab.evaluate(f"{CHARTS}.map(c => [c.target.data.length, c.target.data[1].visible,"
                         " c.target.layout.xaxis.title.text])")
    assert drawn == [[2, False, "step"], [2, False, "hours since start"],
                     [2, False, "step"]]  # gpu_util has no steps: time instead
    assert tab.is_visible(".chart-controls")

    tab.locator(".smoothing input").fill("0.6")
    tab.check("input[name=xaxis][value=relative]")
    tab.check(".log-scale")
    tab.wait_for_function(f"() => {CHARTS}[2].target.layout.yaxis.type == 'log'")
    loss = tab.evaluate(f"(() => {{ const d = {CHARTS}[2].target.data;"
                        " return {raw: d[0].y, smooth: d[1].y, x: d[1].x,"
                        " visible: d[1].visible, opacity: d[0].opacity}; })()")
    assert loss["visible"] is True and loss["opacity"] < 1
    assert loss["smooth"] == pytest.approx(ema(loss["raw"], 0.6), rel=1e-9)  # JS twin = Python
    assert loss["x"][-1] == pytest.approx(4999 / 3600)
    assert tab.inner_text(".smoothing output") == "0.60"

    tab.check("input[name=xaxis][value=wall]")
    tab.wait_for_function(f"() => {CHARTS}[0].target.layout.xaxis.type == 'date'")

    figure = tab.locator("details.artifact-preview figure.chart .js-plotly-plot")
    assert figure.count() == 1  # the logged plotly figure, drawn by site.js
    tab.locator("details.preview-image img").scroll_into_view_if_needed()
    tab.wait_for_function("() => document.querySelector('details.preview-image img')"
                          ".naturalWidth == 4")  # the copied PNG loads (lazily)
    assert errors == []  # no console error, no exception, no network request
