"""Redactor (#6): secrets by key and by shape are replaced; ids, digests and names are not."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from tracker.config import RedactRules, TrackerConfig
from tracker.exceptions import InvalidArgumentError
from tracker.redaction import MARKER, Redactor

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
