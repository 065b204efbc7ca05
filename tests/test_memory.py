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
import json, os, sys, threading
import tracker
from tracker.store import merge
merge.CHUNK_ROWS, merge.MERGE_READ_ROWS = 1000, 300  # spill and merge, as a long run does
tracker.set_tracking_uri(sys.argv[1])
with tracker.start_run():
    tracker.log_param("lr", 0.1)
    tracker.set_tag("t", "x")
    for i in range(3000):
        tracker.log_metric("loss", 1.0 / (i + 1), step=i)
    tracker.flush()  # a segment, so end_run consolidates two files
    tracker.log_metric("loss", 0.0, step=3000)
    native = len(os.listdir("/proc/self/task")) - threading.active_count()
from tracker.store import compact
compact._join_at_exit()  # the background compaction
# No pyarrow pool thread started: a process exiting with one alive aborts now and then.
# (A joined Python thread's OS task can linger a moment: poll.)
import time
for _ in range(100):
    if len(os.listdir("/proc/self/task")) - threading.active_count() == native:
        break
    time.sleep(0.02)
else:
    raise SystemExit(f"native threads: {os.listdir('/proc/self/task')} vs {native}")
print(json.dumps(sorted(m for m in ("pandas", "duckdb", "pyarrow") if m in sys.modules)))
"""


def test_logging_and_end_run_import_neither_pandas_nor_duckdb(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRACKER_AUTO_COMPACT": "1"}
    out = subprocess.run(
        [sys.executable, "-c", LOG_3000, str(tmp_path / "store")],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )
    assert out.returncode == 0, out.stderr
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


def test_search_frames_are_identical_past_the_wide_tables_cell_budget(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from tracker.query import StoreQuery, reads, wide

    for i in range(4):
        with tracker.start_run(run_name=f"r{i}"):
            tracker.log_param("model", ["xgb", "lasso"][i % 2])
            if i:
                tracker.log_params({f"p{k}": k * i for k in range(i * 3)})
                tracker.set_tag("team", f"t{i}")
            for k in range(60 * i):  # per-class metrics: 0, 60, 120, 180 keys
                tracker.log_metric(f"class_{k:03d}_f1", math.nan if k == 7 else k / (i + 1))
            tracker.log_metric("Loss" if i == 3 else "loss", float(i), step=i)
    searches: list[dict[str, object]] = [
        {"experiment_ids": None},
        {"experiment_ids": None, "order_by": ["metrics.class_001_f1 DESC"]},
        {"experiment_ids": None, "filter_string": "params.model = 'xgb'"},
        {"experiment_ids": None, "filter_string": "metrics.loss > 100"},
    ]
    store = tracker.TrackerClient(store_uri).store

    def frames() -> tuple[StoreQuery, list[pd.DataFrame]]:
        query = StoreQuery(store)
        query.refresh()
        return query, [reads.runs_dataframe(query, reads.search_runs(query, **kw))  # type: ignore[arg-type]
                       for kw in searches]

    query, within = frames()
    assert query.wide_table() is not None
    monkeypatch.setattr(wide, "MAX_CELLS", 100)  # 4 runs x 200 keys > 100 cells
    query, past = frames()
    assert query.wide_table() is None
    for a, b in zip(within, past):
        pd.testing.assert_frame_equal(a, b)
    columns = list(within[0].columns)
    assert sum(c.startswith("metrics.") for c in columns) == 182
    assert sum(c.startswith("params.") for c in columns) == 10
    assert "tags.team" in columns
    assert within[3].empty


def test_site_caps_metric_csvs_and_says_so_on_the_run_page(
    store_uri: str, tmp_path: Path
) -> None:
    import csv
    import io

    from bs4 import BeautifulSoup

    from tracker.config import SiteSettings, TrackerConfig
    from tracker.site.build import build

    with tracker.start_run() as run:
        for step in range(6000):  # more than the 4,000 points a series is read with at most
            tracker.log_metric("loss", 1.0 / (step + 1) + (5.0 if step == 1234 else 0.0),
                               step=step, timestamp=1_700_000_000_000 + step)
        tracker.log_metric("small", 1.0, step=0)
        tracker.log_metric("small", 2.0, step=1)
    cap = 20 * 1024
    build(store_uri, tmp_path / "site", config=TrackerConfig(site=SiteSettings(max_csv_size=cap)))
    csvs = {p.name: p for p in (tmp_path / "site").rglob("*.csv")}
    loss = next(p for name, p in csvs.items() if "loss" in name)
    small = next(p for name, p in csvs.items() if "small" in name)
    assert 10 * 1024 < loss.stat().st_size <= cap
    rows = list(csv.reader(io.StringIO(loss.read_text())))
    assert rows[0] == ["step", "timestamp", "value"]
    steps = [int(r[0]) for r in rows[1:]]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 5999
    assert 1234 in steps  # the spike survives downsampling
    assert small.read_text() == f"step,timestamp,value\n0,{_ts(store_uri, run.info.run_id, 0)},1.0\n" \
        f"1,{_ts(store_uri, run.info.run_id, 1)},2.0\n"
    html = next((tmp_path / "site").rglob(f"runs/{run.info.run_id}.html")).read_text()
    soup = BeautifulSoup(html, "html.parser")
    notes = [n.get_text(" ", strip=True) for n in soup.select(".csv-note")]
    assert "6000 points" in notes_cell(soup)
    assert notes == [f"(downsampled to {len(rows) - 1} points to fit site.max_csv_size; the full "
                     "history is not published, it stays in the store)"]
    # Without the cap the CSV holds every point.
    build(store_uri, tmp_path / "full", config=TrackerConfig(site=SiteSettings(max_csv_size=0)))
    full = next(p for p in (tmp_path / "full").rglob("*.csv") if "loss" in p.name)
    assert len(full.read_text().splitlines()) == 6001
    assert not BeautifulSoup(next((tmp_path / "full").rglob(f"runs/{run.info.run_id}.html"))
                             .read_text(), "html.parser").select(".csv-note")


def notes_cell(soup: object) -> str:
    note = soup.select_one(".csv-note")  # type: ignore[attr-defined]
    return str(note.parent.get_text(" ", strip=True))


def test_long_series_are_reduced_in_sql_keeping_ends_and_extremes(store_uri: str) -> None:
    from tracker.query import StoreQuery, bulk

    with tracker.start_run() as run:
        for step in range(3000):
            value = -7.0 if step == 2222 else 9.0 if step == 17 else math.sin(step / 100)
            tracker.log_metric("long", value, step=step)
        for step in range(50):
            tracker.log_metric("short", float(step), step=step)
    query = StoreQuery(tracker.TrackerClient(store_uri).store)
    full = bulk.metric_points(query)[run.info.run_id]
    capped = bulk.metric_points(query, [run.info.run_id], max_points=400)[run.info.run_id]
    assert capped["short"] == full["short"] and len(full["long"]) == 3000
    assert 100 < len(capped["long"]) <= 400
    assert set(capped["long"]) <= set(full["long"]) and capped["long"] == sorted(capped["long"])
    steps = [p[0] for p in capped["long"]]
    assert {0, 17, 2222, 2999} <= set(steps)
    assert bulk.metric_counts(query)[run.info.run_id] == {"long": 3000, "short": 50}
    with pytest.raises(tracker.exceptions.TrackerError, match="max_points"):
        bulk.metric_points(query, max_points=3)


def test_metric_series_reads_the_same_points_as_columns(store_uri: str) -> None:
    """``bulk.metric_series`` (what the site reads, #14) holds exactly ``metric_points``'s
    tuples, capped or not, NaN and ±inf included, and also hands out its columns."""
    from tracker.query import StoreQuery, bulk

    ids = []
    for r in range(3):
        with tracker.start_run() as run:
            for step in range(600 if r == 0 else 7):
                value = math.nan if step == 3 else math.inf if step == 4 else step / (r + 1.5)
                tracker.log_metric("a", value, step=step, timestamp=1_700_000_000_000 + step)
                # two points per step (the order is step, then time: ties have no order)
                tracker.log_metric("b", -value, step=step // 2,
                                   timestamp=1_700_000_000_000 + step)
            ids.append(run.info.run_id)
    query = StoreQuery(tracker.TrackerClient(store_uri).store)
    for cap, longest in ((None, None), (400, None), (400, 1200), (2000, 1200)):
        series = bulk.metric_series(query, ids[::-1], cap, longest=longest)
        points = bulk.metric_points(query, ids, cap)
        assert set(series) == set(ids)
        for run_id in ids:
            assert set(series[run_id]) == {"a", "b"}
            for key, got in series[run_id].items():
                want = points[run_id][key]
                # as text: NaN == NaN
                assert repr(list(got)) == repr(want) and repr(got[2:5]) == repr(want[2:5])
                assert repr(got[4]) == repr(want[4]) and len(got) == len(want)
                assert got.steps == [p[0] for p in want] and got.times == [p[1] for p in want]
                assert repr(got.values) == repr([p[2] for p in want])
    assert len(bulk.metric_series(query, [ids[0]], 400)[ids[0]]["b"]) <= 400
    assert bulk.metric_series(query, []) == {}
    with pytest.raises(tracker.exceptions.TrackerError, match="max_points"):
        bulk.metric_series(query, ids, max_points=3)


def _ts(store_uri: str, run_id: str, step: int) -> int:
    history = tracker.MlflowClient(store_uri).get_metric_history(run_id, "small")
    return next(m.timestamp for m in history if m.step == step)


def test_max_csv_size_is_read_from_the_config(tmp_path: Path) -> None:
    from tracker.config import load_config
    from tracker.exceptions import ConfigError

    path = tmp_path / "tracker.toml"
    path.write_text('[site]\nmax_csv_size = "1.5MB"\n')
    assert load_config(path).site.max_csv_size == int(1.5 * 1024 * 1024)
    path.write_text("title = 'x'\n")
    assert load_config(path).site.max_csv_size == 5 * 1024 * 1024
    path.write_text('[site]\nmax_csv_size = "lots"\n')
    with pytest.raises(ConfigError, match="'site.max_csv_size'"):
        load_config(path)


def test_history_csv_validates_and_keeps_small_series_whole() -> None:
    from tracker.site import metric_csv

    points = [(i, 1000 + i, i / 3) for i in range(10)]
    data, kept = metric_csv.history_csv(points, 10_000)
    assert kept == 10 and data == metric_csv.encode(points)
    data, kept = metric_csv.history_csv(points, 120)
    assert kept < 10 and len(data) <= 120
    with pytest.raises(ValueError, match="max_bytes"):
        metric_csv.history_csv(points, -1)
