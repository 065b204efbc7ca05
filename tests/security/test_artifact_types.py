"""Artifact copies of active types run no script in the site (#15): only an allow-list of inert
types (images, text, JSON, CSV, PDF) is copied and served as it is. Checked in real Chromium,
from the static site (``file://``) and through ``tracker serve``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from bs4 import BeautifulSoup

from tests import browser as browser_fixtures
from tracker.client import TrackerClient
from tracker.site.build import build
from tracker.site.serve import make_server

browser = browser_fixtures.browser  # fixture

MARK = "PWNED-BY-ARTIFACT"
XHTML = (f'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>x</p>'
         f'<script>console.log("{MARK}")</script></body></html>')
ACTIVE = {
    "evil.xhtm": XHTML,
    "evil.xpdl": XHTML,
    "evil.xhtml": XHTML,
    "evil.html": f'<script>console.log("{MARK}")</script>',
    "evil.svg": (f'<svg xmlns="http://www.w3.org/2000/svg"><script>console.log("{MARK}")'
                 '</script></svg>'),
    "evil.xml": XHTML,
    "evil.mhtml": f'<script>console.log("{MARK}")</script>',
    "EVIL": f'<html><script>console.log("{MARK}")</script></html>',  # no extension: sniffed
}
BINARY = {"model.pkl": b"\x80\x04\x95<html><script>console.log('" + MARK.encode() + b"')</script>"}
INERT = {"notes.txt": "plain notes\n", "metrics.json": '{"rmse": 1.5}', "table.csv": "a,b\n1,2\n"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A built site of one run that logged active, binary and inert artifacts."""
    tmp = tmp_path_factory.mktemp("types")
    client = TrackerClient(str(tmp / "store"))
    run_id = client.create_run(client.create_experiment("types")).info.run_id
    for name, text in {**ACTIVE, **INERT}.items():
        client.log_text(run_id, text, name)
    for name, data in BINARY.items():
        path = tmp / name
        path.write_bytes(data)
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id)
    build(str(tmp / "store"), tmp / "site")
    return tmp / "site", run_id


def links(site: Path, run_id: str) -> dict[str, str]:
    """Artifact path on the run page -> the href of its download link."""
    soup = BeautifulSoup((site / "runs" / f"{run_id}.html").read_text(), "html.parser")
    out = {}
    for row in soup.select("table.artifacts tbody tr"):
        link = row.find("a", string="download")
        if link is not None:
            out[row.th.get_text()] = unquote(link["href"])
    return out


def test_only_inert_types_are_copied_as_they_are(site: tuple[Path, str]) -> None:
    root, run_id = site
    hrefs = links(root, run_id)
    assert set(hrefs) == {*ACTIVE, *BINARY, *INERT}
    for name in INERT:
        assert hrefs[name] == f"{run_id}/artifacts/{name}"
    for name in ACTIVE:
        assert hrefs[name] == f"{run_id}/artifacts/{name}.txt"
    assert hrefs["model.pkl"] == f"{run_id}/artifacts/model.pkl.bin"
    copies = {p.name for p in (root / "runs" / run_id / "artifacts").iterdir()}
    assert copies == {*(f"{n}.txt" for n in ACTIVE), "model.pkl.bin", *INERT}


def _visit(context: Any, url: str) -> list[str]:
    """Open ``url`` in a new page; return what its console printed (a download prints none)."""
    page = context.new_page()
    printed: list[str] = []
    page.on("console", lambda m: printed.append(m.text))
    try:
        page.goto(url, wait_until="load")
        page.wait_for_timeout(200)
    except Exception as exc:  # noqa: BLE001 - a download aborts the navigation: nothing ran
        assert "Download is starting" in str(exc) or "ERR_ABORTED" in str(exc), exc
    finally:
        page.close()
    return printed


@pytest.mark.browser
def test_no_artifact_copy_runs_script_from_file_urls(browser: Any, site: tuple[Path, str]) -> None:
    root, run_id = site
    context = browser.new_context(accept_downloads=True)
    try:
        ran = {}
        for name, href in links(root, run_id).items():
            url = (root / "runs" / href).resolve().as_uri()
            ran[name] = [m for m in _visit(context, url) if MARK in m]
    finally:
        context.close()
    assert {k: v for k, v in ran.items() if v} == {}


@pytest.fixture
def served(site: tuple[Path, str]) -> Iterator[str]:
    root, _ = site
    server = make_server(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_no_artifact_runs_script_through_serve(
    browser: Any, site: tuple[Path, str], served: str, tmp_path: Path
) -> None:
    """Also raw copies with active names in the served folder (a site built by an older
    tracker, or files put there by hand): ``tracker serve`` sends them as downloads."""
    root, run_id = site
    raw = root / "runs" / run_id / "artifacts" / "raw"
    raw.mkdir(exist_ok=True)
    for name, text in ACTIVE.items():
        (raw / name).write_text(text)
    urls = {name: f"{served}/runs/{href}" for name, href in links(root, run_id).items()}
    urls.update({f"raw/{name}": f"{served}/runs/{run_id}/artifacts/raw/{name}" for name in ACTIVE})
    context = browser.new_context(accept_downloads=True)
    try:
        ran = {name: [m for m in _visit(context, url) if MARK in m] for name, url in urls.items()}
        page = context.new_page()
        page.goto(f"{served}/runs/{run_id}.html")
        assert page.locator("table.artifacts").count() == 1  # the site's own pages still work
        page.close()
    finally:
        context.close()
    assert {k: v for k, v in ran.items() if v} == {}
