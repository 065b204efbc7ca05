"""Snapshots of published tables (#14): a build with publish rules restores the tables an earlier
build published, loads and redacts only the files added since, and always gets exactly what a
from-scratch load with the same rules gets — no unredacted value in the tables or the cache."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from tracker.client import TrackerClient
from tracker.config import ExperimentRules, RedactRules, TrackerConfig
from tracker.exceptions import InvalidArgumentError
from tracker.query import StoreQuery, published, snapshot, views
from tracker.site.build import build
from tracker.site.publish import PublishRules
from tracker.store.compact import compact

AWS = "AKIAQWERTYUIOPASDFGH"
GITHUB = "ghp_" + "Zx9Qm2Lp7Rt4Vb8Nc1Kd6Hf3Js5Gw0Ya2Ue"
PASSWORD = "hunter2-correct-horse"
INTERNAL = "internal-only-value"
HIDDEN = "qz7-value-visible-nowhere"
SECRETS = [AWS, GITHUB, PASSWORD, INTERNAL, HIDDEN, "sandbox-qz7", "internal_cost"]
RULES = PublishRules.from_config(TrackerConfig(
    experiments=ExperimentRules(exclude=("sandbox-*",)),
    redact=RedactRules(keys=("*internal*",)),
))


@pytest.fixture
def cache(always_snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Snapshots in a folder of this test, saved after every load and every new file."""
    monkeypatch.setattr(snapshot, "STALE_FILES", 1)
    return always_snapshot


def _experiment(client: TrackerClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found is not None else client.create_experiment(name)


def _run(uri: str, experiment: str, name: str, *, secret: str = "plain") -> str:
    """A finished run with a param, a tag, metrics and an artifact, some holding ``secret``."""
    client = TrackerClient(uri)
    run_id = client.create_run(_experiment(client, experiment), run_name=name,
                               start_time=1_000).info.run_id
    client.log_param(run_id, "lr", "0.1")
    client.log_param(run_id, "db_password", PASSWORD)
    client.log_param(run_id, "note", f"pushed with {secret}")
    client.set_tag(run_id, "team", "rides")
    client.set_tag(run_id, "internal_comment", INTERNAL)
    for step in range(3):
        client.log_metric(run_id, "rmse", 5.0 - step, timestamp=2_000 + step, step=step)
        client.log_metric(run_id, "internal_cost", 99.0 + step, timestamp=2_000 + step, step=step)
    client.log_text(run_id, "public notes", "notes.txt")
    client.log_text(run_id, f"creds {secret}", f"creds_{secret}.txt")
    client.set_terminated(run_id, end_time=5_000)
    client.flush()
    return run_id


def _tables(query: StoreQuery) -> dict[str, pd.DataFrame]:
    """Every public table and the raw records, sorted, so two loads can be compared."""
    query.refresh()
    out = {}
    for table in (*views.PUBLIC_TABLES, "records"):
        frame = query.sql(f"SELECT * EXCLUDE (filename) FROM {table}" if table == "records"
                          else f"SELECT * FROM {table}")
        out[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    assert query.wait_for_snapshot(30)  # saved in the background, after the results
    return out


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table], obj=table)


def _fresh(
    uri: str, rules: PublishRules, monkeypatch: pytest.MonkeyPatch
) -> dict[str, pd.DataFrame]:
    with monkeypatch.context() as m:
        m.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
        return _tables(StoreQuery(TrackerClient(uri).store, publish=rules))


def _cached(uri: str, rules: PublishRules, traced: list[str]) -> dict[str, pd.DataFrame]:
    """The tables of a new process's query layer (restored from the snapshot, if any)."""
    traced.clear()
    return _tables(StoreQuery(TrackerClient(uri).store, tracer=traced.append, publish=rules))


def _published_path(uri: str, rules: PublishRules) -> Path:
    key = published.cache_key(rules)
    assert key is not None
    return Path(snapshot.path_for(TrackerClient(uri).store.fs.uri(), key))


def _records_files(path: Path) -> list[Path]:
    """The files of the snapshot at ``path``'s records (``snapshot_records``), beside it."""
    return sorted(path.parent.glob(f"{path.name}.records-*"))


