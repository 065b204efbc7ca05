"""Redaction has no gaps (#15): 40 kinds of secret planted in every place of a store that
reaches the site or a PR comment never appear in any file the build writes, in the output
(warnings included) of ``tracker build``, or in ``tracker summary`` (Markdown and text).

Each secret is planted in context (``creds_AKIA…``, ``password: …``, ``https://user:pw@host``)
in: run names, param/tag/metric keys and values, run and experiment descriptions, experiment
names and tag keys, sweep trials' param keys, model names (before and after a rename),
model/version descriptions and tags (keys and values), version sources, aliases, stage
reasons, artifact file names (copied, and listed without a file), artifact contents (UTF-8,
JSON, Latin-1, UTF-16, binary), dataset names and sources, and a report that selects from
every table. Where the API refuses a name
(a key with ``=``, a model name with ``:``), the record is written by the store's own writers
without the API's checks: a store is untrusted input, and a hostile file can hold any bytes.
"""

from __future__ import annotations

import base64
import json
import os
import random
import string
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import tracker
from tracker.client import TrackerClient
from tracker.exceptions import TrackerError
from tracker.redaction import MARKER, Redactor
from tracker.registry import Registry
from tracker.registry.state import model_id_for

REPO = Path(__file__).resolve().parents[2]
RNG = random.Random(1515)
UPPER = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"


