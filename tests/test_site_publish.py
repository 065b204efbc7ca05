"""Publish controls in the built site (#6): which experiments, redaction everywhere in the output
(pages, JSON, CSV, JS data, search index, reports, registry), artifact rules, the title."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

import tracker
import tracker.api
from tests.conftest import write_files
from tracker.cli import cli
from tracker.config import load_config
from tracker.redaction import MARKER
from tracker.site.build import build

SHA = "0123456789abcdef0123456789abcdef01234567"
# Secrets under keys the default rules redact by name.
BY_KEY = {
    "db_password": "hunter2-correct-horse",
    "API_KEY": "plainvalue-no-shape-1",
    "auth_token": "opensesame-42",
}
# Credential-shaped values under innocent keys.
AWS = "AKIAQWERTYUIOPASDFGH"
GITHUB = "ghp_" + "Zx9Qm2Lp7Rt4Vb8Nc1Kd6Hf3Js5Gw0Ya2Ue"
SLACK = "xoxb-2048-1123581321-QmFsZTY0bG9uZw"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0cmFja2VyLWJvdCJ9."
    "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
)
PEM_BODY = "MIIEowIBAAKCAQEA7bq9Tm4XsecretPemBody"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
URL_PASSWORD = "pa55w0rd-in-url"
RANDOM = "x9Tq7LmP2vRz8KwYb4NcJ6hF1sDg3QeUa5"
CORP = "corp-918273"  # matched by the config's own value pattern
INTERNAL = "internal-only-value"  # under a key matched by the config's own key pattern
IN_JSON = "json-artifact-pw-77"
IN_ENV = "env-file-token-88"
IN_NOTEBOOK = "notebook-secret-55"
IN_TRIAL = "trial-secret-99"
SECRETS = [
    *BY_KEY.values(),
    AWS,
    GITHUB,
    SLACK,
    JWT,
    PEM_BODY,
    URL_PASSWORD,
    RANDOM,
    CORP,
    INTERNAL,
    IN_JSON,
    IN_ENV,
    IN_NOTEBOOK,
    IN_TRIAL,
]

CONFIG = """
[tool.tracker]
title = "Team Lab"

[tool.tracker.experiments]
exclude = ["sandbox-*"]

[tool.tracker.redact]
keys = ["*internal*"]
values = ['corp-[0-9]{6}']

[tool.tracker.artifacts]
max_size = "1KB"
exclude = ["*.ckpt"]
"""

REPORT = """---
title: Everything
---
```sql
SELECT r.run_name, p.key, p.value FROM params p JOIN runs r USING (run_id) ORDER BY 1, 2
```

```sql
SELECT name FROM experiments ORDER BY name
```

```sql
SELECT key, value FROM tags ORDER BY key
```

