"""``tracker import-mlflow``: stores made by real MLflow (tests/fixtures/mlflow) imported for real.

Expected values are read from the fixtures themselves (sqlite3 for the database, the files of
the mlruns folder), so the assertions hold whenever the fixtures are regenerated. Each test
imports a copy in a temporary folder: that also proves the absolute paths MLflow recorded are
found again after a store moved.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.entities import ViewType
from tracker.exceptions import NotFoundError, StoreError
from tracker.importers.mlflow import ImportSummary, import_mlflow

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mlflow"
KINDS = ("sqlite", "mlruns")


# -- the fixture stores, and what they hold read without tracker's importer ---------------------


def copy_store(kind: str, tmp_path: Path) -> str:
    """A copy of one fixture store; its import URI."""
    shutil.copytree(FIXTURES / kind, tmp_path / "mlflow" / kind)
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'mlflow' / 'sqlite' / 'mlflow.db'}"
    return str(tmp_path / "mlflow" / "mlruns")


class Fixture:
    """Facts about one fixture store, read straight from its database or files."""

    def __init__(self, kind: str, uri: str) -> None:
        self.kind = kind
        self.path = Path(uri.removeprefix("sqlite:///"))

    def _sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as con:
            return con.execute(query, args).fetchall()

    def _run_dirs(self) -> dict[str, Path]:
        return {
            p.parent.name: p.parent
            for p in self.path.glob("**/meta.yaml")
            if (p.parent / "tags" / "mlflow.runName").is_file()
        }

    def run_ids(self) -> dict[str, str]:
        """Run name → run id."""
        if self.kind == "sqlite":
            return dict(self._sql("SELECT name, run_uuid FROM runs"))
        return {
            (d / "tags" / "mlflow.runName").read_text(): rid for rid, d in self._run_dirs().items()
        }

    def count(self, what: str) -> int:
        """How many params or tags all runs have."""
        if self.kind == "sqlite":
            return int(self._sql(f"SELECT count(*) FROM {what}")[0][0])
        return sum(
            len([f for f in (d / what).rglob("*") if f.is_file()])
            for d in self._run_dirs().values()
        )

    def history(self, run_id: str, key: str) -> list[tuple[int, int, float]]:
        """(step, timestamp, value) of a metric, as MLflow stored it."""
        if self.kind == "sqlite":
            rows = self._sql(
                "SELECT step, timestamp, value, is_nan FROM metrics "
                "WHERE run_uuid = ? AND key = ? ORDER BY step",
                run_id,
                key,
            )
            return [(s, t, math.nan if nan else v) for s, t, v, nan in rows]
        lines = (self._run_dirs()[run_id] / "metrics" / key).read_text().split("\n")
        points = [line.split() for line in lines if line]
        return sorted((int(s), int(t), float(v)) for t, v, s in points)

    def version_created(self, model: str, version: int) -> int:
        if self.kind == "sqlite":
            return int(
                self._sql(
                    "SELECT creation_time FROM model_versions WHERE name = ? AND version = ?",
                    model,
                    version,
                )[0][0]
            )
        meta = (self.path / "models" / model / f"version-{version}" / "meta.yaml").read_text()
        return int(
            next(
                line.split(": ")[1]
                for line in meta.splitlines()
                if line.startswith("creation_timestamp")
            )
        )


@pytest.fixture(params=KINDS)
def imported(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[TrackerClient, Fixture]:
    """A fresh tracker store with one fixture store imported into it."""
    uri = copy_store(request.param, tmp_path)
    client = TrackerClient(str(tmp_path / "store"))
    summary = import_mlflow(uri, client)
    assert summary.warnings == []
    return client, Fixture(request.param, uri)


def store_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


# -- what is imported --------------------------------------------------------------------------


def test_experiments_runs_params_and_tags_are_all_there(imported: Any) -> None:
    client, fixture = imported
    experiments = {e.name: e for e in client.search_experiments(ViewType.ALL)}
    assert set(experiments) == {"Default", "taxi-regression", "old-experiment"}
    assert experiments["Default"].experiment_id == "0"
    assert experiments["old-experiment"].lifecycle_stage == "deleted"
    assert experiments["taxi-regression"].tags["team"] == "ml"
    assert experiments["taxi-regression"].tags["mlflow.note.content"] == "NYC taxi trip duration."
    runs = client.search_runs(None, run_view_type=ViewType.ALL)
    assert {r.info.run_id for r in runs} == set(fixture.run_ids().values())
    counts = client.sql(
        "SELECT (SELECT count(*) FROM params) AS p, (SELECT count(*) FROM tags) AS t"
    )
    assert (int(counts.p[0]), int(counts.t[0])) == (fixture.count("params"), fixture.count("tags"))


def test_full_metric_history_with_nan_and_infinity(imported: Any) -> None:
    client, fixture = imported
    baseline = fixture.run_ids()["baseline"]
    expected = fixture.history(baseline, "rmse")
    got = [(m.step, m.timestamp, m.value) for m in client.get_metric_history(baseline, "rmse")]
    assert len(got) == len(expected) == 5
    for (step, ts, value), (want_step, want_ts, want) in zip(got, expected):
        assert (step, ts) == (want_step, want_ts)
        assert (math.isnan(value) and math.isnan(want)) or value == want
    assert any(math.isnan(v) for _, _, v in got)
    # MLflow's database keeps +inf as the largest double; the import gives the infinity back.
    assert [m.value for m in client.get_metric_history(baseline, "max_error")] == [math.inf]


def test_status_times_users_and_parent_child(imported: Any) -> None:
    client, fixture = imported
    ids = fixture.run_ids()
    runs = {r.info.run_name: r for r in client.search_runs(None, run_view_type=ViewType.ALL)}
    assert {n: r.info.status for n, r in runs.items()} == {
        "default-run": "FINISHED",
        "baseline": "FINISHED",
        "sweep": "FINISHED",
        "trial-1": "FINISHED",
        "trial-2": "FAILED",
        "scratch": "KILLED",
        "stale": "FINISHED",
    }
    assert runs["baseline"].info.start_time == 1_700_000_060_000
    assert runs["baseline"].info.end_time == 1_700_000_120_000
    assert runs["baseline"].info.user_id == "alice"
    for trial in ("trial-1", "trial-2"):
        assert runs[trial].data.tags["mlflow.parentRunId"] == ids["sweep"]
    children = client.search_runs(None, f"tags.mlflow.parentRunId = '{ids['sweep']}'")
    assert sorted(r.info.run_name for r in children) == ["trial-1", "trial-2"]


def test_deleted_runs_are_hidden_unless_asked_for(imported: Any) -> None:
    client, _ = imported
    active = {r.info.run_name for r in client.search_runs(None)}
    everything = {r.info.run_name for r in client.search_runs(None, run_view_type=ViewType.ALL)}
    deleted = {
        r.info.run_name for r in client.search_runs(None, run_view_type=ViewType.DELETED_ONLY)
    }
    assert deleted == {"scratch", "stale"}
    assert active == everything - deleted


def test_artifacts_are_copied_into_the_store(imported: Any, tmp_path: Path) -> None:
    client, fixture = imported
    baseline = fixture.run_ids()["baseline"]
    listed = {f.path: f.is_dir for f in client.list_artifacts(baseline)}
    assert listed == {"config": True, "model": True, "notes.txt": False}
    local = client.download_artifacts(baseline, "config/params.json", str(tmp_path / "dl"))
    assert json.loads(Path(local).read_text()) == {
        "alpha": 0.01,
        "features": ["trip_distance", "PU", "DO"],
    }
    artifact_uri = client.get_run(baseline).info.artifact_uri
    assert artifact_uri.startswith((tmp_path / "store").as_uri())
    shutil.rmtree(tmp_path / "mlflow")  # the copies do not depend on the MLflow store
    notes = client.download_artifacts(baseline, "notes.txt", str(tmp_path / "dl2"))
    assert Path(notes).read_text().startswith("Lasso baseline.")


def test_dataset_input_keeps_name_digest_context_and_columns(imported: Any) -> None:
    client, fixture = imported
    rows = client.sql("SELECT * FROM inputs").to_dict("records")
    assert len(rows) == 1
    row = rows[0]
    assert row["run_id"] == fixture.run_ids()["baseline"]
    assert (row["name"], row["context"], row["source"]) == (
        "green-2021-01",
        "training",
        "green_tripdata_2021-01.parquet",
    )
    assert json.loads(row["schema"])["columns"][0] == {"name": "trip_distance", "type": "double"}
    assert json.loads(row["profile"])["num_rows"] == 3


def test_registry_versions_stages_aliases_descriptions_and_tags(imported: Any) -> None:
    client, fixture = imported
    baseline = fixture.run_ids()["baseline"]
    taxi = client.get_registered_model("taxi-model")
    assert taxi.description == "Predicts NYC green-taxi trip duration."
    assert taxi.tags == {"team": "ml"}
    assert taxi.aliases == {"champion": 1}
    v1, v2 = (client.get_model_version("taxi-model", n) for n in (1, 2))
    assert (v1.current_stage, v1.description, v1.tags) == (
        "Production",
        "The Lasso baseline.",
        {"validated": "yes"},
    )
    assert (v2.current_stage, v2.description) == ("Staging", "Candidate retrain.")
    assert v1.run_id == baseline and v1.source == f"runs:/{baseline}/model"
    assert v1.status == "READY"
    assert v1.creation_timestamp == fixture.version_created("taxi-model", 1)
    assert client.get_model_version_by_alias("taxi-model", "champion").version == 1
    churn = [client.get_model_version("churn-model", n).current_stage for n in (1, 2)]
    assert churn == ["Archived", "None"]
    assert client.get_registered_model("churn-model").tags == {"owner": "growth"}
    history = client.get_model_history("taxi-model")
    assert all(e.reason and e.reason.startswith("imported from MLflow") for e in history)


# -- running it again ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_import_adds_nothing(kind: str, tmp_path: Path) -> None:
    uri = copy_store(kind, tmp_path)
    client = TrackerClient(str(tmp_path / "store"))
    first = import_mlflow(uri, client)
    before = store_files(tmp_path / "store")
    second = import_mlflow(uri, client)
    assert first.runs == 7 and first.written() > 0
    assert second.written() == 0
    assert second.runs_unchanged == 7
    assert store_files(tmp_path / "store") == before


def test_two_imports_of_one_store_write_the_same_run_files(tmp_path: Path) -> None:
    """Imports running at once, or on two git branches, publish a run once, never twice."""
    uri = copy_store("sqlite", tmp_path)
    store = tmp_path / "store"
    import_mlflow(uri, TrackerClient(str(store)))
    store.rename(tmp_path / "branch")  # the other branch's checkout of the store
    import_mlflow(uri, TrackerClient(str(store)))
    assert store_files(tmp_path / "branch" / "runs") == store_files(store / "runs")
    shutil.copytree(tmp_path / "branch" / "runs", store / "runs", dirs_exist_ok=True)
    baseline = Fixture("sqlite", uri).run_ids()["baseline"]
    assert len(TrackerClient(str(store)).get_metric_history(baseline, "rmse")) == 5


def test_a_grown_database_imports_only_what_is_new(tmp_path: Path) -> None:
    uri = copy_store("sqlite", tmp_path)
    client = TrackerClient(str(tmp_path / "store"))
    import_mlflow(uri, client)
    fixture = Fixture("sqlite", uri)
    ids = fixture.run_ids()
    with sqlite3.connect(fixture.path) as con:  # what MLflow would write after more training
        con.execute(
            "INSERT INTO metrics VALUES ('rmse', 2.25, 1700000066000, ?, 5, 0)", (ids["baseline"],)
        )
        con.execute("INSERT INTO tags VALUES ('reviewed', 'yes', ?)", (ids["baseline"],))
        con.execute(
            "UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_uuid = ?", (ids["trial-1"],)
        )
        con.execute(
            "INSERT INTO runs SELECT 'feedfacefeedfacefeedfacefeedface', 'late', "
            "source_type, source_name, entry_point_name, user_id, status, start_time, "
            "end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, "
            "deleted_time FROM runs WHERE run_uuid = ?",
            (ids["sweep"],),
        )
        con.execute(
            "UPDATE model_versions SET current_stage = 'Archived' "
            "WHERE name = 'taxi-model' AND version = 2"
        )
    summary = import_mlflow(uri, client)
    assert (summary.runs, summary.runs_updated, summary.runs_unchanged) == (1, 2, 5)
    assert (summary.metrics, summary.tags, summary.registry_events) == (1, 1, 1)
    history = client.get_metric_history(ids["baseline"], "rmse")
    assert [(m.step, m.value) for m in history][-2:] == [(4, 2.5), (5, 2.25)]
    assert client.get_run(ids["baseline"]).data.tags["reviewed"] == "yes"
    assert client.get_run(ids["trial-1"]).info.lifecycle_stage == "deleted"
    assert client.get_run("feedfacefeedfacefeedfacefeedface").info.run_name == "late"
    assert client.get_model_version("taxi-model", 2).current_stage == "Archived"
    assert import_mlflow(uri, client).written() == 0


def test_a_grown_mlruns_folder_imports_only_what_is_new(tmp_path: Path) -> None:
    uri = copy_store("mlruns", tmp_path)
    client = TrackerClient(str(tmp_path / "store"))
    import_mlflow(uri, client)
    fixture = Fixture("mlruns", uri)
    baseline = fixture.run_ids()["baseline"]
    run_dir = fixture._run_dirs()[baseline]
    with open(run_dir / "metrics" / "rmse", "a") as fh:
        fh.write("1700000066000 2.25 5\n")
    (run_dir / "artifacts" / "extra.txt").write_text("later\n")
    summary = import_mlflow(uri, client)
    assert (summary.runs_updated, summary.metrics, summary.artifacts) == (1, 1, 1)
    assert len(client.get_metric_history(baseline, "rmse")) == 6
    assert "extra.txt" in {f.path for f in client.list_artifacts(baseline)}


# -- options and the command ---------------------------------------------------------------------


def test_experiment_option_limits_runs_and_models(tmp_path: Path) -> None:
    uri = copy_store("sqlite", tmp_path)
    client = TrackerClient(str(tmp_path / "store"))
    summary = import_mlflow(uri, client, ["Default"])
    assert (summary.experiments, summary.runs, summary.models) == (1, 1, 0)
    summary = import_mlflow(uri, client, ["taxi-regression"])
    assert (summary.experiments, summary.runs, summary.models, summary.versions) == (1, 5, 2, 4)
    with pytest.raises(NotFoundError, match="no experiment 'nope'.*'taxi-regression'"):
        import_mlflow(uri, client, ["nope"])


def test_cli_dry_run_writes_nothing_and_counts_like_the_import(tmp_path: Path) -> None:
    uri = copy_store("mlruns", tmp_path)
    store = tmp_path / "store"
    dry = run("import-mlflow", uri, "--store", str(store), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert not store.exists() or store_files(store) == []
    real = run("import-mlflow", uri, "--store", str(store), "--json")
    assert real.exit_code == 0, real.output
    dry_counts, real_counts = json.loads(dry.stdout), json.loads(real.stdout)
    assert dry_counts.pop("dry_run") is True and real_counts.pop("dry_run") is False
    assert dry_counts == real_counts
    assert real_counts["runs"] == 7 and real_counts["versions"] == 4


def test_cli_prints_a_summary(tmp_path: Path) -> None:
    uri = copy_store("sqlite", tmp_path)
    result = run("import-mlflow", uri, "--store", str(tmp_path / "store"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Imported from {uri}:")
    assert "runs          7 new, 0 updated, 0 unchanged" in result.stdout
    assert "2 new models, 4 new versions" in result.stdout


def _not_mlflow_db(path: Path) -> str:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE things (x)")
    return f"sqlite:///{path}"


def _unknown_schema_db(path: Path) -> str:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        con.execute("INSERT INTO alembic_version VALUES ('future0001')")
        con.execute("CREATE TABLE experiments (experiment_id, name)")
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: str(p / "missing.db"), NotFoundError, "No MLflow store at .*missing.db"),
        (lambda p: str(p), StoreError, "is not an MLflow store: it has no experiment folders"),
        (
            lambda p: (p / "x.txt").write_text("hi") and str(p / "x.txt"),
            StoreError,
            "neither a folder .* nor a SQLite database",
        ),
        (lambda p: _not_mlflow_db(p / "other.db"), StoreError, "not an MLflow one"),
        (
            lambda p: _unknown_schema_db(p / "new.db"),
            StoreError,
            "revision 'future0001' is not one this importer reads .*'experiments' lacks "
            "artifact_location, lifecycle_stage",
        ),
    ],
    ids=["missing", "empty-folder", "text-file", "other-database", "unknown-schema"],
)
def test_what_is_not_an_mlflow_store_is_a_clear_error(
    tmp_path: Path, make: Any, error: type[Exception], message: str
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    uri = make(source)
    with pytest.raises(error, match=message):
        import_mlflow(uri, TrackerClient(str(tmp_path / "store")))
    result = run("import-mlflow", uri, "--store", str(tmp_path / "store"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert not (tmp_path / "store").exists()


def test_summary_counts_name_every_number() -> None:
    summary = ImportSummary("x", dry_run=False, runs=2, runs_unchanged=3, artifact_bytes=10)
    assert summary.written() == 2
    assert summary.counts()["runs_unchanged"] == 3


def test_the_imported_store_builds_strictly(tmp_path: Path) -> None:
    uri = copy_store("sqlite", tmp_path)
    store = str(tmp_path / "store")
    assert run("import-mlflow", uri, "--store", store).exit_code == 0
    cwd = os.getcwd()
    os.chdir(tmp_path)  # no reports/ or site_templates/ from the checkout
    try:
        result = run("build", "--store", store, "--out", str(tmp_path / "site"), "--strict")
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    baseline = Fixture("sqlite", uri).run_ids()["baseline"]
    run_pages = [p for p in store_files(tmp_path / "site") if baseline in p and p.endswith(".html")]
    assert run_pages
    page = (tmp_path / "site" / run_pages[0]).read_text()
    assert "notes.txt" in page and "green-2021-01" in page
