"""Load the records of MLflow 3 logged models (``tracker.logged_models``) into the query layer.

They live apart from the run records (``logged_models/``), are few and small, and are never
consolidated, so they are reloaded whole whenever their files change. A published view of a
store (``tracker build``) leaves them out: their tags and params are not redacted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracker.query import views

if TYPE_CHECKING:
    from tracker.query import StoreQuery


def create_empty(q: StoreQuery) -> None:
    """The empty records table and the views over it (a new connection)."""
    q._execute(views.EMPTY_LOGGED_MODEL_RECORDS)
    for sql in views.LOGGED_MODEL_VIEWS.values():
        q._execute(sql)


def refresh(q: StoreQuery, key: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """Reload the records when the files changed since ``key``; return the new key."""
    from tracker.logged_models import LOGGED_MODELS, model_from_path

    if q.publish is not None:
        return key
    files = q.store.list_record_files((LOGGED_MODELS,), cached=True)  # changed folders only (#16)
    new_key = tuple(sorted((f.path, f.size) for f in files))
    if new_key == key:
        return key
    from tracker.store.store import conform_records

    parts = []
    for path, table in sorted(q.store.read_tables([f.path for f in files]).items()):
        model_id = model_from_path(path)
        if model_id is None:
            continue
        try:  # the file's own schema, put in the record schema; "filename" holds the model id
            parts.append(conform_records([(model_id, table)]))
        except Exception as exc:  # noqa: BLE001 - a hostile file must not stop every query
            size = next((f.size for f in files if f.path == path), 0)
            q.store.mark_bad(path, size, f"not in the record schema: {exc}")
    if not parts:
        if key is not None:  # else still the empty table a new connection starts with
            q._execute(views.EMPTY_LOGGED_MODEL_RECORDS)
        return new_key
    import pyarrow as pa

    incoming = pa.concat_tables(parts).rename_columns(
        [*parts[0].column_names[:-1], "model_id"]
    )
    con = q.con
    con.register("incoming_model_records", incoming)
    try:
        q._execute(views.LOAD_LOGGED_MODEL_RECORDS)
    finally:
        con.unregister("incoming_model_records")
    return new_key
