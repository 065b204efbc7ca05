"""Readers of a hostile or damaged store (#15): a bad file or record is reported by path (or
run id) and skipped; it never stops a whole query, listing or build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tracker
from tracker.cli import cli
from tracker.client import TrackerClient
from tracker.site.build import build
from tracker.store.store import encode_rows, run_dir

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000_000


@pytest.fixture(autouse=True)
def _outside_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the CLI from an empty folder, as in a project without reports: the checkout's own
    reports/ folder is written for the demo's store and would add its warnings under --strict."""
    monkeypatch.chdir(tmp_path)


def seed(store: Path, names: tuple[str, ...] = ("good-1", "good-2")) -> dict[str, str]:
    """A store with one experiment and a finished run per name: name -> run id."""
    tracker.set_tracking_uri(str(store))
    tracker.set_experiment("exp")
    out = {}
    for i, name in enumerate(names):
        with tracker.start_run(run_name=name) as run:
            tracker.log_param("i", i)
            tracker.log_metric("rmse", 1.0 + i)
        out[name] = run.info.run_id
    return out


def experiment_id(store: Path) -> str:
    return TrackerClient(str(store)).get_experiment_by_name("exp").experiment_id


def run_rows(name: str, rmse: float = 9.0) -> list[tuple[Any, ...]]:
    """Records of one finished run (schema.ROW_FIELDS order)."""
    return [
        ("run", "run_name", name, None, None, T0, 1),
        ("run", "start_time", str(T0), None, None, T0, 1),
        ("run", "status", "FINISHED", None, None, T0, 1),
        ("run", "end_time", str(T0 + 1), None, None, T0, 1),
        ("metric", "rmse", None, rmse, 0, T0, 1),
    ]


