"""The ids each consolidated file covers, kept on local disk between processes.

``Store.plan`` needs the ``tracker.covers`` footer of every part and final file it considers;
reading 17 footers cost a new process ~0.15 s at 100,000 runs. A file's covers never change (its
name holds a unique id and files are never rewritten), so they are cached by (path, size) in
``<cache>/covers/<store>.json``. A missing or unreadable cache file is only a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def cache_root() -> str:
    """``TRACKER_CACHE_DIR``, else ``$XDG_CACHE_HOME/tracker``, else ``~/.cache/tracker``."""
    return os.environ.get("TRACKER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "tracker",
    )


def store_key(store_uri: str) -> str:
    return hashlib.sha256(store_uri.encode("utf-8")).hexdigest()[:24]


def _path(store_uri: str) -> str:
    return os.path.join(cache_root(), "covers", f"{store_key(store_uri)}.json")


def load(store_uri: str) -> dict[tuple[str, int], frozenset[str]]:
    """The cached covers of the store at ``store_uri`` ({} when there are none)."""
    try:
        with open(_path(store_uri), encoding="utf-8") as fh:
            data: Any = json.load(fh)
        return {(str(path), int(size)): frozenset(str(i) for i in ids)
                for path, (size, ids) in data.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def save(store_uri: str, covers: dict[tuple[str, int], frozenset[str]]) -> None:
    """Replace the cached covers (atomically); a cache that cannot be written is skipped."""
    path = _path(store_uri)
    data = {p: [size, sorted(ids)] for (p, size), ids in sorted(covers.items())}
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
