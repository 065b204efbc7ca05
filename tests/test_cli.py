"""The ``tracker`` command line: every command, every output format, the error paths, the docs."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import tracker
import tracker.api
from tracker.cli import cli
from tracker.client import TrackerClient

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No tracking URI from the environment, and no fluent-API state leaking between tests."""
    for name in ("TRACKER_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    yield
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None


def make_store(path: Path) -> dict[str, str]:
    """A store with two experiments (one deleted), four runs (one deleted, one still running)."""
    import pandas as pd

    client = tracker.TrackerClient(str(path))
    exp = client.create_experiment("exp-a")
    old = client.create_experiment("old")
    client.delete_experiment(old)

    r1 = client.create_run(exp, start_time=T0, run_name="r1").info.run_id
    client.log_param(r1, "x", "y")
    client.log_param(r1, "model", "lasso")
    client.log_metric(r1, "rmse", 3.5, step=0)
    client.log_metric(r1, "rmse", 2.5, step=1)
    client.log_metric(r1, "r2", 0.75)
    client.set_tag(r1, "team", "a")
    client.log_text(r1, "hello", "notes/a.txt")
    frame = pd.DataFrame({"a": [1, 2, 3]})
    client.log_inputs(r1, [(tracker.data.from_pandas(frame, name="train"), "training")])
    client.set_terminated(r1, end_time=T0 + 125_000)

    r2 = client.create_run(exp, start_time=T0 + 1_000, run_name="r2").info.run_id
    client.log_param(r2, "x", "z")
    client.log_metric(r2, "rmse", 7.0)
    client.set_terminated(r2, "FAILED", end_time=T0 + 1_500)

    r3 = client.create_run(exp, start_time=T0 + 2_000, run_name="gone").info.run_id
    client.set_terminated(r3, end_time=T0 + 3_000)
    client.delete_run(r3)

    r4 = client.create_run("0", start_time=T0 + 3_000, run_name="live").info.run_id
    client.log_metric(r4, "rmse", 1.0)
    client.flush()
    return {"exp": exp, "old": old, "r1": r1, "r2": r2, "r3": r3, "r4": r4}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """A store the read-only tests share: (its path, the ids make_store returned)."""
    path = tmp_path_factory.mktemp("cli") / "store"
    return str(path), make_store(path)


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(*args: str) -> Any:
    return json.loads(ok(*args, "--format", "json"))


def as_csv(*args: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(ok(*args, "--format", "csv"))))


def table_rows(text: str) -> list[list[str]]:
    """A text table's rows split on runs of two or more spaces (header and rule dropped)."""
    import re

    lines = text.strip("\n").splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}, text
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]


# -- experiments list ------------------------------------------------------------------------


