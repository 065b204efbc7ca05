"""A full build streams (#14): pages and files are written as they are collected, metric
histories are read in batches of runs and dropped, compare data is made a chunk at a time, and
the build cache keeps the values it is given in a temporary file, not in memory. None of it may
change a byte of the site."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tracker
from tracker.client import TrackerClient
from tracker.site import build as build_module
from tracker.site import data as site_data
from tracker.site.build import build
from tracker.site.cache import BuildCache
from tracker.site.pages import compare, leaderboard
from tracker.site.writer import FOLDERS

RUNS = 14  # top-level runs
KIDS = 4  # trials of the one sweep
STEPS = 6


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """RUNS runs with two metrics of STEPS steps, and a sweep of KIDS trials."""
    uri = str(tmp_path_factory.mktemp("stream") / "store")
    client = TrackerClient(uri)
    eid = client.create_experiment("stream")

    def run(i: int, parent: str | None = None) -> str:
        run_id = client.create_run(eid, start_time=1_700_000_000_000 + i * 1000,
                                   run_name=f"run-{i:02d}", parent_run_id=parent).info.run_id
        metrics = [tracker.entities.Metric(key, (i % 7) + step / (10 + i), 1_700_000_000_000
                                           + i * 1000 + step, step)
                   for key in ("loss", "rmse") for step in range(STEPS)]
        client.log_batch(run_id, metrics=metrics, params=[("lr", str(i / 100)), ("i", str(i))])
        client.set_terminated(run_id)
        return run_id

    parent = run(RUNS)
    for k in range(KIDS):
        run(RUNS + 1 + k, parent)
    for i in range(RUNS):
        run(i)
    client.flush()
    return uri


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunked compare data and a paginated, chunked leaderboard even for a few runs."""
    monkeypatch.setattr(compare, "CHUNK_RUNS", 4)
    monkeypatch.setattr(leaderboard, "FIRST_SCREEN", 5)
    monkeypatch.setattr(leaderboard, "CHUNK_ROWS", 4)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def _files(out: Path) -> dict[str, bytes]:
    """Every file of a built site, but the folders' times kept for the next build."""
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != FOLDERS}


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The runs of every history read of the store (``bulk.metric_series``)."""
    reads: list[list[str]] = []
    real = site_data.bulk.metric_series

    def counted(q: Any, run_ids: list[str], max_points: int | None = None, **kw: Any) -> Any:
        reads.append(list(run_ids or []))
        return real(q, run_ids, max_points, **kw)

    monkeypatch.setattr(site_data.bulk, "metric_series", counted)
    return reads


def test_batch_sizes_do_not_change_a_byte_and_no_run_is_read_twice_per_pass(
    store: str, tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = _count_reads(monkeypatch)
    build(store, tmp_path / "one-read")
    whole = _files(tmp_path / "one-read")
    assert any(p.startswith("experiments/stream.data-") for p in whole), "compare data unchunked"
    assert any(p.startswith("experiments/stream.rows-") for p in whole), "rows unchunked"
    # a batch holds every run's few points: one read per compare chunk, one for the run pages
    _, head = compare.parse_data_script(whole["experiments/stream.data.js"])
    assert len(reads) <= len(head["chunks"]) + 1, [len(b) for b in reads]

    reads.clear()
    monkeypatch.setattr(site_data, "HISTORY_BATCH", 2 * STEPS)  # one run's two series
    monkeypatch.setattr(site_data, "HISTORY_POINTS", 2 * STEPS)  # and nothing else is held
    build(store, tmp_path / "tiny-batches")
    assert _files(tmp_path / "tiny-batches") == whole
    runs = RUNS + KIDS + 1
    assert all(len(batch) == 1 for batch in reads), reads
    # each run read once for the compare data and once for its page: none read again
    assert len(reads) == 2 * runs, [len(b) for b in reads]
    counts: dict[str, int] = {}
    for batch in reads:
        for run_id in batch:
            counts[run_id] = counts.get(run_id, 0) + 1
    assert set(counts.values()) == {2}, counts


def test_a_rebuild_after_streaming_keeps_every_file_and_reads_nothing(
    store: str, tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "site"
    build(store, out)
    before = _files(out)
    reads = _count_reads(monkeypatch)
    result = build(store, out)
    assert result.written == []
    assert reads == []  # the compare histories came from the cache, run pages were kept
    assert _files(out) == before


def test_pages_are_on_disk_before_the_next_collector_runs(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "site"
    seen: dict[str, set[str]] = {}
    real = build_module.collector

    def watched(name: str) -> Any:
        collect = real(name)

        def run(site: Any) -> Any:
            seen[name] = {p.relative_to(out).as_posix() for p in out.rglob("*.html")}
            yield from collect(site)

        return run

    monkeypatch.setattr(build_module, "collector", watched)
    build(store, out)
    assert "index.html" in seen["leaderboard"]
    assert "experiments/stream.html" in seen["compare"]
    assert "experiments/stream-compare.html" in seen["run"]
    run_pages = {p for p in _files(out) if p.startswith("runs/") and p.endswith(".html")}
    assert len(run_pages) == RUNS + KIDS + 1
    assert run_pages <= seen["registry"]  # the last run page was written before it started


def test_the_cache_file_is_what_json_dumps_wrote_and_values_come_back(tmp_path: Path) -> None:
    values = {f"run-{i}": {"loss": [[0, 1, 2], [0.5, float(i), -1e-7], [0.0, 1.5, 3.25]],
                           "note": "é \u2028 <tag>"} for i in range(5)}
    cache = BuildCache(str(tmp_path))
    for key, value in values.items():
        cache.put("histories", key, f"fp-{key}", value)
    assert cache.get("histories", "run-3", "fp-run-3") == values["run-3"]
    assert cache.get("histories", "run-3", "other") is None
    cache.save()
    text = (tmp_path / ".tracker-cache" / "histories.json").read_text(encoding="utf-8")
    assert text == json.dumps({k: [f"fp-{k}", v] for k, v in values.items()}, sort_keys=True,
                              separators=(",", ":"), allow_nan=False)

    again = BuildCache(str(tmp_path))
    assert again.get("histories", "run-1", "fp-run-1") == values["run-1"]
    again.put("histories", "run-9", "fp-run-9", [1, 2])
    again.save()  # only the entries this build used or made are kept
    kept = json.loads((tmp_path / ".tracker-cache" / "histories.json").read_text())
    assert kept == {"run-1": ["fp-run-1", values["run-1"]], "run-9": ["fp-run-9", [1, 2]]}
    with pytest.raises(ValueError):
        again.put("histories", "bad", "fp", float("nan"))


def test_values_read_back_from_the_cache_file_are_not_kept_decoded(tmp_path: Path) -> None:
    """A build that makes every page of an existing site again reads every namespace of the
    cache (the compare histories of 100,000 runs): what it read must not stay in memory as
    objects until the save (it peaked at 5.2 GB instead of 2.2 GB, #14), and what it saves is
    still exactly what was read."""
    import tracemalloc

    values = {f"run-{i}": {"loss": [float(i) + j / 7 for j in range(20_000)]} for i in range(30)}
    cache = BuildCache(str(tmp_path))
    for key, value in values.items():
        cache.put("histories", key, f"fp-{key}", value)
    cache.save()
    path = tmp_path / ".tracker-cache" / "histories.json"
    before = path.read_bytes()

    again = BuildCache(str(tmp_path))
    tracemalloc.start()
    try:
        for key, value in values.items():
            assert again.get("histories", key, f"fp-{key}") == value
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 600,000 floats as Python objects take ~19 MB; their JSON alone is in the spill file.
    assert held < 4_000_000, held
    assert again.get_text("histories", "run-7", "fp-run-7") == json.dumps(
        values["run-7"], sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert again.get("histories", "run-7", "fp-run-7") == values["run-7"]
    again.save()  # nothing changed: the file is left as it is
    assert path.read_bytes() == before

    third = BuildCache(str(tmp_path))
    for key in values:
        third.get("histories", key, f"fp-{key}")
    third.put("histories", "run-new", "fp-new", [1.5])
    third.save()  # changed: every entry read is written back from its JSON
    assert json.loads(path.read_text()) == {
        **{k: [f"fp-{k}", v] for k, v in values.items()}, "run-new": ["fp-new", [1.5]]}


def test_stale_values_read_from_the_cache_file_are_dropped_at_once(tmp_path: Path) -> None:
    """A build after a change of every fingerprint (an upgrade that changes the metric digests)
    finds every cached value stale: each must be dropped when found stale, not held decoded
    until the save (the compare histories of 100,000 runs took the build to 5.4 GB, #14); the
    save then keeps only what this build put."""
    import tracemalloc

    values = {f"run-{i}": {"loss": [float(i) + j / 7 for j in range(20_000)]} for i in range(30)}
    cache = BuildCache(str(tmp_path))
    for key, value in values.items():
        cache.put("histories", key, f"fp-{key}", value)
    cache.save()

    again = BuildCache(str(tmp_path))
    tracemalloc.start()
    try:
        for key in values:
            assert again.get("histories", key, f"new-{key}") is None
            assert again.get("histories", key, f"new-{key}") is None  # asked twice
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 4_000_000, held  # the 600,000 floats took ~19 MB
    again.put("histories", "run-3", "new-run-3", [1.5])
    again.save()
    path = tmp_path / ".tracker-cache" / "histories.json"
    assert json.loads(path.read_text()) == {"run-3": ["new-run-3", [1.5]]}


@pytest.mark.parametrize("spilled", [True, False])
def test_cache_text_is_the_values_json_whether_put_as_text_or_not(
    tmp_path: Path, spilled: bool
) -> None:
    """``get_text``/``put_text`` (the compare chunks splice the histories' text, #14) agree
    with ``get``/``put`` and with the saved file, for values put now and read from the file."""
    def text(value: object) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)

    value = {"rmse": [[0, 1], [0.5, -1e-7], [0.0, 1.5]], "a<b": [[1], [2], [3]]}
    cache = BuildCache(str(tmp_path) if spilled else None)
    cache.put_text("h", "run-1", "fp1", text(value))
    cache.put("h", "run-2", "fp2", value)
    for key, fp in (("run-1", "fp1"), ("run-2", "fp2")):
        if spilled:
            assert cache.get("h", key, fp) == value
            assert cache.get_text("h", key, fp) == text(value)
        else:  # a cache without a folder keeps nothing, as text or not
            assert cache.get("h", key, fp) is None and cache.get_text("h", key, fp) is None
        assert cache.get_text("h", key, "other") is None
    cache.save()
    if spilled:
        again = BuildCache(str(tmp_path))
        assert again.get_text("h", "run-1", "fp1") == text(value)
        assert again.get("h", "run-2", "fp2") == value


def test_changes_entries_compared_with_the_bests_so_far_match_every_earlier_run(
    tmp_path: Path,
) -> None:
    """The Changes page compares each commit with the best run per experiment and metric so
    far; ``summarize`` against a snapshot of every earlier run must give the same verdicts
    (ties by name, NaN, unfinished runs, min and max metrics, two experiments)."""
    from tracker.changes import summarize
    from tracker.query import StoreQuery
    from tracker.registry import Registry
    from tracker.site.data import SiteData
    from tracker.site.pages import changes

    uri = str(tmp_path / "store")
    client = TrackerClient(uri)
    experiments = [client.create_experiment(name) for name in ("a", "b")]
    values = [3.0, 2.0, 2.0, float("nan"), 1.5, 2.0, 4.0, 1.5, 0.5, 0.5, 9.0, 1.0]
    for i, value in enumerate(values):
        eid = experiments[i % 2]
        run_id = client.create_run(eid, start_time=1_700_000_000_000 + i * 1000,
                                   run_name=f"r{(i * 5) % 7}",
                                   tags={changes.COMMIT_TAG: f"{i // 3:040x}"}).info.run_id
        client.log_batch(run_id, metrics=[
            tracker.entities.Metric("rmse", value, 1, 0),
            tracker.entities.Metric("accuracy", 1 / (1 + value) if value == value else value, 1, 0)])
        if i % 5 != 4:  # every fifth run is left RUNNING
            client.set_terminated(run_id)
    client.flush()
    site = SiteData(StoreQuery(client.store), Registry(client.store))
    entries = changes.entries(site)
    groups = changes._groups(site, changes._Table(site), site.changes_state["builds"])
    assert len(entries) == len(groups) == 4
    seen: set[str] = set()
    for entry, (_, ids, _) in zip(entries, groups):
        result = summarize(changes._snapshot(site, seen | set(ids)),
                           changes._snapshot(site, seen), "previous entry",
                           directions=site.directions)
        expected = [(e.experiment_id, m.key, m.baseline, m.current, m.verdict)
                    for e in result.experiments for m in e.metrics
                    if m.key == site.primary_metric(e.experiment_id)]
        got = [(v.experiment.href, v.metric, v.before, v.after, v.verdict) for v in entry.verdicts]
        assert [(m[1], m[2].value if m[2] else None, m[3].value if m[3] else None,
                 m[4].replace("_", " ").lower()) for m in expected] == [g[1:] for g in got]
        seen |= set(ids)
    assert any(v.verdict == "improved" for e in entries for v in e.verdicts)
    assert any(v.verdict == "regressed" for e in entries for v in e.verdicts)
