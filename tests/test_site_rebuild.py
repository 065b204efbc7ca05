"""The rebuild after one new run (#14) does work in proportion to what the run changed: the
compare data, leaderboard rows and filter data of an unchanged chunk are neither made nor
written again, the compare histories are cached per chunk, and the Changes page's verdicts need
only each experiment's best run so far. The rebuilt site is exactly a from-scratch build."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import tracker
from tests.test_site_leaderboard_pages import CHUNK_ROWS, seed
from tracker.client import TrackerClient
from tracker.registry import Registry
from tracker.site.build import build
from tracker.site.cache import CACHE_DIR
from tracker.site.data import SiteData
from tracker.site.pages import changes, compare, leaderboard
from tracker.site.writer import MANIFEST

CHUNK = re.compile(r"experiments/lb\.(rows|data|filter)-[0-9a-f]{16}\.js$")


def _build(store: str, out: Path) -> list[str]:
    patch = pytest.MonkeyPatch()
    patch.setattr(leaderboard, "CHUNK_ROWS", CHUNK_ROWS)
    patch.setattr(compare, "CHUNK_RUNS", CHUNK_ROWS)
    try:
        return build(store, out).written
    finally:
        patch.undo()


def _add_run(store: str, experiment_id: str, name: str, rmse: float) -> str:
    client = TrackerClient(store)
    run_id = client.create_run(experiment_id, start_time=1_700_000_009_000,
                               run_name=name).info.run_id
    client.log_batch(run_id, metrics=[tracker.entities.Metric("rmse", rmse, 1, 0)],
                     params=[("model", "a"), ("i", "999")])
    client.set_terminated(run_id)
    client.flush()
    return run_id


def _tree(out: Path) -> dict[str, bytes]:
    """Every file of a built site (the build's own manifest and cache left out)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != MANIFEST and CACHE_DIR not in p.parts}


def _with_history(out: Path, fresh: Path) -> Path:
    """An empty site folder with ``out``'s build history (what the home page's "since the last
    build" panel and the Changes page's build entries come from): a fresh build of the same
    store into it must then equal the rebuild of ``out``."""
    (fresh / CACHE_DIR).mkdir(parents=True)
    shutil.copy(out / CACHE_DIR / "changes.json", fresh / CACHE_DIR / "changes.json")
    return fresh


def _kinds(written: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for path in written:
        match = CHUNK.search(path)
        if match:
            found[match.group(1)] = found.get(match.group(1), 0) + 1
    return found


def test_one_new_run_rewrites_its_chunks_and_equals_a_fresh_build(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    eid, _ = seed(store)
    out = tmp_path / "site"
    first = _build(store, out)
    assert _kinds(first) == {"rows": 9, "data": 8, "filter": 8}  # 437 runs: 8 chunks each
    run_id = _add_run(store, eid, "late", 10.5001)  # ranks low: page 3 of the no-JS pages
    fresh = _with_history(out, tmp_path / "fresh")
    written = _build(store, out)
    # the order, and the one chunk of each kind that holds the new run
    assert _kinds(written) == {"rows": 2, "data": 1, "filter": 1}
    pages = sorted(p for p in written if p.endswith(".html"))
    assert pages == sorted([f"runs/{run_id}.html", "experiments/lb.html",
                            "experiments/lb-p3.html", "experiments/lb-compare.html",
                            "experiments/lb-charts.html", "index.html", "changes.html"])
    others = sorted(p for p in written if not p.endswith(".html") and not CHUNK.search(p))
    assert others == ["assets/search-index.js", "experiments/lb.data.js"]
    # only the new run's chunk of compare histories was read and written again
    caches = sorted(p.name for p in (out / CACHE_DIR).glob("compare-histories-*.json"))
    assert len(caches) == 8 and not (out / CACHE_DIR / "compare-histories.json").exists()
    fresh = tmp_path / "fresh"
    _build(store, fresh)
    assert _tree(out) == _tree(fresh)
    assert _build(store, out) == []  # and a rebuild with nothing new writes nothing
    # a new best: the best marks move from the old best's row chunk to the new run's
    _add_run(store, eid, "champion", 0.5)
    fresh = _with_history(out, tmp_path / "fresh2")
    written = _build(store, out)
    assert 2 <= _kinds(written)["rows"] <= 3
    _build(store, fresh)
    assert _tree(out) == _tree(fresh)


def test_a_board_that_doubles_its_chunks_equals_a_fresh_build(tmp_path: Path) -> None:
    """When the chunk count changes every chunk is made again, and stale cache files go."""
    store = str(tmp_path / "store")
    eid, _ = seed(store)
    out = tmp_path / "site"
    _build(store, out)
    patch = pytest.MonkeyPatch()
    patch.setattr(leaderboard, "CHUNK_ROWS", CHUNK_ROWS // 2)
    patch.setattr(compare, "CHUNK_RUNS", CHUNK_ROWS // 2)
    try:
        _add_run(store, eid, "late", 1.0)  # the new best: every best mark moves to it
        fresh = _with_history(out, tmp_path / "fresh")
        build(store, out)
        build(store, fresh)
    finally:
        patch.undo()
    assert _kinds([p for p in _tree(out) if CHUNK.search(p)]) == {
        "rows": 17, "data": 16, "filter": 16}
    assert _tree(out) == _tree(fresh)
    caches = sorted(p.name for p in (out / CACHE_DIR).glob("compare-histories-*.json"))
    assert len(caches) == 16 and all(name.endswith("-16.json") for name in caches)


def test_changes_verdicts_need_only_the_best_run_so_far(tmp_path: Path) -> None:
    """The Changes page's verdicts, from each experiment's best run before an entry, are those
    ``summarize`` gives from every run before it: ties (first by name, then id), failed runs,
    NaN and infinite values, runs without the metric, a metric where higher is better."""
    rng = random.Random(7)
    store = str(tmp_path / "store")
    client = TrackerClient(store)
    experiments = {client.create_experiment("loss-board"): "rmse",
                   client.create_experiment("acc-board"): "accuracy"}
    for n in range(120):
        eid, metric = rng.choice(sorted(experiments.items()))
        run_id = client.create_run(
            eid, start_time=1_700_000_000_000 + n * 1000, run_name=rng.choice(["a", "b", "c"]),
            tags={"mlflow.source.git.commit": f"{n // 12:040x}"}).info.run_id
        value = rng.choice([1.0, 2.0, 2.0, 3.0, rng.random(), float("nan"), float("inf"), None])
        if value is not None:
            client.log_metric(run_id, metric, value)
        client.set_terminated(run_id, status=rng.choice(["FINISHED"] * 4 + ["FAILED"]))
    client.flush()
    site = SiteData(client.query, Registry(client.store))
    table = changes._Table(site)
    groups = changes._groups(site, table, [])
    assert len(groups) == 10
    seen: set[str] = set()
    bests = changes._Bests(table)
    verdicts = []
    for _, ids, _ in groups:
        fast = changes._verdicts(site, table, seen, ids, bests.runs())
        assert [(v.experiment.label, v.metric, v.before, v.after, v.verdict, v.best)
                for v in fast] == _reference(site, seen, ids)
        verdicts += [v.verdict for v in fast]
        seen |= set(ids)
        bests.add(ids)
    assert {"improved", "regressed", "no baseline"} <= set(verdicts)


def _reference(site: SiteData, before: set[str], added: list[str]) -> list[tuple[Any, ...]]:
    """The primary metric's verdicts ``summarize`` gives from every run, all their metrics and
    params (what the page computed before #14)."""
    from tracker.changes import RunState, Snapshot, summarize
    from tracker.site.pages import Link

    def snapshot(ids: set[str]) -> Snapshot:
        return Snapshot({e["experiment_id"]: e["name"] for e in site.experiments}, {
            i: RunState(i, site.runs_by_id[i]["experiment_id"],
                        site.runs_by_id[i]["run_name"] or i[:8], site.runs_by_id[i]["status"],
                        dict(site.metrics.get(i, {})), dict(site.params.get(i, {})))
            for i in ids})

    result = summarize(snapshot(before | set(added)), snapshot(before), "x",
                       directions=site.directions)
    return [(e.name, m.key, m.baseline.value if m.baseline else None,
             m.current.value if m.current else None, m.verdict,
             Link(m.current.run_name, site.urls.run(m.current.run_id)) if m.current else None)
            for e in result.experiments for m in e.metrics
            if m.key == site.primary_metric(e.experiment_id)]


def _small_store(store: str, runs: int = 3) -> str:
    """``runs`` runs of an rmse curve (a page and a CSV history each)."""
    client = TrackerClient(store)
    eid = client.create_experiment("small")
    for n in range(runs):
        run_id = client.create_run(eid, start_time=1_700_000_000_000 + n,
                                   run_name=f"r{n}").info.run_id
        client.log_batch(run_id, metrics=[tracker.entities.Metric("rmse", 5.0 - step + n, 1, step)
                                          for step in range(5)])
        client.set_terminated(run_id)
    client.flush()
    return eid


def _age_folders(out: Path) -> None:
    """Every folder of the site as if written an hour ago (so none is 'racy')."""
    old = 1_700_000_000_000_000_000
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        os.utime(folder, ns=(old, old))


def test_a_rebuild_asks_folders_not_files_and_still_remakes_a_deleted_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#14: the previous build's files are known to be there from their folders' times (one
    ``stat`` per folder, no file ``stat``); a file deleted by hand changes its folder, which
    is then listed, and the file is made again."""
    from tracker.site import writer as writer_module

    store = str(tmp_path / "store")
    _small_store(store)
    out = tmp_path / "site"
    build(store, out)
    _age_folders(out)
    build(store, out)  # records the aged folders' times
    state = json.loads((out / CACHE_DIR / writer_module.FOLDERS).read_text())
    csv = next(out.glob("runs/*/metrics/rmse-*.csv"))
    assert csv.parent.relative_to(out).as_posix() in state["folders"]

    stats: list[str] = []
    real_stat, real_isfile = os.stat, os.path.isfile
    site = str(out)

    def counting_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if os.fspath(path).startswith(site):
            stats.append(os.fspath(path))
        return real_stat(path, *args, **kwargs)

    def no_isfile(path: Any) -> bool:
        assert not os.fspath(path).startswith(site), f"isfile({path!r}): a file asked for"
        return real_isfile(path)

    monkeypatch.setattr(os, "stat", counting_stat)
    monkeypatch.setattr(os.path, "isfile", no_isfile)
    assert build(store, out).written == []
    monkeypatch.undo()
    assert [p for p in stats if real_isfile(p)] == []  # folders only
    assert len(set(stats)) <= len(state["folders"]) + 2  # and the site and cache folders

    content = csv.read_bytes()
    csv.unlink()
    written = build(store, out).written
    assert written == [csv.relative_to(out).as_posix()]
    assert csv.read_bytes() == content


def test_a_racy_folder_is_listed_not_trusted(tmp_path: Path) -> None:
    """A folder changed within ``RACY_NS`` of the previous build's end could hide a later
    deletion (its time may not move on a coarse clock): it is listed, so the deleted file is
    made again even when the folder's recorded time still matches."""
    from tracker.site import writer as writer_module

    store = str(tmp_path / "store")
    _small_store(store)
    out = tmp_path / "site"
    build(store, out)
    csv = next(out.glob("runs/*/metrics/rmse-*.csv"))
    folder = csv.parent
    before = os.stat(folder)
    csv.unlink()
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))  # as if in the same tick
    assert build(store, out).written == [csv.relative_to(out).as_posix()]
    assert writer_module.RACY_NS >= 1_000_000_000


def test_a_changes_entry_lists_its_best_runs_and_counts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#14: the Changes page stays bounded: an entry lists its ``ENTRY_RUNS`` best runs, says
    how many it added and links the leaderboard for the rest."""
    from bs4 import BeautifulSoup

    monkeypatch.setattr(changes, "ENTRY_RUNS", 3)
    store = str(tmp_path / "store")
    client = TrackerClient(store)
    eid = client.create_experiment("many")
    for n in range(7):
        run_id = client.create_run(eid, start_time=1_700_000_000_000 + n, run_name=f"r{n}",
                                   tags={changes.COMMIT_TAG: "ab" * 20}).info.run_id
        client.log_metric(run_id, "rmse", 10.0 - n)
        client.set_terminated(run_id)
    client.flush()
    out = tmp_path / "site"
    build(store, out)
    soup = BeautifulSoup((out / "changes.html").read_text(), "html.parser")
    entry = soup.select_one("article.change")
    assert [a.get_text() for a in entry.select("tbody th a")] == ["r6", "r5", "r4"]
    text = " ".join(entry.get_text(" ", strip=True).split())
    assert "7 runs" in text and "Runs (3 of 7, best first)" in text
    assert "4 more on the leaderboard many" in text
    assert entry.select("details > p a")[0]["href"] == "experiments/many.html"


def test_a_build_collects_garbage_itself_and_restores_the_collector(tmp_path: Path) -> None:
    """Automatic garbage collection is off while a build runs (``GC_EVERY``): the build collects
    what rendering leaves in cycles itself, every ``GC_EVERY`` items, and gives the process its
    collector back afterwards as it found it, also when the build fails, with what the build
    made in the oldest generation."""
    import gc

    from tracker.site import build as build_module
    from tracker.site import writer as writer_module

    store = str(tmp_path / "store")
    _small_store(store, runs=3)
    seen: list[bool] = []
    original = writer_module.SiteWriter.finish

    def finish(self: Any) -> Any:
        seen.append(gc.isenabled())
        return original(self)

    patch = pytest.MonkeyPatch()
    patch.setattr(writer_module.SiteWriter, "finish", finish)
    patch.setattr(build_module, "GC_EVERY", 5)
    before = gc.get_stats()[1]["collections"]
    try:
        assert gc.isenabled()
        build(store, tmp_path / "site")
        assert seen == [False] and gc.isenabled()
        assert gc.get_stats()[1]["collections"] > before  # the build's own collections
        # What it made is in the oldest generation, not left for a young collection to walk,
        # and nothing stays frozen.
        assert gc.get_count()[0] < 1_000 and gc.get_freeze_count() == 0
        mine = [[i] for i in range(100)]
        gc.freeze()  # a caller's frozen objects stay frozen
        frozen = gc.get_freeze_count()
        build(store, tmp_path / "site4")
        assert 0 < gc.get_freeze_count() <= frozen and gc.isenabled()  # some may have died
        gc.unfreeze()
        del mine
        with pytest.raises(build_module.BuildError):
            build(str(tmp_path / "missing"), tmp_path / "site2")
        assert gc.isenabled()
        gc.disable()  # a caller that turned it off keeps it off
        build(store, tmp_path / "site3")
        assert not gc.isenabled()
    finally:
        gc.enable()
        patch.undo()


def test_run_fingerprints_come_from_one_digest_query(tmp_path: Path) -> None:
    """#14: every run's fingerprint is made from a digest DuckDB computes per run, not from a
    Python pass over each run's params, tags, artifacts and inputs; a changed tag or a new
    metric point changes the digest of that run only."""
    from tests.test_site_build import seed_site_store

    store = str(tmp_path / "store")
    ids = seed_site_store(store)
    client = TrackerClient(store)
    site = SiteData(client.query, Registry(client.store))
    before = {run["run_id"]: site.run_fingerprint(run) for run in site.runs}
    assert len(set(before.values())) == len(before) == 9
    loaded = {"params", "tags", "artifacts", "inputs"} & set(vars(site))
    assert loaded == set(), f"fingerprints loaded {sorted(loaded)} of every run"
    digests = dict(site.run_digests)
    client.set_tag(ids["lasso"], "team", "forecasting")
    client.log_metric(ids["beta-1"], "loss", 0.2, step=9)
    client.flush()
    again = SiteData(client.query, Registry(client.store))
    changed = {run_id for run_id, digest in again.run_digests.items()
               if digests.get(run_id) != digest}
    assert changed == {ids["lasso"], ids["beta-1"]}
    assert again.metric_digests[ids["beta-1"]] != site.metric_digests[ids["beta-1"]]
    assert again.metric_digests[ids["lasso"]] == site.metric_digests[ids["lasso"]]


def test_every_fingerprint_is_the_one_made_for_its_run_alone(tmp_path: Path) -> None:
    """The fingerprints of all runs are made in one pass with ``_fingerprint`` inlined for runs
    with no children and no model version: each is the one ``_fingerprint`` makes alone (a
    parent, a sweep trial, a run with a registered version, a plain run)."""
    from tests.test_site_build import seed_site_store

    store = str(tmp_path / "store")
    ids = seed_site_store(store)
    client = TrackerClient(store)
    client.set_tag(ids["retrain"], "retrained_from", ids["lasso"])
    client.flush()
    site = SiteData(client.query, Registry(client.store))
    every = {run["run_id"]: site.run_fingerprint(run) for run in site.runs}
    alone = SiteData(client.query, Registry(client.store))
    assert every == {run["run_id"]: alone._fingerprint(run) for run in alone.runs}
    kinds = {"children": set(site.children) & set(every),
             "versions": set(site.versions_by_run) & set(every),
             "a parent": {r["run_id"] for r in site.runs if r["parent_run_id"]}}
    assert all(kinds.values()), kinds  # the store has each kind of run
    assert set(every) - set().union(*kinds.values())  # and plain ones


def test_marked_runs_are_the_strip_marks_of_every_run(tmp_path: Path) -> None:
    """``marked_runs`` (one pass per experiment and sweep) gives each run the strip marks
    ``strip_marks`` gives it alone: best runs, best trials (also of a NaN and a tie), and the
    run each was retrained from."""
    from tests.test_site_build import _log_run, seed_site_store
    from tracker.site.pages.run_summary import marked_runs, strip_marks

    store = str(tmp_path / "store")
    ids = seed_site_store(store)
    client = TrackerClient(store)
    tie = _log_run(client, ids["nyc-taxi"], "tie", 1_767_240_000_000, {"rmse": [3.9]}, {},
                   parent=ids["xgb-sweep"])
    _log_run(client, ids["nyc-taxi"], "nan", 1_767_240_000_000, {"rmse": [float("nan")]}, {},
             parent=ids["xgb-sweep"])
    client.set_tag(ids["retrain"], "retrained_from", ids["lasso"])
    client.set_tag(ids["beta-0"], "source_run_id", "not-a-run")
    client.flush()
    site = SiteData(client.query, Registry(client.store))
    each = {run["run_id"]: strip_marks(site, run) for run in site.runs}
    expected = {run_id: marks for run_id, marks in each.items()
                if marks != (False, False, "", "")}
    assert marked_runs(SiteData(client.query, Registry(client.store))) == expected
    assert expected[ids["trial-1"]] == (True, True, "", "")
    assert expected[tie] == (True, True, "", "")
    assert expected[ids["retrain"]] == (False, False, ids["lasso"], "lasso")
    assert ids["beta-0"] not in expected


def test_a_boards_marked_rows_are_what_the_rows_marks_say(tmp_path: Path) -> None:
    """The chunk keys hash ``_Rows.marked`` of their rows: each row's depth and the best
    columns of the rows holding a best value, which with the runs' fingerprints is all the
    rows' ``marks`` say (depth, parent shown, best columns)."""
    from tests.test_site_build import seed_site_store

    store = str(tmp_path / "store")
    ids = seed_site_store(store)
    client = TrackerClient(store)
    site = SiteData(client.query, Registry(client.store))
    runs = site.runs_by_experiment[ids["nyc-taxi"]]
    columns = leaderboard._columns(site, runs, site.primary_metrics(runs, 3))
    best = leaderboard._best_values(site, runs, columns)
    ranked = leaderboard.ordered_runs(site, runs, site.primary_metric(ids["nyc-taxi"]))
    rows = leaderboard._Rows(site, ranked, columns, best)

    def marks(index: int) -> tuple[int, str, tuple[int, ...]]:  # as every row's were hashed
        run, depth = ranked[index]
        mine = site.metrics.get(run["run_id"], {})
        cells = tuple(i for i, c in enumerate(columns) if c.kind == "metric"
                      and (v := mine.get(c.key[len("metrics."):])) is not None
                      and best.get(c.key) == v)
        return depth, (run["parent_run_id"] or "") if depth else "", cells

    every = [marks(i) for i in range(len(rows))]
    order = [3, 0, 6, 1, 5, 2, 4]
    depths, best_rows = rows.marked(order)
    assert depths == tuple(every[i][0] for i in order)
    assert best_rows == [(place, every[i][2]) for place, i in enumerate(order) if every[i][2]]
    # the parent id a nested row shows is its own parent_run_id, part of its fingerprint
    assert all(parent == ranked[i][0]["parent_run_id"] for i, (depth, parent, _) in
               enumerate(every) if depth)
    assert [rows.marks(i) for i in range(len(rows))] == every
    # best rmse (trial-1) and best accuracy (trial-2), both nested in the sweep
    assert {ranked[i][0]["run_name"] for i, m in enumerate(every) if m[2]} == {
        "trial-1", "trial-2"}
    assert {ranked[i][0]["run_name"] for i, m in enumerate(every) if m[0]} == {
        "trial-0", "trial-1", "trial-2"}


@pytest.mark.parametrize("damage", [b"", b'{"files": {"index.html": ', b"[1, 2]", b"\xff\xfe{}",
                                    b'{"files": [], "groups": {"run:x": {"fp": 1}}}'],
                         ids=["empty", "truncated", "a list", "not utf-8", "wrong shapes"])
def test_a_damaged_manifest_costs_a_full_build_and_loses_nothing(
    tmp_path: Path, damage: bytes
) -> None:
    """The manifest (written with orjson since #14) is read back as untrusted: a damaged one
    is as good as none, so every file is made again and holds what a fresh build holds (files
    of the previous build it no longer names stay: the writer removes only what it made)."""
    store = str(tmp_path / "store")
    eid, _ = seed(store)
    out = tmp_path / "site"
    _build(store, out)
    _add_run(store, eid, "after", 0.5)
    (out / MANIFEST).write_bytes(damage)
    written = _build(store, out)
    fresh = _with_history(out, tmp_path / "fresh")
    _build(store, fresh)
    rebuilt, expected = _tree(out), _tree(fresh)
    assert {path: rebuilt.get(path) for path in expected} == expected
    assert "index.html" in written or any(p.endswith(".html") for p in written)
    json.loads((out / MANIFEST).read_text(encoding="utf-8"))  # readable again


def _older_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The layout before #14's format 2: every file and page input at the top, each group a
    fingerprint and a list of its paths."""
    files, inputs = dict(manifest["files"]), dict(manifest["inputs"])
    groups = {}
    for key, entry in manifest["groups"].items():
        files.update(entry["files"])
        inputs.update(entry["inputs"])
        groups[key] = {"fp": entry["fp"], "files": sorted(entry["files"])}
    return {"files": files, "inputs": inputs, "groups": groups}


def test_a_site_of_the_older_manifest_layout_keeps_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site built by a tracker whose manifest listed files apart from their groups: its
    groups are made again, but a file with the same bytes is not rewritten, and a file it
    named that no longer belongs to the site is removed; the next build keeps the groups."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    store = str(tmp_path / "store")
    _small_store(store, runs=4)
    out = tmp_path / "site"
    build(store, out)
    before = _tree(out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == 2 and all(
        set(entry) == {"fp", "files", "inputs"} for entry in manifest["groups"].values())
    older = _older_manifest(manifest)
    (out / "runs" / "gone.html").write_text("a run deleted since")
    older["files"]["runs/gone.html"] = "0" * 64
    (out / MANIFEST).write_text(json.dumps(older), encoding="utf-8")
    result = build(store, out)
    assert result.reused_groups == 0  # no group kept: their entries had another shape
    assert result.written == [] and result.removed == ["runs/gone.html"]
    assert _tree(out) == before
    again = build(store, out)
    assert again.reused_groups >= 4 and again.written == []


def test_a_remade_group_rewrites_only_its_changed_files(tmp_path: Path) -> None:
    """A run whose data changed makes its group again: its files with the same bytes as in
    the group's previous entry stay as they are."""
    store = str(tmp_path / "store")
    _small_store(store, runs=2)
    out = tmp_path / "site"
    build(store, out)
    client = TrackerClient(store)
    run = client.search_runs([client.get_experiment_by_name("small").experiment_id])[0]
    client.set_tag(run.info.run_id, "note", "looked at")
    client.flush()
    written = build(store, out).written
    page = f"runs/{run.info.run_id}.html"
    assert page in written
    assert not [p for p in written if p.startswith(f"runs/{run.info.run_id}/")]  # its CSVs
    groups = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["groups"]
    assert page in groups[f"run:{run.info.run_id}"]["files"]


def test_early_folder_stats_stay_inside_the_site(tmp_path: Path) -> None:
    """The folder states read ahead on a thread (``_EarlyStats``) come from the site's own
    state file: a name that would leave the site folder is never looked at, and a folder that
    is gone answers None."""
    from tracker.site.writer import _EarlyStats

    out = tmp_path / "site"
    (out / "runs" / "a").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    old = [1, 2]
    recorded = {"runs/a": old, "runs/gone": old, "../secret": old, "/etc": old,
                "runs/../../secret": old, "runs/\0x": old, "runs/new": [10**19, 2]}
    found = _EarlyStats(str(out), recorded, 10**19 - 1).result()  # the writer's limit
    state = os.stat(out / "runs" / "a")
    assert found == {"runs/a": (state.st_mtime_ns, state.st_ino), "runs/gone": None}
    assert _EarlyStats(str(out), recorded, None).result() == {}  # no limit: nothing trusted


def test_builds_on_two_threads_give_the_collector_back_once_both_are_done(
    tmp_path: Path,
) -> None:
    """Two builds at once in one process (threads) share the switched-off collector: the first
    to finish leaves it off for the other, the last gives it back; a real pair of builds on
    two threads ends with it on."""
    import gc
    import threading

    from tracker.site import build as build_module

    assert gc.isenabled()
    build_module._collector_off()
    build_module._collector_off()
    build_module._collector_back()
    assert not gc.isenabled()  # the other build still runs
    build_module._collector_back()
    assert gc.isenabled()
    store = str(tmp_path / "store")
    _small_store(store, runs=2)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            build(store, tmp_path / f"site{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and gc.isenabled()
    assert _tree(tmp_path / "site0") == _tree(tmp_path / "site1")
