"""Model signatures: the column or tensor specs a model takes and returns, and their enforcement.

A signature is inferred from an input example (``infer_signature``) or given explicitly, stored in
the ``MLmodel`` manifest, and checked by ``tracker.pyfunc`` before every ``predict``: missing
columns and wrong types are refused with a message naming them, safe widening (``int`` →
``double``, ``float`` → ``double``, ``integer`` → ``long``) is applied, extra columns are dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["ColSpec", "ModelSignature", "Schema", "TensorSpec", "enforce_schema", "infer_signature"]

# MLflow's column type names and the numpy dtype each one is held in.
COLUMN_TYPES: dict[str, str] = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class ColSpec:
    """One named column: its MLflow type name (``double``, ``long``, ``string``, …).

    Args:
        type: one of ``boolean``, ``integer``, ``long``, ``float``, ``double``, ``string``,
            ``binary``, ``datetime``.
        name: the column name (None for an unnamed single column).
        required: False when an input may leave the column out.
    """

    type: str
    name: str | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise InvalidArgumentError(
                f"Unknown column type {self.type!r} for column {self.name!r}; allowed: "
                f"{', '.join(COLUMN_TYPES)}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest."""
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """A numpy array input or output: its dtype and shape (-1 for a free dimension).

    Args:
        dtype: a numpy dtype name, e.g. ``float64``.
        shape: the shape, -1 where any size is accepted (the first, batch, dimension).
        name: an optional name.
    """

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest (MLflow's ``tensor-spec``)."""
        out: dict[str, Any] = {
            "type": "tensor",
            "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)},
        }
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class Schema:
    """An ordered list of column specs, or of tensor specs (never a mix).

    Args:
        inputs: the specs, in order.
    """

    inputs: tuple[ColSpec | TensorSpec, ...]

    def __post_init__(self) -> None:
        kinds = {isinstance(s, TensorSpec) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidArgumentError("A schema holds either column specs or tensor specs, not both.")

    def is_tensor_spec(self) -> bool:
        """True for a tensor schema, False for a column schema."""
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def input_names(self) -> list[str | None]:
        """The column (or tensor) names in order."""
        return [s.name for s in self.inputs]

    def to_list(self) -> list[dict[str, Any]]:
        """The JSON form stored in the manifest."""
        return [s.to_dict() for s in self.inputs]

    @classmethod
    def from_list(cls, specs: Any) -> Schema:
        """A schema from its JSON form (a list, or MLflow's JSON string of that list).

        Args:
            specs: a list of spec dicts or a JSON string of one.
        """
        if isinstance(specs, str):
            specs = json.loads(specs)
        if not isinstance(specs, list):
            raise InvalidArgumentError(f"A schema must be a list of specs, got {specs!r}.")
        return cls(tuple(_spec_from_dict(s) for s in specs))


def _spec_from_dict(spec: Any) -> ColSpec | TensorSpec:
    if not isinstance(spec, dict) or "type" not in spec:
        raise InvalidArgumentError(f"Invalid schema entry {spec!r}: expected a dict with a 'type'.")
    if spec["type"] == "tensor":
        tensor = spec.get("tensor-spec") or {}
        return TensorSpec(str(tensor.get("dtype")), tuple(tensor.get("shape") or ()), spec.get("name"))
    return ColSpec(spec["type"], spec.get("name"), bool(spec.get("required", True)))


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes (``inputs``) and returns (``outputs``, optional).

    Args:
        inputs: the input schema.
        outputs: the output schema, or None when unknown.
    """

    inputs: Schema
    outputs: Schema | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest: ``{"inputs": [...], "outputs": [...] | None}``."""
        return {
            "inputs": self.inputs.to_list(),
            "outputs": self.outputs.to_list() if self.outputs is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ModelSignature:
        """A signature from its dict form (ours, or MLflow's with JSON strings).

        Args:
            data: ``{"inputs": ..., "outputs": ...}``.
        """
        if not isinstance(data, dict) or data.get("inputs") is None:
            raise InvalidArgumentError(
                f"A signature dict needs an 'inputs' list (and optionally 'outputs'), got {data!r}."
            )
        outputs = data.get("outputs")
        return cls(Schema.from_list(data["inputs"]), Schema.from_list(outputs) if outputs else None)


def as_signature(value: Any) -> ModelSignature | None:
    """Normalize a ``signature=`` argument: a ``ModelSignature``, a dict, None or False.

    Args:
        value: what the caller passed.
    """
    if value is None or value is False:
        return None
    if isinstance(value, ModelSignature):
        return value
    if isinstance(value, dict):
        return ModelSignature.from_dict(value)
    to_dict = getattr(value, "to_dict", None)  # an MLflow ModelSignature
    if callable(to_dict) and hasattr(value, "inputs"):
        return ModelSignature.from_dict(to_dict())
    raise InvalidArgumentError(
        f"signature must be a ModelSignature (tracker.models.infer_signature) or a dict with "
        f"'inputs'/'outputs', got {type(value).__name__}."
    )


# -- inference ------------------------------------------------------------------------------------


def infer_signature(model_input: Any, model_output: Any = None, params: Any = None) -> ModelSignature:
    """Infer a signature from example input (and output) data, like ``mlflow.models.infer_signature``.

    Args:
        model_input: a pandas DataFrame or Series, a numpy array, a dict of lists (or of scalars:
            one record), a list of dicts (records) or a list of values.
        model_output: optional example output (e.g. ``model.predict(model_input)``).
        params: accepted for MLflow compatibility; inference params are not recorded.
    """
    inputs = infer_schema(model_input)
    outputs = infer_schema(model_output) if model_output is not None else None
    return ModelSignature(inputs, outputs)


def infer_schema(data: Any) -> Schema:
    """The schema of one example value (see ``infer_signature`` for what is accepted).

    Args:
        data: the example.
    """
    import numpy as np

    frame = as_frame(data)
    if frame is not None:
        return Schema(tuple(_col_spec(frame, name, data) for name in frame.columns))
    array = data if isinstance(data, np.ndarray) else _as_array(data)
    if array.dtype.kind == "O" or array.ndim == 0:
        raise InvalidArgumentError(
            f"Cannot infer a signature from a {type(data).__name__} of {array.dtype} values; pass "
            "a DataFrame, a numeric numpy array, a dict of columns or a list of records."
        )
    return Schema((TensorSpec(array.dtype.name, (-1, *array.shape[1:])),))


def _as_array(data: Any) -> np.ndarray:
    import numpy as np

    try:
        return np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"Cannot infer a signature from a {type(data).__name__}: {exc}"
        ) from None


def as_frame(data: Any) -> pd.DataFrame | None:
    """``data`` as a DataFrame when it is column-shaped (frame, series, dict, records), else None.

    Args:
        data: a DataFrame, Series, dict of columns or scalars, or a list of dicts.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=data.name if data.name is not None else 0)
    if isinstance(data, dict):
        if data and all(_is_scalar(v) for v in data.values()):
            return pd.DataFrame([data])
        return pd.DataFrame(data)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(data)
    return None


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bytes, int, float, bool)) or (
        hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0
    )


def _col_spec(frame: pd.DataFrame, name: Any, original: Any) -> ColSpec:
    col = frame[name]
    type_name = column_type(col)
    if type_name is None:
        raise InvalidArgumentError(
            f"Cannot infer a type for column {name!r} (dtype {col.dtype}, values such as "
            f"{col.dropna().head(3).tolist()!r}); give it one type or pass signature=."
        )
    required = not (isinstance(original, list) and any(name not in r for r in original))
    return ColSpec(type_name, str(name), required)


def column_type(col: pd.Series) -> str | None:
    """The MLflow type name of a pandas column, or None when its values are mixed.

    Args:
        col: the column.
    """
    import pandas as pd

    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return _numeric_type(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(col.astype(dtype.categories.dtype))
    values = col.dropna()
    if pd.api.types.is_string_dtype(dtype) and all(isinstance(v, str) for v in values):
        return "string"
    if len(values) and all(isinstance(v, (bytes, bytearray)) for v in values):
        return "binary"
    return None


def _numeric_type(dtype: Any) -> str | None:
    import numpy as np

    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "f":
        return "float" if np_dtype.itemsize <= 4 else "double"
    if np_dtype.kind in "iu":
        return "integer" if np.can_cast(np_dtype, np.int32, "safe") else "long"
    return None


# -- enforcement ----------------------------------------------------------------------------------


def enforce_schema(schema: Schema, data: Any) -> Any:
    """Check ``data`` against the input schema; return it converted (columns in order, widened).

    Args:
        schema: the model's input schema.
        data: a DataFrame, numpy array, dict or list.
    """
    if schema.is_tensor_spec():
        return _enforce_tensor(schema.inputs[0], data)  # type: ignore[arg-type]
    return _enforce_columns(schema, data)


def _enforce_columns(schema: Schema, data: Any) -> pd.DataFrame:
    import pandas as pd

    frame = as_frame(data)
    if frame is None:
        frame = _frame_from_array(schema, data)
    names = [str(s.name) for s in schema.inputs]
    present = {str(c): c for c in frame.columns}
    missing = [s.name for s in schema.inputs if isinstance(s, ColSpec) and s.required
               and str(s.name) not in present]
    if missing:
        raise InvalidArgumentError(
            f"Model input is missing required column(s) {missing}; the model's signature expects "
            f"columns {names} (extra columns are ignored)."
        )
    out = {}
    for spec in schema.inputs:
        assert isinstance(spec, ColSpec)
        if str(spec.name) in present:
            out[str(spec.name)] = _enforce_column(spec, frame[present[str(spec.name)]])
    return pd.DataFrame(out, index=frame.index)


def _frame_from_array(schema: Schema, data: Any) -> pd.DataFrame:
    import pandas as pd

    array = _as_array(data)
    width = len(schema.inputs)
    if array.ndim == 1 and width == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape[1] != width:
        raise InvalidArgumentError(
            f"Model input is a {type(data).__name__} of shape {array.shape}, but the model's "
            f"signature expects columns {schema.input_names()}; pass a DataFrame (or dict) with "
            "those columns."
        )
    return pd.DataFrame(array, columns=[str(n) for n in schema.input_names()])


def _enforce_column(spec: ColSpec, col: pd.Series) -> pd.Series:
    actual = column_type(col)
    if actual == spec.type:
        return col
    widened = _widen(spec, col, actual)
    if widened is not None:
        return widened
    raise InvalidArgumentError(
        f"Model input column {spec.name!r} has type {actual or f'mixed ({col.dtype})'} but the "
        f"model's signature expects {spec.type} (only safe widening such as integer -> double "
        "is applied)."
    )


_NUMERIC = ("integer", "long", "float", "double")


def _widen(spec: ColSpec, col: pd.Series, actual: str | None) -> pd.Series | None:
    """``col`` cast to the spec's numeric type when no value can change, else None."""
    import numpy as np

    if actual not in _NUMERIC or spec.type not in _NUMERIC:
        return None
    source = col.dtype if isinstance(col.dtype, np.dtype) else np.dtype(COLUMN_TYPES[actual])
    target = np.dtype(COLUMN_TYPES[spec.type])
    return col.astype(target) if np.can_cast(source, target, "safe") else None


def _enforce_tensor(spec: TensorSpec, data: Any) -> np.ndarray:
    import numpy as np
    import pandas as pd

    array = data.to_numpy() if isinstance(data, (pd.DataFrame, pd.Series)) else _as_array(data)
    expected = np.dtype(spec.dtype)
    shape_ok = array.ndim == len(spec.shape) and all(
        want in (-1, got) for want, got in zip(spec.shape, array.shape)
    )
    if not shape_ok:
        raise InvalidArgumentError(
            f"Model input has shape {array.shape} but the model's signature expects a tensor of "
            f"shape {tuple(spec.shape)} (-1: any size)."
        )
    if array.dtype != expected:
        if array.dtype.kind == "O" or not np.can_cast(array.dtype, expected, "safe"):
            raise InvalidArgumentError(
                f"Model input has dtype {array.dtype} but the model's signature expects "
                f"{expected} (only safe widening such as int32 -> float64 is applied)."
            )
        array = array.astype(expected)
    return array