def _r(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def _pw() -> str:
    """A password with no credential shape: only its context (``password: …``) gives it away."""
    return f"{_r(string.ascii_lowercase, 6)}-{RNG.randrange(10**6):06d}-{_r(string.ascii_lowercase, 5)}"


def _b64url(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Kind:
    """One kind of secret: the text planted, and the parts that must never be published."""

    name: str
    carrier: str
    needles: tuple[str, ...]


def _kinds() -> list[Kind]:
    k: list[Kind] = []

    def add(name: str, carrier: str, *needles: str) -> None:
        k.append(Kind(name, carrier, needles))

    s = "AKIA" + _r(UPPER, 16)
    add("aws access key id after _", f"creds_{s}", s)
    s = "ASIA" + _r(UPPER, 16)
    add("aws session key id after -", f"tmp-{s}", s)
    s = _r(B64, 40)
    add("aws secret access key", f"aws_secret_access_key = {s}", s)
    s = "ghp_" + _r(ALNUM, 36)
    add("github personal token", f"token_{s}", s)
    s = "gho_" + _r(ALNUM, 36)
    add("github oauth token", f"oauth {s}", s)
    s = "github_pat_" + _r(ALNUM, 22) + "_" + _r(ALNUM, 59)
    add("github fine-grained token", f"pat-{s}", s)
    s = "glpat-" + _r(ALNUM, 20)
    add("gitlab token", f"gl {s}", s)
    s = f"xoxb-{_r(string.digits, 12)}-{_r(string.digits, 12)}-{_r(ALNUM, 24)}"
    add("slack bot token", f"slack_{s}", s)
    s = _r(ALNUM, 24)
    add("slack webhook", f"https://hooks.slack.com/services/T{_r(UPPER, 8)}/B{_r(UPPER, 8)}/{s}", s)
    s = _r(ALNUM, 68)
    add("discord webhook", f"https://discord.com/api/webhooks/{_r(string.digits, 18)}/{s}", s)
    s = "sk_live_" + _r(ALNUM, 24)
    add("stripe live key", f"stripe_{s}", s)
    s = "AIza" + _r(ALNUM + "_-", 35)
    add("google api key", f"maps-{s}", s)
    s = "GOCSPX-" + _r(ALNUM, 28)
    add("google oauth client secret", f"client {s}", s)
    s = "ya29." + _r(ALNUM, 60)
    add("google oauth access token", f"gcp_{s}", s)
    body = _r(B64, 64)
    add("pem private key",
        f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n{_r(B64, 40)}==\n-----END RSA PRIVATE KEY-----",
        body)
    key_id, body = _r(HEX, 40), _r(B64, 64)
    service_account = json.dumps({
        "type": "service_account", "private_key_id": key_id,
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n",
    })
    add("gcp service account key", service_account, key_id, body)
    payload = _b64url(json.dumps({"sub": _r(ALNUM, 12), "role": "admin"}))
    s = f"{_b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT'}))}.{payload}.{_r(ALNUM, 43)}"
    add("jwt", f"session_{s}", s, payload)
    s = _pw()
    add("yaml password", f"password: {s}", s)
    s = _pw()
    add("ini password", f"[database]\npasswd = {s}", s)
    s = _pw()
    add("env secret", f"export DB_SECRET={s}", s)
    s = _pw()
    add("url userinfo password", f"https://alice:{s}@db.example.com:5432/x", s)
    s = _r(B64, 86) + "=="
    add("azure storage key",
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={s};EndpointSuffix=core", s)
    s = _r(ALNUM, 3) + "8Q~" + _r(ALNUM + "_~.-", 34)
    add("azure client secret", f"azure_{s}", s)
    s = _r(ALNUM, 43)
    add("azure sas signature",
        f"https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&sp=r&sig={s}%3D", s)
    s = "npm_" + _r(ALNUM, 36)
    add("npm token", f"npm-{s}", s)
    s = "sk-proj-" + _r(ALNUM, 48)
    add("openai project key", f"openai_{s}", s)
    s = "sk-" + _r(ALNUM, 48)
    add("openai key", f"key sk {s}", s)
    s = "sk-ant-api03-" + _r(ALNUM, 40)
    add("anthropic key", f"claude-{s}", s)
    s = "hf_" + _r(ALNUM, 34)
    add("hugging face token", f"hub_{s}", s)
    s = _pw()
    add("generic secret=", f"secret={s}", s)
    s = _pw()
    add("generic token=", f"https://api.example.com/v1?token={s}&page=2", s)
    s = _pw()
    add("generic api_key=", f"api_key={s}", s)
    s = _r(ALNUM, 40)
    add("bearer token", f"Authorization: Bearer {s}", s)
    s = base64.b64encode(f"bob:{_pw()}".encode()).decode()
    add("basic auth header", f"Authorization: Basic {s}", s)
    s = f"SG.{_r(ALNUM, 22)}.{_r(ALNUM, 43)}"
    add("sendgrid key", f"mail_{s}", s)
    s = "SK" + _r(HEX, 32)
    add("twilio key", f"twilio_{s}", s)
    s = "dapi" + _r(HEX, 32)
    add("databricks token", f"dbx-{s}", s)
    s = "hvs." + _r(ALNUM, 24)
    add("vault token", f"vault_{s}", s)
    s = "pypi-AgEIcHlwaS5vcmc" + _r(ALNUM, 60)
    add("pypi token", f"upload {s}", s)
    s = "dop_v1_" + _r(HEX, 64)
    add("digitalocean token", f"do_{s}", s)
    s = _r(ALNUM, 40)
    add("random high-entropy string", f"seed_{s}", s)
    s = f"corp-{RNG.randrange(10**6):06d}"
    add("the project's own redact.values pattern", f"ticket {s}", s)
    return k


KINDS = _kinds()

CONFIG = """
[tool.tracker]
title = "Hostile store"

[tool.tracker.redact]
values = ['corp-[0-9]{6}']

[tool.tracker.artifacts]
max_size = "1MB"
"""

# Every row of every table a report can read, aggregated into one cell per table (a report
# table shows at most 200 rows). ``records`` is not readable in the report sandbox: that block
# shows an error, and would be grepped like the rest if it ever became readable.
REPORT = """---
title: Everything
---
```sql
SELECT 'params', string_agg(p.key || '=' || p.value || ' ' || r.run_name, ' | ')
FROM params p JOIN runs r USING (run_id)
```

```sql
SELECT 'tags', string_agg(key || '=' || value, ' | ') FROM tags
```

```sql
SELECT 'metrics', string_agg(DISTINCT key, ' | ') FROM latest_metrics
```

```sql
SELECT 'experiments', string_agg(e.name || ' ' || coalesce(t.key, '') || '=' ||
       coalesce(t.value, ''), ' | ')
FROM experiments e LEFT JOIN experiment_tags t USING (experiment_id)
```

```sql
SELECT 'runs', string_agg(run_name || ' ' || user_id || ' ' || artifact_uri, ' | ') FROM runs
```

```sql
SELECT 'artifacts', string_agg(path || ' ' || coalesce(info, ''), ' | ') FROM artifacts
```

```sql
SELECT 'inputs', string_agg(name || ' ' || source || ' ' || coalesce(schema, ''), ' | ')
FROM inputs
```

```sql
SELECT kind, string_agg(coalesce(key, '') || '=' || coalesce(value, ''), ' | ') FROM records
GROUP BY kind
```
"""


def _one_line(text: str) -> str:
    return text.replace("\n", " ")


def _plant_run(client: TrackerClient, experiment_id: str, kind: Kind, files: Path) -> str:
    """A run holding ``kind`` in its name, keys, values, description, artifacts and dataset."""
    c = kind.carrier
    run = client.create_run(experiment_id, run_name=c)
    run_id = run.info.run_id
    log = client._runlog(run_id)
    client.log_param(run_id, "note", c)
    client.set_tag(run_id, "note", c)
    client.set_tag(run_id, "mlflow.note.content", f"Description:\n{c}\n")
    client.log_metric(run_id, "rmse", 1.0 + KINDS.index(kind) / 100, step=0)
    ts = int(time.time() * 1000)
    for record_kind, value in (("param", "1"), ("tag", "1")):
        try:  # the API's key rules refuse some; a hostile file does not care
            (client.log_param if record_kind == "param" else client.set_tag)(run_id, c, value)
        except TrackerError:
            log.add_record(record_kind, c, value)
    try:
        client.log_metric(run_id, c, 2.0, step=0)
    except TrackerError:
        log._append(("metric", c, None, 2.0, 0, ts, time.time_ns()))
    client.log_text(run_id, f"lr: 0.1\n{c}\n", "config.yaml")
    client.log_text(run_id, json.dumps({"note": c, "nested": {"value": c}}), "params.json")
    client.log_text(run_id, "ok", f"names/{_one_line(c)}.txt")
    folder = files / run_id
    folder.mkdir(parents=True)
    (folder / "settings-latin1.yaml").write_bytes(f"# café\n{c}\n".encode("latin-1"))
    (folder / "notes-utf16.txt").write_bytes(f"résumé\n{c}\n".encode("utf-16"))
    (folder / "blob.bin").write_bytes(b"\x00\x01\x02" + c.encode() + b"\x00\xff")
    client.log_artifacts(run_id, str(folder), "files")
    log.add_record("artifact", f"missing/{_one_line(c)}.txt", "{}", 3)  # a warning names it
    dataset = tracker.data.from_numpy(
        np.zeros((2, 2)), source=f"s3://bucket/{_one_line(c)}", name=f"train {c}"
    )
    client.log_inputs(run_id, [dataset])
    trial = client.create_run(experiment_id, run_name=f"trial {c}", parent_run_id=run_id)
    trial_id = trial.info.run_id
    try:  # a sweep page: its trials' param and metric keys are columns and chart axes
        client.log_param(trial_id, c, "0.1")
    except TrackerError:
        client._runlog(trial_id).add_record("param", c, "0.1")
    client.log_metric(trial_id, "rmse", 0.5, step=0)
    client.set_terminated(trial_id)
    client.set_terminated(run_id)
    return run_id


def _plant_model(registry: Registry, kind: Kind, run_id: str, index: int) -> None:
    """A model with ``kind`` in its name, description, tags, alias, version and stage reason,
    written as raw events (the API refuses ':' and '/' in a model name)."""
    c = kind.carrier
    first, name = f"old-{index} {c}", f"model-{index} {c}"
    at = 1_767_225_600_000 + index
    events = [
        ("model_created", None, None, first, "u", at),
        ("model_renamed", None, None, name, "u", at),
        ("model_description", None, None, f"Model: {c}", "u", at),
        ("model_tag", None, c, "1", "u", at),
        ("model_tag", None, "note", c, "u", at),
        ("version_created", 1, None, json.dumps({
            "source": f"s3://models/{_one_line(c)}", "run_id": run_id, "description": c,
            "tags": {c: "1", "note": c},
        }), "u", at),
        ("version_description", 1, None, f"Version: {c}", "u", at),
        ("version_tag", 1, c, "1", "u", at),
        ("version_tag", 1, "note", c, "u", at),
        ("alias_set", 1, f"alias {c}", None, "u", at),
        ("version_stage", 1, None, "Production", "u", at),
    ]
    registry._publish(model_id_for(first), events, reason=f"promoted: {c}")


@dataclass(frozen=True)
class Outputs:
    root: Path
    site: Path
    run_ids: list[str]
    texts: dict[str, bytes]  # what the commands printed, and the summary file


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env["PYTHONPATH"] = str(REPO)
    env["TRACKER_CACHE_DIR"] = str(root / "cache")
    done = subprocess.run([sys.executable, "-m", "tracker", "--store", "store", *args],
                          cwd=root, env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    root = tmp_path_factory.mktemp("hostile")
    (root / ".git").mkdir()  # the config search stops here
    (root / "pyproject.toml").write_text(CONFIG)
    (root / "reports").mkdir()
    (root / "reports" / "everything.md").write_text(REPORT)
    (root / "baseline").mkdir()  # an empty snapshot: every run is new
    client = TrackerClient(str(root / "store"))
    run_ids = []
    for i, kind in enumerate(KINDS):
        experiment_id = client.create_experiment(f"exp-{i:02d} {kind.carrier}")
        client.set_experiment_tag(experiment_id, "mlflow.note.content", f"About: {kind.carrier}")
        client.set_experiment_tag(experiment_id, "note", kind.carrier)
        tag = ("experiment_tag", kind.carrier, "1", None, None, 0, time.time_ns())
        client._write_experiment(experiment_id, [tag])  # any key: the API refuses some
        run_ids.append(_plant_run(client, experiment_id, kind, root / "files"))
    client.flush()
    registry = Registry(client.store)
    for i, (kind, run_id) in enumerate(zip(KINDS, run_ids)):
        _plant_model(registry, kind, run_id, i)
    build = _run(root, "build", "--out", "site", "--reports", "reports")
    summary = _run(root, "summary", "--markdown", "--baseline", "baseline", "-o", "summary.md")
    text = _run(root, "summary", "--baseline", "baseline")
    return Outputs(root, root / "site", run_ids, {
        "tracker build output": build.stdout + build.stderr,
        "summary.md": (root / "summary.md").read_bytes(),
        "tracker summary --markdown stderr": summary.stdout + summary.stderr,
        "tracker summary (text)": text.stdout + text.stderr,
    })


def _forms(needle: str) -> list[bytes]:
    """The bytes a leaked ``needle`` could take in a file: UTF-8, UTF-16 and lower case (a slug)."""
    return [needle.encode(), needle.encode("utf-16-le"), needle.lower().encode()]


def test_the_secrets_are_forty_kinds() -> None:
    assert len(KINDS) >= 30
    assert len({k.name for k in KINDS}) == len(KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_each_kind_is_caught_in_text_names_and_paths(kind: Kind) -> None:
    from tracker.config import RedactRules

    r = Redactor.from_config(RedactRules(values=("corp-[0-9]{6}",)))
    shown = [
        r.redact_text(kind.carrier), r.redact_document(kind.carrier),
        r.redact_name(kind.carrier), r.redact_path(_one_line(kind.carrier)),
        r.redact_text(f"before {_one_line(kind.carrier)} after"),
    ]
    for text in shown:
        for needle in kind.needles:
            assert needle not in text, f"{kind.name}: {needle!r} in {text!r}"
    assert r.holds_secret(kind.carrier)


def test_no_secret_in_any_file_of_the_site_or_any_output(outputs: Outputs) -> None:
    files = sorted(p for p in outputs.site.rglob("*") if p.is_file())
    assert len(files) > 500
    # Without the line-break opportunities run pages put in names (<wbr>, render.breakable):
    # a needle split by one is still a leak.
    contents = {str(p.relative_to(outputs.site)): p.read_bytes().replace(b"<wbr>", b"")
                for p in files}
    contents.update(outputs.texts)
    leaks = []
    for kind in KINDS:
        for needle in kind.needles:
            forms = _forms(needle)
            for where, data in contents.items():
                lowered = data.lower()
                if any(f in data or f in lowered for f in forms) or needle.lower() in where.lower():
                    leaks.append(f"{kind.name}: {needle[:16]}… in {where}")
    assert not leaks, f"{len(leaks)} leaks:\n" + "\n".join(leaks[:40])


def test_every_location_was_published_with_the_marker(outputs: Outputs) -> None:
    """The grep above means something: every run, experiment and model has its pages, the
    summary lists every run, and the redacted places show the marker."""
    site = outputs.site
    for run_id in outputs.run_ids:
        page = (site / "runs" / f"{run_id}.html").read_text(encoding="utf-8")
        assert MARKER in page or "REDACTED" in page  # URL passwords: https://u:REDACTED@h
        assert "config.yaml" in page and "settings-latin1.yaml" in page
    assert len(list((site / "experiments").glob("*-compare.html"))) == len(KINDS)
    model_pages = [p for p in (site / "models").glob("*.html") if p.name != "index.html"]
    assert len(model_pages) == len(KINDS)
    assert len(list((site / "models").glob("*/v1.html"))) == len(KINDS)
    assert len(list((site / "sweeps").glob("*.html"))) == len(KINDS)
    summary = outputs.texts["summary.md"].decode()
    assert f"{2 * len(KINDS)} new or changed runs in {len(KINDS)} experiments" in summary
    assert summary.count(r"\[redacted\]") >= len(KINDS)
    warnings = outputs.texts["tracker build output"].decode()
    assert warnings.count("is listed but its file") == len(KINDS)  # named, redacted
    report = (site / "reports" / "everything.html").read_text(encoding="utf-8")
    assert report.count("<table") >= 7  # every table a report can read, aggregated
    assert report.count(MARKER) >= len(KINDS)


def test_latin1_utf16_and_binary_artifacts(outputs: Outputs) -> None:
    kind = next(k for k in KINDS if k.name == "yaml password")
    run_id = outputs.run_ids[KINDS.index(kind)]
    files = outputs.site / "runs" / run_id / "artifacts" / "files"
    latin1 = (files / "settings-latin1.yaml").read_bytes()
    assert latin1 == f"# café\npassword: {MARKER}\n".encode("latin-1")  # same encoding, redacted
    utf16 = (files / "notes-utf16.txt").read_bytes().decode("utf-16")
    assert utf16 == f"résumé\npassword: {MARKER}\n"
    # .bin is no inert type: the copy (now the one-line notice, text) is renamed .txt (#15)
    blob = (files / "blob.bin.txt").read_bytes()
    assert b"not copied into the site" in blob and b"\x00" not in blob
    page = (outputs.site / "runs" / f"{run_id}.html").read_text(encoding="utf-8")
    assert page.count("secrets redacted in this copy") >= 5


def test_a_redacted_file_name_is_copied_under_a_stable_secret_free_name(outputs: Outputs) -> None:
    kind = KINDS[0]  # creds_AKIA…
    run_id = outputs.run_ids[0]
    names = outputs.site / "runs" / run_id / "artifacts" / "names"
    [copy] = list(names.iterdir())
    expected = Redactor.from_config().redact_path(f"names/{kind.carrier}.txt")
    assert copy.name == expected.split("/")[-1]
    assert copy.name.startswith("creds_REDACTED~") and copy.name.endswith(".txt")
    assert copy.read_text() == "ok"
    page = (outputs.site / "runs" / f"{run_id}.html").read_text(encoding="utf-8")
    assert f'href="{run_id}/artifacts/{expected}"' in page
