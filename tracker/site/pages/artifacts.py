"""The artifacts section of a run page: the list, the copies for the site and their previews.

An artifact is copied into the site when it is readable (a folder or S3) and the publish rules let
it through (``artifacts.max_size``, ``include``, ``exclude``); the copy gets a preview when its
type has one. Other artifacts are listed with their size and the reason, without a link, a
preview or a copy.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.exceptions import TrackerError
from tracker.site import charts
from tracker.site.media import copy_suffix
from tracker.site.pages import SiteFile, doc

if TYPE_CHECKING:
    from tracker.artifacts import ArtifactRepo
    from tracker.site.data import SiteData

log = logging.getLogger("tracker.site")

PREVIEW_BYTES = 20 * 1024  # text previews show the start of the file
FIGURE_LIMIT = 1024 * 1024  # bigger Plotly JSON artifacts are previewed as text, not drawn
CSV_ROWS = 50

IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "gif", "webp"})
# Extension (or whole name, lower case) → preview kind. SVG is absent on purpose: it can carry
# script, so it is only ever offered as a download.
TEXT_TYPES = {
    "json": "json", "csv": "csv", "tsv": "csv", "md": "markdown", "markdown": "markdown",
    "html": "html", "htm": "html", "txt": "text", "log": "text", "yaml": "text", "yml": "text",
    "toml": "text", "ini": "text", "cfg": "text", "xml": "text", "py": "text", "sql": "text",
    "sh": "text", "mlmodel": "text",
}


@dataclass(frozen=True)
class Preview:
    """What the page shows of an artifact's content."""

    kind: str = doc("'image', 'figure', 'json', 'csv', 'markdown', 'html' or 'text'.")
    text: str = doc("Text shown escaped (or Markdown, rendered and sanitized).", "")
    rows: tuple[tuple[str, ...], ...] = doc("CSV rows, header first (escaped).", factory=tuple)
    figure: dict[str, Any] | None = doc("A logged Plotly figure (data and layout only).", None)
    truncated: bool = doc("True when only the start of the file is shown.", False)


@dataclass(frozen=True)
class Artifact:
    """An artifact file of the run."""

    path: str = doc("Path inside the run's artifacts (escaped when rendered).")
    size: int | None = doc("Size in bytes.")
    href: str = doc("Site path of the copy in the site; '' when not copied.")
    note: str = doc("Why there is no copy, or how the copy differs ('' for a plain copy).")
    preview: Preview | None = doc("Preview of the content, if any.")


def _extension(path: str) -> str:
    """Lower-case extension of a path, or the whole file name when it has none (``MLmodel``)."""
    name = path.rsplit("/", 1)[-1].lower()
    return name.rsplit(".", 1)[-1] if "." in name else name


def _kind(path: str) -> str | None:
    ext = _extension(path)
    return "image" if ext in IMAGE_TYPES else TEXT_TYPES.get(ext)


def _strict_json(text: str) -> Any:
    """Parsed JSON with NaN/±inf as None (the page embeds strict JSON)."""

    def number(literal: str) -> float | None:
        value = float(literal)
        return value if math.isfinite(value) else None

    return json.loads(text, parse_constant=lambda _: None, parse_float=number)


