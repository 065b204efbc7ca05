"""Bounded memory and the pandas-free write path (#15, #16).

Speed and memory figures are measured by ``benchmarks/memory.py``; these tests check behaviour.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import tracker
from tracker.store import arrays

REPO = Path(__file__).resolve().parent.parent

LOG_3000 = """
import json, sys
import tracker
tracker.set_tracking_uri(sys.argv[1])
with tracker.start_run():
    tracker.log_param("lr", 0.1)
    tracker.set_tag("t", "x")
    for i in range(3000):
        tracker.log_metric("loss", 1.0 / (i + 1), step=i)
    tracker.flush()  # a segment, so end_run consolidates two files
    tracker.log_metric("loss", 0.0, step=3000)
print(json.dumps(sorted(m for m in ("pandas", "duckdb", "pyarrow") if m in sys.modules)))
"""


def test_logging_and_end_run_import_neither_pandas_nor_duckdb(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRACKER_AUTO_COMPACT": "1"}
    out = subprocess.run(
        [sys.executable, "-c", LOG_3000, str(tmp_path / "store")],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["pyarrow"]
    # consolidated at end_run, then compacted into a part in the background (threshold 1)
    store = tmp_path / "store"
    files = [*store.glob("runs/**/*.parquet"), *store.glob("parts/**/*.parquet")]
    assert [p.name.split("-")[0] for p in files] == ["part"]
    table = pq.read_table(files[0])
    assert table.filter(pc.equal(table["key"], "loss")).num_rows == 3001


def test_arrays_built_from_buffers_equal_pa_array() -> None:
    texts = ["a", None, "héllo", "", "z" * 300]
    assert arrays.string_array(texts).equals(pa.array(texts, pa.string()))
    assert arrays.string_array([]).equals(pa.array([], pa.string()))
    floats = [1.5, None, math.nan, -math.inf, 0.0]
    built = arrays.float_array(floats)
    assert built.is_null().to_pylist() == [False, True, False, False, False]
    assert built.to_pylist()[:2] == [1.5, None] and math.isnan(built.to_pylist()[2])
    ints = [1, None, -(2**62), 0]
    assert arrays.int_array(ints).equals(pa.array(ints, pa.int64()))
    assert arrays.repeated_string("run", 3).equals(pa.array(["run"] * 3, pa.string()))
    assert arrays.repeated_string(None, 2).null_count == 2


def _records(n: int, seed: int) -> pa.Table:
    import random

    from tracker.store.store import encode_rows

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        if rng.random() < 0.1:
            rows.append(("param", f"p{rng.randrange(5)}", str(i), None, None, i, i))
        else:
            rows.append(("metric", f"m{rng.randrange(7)}", None, rng.random(), rng.randrange(50), i, i))
    return pq.read_table(pa.BufferReader(encode_rows("e", f"run{seed % 3}", f"s{seed}", rows)))


@pytest.mark.parametrize("chunk_rows", [1, 7, 100, 10_000])
def test_external_sort_equals_an_in_memory_stable_sort(
    chunk_rows: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tracker.store import merge

    monkeypatch.setattr(merge, "MERGE_READ_ROWS", 5)
    monkeypatch.setattr(merge, "ROW_GROUP_ROWS", 64)
    tables = [_records(n, seed) for seed, n in enumerate([300, 0, 1, 250, 40])]
    keys = ("run_id", "kind", "key", "step")
    with merge.SortedWriter(keys, chunk_rows=chunk_rows) as sorter:
        for table in tables:
            sorter.add(table)
        assert sorter.spilled == (chunk_rows < 591)
        sorter.write(str(tmp_path / "out.parquet"), {b"k": b"v"})
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.schema.metadata == {b"k": b"v"}
    expected = sorted(pa.concat_tables(tables).to_pylist(),
                      key=lambda r: tuple((r[k] is None, r[k] or 0) for k in keys))
    # Ties (same run, kind, key and step) may come in any order: compare as sorted groups.
    assert [tuple(r[k] for k in keys) for r in out.to_pylist()] == [
        tuple(r[k] for k in keys) for r in expected]
    assert sorted(map(repr, out.to_pylist())) == sorted(map(repr, expected))
    assert not list(tmp_path.glob("tracker-sort-*"))


def test_sorted_writer_validates_its_arguments() -> None:
    from tracker.store.merge import SortedWriter

    with pytest.raises(ValueError, match="Sort keys"):
        SortedWriter(("nope",))
    with pytest.raises(ValueError, match="chunk_rows"):
        SortedWriter(("key",), chunk_rows=0)


def _log_long_run(seed: int) -> tuple[str, dict[str, list[tuple[int, float]]]]:
    import random

    rng = random.Random(seed)
    logged: dict[str, list[tuple[int, float]]] = {}
    with tracker.start_run() as run:
        tracker.log_params({"lr": 0.1, "depth": 3})
        for flush in range(4):
            for step in range(flush * 20, flush * 20 + 20):
                for key in ("loss", "acc", "lr"):
                    value = rng.random()
                    tracker.log_metric(key, value, step=step)
                    logged.setdefault(key, []).append((step, value))
            tracker.set_tag(f"t{flush}", "x")
            tracker.flush()
    return run.info.run_id, logged


def test_runs_consolidated_and_compacted_in_spilled_chunks_read_the_same(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.store import merge
    from tracker.store.compact import compact

    run_a, logged_a = _log_long_run(1)  # default chunk: sorted in memory
    monkeypatch.setattr(merge, "CHUNK_ROWS", 17)
    monkeypatch.setattr(merge, "MERGE_READ_ROWS", 4)
    run_b, logged_b = _log_long_run(1)
    assert logged_a == logged_b
    for run_id in (run_a, run_b):
        files = list(Path(store_uri).glob(f"runs/*/run_id={run_id}/*.parquet"))
        assert [p.name.split("-")[0] for p in files] == ["final"]
    client = tracker.MlflowClient(store_uri)

    def read(run_id: str) -> tuple[object, ...]:
        history = {k: [(m.step, m.value) for m in client.get_metric_history(run_id, k)]
                   for k in ("loss", "acc", "lr")}
        run = client.get_run(run_id)
        return history, run.data.params, run.data.tags.keys() - {"mlflow.runName"}

    assert read(run_a)[0] == logged_a
    assert read(run_a) == read(run_b)
    frame = tracker.search_runs(order_by=["start_time"]).drop(
        columns=["run_id", "start_time", "end_time", "artifact_uri", "tags.mlflow.runName"])
    assert frame.iloc[0].to_dict() == frame.iloc[1].to_dict()
    assert compact(client.store).runs == 2
    assert read(run_a)[0] == logged_a
    assert read(run_a) == read(run_b)
