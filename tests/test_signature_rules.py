"""Signature enforcement follows MLflow's type rules (issue #12), and inference params.

Each case is one column type declared in a signature and one input dtype: accepted (and cast)
or refused with a message naming the column and both types.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from tracker.exceptions import InvalidArgumentError
from tracker.models.enforce import enforce_column, enforce_schema
from tracker.models.params import ParamSchema, ParamSpec, enforce_params
from tracker.models.signature import ColSpec, ModelSignature, Schema, infer_signature

ACCEPTED = [
    ("double", np.float32, np.float64),   # float -> double
    ("long", np.int32, np.int64),         # integer -> long
    ("integer", np.int8, np.int32),
    ("long", np.uint32, np.int64),        # unsigned to a larger signed int
    ("double", np.int32, np.float64),     # ints of at most 32 bits -> double (MLflow)
    ("double", np.uint16, np.float64),
    ("float", np.float16, np.float32),
]
REFUSED = [
    ("float", np.float64),                # double -> float: values would change
    ("long", np.float64),                 # float -> int
    ("integer", np.int64),                # long -> integer
    ("long", np.uint64),
    ("boolean", np.int64),
    ("string", np.float64),
]


@pytest.mark.parametrize(("declared", "given", "result"), ACCEPTED)
def test_safe_conversions_are_applied(declared: str, given: type, result: type) -> None:
    col = pd.Series([1, 0, 3], dtype=given)
    out = enforce_column(ColSpec(declared, "x"), col)
    assert out.dtype == np.dtype(result) and out.tolist() == [1, 0, 3]


@pytest.mark.parametrize(("declared", "given"), REFUSED)
def test_narrowing_is_refused_naming_column_and_types(declared: str, given: type) -> None:
    col = pd.Series([1.5 if np.dtype(given).kind == "f" else 2**40, 2], dtype=given)
    with pytest.raises(InvalidArgumentError, match=rf"column 'x' has type .* expects {declared}"):
        enforce_column(ColSpec(declared, "x"), col)


def test_int64_to_double_mlflow_zero_one_rule_and_exact_values() -> None:
    spec = ColSpec("double", "x")
    assert enforce_column(spec, pd.Series([0, 1, 1])).dtype == np.float64  # MLflow's own rule
    # Beyond MLflow: whole numbers that a float64 holds exactly are converted too.
    assert enforce_column(spec, pd.Series([3, 70_000])).tolist() == [3.0, 70_000.0]
    with pytest.raises(InvalidArgumentError, match="'x' has type long"):
        enforce_column(spec, pd.Series([2**53 + 1, 1]))
    assert enforce_column(ColSpec("float", "x"), pd.Series([2**24, 0])).dtype == np.float32
    with pytest.raises(InvalidArgumentError, match="expects float"):
        enforce_column(ColSpec("float", "x"), pd.Series([2**24 + 1, 0]))


def test_seed_message_double_into_float_names_the_column() -> None:
    schema = Schema((ColSpec("float", "trip_distance"),))
    with pytest.raises(InvalidArgumentError,
                       match=r"column 'trip_distance' has type double .* expects float"):
        enforce_schema(schema, pd.DataFrame({"trip_distance": [1.25, 3.5]}))


def test_object_string_boolean_datetime_columns() -> None:
    assert enforce_column(ColSpec("string", "s"), pd.Series(["a", None], dtype=object)).tolist() == ["a", None]
    assert enforce_column(ColSpec("boolean", "b"), pd.Series([True, None], dtype=object)).tolist() == [True, None]
    ints = enforce_column(ColSpec("long", "n"), pd.Series([1, 2], dtype=object))  # inferred
    assert ints.dtype == np.int64
    when = enforce_column(ColSpec("datetime", "t"), pd.Series(["2024-01-31", "2024-02-01"], dtype=object))
    assert when.dtype == np.dtype("datetime64[ns]")
    with pytest.raises(InvalidArgumentError, match="'t'.*datetimes"):
        enforce_column(ColSpec("datetime", "t"), pd.Series(["not a date"], dtype=object))


def test_missing_values_hint_for_integer_columns() -> None:
    with pytest.raises(InvalidArgumentError, match="whole numbers and missing values"):
        enforce_column(ColSpec("long", "n"), pd.Series([1.0, None, 3.0]))


def test_unnamed_string_column_from_a_list_of_text() -> None:
    sig = infer_signature(["hello", "world"])
    assert sig.inputs == Schema((ColSpec("string"),))
    out = enforce_schema(sig.inputs, ["a", "b", "c"])
    assert list(out.columns) == [0] and out[0].tolist() == ["a", "b", "c"]
    with pytest.raises(InvalidArgumentError, match="0 column"):
        enforce_schema(sig.inputs, pd.DataFrame(index=[0]))


# -- inference params ---------------------------------------------------------------------------


def test_params_schema_inferred_stored_and_read_back() -> None:
    when = dt.datetime(2024, 1, 31, 12, 0)
    sig = infer_signature(pd.DataFrame({"x": [1.0]}), params={
        "multiplier": 2, "scale": 0.5, "mode": "fast", "flags": [True, False], "at": when,
    })
    assert sig.params == ParamSchema((
        ParamSpec("multiplier", "long", 2), ParamSpec("scale", "double", 0.5),
        ParamSpec("mode", "string", "fast"), ParamSpec("flags", "boolean", [True, False], (-1,)),
        ParamSpec("at", "datetime", when),
    ))
    stored = sig.to_dict()["params"]
    assert stored[0] == {"name": "multiplier", "type": "long", "default": 2, "shape": None}
    assert stored[4]["default"] == "2024-01-31T12:00:00"
    assert ModelSignature.from_dict(sig.to_dict()).params.params[0] == sig.params.params[0]
    assert "params" not in infer_signature(pd.DataFrame({"x": [1.0]})).to_dict()


def test_params_are_checked_defaulted_and_unknown_ones_warned() -> None:
    schema = infer_signature([1.0], params={"multiplier": 2, "scale": 0.5}).params
    assert enforce_params(None, schema) == {"multiplier": 2, "scale": 0.5}
    assert enforce_params({"scale": 3}, schema) == {"multiplier": 2, "scale": 3.0}  # int -> double
    with pytest.raises(InvalidArgumentError, match="Param 'multiplier' expects a long value, got 2.5"):
        enforce_params({"multiplier": 2.5}, schema)
    with pytest.warns(UserWarning, match=r"Ignoring params \['speed'\]"):
        assert enforce_params({"speed": 1}, schema) == {"multiplier": 2, "scale": 0.5}
    with pytest.raises(InvalidArgumentError, match="params must be a dict"):
        enforce_params([1], schema)


def test_params_without_a_params_schema_are_ignored_with_a_warning() -> None:
    with pytest.warns(UserWarning, match=r"Ignoring params \['k'\].*declares no inference params"):
        assert enforce_params({"k": 1}, None) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert enforce_params(None, None) is None


def test_bad_param_values_name_the_param() -> None:
    with pytest.raises(InvalidArgumentError, match="Param 'f' has a value of type function"):
        infer_signature([1.0], params={"f": lambda: 1})
    with pytest.raises(InvalidArgumentError, match="Unknown type 'tensor' for param 'p'"):
        ParamSpec("p", "tensor")
