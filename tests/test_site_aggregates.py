"""The whole-experiment aggregates of a build read from SQL and numpy columns (#14) give what the
per-run Python code gives, on hostile data: NaN, ±inf and missing values, ties, deleted and
failed runs, nested runs (and a parent cycle), unicode names, params that only look numeric,
baseline tags in odd cases, an experiment without runs."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from tracker.client import TrackerClient
from tracker.registry import Registry
from tracker.site.data import SiteData
from tracker.site.pages import compare, home, leaderboard, search

# numbers to ``float`` (not all to SQL's regular expression), then others
NUMBERS = ["1", "1.5", "-2e3", ".5", "5.", "1_000", "nan", "Infinity", " 7 ", "٣", "", "+.5E-3",
           "１"]
PARAM_VALUES = [*NUMBERS, "0x1A", "adam", "1e", "1__0"]
TAG_VALUES = ["baseline", " BaseLine ", "not the baseline", "x", "", "ünïcode ✓", "false"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteData:
    rng = random.Random(14)
    store = str(tmp_path_factory.mktemp("aggregates") / "store")
    client = TrackerClient(store)
    board = client.create_experiment("bøard ✓")
    other = client.create_experiment("other")
    client.create_experiment("empty")
    ids: list[str] = []
    for n in range(160):
        eid = board if n % 5 else other
        parent = rng.choice(ids[-20:]) if ids and rng.random() < 0.4 else None
        run_id = client.create_run(
            eid, start_time=rng.choice([None, 0, 1_700_000_000_000 + rng.randrange(4) * 60_000,
                                        1_700_000_000_000 + n * 1000]),
            run_name=rng.choice([None, "", "ä", "run", f"rün-{n}"]), parent_run_id=parent,
            tags={"mlflow.source.git.commit": f"{n // 16:040x}"} if rng.random() < 0.7
            else None).info.run_id
        ids.append(run_id)
        for metric in ("rmse", "accuracy", "steps", "loss"):
            value = rng.choice([1.0, 2.0, 2.0, -0.0, 0.0, rng.random(), math.nan, math.inf,
                                -math.inf, None])
            if value is not None:
                client.log_metric(run_id, metric, value)
        for key in ("lr", "opt", "seed"):
            if rng.random() < 0.8:
                client.log_param(run_id, key, rng.choice(PARAM_VALUES))
        if rng.random() < 0.8:
            client.log_param(run_id, "num", rng.choice(NUMBERS))
        for key in ("baseline", "note", "mlflow.note.content"):
            if rng.random() < 0.15:
                client.set_tag(run_id, key, rng.choice(TAG_VALUES))
        if rng.random() < 0.8:
            client.set_terminated(run_id, status=rng.choice(["FINISHED"] * 4 + ["FAILED"]))
    for run_id in rng.sample(ids, 12):
        client.delete_run(run_id)
    client.flush()
    return SiteData(client.query, Registry(client.store))


def _experiments(site: SiteData) -> list[tuple[str, list[dict[str, Any]]]]:
    out = [(e["experiment_id"], site.runs_by_experiment[e["experiment_id"]])
           for e in site.experiments]
    assert sorted(len(runs) > 20 for _, runs in out) == [False, True, True]  # one is empty
    return out


def test_keys_columns_and_param_values_match_the_runs_dicts(site: SiteData) -> None:
    for eid, runs in _experiments(site):
        for table, source in (("params", site.params), ("metrics", site.metrics),
                              ("tags", site.tags)):
            assert site.keys(eid, table) == sorted(
                {k for r in runs for k in source.get(r["run_id"], {})})
        assert site.metric_key_counts(eid) == {
            k: sum(k in site.metrics.get(r["run_id"], {}) for r in runs)
            for k in site.keys(eid, "metrics")}
        for key in ("rmse", "accuracy", "nope"):
            values = [site.metrics.get(r["run_id"], {}).get(key) for r in runs]
            column = site.metric_column(eid, key).tolist()
            assert [None if v is None or v != v else v for v in values] == [
                None if v != v else v for v in column]
            assert [math.copysign(1, v) for v in values if v == 0] == [
                math.copysign(1, v) for v in column if v == 0]
        assert site.param_values(eid) == leaderboard._param_values(site, runs)
        assert {True, False} <= {numeric for _, numeric in site.param_values(eid).values()} \
            or not runs
        assert site.tag_column(eid, "note") == [
            site.tags.get(r["run_id"], {}).get("note") for r in runs]


def test_rankings_bests_and_trends_match_the_per_run_code(site: SiteData) -> None:
    for eid, runs in _experiments(site):
        copy = list(runs)  # not the experiment's own list: the per-run code
        primary = site.primary_metrics(copy, 3)
        assert site.primary_metrics(runs, 3) == primary
        assert site.primary_metric(eid) == site.directions.primary_metric(
            site.experiment_name(eid),
            (site.metrics.get(r["run_id"], {}) for r in
             ([r for r in runs if r["status"] == "FINISHED"] or runs)))
        columns = leaderboard._columns(site, copy, primary)
        assert leaderboard._columns(site, runs, primary, eid) == columns
        assert leaderboard._best_values(site, runs, columns, eid) == \
            leaderboard._best_values(site, copy, columns)
        for metric in ("rmse", "accuracy", "steps", ""):
            assert leaderboard.ordered_runs(site, runs, metric) == \
                leaderboard.ordered_runs(site, copy, metric)
            assert compare._top(site, runs, metric, eid) == compare._top(site, copy, metric)
            assert home.best_runs(site, runs, [metric], eid) == \
                home.best_runs(site, copy, [metric])
        assert compare._tagged_baseline(site, runs, eid) == \
            compare._tagged_baseline(site, copy)
        for pair in (primary[:2], ["steps", "loss"], ["nope"]):
            assert leaderboard._trends(site, runs, pair, eid) == \
                leaderboard._trends(site, copy, pair)
    board = max(_experiments(site), key=lambda item: len(item[1]))
    assert leaderboard._trends(site, board[1], ["rmse"], board[0])  # a figure was compared
    assert compare._tagged_baseline(site, board[1], board[0])  # and a baseline found


def _marks_by_lookups(site: SiteData) -> dict[str, tuple[bool, bool]]:
    """(best, best trial) of the marked runs, a look in each run's metrics dict at a time."""
    def best(metric: str, runs: list[dict[str, Any]]) -> float | None:
        return site.directions.best(metric, [
            v for r in runs if (v := site.metrics.get(r["run_id"], {}).get(metric)) is not None])

    out: dict[str, tuple[bool, bool]] = {}
    for eid, runs in site.runs_by_experiment.items():
        metric = site.primary_metric(eid)
        if metric and site.direction(metric) and (top := best(metric, runs)) is not None:
            out.update({r["run_id"]: (True, False) for r in runs
                        if site.metrics.get(r["run_id"], {}).get(metric) == top})
    for kid_ids in site.children.values():
        kids = [site.runs_by_id[c] for c in kid_ids if c in site.runs_by_id]
        for kid in kids:
            metric = site.primary_metric(kid["experiment_id"])
            if not metric or not site.direction(metric):
                continue
            value = site.metrics.get(kid["run_id"], {}).get(metric)
            if value is not None and value == best(metric, kids):
                out[kid["run_id"]] = (out.get(kid["run_id"], (False,))[0], True)
    return out


