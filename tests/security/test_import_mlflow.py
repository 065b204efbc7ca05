"""``tracker import-mlflow`` of a foreign ``mlruns/`` folder (#15): a run's ``artifact_uri`` and
run id are data of the store being imported, not instructions to copy or write anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.exceptions import InvalidArgumentError
from tracker.importers.mlflow import import_mlflow

EXP_ID = "123456789"


def mlruns(tmp_path: Path, runs: dict[str, str]) -> Path:
    """An MLflow file store whose experiment holds one run per (folder name -> meta run_id)."""
    root = tmp_path / "mlruns"
    exp = root / EXP_ID
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text(
        f"artifact_location: file://{exp}\nexperiment_id: '{EXP_ID}'\n"
        "lifecycle_stage: active\nname: foreign\n"
    )
    for folder, run_id in runs.items():
        run = exp / folder
        (run / "tags").mkdir(parents=True)
        (run / "tags" / "mlflow.runName").write_text(folder)
        (run / "meta.yaml").write_text(
            f"artifact_uri: file://{run}/artifacts\nexperiment_id: '{EXP_ID}'\n"
            f"lifecycle_stage: active\nrun_id: {run_id}\nrun_uuid: {run_id}\nstart_time: 1\n"
            "end_time: 2\nstatus: 3\nuser_id: someone\n"
        )
    return root


def set_artifact_uri(root: Path, folder: str, uri: str) -> None:
    meta = root / EXP_ID / folder / "meta.yaml"
    lines = [f"artifact_uri: {uri}" if line.startswith("artifact_uri:") else line
             for line in meta.read_text().splitlines()]
    meta.write_text("\n".join(lines) + "\n")


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    """A stand-in for ~/.ssh: a folder outside the MLflow store."""
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    return ssh


def stored_files(store: Path) -> list[str]:
    return sorted(p.name for p in store.rglob("*") if p.is_file())


def test_artifacts_outside_the_mlruns_tree_are_not_copied(
    tmp_path: Path, secrets_dir: Path
) -> None:
    rid, own = "a" * 32, "b" * 32
    root = mlruns(tmp_path, {rid: rid, own: own})
    set_artifact_uri(root, rid, secrets_dir.as_uri())
    (root / EXP_ID / own / "artifacts").mkdir()
    (root / EXP_ID / own / "artifacts" / "model.txt").write_text("fine\n")
    store = tmp_path / "store"

    summary = import_mlflow(str(root), TrackerClient(str(store)))

    assert "id_ed25519" not in stored_files(store)
    assert "model.txt" in stored_files(store)  # the store's own artifacts still come along
    assert summary.artifacts == 1
    warning = (f"Run {rid}: artifacts not copied from {secrets_dir} (its artifact_uri "
               f"{secrets_dir.as_uri()!r}): it is outside the MLflow store being imported")
    assert [w for w in summary.warnings if w.startswith(warning)], summary.warnings
    client = TrackerClient(str(store))
    assert client.get_run(rid).info.run_id == rid  # the run itself is imported
    assert client.list_artifacts(rid) == []


def test_an_explicit_artifact_root_is_copied_from(tmp_path: Path, secrets_dir: Path) -> None:
    """A location the user names (MLflow's --default-artifact-root beside mlruns) is fine."""
    rid = "c" * 32
    root = mlruns(tmp_path, {rid: rid})
    artifacts = tmp_path / "mlartifacts" / rid / "artifacts"
    artifacts.mkdir(parents=True)
    (artifacts / "plot.txt").write_text("ok\n")
    set_artifact_uri(root, rid, artifacts.as_uri())
    store = tmp_path / "store"

    result = CliRunner().invoke(cli, ["--store", str(store), "import-mlflow", str(root),
                                      "--artifact-root", str(tmp_path / "mlartifacts")])
    assert result.exit_code == 0, result.output
    assert [f.path for f in TrackerClient(str(store)).list_artifacts(rid)] == ["plot.txt"]


def test_a_symlink_out_of_the_tree_is_not_followed(tmp_path: Path, secrets_dir: Path) -> None:
    rid = "d" * 32
    root = mlruns(tmp_path, {rid: rid})
    artifacts = root / EXP_ID / rid / "artifacts"
    artifacts.mkdir()
    (artifacts / "notes.txt").write_text("ok\n")
    (artifacts / "key").symlink_to(secrets_dir / "id_ed25519")
    store = tmp_path / "store"

    summary = import_mlflow(str(root), TrackerClient(str(store)))

    assert [f.path for f in TrackerClient(str(store)).list_artifacts(rid)] == ["notes.txt"]
    assert any(w.startswith(f"Run {rid}: artifact 'key' not copied: it links to ")
               for w in summary.warnings), summary.warnings
    assert "secret" not in "".join(p.read_text(errors="replace")
                                   for p in store.rglob("*") if p.is_file() and p.suffix != ".parquet")


def test_a_run_id_with_dots_writes_nothing_outside_the_store(tmp_path: Path) -> None:
    good = "e" * 32
    root = mlruns(tmp_path, {good: good, "evil": "../../../ESCAPED"})
    store = tmp_path / "work" / "store"

    result = CliRunner().invoke(cli, ["--store", str(store), "import-mlflow", str(root)])

    assert result.exit_code == 0, result.output
    assert not [p for p in tmp_path.rglob("*ESCAPED*")]
    assert "Skipping MLflow run '../../../ESCAPED' of experiment 'foreign': Invalid run id" \
        in result.output
    client = TrackerClient(str(store))
    assert [r.info.run_id for r in client.search_runs(client.get_experiment_by_name(
        "foreign").experiment_id)] == [good]


def test_artifact_roots_are_checked(tmp_path: Path) -> None:
    root = mlruns(tmp_path, {"f" * 32: "f" * 32})
    client = TrackerClient(str(tmp_path / "store"))
    with pytest.raises(InvalidArgumentError, match="is not a folder"):
        import_mlflow(str(root), client, artifact_roots=[str(tmp_path / "nope")])
    with pytest.raises(InvalidArgumentError, match="must be a list of folder paths"):
        import_mlflow(str(root), client, artifact_roots=str(tmp_path))  # type: ignore[arg-type]
