"""Cold paths of the query layer (#16): what a new process's first search imports, the footer
version read without pyarrow, snapshots saved after the result (and never half-saved), and
new runs found by a warm process without walking every run folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracker.client import TrackerClient
from tracker.query import StoreQuery, footer_version, snapshot
from tracker.store.footer import UNSURE

REPO = Path(__file__).resolve().parent.parent


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env["TRACKER_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def _log_runs(uri: str, count: int, experiment: str = "cold") -> str:
    client = TrackerClient(uri)
    found = client.get_experiment_by_name(experiment)
    eid = found.experiment_id if found else client.create_experiment(experiment)
    for i in range(count):
        run_id = client.create_run(eid, run_name=f"r{i}").info.run_id
        client.log_param(run_id, "p", str(i % 2))
        client.log_metric(run_id, "m", i / 10)
        client.set_terminated(run_id)
    client.flush()
    return str(eid)


# -- footer_version ----------------------------------------------------------------------------


def _parquet(path: Path, metadata: dict[bytes, bytes] | None) -> str:
    table = pa.table({"x": [1, 2]})
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return str(path)


def test_footer_version_reads_what_pyarrow_reads(tmp_path: Path) -> None:
    key = b"tracker.format_version"
    assert footer_version(_parquet(tmp_path / "a.parquet", {key: b"1"})) == b"1"
    assert footer_version(_parquet(tmp_path / "b.parquet", {key: b"99"})) == b"99"
    assert footer_version(_parquet(tmp_path / "c.parquet", {b"other": b"1"})) is None
    long = b"[" + b'"a",' * 100 + b'"b"]'  # a length of two bytes
    assert footer_version(_parquet(tmp_path / "d.parquet", {key: long})) == long
    twice = {key: b"1", b"x": b"tracker.format_version"}
    assert footer_version(_parquet(tmp_path / "e.parquet", twice)) is UNSURE
    (tmp_path / "f.parquet").write_bytes(b"PAR1 not really")
    assert footer_version(str(tmp_path / "f.parquet")) is UNSURE
    for name in "abcde":
        path = str(tmp_path / f"{name}.parquet")
        found = footer_version(path)
        if found is not UNSURE:
            assert found == (pq.read_metadata(path).metadata or {}).get(key), name


def test_a_newer_loose_file_is_still_reported_by_the_first_load(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    _log_runs(uri, 2)
    folder = next(Path(uri, "runs").glob("experiment_id=*/run_id=*"))
    table = pq.read_table(next(folder.glob("*.parquet")))
    newer = folder / "seg-18ebdd0000000000cafef00d.parquet"
    pq.write_table(table.replace_schema_metadata({b"tracker.format_version": b"99"}), newer)
    query = StoreQuery(TrackerClient(uri).store)
    query.refresh()
    assert any("format version '99'" in w and newer.name in w for w in query.warnings)


# -- what the first search of a process imports ------------------------------------------------

_IMPORTS = """
import sys, tracker
tracker.set_tracking_uri(sys.argv[1])
frame = tracker.search_runs([sys.argv[2]], "metrics.m >= 0.1")
print(len(frame))
print(" ".join(sorted(sys.modules)))
"""

# Modules a search has no use for: the site, plotting, templates, DuckDB extensions, the
# network, and pyarrow's Parquet and filesystem layers (the tables come from DuckDB).
_FORBIDDEN = (
    "tracker.site", "tracker.figures", "tracker.models", "jinja2",
    "matplotlib", "plotly", "markdown", "sklearn", "scipy", "pyspark", "boto3", "botocore",
    "requests", "urllib3", "http.client", "pyarrow.parquet", "pyarrow.fs", "pyarrow.dataset",
    "tracker.store.compact", "tracker.store.s3",
)


@pytest.mark.parametrize("compacted", [False, True], ids=["loose", "compacted"])
def test_the_first_search_of_a_process_imports_only_what_it_needs(
    tmp_path: Path, compacted: bool
) -> None:
    uri = str(tmp_path / "store")
    eid = _log_runs(uri, 12)
    if compacted:
        from tracker.store.compact import compact

        compact(TrackerClient(uri).store, min_runs=1)
    cache = tmp_path / "cache"
    for attempt in ("no snapshot", "from the snapshot"):
        done = subprocess.run([sys.executable, "-c", _IMPORTS, uri, eid], env=_env(cache),
                              capture_output=True, text=True, check=True)
        count, modules = done.stdout.splitlines()
        assert count == "11", attempt
        loaded = modules.split()
        bad = [m for m in loaded if m.startswith(_FORBIDDEN) or m in _FORBIDDEN]
        assert bad == [], f"{attempt}: {bad}"
        assert {"pandas", "duckdb", "tracker.query"} <= set(loaded)
