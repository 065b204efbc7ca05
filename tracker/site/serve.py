"""``tracker serve`` (alias ``tracker ui``): build the site, serve it over HTTP on localhost, and
rebuild it when the store, the reports or the templates change.

Change detection polls a cheap fingerprint once a second: the paths, sizes and modification
times of the files under the watched folders (for a remote store, its file listing: store files
are immutable, so a path and a size identify one). A rebuild is the ordinary incremental
``tracker.site.build.build`` into the same folder, so only changed pages are rewritten; files
are replaced atomically, so a page being served is never half written. The server is the
standard library's ``http.server`` in a thread, with request logging turned off.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import ipaddress
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from tracker.exceptions import TrackerError
from tracker.site import media

if TYPE_CHECKING:
    from tracker.config import TrackerConfig

log = logging.getLogger("tracker.site")

class ServeError(TrackerError):
    """The site could not be served (e.g. the port is taken)."""


Fingerprint = tuple[tuple[str, int, int], ...]

# Temporary names of in-flight writes (store: ``.tmp-<uuid>-<name>``; site: ``<name>.tmp-<pid>``).
_TEMP_MARK = ".tmp-"


def folder_fingerprint(folder: str | os.PathLike[str]) -> Fingerprint:
    """(relative path, size, mtime in ns) of every file under ``folder``, sorted; () if missing.

    Args:
        folder: the folder to scan (recursively; symlinked folders are not followed).
    """
    root = os.fspath(folder)
    out: list[tuple[str, int, int]] = []
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if _TEMP_MARK in entry.name:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file():
                    st = entry.stat()
                    out.append((os.path.relpath(entry.path, root), st.st_size, st.st_mtime_ns))
            except FileNotFoundError:  # removed (e.g. by a compactor) while we looked
                continue
    out.sort()
    return tuple(out)


class Watcher:
    """Fingerprints the inputs of a build: the store plus optional local folders.

    Args:
        store_uri: the store (a local folder is scanned; a remote one is listed).
        folders: more local folders to watch (reports, templates); missing ones are fine.
    """

    def __init__(self, store_uri: str, folders: Iterable[str | os.PathLike[str] | None] = ()) -> None:
        from tracker.client import TrackerClient
        from tracker.store.fs import LocalFS

        self.fs = TrackerClient(store_uri).store.fs
        self.local_root = self.fs.root if isinstance(self.fs, LocalFS) else None
        self.folders = [os.fspath(f) for f in folders if f is not None]
        self.last = self.fingerprint()

    def fingerprint(self) -> tuple[Fingerprint, ...]:
        """The current fingerprint of every watched place."""
        if self.local_root is not None:
            store = folder_fingerprint(self.local_root)
        else:
            store = tuple((e.path, e.size, 0) for e in self.fs.list_files(""))
        return (store, *(folder_fingerprint(f) for f in self.folders))

    def changed(self) -> bool:
        """True (once) when anything changed since the previous call."""
        now = self.fingerprint()
        if now == self.last:
            return False
        self.last = now
        return True


# Where the site keeps artifact copies (``Urls.run_artifact``): served by the allow-list.
_ARTIFACT_URL = re.compile(r"^/+runs/[^/]+/artifacts/")
# Assets whose name carries a hash of their content (plotly-<version>.<hash>.min.js): a changed
# file gets a new name, so browsers may keep these for good.
_HASHED = re.compile(r"^/+assets/.*\.[0-9a-f]{10}\.[a-z.]+$")
IMMUTABLE = "public, max-age=31536000, immutable"
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml",
                 "application/xml")
_GZIP_MIN = 1024  # smaller bodies gain nothing from gzip
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def allowed_hosts(host: str) -> frozenset[str]:
    """Host names a request may name in its ``Host`` header when the server listens on ``host``.

    A web page on another site can make a browser send requests to this server through a name
    the attacker's DNS points at 127.0.0.1 ("DNS rebinding"); such requests carry the attacker's
    name in ``Host`` and are refused (#15). Allowed: localhost names, the bound host name, this
    machine's names when listening on every interface, and IP addresses (no DNS is involved).

    Args:
        host: the address the server listens on.
    """
    names = set(LOCAL_NAMES)
    bound = host.strip("[]").lower()
    if bound in ("", "0.0.0.0", "::"):
        names.update(n.lower() for n in (socket.gethostname(), socket.getfqdn()) if n)
    else:
        names.add(bound)
    return frozenset(names)


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request's ``Host`` header (``name``, ``name:port``, ``[v6]:port``) is allowed."""
    if header is None:
        return True  # HTTP/1.0 clients; browsers always send Host
    value = header.strip().lower()
    if value.startswith("["):
        name = value[1:].split("]", 1)[0]
    else:
        name = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    name = name.rstrip(".")
    if name in allowed:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=64)
def _gzipped(path: str, size: int, mtime_ns: int) -> bytes:
    """The gzip of a site file, kept per (path, size, mtime): plotly.js takes ~0.2 s."""
    with open(path, "rb") as fh:
        return gzip.compress(fh.read(), compresslevel=6, mtime=0)


