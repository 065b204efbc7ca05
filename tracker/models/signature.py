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
from tracker.models.params import ParamSchema, ParamSpec, infer_param_schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "ColSpec", "ModelSignature", "ParamSchema", "ParamSpec", "Schema", "TensorSpec",
    "infer_signature",
]

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
        params: the inference params the model accepts, or None.
    """

    inputs: Schema
    outputs: Schema | None = None
    params: ParamSchema | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest: ``{"inputs": [...], "outputs": [...] | None}``,
        plus ``"params": [...]`` when the model declares inference params."""
        out: dict[str, Any] = {
            "inputs": self.inputs.to_list(),
            "outputs": self.outputs.to_list() if self.outputs is not None else None,
        }
        if self.params is not None:
            out["params"] = self.params.to_list()
        return out

    def to_mlflow_dict(self) -> dict[str, Any]:
        """The form MLflow writes in ``MLmodel`` (and its ``ModelSignature.to_dict`` returns):
        each part a JSON string, so MLflow can read a tracker model's manifest."""
        return {key: json.dumps(value) if value is not None else None
                for key, value in self.to_dict().items()}

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
        outputs, params = data.get("outputs"), data.get("params")
        return cls(
            Schema.from_list(data["inputs"]),
            Schema.from_list(outputs) if outputs else None,
            ParamSchema.from_list(params) if params else None,
        )


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
        params: example inference params with their defaults, e.g. ``{"multiplier": 2}``;
            the model then accepts ``predict(data, params={...})`` with these names.
    """
    inputs = infer_schema(model_input)
    outputs = infer_schema(model_output) if model_output is not None else None
    return ModelSignature(inputs, outputs, infer_param_schema(params) if params else None)


def infer_schema(data: Any) -> Schema:
    """The schema of one example value (see ``infer_signature`` for what is accepted).

    Args:
        data: the example.
    """
    import numpy as np

    frame = as_frame(data)
    if frame is not None:
        return Schema(tuple(_col_spec(frame, name, data) for name in frame.columns))
    if isinstance(data, str) or (
        isinstance(data, list) and data and all(isinstance(v, str) for v in data)
    ):
        return Schema((ColSpec("string"),))  # text: one unnamed string column, as MLflow infers
    if type(data).__module__.startswith("scipy.sparse") and hasattr(data, "shape"):
        return Schema((TensorSpec(data.dtype.name, (-1, *data.shape[1:])),))
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