def _head(data: bytes) -> tuple[str, bool]:
    """The start of a text file (at most PREVIEW_BYTES, cut at a line end) and if it was cut."""
    if len(data) <= PREVIEW_BYTES:
        return data.decode("utf-8", errors="replace"), False
    text = data[:PREVIEW_BYTES].decode("utf-8", errors="ignore")
    cut = text.rfind("\n")
    return (text[: cut + 1] if cut > len(text) // 2 else text), True


def _json_preview(data: bytes) -> Preview:
    if len(data) <= FIGURE_LIMIT:
        try:
            text = data.decode("utf-8")
            figure = charts.logged_figure(_strict_json(text))
            if figure is not None:
                return Preview("figure", figure=figure)
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            pass
        else:
            head, cut = _head(pretty.encode("utf-8"))
            return Preview("json", text=head, truncated=cut)
    head, cut = _head(data)
    return Preview("text", text=head, truncated=cut)


def _csv_preview(data: bytes, delimiter: str) -> Preview:
    head, cut = _head(data)
    try:
        rows = [tuple(r) for _, r in zip(range(CSV_ROWS + 2), csv.reader(io.StringIO(head),
                                                                       delimiter=delimiter))]
    except csv.Error:
        return Preview("text", text=head, truncated=cut)
    more = len(rows) > CSV_ROWS + 1
    return Preview("csv", rows=tuple(rows[: CSV_ROWS + 1]), truncated=cut or more)


def _preview(path: str, data: bytes) -> Preview | None:
    """A preview of the artifact ``path`` copied into the site with content ``data``."""
    kind = _kind(path)
    if kind == "image":
        return Preview("image")
    if kind is None or b"\x00" in data[:PREVIEW_BYTES]:
        return None
    if kind == "json":
        return _json_preview(data)
    if kind == "csv":
        return _csv_preview(data, "\t" if path.lower().endswith(".tsv") else ",")
    head, cut = _head(data)
    return Preview(kind, text=head, truncated=cut)


def _repo(site: SiteData, run: dict[str, Any]) -> tuple[ArtifactRepo | None, str]:
    """The run's artifact repository (a folder or an S3 location), else (None, why not).

    The location comes from ``site.locations``: a record's ``artifact_uri`` outside the store
    and the declared ``artifact_locations`` is never read (a warning names the run and it).
    """
    from tracker.artifacts import ArtifactRepo

    where = site.locations.resolve(run["run_id"], run["experiment_id"], run["artifact_uri"])
    if not where.uri:
        if run["artifact_uri"]:
            log.warning("Run %s: its artifact location %r is not read: %s.", run["run_id"],
                        run["artifact_uri"], where.problem)
        return None, where.problem
    try:
        return ArtifactRepo(where.uri), ""
    except TrackerError:
        return None, "not readable: the artifact location is neither a folder nor s3://"


def _locate(
    repo: ArtifactRepo, run_id: str, path: str, sizes: dict[str, int] | None
) -> tuple[str, int, str]:
    """(normalized path, size, '') of a listed artifact, or ('', 0, why there is no file).

    ``sizes`` is the remote location's listing (one request per run, not one per file).
    """
    from tracker.validation import validate_artifact_path

    try:
        clean = validate_artifact_path(path)
    except TrackerError:
        return "", 0, "unsafe path: not copied"
    if not clean:
        return "", 0, "unsafe path: not copied"
    full, root = repo.local_path(clean), repo.local_path()
    if full is not None and root is not None:
        real, real_root = os.path.realpath(full), os.path.realpath(root)
        if not real.startswith(real_root + os.sep):
            return "", 0, "points outside the run's artifact folder: not copied"
        size = os.path.getsize(real) if os.path.isfile(real) else None
    else:
        full = repo.fs.uri(clean)
        size = (sizes or {}).get(clean)
    if size is None:
        log.warning("Run %s: artifact %r is listed but its file %s is missing; the run page "
                    "lists it without a link.", run_id, path, full)
        return "", 0, "file missing"
    return clean, size, ""


def _artifact(
    site: SiteData, run_id: str, row: dict[str, Any], repo: ArtifactRepo | None, why: str,
    sizes: dict[str, int] | None,
) -> tuple[Artifact, SiteFile | None]:
    """An artifact of the list, and its copy for the site when it gets one."""
    path, size = str(row["path"]), row["file_size"]
    source = site.publish.artifact_source(path)  # the stored path of a redacted one (#15)
    clean, actual, problem = _locate(repo, run_id, source, sizes) if repo else ("", 0, why)
    if not clean or repo is None:
        return Artifact(path, size, "", problem, None), None
    withheld = site.publish.withheld(clean, actual)
    if withheld:  # listed, but neither its bytes nor a preview of them go into the site
        return Artifact(path, actual if size is None else size, "", withheld, None), None
    original = repo.read_bytes(clean)
    data = site.publish.redact_file(clean, original)
    target, notes = site.urls.run_artifact(run_id, site.publish.redact_path(clean)), []
    if data != original:
        notes.append("secrets redacted in this copy")
    suffix, why = copy_suffix(clean, data)  # only inert types are copied as they are (#15)
    if suffix:
        target, notes = target + suffix, [*notes, why]
    note = "; ".join(notes)
    preview = _preview(path, data)
    artifact = Artifact(path, actual if size is None else size, target, note, preview)
    return artifact, SiteFile(target, data)


def artifacts(site: SiteData, run: dict[str, Any], files: list[SiteFile]) -> tuple[Artifact, ...]:
    """The run's artifacts, by the store's order; their site copies are added to ``files``."""
    rows = site.artifacts.get(run["run_id"], [])
    if not rows:
        return ()
    repo, why = _repo(site, run)
    sizes = dict(repo.walk()) if repo is not None and repo.local_path() is None else None
    out, copied = [], set()
    for row in rows:
        artifact, copy = _artifact(site, run["run_id"], row, repo, why, sizes)
        if copy is not None and copy.path in copied:  # two spellings of one path ("a//b", "a/b")
            artifact, copy = Artifact(artifact.path, artifact.size, "", "duplicate path", None), None
        if copy is not None:
            copied.add(copy.path)
            files.append(copy)
        out.append(artifact)
    return tuple(out)