def _snapshot_text(path: Path) -> str:
    """Every value of every table of the snapshot at ``path`` and of its records' files, as
    one text."""
    parts = []
    for file in [path, *_records_files(path)]:
        con = duckdb.connect(str(file), read_only=True)
        try:
            for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
                parts.append(con.execute(f'SELECT * FROM "{table}"').df().to_csv())
        finally:
            con.close()
    return "\n".join(parts)


def _assert_no_secrets(path: Path, published: tuple[str, ...] = ()) -> None:
    text = _snapshot_text(path)
    for secret in set(SECRETS) - set(published):
        assert secret not in text, secret


def _full_load(traced: list[str]) -> bool:
    """Whether the load traced published every record (not only those of new files)."""
    return any("FROM records WHERE experiment_id IS NOT NULL" in sql
               and views.NEW_FILES not in sql for sql in traced)



def _seeded(tmp_path: Path) -> str:
    """A store of one published run with a secret and one run in a hidden experiment."""
    uri = str(tmp_path / "store")
    _run(uri, "public-a", "first", secret=AWS)
    _run(uri, "sandbox-qz7", "hidden", secret=HIDDEN)
    return uri

def test_new_runs_are_published_on_top_and_equal_a_full_load(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = _seeded(tmp_path)
    _run(uri, "public-a", "second")
    traced: list[str] = []
    first = _cached(uri, RULES, traced)
    assert _full_load(traced)
    _assert_same(first, _fresh(uri, RULES, monkeypatch))
    assert sorted(first["runs"]["run_name"]) == ["first", "second"]
    saved = _published_path(uri, RULES)
    _assert_no_secrets(saved)
    assert not Path(snapshot.path_for(TrackerClient(uri).store.fs.uri())).exists()

    # Nothing new: the published tables come back without reading the store.
    _assert_same(_cached(uri, RULES, traced), first)
    assert not any("read_parquet" in sql for sql in traced)

    # A new run with secrets: only its files are loaded and redacted, as a full load would.
    _run(uri, "public-a", "third", secret=GITHUB)
    tables = _cached(uri, RULES, traced)
    assert not _full_load(traced)
    assert len([sql for sql in traced if "INSERT INTO records" in sql
                    and "read_parquet" in sql]) == 1
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert GITHUB not in tables["params"].to_csv() and GITHUB not in tables["artifacts"].to_csv()
    assert any(p.startswith("creds_REDACTED~") for p in tables["artifacts"]["path"])
    _assert_no_secrets(saved)

    # A new run of a hidden experiment (known only by a digest of its id): dropped.
    _run(uri, "sandbox-qz7", "hidden-2", secret=HIDDEN)
    tables = _cached(uri, RULES, traced)
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert "hidden-2" not in set(tables["runs"]["run_name"])
    _assert_no_secrets(saved)

    # A deleted run.
    client = TrackerClient(uri)
    deleted = tables["runs"]["run_id"][0]
    client.delete_run(deleted)
    client.flush()
    tables = _cached(uri, RULES, traced)
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert tables["runs"].set_index("run_id").loc[deleted, "lifecycle_stage"] == "deleted"


@pytest.mark.parametrize("change", ["rename-shown", "rename-hidden", "create", "delete",
                                    "compact"])
def test_what_may_change_the_published_experiments_publishes_everything_again(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, change: str,
) -> None:
    uri = _seeded(tmp_path)
    _run(uri, "public-z", "other")
    traced: list[str] = []
    _cached(uri, RULES, traced)
    client = TrackerClient(uri)
    public, hidden = _experiment(client, "public-a"), _experiment(client, "sandbox-qz7")
    if change == "rename-shown":  # a published experiment becomes a hidden one
        client.rename_experiment(public, "sandbox-renamed")
    elif change == "rename-hidden":  # a hidden one becomes published: its old runs appear
        client.rename_experiment(hidden, "public-now")
    elif change == "create":
        _run(uri, "public-b", "other", secret=GITHUB)
    elif change == "delete":
        client.delete_experiment(public)
    else:
        _run(uri, "public-a", "second", secret=GITHUB)
        compact(client.store, min_runs=1)
    client.flush()
    tables = _cached(uri, RULES, traced)
    assert _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    if change == "rename-hidden":
        assert "hidden" in set(tables["runs"]["run_name"])
        assert HIDDEN in tables["params"].to_csv()  # published now; its password is not
    if change in ("rename-shown", "delete"):
        assert "first" not in set(tables["runs"]["run_name"]) or change == "delete"
    _assert_no_secrets(_published_path(uri, RULES),
                       (HIDDEN, "sandbox-qz7") if change == "rename-hidden" else ())
    # And the next new run is published on top again.
    _run(uri, "public-z", "later", secret=GITHUB)
    tables = _cached(uri, RULES, traced)
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))


