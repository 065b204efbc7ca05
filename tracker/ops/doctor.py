"""``tracker doctor``: check a store and say, for each finding, what to do about it.

Checks, in order: the format marker ``tracker-store.json``; every Parquet file (it reads, and
its format version is one this tracker knows); part and final files whose ``tracker.covers``
footer claims rows they do not hold; runs still RUNNING whose process is gone;
garbage that ``tracker gc`` would remove; registry version conflicts left by a git merge.
A finding is an ``error`` (something is wrong or unreadable: CI should fail), a ``warning``
(worth fixing, nothing lost) or ``info``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.exceptions import CorruptFileError
from tracker.logged_models import LOGGED_MODELS
from tracker.registry import REGISTRY, Registry
from tracker.store import schema
from tracker.store.store import EXPERIMENTS, MARKER, PARTS, RUNS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tracker.client import TrackerClient
    from tracker.config import TrackerConfig
    from tracker.store.store import Store

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One problem found in a store and how to fix it.

    Args:
        severity: ``error``, ``warning`` or ``info``.
        check: which check found it (``marker``, ``file``, ``dead-run``, ``garbage``,
            ``registry``).
        subject: the file, run or model it is about.
        message: what is wrong.
        fix: what to do about it.
    """

    severity: str
    check: str
    subject: str
    message: str
    fix: str


def diagnose(client: TrackerClient, config: TrackerConfig | None = None) -> list[Finding]:
    """Every finding in the store of ``client``, errors first.

    Args:
        client: a client opened on the store to check.
        config: the project configuration (its ``artifact_locations``); None: the defaults.
    """
    store = client.store
    findings = [
        *_marker(store),
        *_files(store),
        *_covers(store),
        *_dead_runs(client),
        *_garbage(store),
        *_registry(client.registry),
        *_artifact_locations(client, config),
    ]
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def _artifact_locations(client: TrackerClient, config: TrackerConfig | None) -> Iterator[Finding]:
    """Runs whose recorded ``artifact_uri`` a build will not read (outside the trusted roots)."""
    from tracker.artifact_locations import ArtifactLocations
    from tracker.query import bulk

    declared = config.artifact_locations if config is not None else ()
    locations = ArtifactLocations(client.store.fs, declared)
    for run in bulk.runs(client.query):
        where = locations.resolve(run["run_id"], run["experiment_id"], run["artifact_uri"])
        if not where.uri and run["artifact_uri"]:
            yield Finding(
                "warning", "artifact-location", run["run_id"],
                f"artifact_uri {run['artifact_uri']!r}: {where.problem}",
                "If the location is your team's, add it to [tool.tracker] artifact_locations; "
                "if not, the record came from elsewhere: delete the run (tracker runs delete).",
            )


def has_errors(findings: list[Finding]) -> bool:
    """True when any finding is an error (``tracker doctor`` then exits with status 1)."""
    return any(f.severity == "error" for f in findings)


def fix(client: TrackerClient) -> list[str]:
    """Fix what can be fixed safely: write a missing marker, resolve registry conflicts.

    Returns one line per change made.
    """
    from tracker.ops.conflicts import resolve_conflicts

    store = client.store
    done = []
    marker = {"format": schema.FORMAT_NAME, "format_version": schema.SCHEMA_VERSION}
    data = json.dumps(marker, indent=2).encode() + b"\n"
    if _has_records(store) and store.fs.create_exclusive(MARKER, data):
        done.append(f"wrote {MARKER} (format version {schema.SCHEMA_VERSION})")
    for resolution in resolve_conflicts(client.registry):
        c = resolution.conflict
        moved = ", ".join(f"v{n}" for n in resolution.moved_to)
        line = f"model {c.model!r}: kept v{c.number}"
        if c.kept is not None:
            line += f" (run {_run(c.kept)})"
        if moved:
            line += f", registered the other registration again as {moved}"
        if c.claim_conflicted:
            line += f"; rewrote {c.claim_path} as one claim (git add it)"
        done.append(line)
    return done


# -- the checks -------------------------------------------------------------------------------


def _marker(store: Store) -> list[Finding]:
    try:
        raw = store.fs.read_bytes(MARKER)
    except FileNotFoundError:
        if not _has_records(store):
            return [
                Finding(
                    "error",
                    "marker",
                    store.uri,
                    f"no tracker store here (no {MARKER} and no record files)",
                    "check --store / TRACKER_TRACKING_URI",
                )
            ]
        return [
            Finding(
                "warning",
                "marker",
                MARKER,
                f"{MARKER} is missing (it holds the store's format version)",
                "run tracker doctor --fix, or log anything to the store: it is written "
                "again; commit it if the store is in git",
            )
        ]
    try:
        marker = json.loads(raw)
        version = marker.get("format_version") if isinstance(marker, dict) else None
    except ValueError:
        return [
            Finding(
                "error",
                "marker",
                MARKER,
                f"{MARKER} is not valid JSON",
                "restore it from git (git checkout -- it) or delete it and run "
                "tracker doctor --fix",
            )
        ]
    if not isinstance(version, int) or version > schema.SCHEMA_VERSION:
        return [
            Finding(
                "error",
                "marker",
                MARKER,
                f"the store has format version {version!r}; "
                f"this tracker reads versions up to {schema.SCHEMA_VERSION}",
                "upgrade tracker (pip install -U tracker)",
            )
        ]
    return []


