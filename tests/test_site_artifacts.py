"""Artifacts as pictures on the run page (#11): feature importance from a real xgboost autolog
run as bars with a type picker, image previews with their size, SVG only as an <img>, long text
collapsed beyond 40 lines, all checked in Chromium."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

import tracker
import tracker.api
from tests.browser import CSP_LISTENER, browser, open_page  # noqa: F401 (fixtures)
from tracker.site.build import build

SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
       b'<script>window.__svg_ran = true</script><rect width="40" height="20" fill="red"/></svg>')


@dataclass
class Built:
    site: Path
    xgb: str
    images: str


def _jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def _xgboost_run() -> str:
    import numpy as np
    import xgboost as xgb

    import tracker.xgboost

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 25))
    y = 3 * x[:, 0] - 2 * x[:, 3] + x[:, 7] + rng.normal(scale=0.1, size=120)
    names = [f"feat_{i:02d}" for i in range(25)]
    dtrain = xgb.DMatrix(x, label=y, feature_names=names)
    # Three types (MLflow's default is weight only), so the chart's type switch is exercised.
    tracker.xgboost.autolog(log_models=False, importance_types=["weight", "gain", "cover"])
    try:
        with tracker.start_run(run_name="xgb") as run:
            xgb.train({"max_depth": 3, "nthread": 1, "seed": 0}, dtrain, num_boost_round=12)
    finally:
        tracker.xgboost.autolog(disable=True)
    return run.info.run_id


def _image_run(tmp: Path) -> str:
    long_text = "".join(f"line {i}\n" for i in range(1, 101))
    with tracker.start_run(run_name="images") as run:
        (tmp / "photo.jpg").write_bytes(_jpeg(64, 48))
        tracker.log_artifact(str(tmp / "photo.jpg"))
        (tmp / "drawing.svg").write_bytes(SVG)
        tracker.log_artifact(str(tmp / "drawing.svg"))
        tracker.log_text(long_text, "long.log")
        tracker.log_text("".join(f"{i:04d} {'x' * 40}\n" for i in range(300)), "big.txt")
    return run.info.run_id


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    tmp = tmp_path_factory.mktemp("artifacts")
    tracker.set_tracking_uri(str(tmp / "store"))
    try:
        tracker.set_experiment("artifacts")
        xgb_run = _xgboost_run()
        images = _image_run(tmp)
    finally:
        tracker.api._tracking_uri = None
        tracker.api._experiment_id = None
    build(str(tmp / "store"), tmp / "site")
    yield Built(tmp / "site", xgb_run, images)


def soup(built: Built, run_id: str) -> BeautifulSoup:
    return BeautifulSoup((built.site / "runs" / f"{run_id}.html").read_text("utf-8"),
                         "html.parser")


def test_importance_tables_hold_the_top_20_features_of_each_type(built: Built) -> None:
    page = soup(built, built.xgb)
    tables = page.select("figure.importance table.importance-bars")
    kinds = [t["data-kind"] for t in tables]
    assert kinds[0] == "gain" and {"weight", "cover"} <= set(kinds)
    scores = json.loads((built.site / "runs" / built.xgb / "artifacts" /
                         "feature_importance_gain.json").read_text())
    expected = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    gain = tables[0].select("tbody tr")
    assert [tr.th.get_text() for tr in gain] == [name for name, _ in expected]
    assert gain[0].th.get_text() == "feat_00"  # the strongest signal in the data
    # The raw JSON stays available, collapsed.
    raw = [d for d in page.select("details.artifact-preview")
           if "feature_importance" in d.summary.get_text() and
           d.summary.get_text().endswith(".json")]
    assert raw and all(not d.has_attr("open") for d in raw)
    # The charts autologging draws as MLflow does are shown as images.
    charts = [d for d in page.select("details.artifact-preview")
              if d.summary.get_text() == "feature_importance_gain.png"]
    assert charts and charts[0].img is not None


@pytest.mark.browser
def test_importance_chart_in_chromium(built: Built, open_page: Any) -> None:  # noqa: F811
    page, errors = open_page(built.site / "runs" / f"{built.xgb}.html", init_script=CSP_LISTENER)
    figure = page.locator("figure.importance")
    visible = figure.locator("table.importance-bars:visible")
    assert visible.count() == 1
    assert visible.get_attribute("data-kind") == "gain"
    rows = visible.locator("tbody tr")
    assert rows.count() == min(20, rows.count()) and rows.count() > 3
    widths = [rows.nth(i).locator(".bar").bounding_box()["width"] for i in range(rows.count())]
    assert widths == sorted(widths, reverse=True) and widths[0] > 100
    figure.locator("select.importance-type").select_option("weight")
    visible = figure.locator("table.importance-bars:visible")
    assert visible.count() == 1 and visible.get_attribute("data-kind") == "weight"
    assert page.evaluate("window.__csp") == []
    assert errors == []


def test_image_previews_show_their_size(built: Built) -> None:
    page = soup(built, built.images)
    shown = {d.summary.contents[0].strip(): d for d in page.select("details.artifact-preview")}
    photo = shown["photo.jpg"]
    assert (photo.img["width"], photo.img["height"]) == ("64", "48")
    assert photo.select_one(".image-size").get_text().startswith("64 × 48 px, ")
    svg = shown["drawing.svg"]
    assert svg.img["src"].startswith("data:image/svg+xml;base64,")
    assert svg.find("svg") is None and svg.find("script") is None


def test_long_text_is_collapsed_beyond_40_lines(built: Built) -> None:
    page = soup(built, built.images)
    shown = {d.summary.contents[0].strip(): d for d in page.select("details.artifact-preview")}
    log = shown["long.log"]
    first = log.find("pre").get_text()
    assert first.splitlines() == [f"line {i}" for i in range(1, 41)]
    more = log.select_one("details.more-lines")
    assert more.summary.get_text() == "Show 60 more lines" and not more.has_attr("open")
    assert more.pre.get_text().splitlines()[-1] == "line 100"


@pytest.mark.browser
def test_images_draw_and_svg_script_never_runs(built: Built, open_page: Any) -> None:  # noqa: F811
    page, errors = open_page(built.site / "runs" / f"{built.images}.html",
                             init_script=CSP_LISTENER)
    for name in ("photo.jpg", "drawing.svg"):
        img = page.locator(f'details.artifact-preview img[alt="{name}"]')
        img.scroll_into_view_if_needed()
        page.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle())
    assert page.evaluate("window.__svg_ran === undefined")
    more = page.locator('details[id]:not([data-lazy]) details.more-lines')  # long.log's
    assert more.locator("pre").is_visible() is False
    more.locator("summary").click()
    assert more.locator("pre").is_visible()
    assert page.evaluate("window.__csp") == []
    assert errors == []


def test_long_previews_are_not_in_the_page_but_in_its_previews_script(built: Built) -> None:
    page = soup(built, built.images)
    big = page.select_one('details.artifact-preview[data-lazy="big.txt"]')
    assert big is not None and big.select_one("code.lazy-text").get_text() == ""
    assert "0299 xxxx" not in str(page)
    section = page.select_one("section[data-previews]")
    assert section["data-previews"] == f"{built.images}/previews.js"
    script = (built.site / "runs" / built.images / "previews.js").read_text("utf-8")
    assert script.startswith("window.TRACKER_PREVIEWS = window.TRACKER_PREVIEWS || {};")
    assert "0299 xxxx" in script


@pytest.mark.browser
def test_lazy_preview_loads_when_opened(built: Built, open_page: Any) -> None:  # noqa: F811
    page, errors = open_page(built.site / "runs" / f"{built.images}.html",
                             init_script=CSP_LISTENER)
    big = page.locator('details.artifact-preview[data-lazy="big.txt"]')
    if big.get_attribute("open") is None:
        big.locator("> summary").click()
    page.wait_for_function("() => document.querySelector("
                           "'details[data-lazy=\"big.txt\"] code.lazy-text').textContent.length")
    assert big.locator("code.lazy-text").text_content().splitlines()[0] == "0000 " + "x" * 40
    big.locator("details.more-lines > summary").click()
    assert big.locator("code.lazy-rest").text_content().splitlines()[-1] == "0299 " + "x" * 40
    assert page.evaluate("window.__csp") == []
    assert errors == []
