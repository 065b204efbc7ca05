"""The registry's SQL tables, ``model_versions`` and ``registered_models`` (#14), in DuckDB.

The Spark views get the same rows (``tests/test_spark.py``); S3 stores: ``tests/test_s3.py``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from click.testing import CliRunner

import tracker
from tracker.cli import cli
from tracker.exceptions import InvalidArgumentError
from tracker.registry import model_id_for

HOSTILE = "it's \"quoted\"\n'); DROP TABLE runs; --\t{x}"


def registry_store(uri: str) -> dict[str, Any]:
    """A registry with what ``model_versions`` must fold: several models, stages (one version
    archived by another's promotion), aliases (one moved, one dropped with its version), tags
    (one deleted), a deleted version, a deleted model, a renamed model, a version number two
    registrations claimed and a resolution that moved one, and hostile text everywhere a user
    may write. Returns facts the tests check."""
    client = tracker.TrackerClient(uri)
    registry = client.registry
    client.create_registered_model("taxi", tags={"team": "rides", "drop": "me"},
                                   description="duration model")
    for i in range(1, 5):
        client.create_model_version("taxi", f"/models/taxi/{i}", run_id=f"run{i}",
                                    tags={"data": f"feb-{i}"}, description=f"v{i}")
    client.transition_model_version_stage("taxi", 1, "Production")
    client.transition_model_version_stage("taxi", 2, "Staging")
    client.transition_model_version_stage("taxi", 3, "Production", archive_existing_versions=True)
    client.set_registered_model_alias("taxi", "champion", 1)
    client.set_registered_model_alias("taxi", "champion", 3)  # moved
    client.set_registered_model_alias("taxi", "challenger", 2)
    client.set_registered_model_alias("taxi", "old", 4)
    client.delete_model_version("taxi", 4)  # its alias goes with it
    client.set_model_version_tag("taxi", 2, "reviewed", "yes")
    client.delete_model_version_tag("taxi", 1, "data")
    client.delete_registered_model_tag("taxi", "drop")
    client.update_model_version("taxi", 2, description="second look")

    client.create_model_version("gone", "/models/gone/1")  # the model is made on the way
    client.set_registered_model_alias("gone", "live", 1)
    client.delete_registered_model("gone")

    client.create_model_version("draft", "/models/draft/1")
    client.rename_registered_model("draft", "final")

    client.create_model_version("dup", "/models/dup/a", run_id="branch-a")
    registry.append_events("dup", [("version_created", 1, None, json.dumps(
        {"source": "/models/dup/b", "run_id": "branch-b", "tags": {}, "description": ""}),
        "bob", 1_700_000_000_000)])  # the other branch's claim on number 1, as after a merge
    model_id = model_id_for("dup")
    claims = [e for e in registry.events(model_id) if e["event"] == "version_created"]
    registry.renumber_version(model_id, 1, claims[0]["seg"], claims[1])  # what doctor --fix does

    name = f"odd {HOSTILE.splitlines()[0]}"  # names may hold quotes (not / @ :)
    client.create_registered_model(name, tags={"sql": HOSTILE}, description=HOSTILE)
    client.create_model_version(name, "/models/x'; --", tags={"sql": "SELECT 1; DROP"},
                                description=HOSTILE)
    # keys the API refuses, as a hostile store may hold them
    now = int(time.time() * 1000)
    registry.append_events(name, [("model_tag", None, HOSTILE, "v", "eve", now),
                                  ("alias_set", 1, HOSTILE, None, "eve", now)])
    return {"hostile_name": name}


def _fields(mv: Any) -> dict[str, Any]:
    return {
        "name": mv.name, "version": mv.version, "current_stage": mv.current_stage,
        "aliases": list(mv.aliases), "tags": dict(mv.tags), "description": mv.description,
        "source": mv.source, "run_id": mv.run_id, "status": mv.status,
        "status_message": mv.status_message, "user_id": mv.user_id, "model_id": mv.model_id,
        "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp,
    }


def _records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python (lists, dicts, None for missing)."""
    out = []
    for row in frame.to_dict("records"):
        clean = {}
        for key, value in row.items():
            if hasattr(value, "tolist"):
                value = value.tolist()
            if isinstance(value, float) and value != value:
                value = None
            clean[key] = value
        out.append(clean)
    return out


def test_model_versions_are_what_search_model_versions_returns(store_uri: str) -> None:
    facts = registry_store(store_uri)
    client = tracker.TrackerClient(store_uri)
    frame = client.sql("SELECT * FROM model_versions")
    assert list(frame.columns) == [
        "name", "version", "current_stage", "aliases", "tags", "description", "source",
        "run_id", "status", "status_message", "user_id", "model_id", "creation_timestamp",
        "last_updated_timestamp", "lifecycle_stage",
    ]
    rows = _records(frame)
    live = [{k: v for k, v in r.items() if k != "lifecycle_stage"}
            for r in rows if r["lifecycle_stage"] == "active"]
    expected = [_fields(mv) for mv in client.search_model_versions()]
    key = lambda r: (r["name"], r["version"])  # noqa: E731
    assert sorted(live, key=key) == sorted(expected, key=key)
    assert len(live) == 3 + 1 + 2 + 1  # taxi 1-3, final 1, dup 1-2, the hostile model's 1

    by_key = {(r["name"], r["version"], r["lifecycle_stage"]): r for r in rows}
    taxi = {v: by_key[("taxi", v, "active")] for v in (1, 2, 3)}
    assert [taxi[v]["current_stage"] for v in (1, 2, 3)] == ["Archived", "Staging", "Production"]
    assert taxi[3]["aliases"] == ["champion"] and taxi[1]["aliases"] == []
    assert taxi[2]["aliases"] == ["challenger"]
    assert taxi[2]["tags"] == {"data": "feb-2", "reviewed": "yes"} and taxi[1]["tags"] == {}
    assert taxi[2]["description"] == "second look"
    assert taxi[1]["last_updated_timestamp"] > taxi[1]["creation_timestamp"]
    deleted = by_key[("taxi", 4, "deleted")]  # kept, as runs keeps deleted runs
    assert deleted["aliases"] == [] and deleted["source"] == "/models/taxi/4"
    assert by_key[("gone", 1, "deleted")]["aliases"] == ["live"]  # as the model was
    assert ("draft", 1, "active") not in by_key and ("final", 1, "active") in by_key
    assert by_key[("dup", 1, "active")]["run_id"] == "branch-a"
    assert by_key[("dup", 2, "active")]["run_id"] == "branch-b"  # moved by the resolution
    assert len(rows) == len(live) + 2

    hostile = by_key[(facts["hostile_name"], 1, "active")]
    assert hostile["description"] == HOSTILE and hostile["source"] == "/models/x'; --"
    assert hostile["tags"] == {"sql": "SELECT 1; DROP"} and hostile["aliases"] == [HOSTILE]
    assert client.sql("SELECT count(*) AS n FROM runs")["n"][0] == 0  # nothing was run
    # the columns query as their types: a map, a list, milliseconds like runs.start_time
    picked = client.sql(
        "SELECT version, tags['reviewed'] AS reviewed FROM model_versions "
        "WHERE name = $name AND list_contains(aliases, 'challenger') "
        "AND creation_timestamp > 1000000000000", {"name": "taxi"})
    assert _records(picked) == [{"version": 2, "reviewed": "yes"}]
    types = dict(client.sql("DESCRIBE model_versions")[["column_name", "column_type"]].values)
    assert (types["aliases"], types["tags"]) == ("VARCHAR[]", "MAP(VARCHAR, VARCHAR)")
    assert types["creation_timestamp"] == dict(
        client.sql("DESCRIBE runs")[["column_name", "column_type"]].values)["start_time"]


def test_registered_models_are_what_search_registered_models_returns(store_uri: str) -> None:
    facts = registry_store(store_uri)
    client = tracker.TrackerClient(store_uri)
    rows = _records(client.sql("SELECT * FROM registered_models"))
    live = [r for r in rows if r["lifecycle_stage"] == "active"]
    expected = [
        {"name": m.name, "description": m.description, "aliases": dict(m.aliases),
         "tags": dict(m.tags), "creation_timestamp": m.creation_timestamp,
         "last_updated_timestamp": m.last_updated_timestamp, "lifecycle_stage": "active"}
        for m in client.search_registered_models()
    ]
    assert sorted(live, key=lambda r: r["name"]) == sorted(expected, key=lambda r: r["name"])
    by_name = {r["name"]: r for r in rows}
    assert by_name["taxi"]["aliases"] == {"champion": 3, "challenger": 2}
    assert by_name["taxi"]["tags"] == {"team": "rides"}
    assert by_name["gone"]["lifecycle_stage"] == "deleted" and "draft" not in by_name
    assert by_name[facts["hostile_name"]]["tags"] == {"sql": HOSTILE, HOSTILE: "v"}
    assert by_name[facts["hostile_name"]]["aliases"] == {HOSTILE: 1}


def test_the_tables_follow_the_registry_in_one_process(store_uri: str) -> None:
    client = tracker.TrackerClient(store_uri)
    assert client.sql("SELECT count(*) AS n FROM model_versions")["n"][0] == 0  # empty store
    client.create_model_version("m", "/models/m/1")
    client.transition_model_version_stage("m", 1, "Staging")
    frame = client.sql("SELECT name, version, current_stage FROM model_versions")
    assert _records(frame) == [{"name": "m", "version": 1, "current_stage": "Staging"}]
    client.delete_registered_model("m")
    assert client.sql("SELECT lifecycle_stage FROM registered_models")[
        "lifecycle_stage"].tolist() == ["deleted"]
    # the CLI's SQL sees them too
    out = CliRunner().invoke(cli, ["sql", "--store", store_uri, "--json",
                                   "SELECT name, lifecycle_stage FROM model_versions"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == [{"name": "m", "lifecycle_stage": "deleted"}]


def test_a_model_whose_events_do_not_fold_is_skipped_with_a_warning(
    store_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = tracker.TrackerClient(store_uri)
    client.create_model_version("fine", "/models/fine/1")
    client.create_registered_model("broken")
    client.registry.append_events("broken", [("version_created", 1, None, "{not json", "eve", 1)])
    broken_id = model_id_for("broken")
    frame = client.sql("SELECT name FROM model_versions")
    assert frame["name"].tolist() == ["fine"]
    message = (f"Skipping the registry folder registry/model_id={broken_id} of the store at "
               f"{client.store.uri}: its events do not fold (JSONDecodeError: ")
    assert any(r.getMessage().startswith(message) for r in caplog.records)
    assert any(w.startswith(message) for w in client.query.warnings)


def test_report_sql_cannot_read_the_registry_tables(store_uri: str) -> None:
    """Report blocks run over the build's redacted tables; the registry is not among them."""
    from tracker.query.sandbox import Sandbox, SandboxError

    client = tracker.TrackerClient(store_uri)
    client.create_model_version("m", "/models/m/1", description="secret-ish")
    assert len(client.sql("SELECT * FROM model_versions")) == 1
    with pytest.raises(SandboxError, match="model_versions"):
        Sandbox(client.query).run("SELECT description FROM model_versions")


def test_a_bad_query_names_the_registry_tables_too(store_uri: str) -> None:
    client = tracker.TrackerClient(store_uri)
    with pytest.raises(InvalidArgumentError, match=r"Tables: .*model_versions, registered_models"):
        client.sql("SELECT * FROM model_version")
    # the query layer alone is not handed the registry's fold: no such tables, none named
    from tracker.query import StoreQuery

    client.create_model_version("m", "/models/m/1")
    with pytest.raises(InvalidArgumentError, match=r"logged_model_metrics\.$"):
        StoreQuery(client.store).sql("SELECT * FROM model_versions")


def test_other_queries_do_not_read_the_registry(store_uri: str) -> None:
    client = tracker.TrackerClient(store_uri)
    client.create_model_version("m", "/models/m/1")
    seen: list[str] = []
    client.query.tracer = seen.append
    client.sql("SELECT count(*) FROM runs")
    assert not any("model_versions" in s for s in seen)
    client.sql("SELECT count(*) FROM model_versions")
    assert any(s.startswith("CREATE OR REPLACE TEMP TABLE model_versions") for s in seen)
    seen.clear()
    client.sql("SELECT count(*) FROM model_versions")  # unchanged registry: not made again
    assert not any(s.startswith("CREATE") for s in seen)
