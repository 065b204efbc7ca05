"""Project configuration (#6): parsing, discovery, precedence of the store and title, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracker
from tests.conftest import write_files
from tracker.cli import cli
from tracker.config import (
    DEFAULT_MAX_SIZE,
    ArtifactRules,
    ExperimentRules,
    RedactRules,
    TrackerConfig,
    find_config,
    load_config,
    parse_size,
)
from tracker.exceptions import ConfigError, TrackerError

FULL = """
[project]
name = "demo"

[tool.tracker]
title = "Team Lab"
store = "runs/tracking"
base_url = "https://org.github.io/repo/"

[tool.tracker.experiments]
include = ["nyc-*", "paris"]
exclude = ["nyc-scratch*"]

[tool.tracker.redact]
keys = ["*internal*"]
values = ['corp-[0-9]{6}']
allow = ["max_tokens"]
default_keys = false
default_values = true

[tool.tracker.artifacts]
max_size = "10MB"
include = ["*.png", "reports/*"]
exclude = ["*.ckpt"]
"""


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    write_files(tmp_path, {"pyproject.toml": FULL})
    config = load_config(tmp_path / "pyproject.toml")
    assert config == TrackerConfig(
        title="Team Lab",
        store=str(tmp_path / "runs" / "tracking"),
        base_url="https://org.github.io/repo/",
        experiments=ExperimentRules(include=("nyc-*", "paris"), exclude=("nyc-scratch*",)),
        redact=RedactRules(
            keys=("*internal*",),
            values=("corp-[0-9]{6}",),
            allow=("max_tokens",),
            default_keys=False,
            default_values=True,
        ),
        artifacts=ArtifactRules(
            max_size=10 * 1024 * 1024, include=("*.png", "reports/*"), exclude=("*.ckpt",)
        ),
        source=str((tmp_path / "pyproject.toml").resolve()),
    )


def test_tracker_toml_uses_top_level_keys(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "tracker.toml": 'title = "T"\nstore = "s3://bucket/prefix"\n[artifacts]\nmax_size = 2048\n'
        },
    )
    config = load_config(tmp_path / "tracker.toml")
    assert (config.title, config.store, config.artifacts.max_size) == (
        "T",
        "s3://bucket/prefix",
        2048,
    )
    assert config.redact == RedactRules() and config.experiments == ExperimentRules()


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config == TrackerConfig()
    assert (config.title, config.store, config.artifacts.max_size) == (
        "Experiments",
        None,
        DEFAULT_MAX_SIZE,
    )


def test_rules() -> None:
    exps = ExperimentRules(include=("nyc-*",), exclude=("nyc-scratch",))
    assert [exps.publishes(n) for n in ("nyc-taxi", "nyc-scratch", "paris", None)] == [
        True,
        False,
        False,
        False,
    ]
    assert ExperimentRules().publishes(None)
    arts = ArtifactRules(include=("plots/*", "*.md"), exclude=("plots/raw/*",))
    assert [arts.excludes(p) for p in ("plots/a.png", "plots/raw/b.png", "README.md", "m.pkl")] == [
        False,
        True,
        False,
        True,
    ]


# -- discovery -----------------------------------------------------------------------------


def test_discovery_walks_up_and_the_nearest_file_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(
        tmp_path,
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            "pyproject.toml": '[tool.tracker]\ntitle = "root"\n',
            "pkg/pyproject.toml": '[project]\nname = "no tracker table"\n',
            "pkg/deep/er/x.txt": "",
            "other/tracker.toml": 'title = "other"\n',
            "other/pyproject.toml": '[tool.tracker]\ntitle = "loses to tracker.toml"\n',
        },
    )
    monkeypatch.chdir(tmp_path / "pkg" / "deep" / "er")
    assert find_config() == (tmp_path / "pyproject.toml").resolve()
    assert load_config().title == "root"
    monkeypatch.chdir(tmp_path / "other")
    assert load_config().title == "other"


def test_discovery_stops_at_the_repository_root(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"tracker.toml": 'title = "outside"\n', "repo/.git/HEAD": "", "repo/src/a.py": ""},
    )
    assert find_config(tmp_path / "repo" / "src") is None
    assert find_config(tmp_path / "repo" / "..") == (tmp_path / "tracker.toml").resolve()


# -- the store and the title: flag > environment > config > default ------------------------


def _store_with(path: Path, experiment: str) -> None:
    client = tracker.TrackerClient(str(path))
    client.create_experiment(experiment)


def _experiments(args: list[str], env: dict[str, str] | None = None) -> list[str]:
    result = CliRunner().invoke(cli, [*args, "experiments", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return [e["name"] for e in json.loads(result.stdout) if e["name"] != "Default"]


def test_store_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("flag", "env", "config", "tracking"):
        _store_with(tmp_path / name, f"from-{name}")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    assert _experiments([]) == ["from-tracking"]
    write_files(tmp_path, {"tracker.toml": 'store = "config"\n'})
    assert _experiments([]) == ["from-config"]
    env = {"TRACKER_TRACKING_URI": str(tmp_path / "env")}
    assert _experiments([], env) == ["from-env"]
    assert _experiments(["--store", str(tmp_path / "flag")], env) == ["from-flag"]


def test_config_store_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_with(tmp_path / "config", "from-config")
    write_files(tmp_path, {".git/HEAD": "", "tracker.toml": 'store = "config"\n', "sub/x": ""})
    monkeypatch.chdir(tmp_path / "sub")
    assert _experiments([]) == ["from-config"]


def test_bad_config_does_not_matter_when_the_store_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_with(tmp_path / "s", "given")
    write_files(tmp_path, {".git/HEAD": "", "tracker.toml": "titel = 1\n"})
    monkeypatch.chdir(tmp_path)
    assert _experiments(["--store", str(tmp_path / "s")]) == ["given"]
    result = CliRunner().invoke(cli, ["experiments", "list"])
    assert result.exit_code == 1
    assert "Config value 'titel'" in result.output


# -- sizes and errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (2048, 2048),
        ("512", 512),
        ("10MB", 10 * 1024**2),
        ("10 mb", 10 * 1024**2),
        ("1.5GB", int(1.5 * 1024**3)),
        ("64KiB", 64 * 1024),
        ("3B", 3),
    ],
)
def test_parse_size(value: int | str, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", [-1, "ten", "10 parsecs", "MB", "1e3", True, 1.5, None])
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="units B, KB, MB, GB"):
        parse_size(value)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[tool.tracker]\ntitel = 'x'\n", ["'tool.tracker.titel'", "unknown key", "title, store"]),
        (
            "[tool.tracker.redact]\nkey = ['x']\n",
            ["'tool.tracker.redact.key'", "allowed: keys, values, allow"],
        ),
        ("[tool.tracker]\ntitle = 3\n", ["'tool.tracker.title'", "expected a string, got 3"]),
        ("[tool.tracker]\nredact = 'all'\n", ["'tool.tracker.redact'", "expected a table"]),
        (
            "[tool.tracker.artifacts]\nmax_size = '10 megs'\n",
            ["'tool.tracker.artifacts.max_size'", '"10MB"', "'10 megs'"],
        ),
        (
            "[tool.tracker.experiments]\ninclude = ['nyc-[ab']\n",
            ["'tool.tracker.experiments.include'", "bad glob 'nyc-[ab'", "never closed"],
        ),
        (
            "[tool.tracker.artifacts]\nexclude = [3]\n",
            ["'tool.tracker.artifacts.exclude'", "list of non-empty strings"],
        ),
        (
            "[tool.tracker.redact]\nvalues = ['corp-(']\n",
            ["'tool.tracker.redact.values'", "bad regular expression 'corp-('"],
        ),
        (
            "[tool.tracker.redact]\ndefault_keys = 'no'\n",
            ["'tool.tracker.redact.default_keys'", "expected true or false"],
        ),
        ("[tool.tracker\n", ["is not valid TOML"]),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path: Path, text: str, needles: list[str]) -> None:
    write_files(tmp_path, {"pyproject.toml": text})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "pyproject.toml")
    message = str(info.value)
    assert "pyproject.toml" in message
    for needle in needles:
        assert needle in message
    assert isinstance(info.value, TrackerError)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No config file at .*nope.toml"):
        load_config(tmp_path / "nope.toml")
    result = CliRunner().invoke(
        cli, ["--store", str(tmp_path), "build", "--config", str(tmp_path / "nope.toml")]
    )
    assert result.exit_code == 1 and "No config file at" in result.output


def test_serve_reads_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracker.site.serve

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(tracker.site.serve, "serve", lambda *a, **k: calls.append(k))
    _store_with(tmp_path / "store", "e")
    write_files(
        tmp_path,
        {
            ".git/HEAD": "",
            "team.toml": 'title = "Given"\nstore = "store"\n[redact]\nkeys = ["x*"]\n',
        },
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--config", "team.toml", "--port", "0"])
    assert result.exit_code == 0, result.output
    (kwargs,) = calls
    assert kwargs["site_title"] == "Given"
    config = kwargs["config"]
    assert isinstance(config, TrackerConfig) and config.redact.keys == ("x*",)
    calls.clear()
    result = CliRunner().invoke(cli, ["ui", "--config", "team.toml", "--title", "Flag"])
    assert result.exit_code == 0, result.output
    assert calls[0]["site_title"] == "Flag"


def test_the_s3_table_gives_an_endpoint_and_a_region(tmp_path: Path) -> None:
    path = tmp_path / "tracker.toml"
    path.write_text('[s3]\nendpoint_url = "http://127.0.0.1:9000"\nregion = "eu-west-1"\n',
                    encoding="utf-8")
    config = load_config(path)
    assert (config.s3.endpoint_url, config.s3.region) == ("http://127.0.0.1:9000", "eu-west-1")


@pytest.mark.parametrize("body, message", [
    ('[s3]\nendpoint_url = "127.0.0.1:9000"\n', "'s3.endpoint_url'.*http"),
    ('[s3]\nendpont_url = "http://x"\n', "'s3.endpont_url'.*allowed: endpoint_url, region"),
    ("[s3]\nregion = 3\n", "'s3.region'.*string"),
])
def test_a_bad_s3_table_names_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "tracker.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