# Folders of record files: runs and experiments, the registry, MLflow 3 logged models (#12).
_TOPS = (EXPERIMENTS, RUNS, PARTS, REGISTRY, LOGGED_MODELS)


def _has_records(store: Store) -> bool:
    return any(store.fs.list_dir(top) for top in _TOPS)


def _files(store: Store) -> list[Finding]:
    """Every record file must read and carry a format version this tracker knows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    findings = []
    for entry in _record_entries(store):
        try:
            with store.fs.open_input(entry) as source:
                parquet = pq.ParquetFile(source)
                meta = parquet.schema_arrow.metadata or {}
                parquet.read(use_threads=False)
        except FileNotFoundError:
            continue  # compacted away while we looked
        except (pa.ArrowException, OSError, ValueError) as exc:
            findings.append(
                Finding(
                    "error",
                    "file",
                    entry,
                    f"not a readable Parquet file ({_short(exc)})",
                    "move it out of the store (readers skip it meanwhile); if it came from git, "
                    "restore it with git checkout -- <file>",
                )
            )
            continue
        version = meta.get(schema.META_VERSION, b"").decode() or None
        if version is None or not version.isdigit() or int(version) > schema.SCHEMA_VERSION:
            findings.append(
                Finding(
                    "error",
                    "file",
                    entry,
                    f"format version {version!r} is unknown to this "
                    f"tracker (it reads up to {schema.SCHEMA_VERSION})",
                    "upgrade tracker (pip install -U tracker)",
                )
            )
    return findings


def _covers(store: Store) -> list[Finding]:
    """A part or final whose ``tracker.covers`` footer claims rows it does not hold (#15)."""
    from tracker.store.store import Store as FreshStore

    fresh = FreshStore(store.fs, store.uri)  # reports every problem again, not once per process
    try:
        fresh.plan()
    except CorruptFileError:
        return []  # the file check names the unreadable files
    return [
        Finding(
            "error",
            "covers",
            path,
            f"{what}; readers ignore that claim and read those rows from the other file",
            "if the file came from a branch or pull request, remove it (git rm <file>); a part "
            "written by tracker compact never does this, so report it",
        )
        for path, what in sorted(set(fresh.cover_problems))
    ]


def _record_entries(store: Store) -> list[str]:
    paths: list[str] = []
    for top in _TOPS:
        paths.extend(e.path for e in store.fs.list_files(top) if e.path.endswith(".parquet"))
    return paths


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _dead_runs(client: TrackerClient) -> list[Finding]:
    try:
        dead = sorted(client.dead_run_ids())
    except CorruptFileError:
        return []  # the file check names the unreadable files
    findings = []
    for run_id in dead:
        findings.append(
            Finding(
                "warning",
                "dead-run",
                run_id,
                "run is still RUNNING but its process is gone (no "
                "heartbeat for 5 minutes, or its process on this machine exited)",
                f'mark it ended: python -c "import tracker; tracker.MlflowClient()'
                f".set_terminated('{run_id}', 'KILLED')\" (or tracker runs delete {run_id})",
            )
        )
    return findings


def _garbage(store: Store) -> list[Finding]:
    from tracker.ops.gc import find_garbage

    result = find_garbage(store)
    counts: dict[str, list[int]] = {}
    for item in result.items:
        counts.setdefault(item.kind, []).append(item.size)
    texts = {
        "temp": "temporary files left by interrupted writes",
        "lock": "stale lock files",
        "folder": "empty folders",
    }
    findings = []
    for kind, sizes in sorted(counts.items()):
        if kind == "superseded":
            # Plain engines over the raw files count these rows twice (#19): worth a warning.
            findings.append(
                Finding(
                    "warning",
                    "garbage",
                    kind,
                    f"files superseded by compaction are still present: {len(sizes)} "
                    f"({sum(sizes)} bytes). tracker reads each row once, but plain Parquet "
                    "engines over the store's files (DuckDB, Polars, Spark) count their rows "
                    "twice",
                    "run tracker gc: it removes them (tracker gc --dry-run lists them)",
                )
            )
            continue
        findings.append(
            Finding(
                "info",
                "garbage",
                kind,
                f"{texts[kind]}: {len(sizes)} ({sum(sizes)} bytes)",
                "run tracker gc (tracker gc --dry-run lists them)",
            )
        )
    return findings


def _registry(registry: Registry) -> list[Finding]:
    from tracker.ops.conflicts import find_conflicts

    return [
        Finding(
            "error",
            "registry",
            f"{c.model} v{c.number}",
            c.describe(),
            "keep the default branch's registration: in the claim file take its side (git "
            "checkout --theirs <claim file> after git pull or merging the default branch into "
            "yours; --ours when merging into the default branch), then run tracker doctor --fix "
            "(with the markers left it keeps the HEAD side): the other registration becomes the "
            "next free version; then git add and commit",
        )
        for c in find_conflicts(registry)
    ]


def _run(event: dict[str, Any]) -> str:
    try:
        body = json.loads(event.get("value") or "{}")
    except ValueError:
        body = {}
    return str(body.get("run_id") or body.get("source") or "?")
