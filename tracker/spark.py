"""Spark SQL over a store: ``register_views(spark, store_uri)`` (#14).

Registers the query layer's views (``experiments``, ``experiment_tags``, ``runs``, ``params``,
``metrics``, ``latest_metrics``, ``tags``, ``artifacts``, ``inputs``, the raw ``records``, and
the registry's ``model_versions`` and ``registered_models``) as Spark temp views, with the
semantics of the DuckDB tables (``tracker.query.views``): the files read are the ones
tracker's own read plan (``Store.plan()``) names, so files superseded by a run's final file
or a compacted part are skipped and overlapping parts are read once;
deleted tags, deleted runs and experiments (``lifecycle_stage``), resumed runs, the latest
metric order and dead runs (``runs.dead``) fold as in DuckDB. The SQL lives in
``tracker.query.spark_views``; a differential test keeps both engines equal. The registry's two
views are not SQL: the driver folds the registry's event log in Python, as DuckDB's tables are
made (``tracker.query.registry_tables``), and Spark gets those rows.

This is the path for stores larger than one machine: Spark reads the Parquet files in
parallel on executors. pyspark is imported by the caller (a ``SparkSession`` is passed in);
``import tracker`` does not import it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError, StoreError

if TYPE_CHECKING:
    from tracker.store import ReadPlan, Store

__all__ = ["register_views", "spark_paths"]



def register_views(spark: Any, store_uri: str, *, ignore_corrupt_files: bool = True) -> list[str]:
    """Register the store's views as Spark temp views; return their names.

    The views are lazy: each Spark query reads the files of the plan made here. Call again to
    see files written since (the read plan is made once per call).

    Args:
        spark: a ``pyspark.sql.SparkSession``.
        store_uri: the store (a folder or ``file:`` URI, which Spark reads itself, or
            ``s3://bucket/prefix``, whose files the executors read with tracker's own S3
            access, configured as for logging: ``tracker.spark_source``; no ``hadoop-aws``).
        ignore_corrupt_files: skip files Spark cannot read (DuckDB's reader skips them with a
            warning); False makes such a file fail the query instead.
    """
    from tracker.query import registry_tables, spark_views
    from tracker.uri import open_store

    if not (hasattr(spark, "read") and hasattr(spark, "sql") and hasattr(spark, "createDataFrame")):
        raise InvalidArgumentError(
            f"register_views needs a pyspark SparkSession as `spark`, got {spark!r}. "
            "Create one with SparkSession.builder.getOrCreate()."
        )
    if not isinstance(store_uri, str) or not store_uri.strip():
        raise InvalidArgumentError(
            f"register_views needs the store's URI as a non-empty string, got {store_uri!r}."
        )
    store = open_store(store_uri)
    store.read_format_warning()
    records = _records(spark, store, ignore_corrupt_files)
    records.createOrReplaceTempView("records")
    for name, sql in spark_views.VIEWS.items():
        if name in ("runs_folded", "runs"):
            continue
        _register(spark, name, sql)
    _register(spark, "runs_folded", spark_views.VIEWS["runs_folded"])
    _register_dead(spark, spark_views.RUNNING)
    _register(spark, "runs", spark_views.VIEWS["runs"])
    for name, sql in spark_views.NAMED_VIEWS.items():
        _register(spark, name, sql)
    _register_registry(spark, store)
    return [*spark_views.PUBLIC_VIEWS, *registry_tables.TABLES]


def _register_registry(spark: Any, store: Store) -> None:
    """``model_versions`` and ``registered_models``: the registry folded on the driver, by the
    same code and into the same rows as DuckDB's tables (``tracker.query.registry_tables``)."""
    from tracker.query import registry_tables
    from tracker.registry import Registry

    folded = registry_tables.rows(Registry(store).every_model())
    for name, table_rows in folded.items():
        frame = spark.createDataFrame(table_rows, registry_tables.spark_schema(name))
        frame.createOrReplaceTempView(name)


def _register(spark: Any, name: str, select: str) -> None:
    spark.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {select.strip()}")


def _records(spark: Any, store: Store, ignore_corrupt_files: bool) -> Any:
    """The store's records as a DataFrame: the read plan's files, each segment once."""
    from tracker.store.schema import spark_schema

    schema = spark_schema()
    plan: ReadPlan = store.plan()
    if not store.fs.is_local:
        return _records_by_tracker(spark, store, plan, ignore_corrupt_files)
    reader = spark.read.schema(schema).option(
        "ignoreCorruptFiles", "true" if ignore_corrupt_files else "false"
    )
    plain = [p for p in plan.files if p not in plan.exclude]
    frames = []
    if plain:
        frames.append(reader.parquet(*spark_paths(store, plain)))
    for path, segs in sorted(plan.exclude.items()):
        # rows another consolidated file already holds (two compactors overlapped)
        frame = reader.parquet(*spark_paths(store, [path]))
        frames.append(frame.where(~frame["seg"].isin(sorted(segs))))
    if not frames:
        return spark.createDataFrame([], schema)
    records = frames[0]
    for frame in frames[1:]:
        records = records.unionByName(frame)
    return records


def _records_by_tracker(spark: Any, store: Store, plan: ReadPlan,
                        ignore_corrupt_files: bool) -> Any:
    """The records of a store Hadoop cannot read (``s3://``), read on the executors by
    tracker's own filesystem code (``tracker.spark_source``): no ``hadoop-aws`` needed."""
    import json

    from tracker import spark_source

    if store.uri.split("://", 1)[0].lower() != "s3":
        raise StoreError(f"Spark cannot read the store at {store.uri}: only folders and s3:// "
                         "stores are supported.")
    spark.dataSource.register(spark_source.StoreRecords)
    files: list[tuple[str, list[str]]] = [
        (path, []) for path in plan.files if path not in plan.exclude]
    files += [(path, sorted(segs)) for path, segs in sorted(plan.exclude.items())]
    tasks = max(1, int(spark.sparkContext.defaultParallelism))
    return (spark.read.format(spark_source.NAME).option("store", store.uri)
            .option("files", json.dumps(files)).option("tasks", str(tasks))
            .option("ignore_corrupt", "true" if ignore_corrupt_files else "false").load())


def spark_paths(store: Store, paths: list[str]) -> list[str]:
    """Locations of store files as Spark (Hadoop) reads them: ``file:/…`` or ``s3a://…``.

    Args:
        store: the store the paths belong to.
        paths: store-relative file paths (``Store.plan().files``).
    """
    fs = store.fs
    if fs.is_local:
        return [f"file://{fs.full_path(p)}" for p in paths]
    uri = fs.uri()
    scheme = uri.split("://", 1)[0].lower()
    if scheme != "s3":
        raise StoreError(f"Spark cannot read the store at {store.uri}: only folders and s3:// "
                         "stores are supported.")
    return [f"s3a://{fs.full_path(p)}" for p in paths]


def _register_dead(spark: Any, running_sql: str) -> None:
    """``dead_runs``: RUNNING runs whose process is gone, judged as ``StoreQuery`` does."""
    from tracker.query import run_is_dead
    from tracker.store.store import local_owner, pid_alive

    host, _ = local_owner()
    now = int(time.time() * 1000)
    dead = [
        (row["run_id"],)
        for row in spark.sql(running_sql).collect()
        if run_is_dead(row["host"], row["pid"], row["last_seen"], host, now, pid_alive)
    ]
    spark.createDataFrame(dead, "run_id string").createOrReplaceTempView("dead_runs")
