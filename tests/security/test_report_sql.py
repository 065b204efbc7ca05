"""Report SQL cannot touch the machine or read around redaction (issue #15, the two high rows).

Each escape is a block of a real report, built by ``tracker build``: the block must end as an
error box (a warning naming file:line), write no file, and publish nothing it should not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import tracker
from tracker.client import TrackerClient
from tracker.query.sandbox import Sandbox, SandboxError
from tracker.site.build import build

SECRET_PASSWORD = "hunter2-Zq81-canary"


@pytest.fixture
def store(tmp_path: Path) -> str:
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    with tracker.start_run(run_name="main"):
        tracker.log_param("db_password", SECRET_PASSWORD)  # redacted by key on every page
        tracker.log_metric("rmse", 1.5)
    return uri


def _build_report(tmp_path: Path, store: str, blocks: list[str]) -> tuple[str, list[str]]:
    reports = tmp_path / "reports"
    reports.mkdir(exist_ok=True)
    body = "# Escapes\n\n" + "\n\n".join(f"```sql\n{b}\n```" for b in blocks) + "\n"
    (reports / "escape.md").write_text(body)
    result = build(store, tmp_path / "site", reports=reports)
    page = (tmp_path / "site" / "reports" / "escape.html").read_text()
    return page, result.warnings


def _site_bytes(site: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file())


def test_dollar_quoted_copy_writes_no_file(tmp_path: Path, store: str) -> None:
    """The regex guard's hole: ``$$'$$`` hid a COPY that wrote a .pth into site-packages."""
    target = tmp_path / "venv" / "site-packages" / "evil.pth"
    target.parent.mkdir(parents=True)
    blocks = [
        f"select $$'$$; copy (select 'import os') to '{target}'; select $$'$$",
        f"copy (select 1) to '{target}'",
        f"select 1; copy (select 1) to '{target}'",
    ]
    page, warnings = _build_report(tmp_path, store, blocks)
    assert not target.exists()
    assert [w.split(": ", 2)[1] for w in warnings] == ["sql block"] * 3
    assert "one statement per block, found 3" in warnings[0]
    assert "not COPY" in warnings[1]
    assert "found 2" in warnings[2]
    assert page.count("could not be shown") == 3


@pytest.mark.parametrize("sql", [
    "select * from read_text('/etc/passwd')",
    "select * from read_csv('/etc/passwd')",
    "select * from glob('/etc/*')",
    "select * from read_parquet('{store}/**/*.parquet')",
    "select * from '{store}/**/*.parquet'",
    "select * from read_blob('/etc/hostname')",
])
def test_file_reading_functions_are_refused(tmp_path: Path, store: str, sql: str) -> None:
    page, warnings = _build_report(tmp_path, store, [sql.format(store=store)])
    assert len(warnings) == 1 and "escape.md:3: sql block: the query failed:" in warnings[0]
    assert "disabled by configuration" in warnings[0] or "Permission" in warnings[0]
    published = _site_bytes(tmp_path / "site")
    assert b"root:x:0:0" not in published
    assert SECRET_PASSWORD.encode() not in published


def test_the_redacted_tables_are_what_report_sql_sees(tmp_path: Path, store: str) -> None:
    page, warnings = _build_report(tmp_path, store, [
        "select key, value from params",
        "select value from params where value like 'hunter2%'",
    ])
    assert warnings == []
    assert "db_password" in page and SECRET_PASSWORD not in page
    assert SECRET_PASSWORD.encode() not in _site_bytes(tmp_path / "site")


@pytest.mark.parametrize("sql, word", [
    ("attach '{tmp}/x.db' as x", "ATTACH"),
    ("install httpfs", "INSTALL"),
    ("load httpfs", "LOAD"),
    ("set enable_external_access = true", "SET"),
    ("create table t as select 1", "CREATE"),
    ("pragma version", "PRAGMA"),
])
def test_statements_that_change_anything_are_refused(
    tmp_path: Path, store: str, sql: str, word: str
) -> None:
    sandbox = Sandbox(TrackerClient(store).query)
    with pytest.raises(SandboxError, match="only reading statements"):
        sandbox.run(sql.format(tmp=tmp_path))
    assert not (tmp_path / "x.db").exists()


def test_select_wrappers_cannot_reach_files_settings_or_python(tmp_path: Path, store: str) -> None:
    sandbox = Sandbox(TrackerClient(store).query)
    secret_frame = {"s": ["python object"]}  # noqa: F841 - a replacement scan must not find it
    for sql in ["select * from secret_frame",
                f"select * from (select * from read_text('{sys.executable}'))",
                "select current_setting('enable_external_access') = false as locked"]:
        try:
            columns, rows = sandbox.run(sql)
        except SandboxError as exc:
            assert "python object" not in str(exc)
            continue
        assert rows == [(True,)], (sql, rows)
    assert sandbox.run("select count(*) from runs")[1] == [(1,)]


def test_tracker_sql_stays_full_power(tmp_path: Path, store: str) -> None:
    """The user's own query over their own store is not sandboxed (docs/cli.md says so)."""
    (tmp_path / "note.txt").write_text("mine")
    frame = TrackerClient(store).sql(f"select content from read_text('{tmp_path / 'note.txt'}')")
    assert frame["content"].tolist() == ["mine"]