def test_run_marks_and_best_cells_match_the_per_run_code(site: SiteData) -> None:
    """The runs marked best of their experiment or sweep, and the leaderboard cells marked
    best, read from numpy columns, are those a look in each run's dict finds."""
    from tracker.site.pages import run_summary

    expected = _marks_by_lookups(site)
    assert any(best for best, _ in expected.values())
    assert any(trial for _, trial in expected.values())  # sweeps across experiments too
    fresh = SiteData(site.query, site.registry)  # its own cache of bests
    assert {k: v[:2] for k, v in run_summary.marked_runs(fresh).items()} == expected
    for run in site.runs:  # one run at a time, as a run page asks
        assert run_summary.strip_marks(site, run)[:2] == \
            expected.get(run["run_id"], (False, False))
    for eid, runs in _experiments(site):
        primary = site.primary_metrics(runs, 3)
        columns = leaderboard._columns(site, runs, primary, eid)
        best = leaderboard._best_values(site, runs, columns, eid)
        rows = leaderboard._Rows(site, leaderboard.ordered_runs(
            site, runs, site.primary_metric(eid)), columns, best)
        cells: dict[int, list[int]] = {}
        for column, key, name in rows._metric_columns:
            for index, (run, _) in enumerate(rows.ranked):
                if best.get(key) is not None and \
                        site.metrics.get(run["run_id"], {}).get(name) == best[key]:
                    cells.setdefault(index, []).append(column)
        assert rows._best_cells == {index: tuple(found) for index, found in cells.items()}
        assert cells or not runs


def test_sweep_metrics_match_the_per_run_code(site: SiteData) -> None:
    """The metric a sweep page ranks its trials by, from numpy columns (which of a few keys a
    trial logged, NaN included), is the one a look in each trial's dict picks."""
    from tracker.site.pages import sweep

    def by_lookups(parent: dict[str, Any], kids: list[dict[str, Any]]) -> str:
        logged = {k for kid in kids for k in site.metrics.get(kid["run_id"], {})}
        if "loss" in logged:
            return "loss"
        primary = site.primary_metrics(site.runs_by_experiment[parent["experiment_id"]], 3)
        found = [key for key in primary if key in logged]
        own = site.primary_metrics(kids, 1)
        return found[0] if found else own[0] if own else ""

    picked = []
    for pid, kid_ids in site.children.items():
        kids = [site.runs_by_id[c] for c in kid_ids]
        parent = site.runs_by_id[pid]
        picked.append(sweep._metric_of(site, parent, kids))
        assert picked[-1] == by_lookups(parent, kids)
        for keys in (["loss"], ["rmse", "nope"], []):
            assert site.metric_logged(kids, keys) == {
                k for k in keys if any(k in site.metrics.get(kid["run_id"], {}) for kid in kids)}
    assert len(set(picked)) > 1