def test_one_query_layer_publishes_new_files_on_top(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = _seeded(tmp_path)
    traced: list[str] = []
    query = StoreQuery(TrackerClient(uri).store, tracer=traced.append, publish=RULES)
    _tables(query)
    _run(uri, "public-a", "second", secret=GITHUB)
    _run(uri, "sandbox-qz7", "hidden-2", secret=HIDDEN)
    traced.clear()
    tables = _tables(query)
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))


def test_other_rules_never_reuse_published_or_plain_tables(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    plain = _tables(StoreQuery(TrackerClient(uri).store))  # the plain snapshot, saved too
    assert PASSWORD in plain["params"].to_csv()
    # Other rules: nothing is published with hidden experiments any more, and a key is kept.
    other = PublishRules.from_config(TrackerConfig(redact=RedactRules(allow=("db_password",))))
    assert published.cache_key(other) != published.cache_key(RULES)
    tables = _cached(uri, other, traced)
    assert _full_load(traced)
    _assert_same(tables, _fresh(uri, other, monkeypatch))
    assert "hidden" in set(tables["runs"]["run_name"])
    # The first rules' snapshot is still theirs; the plain one is still plain.
    _assert_same(_cached(uri, RULES, traced), _fresh(uri, RULES, monkeypatch))
    assert not any("read_parquet" in sql for sql in traced)
    again = _tables(StoreQuery(TrackerClient(uri).store))
    _assert_same(again, plain)
    # A published snapshot moved to the plain one's path is not served as plain tables.
    os.replace(_published_path(uri, RULES), snapshot.path_for(TrackerClient(uri).store.fs.uri()))
    _assert_same(_tables(StoreQuery(TrackerClient(uri).store)), plain)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "state"])
def test_a_damaged_published_snapshot_is_ignored_and_saved_again(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, damage: str,
) -> None:
    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    data = saved.read_bytes()
    if damage == "garbage":
        saved.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        saved.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        saved.write_bytes(b"")
    else:  # a readable snapshot whose published state is not one
        con = duckdb.connect(str(saved))
        con.execute("UPDATE snapshot_meta SET meta = replace(meta, '\"hidden\": [', "
                    "'\"hidden\": [\"not-a-digest\", ')")
        con.close()
    _run(uri, "public-a", "second", secret=GITHUB)
    tables = _cached(uri, RULES, traced)
    assert _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    _assert_same(_cached(uri, RULES, traced), tables)  # saved again, and used
    assert not any("read_parquet" in sql for sql in traced)


