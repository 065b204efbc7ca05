"""The registry's event log on disk: one row per event, in Parquet files under
``registry/model_id=<mid>/`` (see ``tracker.registry.storage`` for the layout).

Each row records what changed (``event``, ``version``, ``key``, ``value``), when, who and why;
``tracker.registry.state`` folds the rows of a model into its current state.
"""

from __future__ import annotations

from typing import Any

EVENT_COLUMNS = ("model_id", "seg", "event", "version", "key", "value", "user", "reason",
                 "timestamp", "seq")

_EVENT_SCHEMA: Any = None


def _event_schema() -> Any:
    global _EVENT_SCHEMA
    if _EVENT_SCHEMA is None:
        import pyarrow as pa

        _EVENT_SCHEMA = pa.schema(
            [
                ("model_id", pa.string()), ("seg", pa.string()), ("event", pa.string()),
                ("version", pa.int64()), ("key", pa.string()), ("value", pa.string()),
                ("user", pa.string()), ("reason", pa.string()), ("timestamp", pa.int64()),
                ("seq", pa.int64()),
            ]
        )
    return _EVENT_SCHEMA
