"""Sorted consolidated files written with bounded memory: an external merge sort in pyarrow.

Consolidating a run (``end_run``) and compacting an experiment both write one Parquet file
holding the rows of many files, sorted (by kind, key, step; parts by run id first) so readers
get long runs of one key and useful statistics. Sorting everything in memory cost 7.1 GB for a
run of 10 M points (#15). Here rows arrive batch by batch; every ``chunk_rows`` rows are
sorted and spilled to a temporary file (a *sorted run*), and the runs are then merged a few
thousand rows at a time into the output. A consolidation that fits in one chunk (nearly all
of them) never touches the disk before its output is published.

Everything runs in the calling thread and starts no pyarrow pool thread (``pc.sort_indices``
on a table and ``Table.take`` do not; ``Table.sort_by`` and pre-buffered Parquet reads do, and a
process that exits with pool threads alive aborts now and then), and nothing here imports
pandas or DuckDB: this code runs inside the training process (#16).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from tracker.store import schema

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

CHUNK_ROWS = 500_000  # rows sorted in memory at once (~65 MB of records)
MERGE_READ_ROWS = 20_000  # rows read at once from each sorted run while merging
ROW_GROUP_ROWS = 250_000  # rows per row group of the output file


def conform(batch: Any) -> Any:
    """A table of ``batch``'s rows in ``schema.arrow_schema()`` columns and types, no metadata.

    Missing columns become nulls and unknown ones are dropped (older and newer files read
    together, as DuckDB's ``union_by_name`` does).
    """
    import pyarrow as pa

    target = schema.arrow_schema()
    n = batch.num_rows
    names = batch.schema.names
    columns = [
        batch.column(names.index(f.name)).cast(f.type) if f.name in names else pa.nulls(n, f.type)
        for f in target
    ]
    return pa.Table.from_arrays(columns, schema=target)


def sort_table(table: Any, keys: Sequence[str]) -> Any:
    """``table`` ordered by ``keys`` ascending, nulls last, ties in their order (stable)."""
    import pyarrow.compute as pc

    if table.num_rows <= 1:
        return table
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys])
    return table.take(order)


def _order(row: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    """A Python sort key of a row of Arrow scalars: ascending, nulls last."""
    return tuple((0, v.as_py()) if v.is_valid else (1, 0) for v in row)


def _row_key(table: Any, index: int, keys: Sequence[str]) -> tuple[Any, ...]:
    # Arrow scalars, not Python values: a Python value given to a compute function becomes
    # a scalar through pa.scalar(), which imports pandas (#16).
    return tuple(table.column(k)[index] for k in keys)


def _count_up_to(table: Any, keys: Sequence[str], bound: tuple[Any, ...]) -> int:
    """How many leading rows of the sorted ``table`` sort at or before ``bound``."""
    import pyarrow.compute as pc

    le = None
    for name, value in reversed(list(zip(keys, bound))):
        column = table.column(name)
        valid = pc.is_valid(column)
        if not value.is_valid:  # nulls last: every value is below a null, nulls equal it
            less, equal = valid, pc.is_null(column)
        else:  # null rows are neither below nor equal (Kleene: false AND null is false)
            less = pc.and_kleene(valid, pc.less(column, value))
            equal = pc.and_kleene(valid, pc.equal(column, value))
        le = pc.or_(less, equal) if le is None else pc.or_(less, pc.and_(equal, le))
    return int(pc.sum(le).as_py() or 0) if le is not None else table.num_rows


class SortedWriter:
    """Collects record tables, then writes them sorted as one Parquet file.

    Args:
        keys: the sort keys (columns of the record schema).
        chunk_rows: rows sorted in memory at once (default ``CHUNK_ROWS``); more are spilled
            to sorted runs on disk.
    """

    def __init__(self, keys: Sequence[str], *, chunk_rows: int | None = None) -> None:
        if not keys or any(k not in schema.COLUMNS for k in keys):
            raise ValueError(f"Sort keys must be record columns {schema.COLUMNS}, got {keys!r}.")
        chunk_rows = CHUNK_ROWS if chunk_rows is None else chunk_rows
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows!r}.")
        self.keys = tuple(keys)
        self.chunk_rows = chunk_rows
        self.rows = 0
        self._pending: list[Any] = []
        self._pending_rows = 0
        self._runs: list[str] = []
        self._tmpdir: str | None = None

    def __enter__(self) -> SortedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def spilled(self) -> bool:
        """True once rows went to disk (the output is then large: write it to a file)."""
        return bool(self._runs)

    def close(self) -> None:
        """Remove the spilled runs (also done by ``with``)."""
        self._pending = []
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self._runs = []

    def add(self, table: Any) -> None:
        """Add records (any record schema version; see ``conform``)."""
        if table.num_rows == 0:
            return
        table = conform(table)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= self.chunk_rows:
            self._spill()

    def _take_pending(self) -> Any:
        import pyarrow as pa

        table = (
            pa.concat_tables(self._pending) if self._pending
            else schema.arrow_schema().empty_table()
        )
        self._pending, self._pending_rows = [], 0
        return sort_table(table, self.keys)

    def _spill(self) -> None:
        import pyarrow.parquet as pq

        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="tracker-sort-")
        path = os.path.join(self._tmpdir, f"run-{len(self._runs):05d}.parquet")
        table = self._take_pending()
        # A row group per merge read: the merge then holds one group per run in memory.
        pq.write_table(table, path, row_group_size=MERGE_READ_ROWS, compression="lz4",
                       use_dictionary=False, write_statistics=False)
        self._runs.append(path)

    def _sorted_tables(self) -> Iterator[Any]:
        """The rows in order, as tables of at most about ``ROW_GROUP_ROWS`` rows."""
        if not self._runs:
            table = self._take_pending()
            for start in range(0, table.num_rows, ROW_GROUP_ROWS):
                yield table.slice(start, ROW_GROUP_ROWS)
            return
        if self._pending:
            self._spill()
        yield from _merge_runs(self._runs, self.keys)

    def write(self, sink: Any, metadata: dict[bytes, bytes]) -> None:
        """Write every row, sorted, as Parquet to ``sink`` (a path or a pyarrow stream).

        Args:
            sink: where the file goes.
            metadata: key-value metadata of the file (format version, covers).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        target = schema.arrow_schema().with_metadata(metadata)
        with pq.ParquetWriter(sink, target, compression="zstd") as writer:
            pending: list[Any] = []
            count = 0
            for table in _chain_empty(self._sorted_tables()):
                pending.append(table)
                count += table.num_rows
                if count >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(pending).replace_schema_metadata(metadata))
                    pending, count = [], 0
            if pending:
                writer.write_table(pa.concat_tables(pending).replace_schema_metadata(metadata))
        self.close()


