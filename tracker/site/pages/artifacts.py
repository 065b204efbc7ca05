"""The artifacts section of a run page: the list, the copies for the site and their previews.

An artifact is copied into the site when it is readable (a folder or S3) and the publish rules let
it through (``artifacts.max_size``, ``include``, ``exclude``); the copy gets a preview when its
type has one. Other artifacts are listed with their size and the reason, without a link, a
preview or a copy.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.exceptions import TrackerError
from tracker.site import charts
from tracker.site.media import copy_suffix, image_size
from tracker.site.pages import SiteFile, doc

if TYPE_CHECKING:
    from tracker.artifacts import ArtifactRepo
    from tracker.site.data import SiteData

log = logging.getLogger("tracker.site")

PREVIEW_BYTES = 20 * 1024  # text previews show the start of the file
FIGURE_LIMIT = 1024 * 1024  # bigger Plotly JSON artifacts are previewed as text, not drawn
CSV_ROWS = 50
TEXT_LINES = 40  # longer text previews show these lines, the rest collapsed
TOP_FEATURES = 20  # bars of a feature-importance chart
SVG_LIMIT = 64 * 1024  # bigger SVG images are listed for download only, not previewed
LAZY_CHARS = 4096  # longer text previews live in the run's previews.js, loaded when opened
PREVIEWS_GLOBAL = "TRACKER_PREVIEWS"

IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "gif", "webp"})
# Extension (or whole name, lower case) → preview kind. SVG is absent on purpose: it can carry
# script, so its copy is a .txt download and its preview an <img> of a data: URI (an image
# document runs no script, and browsers do not open data: URIs as top-level pages).
_IMPORTANCE = re.compile(r"^feature_importance(?:_([A-Za-z0-9_]+))?\.json$")
TEXT_TYPES = {
    "json": "json", "csv": "csv", "tsv": "csv", "md": "markdown", "markdown": "markdown",
    "html": "html", "htm": "html", "txt": "text", "log": "text", "yaml": "text", "yml": "text",
    "toml": "text", "ini": "text", "cfg": "text", "xml": "text", "py": "text", "sql": "text",
    "sh": "text", "mlmodel": "text",
}


@dataclass(frozen=True)
class Bar:
    """A feature's bar in a feature-importance chart."""

    feature: str = doc("Feature name as logged (f0, f1… when the model had no names).")
    value: float = doc("Importance score.")
    share: float = doc("Bar length: value / the largest value, 0 to 1.")


@dataclass(frozen=True)
class Importance:
    """Feature importances of one kind (xgboost's weight, gain, cover…), highest first."""

    kind: str = doc("Importance type, e.g. 'gain'.")
    bars: tuple[Bar, ...] = doc("The top TOP_FEATURES features, highest first.")
    features: int = doc("Number of features scored (bars may show fewer).")
    source: str = doc("Artifact path the scores come from.")


@dataclass(frozen=True)
class Preview:
    """What the page shows of an artifact's content."""

    kind: str = doc("'image', 'svg', 'figure', 'json', 'csv', 'markdown', 'html' or 'text'.")
    text: str = doc("Text shown escaped (or Markdown, rendered and sanitized); for long text "
                    "the first TEXT_LINES lines.", "")
    rest: str = doc("Text beyond the first TEXT_LINES lines, shown collapsed ('' if none).", "")
    rest_lines: int = doc("Number of lines in ``rest``.", 0)
    width: int | None = doc("Image width in pixels, when its header says.", None)
    height: int | None = doc("Image height in pixels, when its header says.", None)
    src: str = doc("data: URI an SVG image is shown from ('' for other kinds).", "")
    importance: tuple[Importance, ...] = doc("Feature importances read from a "
                                             "feature_importance_*.json artifact.", factory=tuple)
    lazy: bool = doc("True when ``text`` and ``rest`` are not in the page but in the run's "
                     "previews script, loaded when the preview is opened.", False)
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


def _text_preview(kind: str, head: str, cut: bool, **extra: Any) -> Preview:
    """A text preview whose lines beyond the first TEXT_LINES are kept apart (shown collapsed)."""
    lines = head.splitlines(keepends=True)
    if len(lines) <= TEXT_LINES or kind == "markdown":
        return Preview(kind, text=head, truncated=cut, **extra)
    rest = lines[TEXT_LINES:]
    return Preview(kind, text="".join(lines[:TEXT_LINES]), rest="".join(rest),
                   rest_lines=len(rest), truncated=cut, **extra)