def tracker_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real ``tracker`` command in a new process (its warnings go to stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def plant(store: Path, folder: str, name: str, data: bytes) -> Path:
    """A file crafted by someone else, committed into the store's folder ``folder``."""
    path = store / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- a record whose run id is a path --------------------------------------------------------------


def test_a_run_id_with_dots_is_skipped_by_the_build_with_a_warning(tmp_path: Path) -> None:
    store = tmp_path / "store"
    good = seed(store)
    eid = experiment_id(store)
    evil = "../../ESCAPED"
    plant(store, run_dir(eid, "0123abcd"), "seg-0123abcd.parquet",
          encode_rows(eid, evil, "0123abcd", run_rows("evil")))

    result = build(str(store), tmp_path / "site")

    warning = f"Skipping run {evil!r} of experiment {eid}"
    assert [w for w in result.warnings if warning in w and "Invalid run id" in w]
    pages = sorted(p.name for p in (tmp_path / "site" / "runs").glob("*.html"))
    assert pages == sorted(f"{rid}.html" for rid in good.values())
    assert not list(tmp_path.rglob("ESCAPED*"))

    runner = CliRunner()
    ok = runner.invoke(cli, ["--store", str(store), "build", "--out", str(tmp_path / "s2")])
    assert ok.exit_code == 0, ok.output
    assert warning in ok.output
    strict = runner.invoke(cli, ["--store", str(store), "build", "--out", str(tmp_path / "s3"),
                                 "--strict"])
    assert strict.exit_code == 1
    assert warning in strict.output


# -- a Parquet file with an intact footer and a corrupt data page ----------------------------------


def corrupt_data_pages(path: Path) -> None:
    """Flip bytes between the leading magic and the footer: every data page is damaged, the
    footer (schema, row count, metadata) still reads."""
    import struct

    import pyarrow.parquet as pq

    data = bytearray(path.read_bytes())
    footer = struct.unpack("<i", data[-8:-4])[0]
    for i in range(8, len(data) - 8 - footer - 4, 3):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    assert pq.read_metadata(path).num_rows > 0  # the footer is intact


def test_a_file_with_a_corrupt_data_page_is_skipped_by_every_reader(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "store"
    runs = seed(store, ("good-1", "victim", "good-2"))
    victim = next((store / "runs").glob(f"*/run_id={runs['victim']}/*.parquet"))
    corrupt_data_pages(victim)
    others = {runs["good-1"], runs["good-2"]}
    prefix = f"Skipping unreadable store file {victim}: "

    frame = TrackerClient(str(store)).search_runs_frame(None)
    assert set(frame["run_id"]) == others
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]

    listed = tracker_cli("--store", str(store), "runs", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert prefix in listed.stderr
    assert {r["run_id"] for r in json.loads(listed.stdout)} == others

    result = build(str(store), tmp_path / "site")
    assert [w for w in result.warnings if w.startswith(prefix)]
    pages = {p.stem for p in (tmp_path / "site" / "runs").glob("*.html")}
    assert pages == others
    runner = CliRunner()
    strict = runner.invoke(cli, ["--store", str(store), "build", "--out", str(tmp_path / "s2"),
                                 "--strict"])
    assert strict.exit_code == 1 and prefix in strict.output

    doctor = runner.invoke(cli, ["--store", str(store), "doctor"])
    assert str(victim.relative_to(store)) in doctor.output


# -- a part whose tracker.covers footer lists other files --------------------------------------


def final_of(store: Path, run_id: str) -> Path:
    (path,) = (store / "runs").glob(f"*/run_id={run_id}/final-*.parquet")
    return path


def lying_part(store: Path, eid: str, claims: list[str], rows: list[tuple[Any, ...]],
               seg: str = "ffff0000") -> Path:
    """A part file someone committed: its footer claims ``claims``; it holds ``rows`` (seg
    column as given in each row's last place) of one run of its own."""
    import pyarrow as pa

    from tracker.store.schema import arrow_schema
    from tracker.store.store import encode_table

    columns: dict[str, list[Any]] = {name: [] for name in arrow_schema().names}
    for kind, key, value, num, step, ts, row_seg in rows:
        for name, v in zip(arrow_schema().names, (eid, "f" * 32, row_seg, kind, key, value, num,
                                                  step, ts, 1)):
            columns[name].append(v)
    table = pa.table(columns, schema=arrow_schema())
    return plant(store, f"parts/experiment_id={eid}", f"part-{seg}.parquet",
                 encode_table(table, claims))


def footer_covers(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return json.loads(pq.read_metadata(path).metadata[b"tracker.covers"])


def test_a_part_claiming_other_files_hides_no_run(tmp_path: Path) -> None:
    store = tmp_path / "store"
    runs = seed(store, ("victim-1", "victim-2", "bystander"))
    eid = experiment_id(store)
    victims = [final_of(store, runs["victim-1"]), final_of(store, runs["victim-2"])]
    claims = [p.stem.split("-", 1)[1] for p in victims]
    claims += [c for p in victims for c in footer_covers(p)]
    fake = [(kind, key, value, num, step, ts, "ffff0000")
            for kind, key, value, num, step, ts, _ in run_rows("intruder")]
    part = lying_part(store, eid, claims, fake)

    frame = TrackerClient(str(store)).search_runs_frame(None)
    assert set(runs.values()) <= set(frame["run_id"])  # nobody hidden
    assert "f" * 32 in set(frame["run_id"])  # the part's own run is read too

    result = build(str(store), tmp_path / "site")
    pages = {p.stem for p in (tmp_path / "site" / "runs").glob("*.html")}
    assert set(runs.values()) <= pages
    warning = f"Ignoring the claim of store file {part} on segment "
    assert len([w for w in result.warnings if w.startswith(warning)]) == 2, result.warnings

    doctor = tracker_cli("--store", str(store), "doctor")
    assert doctor.returncode == 1
    assert str(part.relative_to(store)) in doctor.stdout + doctor.stderr
    assert "but it holds 0 of its" in doctor.stdout + doctor.stderr


def test_a_part_holding_one_row_of_a_claimed_file_hides_none_of_its_rows(tmp_path: Path) -> None:
    """The claim is backed by a row of the victim's segment, but not by all of its rows."""
    store = tmp_path / "store"
    runs = seed(store, ("victim", "bystander"))
    eid = experiment_id(store)
    victim = final_of(store, runs["victim"])
    victim_segs = footer_covers(victim)
    claims = [victim.stem.split("-", 1)[1], *victim_segs]
    part = lying_part(store, eid, claims,
                      [("param", "planted", "1", None, None, T0, victim_segs[0])])

    client = TrackerClient(str(store))
    run = client.get_run(runs["victim"])
    assert run.data.metrics == {"rmse": 1.0}
    assert run.data.params == {"i": "0"}
    assert run.info.run_name == "victim"
    assert client.store.warnings and any(str(part) in w for w in client.store.warnings)

    doctor = tracker_cli("--store", str(store), "doctor")
    assert doctor.returncode == 1
    assert str(part.relative_to(store)) in doctor.stdout + doctor.stderr


def test_covers_written_by_tracker_are_still_believed(tmp_path: Path) -> None:
    """A real compaction's part supersedes the run files it merged, even when a crash left
    them in place: rows are read once and nothing is reported."""
    from tracker.store.compact import compact

    store = tmp_path / "store"
    runs = seed(store, ("a", "b", "c"))
    finals = {rid: final_of(store, rid).read_bytes() for rid in runs.values()}
    paths = {rid: final_of(store, rid) for rid in runs.values()}
    client = TrackerClient(str(store))
    before = client.sql("select count(*) as n from records")["n"][0]
    compact(client.store)
    for rid, data in finals.items():  # a compactor killed before it deleted what it merged
        paths[rid].parent.mkdir(parents=True, exist_ok=True)
        paths[rid].write_bytes(data)
    fresh = TrackerClient(str(store))
    fresh.store._covers_cache.clear()
    assert fresh.sql("select count(*) as n from records")["n"][0] == before
    assert fresh.store.warnings == []
    doctor = tracker_cli("--store", str(store), "doctor")
    assert "covers" not in doctor.stdout + doctor.stderr


# -- a store or a file of a newer format ------------------------------------------------------


def test_a_store_marked_with_a_newer_format_is_read_with_a_warning(tmp_path: Path) -> None:
    store = tmp_path / "store"
    runs = seed(store)
    (store / "tracker-store.json").write_text('{"format": "tracker-store", "format_version": 2}\n')
    warning = f"The store at {store} has format version 2; this tracker reads versions up to 1."

    listed = tracker_cli("--store", str(store), "runs", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert warning in listed.stderr
    assert {r["run_id"] for r in json.loads(listed.stdout)} == set(runs.values())

    result = build(str(store), tmp_path / "site")
    assert [w for w in result.warnings if w.startswith(warning)], result.warnings
    strict = CliRunner().invoke(cli, ["--store", str(store), "build", "--out",
                                      str(tmp_path / "s2"), "--strict"])
    assert strict.exit_code == 1 and warning in strict.output


def test_a_file_of_a_newer_format_is_read_with_a_warning(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    store = tmp_path / "store"
    runs = seed(store)
    path = final_of(store, runs["good-1"])
    table = pq.read_table(path)
    meta = {**table.schema.metadata, b"tracker.format_version": b"99"}
    pq.write_table(table.replace_schema_metadata(meta), path)
    warning = f"Store file {path} has format version '99'; this tracker reads versions up to 1"

    listed = tracker_cli("--store", str(store), "runs", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert warning in listed.stderr
    assert {r["run_id"] for r in json.loads(listed.stdout)} == set(runs.values())

    result = build(str(store), tmp_path / "site")
    assert [w for w in result.warnings if w.startswith(warning)], result.warnings
    strict = CliRunner().invoke(cli, ["--store", str(store), "build", "--out",
                                      str(tmp_path / "s2"), "--strict"])
    assert strict.exit_code == 1 and warning in strict.output


def test_a_part_claiming_rows_of_a_real_part_hides_none_of_them(tmp_path: Path) -> None:
    """Two parts that claim the same segment: the rows are left out of the later one only when
    the earlier one holds them (here the liar is read first and holds none). The liar does not
    claim its own id: a part another file claims is read after it (#19), where its lie would
    hide nothing."""
    from tracker.store.compact import compact

    store = tmp_path / "store"
    runs = seed(store, ("victim", "bystander"))
    eid = experiment_id(store)
    client = TrackerClient(str(store))
    compact(client.store)
    (real,) = (store / "parts").glob("*/part-*.parquet")
    victim_seg = footer_covers(real)[0]
    own = [(*row[:6], "11111111") for row in run_rows("intruder")]
    part = lying_part(store, eid, [victim_seg, "11111111"], own, seg="00000000")
    assert sorted((store / "parts").glob("*/part-*.parquet"))[0] == part  # read first

    fresh = TrackerClient(str(store))
    fresh.store._covers_cache.clear()
    for name, rid in runs.items():
        run = fresh.get_run(rid)
        assert run.info.run_name == name and run.data.metrics == {"rmse": 1.0 + (name != "victim")}
    assert any(str(part) in w for w in fresh.store.warnings)
