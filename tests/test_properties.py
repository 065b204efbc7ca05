"""Property tests (hypothesis): what is logged is what is read back, and bad input is refused.

Deterministic (``derandomize=True``, no example database) and small: at most 100 examples each.
"""

from __future__ import annotations

import math
import re
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tracker
import tracker.api
from tracker.exceptions import InvalidArgumentError

SETTINGS = settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Examples that write and read a run take ~0.1 s each; each of them checks several values at once.
STORE_SETTINGS = settings(SETTINGS, max_examples=50)


@pytest.fixture(autouse=True)
def _clean_fluent_state() -> Iterator[None]:
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None
    yield
    while tracker.active_run() is not None:
        tracker.end_run()
    tracker.api._tracking_uri = None
    tracker.api._experiment_id = None


@pytest.fixture
def store(tmp_path: Path) -> str:
    uri = str(tmp_path / "store")
    tracker.set_tracking_uri(uri)
    return uri


def _row(run_id: str) -> dict[str, Any]:
    """The run's row of the ``search_runs`` DataFrame."""
    frame = tracker.search_runs(
        experiment_ids=["0"], filter_string=f"attributes.run_id = '{run_id}'"
    )
    rows = frame.to_dict("records")
    assert [r["run_id"] for r in rows] == [run_id]
    return rows[0]


# -- param and tag values -------------------------------------------------------------------------

values = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", " ", "'", '"', "''", "\\", "\n", "\r\n", "\t", "\x00", "a\x00b", "😀",
                     "👩‍👩‍👧", "é", "e\u0301", "\u200b", "\ufeff", "NULL", "null", "None", "nan",
                     "%s", "{}", "' OR 1=1 --", "<script>alert(1)</script>"]),
)


@STORE_SETTINGS
@given(params=st.lists(values, min_size=1, max_size=6), tags=st.lists(values, min_size=1, max_size=6))
@example(params=[""], tags=[""])
@example(params=["quote ' and \" and\nnewline"], tags=["emoji 😀 and \x00 nul"])
def test_param_and_tag_values_round_trip(store: str, params: list[str], tags: list[str]) -> None:
    with tracker.start_run() as run:
        tracker.log_params({f"p{i}": v for i, v in enumerate(params)})
        tracker.set_tags({f"t{i}": v for i, v in enumerate(tags)})
    run_id = run.info.run_id
    got = tracker.get_run(run_id)
    assert got.data.params == {f"p{i}": v for i, v in enumerate(params)}
    assert {k: v for k, v in got.data.tags.items() if re.fullmatch(r"t\d+", k)} == {
        f"t{i}": v for i, v in enumerate(tags)
    }
    row = _row(run_id)
    for i, value in enumerate(params):
        assert row[f"params.p{i}"] == value
    for i, value in enumerate(tags):
        assert row[f"tags.t{i}"] == value


# -- keys ----------------------------------------------------------------------------------------

KEY_SYMBOLS = "_-. /:"
key_chars = st.one_of(
    st.sampled_from("abcXYZ019" + KEY_SYMBOLS),
    st.characters(categories=["Lu", "Ll", "Lo", "Nd"]),
)


def _valid_key(key: str) -> bool:
    parts = key.split("/")
    return bool(key) and not key.startswith("/") and not any(p in (".", "..") for p in parts)


valid_keys = st.text(key_chars, min_size=1, max_size=250).filter(_valid_key)


@STORE_SETTINGS
@given(keys=st.lists(valid_keys, min_size=1, max_size=5, unique_by=str.casefold))  # case: below
@example(keys=["a" * 250, "train/loss:epoch 1-2_x.y", "ünïcødé/名前", " ", "a//b/", "x.", "..a"])
def test_valid_keys_round_trip(store: str, keys: list[str]) -> None:
    with tracker.start_run() as run:
        for i, key in enumerate(keys):
            tracker.log_param(key, f"v{i}")
            tracker.set_tag(key, f"t{i}")
            tracker.log_metric(key, i + 0.5, step=i)
    run_id = run.info.run_id
    got = tracker.get_run(run_id)
    assert got.data.params == {key: f"v{i}" for i, key in enumerate(keys)}
    assert got.data.metrics == {key: i + 0.5 for i, key in enumerate(keys)}
    client = tracker.TrackerClient(store)
    row = _row(run_id)
    for i, key in enumerate(keys):
        assert got.data.tags[key] == f"t{i}"
        history = client.get_metric_history(run_id, key)
        assert [(m.key, m.value, m.step) for m in history] == [(key, i + 0.5, i)]
        assert row[f"params.{key}"] == f"v{i}"
        assert row[f"tags.{key}"] == f"t{i}"
        assert row[f"metrics.{key}"] == i + 0.5


def test_keys_that_differ_only_in_case_stay_distinct(store: str) -> None:
    """``loss`` and ``Loss`` are two metrics (as in MLflow), also as DataFrame columns."""
    keys = ["loss", "Loss", "LOSS"]
    with tracker.start_run() as run:
        for i, key in enumerate(keys):
            tracker.log_param(key, f"v{i}")
            tracker.log_metric(key, float(i))
    got = tracker.get_run(run.info.run_id)
    assert got.data.params == {"loss": "v0", "Loss": "v1", "LOSS": "v2"}
    assert got.data.metrics == {"loss": 0.0, "Loss": 1.0, "LOSS": 2.0}
    row = _row(run.info.run_id)
    assert {k: v for k, v in row.items() if k.startswith(("params.", "metrics."))} == {
        "params.loss": "v0", "params.Loss": "v1", "params.LOSS": "v2",
        "metrics.loss": 0.0, "metrics.Loss": 1.0, "metrics.LOSS": 2.0,
    }


