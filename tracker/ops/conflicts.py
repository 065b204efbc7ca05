"""Registry version conflicts after a git merge, and their resolution.

Version numbers are claimed by creating ``versions/v-<n>.json`` exclusively, which is atomic in
one store but not across two clones of a repository: two branches can both claim version 3.
Merging them, git reports an add/add conflict in the claim file (conflict markers inside, the
merge stops) while both branches' event files merge in, so the registry holds two
``version_created`` events for one number. Resolution keeps the number for one registration
(the one in the claim file, or the merged-into branch's side of a conflicted claim file) and
registers each other one again as the next free number, by appending events: history is never
rewritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.registry import CONFLICT_RESOLVED, REGISTRY

if TYPE_CHECKING:
    from tracker.registry import Registry

CONFLICT_MARKER = b"<<<<<<< "


@dataclass(frozen=True)
class VersionConflict:
    """One version number claimed by more than one registration, or a conflicted claim file."""

    model_id: str
    model: str
    number: int
    claim_path: str
    claim_conflicted: bool  # git conflict markers in the claim file, or not one JSON object
    kept: dict[str, Any] | None
    others: tuple[dict[str, Any], ...]
    sides: tuple[tuple[str, str], ...] = ()  # (git's label, run) per side of a conflicted claim

    def describe(self) -> str:
        """The conflict in one sentence, naming the runs involved."""
        runs = [_run_of(e) for e in ((self.kept,) if self.kept else ()) + self.others]
        parts = []
        if len(runs) > 1:
            parts.append(
                f"version {self.number} of model {self.model!r} is registered "
                f"{len(runs)} times (runs {', '.join(runs)})"
            )
        if self.claim_conflicted and self.sides:
            shown = ", ".join(f"{label}: run {run}" for label, run in self.sides)
            parts.append(f"its claim file {self.claim_path} has git conflict markers ({shown})")
        elif self.claim_conflicted:
            parts.append(
                f"its claim file {self.claim_path} is not one JSON object (merged by a "
                "merge=union driver, or damaged)"
            )
        return "; ".join(parts) or f"version {self.number} of model {self.model!r} conflicts"


@dataclass(frozen=True)
class Resolution:
    """What resolving one conflict did."""

    conflict: VersionConflict
    moved_to: tuple[int, ...]


def find_conflicts(registry: Registry) -> list[VersionConflict]:
    """Every unresolved version conflict in the registry, by model and number."""
    found = []
    for model_id in registry.model_ids():
        found.extend(_model_conflicts(registry, model_id))
    return found


def resolve_conflicts(registry: Registry) -> list[Resolution]:
    """Resolve every conflict: keep one registration per number, renumber the others.

    The claim file of the number is rewritten with the kept registration when it holds git
    conflict markers (the merge's working copy, still to be committed); every other change is
    a new event file.
    """
    done = []
    for conflict in find_conflicts(registry):
        moved = []
        kept = conflict.kept
        if kept is not None:
            for other in conflict.others:
                moved.append(
                    registry.renumber_version(
                        conflict.model_id, conflict.number, kept["seg"], other
                    )
                )
            if conflict.claim_conflicted:
                body = {"name": conflict.model, **json.loads(kept["value"] or "{}")}
                data = json.dumps(body, sort_keys=True).encode()
                registry.store.fs.write_atomic(conflict.claim_path, data)
        done.append(Resolution(conflict, tuple(moved)))
    return done


def _model_conflicts(registry: Registry, model_id: str) -> list[VersionConflict]:
    events = registry.events(model_id)
    name = next((e["value"] for e in events if e["event"] == "model_created"), model_id)
    for event in events:
        if event["event"] == "model_renamed":
            name = event["value"]
    resolved = {e["version"] for e in events if e["event"] == CONFLICT_RESOLVED}
    by_number: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        if event["event"] == "version_created" and event["version"] is not None:
            by_number.setdefault(int(event["version"]), []).append(event)
    folder = f"{REGISTRY}/model_id={model_id}/versions"
    conflicts = []
    for number in sorted(set(by_number) | set(_claim_numbers(registry, folder))):
        claim_path = f"{folder}/v-{number:08d}.json"
        registrations = _distinct(by_number.get(number, []))
        claim = _read_claim(registry, claim_path)
        conflicted = claim is not None and (CONFLICT_MARKER in claim or not _body(claim))
        if not conflicted and (len(registrations) < 2 or number in resolved):
            continue
        kept = _kept(registrations, claim)
        others = tuple(e for e in registrations if e is not kept)
        if number in resolved:
            others = ()
        sides = _claim_sides(claim) if claim is not None and CONFLICT_MARKER in claim else ()
        conflicts.append(
            VersionConflict(model_id, name, number, claim_path, conflicted, kept, others, sides)
        )
    return conflicts


def _claim_numbers(registry: Registry, folder: str) -> list[int]:
    names = registry.store.fs.list_dir(folder)
    return [int(n[2:10]) for n in names if n.startswith("v-") and n[2:10].isdigit()]


def _read_claim(registry: Registry, path: str) -> bytes | None:
    try:
        return registry.store.fs.read_bytes(path)
    except FileNotFoundError:
        return None


def _identity(event: dict[str, Any]) -> tuple[Any, Any]:
    body = _body(event.get("value"))
    return body.get("source"), body.get("run_id")


def _distinct(registrations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One registration per (source, run): registering the same model twice is no conflict."""
    seen: dict[tuple[Any, Any], dict[str, Any]] = {}
    for event in registrations:
        seen.setdefault(_identity(event), event)
    return list(seen.values())


def _kept(registrations: list[dict[str, Any]], claim: bytes | None) -> dict[str, Any] | None:
    """The registration the claim file names (its first side if conflicted), else the oldest."""
    if not registrations:
        return None
    wanted = _claimed_identity(claim) if claim is not None else None
    for event in registrations:
        if wanted is not None and _identity(event) == wanted:
            return event
    return registrations[0]


def _claimed_identity(claim: bytes) -> tuple[Any, Any] | None:
    """(source, run) of a claim file; of git's "ours" side when it holds conflict markers."""
    text = claim.decode("utf-8", "replace")
    if CONFLICT_MARKER in claim:
        text = _split_sides(text)[0][1]
    body = _body(text)
    if not body:
        return None
    return body.get("source"), body.get("run_id")


def _split_sides(text: str) -> list[tuple[str, str]]:
    """(label, text) of each side of a git conflict: ours (e.g. ``HEAD``), then theirs."""
    head, _, rest = text.partition("<<<<<<< ")
    ours_label, _, rest = rest.partition("\n")
    ours, _, rest = rest.partition("=======\n")
    theirs, _, rest = rest.partition(">>>>>>> ")
    theirs_label = rest.split("\n", 1)[0]
    return [(ours_label.strip(), ours), (theirs_label.strip(), theirs)]


def _claim_sides(claim: bytes) -> tuple[tuple[str, str], ...]:
    sides = _split_sides(claim.decode("utf-8", "replace"))
    return tuple((label, str(_body(text).get("run_id") or "?")) for label, text in sides)


def _body(text: Any) -> dict[str, Any]:
    try:
        body = json.loads(text or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _run_of(event: dict[str, Any]) -> str:
    run_id = _body(event.get("value")).get("run_id")
    return str(run_id) if run_id else str(_body(event.get("value")).get("source") or "?")
