"""Redactor (#6, #15): secrets by key and by shape are replaced, in values, names, paths and
files of any encoding; ids, digests and names without secrets are not."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from tracker.config import RedactRules, TrackerConfig
from tracker.exceptions import InvalidArgumentError
from tracker.redaction import MARKER, Redactor
from tracker.site.publish import PublishRules

DEFAULT = Redactor.from_config()


@pytest.mark.parametrize(
    "key", ["password", "DB_PASSWORD", "aws_secret_access_key", "HF_TOKEN", "api-key", "Passwd"]
)
def test_default_keys_are_redacted_whatever_the_case(key: str) -> None:
    assert DEFAULT.is_redacted_key(key)
    assert DEFAULT.redact_value(key, "0.1") == MARKER


@pytest.mark.parametrize("key", ["lr", "model", "max_depth", "mlflow.source.git.commit"])
def test_other_keys_keep_their_values(key: str) -> None:
    assert not DEFAULT.is_redacted_key(key)
    assert DEFAULT.redact_value(key, "xgboost 0.1") == "xgboost 0.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AKIAIOSFODNN7EXAMPLE", MARKER),
        ("id ASIAY34FZKBOKMUTVV7A here", f"id {MARKER} here"),
        ("ghp_" + "a1B2" * 9, MARKER),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", MARKER),
        ("glpat-abcdefghij0123456789", MARKER),
        ("xoxb-123456789012-abcdefABCDEF", MARKER),
        ("sk-proj-abcdefghijklmnopqrstuvwx", MARKER),
        ("hf_abcdefghijklmnopqrstuvwxyz0123456789", MARKER),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFU",
            MARKER,
        ),
        ("Authorization: Bearer abcdefghijklmnop1234", f"Authorization: Bearer {MARKER}"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEv\nQ==\n-----END PRIVATE KEY-----\nok", f"{MARKER}\nok"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", MARKER),
        ("https://alice:hunter2@example.com/x", "https://alice:REDACTED@example.com/x"),
        ("https://ghp_" + "a1B2" * 9 + "@github.com/o/r", "https://REDACTED@github.com/o/r"),
        ("seed x9Tq7LmP2vRz8KwYb4NcJ6hF1sDg3QeU", f"seed {MARKER}"),
    ],
)
def test_credential_shapes_are_replaced_under_any_key(text: str, expected: str) -> None:
    assert DEFAULT.redact_text(text) == expected
    assert DEFAULT.redact_value("comment", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0123456789abcdef0123456789abcdef01234567",  # git SHA
        uuid.uuid4().hex,  # run id
        str(uuid.uuid4()),
        hashlib.sha256(b"x").hexdigest(),
        "sha256:" + hashlib.sha256(b"y").hexdigest(),
        "XGBRegressorWithEarlyStopping2024Final",
        "nyc_taxi_2024_01_yellow_tripdata_v2_Final",
        "data/train/FeatureSet2024/Part1/part-0001.parquet",
        "HistGradientBoostingRegressor_v2_2024_11_27",
        "models:/NycTaxiDuration/Production2024v3",
        "git@github.com:org/repo.git",
        "ssh://git@github.com/org/repo",
        "s3://bucket/prefix/experiment_id=1/run_id=abc",
        "2026-11-27T09:35:12.123456+00:00",
        "[redacted]",
    ],
)
def test_ids_digests_and_names_are_not_redacted(text: str) -> None:
    assert DEFAULT.redact_text(text) == text


def test_configured_keys_values_and_allow() -> None:
    rules = RedactRules(keys=("*internal*",), values=("corp-[0-9]{6}",), allow=("max_tokens",))
    r = Redactor.from_config(TrackerConfig(redact=rules))
    assert r.redact_value("Internal_Note", "x") == MARKER
    assert r.redact_value("ticket", "see corp-123456") == f"see {MARKER}"
    assert r.redact_value("max_tokens", "512") == "512"
    assert r.redact_value("max_tokens", "AKIAIOSFODNN7EXAMPLE") == MARKER  # values still scanned
    assert r.redact_value("password", "x") == MARKER


def test_defaults_can_be_turned_off() -> None:
    no_keys = Redactor.from_config(RedactRules(default_keys=False))
    assert no_keys.redact_value("password", "swordfish") == "swordfish"
    assert no_keys.redact_value("x", "AKIAIOSFODNN7EXAMPLE") == MARKER
    nothing = Redactor.from_config(RedactRules(default_values=False, values=("corp-\\d+",)))
    assert nothing.redact_value("x", "AKIAIOSFODNN7EXAMPLE") == "AKIAIOSFODNN7EXAMPLE"
    assert nothing.redact_value("x", "https://a:b@h/") == "https://a:b@h/"
    assert nothing.redact_value("x", "corp-1") == MARKER
    assert nothing.redact_value("password", "x") == MARKER


def test_mappings_json_and_documents() -> None:
    assert DEFAULT.redact_mapping({"token": "t", "team": "rides"}) == {
        "token": MARKER,
        "team": "rides",
    }
    doc = json.dumps({"db": {"password": "p", "port": 5432}, "users": ["AKIAIOSFODNN7EXAMPLE"]})
    assert json.loads(DEFAULT.redact_json(doc)) == {
        "db": {"password": MARKER, "port": 5432},
        "users": [MARKER],
    }
    assert DEFAULT.redact_json("not json AKIAIOSFODNN7EXAMPLE") == f"not json {MARKER}"
    assert DEFAULT.redact_value("config", "lr: 0.1\npassword: x") == f"lr: 0.1\npassword: {MARKER}"
    env = "export SECRET_KEY=abc\nDEBUG=true\n  password: 'x y'\nname = demo\n"
    assert DEFAULT.redact_document(env) == (
        f"export SECRET_KEY={MARKER}\nDEBUG=true\n  password: {MARKER}\nname = demo\n"
    )


def test_bad_input_is_a_tracker_error() -> None:
    with pytest.raises(InvalidArgumentError, match="value to redact must be a string, got 3"):
        DEFAULT.redact_value("k", 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="needs a TrackerConfig or RedactRules"):
        Redactor.from_config("all")  # type: ignore[arg-type]


# -- #15: names, separators, text inside text, files of any encoding ---------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("creds_AKIAIOSFODNN7EXAMPLE", f"creds_{MARKER}"),
        ("x-ghp_" + "a1B2" * 9, f"x-{MARKER}"),
        ("my_hf_abcdefghijklmnopqrstuvwxyz0123456789", f"my_{MARKER}"),
        ("Note: password: hunter2 (old)", f"Note: password: {MARKER} (old)"),
        ("GET /v1?token=abc123&page=2", f"GET /v1?token={MARKER}&page=2"),
        ('{"name": "x", "api_key": "k 1"}', f'{{"name": "x", "api_key": "{MARKER}"}}'),
        ("names/https:/al:pw@db.example.com/x.txt", "names/https:/al:REDACTED@db.example.com/x.txt"),
        ("names/Run7_x9Tq7LmP2vRz8KwYb4NcJ6hF1sDg3QeU.txt", f"{MARKER}.txt"),
        ("names/seed_x9Tq7LmP2vRz8KwYb4NcJ6hF1sDg3QeU.txt", f"{MARKER}.txt"),
    ],
)
def test_credentials_after_separators_and_inside_text(text: str, expected: str) -> None:
    assert DEFAULT.redact_text(text) == expected


@pytest.mark.parametrize(
    "text", ["https://keyserver.example.com:443/x", "12:30", "a=1", "key:value", "AKIAx" * 5]
)
def test_host_ports_times_and_plain_assignments_stay(text: str) -> None:
    assert DEFAULT.redact_text(text) == text


def test_every_detector_has_a_hint_so_the_scan_is_guarded() -> None:
    from tracker.redaction import DETECTORS, HINTS

    assert set(HINTS) == set(DETECTORS)
    assert DEFAULT.guards and DEFAULT.guards[0] is not None


def test_redacted_names_stay_distinct_and_stable() -> None:
    a, b = "creds_AKIAIOSFODNN7EXAMPLE", "creds_AKIAIOSFODNN7EXAMPLF"
    shown_a, shown_b = DEFAULT.redact_name(a), DEFAULT.redact_name(b)
    assert shown_a.startswith("creds_[redacted~") and shown_a != shown_b
    assert DEFAULT.redact_name(a) == shown_a  # stable: the same page and file names next build
    assert DEFAULT.redact_name(shown_a) == shown_a
    assert DEFAULT.redact_name("learning_rate") == "learning_rate"
    assert DEFAULT.redact_mapping({a: "1"}) == {shown_a: "1"}


def test_redacted_paths_keep_folders_and_extension() -> None:
    path = DEFAULT.redact_path("keys/creds_AKIAIOSFODNN7EXAMPLE.txt")
    assert path.startswith("keys/creds_REDACTED~") and path.endswith(".txt")
    assert "[" not in path and "AKIA" not in path
    assert DEFAULT.redact_path("plots/loss.png") == "plots/loss.png"
    odd = DEFAULT.redact_path("x.AKIAIOSFODNN7EXAMPLE")
    assert "AKIA" not in odd and not odd.endswith(".REDACTED")


def test_redact_structure_redacts_keys_too() -> None:
    doc = {"AKIAIOSFODNN7EXAMPLE": 1, "nested": {"db_password": "p"}}
    out = DEFAULT.redact_structure(doc)
    assert "AKIAIOSFODNN7EXAMPLE" not in json.dumps(out)
    assert out["nested"] == {"db_password": MARKER}


def test_holds_secret() -> None:
    assert DEFAULT.holds_secret("\x01\x02AWS_SECRET_ACCESS_KEY=abc\x00")
    assert not DEFAULT.holds_secret("\x89PNG\r\n\x1a\n plain bytes")


def test_new_functions_name_bad_input() -> None:
    with pytest.raises(InvalidArgumentError, match="name to redact must be a string, got 3"):
        DEFAULT.redact_name(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="path to redact must be a string, got None"):
        DEFAULT.redact_path(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="text to redact must be a string, got b'x'"):
        DEFAULT.holds_secret(b"x")  # type: ignore[arg-type]


# -- artifact files (tracker.site.publish) -------------------------------------------------------


def _rules() -> PublishRules:
    return PublishRules.from_config()


def test_a_latin1_yaml_file_is_redacted_in_its_own_encoding() -> None:
    data = "# café\nuser: bob\npassword: s3cr3t-pässword\n".encode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    out = _rules().redact_file("settings.yaml", data)
    assert out == f"# café\nuser: bob\npassword: {MARKER}\n".encode("latin-1")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_redacted(encoding: str) -> None:
    data = "token: abc\nname: x\n".encode(encoding)
    out = _rules().redact_file("notes.txt", data)
    assert out.decode(encoding) == f"token: {MARKER}\nname: x\n"


def test_a_binary_file_holding_a_secret_is_replaced_by_a_notice() -> None:
    from tracker.site.publish import WITHHELD_NOTICE

    rules = _rules()
    environ = b"HOME=/root\x00AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI\x00PATH=/bin\x00"
    assert rules.redact_file("environ", environ) == WITHHELD_NOTICE
    utf16 = "ghp_" + "a1B2" * 9
    assert rules.redact_file("x.bin", b"\x00" + utf16.encode("utf-16-le")) == WITHHELD_NOTICE
    image = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert rules.redact_file("plot.png", image) == image
    with pytest.raises(InvalidArgumentError, match="needs a path string and bytes"):
        rules.redact_file("x", "text")  # type: ignore[arg-type]


def test_artifact_paths_map_back_to_the_stored_file() -> None:
    rules = _rules()
    stored = "names/creds_AKIAIOSFODNN7EXAMPLE.txt"
    shown = rules.scrub_key("artifact", stored)
    assert shown != stored and rules.artifact_source(shown) == stored
    assert rules.artifact_source("plain.txt") == "plain.txt"
    with pytest.raises(InvalidArgumentError, match="artifact_source needs a path string, got 3"):
        rules.artifact_source(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="needs the info dict, got 'x'"):
        rules.redact_model_info("x")  # type: ignore[arg-type]
    assert rules.scrub_key("metric", "loss_AKIAIOSFODNN7EXAMPLE").startswith("loss_[redacted~")
    assert rules.scrub_key("metric", "val_AKIAIOSFODNN7EXAMPLE_rmse").endswith("]_rmse")
    assert rules.scrub_key("run", "run_name") == "run_name"
    assert "AKIA" not in rules.scrub_key("input", "train AKIAIOSFODNN7EXAMPLE:0af3:training")


def test_random_binary_files_are_copied_as_they_are() -> None:
    """Binary files are scanned by their printable runs: random bytes (compressed data, model
    weights) never look like a secret, so they are copied unchanged."""
    import random

    rules = _rules()
    for seed in range(10):
        data = random.Random(seed).randbytes(256 * 1024)
        assert rules.redact_file("weights.bin", data) == data, seed
    log = b"\x01" + b"step 1 ok\n" * 1000 + b"db_password: hunter2\n" + b"step 2 ok\n" * 1000
    assert rules.redact_file("run.log", log) != log