def test_a_save_killed_midway_leaves_no_snapshot_in_use(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    _run(uri, "public-a", "first", secret=AWS)
    saved = _published_path(uri, RULES)
    saved.parent.mkdir(parents=True)
    # What a process killed while writing leaves: its temporary file, half written.
    abandoned = saved.with_name(f"{saved.name}.tmp-{2**22 + 12345}")
    abandoned.write_bytes(b"DUCK" + os.urandom(2048))
    traced: list[str] = []
    tables = _cached(uri, RULES, traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert saved.exists() and not abandoned.exists()  # removed by the next save


def test_the_cache_path_comes_from_the_store_uri_and_rules_only(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    client = TrackerClient(uri)
    eid = client.create_experiment("../../../../escape")
    run_id = client.create_run(eid, run_name="../../x.duckdb").info.run_id
    client.log_param(run_id, "TRACKER_CACHE_DIR", str(tmp_path / "elsewhere"))
    client.set_tag(run_id, "path", "../../cache/query/evil.duckdb")
    client.set_terminated(run_id)
    client.flush()
    traced: list[str] = []
    _cached(uri, RULES, traced)
    key = hashlib.sha256(RULES.fingerprint().encode()).hexdigest()[:32]
    made = sorted(p.name for p in (cache / "query").iterdir())
    assert len(made) == 2 and re.fullmatch(rf"[0-9a-f]+-published-{key}\.duckdb", made[0])
    assert re.fullmatch(rf"{re.escape(made[0])}\.records-[0-9a-f]{{16}}", made[1])
    assert not (tmp_path / "elsewhere").exists()
    assert not any("evil" in p.name or "escape" in p.name for p in tmp_path.rglob("*"))
    for bad in ("../x", "ABCDEF0123456789", "0123", "0123456789abcdef/.."):
        with pytest.raises(InvalidArgumentError, match="hex digits"):
            snapshot.path_for(uri, bad)


def _site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def test_a_rebuilt_site_equals_a_site_built_from_scratch(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    uri = str(tmp_path / "store")
    first = _run(uri, "public-a", "first", secret=AWS)
    _run(uri, "sandbox-qz7", "hidden", secret=HIDDEN)
    config = RULES.config

    def from_scratch() -> None:  # the same builds into a folder of their own, no snapshots
        with monkeypatch.context() as m:
            m.setenv("TRACKER_QUERY_SNAPSHOTS", "0")
            build(uri, tmp_path / "scratch", config=config)

    build(uri, tmp_path / "site", config=config)
    assert snapshot.wait_for_saves(30)  # the snapshot is saved once the build has returned
    from_scratch()
    _run(uri, "public-a", "second", secret=GITHUB)  # published on top of the snapshot
    _run(uri, "sandbox-qz7", "hidden-2", secret=HIDDEN)
    # A new tag: the first run's page is made again, its redacted artifact path restored from
    # the snapshot (the file it names is found by redacting the run's file names again).
    client = TrackerClient(uri)
    client.set_tag(first, "reviewed", "yes")
    client.flush()
    applied: list[object] = []
    apply = published.apply

    def spy(q: StoreQuery, publish: Any, files: Any = None, state: Any = None) -> Any:
        applied.append(files)
        return apply(q, publish, files, state)

    monkeypatch.setattr(published, "apply", spy)
    build(uri, tmp_path / "site", config=config)
    assert len(applied) == 1 and applied[0], "only the new files were published"
    monkeypatch.setattr(published, "apply", apply)
    from_scratch()
    rebuilt, scratch = _site_files(tmp_path / "site"), _site_files(tmp_path / "scratch")
    copies = [p for p in rebuilt if p.startswith(f"runs/{first}/artifacts/creds_REDACTED~")]
    assert len(copies) == 1 and b"[redacted]" in rebuilt[copies[0]]
    assert rebuilt.keys() == scratch.keys()
    for path in rebuilt:
        assert rebuilt[path] == scratch[path], path
    for path, data in rebuilt.items():
        for secret in (AWS, GITHUB, PASSWORD, HIDDEN):
            assert secret.encode() not in data, (path, secret)


def test_a_load_during_a_save_never_puts_unpublished_records_in_the_copy(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    uri = str(tmp_path / "store")
    _run(uri, "public-a", "first", secret=AWS)
    query = StoreQuery(TrackerClient(uri).store, publish=RULES)
    copy_table, apply = snapshot._copy_table, published.apply
    loaded, copied = threading.Event(), threading.Event()  # the new records are in; copy made
    seen: list[int] = []
    loads: list[threading.Thread] = []

    def apply_later(q: StoreQuery, publish: Any, files: Any = None, state: Any = None) -> Any:
        if threading.current_thread() in loads:  # the records are loaded, not yet published
            loaded.set()
            copied.wait(10)
        return apply(q, publish, files, state)

    def copy_and_load(con: Any, alias: str, table: str, **options: Any) -> None:
        if not loads:  # mid-save: a new run with a secret, and a load of it in another thread
            _run(uri, "public-a", "second", secret=GITHUB)
            loads.append(threading.Thread(target=query.refresh))
            loads[0].start()
            loaded.wait(2)  # it waits for the save instead: never set
        (count,) = con.execute("SELECT count(*) FROM main.records WHERE value LIKE ?",
                               [f"%{GITHUB}%"]).fetchone()
        seen.append(count)
        copy_table(con, alias, table, **options)
        if table == "records":
            copied.set()

    monkeypatch.setattr(snapshot, "_copy_table", copy_and_load)
    monkeypatch.setattr(published, "apply", apply_later)
    query.refresh()  # a full load: saved in the background
    assert query.wait_for_snapshot(30)
    loads[0].join(30)
    assert not loads[0].is_alive(), "the load waited for the save, not forever"
    assert seen and not any(seen), "the copy saw unpublished records"
    assert not loaded.is_set() or copied.is_set()
    assert not _published_path(uri, RULES).exists()  # the copy was stale: thrown away
    monkeypatch.setattr(snapshot, "_copy_table", copy_table)
    _assert_same(_tables(query), _fresh(uri, RULES, monkeypatch))


def test_big_tables_are_copied_from_the_snapshot_in_chunks(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshot, "BIG_TABLE_ROWS", 10)
    monkeypatch.setattr(snapshot, "COPY_CHUNK_ROWS", 7)
    # No working copy of the file (no room for it, say): its tables are copied into memory.
    monkeypatch.setattr(snapshot, "working_copy", lambda *args: None)
    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    _run(uri, "public-a", "second", secret=GITHUB)
    copied: list[tuple[str, int]] = []
    copy_rows = snapshot._copy_rows

    def count(con: Any, table: str) -> None:
        copy_rows(con, table)
        copied.append((table, con.execute(f"SELECT count(*) FROM {table}_copy").fetchone()[0]))

    monkeypatch.setattr(snapshot, "_copy_rows", count)
    tables = _cached(uri, RULES, traced)
    assert not _full_load(traced)
    assert dict(copied)["records"] > 3 * 7  # in several chunks
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))


class _FailsOnce:
    """The test rules, except that redacting a value holding GITHUB fails the first time."""

    def __init__(self) -> None:
        self.fails = 1

    def fingerprint(self) -> str:
        return RULES.fingerprint() + " fails once"

    def keeps_experiment(self, name: str | None) -> bool:
        return RULES.keeps_experiment(name)

    def keeps_metric(self, key: str) -> bool:
        return RULES.keeps_metric(key)

    def scrub(self, kind: str, key: str, value: str) -> str:
        if GITHUB in value and self.fails:
            self.fails -= 1
            raise RuntimeError("redaction failed")
        return RULES.scrub(kind, key, value)

    def scrub_key(self, kind: str, key: str) -> str:
        return RULES.scrub_key(kind, key)


def test_records_loaded_but_not_published_are_never_folded_later(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    _run(uri, "public-a", "first", secret=AWS)
    query = StoreQuery(TrackerClient(uri).store, publish=_FailsOnce())
    _tables(query)
    _run(uri, "public-a", "second", secret=GITHUB)
    with pytest.raises(RuntimeError, match="redaction failed"):
        query.refresh()
    tables = _tables(query)  # the next call publishes everything again
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert not any(GITHUB in frame.to_csv() for frame in tables.values())


def test_a_baseline_store_read_for_a_summary_leaves_no_snapshot(
    tmp_path: Path, cache: Path,
) -> None:
    from tracker.changes import read_snapshot

    uri = str(tmp_path / "store")
    _run(uri, "public-a", "first", secret=AWS)
    read_snapshot(uri, RULES, cache=False)
    assert snapshot.wait_for_saves(30)
    assert not (cache / "query").exists() or not any((cache / "query").iterdir())
    read_snapshot(uri, RULES)
    assert snapshot.wait_for_saves(30)
    assert _published_path(uri, RULES).exists()
    with pytest.raises(InvalidArgumentError, match="snapshots="):
        StoreQuery(TrackerClient(uri).store, snapshots="no")  # type: ignore[arg-type]


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "query").iterdir() if ".tmp-" in p.name)


def test_new_files_go_into_a_copy_of_the_snapshot_file_that_replaces_it(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round after round, a new process applies the new run to a copy of the snapshot's file
    (no table copied into memory), and that copy becomes the snapshot: its tables equal a fresh
    load, the old file is never written, and no temporary file is left."""
    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    copied: list[str] = []
    monkeypatch.setattr(snapshot, "_copy_rows", lambda con, table: copied.append(table))
    for round_, (experiment, secret) in enumerate(
        [("public-a", GITHUB), ("sandbox-qz7", HIDDEN), ("public-a", AWS)]
    ):
        _run(uri, experiment, f"round-{round_}", secret=secret)
        old = tmp_path / f"old-{round_}"
        os.link(saved, old)  # the file restored below, whatever its name is later
        before = hashlib.sha256(old.read_bytes()).hexdigest()
        # What a process killed while applying files leaves: its copy.
        abandoned = saved.with_name(f"{saved.name}.tmp-{2**22 + 12345}.work0")
        abandoned.write_bytes(b"DUCK" + os.urandom(2048))
        tables = _cached(uri, RULES, traced)
        assert not _full_load(traced)
        assert len([sql for sql in traced if "INSERT INTO records" in sql
                    and "read_parquet" in sql]) == 1
        _assert_same(tables, _fresh(uri, RULES, monkeypatch))
        assert hashlib.sha256(old.read_bytes()).hexdigest() == before, "written in place"
        assert os.stat(saved).st_ino != os.stat(old).st_ino, "not replaced by the copy"
        assert _leftovers(cache) == []
        _assert_no_secrets(saved)
        # The next process finds the new run in the snapshot: nothing read, nothing applied.
        _assert_same(_cached(uri, RULES, traced), tables)
        assert not any("read_parquet" in sql for sql in traced)
    assert copied == []


def test_a_failed_apply_leaves_the_snapshot_as_it_was(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = str(tmp_path / "store")
    _run(uri, "public-a", "first", secret=AWS)
    rules = _FailsOnce()
    _tables(StoreQuery(TrackerClient(uri).store, publish=rules))
    saved = _published_path(uri, rules)  # type: ignore[arg-type]
    before = saved.read_bytes()
    _run(uri, "public-a", "second", secret=GITHUB)
    query = StoreQuery(TrackerClient(uri).store, publish=rules)
    with pytest.raises(RuntimeError, match="redaction failed"):
        query.refresh()  # fails in the copy, with the new records loaded but not published
    assert saved.read_bytes() == before and _leftovers(cache) == []
    tables = _tables(query)  # the next call publishes everything again
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert not any(GITHUB in frame.to_csv() for frame in tables.values())
    traced: list[str] = []
    _assert_same(_cached(uri, rules, traced), tables)  # type: ignore[arg-type]


def test_a_snapshot_saved_again_after_a_restore_is_not_copied_for_it(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A process that restored a snapshot another one has replaced since applies its new files
    to the tables it restored (copied into memory), never to a copy of the other file."""
    uri = _seeded(tmp_path)
    _tables(StoreQuery(TrackerClient(uri).store, publish=RULES))
    slow = StoreQuery(TrackerClient(uri).store, publish=RULES)
    slow.refresh()  # restored, read in place
    _run(uri, "public-a", "second", secret=GITHUB)
    traced: list[str] = []
    _cached(uri, RULES, traced)  # another process: the new run, put in place
    _run(uri, "public-a", "third", secret=AWS)
    with caplog.at_level("DEBUG", logger="tracker.query"):
        tables = _tables(slow)
    assert "the snapshot was saved again since it was restored" in caplog.text
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert _leftovers(cache) == []


def test_a_build_killed_while_applying_leaves_the_snapshot_usable(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess
    import sys

    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    before = saved.read_bytes()
    _run(uri, "public-a", "second", secret=GITHUB)
    # A process killed once the new run is in its copy, before the copy is put in place.
    script = (
        "import os, sys\n"
        "from tracker.client import TrackerClient\n"
        "from tracker.query import StoreQuery, snapshot\n"
        "from tests.test_query_published import RULES\n"
        "snapshot.put_in_place = lambda *args: os.kill(os.getpid(), 9)\n"
        "StoreQuery(TrackerClient(sys.argv[1]).store, publish=RULES).refresh()\n"
    )
    done = subprocess.run([sys.executable, "-c", script, uri], cwd=Path(__file__).parent.parent,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert saved.read_bytes() == before
    # Its copy (and the copy's write-ahead log) is left behind, under a name no reader opens.
    assert {name.split(".tmp-")[1].split(".")[1] for name in _leftovers(cache)} == {"work0"}
    tables = _cached(uri, RULES, traced)  # restores the snapshot, applies the run again
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert _leftovers(cache) == []  # the dead process's copy is removed


def _tables_of(path: Path) -> dict[str, int]:
    """Table name → row count of the DuckDB file at ``path``."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {table: con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_records_stay_in_a_file_of_their_own_that_no_build_copies_or_writes(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The snapshot's file holds the folded tables and the records added since its records'
    file was written (the delta): a build copies that, never every record."""
    uri = _seeded(tmp_path)
    traced: list[str] = []
    first = _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    (base,) = _records_files(saved)
    base_digest, base_inode = _digest(base), os.stat(base).st_ino
    assert _tables_of(base) == {"records": len(first["records"]), "records_file": 1}
    assert "records" not in _tables_of(saved) and _tables_of(saved)["records_delta"] == 0
    copied: list[str] = []
    copyfile = snapshot.shutil.copyfile

    def spy(source: Any, target: Any, **options: Any) -> Any:
        if Path(target).parent == saved.parent:  # not an artifact being logged
            copied.append(str(source))
        return copyfile(source, target, **options)

    monkeypatch.setattr(snapshot.shutil, "copyfile", spy)
    for round_, (experiment, secret) in enumerate(
        [("public-a", GITHUB), ("sandbox-qz7", HIDDEN), ("public-a", AWS)]
    ):
        _run(uri, experiment, f"round-{round_}", secret=secret)
        tables = _cached(uri, RULES, traced)
        assert not _full_load(traced)
        _assert_same(tables, _fresh(uri, RULES, monkeypatch))
        assert _records_files(saved) == [base]
        assert _digest(base) == base_digest and os.stat(base).st_ino == base_inode
        # The delta holds what was published since: the records of the new public runs.
        assert _tables_of(saved)["records_delta"] == len(tables["records"]) - len(first["records"])
        assert "records" not in _tables_of(saved)
        _assert_no_secrets(saved)
        _assert_same(_cached(uri, RULES, traced), tables)  # the next process reads nothing
        assert not any("read_parquet" in sql for sql in traced)
    assert copied == [str(saved)] * 3  # the snapshot's file only, never the records' file


def test_the_delta_is_merged_into_a_new_records_file_once_it_outgrows_it(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker.query import snapshot_records

    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    (old,) = _records_files(saved)
    old_digest = _digest(old)
    kept = tmp_path / "old-records"
    os.link(old, kept)  # the file a reader may still have open
    _run(uri, "public-a", "second", secret=GITHUB)
    tables = _cached(uri, RULES, traced)  # under the thresholds: appended to the delta
    assert _records_files(saved) == [old] and _tables_of(saved)["records_delta"] > 0
    monkeypatch.setattr(snapshot_records, "MERGE_MIN_ROWS", 0)
    monkeypatch.setattr(snapshot_records, "MERGE_FRACTION", 10**9)  # any delta outgrows it
    _run(uri, "public-a", "third", secret=AWS)
    tables = _cached(uri, RULES, traced)
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    (new,) = _records_files(saved)  # the old one removed
    assert new != old and _digest(kept) == old_digest, "the old records' file was written"
    assert _tables_of(new) == {"records": len(tables["records"]), "records_file": 1}
    assert _tables_of(saved)["records_delta"] == 0
    assert _leftovers(cache) == []
    _assert_no_secrets(saved)
    _assert_same(_cached(uri, RULES, traced), tables)
    assert not any("read_parquet" in sql for sql in traced)


def test_a_failed_merge_leaves_the_snapshot_as_it_was(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker.query import snapshot_records

    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    before = {p: _digest(p) for p in [saved, *_records_files(saved)]}
    monkeypatch.setattr(snapshot_records, "MERGE_MIN_ROWS", 0)
    monkeypatch.setattr(snapshot_records, "MERGE_FRACTION", 10**9)
    # The new records' file cannot be put in place (no room, say).
    monkeypatch.setattr(snapshot_records, "new_name", lambda path: "no-such-folder/records")
    _run(uri, "public-a", "second", secret=GITHUB)
    tables = _cached(uri, RULES, traced)
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert {p: _digest(p) for p in [saved, *_records_files(saved)]} == before
    assert _leftovers(cache) == []
    monkeypatch.undo()
    monkeypatch.setenv("TRACKER_CACHE_DIR", str(cache))
    tables = _cached(uri, RULES, traced)  # the next build applies the run again
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "another", "layout"])
def test_a_published_snapshot_whose_records_file_is_not_its_own_is_ignored(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, damage: str,
) -> None:
    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    (base,) = _records_files(saved)
    data = base.read_bytes()
    if damage == "missing":
        base.unlink()
    elif damage == "garbage":
        base.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        base.write_bytes(data[: len(data) // 2])
    elif damage == "another":  # another snapshot's records under this one's name
        other = str(tmp_path / "other")
        _run(other, "public-a", "other")
        _cached(other, RULES, traced)
        (theirs,) = _records_files(_published_path(other, RULES))
        os.replace(theirs, base)
    else:  # a snapshot saved before records had a file of their own names none
        con = duckdb.connect(str(saved))
        (meta,) = con.execute("SELECT meta FROM snapshot_meta").fetchone()
        info = json.loads(meta)
        del info["records"]
        con.execute("UPDATE snapshot_meta SET meta = ?", [json.dumps(info)])
        con.close()
    _run(uri, "public-a", "second", secret=GITHUB)
    tables = _cached(uri, RULES, traced)
    assert _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert len(_records_files(saved)) == 1  # saved again, with a file of its own
    _assert_same(_cached(uri, RULES, traced), tables)
    assert not any("read_parquet" in sql for sql in traced)


def test_a_records_file_no_snapshot_names_is_removed_once_old(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a build killed between writing a new records file and naming it leaves is removed
    by a later build, unless it is recent (another build may be about to name it)."""
    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    (base,) = _records_files(saved)
    old, recent = (saved.with_name(f"{saved.name}.records-{'0' * 15}{i}") for i in (1, 2))
    for orphan in (old, recent):
        orphan.write_bytes(base.read_bytes())
    hour_ago = os.stat(old).st_mtime - 3601
    os.utime(old, (hour_ago, hour_ago))
    _run(uri, "public-a", "second", secret=GITHUB)
    tables = _cached(uri, RULES, traced)
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert _records_files(saved) == sorted([base, recent])


def test_a_build_killed_while_merging_leaves_the_snapshot_usable(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess
    import sys

    uri = _seeded(tmp_path)
    traced: list[str] = []
    _cached(uri, RULES, traced)
    saved = _published_path(uri, RULES)
    before = {p: _digest(p) for p in [saved, *_records_files(saved)]}
    _run(uri, "public-a", "second", secret=GITHUB)
    # Killed while writing the merged records file, before it has a name.
    script = (
        "import os, sys\n"
        "from tracker.client import TrackerClient\n"
        "from tracker.query import StoreQuery, snapshot_records\n"
        "from tests.test_query_published import RULES\n"
        "snapshot_records.MERGE_MIN_ROWS, snapshot_records.MERGE_FRACTION = 0, 10**9\n"
        "snapshot_records.name_it = lambda *args: os.kill(os.getpid(), 9)\n"
        "StoreQuery(TrackerClient(sys.argv[1]).store, publish=RULES).refresh()\n"
    )
    done = subprocess.run([sys.executable, "-c", script, uri], cwd=Path(__file__).parent.parent,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert {p: _digest(p) for p in [saved, *_records_files(saved)]} == before
    assert {name.split(".tmp-")[1].split(".")[1] for name in _leftovers(cache)} == {
        "work0", "records"}
    tables = _cached(uri, RULES, traced)  # restores the snapshot, applies the run again
    assert not _full_load(traced)
    _assert_same(tables, _fresh(uri, RULES, monkeypatch))
    assert _leftovers(cache) == []
