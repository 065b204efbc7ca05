"""``tracker serve`` on a hostile network (#15): Host checks against DNS rebinding, and artifact
copies of active types served as downloads, not documents."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker.site.serve import make_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A folder served by ``make_server`` on 127.0.0.1 (any free port): (folder, port)."""
    site = tmp_path / "site"
    (site / "runs" / "r1" / "artifacts").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>home</title><p>tracker site</p>")
    server = make_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def get(port: int, path: str, host: str | None) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` with exactly the ``Host`` header given (None: no Host header at all)."""
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        con.putrequest("GET", path, skip_host=True)
        if host is not None:
            con.putheader("Host", host)
        con.endheaders()
        response = con.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        con.close()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "localhost:{port}",
                                  "127.0.0.1:{port}", "[::1]:{port}", "LOCALHOST:{port}"])
def test_serve_answers_local_host_names(served: tuple[Path, int], host: str) -> None:
    _, port = served
    status, _, body = get(port, "/index.html", host.format(port=port))
    assert status == 200
    assert b"tracker site" in body


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}",
                                  "localhost.attacker.example", "127.0.0.1.nip.io:{port}"])
def test_serve_refuses_a_foreign_host_header(served: tuple[Path, int], host: str) -> None:
    """A page of attacker.example whose DNS now points at 127.0.0.1 must not read the site."""
    _, port = served
    status, _, body = get(port, "/index.html", host.format(port=port))
    assert status == 400
    assert b"tracker site" not in body
    assert b"not this server" in body


@pytest.mark.parametrize("name", ["evil.xhtm", "evil.xpdl", "page.html", "image.svg",
                                  "data.xml", "MLmodel", "model.pkl"])
def test_serve_sends_artifacts_off_the_allow_list_as_downloads(
    served: tuple[Path, int], name: str
) -> None:
    site, port = served
    (site / "runs" / "r1" / "artifacts" / name).write_text("<script>alert(1)</script>")
    status, headers, _ = get(port, f"/runs/r1/artifacts/{name}", "localhost")
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == "attachment"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("name", "mime"), [
    ("plot.png", "image/png"), ("notes.txt", "text/plain; charset=utf-8"),
    ("metrics.json", "application/json; charset=utf-8"), ("t.csv", "text/csv; charset=utf-8"),
    ("report.pdf", "application/pdf"), ("evil.xhtm.txt", "text/plain; charset=utf-8"),
])
def test_serve_sends_inert_artifacts_inline(
    served: tuple[Path, int], name: str, mime: str
) -> None:
    site, port = served
    (site / "runs" / "r1" / "artifacts" / name).write_bytes(b"data")
    status, headers, _ = get(port, f"/runs/r1/artifacts/{name}", "localhost")
    assert status == 200
    assert headers["content-type"] == mime
    assert "content-disposition" not in headers


def test_serve_sends_the_sites_own_pages_as_html(served: tuple[Path, int]) -> None:
    _, port = served
    status, headers, _ = get(port, "/index.html", "localhost")
    assert status == 200 and headers["content-type"] == "text/html"
    assert "content-disposition" not in headers
