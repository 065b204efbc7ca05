"""``python -m benchmarks.spark_views``: the store's views in Spark (local mode) and DuckDB.

Writes a synthetic store of compacted parts (``--runs`` runs, each with 5 params, 3 tags and
``--keys`` metrics of ``--steps`` points), then, each engine in its own process: the time to
make the views (DuckDB: load and fold the tables; Spark: ``tracker.spark.register_views``) and
to answer three queries (latest-metric leaderboard, per-key averages over every point, runs per
status), and the peak memory (resident set of the Python process, plus the JVM's for Spark).

    python -m benchmarks.spark_views --runs 100000 --keys 5 --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUERIES = {
    "leaderboard (top 10 by latest m0)": (
        "SELECT r.run_id, r.run_name, m.value FROM runs r JOIN latest_metrics m "
        "ON m.run_id = r.run_id WHERE m.key = 'm0' AND r.lifecycle_stage = 'active' "
        "ORDER BY m.value, r.run_id LIMIT 10"
    ),
    "avg of every point per key": (
        "SELECT key, count(*) AS n, avg(value) AS mean FROM metrics GROUP BY key ORDER BY key"
    ),
    "runs per status": "SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status",
}
RUNS_PER_PART = 10_000


def write_store(root: Path, runs: int, keys: int, steps: int) -> dict[str, int]:
    """A store of ``runs`` finished runs in compacted parts of 10,000 runs; return its size."""
    import numpy as np
    import pyarrow as pa

    from tracker.store import schema
    from tracker.store.store import experiment_dir, new_seg_id, parts_dir
    from tracker.uri import open_store

    store = open_store(str(root))
    rng = np.random.default_rng(42)
    eid = "0000000000000001"
    now = 1_760_000_000_000
    store.write_records(experiment_dir(eid), eid, None, [
        ("experiment", "name", "bench", None, None, now, time.time_ns()),
        ("experiment", "artifact_location", str(root / "artifacts"), None, None, now,
         time.time_ns()),
    ])
    points = 0
    for start in range(0, runs, RUNS_PER_PART):
        n = min(RUNS_PER_PART, runs - start)
        seg = new_seg_id()
        ids = np.array([f"{start + i:016x}{'ab' * 4}" for i in range(n)], dtype=object)
        columns: dict[str, list[Any]] = {c: [] for c in schema.COLUMNS}

        def add(run_ids: Any, kind: str, key: Any, value: Any, num: Any, step: Any,
                ts: Any, columns: dict[str, list[Any]] = columns) -> None:
            _add(columns, run_ids, kind, key, value, num, step, ts)

        starts = now + np.arange(start, start + n, dtype=np.int64) * 1000
        for key, value in (("run_name", np.array([f"run-{start + i}" for i in range(n)],
                                                 dtype=object)),
                           ("status", "FINISHED"), ("user_id", "bench"),
                           ("start_time", starts.astype(str).astype(object)),
                           ("end_time", (starts + 500).astype(str).astype(object))):
            add(ids, "run", key, value, None, None, starts)
        for j in range(5):
            add(ids, "param", f"p{j}", np.array([f"v{(start + i + j) % 7}" for i in range(n)],
                                                dtype=object), None, None, starts)
        for j in range(3):
            add(ids, "tag", f"t{j}", f"tag{j}", None, None, starts)
        for k in range(keys):
            for s in range(steps):
                add(ids, "metric", f"m{k}", None, rng.random(n), np.int64(s), starts + s)
                points += n
        total = sum(len(a) for a in columns["run_id"])
        arrays = {name: np.concatenate(parts) for name, parts in columns.items() if parts}
        arrays["experiment_id"] = np.full(total, eid, dtype=object)
        arrays["seg"] = np.full(total, seg, dtype=object)
        arrays["seq"] = np.arange(total, dtype=np.int64) + time.time_ns()
        target = schema.arrow_schema()
        table = pa.Table.from_arrays(
            [pa.array(arrays[f.name], f.type, from_pandas=True) for f in target], schema=target
        )
        store.write_table(parts_dir(eid), "part", table, covers=[seg])
    return {"runs": runs, "points": points}


def _add(columns: dict[str, list[Any]], run_ids: Any, kind: str, key: Any, value: Any, num: Any,
         step: Any, ts: Any) -> None:
    """Append one record per run id to ``columns`` (scalars repeated, arrays as they are)."""
    import numpy as np

    m = len(run_ids)
    columns["run_id"].append(run_ids)
    columns["kind"].append(np.full(m, kind, dtype=object))
    columns["key"].append(key if isinstance(key, np.ndarray) else np.full(m, key, object))
    for name, data, dtype in (("value", value, object), ("num", num, np.float64),
                              ("step", step, np.int64), ("timestamp", ts, np.int64)):
        if isinstance(data, np.ndarray):
            columns[name].append(data)
        else:
            columns[name].append(np.full(m, data, dtype=dtype if data is not None else object))


def _peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set of a process (VmHWM: ru_maxrss would count the parent's from before
    the exec on Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure_duckdb(store: str) -> dict[str, Any]:
    from tracker.query import StoreQuery
    from tracker.uri import open_store

    os.environ["TRACKER_QUERY_SNAPSHOTS"] = "0"
    started = time.perf_counter()
    query = StoreQuery(open_store(store)).refresh()
    out: dict[str, Any] = {"views_s": time.perf_counter() - started, "queries": {}}
    for name, sql in QUERIES.items():
        started = time.perf_counter()
        query._execute(sql).fetchall()
        out["queries"][name] = time.perf_counter() - started
    out["rss_mb"] = _peak_rss_mb()
    return out


def measure_spark(store: str, master: str, memory: str) -> dict[str, Any]:
    from pyspark.sql import SparkSession

    import tracker.spark

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    started = time.perf_counter()
    spark = (SparkSession.builder.master(master).config("spark.driver.memory", memory)
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    out: dict[str, Any] = {"session_s": time.perf_counter() - started, "queries": {}}
    started = time.perf_counter()
    tracker.spark.register_views(spark, store)
    out["views_s"] = time.perf_counter() - started
    for name, sql in QUERIES.items():
        started = time.perf_counter()
        spark.sql(sql).collect()
        out["queries"][name] = time.perf_counter() - started
    jvm = spark.sparkContext._gateway.proc.pid  # type: ignore[union-attr]
    out["jvm_rss_mb"] = _peak_rss_mb(jvm)
    out["rss_mb"] = _peak_rss_mb()
    spark.stop()
    return out


def _engine(args: argparse.Namespace) -> dict[str, Any]:
    """Run one engine in a fresh process (peak memory is per process)."""
    cmd = [sys.executable, "-m", "benchmarks.spark_views", "--engine", args.engine_name,
           "--store", args.store, "--master", args.master, "--memory", args.memory]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{args.engine_name} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--memory", default="2g", help="spark.driver.memory")
    parser.add_argument("--engine", choices=("duckdb", "spark"), help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine:
        result = (measure_duckdb(args.store) if args.engine == "duckdb"
                  else measure_spark(args.store, args.master, args.memory))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="tracker-spark-bench-") as tmp:
        args.store = str(Path(tmp) / "store")
        started = time.perf_counter()
        size = write_store(Path(args.store), args.runs, args.keys, args.steps)
        print(f"store: {size['runs']:,} runs, {size['points']:,} metric points "
              f"(written in {time.perf_counter() - started:.1f} s); {os.cpu_count()} cores, "
              f"Spark {args.master}, driver memory {args.memory}")
        results = {}
        for name in ("duckdb", "spark"):
            args.engine_name = name
            results[name] = _engine(args)
        duck, spark = results["duckdb"], results["spark"]
        print(f"{'':40} {'DuckDB':>10} {'Spark':>10}")
        print(f"{'make the views (s)':40} {duck['views_s']:>10.2f} {spark['views_s']:>10.2f}")
        for name in QUERIES:
            print(f"{name + ' (s)':40} {duck['queries'][name]:>10.2f} "
                  f"{spark['queries'][name]:>10.2f}")
        print(f"{'peak memory, Python (MB)':40} {duck['rss_mb']:>10.0f} {spark['rss_mb']:>10.0f}")
        print(f"{'peak memory, JVM (MB)':40} {'':>10} {spark['jvm_rss_mb']:>10.0f}")
        print(f"{'Spark session start (s)':40} {'':>10} {spark['session_s']:>10.2f}")


if __name__ == "__main__":
    main()