def test_search_run_entries_match_the_per_run_code(site: SiteData) -> None:
    expected = []
    for run in site.runs:  # the index before #14
        run_id = run["run_id"]
        tags = site.tags.get(run_id, {})
        values = [str(v)[:search.MAX_VALUE] for k, v in sorted(tags.items())
                  if not k.startswith(search.SYSTEM_TAG_PREFIXES) and v][:search.RUN_TAG_VALUES]
        extra = " ".join([run_id, site.experiment_name(run["experiment_id"]), *values])
        expected.append(("run", str(run["run_name"] or run_id[:8]), extra,
                         site.urls.run(run_id)))
    assert search._run_entries(site) == expected
    assert any(len(entry[2].split()) > 2 for entry in expected)  # some show tag values


def test_two_sites_over_one_query_layer_keep_their_own_runs(tmp_path: Path) -> None:
    """The runs table each site's SQL joins is made again when another site replaced it."""
    client = TrackerClient(str(tmp_path / "store"))
    eid = client.create_experiment("e")
    first = SiteData(client.query, Registry(client.store))
    assert first.runs == []  # read before the run
    run_id = client.create_run(eid, run_name="a").info.run_id
    client.log_metric(run_id, "rmse", 1.0)
    client.flush()
    second = SiteData(client.query, Registry(client.store))
    assert second.keys(eid, "metrics") == ["rmse"]
    assert first.keys(eid, "metrics") == []
    assert second.metric_column(eid, "rmse").tolist() == [1.0]
    assert first.metric_column(eid, "rmse").tolist() == []


def test_bulk_dicts_match_a_row_by_row_read(site: SiteData) -> None:
    """``bulk``'s per-run dicts (read as key numbers and value arrays) are those a row-by-row
    read gives, in the same order: runs by id, each run's keys by key; NaN and ±inf kept."""
    from tracker.query import bulk

    query = site.query
    for name, table, column in (("params", "params", "value"), ("tags", "tags", "value"),
                                ("latest_metrics", "latest_metrics", "value"),
                                ("metric_counts", "latest_metrics", "points")):
        expected: dict[str, dict[str, Any]] = {}
        for run_id, key, value in query._execute(
                f"SELECT run_id, key, {column} FROM {table} ORDER BY run_id, key").fetchall():
            expected.setdefault(run_id, {})[key] = value
        got = getattr(bulk, name)(query)
        assert repr(dict(got)) == repr(expected)  # the order too; NaN != NaN, its text is equal
        assert len(got) == len(expected) > 100
        assert [run_id in got for run_id in expected] == [True] * len(expected)
    values, counts = bulk.latest_metrics_and_counts(query)  # one read, the same two tables
    assert repr(dict(values)) == repr(dict(bulk.latest_metrics(query)))
    assert dict(counts) == dict(bulk.metric_counts(query))


def test_bulk_dicts_are_made_for_the_runs_asked_for(site: SiteData) -> None:
    """A run's dict is made the first time it is asked for, then the same one is given; a run
    without rows is absent (``get`` gives the default, ``[]`` raises KeyError)."""
    from tracker.query import bulk

    got = bulk.params(site.query)
    first, *_, last = list(got)
    assert got._made == {}  # nothing made yet: iterating gives the run ids only
    mine = got[last]
    assert got.get(last) is mine and got[last] is mine and list(got._made) == [last]
    assert got.get(first, {}) == dict(site.query._execute(
        "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", [first]).fetchall())
    assert got.get("no-such-run") is None and got.get("no-such-run", {}) == {}
    assert "no-such-run" not in got
    with pytest.raises(KeyError):
        got["no-such-run"]


@pytest.mark.parametrize("times", [
    ["2026-01-01 00:00", "2026-01-01 00:04", "2026-01-01 00:02"],  # within 5 minutes: by order
    ["2026-01-01 00:00", "2026-01-01 00:09", "2026-01-01 00:02"],  # later: on a time axis
    ["2026-01-01 00:00", "", "2026-01-01 00:01"],  # a run without a time: on a time axis
    ["2026-01-01T00:00", "2026-01-01 00:01"],  # another ISO shape: every time is read
    ["1999-12-31 23:58", "2000-01-01 00:01"],
])
def test_trend_figures_read_two_times_as_they_read_all(times: list[str]) -> None:
    """A trend figure whose times are all ``YYYY-MM-DD HH:MM`` reads only the first and last
    (they sort as the times do): the axis is the one reading every time gives."""
    from datetime import datetime

    from tracker.site import charts

    points = [(t, float(i), f"run {i}", f"runs/{i}.html") for i, t in enumerate(times)]
    figure = charts.trend_figure("rmse", "min", points, [])
    moments = [datetime.fromisoformat(t).timestamp() for t in times if t]
    by_order = len(moments) == len(times) and max(moments) - min(moments) < 300
    assert figure["data"][0]["x"] == (list(range(1, len(times) + 1)) if by_order else times)