_ALLOWED = re.compile(r"[\w\-. /:]")
bad_chars = st.characters(codec="utf-8").filter(lambda c: not _ALLOWED.fullmatch(c))
short_valid = st.text(key_chars, max_size=20)

invalid_keys = st.one_of(
    # a character outside letters, digits and _ - . space / :
    st.builds(lambda a, c, b: a + c + b, short_valid, bad_chars, short_valid),
    # too long
    st.text(key_chars, min_size=251, max_size=400).filter(lambda k: _valid_key(k)),
    # '..' as a path component
    st.builds(
        lambda a, b, form: form.format(a=a, b=b),
        st.text(key_chars, min_size=1, max_size=10).filter(lambda s: "/" not in s),
        st.text(key_chars, min_size=1, max_size=10).filter(lambda s: "/" not in s),
        st.sampled_from(["..", "../{a}", "{a}/..", "{a}/../{b}"]),
    ),
    # a leading '/'
    st.builds(lambda k: "/" + k, st.text(key_chars, max_size=30)),
)


@SETTINGS
@given(key=invalid_keys, what=st.sampled_from(["param", "metric", "tag"]))
@example(key="a\nb", what="param")
@example(key="x" * 251, what="metric")
@example(key="a/../b", what="tag")
@example(key="/abs", what="param")
@example(key="a'b", what="metric")
def test_invalid_keys_are_refused_by_name(store: str, key: str, what: str) -> None:
    if tracker.active_run() is None:
        tracker.start_run()
    with pytest.raises(InvalidArgumentError) as info:
        if what == "param":
            tracker.log_param(key, "v")
        elif what == "metric":
            tracker.log_metric(key, 1.0)
        else:
            tracker.set_tag(key, "v")
    message = str(info.value)
    named = repr(key) if len(key) <= 250 else repr(key[:40])
    assert named in message, (key, message)


# -- metric values --------------------------------------------------------------------------------

numpy_scalars = st.one_of(
    st.floats(width=32).map(np.float32),
    st.floats().map(np.float64),
    st.floats(width=16).map(np.float16),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(-(2**31), 2**31 - 1).map(np.int32),
    st.integers(0, 2**64 - 1).map(np.uint64),
)
metric_values = st.one_of(
    st.floats(),  # NaN, ±inf, subnormals, ±0.0, huge and tiny
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]),
    st.integers(-(2**53), 2**53),
    st.integers(-(10**300), 10**300),
    numpy_scalars,
)
steps = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(0, 1000).map(np.int64))


def _same_float(a: float, b: float) -> bool:
    """Equal as stored: NaN is NaN, and -0.0 keeps its sign."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


@STORE_SETTINGS
@given(points=st.lists(st.tuples(metric_values, steps), min_size=1, max_size=8,
                       unique_by=lambda p: int(p[1])))
@example(points=[(math.nan, 0), (math.inf, 1), (-math.inf, 2), (-0.0, 3), (2**60 + 1, 4)])
@example(points=[(np.float32(0.1), np.int64(7)), (np.int64(-5), -(2**63))])
def test_metric_values_round_trip(store: str, points: list[tuple[Any, Any]]) -> None:
    with tracker.start_run() as run:
        for value, step in points:
            tracker.log_metric("m", value, step=step)
    run_id = run.info.run_id
    expected = sorted(((int(step), float(value)) for value, step in points), key=lambda p: p[0])
    history = tracker.TrackerClient(store).get_metric_history(run_id, "m")
    got = [(m.step, m.value) for m in history]
    assert [s for s, _ in got] == [s for s, _ in expected]
    assert all(_same_float(g, e) for (_, g), (_, e) in zip(got, expected)), (got, expected)
    latest = tracker.get_run(run_id).data.metrics["m"]
    assert _same_float(latest, expected[-1][1]), (latest, expected[-1])
    assert _same_float(_row(run_id)["metrics.m"], expected[-1][1])


not_numbers = st.one_of(
    st.text(max_size=20),
    st.none(),
    st.binary(max_size=10),
    st.sampled_from(["1.5", "nan", "inf", "", "0"]),
)


@SETTINGS
@given(value=not_numbers)
def test_non_numeric_metric_values_are_refused(store: str, value: Any) -> None:
    if tracker.active_run() is None:
        tracker.start_run()
    with pytest.raises(InvalidArgumentError) as info:
        tracker.log_metric("m", value)
    assert "'m'" in str(info.value)


# -- experiment names ------------------------------------------------------------------------------

names = st.text(min_size=1, max_size=500).filter(lambda s: bool(s.strip()))


@STORE_SETTINGS
@given(batch=st.lists(names, min_size=1, max_size=5, unique=True))
@example(batch=["quote ' \" \n newline 😀", "x" * 500, "Default", "e\u0301", "\u00e9", " a ", "a"])
def test_experiment_names_round_trip(batch: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tracker.set_tracking_uri(folder)
        ids = {}
        for name in batch:
            exp = tracker.set_experiment(name)
            assert exp.name == name
            ids[name] = exp.experiment_id
        assert len(set(ids.values())) == len(batch)
        for name, experiment_id in ids.items():
            found = tracker.get_experiment_by_name(name)
            assert found is not None
            assert (found.experiment_id, found.name) == (experiment_id, name)
            assert tracker.get_experiment(experiment_id).name == name
            assert tracker.set_experiment(name).experiment_id == experiment_id
        listed = sorted(e.name for e in tracker.search_experiments())
        assert listed == sorted({*batch, "Default"})
        tracker.api._tracking_uri = None