def test_experiments_list_table(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    out = ok("--store", path, "experiments", "list")
    header = out.splitlines()[0].split()
    assert header == [
        "experiment_id", "name", "artifact_location", "lifecycle_stage", "runs", "last_activity"
    ]
    rows = {row[1]: row for row in table_rows(out)}
    assert set(rows) == {"Default", "exp-a"}
    assert rows["exp-a"][0] == ids["exp"]
    assert rows["exp-a"][3:5] == ["active", "2"]  # r3 is deleted: not counted
    assert rows["Default"][4] == "1"


def test_experiments_list_json_and_view_flags(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    data = as_json("--store", path, "experiments", "list")
    by_name = {e["name"]: e for e in data}
    assert set(by_name) == {"Default", "exp-a"}
    exp = by_name["exp-a"]
    assert exp["experiment_id"] == ids["exp"]
    assert exp["lifecycle_stage"] == "active"
    assert exp["runs"] == 2
    assert exp["artifact_location"].endswith(f"/artifacts/{ids['exp']}")
    assert exp["last_activity"].endswith("+00:00")

    deleted = as_json("--store", path, "experiments", "list", "--deleted")
    assert [(e["name"], e["lifecycle_stage"], e["runs"]) for e in deleted] == [
        ("old", "deleted", 0)
    ]
    every = as_json("--store", path, "experiments", "list", "--all")
    assert sorted(e["name"] for e in every) == ["Default", "exp-a", "old"]


def test_experiments_list_csv(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    rows = as_csv("--store", path, "experiments", "list", "--all")
    assert list(rows[0]) == [
        "experiment_id", "name", "artifact_location", "lifecycle_stage", "runs", "last_activity"
    ]
    assert {r["name"]: r["runs"] for r in rows} == {"Default": "1", "exp-a": "2", "old": "0"}
    assert {r["name"]: r["experiment_id"] for r in rows}["old"] == ids["old"]


# -- runs list -------------------------------------------------------------------------------


def test_runs_list_json(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    data = as_json("--store", path, "runs", "list")
    assert [r["run_name"] for r in data] == ["live", "r2", "r1"]  # newest first
    by_name = {r["run_name"]: r for r in data}
    r1 = by_name["r1"]
    assert r1["run_id"] == ids["r1"]
    assert r1["experiment"] == "exp-a"
    assert r1["status"] == "FINISHED"
    assert r1["start_time"] == "2023-11-14T22:13:20.000+00:00"
    assert r1["duration"] == 125.0
    assert r1["metrics.rmse"] == 2.5  # the latest step
    assert r1["metrics.r2"] == 0.75
    assert r1["params.x"] == "y"
    assert r1["params.model"] == "lasso"
    assert "tags.team" not in r1  # tags only with --columns
    assert by_name["r2"]["status"] == "FAILED"
    assert by_name["r2"]["duration"] == 0.5
    assert by_name["r2"]["metrics.r2"] is None
    live = by_name["live"]
    assert (live["status"], live["experiment"], live["duration"]) == ("RUNNING", "Default", None)


def test_runs_list_wide_table(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    out = ok("--store", path, "runs", "list", "--experiment", "exp-a", "--wide")
    assert out.splitlines()[0].split() == [
        "run_id", "run_name", "experiment", "status", "start_time", "duration",
        "metrics.r2", "metrics.rmse", "params.model", "params.x",
    ]
    rows = table_rows(out)
    assert rows[0][:4] == [ids["r2"], "r2", "exp-a", "FAILED"]
    assert rows[1] == [
        ids["r1"], "r1", "exp-a", "FINISHED", "2023-11-14 22:13:20", "2m 05s", "0.75", "2.5",
        "lasso", "y",
    ]


def test_runs_list_table_fits_the_terminal(store: tuple[str, dict[str, str]]) -> None:
    """#13: short ids, the primary metric and the params that vary; the rest on request."""
    path, ids = store
    out = ok("--store", path, "runs", "list", "--experiment", "exp-a")
    assert out.splitlines()[0].split() == [
        "run_id", "run_name", "status", "start_time", "rmse", "x", "model",
    ]  # params that more runs have first
    rows = table_rows(out)
    assert rows == [
        [ids["r2"][:8], "r2", "FAILED", "2023-11-14 22:13:21", "7", "z"],  # no model param
        [ids["r1"][:8], "r1", "FINISHED", "2023-11-14 22:13:20", "2.5", "y", "lasso"],
    ]
    # Several experiments: their names show; a param with one value everywhere does not.
    both = ok("--store", path, "runs", "list")
    assert both.splitlines()[0].split()[:5] == [
        "run_id", "run_name", "experiment", "status", "start_time"]
    assert ok("--store", path, "runs", "list", "--experiment", "exp-a", "--filter",
              "params.x = 'y'").splitlines()[0].split() == [
        "run_id", "run_name", "status", "start_time", "rmse"]


def test_runs_list_table_drops_params_to_fit(tmp_path: Path) -> None:
    client = tracker.TrackerClient(str(tmp_path / "s"))
    exp = client.create_experiment("wide")
    for i in range(2):
        run_id = client.create_run(exp, run_name=f"run-{i}-" + "n" * 40).info.run_id
        for p in range(12):
            client.log_param(run_id, f"param_{p:02d}", f"value-{i}-{p}")
        client.log_metric(run_id, "val_loss", 1.0 / (i + 1))
        client.log_metric(run_id, "other", 1.0)
        client.set_terminated(run_id)
    client.flush()
    shown = {}
    for width in (60, 100, 300):
        result = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "runs", "list"],
                                    env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        header = lines[0].split()
        assert header[:5] == ["run_id", "run_name", "status", "start_time", "val_loss"]
        assert "other" not in header  # not the primary metric
        assert "run-0-nnnnnnnnnnnnnnnnn…" in result.stdout  # long text is cut
        hidden = 5 + 12 - len(header)
        if hidden:
            assert max(map(len, lines)) <= width or len(header) == 5  # those always show
            assert f"{hidden} more param columns hidden to fit {width} characters" in (
                result.stderr)
        else:
            assert result.stderr == ""
        shown[width] = len(header)
    assert shown[60] == 5 < shown[100] < shown[300] == 17
    wide = ok("--store", str(tmp_path / "s"), "runs", "list", "--wide")
    assert len(wide.splitlines()[0].split()) == 6 + 2 + 12


def test_runs_list_primary_metric_from_the_config(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    client = tracker.TrackerClient(str(tmp_path / "s"))
    exp = client.create_experiment("cfg")
    run_id = client.create_run(exp, run_name="a").info.run_id
    client.log_metric(run_id, "rmse", 2.0)
    client.log_metric(run_id, "custom", 5.0)
    client.set_terminated(run_id)
    client.flush()
    (tmp_path / "tracker.toml").write_text('[experiments."cfg"]\nprimary = "custom"\n')
    monkeypatch.chdir(tmp_path)
    out = ok("--store", str(tmp_path / "s"), "runs", "list")
    assert out.splitlines()[0].split() == ["run_id", "run_name", "status", "start_time",
                                           "custom"]


def test_runs_list_csv_filter_order_columns(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    rows = as_csv(
        "--store", path, "runs", "list", "--filter", "metrics.rmse < 5 and params.x = 'y'",
        "--columns", "metrics.rmse,tags.team", "--columns", "params.x",
    )
    assert list(rows[0]) == [
        "run_id", "run_name", "experiment", "status", "start_time", "duration",
        "metrics.rmse", "tags.team", "params.x",
    ]
    assert [(r["run_id"], r["metrics.rmse"], r["tags.team"], r["params.x"]) for r in rows] == [
        (ids["r1"], "2.5", "a", "y")
    ]
    assert rows[0]["duration"] == "125.0"

    ordered = as_json(
        "--store", path, "runs", "list", "--order-by", "metrics.rmse DESC", "--max-results", "2"
    )
    assert [r["run_name"] for r in ordered] == ["r2", "r1"]
    ascending = as_json("--store", path, "runs", "list", "--order-by", "metrics.rmse ASC")
    assert [r["run_name"] for r in ascending] == ["live", "r1", "r2"]


def test_runs_list_experiment_by_id_and_name(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    by_id = as_json("--store", path, "runs", "list", "--experiment", ids["exp"])
    assert sorted(r["run_name"] for r in by_id) == ["r1", "r2"]
    both = as_json("--store", path, "runs", "list", "--experiment", "exp-a", "--experiment", "0")
    assert sorted(r["run_name"] for r in both) == ["live", "r1", "r2"]


def test_runs_list_deleted_and_all(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    deleted = as_json("--store", path, "runs", "list", "--deleted")
    assert [(r["run_id"], r["run_name"]) for r in deleted] == [(ids["r3"], "gone")]
    every = as_json("--store", path, "runs", "list", "--all")
    assert len(every) == 4


def test_runs_list_empty(store: tuple[str, dict[str, str]]) -> None:
    path, _ = store
    result = run("--store", path, "runs", "list", "--filter", "metrics.rmse > 100")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no runs" in result.stderr
    assert as_json("--store", path, "runs", "list", "--filter", "metrics.rmse > 100") == []
    assert ok("--store", path, "runs", "list", "--filter", "params.x = 'q'", "--csv").startswith(
        "run_id,run_name,experiment,status,start_time,duration"
    )


def test_runs_list_unknown_column_is_empty_with_notice(store: tuple[str, dict[str, str]]) -> None:
    path, _ = store
    result = run("--store", path, "runs", "list", "--columns", "metrics.nope", "--json")
    assert result.exit_code == 0
    assert {r["metrics.nope"] for r in json.loads(result.stdout)} == {None}
    assert "metrics.nope" in result.stderr


def test_runs_list_shows_dead_runs(tmp_path: Path) -> None:
    """A RUNNING run whose process died without ending it is listed as DEAD."""
    path = tmp_path / "store"
    script = textwrap.dedent(
        f"""
        import os, tracker
        client = tracker.TrackerClient({str(path)!r})
        run = client.create_run("0", run_name="crashed")
        client.log_metric(run.info.run_id, "loss", 1.0)
        client.flush()
        os._exit(0)  # a crash: no atexit handlers, the run is never ended
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    data = as_json("--store", str(path), "runs", "list")
    assert [(r["run_name"], r["status"]) for r in data] == [("crashed", "DEAD")]
    shown = as_json("--store", str(path), "runs", "show", data[0]["run_id"])
    assert shown["info"]["status"] == "DEAD"


# -- runs show -------------------------------------------------------------------------------


def test_runs_show_json(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    data = as_json("--store", path, "runs", "show", ids["r1"])
    assert list(data) == ["info", "params", "metrics", "tags", "inputs", "artifacts"]
    info = data["info"]
    assert info["run_id"] == ids["r1"]
    assert info["run_name"] == "r1"
    assert (info["experiment_id"], info["experiment"]) == (ids["exp"], "exp-a")
    assert info["status"] == "FINISHED"
    assert info["start_time"] == "2023-11-14T22:13:20.000+00:00"
    assert info["end_time"] == "2023-11-14T22:15:25.000+00:00"
    assert info["duration"] == 125.0
    assert info["lifecycle_stage"] == "active"
    assert data["params"] == {"model": "lasso", "x": "y"}
    assert data["metrics"] == {"r2": 0.75, "rmse": 2.5}
    assert data["tags"]["team"] == "a"
    assert data["tags"]["mlflow.runName"] == "r1"
    [dataset] = data["inputs"]
    assert (dataset["name"], dataset["context"]) == ("train", "training")
    assert dataset["profile"]["num_rows"] == 3
    assert data["artifacts"] == [{"path": "notes/a.txt", "file_size": 5}]


def test_runs_show_table(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    out = ok("--store", path, "runs", "show", ids["r1"])
    lines = out.splitlines()
    assert lines[0] == f"Run {ids['r1']}"
    assert "  experiment       exp-a" in lines
    assert "  duration         2m 05s" in lines
    assert "Params (2)" in lines
    assert "  model  lasso" in lines
    assert "Metrics (2)" in lines
    assert "  rmse  2.5" in lines
    assert "Inputs (1)" in lines
    assert "Artifacts (1)" in lines
    assert any(line.split() == ["notes/a.txt", "5"] for line in lines)


def test_runs_show_csv(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    rows = as_csv("--store", path, "runs", "show", ids["r1"])
    triples = {(r["section"], r["key"]): r["value"] for r in rows}
    assert triples[("info", "status")] == "FINISHED"
    assert triples[("param", "x")] == "y"
    assert triples[("metric", "rmse")] == "2.5"
    assert triples[("tag", "team")] == "a"
    assert triples[("artifact", "notes/a.txt")] == "5"
    assert json.loads(triples[("input", "train")])["context"] == "training"


def test_runs_show_running_run(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    info = as_json("--store", path, "runs", "show", ids["r4"])["info"]
    assert (info["status"], info["end_time"], info["duration"]) == ("RUNNING", None, None)


# -- runs delete / restore -------------------------------------------------------------------


def test_runs_delete_and_restore(tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    ids = make_store(tmp_path / "store")
    result = run("--store", path, "runs", "delete", ids["r1"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"runs restore {ids['r1']}" in result.stderr
    assert ids["r1"] not in {r["run_id"] for r in as_json("--store", path, "runs", "list")}
    deleted = as_json("--store", path, "runs", "list", "--deleted")
    assert {r["run_id"] for r in deleted} == {ids["r1"], ids["r3"]}
    assert as_json("--store", path, "runs", "show", ids["r1"])["info"]["lifecycle_stage"] == (
        "deleted"
    )

    result = run("runs", "restore", ids["r1"], "--store", path)
    assert result.exit_code == 0, result.output
    assert f"restored run {ids['r1']}" in result.stderr
    listed = {r["run_id"] for r in as_json("--store", path, "runs", "list")}
    assert ids["r1"] in listed
    assert ids["r3"] not in listed


# -- sql -------------------------------------------------------------------------------------


def test_sql_formats(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    query = f"SELECT key, value, step FROM metrics WHERE run_id = '{ids['r1']}' ORDER BY step, key"
    data = as_json("--store", path, "sql", query)
    assert data == [
        {"key": "r2", "value": 0.75, "step": 0},
        {"key": "rmse", "value": 3.5, "step": 0},
        {"key": "rmse", "value": 2.5, "step": 1},
    ]
    rows = as_csv("--store", path, "sql", query)
    assert [(r["key"], r["value"], r["step"]) for r in rows] == [
        ("r2", "0.75", "0"), ("rmse", "3.5", "0"), ("rmse", "2.5", "1")
    ]
    out = ok("--store", path, "sql", query)
    assert out.splitlines()[0].split() == ["key", "value", "step"]
    assert table_rows(out) == [["r2", "0.75", "0"], ["rmse", "3.5", "0"], ["rmse", "2.5", "1"]]


def test_sql_values_are_plain_json(store: tuple[str, dict[str, str]]) -> None:
    path, _ = store
    query = (
        "SELECT NULL AS n, 'nan'::DOUBLE AS nan, [1, 2] AS l, {'a': 1} AS s, "
        "1.25::DECIMAL(5, 2) AS d, TIMESTAMP '2024-01-02 03:04:05' AS t, true AS b"
    )
    [row] = as_json("--store", path, "sql", query)
    assert row == {
        "n": None, "nan": None, "l": [1, 2], "s": {"a": 1}, "d": 1.25,
        "t": "2024-01-02T03:04:05.000", "b": True,
    }
    out = ok("--store", path, "sql", query)
    assert "2024-01-02 03:04:05" in out
    assert "[1, 2]" in out


def test_sql_from_stdin(store: tuple[str, dict[str, str]]) -> None:
    path, _ = store
    result = run("--store", path, "sql", "-", "--json", input="SELECT count(*) AS n FROM runs")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"n": 4}]


# -- compact ---------------------------------------------------------------------------------


def test_compact(tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    ids = make_store(tmp_path / "store")
    before = as_json("--store", path, "runs", "list", "--all")

    result = run("--store", path, "compact", "--min-runs", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Nothing compacted")

    result = run("--store", path, "compact")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Compacted 3 runs: read "), result.stdout
    assert "wrote 1, deleted " in result.stdout
    assert not list((tmp_path / "store" / "runs").glob(f"*/run_id={ids['r1']}/*.parquet"))

    assert as_json("--store", path, "runs", "list", "--all") == before
    again = run("--store", path, "compact")
    assert again.stdout.startswith("Nothing compacted"), again.stdout


def test_compact_leaves_an_unreadable_run_alone(tmp_path: Path) -> None:
    path = tmp_path / "store"
    ids = make_store(path)
    [final] = (path / "runs").glob(f"*/run_id={ids['r1']}/final-*.parquet")
    final.write_bytes(b"not parquet")
    result = run("--store", str(path), "compact")
    assert result.exit_code == 0, result.output
    # r2 and r3 are merged; the unreadable file of r1 is left where it is.
    assert result.stdout.startswith("Compacted 2 runs: "), result.stdout
    assert final.read_bytes() == b"not parquet"
    listed = {r["run_id"] for r in as_json("--store", str(path), "runs", "list")}
    assert {ids["r2"], ids["r4"]} <= listed


# -- the store option ------------------------------------------------------------------------


class _FakeClient:
    """Stands in for TrackerClient to see which URI and arguments the CLI passes."""

    calls: list[tuple[str, Any]] = []

    def __init__(self, uri: str) -> None:
        self.calls.append(("uri", uri))
        self.store = SimpleNamespace(uri=uri, fs=SimpleNamespace(exists=lambda p: True, root=uri))

    def search_experiments(self, view_type: int) -> list[Any]:
        self.calls.append(("view", view_type))
        return []

    def search_runs_frame(self, *args: Any) -> Any:
        import pandas as pd

        self.calls.append(("search", args))
        return pd.DataFrame(columns=["run_id", "experiment_id", "status", "start_time"])


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    monkeypatch.setattr("tracker.commands._base.TrackerClient", _FakeClient)
    _FakeClient.calls = []
    return _FakeClient.calls


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "./tracking"),
        (["--store", "a"], {}, "a"),
        (["--tracking-uri", "b"], {}, "b"),
        (["--backend-store-uri", "c"], {}, "c"),
        ([], {"TRACKER_TRACKING_URI": "d"}, "d"),
        ([], {"MLFLOW_TRACKING_URI": "e"}, "e"),
        (["--store", "a"], {"TRACKER_TRACKING_URI": "d"}, "a"),
    ],
)
def test_store_option(
    fake_client: list[tuple[str, Any]], args: list[str], env: dict[str, str], expected: str
) -> None:
    result = CliRunner().invoke(cli, [*args, "experiments", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert fake_client[0] == ("uri", expected)


def test_store_option_after_the_command_wins(fake_client: list[tuple[str, Any]]) -> None:
    result = run("--store", "outer", "experiments", "list", "--tracking-uri", "inner")
    assert result.exit_code == 0, result.output
    assert fake_client[0] == ("uri", "inner")


@pytest.mark.parametrize(
    ("flags", "view"), [([], 1), (["--deleted"], 2), (["--all"], 3)]
)
def test_view_flags(fake_client: list[tuple[str, Any]], flags: list[str], view: int) -> None:
    assert run("experiments", "list", *flags).exit_code == 0
    assert ("view", view) in fake_client
    assert run("runs", "list", *flags).exit_code == 0
    [search] = [args for name, args in fake_client if name == "search"]
    assert search[2] == view


def test_runs_list_passes_options(fake_client: list[tuple[str, Any]]) -> None:
    result = run(
        "runs", "list", "--filter", "params.x = 'y'", "--order-by", "metrics.a DESC",
        "--order-by", "params.b", "--max-results", "7",
    )
    assert result.exit_code == 0, result.output
    [search] = [args for name, args in fake_client if name == "search"]
    assert search == (None, "params.x = 'y'", 1, 7, ["metrics.a DESC", "params.b"])


def test_sqlite_uri_maps_to_a_folder(tmp_path: Path) -> None:
    make_store(tmp_path / "mlflow.db.tracker")
    result = run("--store", f"sqlite:///{tmp_path}/mlflow.db", "runs", "list", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3
    assert "mlflow.db.tracker" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "list"], ["runs", "show", "0123456789ab"], ["sql", "SELECT 1"],
        ["experiments", "list"], ["models", "list"], ["models", "show", "m"], ["summary"],
        ["doctor"], ["runs", "delete", "0123456789ab"],
    ],
)
def test_missing_store_is_an_error(tmp_path: Path, args: list[str]) -> None:
    """A --store typo fails the command (exit 1), as build does, instead of an empty list (#13)."""
    missing = tmp_path / "trackng"
    _error(CliRunner().invoke(cli, ["--store", str(missing), *args]), str(missing), "--store")
    assert not missing.exists()


# -- errors ----------------------------------------------------------------------------------


def _error(result: Result, *needles: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("Error: ") or "\nError: " in message, message
    last = message.splitlines()[-1]
    for needle in needles:
        assert needle in last, last
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["runs", "show", "0123456789abcdef0123456789abcdef"], ["0123456789abcdef01234567"]),
        (["runs", "show", "not/an id"], ["not/an id"]),
        (["runs", "delete", "0123456789abcdef0123456789abcdef"], ["0123456789abcdef"]),
        (["runs", "restore", "0123456789abcdef0123456789abcdef"], ["0123456789abcdef"]),
        (["runs", "list", "--filter", "metrics.rmse <"], ["metrics.rmse <"]),
        (["runs", "list", "--filter", "rmse < 5 and"], ["rmse < 5 and"]),
        (["runs", "list", "--order-by", "metrics.rmse SIDEWAYS"], ["SIDEWAYS"]),
        (["runs", "list", "--experiment", "no-such"], ["no-such", "exp-a"]),
        (["runs", "list", "--columns", "rmse"], ["rmse", "metrics.rmse"]),
        (["sql", "SELEC 1"], ["SELEC", "Tables:"]),
        (["sql", "SELECT * FROM no_such_table"], ["no_such_table"]),
    ],
)
def test_errors(store: tuple[str, dict[str, str]], args: list[str], needles: list[str]) -> None:
    path, _ = store
    _error(CliRunner().invoke(cli, ["--store", path, *args]), *needles)


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("http://localhost:5000", "http://localhost:5000"),
        ("https://mlflow.example.com", "https://mlflow.example.com"),
        ("postgresql://db/mlflow", "postgresql://db/mlflow"),
        ("ftp://x/y", "ftp"),
    ],
)
def test_bad_store_uri(uri: str, needle: str) -> None:
    for command in (["runs", "list"], ["experiments", "list"], ["compact"], ["sql", "SELECT 1"]):
        _error(CliRunner().invoke(cli, ["--store", uri, *command]), needle)


def test_compact_refuses_a_missing_store(tmp_path: Path) -> None:
    _error(run("--store", str(tmp_path / "nothing"), "compact"), str(tmp_path / "nothing"))
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "list", "--max-results", "-1"],
        ["runs", "list", "--format", "xml"],
        ["runs", "list", "--json", "--csv"],
        ["runs", "list", "--format", "csv", "--json"],
        ["experiments", "list", "--all", "--deleted"],
        ["compact", "--min-runs", "0"],
        ["runs", "show"],
    ],
)
def test_usage_errors(store: tuple[str, dict[str, str]], args: list[str]) -> None:
    path, _ = store
    result = CliRunner().invoke(cli, ["--store", path, *args])
    assert result.exit_code == 2, result.output
    assert "Error:" in result.stderr
    assert "Traceback" not in result.output


def test_format_shortcuts_agree(store: tuple[str, dict[str, str]]) -> None:
    path, _ = store
    for fmt in ("table", "json", "csv"):
        assert ok("--store", path, "runs", "list", f"--{fmt}") == ok(
            "--store", path, "runs", "list", "--format", fmt
        )
    assert ok("--store", path, "runs", "list", "--json", "--format", "json")


# -- help and docs ---------------------------------------------------------------------------


def _walk(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, (*path, name))


COMMANDS = dict(_walk(cli, ("tracker",)))


def test_the_expected_commands_exist() -> None:
    assert set(COMMANDS) == {
        "tracker", "tracker experiments", "tracker experiments list", "tracker runs",
        "tracker runs list", "tracker runs show", "tracker runs delete", "tracker runs restore",
        "tracker sql", "tracker compact", "tracker build", "tracker serve", "tracker ui",
        "tracker models", "tracker models list",
        "tracker models show", "tracker models promote", "tracker models alias",
        "tracker summary",
        "tracker gc", "tracker doctor",
        "tracker import-mlflow",
        "tracker report", "tracker report new",
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_ends_with_an_example(name: str) -> None:
    command = COMMANDS[name]
    assert command.help, name
    last = command.help.strip().splitlines()[-1].strip()
    assert last.startswith(name), f"{name}: help should end with an example, ends with {last!r}"
    result = run(*name.split()[1:], "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert last in result.stdout


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"tracker ui"}))
def test_dash_h_is_help(name: str) -> None:
    """``-h`` is ``--help`` on every command (#13), ``serve`` included."""
    result = run(*name.split()[1:], "-h")
    assert result.exit_code == 0, result.output
    assert result.stdout == run(*name.split()[1:], "--help").stdout


def test_ui_dash_h_is_host_as_in_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("tracker.commands.site._serve", lambda obj, **kw: seen.update(kw))
    assert run("ui", "-h", "0.0.0.0", "-p", "5000").exit_code == 0
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 5000)
    assert "--host" in run("ui", "--help").stdout
    assert run("serve", "--host", "0.0.0.0", "-h").exit_code == 0  # -h: help, not a host


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_option_is_documented(name: str) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert f"`{name}" in docs or f"\n{name}" in docs, f"{name} is not in docs/cli.md"
    for param in COMMANDS[name].params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in docs, f"{name} {opt} is not in docs/cli.md"


def test_help_does_not_import_pandas_or_duckdb() -> None:
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from tracker.cli import cli\n"
        "for args in ([], ['runs', 'list'], ['sql'], ['compact']):\n"
        "    assert CliRunner().invoke(cli, [*args, '--help']).exit_code == 0\n"
        "print(sorted(m for m in ('pandas', 'duckdb', 'pyarrow') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


# -- end to end ------------------------------------------------------------------------------


def _python_m_tracker(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tracker ARGS`` in a fresh interpreter, with no tracking URI in the env."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TRACKING_URI")}
    command = [sys.executable, "-m", "tracker", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def test_python_dash_m_tracker_end_to_end(store: tuple[str, dict[str, str]]) -> None:
    path, ids = store
    out = _python_m_tracker("runs", "list", "--store", path, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    data = json.loads(out.stdout)
    assert {r["run_id"]: r["status"] for r in data} == {
        ids["r1"]: "FINISHED", ids["r2"]: "FAILED", ids["r4"]: "RUNNING",
    }
    assert next(r for r in data if r["run_id"] == ids["r1"])["metrics.rmse"] == 2.5


def test_python_dash_m_tracker_error_exit_code() -> None:
    out = _python_m_tracker("--store", "http://localhost:5000", "runs", "list")
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.startswith("Error: Tracking URI 'http://localhost:5000'")
    assert len(out.stderr.strip().splitlines()) == 1


# -- model registry commands -------------------------------------------------------------------


@pytest.fixture
def registry_store(tmp_path: Path) -> str:
    uri = str(tmp_path / "reg")
    client = TrackerClient(uri)
    run = client.create_run(client.create_experiment("e"))
    client.log_text(run.info.run_id, "weights", "model/model.bin")
    client.set_terminated(run.info.run_id)
    for _ in range(2):
        client.create_model_version("taxi", f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id)
    return uri


def test_models_list_show_promote_alias(registry_store: str) -> None:
    runner = CliRunner()
    base = ["--store", registry_store, "models"]
    out = runner.invoke(cli, [*base, "promote", "taxi", "1", "--stage", "production",
                              "--reason", "best rmse"])
    assert out.exit_code == 0, out.output
    assert "taxi version 1 is now in Production" in out.output
    out = runner.invoke(cli, [*base, "promote", "taxi", "2", "--stage", "Production",
                              "--archive-existing"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, [*base, "alias", "taxi", "2", "champion"])
    assert out.exit_code == 0 and "taxi@champion -> version 2" in out.output
    listed = json.loads(runner.invoke(cli, [*base, "list", "--format", "json"]).output)
    assert listed[0]["name"] == "taxi" and listed[0]["versions"] == 2
    assert listed[0]["production"] == 2 and listed[0]["aliases"] == "champion=v2"
    shown = json.loads(runner.invoke(cli, [*base, "show", "taxi", "--format", "json"]).output)
    assert [(v["version"], v["stage"]) for v in shown] == [(1, "Archived"), (2, "Production")]
    history = json.loads(
        runner.invoke(cli, [*base, "show", "taxi", "--history", "--format", "json"]).output
    )
    promoted = [e for e in history if e["event"] == "version_stage" and e["version"] == 1]
    assert promoted[0]["reason"] == "best rmse"
    out = runner.invoke(cli, [*base, "alias", "taxi", "0", "champion", "--delete"])
    assert out.exit_code == 0


def test_models_show_history_one_line_per_event(registry_store: str) -> None:
    base = ["--store", registry_store, "models"]
    assert run(*base, "promote", "taxi", "1", "--stage", "Production", "--reason", "best rmse"
               ).exit_code == 0
    assert run(*base, "promote", "taxi", "2", "--stage", "Production", "--archive-existing"
               ).exit_code == 0
    assert run(*base, "alias", "taxi", "2", "champion").exit_code == 0
    lines = ok(*base, "show", "taxi", "--history").splitlines()
    events = as_json(*base, "show", "taxi", "--history")
    assert len(lines) == len(events) == 7
    assert all(len(line) < 120 and "{" not in line for line in lines), lines
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  \S+ +created model taxi$", lines[0])
    assert "registered v1 from run " in lines[1]
    assert lines[3].endswith("moved v1 to Production  (best rmse)")
    assert any(line.endswith("set alias champion → v2") for line in lines)
    assert [e["text"] for e in events] == [line.split("  ", 2)[2].split("  (")[0].strip()
                                           for line in lines]


def test_models_errors_are_one_line(registry_store: str) -> None:
    runner = CliRunner()
    base = ["--store", registry_store, "models"]
    out = runner.invoke(cli, [*base, "show", "nope"])
    assert out.exit_code == 1 and "registered models: 'taxi'" in out.output
    out = runner.invoke(cli, [*base, "promote", "taxi", "9", "--stage", "Production"])
    assert out.exit_code == 1 and "versions: 1, 2" in out.output
    out = runner.invoke(cli, [*base, "promote", "taxi", "1", "--stage", "Prod"])
    assert out.exit_code == 1 and "Invalid stage 'Prod'" in out.output
    assert "Traceback" not in out.output


# -- run ids by prefix (#13) -----------------------------------------------------------------


@pytest.fixture
def prefixed_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    """Three runs: two whose ids share the prefix abcdef0, one starting 123456."""
    wanted = ["abcdef01" + "0" * 24, "abcdef02" + "1" * 24, "123456" + "2" * 26]
    fresh = iter(wanted)
    monkeypatch.setattr(
        "tracker.client.uuid", SimpleNamespace(uuid4=lambda: SimpleNamespace(hex=next(fresh)))
    )
    path = str(tmp_path / "store")
    client = tracker.TrackerClient(path)
    exp = client.create_experiment("pre")
    for name in ("one", "two", "three"):
        run_id = client.create_run(exp, run_name=name).info.run_id
        client.log_text(run_id, "weights", "model/weights.txt")
        client.set_terminated(run_id)
    client.flush()
    return path, wanted


def test_run_id_prefix_in_every_run_command(prefixed_store: tuple[str, list[str]]) -> None:
    path, ids = prefixed_store
    assert as_json("--store", path, "runs", "show", "abcdef01")["info"]["run_id"] == ids[0]
    assert as_json("--store", path, "runs", "show", ids[1])["info"]["run_id"] == ids[1]
    result = run("--store", path, "runs", "delete", "123456")
    assert result.exit_code == 0, result.output
    assert f"deleted run {ids[2]}" in result.stderr
    result = run("--store", path, "runs", "restore", "1234562")
    assert result.exit_code == 0, result.output
    assert f"restored run {ids[2]}" in result.stderr


@pytest.mark.parametrize("command", ["show", "delete", "restore"])
def test_run_id_prefix_errors(prefixed_store: tuple[str, list[str]], command: str) -> None:
    path, ids = prefixed_store
    ambiguous = CliRunner().invoke(cli, ["--store", path, "runs", command, "abcdef0"])
    _error(ambiguous, "'abcdef0' is ambiguous", ids[0], "(one in pre)", ids[1], "(two in pre)",
           "more characters")
    _error(CliRunner().invoke(cli, ["--store", path, "runs", command, "abcde"]),
           "'abcde'", "at least 6 characters")
    _error(CliRunner().invoke(cli, ["--store", path, "runs", command, "ffffff"]),
           "'ffffff'", "tracker runs list")


def test_run_id_prefix_in_runs_uris(
    prefixed_store: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.exceptions import InvalidArgumentError
    from tracker.model_uri import resolve

    path, ids = prefixed_store
    client = tracker.TrackerClient(path)
    found = resolve(client, "runs:/123456/model")
    assert found.run_id == ids[2]
    assert Path(found.local_path, "weights.txt").read_text() == "weights"
    with pytest.raises(InvalidArgumentError, match="ambiguous"):
        resolve(client, "runs:/abcdef/model")
    tracker.set_tracking_uri(path)
    version = tracker.register_model("runs:/abcdef02/model", "m")
    assert version.source == f"runs:/{ids[1]}/model"
    assert version.run_id == ids[1]


def test_runs_list_table_shortens_long_decimal_params() -> None:
    from tracker.commands.runs import _short

    assert _short("0.13731149395940828") == "0.137311"
    assert [_short(v) for v in ("0.5", "123456789012", "lasso-model", None, "nan-ish-x")] == [
        "0.5", "123456789012", "lasso-model", None, "nan-ish-x"]