def _scores(kind: str, obj: Any, source: str) -> Importance | None:
    """Feature importances from a ``{feature: score}`` mapping, else None."""
    if not isinstance(obj, dict) or not obj:
        return None
    pairs = [(str(k), float(v)) for k, v in obj.items()
             if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if len(pairs) != len(obj):
        return None
    pairs.sort(key=lambda p: (-p[1], p[0]))
    top = pairs[:TOP_FEATURES]
    peak = max((abs(v) for _, v in top), default=0.0) or 1.0
    bars = tuple(Bar(f, v, round(abs(v) / peak, 4)) for f, v in top)
    return Importance(kind, bars, len(pairs), source)


def _importances(path: str, obj: Any) -> tuple[Importance, ...]:
    """The importances an autolog ``feature_importance[_<type>].json`` artifact holds."""
    match = _IMPORTANCE.match(path.rsplit("/", 1)[-1])
    if match is None:
        return ()
    if match.group(1):  # feature_importance_gain.json: {feature: score}
        one = _scores(match.group(1), obj, path)
        return (one,) if one else ()
    if not isinstance(obj, dict):  # feature_importance.json: {type: {feature: score}}
        return ()
    found = (_scores(str(kind), scores, path) for kind, scores in sorted(obj.items()))
    return tuple(i for i in found if i is not None)


def _json_preview(path: str, data: bytes) -> Preview:
    if len(data) <= FIGURE_LIMIT:
        try:
            text = data.decode("utf-8")
            parsed = _strict_json(text)
            figure = charts.logged_figure(parsed)
            if figure is not None:
                return Preview("figure", figure=figure)
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            pass
        else:
            head, cut = _head(pretty.encode("utf-8"))
            return _text_preview("json", head, cut, importance=_importances(path, parsed))
    head, cut = _head(data)
    return _text_preview("text", head, cut)


def _csv_preview(data: bytes, delimiter: str) -> Preview:
    head, cut = _head(data)
    try:
        rows = [tuple(r) for _, r in zip(range(CSV_ROWS + 2), csv.reader(io.StringIO(head),
                                                                       delimiter=delimiter))]
    except csv.Error:
        return _text_preview("text", head, cut)
    more = len(rows) > CSV_ROWS + 1
    return Preview("csv", rows=tuple(rows[: CSV_ROWS + 1]), truncated=cut or more)


def _preview(path: str, data: bytes) -> Preview | None:
    """A preview of the artifact ``path`` copied into the site with content ``data``."""
    kind = _kind(path)
    if kind == "image":
        size = image_size(data)
        return Preview("image", width=size[0], height=size[1]) if size else Preview("image")
    if _extension(path) == "svg":
        if len(data) > SVG_LIMIT:
            return None
        return Preview("svg", src="data:image/svg+xml;base64," + base64.b64encode(data).decode())
    if kind is None or b"\x00" in data[:PREVIEW_BYTES]:
        return None
    if kind == "json":
        return _json_preview(path, data)
    if kind == "csv":
        return _csv_preview(data, "\t" if path.lower().endswith(".tsv") else ",")
    head, cut = _head(data)
    return _text_preview(kind, head, cut)


def lazy_previews(
    artifacts: tuple[Artifact, ...], script_path: str
) -> tuple[tuple[Artifact, ...], SiteFile | None]:
    """The artifacts with long text previews marked lazy, and the script holding their text.

    Keeps the run page small (#11): the text of a preview longer than LAZY_CHARS goes into a
    data script (``window.TRACKER_PREVIEWS[path] = [text, rest]``; a script, not JSON, because
    pages opened from file:// cannot fetch) that run.js loads when the preview is opened.

    Args:
        artifacts: the run's artifacts.
        script_path: site path of the script.
    """
    from dataclasses import replace

    from tracker.site.render import json_data

    texts: dict[str, list[str]] = {}
    out = []
    for art in artifacts:
        p = art.preview
        if p is not None and p.kind in ("json", "text", "html") and (
                len(p.text) + len(p.rest) > LAZY_CHARS):
            texts[art.path] = [p.text, p.rest]
            art = replace(art, preview=replace(p, lazy=True))
        out.append(art)
    if not texts:
        return tuple(out), None
    script = (f"window.{PREVIEWS_GLOBAL} = window.{PREVIEWS_GLOBAL} || {{}};\n"
              f"Object.assign(window.{PREVIEWS_GLOBAL}, {json_data(texts)});\n")
    return tuple(out), SiteFile(script_path, script.encode("utf-8"))


def importance(artifacts: tuple[Artifact, ...]) -> tuple[Importance, ...]:
    """One feature-importance chart per type: a ``feature_importance_<type>.json`` first, the
    combined ``feature_importance.json`` for types it lacks; gain-like types first.

    Args:
        artifacts: the run's artifacts (with previews).
    """
    found: dict[str, Importance] = {}
    for art in sorted(artifacts, key=lambda a: (a.path.endswith("feature_importance.json"),
                                                 a.path)):
        for one in art.preview.importance if art.preview else ():
            found.setdefault(one.kind, one)
    order = ["gain", "total_gain", "weight", "cover", "total_cover"]
    return tuple(sorted(found.values(), key=lambda i: (
        order.index(i.kind) if i.kind in order else len(order), i.kind)))


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
    if repo is not None and not all(site.publish.knows_source(str(r["path"])) for r in rows):
        # Redacted paths from a snapshot of published tables (#14): their stored paths are
        # found by redacting the paths of the run's files, as the load that redacted them did.
        site.publish.learn_sources(sizes if sizes is not None else (p for p, _ in repo.walk()))
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