```chart
sql: SELECT key AS k, value AS v FROM latest_metrics ORDER BY key
x: k
y: v
kind: bar
```
"""


@dataclass(frozen=True)
class Built:
    site: Path
    main: str
    scratch: str


def _seed(uri: str, tmp: Path) -> tuple[str, str]:
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("public-a")
    with tracker.start_run(run_name="main") as run:
        tracker.log_params(
            {
                "lr": 0.05,
                "model": "xgboost",
                **BY_KEY,
                "note": AWS,
                "cmd": f"git push https://{GITHUB}@github.com/o/r",
                "webhook": SLACK,
                "session": JWT,
                "deploy_key_file": "x",
                "pem": PEM,
                "seed_blob": RANDOM,
                "ticket": f"see {CORP}",
                "internal_comment": INTERNAL,
            }
        )
        tracker.set_tags(
            {
                "mlflow.source.git.commit": SHA,
                "mlflow.source.git.repoURL": f"https://bob:{URL_PASSWORD}@example.com/r.git",
                "mlflow.note.content": f"Deployed with {GITHUB}.",
                "team": "rides",
            }
        )
        for step in range(3):
            tracker.log_metric("rmse", 5.0 - step, step=step)
            tracker.log_metric("internal_cost", 99.0 + step, step=step)
        tracker.log_metric("tokens_per_second", 1234.5)
        tracker.log_input(
            tracker.data.from_numpy(
                np.zeros((4, 2)),
                source=f"s3://bob:{URL_PASSWORD}@bucket/data.parquet",
                name="train",
            ),
            context="training",
        )
        tracker.log_text("small and public", "notes/small.txt")
        tracker.log_dict({"db": {"password": IN_JSON, "host": "db.local"}}, "config.json")
        notebook = {"cells": [{"source": ["import os\n", f"api_key = '{IN_NOTEBOOK}'\n"]}]}
        tracker.log_text(json.dumps(notebook), "analysis.ipynb")
        tracker.log_text(f"export API_TOKEN={IN_ENV}\nregion: eu\nkey_id: {AWS}\n", "run.env")
        tracker.log_text("x" * 2048, "big.txt")
        tracker.log_text("weights", "model.ckpt")
        main = run.info.run_id
        for i in range(2):  # trials: the sweep page and its data
            with tracker.start_run(run_name=f"trial-{i}", nested=True):
                tracker.log_params({"lr": 0.1 * (i + 1), "trial_secret": IN_TRIAL})
                tracker.log_metric("rmse", 4.0 - i)
    tracker.set_experiment("sandbox-qz7")
    with tracker.start_run(run_name="sandbox-run") as run:
        tracker.log_param("sandbox_param", "qz7-value-visible-nowhere")
        scratch = run.info.run_id
    client = tracker.tracking.MlflowClient()
    client.create_registered_model(
        "taxi", tags={"deploy_token": BY_KEY["auth_token"]}, description=f"Pushed with {GITHUB}"
    )
    client.create_model_version(
        "taxi",
        f"runs:/{main}/model",
        run_id=main,
        tags={"signed_with": AWS},
        description=f"key {SLACK}",
    )
    client.transition_model_version_stage("taxi", 1, "Production", reason=f"token {JWT}")
    tracker.api._tracking_uri = None
    return main, scratch


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("publish")
    main, scratch = _seed(str(root / "store"), root)
    write_files(root, {"pyproject.toml": CONFIG, "reports/everything.md": REPORT})
    build(
        str(root / "store"),
        root / "site",
        reports=str(root / "reports"),
        config=load_config(root / "pyproject.toml"),
    )
    return Built(root / "site", main, scratch)


def soup(built: Built, path: str) -> BeautifulSoup:
    return BeautifulSoup((built.site / path).read_text(encoding="utf-8"), "html.parser")


def site_files(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*") if p.is_file())


def test_no_secret_anywhere_in_the_site(built: Built) -> None:
    files = site_files(built.site)
    kinds = {p.suffix for p in files}
    assert {".html", ".json", ".csv", ".js", ".txt"} <= kinds
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret!r} is in {path}"


def test_every_kind_of_page_was_built(built: Built) -> None:
    for path in (
        "index.html",
        "experiments/public-a.html",
        "experiments/public-a-compare.html",
        "experiments/public-a.data.js",
        f"runs/{built.main}.html",
        f"sweeps/{built.main}.html",
        "models/taxi.html",
        "models/taxi/v1.html",
        "reports/everything.html",
        "assets/search-index.js",
    ):
        assert (built.site / path).is_file(), path
    index = (built.site / "assets" / "search-index.js").read_text()
    assert "db_password" in index and "trial_secret" in index  # keys stay searchable


def test_marker_and_ordinary_values_are_shown(built: Built) -> None:
    page = soup(built, f"runs/{built.main}.html")
    params = {
        tr.th.get_text(strip=True): tr.td.get_text(strip=True)
        for tr in page.select("table.params tr")
        if tr.th and tr.td
    }
    assert params["db_password"] == MARKER
    assert params["API_KEY"] == MARKER
    assert params["deploy_key_file"] == MARKER
    assert params["note"] == MARKER
    assert params["cmd"] == "git push https://REDACTED@github.com/o/r"
    assert params["ticket"] == f"see {MARKER}"
    assert params["lr"] == "0.05" and params["model"] == "xgboost"
    code = {tr.th.get_text(): tr.td.get_text(strip=True) for tr in page.select("table.code tr")}
    assert code["commit"] == SHA
    assert code["repository"] == "https://example.com/r.git"
    tags = {
        tr.th.get_text(strip=True): tr.td.get_text(strip=True)
        for tr in page.select("table.tags tbody tr")
    }
    assert tags["team"] == "rides"
    description = page.select_one(".description")
    assert description is not None and f"Deployed with {MARKER}." in description.get_text()


def test_metrics_matched_by_configured_keys_are_left_out(built: Built) -> None:
    # Without the line-break opportunities in names (<wbr>): "internal_<wbr>cost" is a leak.
    text = (built.site / "runs" / f"{built.main}.html").read_text().replace("<wbr>", "")
    assert "internal_cost" not in text
    assert "tokens_per_second" in text  # the built-in key patterns never hide metrics
    assert not list(built.site.rglob("*internal_cost*"))


def test_reports_query_the_redacted_tables(built: Built) -> None:
    page = soup(built, "reports/everything.html")
    cells = [td.get_text(strip=True) for td in page.select("td")]
    assert MARKER in cells and "xgboost" in cells
    assert "public-a" in cells and "sandbox-qz7" not in cells


def test_excluded_experiment_is_nowhere(built: Built) -> None:
    assert (built.site / "experiments" / "public-a.html").is_file()
    assert not list(built.site.rglob("*qz7*"))
    assert not list(built.site.rglob(f"*{built.scratch}*"))
    for path in site_files(built.site):
        data = path.read_bytes().replace(b"<wbr>", b"")  # names' line-break opportunities
        assert b"qz7" not in data and built.scratch.encode() not in data, path
    home = soup(built, "index.html")
    assert {a["href"] for a in home.select("a[href^='experiments/']")} == {
        "experiments/public-a.html"
    }


def test_registry_pages_are_redacted(built: Built) -> None:
    text = (built.site / "models" / "taxi.html").read_text()
    assert MARKER in text
    assert "Production" in text


def test_artifact_rules(built: Built) -> None:
    page = soup(built, f"runs/{built.main}.html")
    rows = {tr.th.get_text(strip=True): tr for tr in page.select("table.artifacts tbody tr")}
    run_dir = built.site / "runs" / built.main / "artifacts"
    assert rows["notes/small.txt"].find("a", string="download") is not None
    assert (run_dir / "notes" / "small.txt").read_text() == "small and public"
    big, ckpt = rows["big.txt"], rows["model.ckpt"]
    assert big.find("a") is None and ckpt.find("a") is None
    assert "2.0 KB" in big.get_text() and "larger than 1.0 KB" in big.get_text()
    assert "excluded by publish rules" in ckpt.get_text()
    assert not (run_dir / "big.txt").exists() and not (run_dir / "model.ckpt").exists()
    shown = {d.summary.contents[0].strip() for d in page.select("details.artifact-preview")}
    assert "notes/small.txt" in shown and "big.txt" not in shown and "model.ckpt" not in shown
    assert "x" * 100 not in str(page)


def test_title_from_config(built: Built) -> None:
    assert "Team Lab" in soup(built, "index.html").title.get_text()


def test_include_keeps_only_matching_experiments(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    for name in ("nyc-taxi", "nyc-bikes", "paris-taxi"):
        tracker.set_experiment(name)
        with tracker.start_run():
            tracker.log_metric("rmse", 1.0)
    write_files(
        tmp_path, {"tracker.toml": '[experiments]\ninclude = ["nyc-*"]\nexclude = ["nyc-bikes"]\n'}
    )
    build(uri, tmp_path / "site", config=load_config(tmp_path / "tracker.toml"))
    pages = sorted(p.name for p in (tmp_path / "site" / "experiments").glob("*.html"))
    assert pages == ["nyc-taxi-charts.html", "nyc-taxi-compare.html", "nyc-taxi.html"]


def test_cli_build_config_and_title_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("exp")
    with tracker.start_run():
        tracker.log_param("password", "swordfish-123")
    (tmp_path / ".git").mkdir()
    write_files(
        tmp_path,
        {
            "tracker.toml": 'title = "Found"\nstore = "store"\n',
            "elsewhere.toml": 'title = "Given"\nstore = "store"\n[redact]\ndefault_keys = false\n',
        },
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["build", "--out", "a"])
    assert result.exit_code == 0, result.output
    index = (tmp_path / "a" / "index.html").read_text()
    assert "Found" in index
    assert "swordfish-123" not in "".join(
        p.read_text(errors="ignore") for p in site_files(tmp_path / "a")
    )
    result = runner.invoke(cli, ["build", "--out", "b", "--config", "elsewhere.toml"])
    assert result.exit_code == 0, result.output
    assert "Given" in (tmp_path / "b" / "index.html").read_text()
    run_pages = list((tmp_path / "b" / "runs").glob("*.html"))
    assert "swordfish-123" in run_pages[0].read_text()  # default key patterns turned off
    result = runner.invoke(cli, ["build", "--out", "c", "--title", "Flag"])
    assert result.exit_code == 0, result.output
    assert "Flag" in (tmp_path / "c" / "index.html").read_text()


def test_cli_build_reports_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, {"tracker.toml": '[artifacts]\nmax_size = "ten megs"\n'})
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--store", str(tmp_path), "build"])
    assert result.exit_code == 1
    assert "artifacts.max_size" in result.output and "tracker.toml" in result.output
    assert '"10MB"' in result.output


def test_text_artifacts_are_redacted_copies(built: Built) -> None:
    run_dir = built.site / "runs" / built.main / "artifacts"
    config = json.loads((run_dir / "config.json").read_text())
    assert config == {"db": {"password": MARKER, "host": "db.local"}}
    # Not an inert type: copied with .txt appended (#15).
    assert (run_dir / "run.env.txt").read_text() == (
        f"export API_TOKEN={MARKER}\nregion: eu\nkey_id: {MARKER}\n"
    )
    assert (run_dir / "notes" / "small.txt").read_text() == "small and public"
    notebook = json.loads((run_dir / "analysis.ipynb.txt").read_text())  # still valid JSON
    assert notebook["cells"][0]["source"] == ["import os\n", f"api_key = {MARKER}\n"]
    page = soup(built, f"runs/{built.main}.html")
    rows = {tr.th.get_text(strip=True): tr for tr in page.select("table.artifacts tbody tr")}
    assert "secrets redacted in this copy" in rows["config.json"].get_text()
    assert "secrets redacted" not in rows["notes/small.txt"].get_text()


def test_query_snapshots_never_hold_or_serve_published_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.query import StoreQuery, snapshot

    monkeypatch.setenv("TRACKER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACKER_QUERY_SNAPSHOTS", raising=False)
    monkeypatch.setattr(snapshot, "MIN_LOAD_SECONDS", 0.0)
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    with tracker.start_run():
        tracker.log_param("db_password", "snap-secret-31")
    tracker.api._tracking_uri = None
    plain = tracker.TrackerClient(uri)
    assert plain.sql("SELECT value FROM params")["value"].tolist() == ["snap-secret-31"]
    assert snapshot.wait_for_saves(30)  # saved in the background, after the result
    assert os.path.exists(snapshot.path_for(plain.store.fs.uri()))  # saved, unredacted
    build(uri, tmp_path / "site")
    for path in site_files(tmp_path / "site"):
        assert b"snap-secret-31" not in path.read_bytes(), path
    fresh = StoreQuery(tracker.TrackerClient(uri).store)  # the snapshot is still the plain one
    assert fresh.sql("SELECT value FROM params")["value"].tolist() == ["snap-secret-31"]


def test_a_new_artifact_rule_rebuilds_reused_run_pages(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    with tracker.start_run() as run:
        tracker.log_params({"lr": "0.05", "depth": "6"})
        tracker.log_text("x" * 2048, "big.txt")
    tracker.api._tracking_uri = None
    build(uri, tmp_path / "site")
    copy = tmp_path / "site" / "runs" / run.info.run_id / "artifacts" / "big.txt"
    assert copy.is_file()
    write_files(tmp_path, {"tracker.toml": "[artifacts]\nmax_size = 1024\n"})
    build(uri, tmp_path / "site", config=load_config(tmp_path / "tracker.toml"))
    page = BeautifulSoup(
        (tmp_path / "site" / "runs" / f"{run.info.run_id}.html").read_text(), "html.parser"
    )
    params = {
        tr.th.get_text(strip=True): tr.td.get_text(strip=True)
        for tr in page.select("table.params tbody tr")
    }
    assert params == {"lr": "0.05", "depth": "6"}
    assert not copy.exists()
    assert "larger than 1.0 KB" in page.select_one("table.artifacts").get_text()
