"""Page weight (issue #11): bytes a browser transfers for a cold visit of a run page and for
the next page, through ``tracker serve``'s handler (gzip, ETag, immutable hashed assets), and
the largest HTML page of a built site.

    .venv/bin/python -m benchmarks.page_weight site [first-page next-page]

Default pages: the run page with the most charts, then another run page. Needs Playwright and
Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def largest_html(site: Path) -> tuple[str, int]:
    """(path, bytes) of the largest .html file of a built site."""
    pages = [(p.stat().st_size, p.relative_to(site).as_posix()) for p in site.rglob("*.html")]
    size, path = max(pages)
    return path, size


def visit(browser: Any, base: str, paths: list[str]) -> list[dict[str, Any]]:
    """Open ``paths`` one after the other in one fresh browser context (cold cache); per page,
    the bytes transferred (Chrome's encodedDataLength: headers and compressed bodies), the
    requests made and those answered from the browser's cache."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    current: dict[str, Any] = {}
    urls: dict[str, str] = {}

    def sent(event: dict[str, Any]) -> None:
        urls[event["requestId"]] = event["request"]["url"]
        current["requests"] = current.get("requests", 0) + 1

    def finished(event: dict[str, Any]) -> None:
        url = urls.get(event["requestId"], "?").removeprefix(base)
        files = current.setdefault("files", {})
        files[url] = files.get(url, 0) + event["encodedDataLength"]
        current["bytes"] = current.get("bytes", 0) + event["encodedDataLength"]

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.requestServedFromCache",
           lambda e: current.__setitem__("cached", current.get("cached", 0) + 1))
    out = []
    for path in paths:
        current.clear()
        page.goto(base + path, wait_until="networkidle")
        page.wait_for_timeout(300)
        out.append({"page": path, "bytes": current.get("bytes", 0),
                    "requests": current.get("requests", 0), "cached": current.get("cached", 0),
                    "files": dict(sorted(current.get("files", {}).items()))})
    context.close()
    return out


def measure(site: Path, paths: list[str]) -> list[dict[str, Any]]:
    """Serve ``site`` on a free localhost port and visit ``paths`` in Chromium."""
    from playwright.sync_api import sync_playwright

    from tracker.site.serve import make_server

    server = make_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                return visit(browser, f"http://127.0.0.1:{server.server_address[1]}/", paths)
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()


def _default_pages(site: Path) -> list[str]:
    runs = sorted((p.read_text("utf-8").count('class="run-chart"'), p.relative_to(site).as_posix())
                  for p in (site / "runs").glob("*.html"))
    return [runs[-1][1], runs[-2][1]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("pages", nargs="*")
    args = parser.parse_args(argv)
    pages = args.pages or _default_pages(args.site)
    for row in measure(args.site, pages):
        print(f"{row['page']}: {row['bytes'] / 1024:.1f} KB transferred, {row['requests']} "
              f"requests, {row['cached']} from the browser's cache")
    path, size = largest_html(args.site)
    print(f"largest HTML page: {path}, {size / 1024:.1f} KB")


if __name__ == "__main__":
    main()