def _chain_empty(tables: Iterator[Any]) -> Iterator[Any]:
    """``tables``, or one empty table when there are none (a file always has a row group)."""
    any_rows = False
    for table in tables:
        any_rows = True
        yield table
    if not any_rows:
        yield schema.arrow_schema().empty_table()


def _merge_runs(paths: Sequence[str], keys: Sequence[str]) -> Iterator[Any]:
    """Merge sorted run files, yielding sorted tables.

    Each step holds one row group of each run. Rows up to the smallest of the runs' last
    buffered keys (the *bound*) can be emitted: no unread row sorts before it. The run whose
    last key is the bound is used up, so every step reads at least one new row group.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    # pre_buffer=False: pre-buffering reads through pyarrow's IO thread pool, and a process
    # that exits with pool threads alive aborts now and then (see read_table in store.py).
    files = [pq.ParquetFile(p, pre_buffer=False) for p in paths]
    readers = [f.iter_batches(batch_size=MERGE_READ_ROWS, use_threads=False) for f in files]

    def refill(i: int) -> Any:
        for batch in readers[i]:
            if batch.num_rows:
                return pa.Table.from_batches([batch])
        return None

    buffers: list[Any] = [refill(i) for i in range(len(readers))]
    try:
        while True:
            active = [i for i, b in enumerate(buffers) if b is not None]
            if not active:
                return
            bound = min(
                (_row_key(buffers[i], buffers[i].num_rows - 1, keys) for i in active), key=_order
            )
            pieces = []
            for i in active:
                buffer = buffers[i]
                n = _count_up_to(buffer, keys, bound)
                if n:
                    pieces.append(buffer.slice(0, n))
                buffers[i] = buffer.slice(n) if n < buffer.num_rows else refill(i)
            if pieces:
                yield sort_table(pa.concat_tables(pieces), keys)
    finally:
        for f in files:
            f.close()
