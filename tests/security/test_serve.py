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
