"""``tracker serve``'s answers (#11): gzip when the client accepts it, ETag and 304, a year of
caching for hashed assets and revalidation for the rest, plotly.js loaded once and only on
pages that draw a chart, and a favicon; the bytes of a cold visit measured in Chromium."""

from __future__ import annotations

import gzip
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

import tracker
import tracker.api
from tests.browser import CHROMIUM, browser  # noqa: F401 (fixture)
from tracker.site.build import build, plotly_asset_name
from tracker.site.serve import IMMUTABLE, make_server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, list[str]]]:
    tmp = tmp_path_factory.mktemp("serve")
    tracker.set_tracking_uri(str(tmp / "store"))
    ids = []
    try:
        tracker.set_experiment("serve")
        for name in ("first", "second"):
            with tracker.start_run(run_name=name) as run:
                tracker.log_param("alpha", 0.1)
                for step in range(20):
                    tracker.log_metric("loss", 1 / (step + 1), step=step)
            ids.append(run.info.run_id)
    finally:
        tracker.api._tracking_uri = None
        tracker.api._experiment_id = None
    build(str(tmp / "store"), tmp / "site")
    server = make_server(tmp / "site", "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp / "site", f"http://127.0.0.1:{server.server_address[1]}/", ids
    finally:
        server.shutdown()
        server.server_close()


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (localhost)
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""


def test_plotly_has_a_hashed_name_and_is_loaded_only_where_charts_are(
    site: tuple[Path, str, list[str]]
) -> None:
    out, _, ids = site
    name = plotly_asset_name()
    assert name.startswith("assets/vendor/plotly-") and name.endswith(".min.js")
    assert len(name.split(".")[-3]) == 10  # plotly-<version>.<hash>.min.js
    assert [p.name for p in (out / "assets" / "vendor").iterdir()] == [name.rsplit("/", 1)[1]]

    def plotly_scripts(page: str) -> list[str]:
        soup = BeautifulSoup((out / page).read_text("utf-8"), "html.parser")
        return [s["src"] for s in soup.select("script[src]") if "plotly" in s["src"]]

    assert plotly_scripts(f"runs/{ids[0]}.html") == ["../" + name]  # it draws a history
    assert plotly_scripts("index.html") == []
    soup = BeautifulSoup((out / "index.html").read_text("utf-8"), "html.parser")
    icon = soup.select_one('link[rel="icon"]')
    assert icon["href"] == "assets/favicon.svg" and (out / icon["href"]).is_file()


def test_hashed_assets_are_gzipped_and_immutable(site: tuple[Path, str, list[str]]) -> None:
    out, base, _ = site
    name = plotly_asset_name()
    status, headers, body = get(base + name, **{"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Cache-Control"] == IMMUTABLE
    assert headers["Content-Type"] == "text/javascript" or "javascript" in headers["Content-Type"]
    original = (out / name).read_bytes()
    assert gzip.decompress(body) == original and len(body) < len(original) / 2
    assert int(headers["Content-Length"]) == len(body)
    again = get(base + name, **{"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})
    assert again[0] == 304 and again[2] == b""
    plain = get(base + name)  # no Accept-Encoding: the file as it is
    assert "Content-Encoding" not in plain[1] and plain[2] == original
    assert plain[1]["ETag"] != headers["ETag"]


def test_pages_and_other_assets_are_revalidated(site: tuple[Path, str, list[str]]) -> None:
    _, base, ids = site
    for path in (f"runs/{ids[0]}.html", "", "assets/site.css"):
        status, headers, body = get(base + path, **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Cache-Control"] == "no-cache", path
        assert headers["Content-Encoding"] == "gzip" and headers["ETag"], path
        assert get(base + path, **{"Accept-Encoding": "gzip",
                                   "If-None-Match": headers["ETag"]})[0] == 304
    status, headers, _ = get(base + "assets/favicon.svg")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml"
    assert get(base + "no-such-page.html")[0] == 404


@pytest.mark.browser
def test_cold_visit_then_the_next_page_in_chromium(
    site: tuple[Path, str, list[str]], browser: Any  # noqa: F811 (fixture)
) -> None:
    """The second run page reuses plotly.js from the browser's cache: it is not requested."""
    from benchmarks.page_weight import visit

    _, base, ids = site
    first, second = visit(browser, base, [f"runs/{ids[0]}.html", f"runs/{ids[1]}.html"])
    plotly_gz = len(gzip.compress((site[0] / plotly_asset_name()).read_bytes()))
    assert plotly_gz * 0.9 < first["bytes"] < plotly_gz * 1.1
    assert second["bytes"] < 20_000
    name = plotly_asset_name()
    assert first["files"][name] > 1_000_000
    assert second["files"].get(name, 0) == 0  # from the browser's cache, not the network
