"""Derived data kept between builds, so a rebuild redoes only what its inputs changed.

The cache lives in the output folder (``.tracker-cache/<namespace>.json``). Each entry is stored
with the fingerprint of what it was derived from and is used only when that fingerprint matches;
a missing, stale or unreadable cache costs time, never correctness. Each save keeps only the
entries this build used, and only the namespaces it used or ``keep``-ed (a namespace per chunk
of an experiment's compare data is not even read when its chunk did not change, #14), so the
cache does not grow with deleted runs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from tracker.exceptions import InvalidArgumentError

CACHE_DIR = ".tracker-cache"
_NAMESPACE = re.compile(r"[a-z0-9][a-z0-9_.-]*")


class BuildCache:
    """Fingerprinted values by namespace and key.

    Args:
        out: the site's output folder, or None for a cache that keeps nothing.

    A value ``put`` is encoded at once and kept in a temporary file until ``save`` (#14: the
    compare histories of 100,000 runs took ~3 GB as Python objects), so the build holds only
    each entry's key, fingerprint and place in that file.
    """

    def __init__(self, out: str | None) -> None:
        self.folder = os.path.join(out, CACHE_DIR) if out is not None else None
        self._old: dict[str, dict[str, list[Any]]] = {}
        self._new: dict[str, dict[str, list[Any] | _Spilled]] = {}
        self._changed: set[str] = set()
        self._kept: set[str] = set()
        self._spills: dict[str, IO[bytes]] = {}  # namespace -> the encoded values put

    def keep(self, namespace: str) -> None:
        """Keep the namespace's file as it is, without reading it (its data is still valid)."""
        self._check(namespace)
        self._kept.add(namespace)

    def get(self, namespace: str, key: str, fingerprint: str) -> Any | None:
        """The value stored for ``key`` when it was made from ``fingerprint``, else None."""
        entry = self._new.get(namespace, {}).get(key)
        if isinstance(entry, _Spilled):
            return json.loads(entry.read(self._spills[namespace])) if entry.fingerprint == \
                fingerprint else None
        old = self._namespace(namespace)
        entry = old.get(key)
        if not isinstance(entry, list) or len(entry) != 2 or entry[0] != fingerprint:
            if entry is not None:
                # Stale: dropped now, not held decoded until ``save`` (#14: when every
                # fingerprint changed, the compare histories of 100,000 runs took 5.4 GB).
                old[key] = []  # the key stays: ``save`` compares the key sets
            return None
        value = entry[1]
        if self.folder is not None:
            # Kept as its JSON in the spill file, not as objects: every namespace a build reads
            # would otherwise stay decoded until ``save`` (the compare histories of 100,000
            # runs, ~3 GB, when every page of an existing site is made again, #14).
            self._spill(namespace, key, fingerprint, _encode(value).encode("utf-8"),
                        changed=False)
            old[key] = [fingerprint, None]  # the key stays: ``save`` compares the key sets
        else:
            self._new.setdefault(namespace, {})[key] = entry
        return value

    def get_text(self, namespace: str, key: str, fingerprint: str) -> str | None:
        """``get``'s value as its compact JSON text (sorted keys), without decoding a value put
        in this build (#14: the compare chunks embed the histories' text as it is)."""
        entry = self._new.get(namespace, {}).get(key)
        if isinstance(entry, _Spilled):
            return entry.read(self._spills[namespace]).decode("utf-8") \
                if entry.fingerprint == fingerprint else None
        value = self.get(namespace, key, fingerprint)
        return None if value is None else _encode(value)

    def put_text(self, namespace: str, key: str, fingerprint: str, text: str) -> None:
        """``put`` of a value given as its JSON text (``_encode``'s: compact, sorted keys)."""
        if self.folder is None:
            self.put(namespace, key, fingerprint, json.loads(text))
            return
        self._spill(namespace, key, fingerprint, text.encode("utf-8"))

    def put(self, namespace: str, key: str, fingerprint: str, value: Any) -> None:
        """Remember ``value`` (JSON-serialisable) as made from ``fingerprint``."""
        self._check(namespace)
        self._changed.add(namespace)
        if self.folder is None:
            self._new.setdefault(namespace, {})[key] = [fingerprint, value]
            return
        self._spill(namespace, key, fingerprint, _encode(value).encode("utf-8"))

    def _spill(
        self, namespace: str, key: str, fingerprint: str, data: bytes, *, changed: bool = True
    ) -> None:
        """Keep ``data`` (a value's JSON) in the namespace's spill file; ``changed``: False for
        a value read back from the namespace's file as it is."""
        self._check(namespace)
        if changed:
            self._changed.add(namespace)
        assert self.folder is not None
        spill = self._spills.get(namespace)
        if spill is None:
            os.makedirs(self.folder, exist_ok=True)
            # deleted when closed (by ``save``) or when the process ends, however it ends
            spill = tempfile.TemporaryFile(dir=self.folder)  # noqa: SIM115
            self._spills[namespace] = spill
        spill.seek(0, os.SEEK_END)
        self._new.setdefault(namespace, {})[key] = _Spilled(fingerprint, spill.tell(), len(data))
        spill.write(data)

    def save(self) -> None:
        """Write the entries this build used or made (atomically, one file per namespace); remove
        the files of namespaces this build neither used nor kept."""
        if self.folder is None:
            return
        os.makedirs(self.folder, exist_ok=True)
        live = set(self._new) | self._kept
        for name in os.listdir(self.folder):
            if name.endswith(".json") and name[:-len(".json")] not in live:
                os.unlink(os.path.join(self.folder, name))
        for namespace, entries in sorted(self._new.items()):
            if namespace not in self._changed and entries.keys() == self._old[namespace].keys():
                continue  # every entry came from the file as it is
            path = os.path.join(self.folder, f"{namespace}.json")
            tmp = f"{path}.tmp-{os.getpid()}"
            # What json.dumps(entries, sort_keys=True, ...) writes, an entry at a time.
            with open(tmp, "wb") as fh:
                fh.write(b"{")
                for index, key in enumerate(sorted(entries)):
                    entry = entries[key]
                    if isinstance(entry, _Spilled):
                        fingerprint, value = entry.fingerprint, entry.read(
                            self._spills[namespace])
                    else:
                        fingerprint, value = entry[0], _encode(entry[1]).encode("utf-8")
                    fh.write(b"," if index else b"")
                    fh.write(f"{_encode(key)}:[{_encode(fingerprint)},".encode())
                    fh.write(value)
                    fh.write(b"]")
                fh.write(b"}")
            os.replace(tmp, path)
        self.close()

    def close(self) -> None:
        """Drop the temporary files of the values put (``save`` does)."""
        for spill in self._spills.values():
            spill.close()
        self._spills.clear()

    @staticmethod
    def _check(namespace: str) -> None:
        if not _NAMESPACE.fullmatch(namespace):
            raise InvalidArgumentError(f"Cache namespace {namespace!r}: use lowercase letters, digits, "
                             "'_', '.' and '-' (it names a file).")

    def _namespace(self, namespace: str) -> dict[str, list[Any]]:
        self._check(namespace)
        if namespace not in self._old:
            self._old[namespace] = self._load(namespace)
        return self._old[namespace]

    def _load(self, namespace: str) -> dict[str, list[Any]]:
        if self.folder is None:
            return {}
        try:
            with open(os.path.join(self.folder, f"{namespace}.json"), encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class _Spilled:
    """A value put in this build: its fingerprint and where its JSON is in the spill file."""

    fingerprint: str
    offset: int
    size: int

    def read(self, spill: IO[bytes]) -> bytes:
        spill.seek(self.offset)
        return spill.read(self.size)


def _encode(value: Any) -> str:
    # json.dumps, not json.dump: only the former uses the C encoder.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
