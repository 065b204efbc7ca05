"""The store's records as a Spark Python data source, for stores Hadoop cannot read (#14).

Spark reads a folder store's Parquet files itself (``file:`` paths). An ``s3://`` store would
need Hadoop's ``s3a`` connector (the ``hadoop-aws`` jar and the AWS SDK, which pyspark does not
ship); instead its files are read on the executors by tracker's own S3 access (pyarrow's S3
filesystem, configured as for logging: ``tracker.store.s3``), through Spark's Python data source
API (pyspark 4). The driver makes the read plan (``Store.plan``) and hands each task a share of
its files; a task reads each file whole and gives Spark Arrow record batches of the record
schema, without the rows another consolidated file already holds.

This module imports pyspark: ``tracker.spark`` imports it only when a session reads such a store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

#: The name Spark knows the source by (``spark.read.format(NAME)``).
NAME = "tracker_records"
#: Files read by one task at most; a plan of fewer files is spread over ``parallelism`` tasks.
FILES_PER_TASK = 64

_ARROW_TYPES = {"string": "string", "double": "float64", "bigint": "int64"}


class StoreRecords(DataSource):
    """Options: ``store`` (the store's URI), ``files`` (JSON: ``[[path, [segs to leave out]],
    …]``, from the driver's read plan), ``tasks`` (how many tasks at least) and
    ``ignore_corrupt`` (``"true"``: a file that cannot be read is left out)."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        from tracker.store.schema import spark_schema

        return spark_schema()

    def reader(self, schema: Any) -> DataSourceReader:
        return _Reader(dict(self.options))


class _Files(InputPartition):
    """One task's share of the plan's files."""

    def __init__(self, files: list[tuple[str, list[str]]]) -> None:
        super().__init__(files)


class _Reader(DataSourceReader):
    def __init__(self, options: dict[str, str]) -> None:
        self.store = options["store"]
        self.files = [(str(path), [str(s) for s in segs])
                      for path, segs in json.loads(options["files"])]
        self.tasks = max(1, int(options.get("tasks", "1")))
        self.ignore_corrupt = options.get("ignore_corrupt", "true") == "true"

    def partitions(self) -> list[_Files]:
        if not self.files:
            return [_Files([])]
        size = max(1, min(FILES_PER_TASK, -(-len(self.files) // self.tasks)))
        return [_Files(self.files[i:i + size]) for i in range(0, len(self.files), size)]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        from tracker.uri import open_store

        store = open_store(self.store)
        files: list[tuple[str, list[str]]] = partition.value
        for path, leave_out in files:
            try:
                table = records_table(store.fs.read_bytes(path), leave_out)
            except Exception:
                if not self.ignore_corrupt:
                    raise
                continue  # as Spark's ignoreCorruptFiles: the file is left out
            yield from table.to_batches()


def records_table(data: bytes, leave_out: list[str]) -> Any:
    """A store file's rows as an Arrow table of exactly the record schema (a column the file
    lacks is null), without the rows of the segments ``leave_out``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from tracker.store.schema import SPARK_TYPES

    read = pq.read_table(pa.BufferReader(data))
    columns = []
    for name, kind in SPARK_TYPES.items():
        arrow = pa.type_for_alias(_ARROW_TYPES[kind])
        if name in read.column_names:
            columns.append(read.column(name).cast(arrow))
        else:
            columns.append(pa.nulls(read.num_rows, arrow))
    table = pa.table(columns, names=list(SPARK_TYPES))
    if leave_out:
        table = table.filter(pc.invert(pc.is_in(table.column("seg"),
                                                value_set=pa.array(leave_out, pa.string()))))
    return table