def cache_control(url_path: str) -> str:
    """The Cache-Control of a site URL: hashed assets for a year, the rest revalidated (ETag).

    Args:
        url_path: the request's path.
    """
    return IMMUTABLE if _HASHED.match(unquote(url_path)) else "no-cache"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site folder without logging every request; gzip when the client takes it,
    an ETag on every file and long caching for hashed assets (#11); refuses a ``Host`` header
    that names another site (DNS rebinding)."""

    allowed: frozenset[str] = LOCAL_NAMES
    _download = False

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def parse_request(self) -> bool:
        self._download = False
        if not super().parse_request():
            return False
        host = self.headers.get("Host")
        if not host_allowed(host, self.allowed):
            self.send_error(
                400, "Unknown Host",
                f"Host {host!r} is not this server's; open it as http://localhost:<port>/.",
            )
            return False
        return True

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        """Artifact copies of a type off the allow-list go out as downloads (#15)."""
        if not _ARTIFACT_URL.match(unquote(urlsplit(self.path).path)):
            return super().guess_type(path)
        mime = media.content_type(os.fspath(path))
        if mime is None:
            self._download = True
            return "application/octet-stream"
        return mime

    def send_head(self) -> Any:
        """Headers of a file (200, or 304 when the client's ETag matches) and its body."""
        url = urlsplit(self.path).path
        path = self.translate_path(self.path)
        if os.path.isdir(path) and url.endswith("/"):
            path = os.path.join(path, "index.html")
        if not os.path.isfile(path):
            return super().send_head()  # redirects, listings and 404s
        ctype = self.guess_type(path)
        st = os.stat(path)
        zipped = (not _ARTIFACT_URL.match(unquote(url)) and st.st_size >= _GZIP_MIN
                  and ctype.startswith(_COMPRESSIBLE)
                  and "gzip" in self.headers.get("Accept-Encoding", "").lower())
        etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}{"-gz" if zipped else ""}"'
        cache = cache_control(url)
        if etag in (t.strip() for t in self.headers.get("If-None-Match", "").split(",")):
            self.send_response(304)
            self._validators(etag, cache)
            self.end_headers()
            return None
        body = _gzipped(path, st.st_size, st.st_mtime_ns) if zipped else None
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if body is not None else st.st_size))
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        self._validators(etag, cache)
        self.end_headers()
        return io.BytesIO(body) if body is not None else open(path, "rb")  # noqa: SIM115

    def _validators(self, etag: str, cache: str) -> None:
        self.send_header("ETag", etag)
        self.send_header("Vary", "Accept-Encoding")
        self._cache = cache

    _cache = ""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", self._cache or "no-store")
        self._cache = ""
        self.send_header("X-Content-Type-Options", "nosniff")
        if self._download:
            self.send_header("Content-Disposition", "attachment")
        super().end_headers()


def make_server(out: str | os.PathLike[str], host: str = "127.0.0.1",
                port: int = 8000) -> http.server.ThreadingHTTPServer:
    """An HTTP server of the folder ``out`` (not started); port 0 picks a free port.

    Args:
        out: the folder to serve.
        host: the address to listen on.
        port: the port (0: any free port; read it from ``server.server_address``).
    """
    handler_class = type("_Handler", (_QuietHandler,), {"allowed": allowed_hosts(host)})
    handler = functools.partial(handler_class, directory=os.fspath(out))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(
    store_uri: str,
    out: str | os.PathLike[str] = "site",
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    reports: str | os.PathLike[str] | None = None,
    templates: str | os.PathLike[str] | None = None,
    interval: float = 1.0,
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    site_title: str | None = None,
    base_url: str | None = None,
    strict: bool = False,
    config: TrackerConfig | None = None,
) -> None:
    """Build the site, serve it, and rebuild on changes until Ctrl-C (or ``stop`` is set).

    Args:
        store_uri: the store to read.
        out: the output folder (built into, then served).
        host: the address to listen on.
        port: the port (0: any free port).
        reports: the folder of Markdown reports, also watched.
        templates: the folder of template overrides, also watched (as is the default theme).
        interval: seconds between two change checks.
        echo: where progress lines go.
        stop: an event that ends serving when set (tests, embedding).
        site_title, base_url, strict, config: passed on to ``build``.
    """
    from tracker.site.build import build
    from tracker.site.render import default_theme

    def rebuild() -> None:
        result = build(store_uri, out, reports=reports, templates=templates,
                       site_title=site_title, base_url=base_url, strict=strict, config=config)
        for warning in result.warnings:
            echo(f"warning: {warning}")
        echo(f"Built {result.pages} pages in {result.seconds:.1f} s ({len(result.written)} files "
             f"written, {len(result.removed)} removed).")

    # The default theme is watched too: editing it in a checkout rebuilds like a user template.
    watcher = Watcher(store_uri, [reports, templates, default_theme()])
    rebuild()
    try:
        server = make_server(out, host, port)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise ServeError(
            f"Cannot serve on {host}:{port}: {exc.strerror or exc}; choose another port "
            "(--port 0 picks a free one)."
        ) from exc
    thread = threading.Thread(target=server.serve_forever, name="tracker-serve", daemon=True)
    thread.start()
    shown_host = f"[{host}]" if ":" in host else host
    echo(f"Serving {os.path.abspath(out)} at http://{shown_host}:{server.server_address[1]}/ "
         "(rebuilt on changes; Ctrl-C stops).")
    stop = stop or threading.Event()
    try:
        while not stop.wait(interval):
            if watcher.changed():
                _rebuild_safely(rebuild, echo)
    except KeyboardInterrupt:
        echo("Stopped.")
    finally:
        server.shutdown()
        server.server_close()


def _rebuild_safely(rebuild: Callable[[], None], echo: Callable[[str], None]) -> None:
    """A failed rebuild (e.g. a template error while editing) keeps the old site served."""
    try:
        rebuild()
    except (TrackerError, OSError, ValueError) as exc:
        echo(f"error: rebuild failed, still serving the previous build: {exc}")
    except Exception as exc:  # a Jinja syntax error while editing must not stop the server
        echo(f"error: rebuild failed ({type(exc).__name__}), still serving the previous build: "
             f"{exc}")
