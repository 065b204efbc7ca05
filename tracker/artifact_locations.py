"""Where a build may read a run's artifacts: the store's own artifact folder and declared roots.

A run's ``artifact_uri`` is a value read from a store record, and a store is untrusted input: a
Parquet file in someone's pull request, or a shared bucket. A record that says
``artifact_uri=/proc/self`` must not make the site build copy the CI job's environment into a
published site. So the record never chooses what is read:

- A URI laid out like the store's own (``…/artifacts/<experiment_id>/<run_id>/artifacts``, with
  the run's own ids) is read from **this** store's ``artifacts/<experiment_id>/<run_id>/artifacts``,
  built from the validated ids. This is also what makes a store that was moved or cloned to
  another path (a git checkout in CI) find its artifacts.
- A URI inside a root the project declares (``[tool.tracker] artifact_locations``, the trusted
  side) is read there, after symlinks are resolved and checked to stay inside that root.
- Anything else is not read: the caller skips the run's artifacts with a warning naming the run
  and the location, and ``tracker doctor`` reports it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from tracker.store.fs import StoreFS

__all__ = ["ArtifactLocations", "Location", "canonical_location", "own_layout"]

ARTIFACTS = "artifacts"  # the store's own artifact folder (tracker.store.store.ARTIFACTS)
_ID = re.compile(r"^[0-9a-zA-Z_\-]{1,64}$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Location:
    """Where to read one run's artifacts, or why they are not read.

    Args:
        uri: the location to open with ``ArtifactRepo`` ('' when refused).
        problem: why the run's artifacts are not read ('' when ``uri`` is set).
    """

    uri: str
    problem: str = ""


def canonical_location(value: str) -> str:
    """A location in one comparable form: ``s3://bucket/key`` or an absolute local path.

    Local paths (plain or ``file:``) have symlinks resolved; S3 keys may not hold ``.``, ``..``
    or empty segments. Raises ``InvalidArgumentError`` naming the value for anything else
    (other schemes, NUL bytes, a malformed bucket).
    """
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise InvalidArgumentError(
            f"Artifact location {value!r} is not a folder path, file: URI or s3:// URI."
        )
    text = value.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        key = parts.path.strip("/")
        segments = key.split("/") if key else []
        if not _S3_BUCKET.match(parts.netloc) or any(s in ("", ".", "..") for s in segments):
            raise InvalidArgumentError(
                f"Artifact location {value!r} is not a plain s3://bucket/prefix URI (no '.', "
                "'..' or empty segments)."
            )
        return "s3://" + "/".join([parts.netloc, *segments])
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgumentError(
                f"Artifact location {value!r} names a remote host; use a local path."
            )
        return os.path.realpath(unquote(parts.path))
    if scheme and len(scheme) > 1:
        raise InvalidArgumentError(
            f"Artifact location {value!r} has the scheme {scheme!r}; allowed are local folders, "
            "file: and s3:// URIs."
        )
    return os.path.realpath(os.path.expanduser(text))


def own_layout(store_fs: StoreFS, uri: str, *ids: str) -> str:
    """``uri`` as a location of this store when it has the store's own layout, else ``uri``.

    A store records absolute locations (``/home/alice/repo/tracking/artifacts/<experiment_id>``
    for an experiment, ``…/<experiment_id>/<run_id>/artifacts`` for a run). In another clone of
    the same git store those paths are someone else's: this maps them onto this store's own
    folder, so bob's runs are written to, and read from, bob's checkout.

    Args:
        store_fs: the store.
        uri: a recorded experiment location (``ids`` = experiment id) or run artifact URI
            (``ids`` = experiment id, run id).
        ids: the ids the layout is built from.
    """
    tail = "/".join((ARTIFACTS, ids[0], *((ids[1], "artifacts") if len(ids) > 1 else ())))
    if uri and all(_ID.match(i) for i in ids) and _unquoted(uri).rstrip("/").endswith("/" + tail):
        return store_fs.uri(tail)
    return uri


def _inside(path: str, root: str) -> bool:
    sep = "/" if root.startswith("s3://") else os.sep
    return path == root or path.startswith(root.rstrip(sep) + sep)


class ArtifactLocations:
    """The roots a build reads artifacts from, and the check of each run's ``artifact_uri``.

    Args:
        store_fs: the store's filesystem (its ``artifacts/`` folder is always a root).
        declared: the project's ``artifact_locations`` (trusted configuration).
    """

    def __init__(self, store_fs: StoreFS, declared: tuple[str, ...] = ()) -> None:
        self._store_fs = store_fs
        self.store_root = canonical_location(store_fs.uri(ARTIFACTS))
        self.declared = tuple(canonical_location(d) for d in declared)

    def resolve(self, run_id: str, experiment_id: str, artifact_uri: str) -> Location:
        """Where the artifacts of this run are read from, or why they are not read.

        Args:
            run_id: the run's id (as read from the store; checked here).
            experiment_id: the run's experiment id (checked here).
            artifact_uri: the run's recorded artifact URI (untrusted).
        """
        if not artifact_uri:
            return Location("", "the run has no artifact location")
        if not (isinstance(run_id, str) and _ID.match(run_id)
                and isinstance(experiment_id, str) and _ID.match(experiment_id)):
            return Location("", "the run's ids are not valid ids: its artifacts are not read")
        try:
            where = canonical_location(artifact_uri)
        except InvalidArgumentError:
            return Location("", "the artifact location is not a folder, file: or s3:// URI: "
                                "not read")
        own = self._store_fs.uri(f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts")
        if _inside(where, self.store_root) or own_layout(
            self._store_fs, artifact_uri, experiment_id, run_id
        ) == own:
            # The store's own layout, read from this store whatever path the record holds.
            return Location(own)
        for root in self.declared:
            if _inside(where, root):
                return Location(where)
        return Location("", "the artifact location is outside the store and the project's "
                            "artifact_locations: not read (declare it in [tool.tracker] "
                            "artifact_locations to publish it)")

    def root_of(self, location: str) -> str:
        """The trusted root that ``location`` (a ``resolve`` result) lies in."""
        where = canonical_location(location)
        for root in (self.store_root, *self.declared):
            if _inside(where, root):
                return root
        raise InvalidArgumentError(f"Artifact location {location!r} is in no trusted root.")


def _unquoted(uri: str) -> str:
    return unquote(uri.replace("\\", "/"))
