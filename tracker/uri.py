"""Tracking URIs: which store a URI names, including MLflow spellings that map to a folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from tracker.store import Store

DEFAULT_URI = "./tracking"
ENV_VARS = ("TRACKER_TRACKING_URI", "MLFLOW_TRACKING_URI")


def default_uri() -> str:
    for name in ENV_VARS:
        value = os.environ.get(name)
        if value:
            return value
    return DEFAULT_URI


# The fluent API registers its ``get_tracking_uri`` here (``tracker.set_tracking_uri``), so a
# client made without a URI uses the fluent one without importing the fluent module (#13).
_current_uri: Callable[[], str] = default_uri


def use_current_uri(getter: Callable[[], str]) -> None:
    """Make ``getter`` the source of ``current_uri()`` (called once by ``tracker.api``)."""
    global _current_uri
    _current_uri = getter


def current_uri() -> str:
    """The tracking URI of a client made without one: the fluent API's, else the default."""
    return _current_uri()


def resolve_local_path(uri: str, *, notice: bool = True) -> str:
    """The absolute folder a local tracking URI names.

    ``file:`` URIs and plain paths are folders. ``sqlite:///x.db`` (MLflow's database URI) maps to
    the folder ``x.db.tracker`` beside that file, with a one-line notice. ``http(s)://`` is refused:
    there is no server.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidArgumentError(f"Tracking URI must be a non-empty string, got {uri!r}.")
    uri = uri.strip()
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    if scheme in ("http", "https"):
        raise InvalidArgumentError(
            f"Tracking URI {uri!r} points at a tracking server, and tracker has none: the store is "
            "a folder or a bucket. Use a path (e.g. './tracking'), 'file:///abs/path' or "
            "'s3://bucket/prefix', and publish the site with `tracker build` to share results."
        )
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidArgumentError(f"file: URI {uri!r} names a remote host; use a local path.")
        return os.path.abspath(unquote(parsed.path))
    if scheme.startswith("sqlite"):
        db_path = uri.split(":///", 1)[1] if ":///" in uri else ""
        if not db_path or db_path == ":memory:":
            raise InvalidArgumentError(
                f"Tracking URI {uri!r}: tracker maps sqlite:///<file> URIs to a folder beside that "
                "file; give a file path, e.g. 'sqlite:///mlflow.db'."
            )
        folder = os.path.abspath(unquote(db_path)) + ".tracker"
        if notice:
            print(
                f"tracker: {uri} is an MLflow database URI; using the store folder {folder}",
                file=sys.stderr,
            )
        return folder
    if scheme in ("", "local"):
        return os.path.abspath(os.path.expanduser(uri))
    if scheme in ("postgresql", "mysql", "mssql", "databricks", "uc"):
        raise InvalidArgumentError(
            f"Tracking URI {uri!r}: tracker stores runs as Parquet files in a folder or bucket, not "
            "in a database. Use a path such as './tracking' or 's3://bucket/prefix'."
        )
    raise InvalidArgumentError(
        f"Unsupported tracking URI scheme {scheme!r} in {uri!r}; use a path, file:, sqlite:/// "
        "(mapped to a folder) or s3://."
    )


def open_store(uri: str) -> Store:
    """Open the store a tracking URI names (a folder, or ``s3://bucket/prefix``)."""
    from tracker.store import LocalFS, Store

    if uri.lower().startswith("s3://"):
        from tracker.store.s3 import open_s3_store

        return open_s3_store(uri)
    path = resolve_local_path(uri, notice=False)
    return Store(LocalFS(path), uri)
