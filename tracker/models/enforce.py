"""Signature enforcement: input checked against a model's input schema before ``predict``.

Column types follow MLflow's rules (``_enforce_mlflow_datatype`` in ``mlflow/models/utils.py``):

- same kind, same or smaller size: cast up (``float`` → ``double``, ``integer`` → ``long``,
  ``int8`` → ``integer``); an unsigned int to a strictly larger signed int;
- ints of at most 32 bits → ``double``; an ``int64`` column holding only 0/1 → ``float``/``double``;
- ``string`` accepts any object or string column, ``boolean`` an object column, ``binary`` bytes;
- ``datetime`` accepts any datetime precision, and object columns that parse as datetimes;
- never narrowing: ``double`` → ``float``, float → int, anything → string is an error.

One deliberate extension (documented under "Differences from MLflow"): an integer column is also
converted to ``float``/``double`` when every value is exactly representable (|x| ≤ 2**24 for
float32, 2**53 for float64), so ``predict({"x": [1, 2]})`` works on a ``double`` column; MLflow
refuses ``int64`` → ``double`` unless the values are 0 and 1. No value ever changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError
from tracker.models.signature import (
    COLUMN_TYPES,
    ColSpec,
    Schema,
    TensorSpec,
    as_frame,
    column_type,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Largest integer magnitude each float type holds exactly (its mantissa bits + 1).
_EXACT_INT_LIMIT = {4: 2**24, 8: 2**53}


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
    specs = [s for s in schema.inputs if isinstance(s, ColSpec)]
    if all(s.name is None for s in specs):
        return _enforce_unnamed(specs, frame)
    names = [str(s.name) for s in specs]
    present = {str(c): c for c in frame.columns}
    missing = [s.name for s in specs if s.required and str(s.name) not in present]
    if missing:
        raise InvalidArgumentError(
            f"Model input is missing required column(s) {missing}; the model's signature expects "
            f"columns {names} (extra columns are ignored)."
        )
    out = {}
    for spec in specs:
        if str(spec.name) in present:
            out[str(spec.name)] = enforce_column(spec, frame[present[str(spec.name)]])
    return pd.DataFrame(out, index=frame.index)


def _enforce_unnamed(specs: list[ColSpec], frame: pd.DataFrame) -> pd.DataFrame:
    """A signature without column names: the first columns, by position (MLflow's rule)."""
    import pandas as pd

    if len(frame.columns) < len(specs):
        raise InvalidArgumentError(
            f"Model input has {len(frame.columns)} column(s) but the model's signature declares "
            f"{len(specs)} unnamed input(s) ({[s.type for s in specs]}); the signature has no "
            "column names, so only the count can be checked."
        )
    columns = list(frame.columns[: len(specs)])
    out = {
        c: enforce_column(s, frame[c], label=f"#{i}")
        for i, (c, s) in enumerate(zip(columns, specs))
    }
    return pd.DataFrame(out, index=frame.index)


def _frame_from_array(schema: Schema, data: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if type(data).__module__.startswith("scipy.sparse") and hasattr(data, "toarray"):
        data = data.toarray()
    try:
        array = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"Model input of type {type(data).__name__} cannot be read as columns: {exc}"
        ) from None
    width = len(schema.inputs)
    if array.ndim == 0:
        array = array.reshape(1, 1)
    if array.ndim == 1 and width == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape[1] != width:
        raise InvalidArgumentError(
            f"Model input is a {type(data).__name__} of shape {array.shape}, but the model's "
            f"signature expects columns {schema.input_names()}; pass a DataFrame (or dict) with "
            "those columns."
        )
    names = schema.input_names()
    columns = list(range(width)) if all(n is None for n in names) else [str(n) for n in names]
    return pd.DataFrame(array, columns=columns)


def enforce_column(spec: ColSpec, col: pd.Series, label: str | None = None) -> pd.Series:
    """``col`` converted to the spec's type by MLflow's rules (see the module docstring).

    Args:
        spec: the column's spec.
        col: the input column.
        label: how to name the column in messages (default: the spec's name).
    """
    import numpy as np
    import pandas as pd

    name = label or repr(spec.name)
    target = spec.type
    if target == "datetime" and (_is_object(col.dtype) or isinstance(col.dtype, pd.StringDtype)):
        return _to_datetime(name, col)  # text parsed as datetimes (pandas 3 infers str first)
    if _is_object(col.dtype) and target not in ("binary", "string"):
        col = col.infer_objects()
    dtype = col.dtype
    kind = getattr(dtype, "kind", "O")
    is_object, is_text = _is_object(dtype), isinstance(dtype, pd.StringDtype)
    if target == "string" and (is_object or is_text):
        return col  # object columns may hold None: MLflow passes them through unchecked
    if target == "binary" and (is_object or is_text or kind == "S"):
        return col
    if target == "boolean" and is_object:
        return col  # casting would turn None into False
    if target == "datetime" and kind == "M":
        return _to_datetime(name, col)
    wanted = np.dtype(COLUMN_TYPES[target])
    if dtype == wanted:
        return col
    if kind in "biufc" and _safe_cast(col, dtype, wanted):
        try:
            return col.astype(wanted)
        except (TypeError, ValueError) as exc:  # e.g. a nullable Int64 column holding <NA>
            raise InvalidArgumentError(
                f"Model input column {name} ({dtype}) cannot be converted to {target}: {exc}"
            ) from None
    raise InvalidArgumentError(_mismatch(name, spec, col))


def _is_object(dtype: Any) -> bool:
    import numpy as np

    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _safe_cast(col: pd.Series, dtype: Any, wanted: np.dtype) -> bool:
    """True when casting ``col`` to ``wanted`` changes no value (MLflow's rules + exact ints)."""
    import numpy as np
    import pandas as pd

    kind, size = dtype.kind, dtype.itemsize
    if kind == wanted.kind:
        return bool(size <= wanted.itemsize)
    if kind == "u" and wanted.kind == "i":
        return bool(size < wanted.itemsize)
    if kind not in "iu" or wanted.kind != "f":
        return False
    if wanted == np.float64 and size <= 6:
        return True
    values = col.dropna() if col.hasnans else col
    if len(values) == 0:
        return True
    if dtype == np.int64 and bool(values.isin([0, 1]).all()):
        return True  # MLflow's own exception for 0/1 columns
    limit = _EXACT_INT_LIMIT[wanted.itemsize]
    magnitude = pd.to_numeric(values).abs()
    return bool((magnitude <= limit).all())


def _to_datetime(name: str, col: pd.Series) -> pd.Series:
    import numpy as np

    try:
        return col.astype(np.dtype("datetime64[ns]"))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"Model input column {name} ({col.dtype}) cannot be read as timezone-naive "
            f"datetimes, which the model's signature expects: {exc}"
        ) from None


def _mismatch(name: str, spec: ColSpec, col: pd.Series) -> str:
    actual = column_type(col) or f"mixed ({col.dtype})"
    message = (
        f"Model input column {name} has type {actual} ({col.dtype}) but the model's signature "
        f"expects {spec.type} ({COLUMN_TYPES[spec.type]}); only conversions that change no "
        "value are applied (such as integer -> double or float -> double, never double -> float "
        "or float -> integer)."
    )
    if spec.type in ("integer", "long") and col.dtype.kind == "f" and col.hasnans:
        values = col.dropna()
        if bool((values == values.round()).all()):
            message += (
                " The column holds whole numbers and missing values: pandas stores such a "
                "column as floats. Log the model with an input example that has missing values "
                "(or declare the column double)."
            )
    return message


def _enforce_tensor(spec: TensorSpec, data: Any) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if type(data).__module__.startswith("scipy.sparse") and hasattr(data, "shape"):
        return _enforce_sparse(spec, data)
    if isinstance(data, (pd.DataFrame, pd.Series)):
        array = data.to_numpy()
    else:
        try:
            array = np.asarray(data)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"Model input of type {type(data).__name__} cannot be read as a tensor: {exc}"
            ) from None
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


def _enforce_sparse(spec: TensorSpec, matrix: Any) -> Any:
    """A scipy sparse matrix checked like an array: its shape, and the dtype of its values."""
    import numpy as np

    expected = np.dtype(spec.dtype)
    shape = tuple(matrix.shape)
    if len(shape) != len(spec.shape) or any(w not in (-1, g) for w, g in zip(spec.shape, shape)):
        raise InvalidArgumentError(
            f"Model input is a sparse matrix of shape {shape} but the model's signature expects "
            f"a tensor of shape {tuple(spec.shape)} (-1: any size)."
        )
    if matrix.dtype == expected:
        return matrix
    if not np.can_cast(matrix.dtype, expected, "safe"):
        raise InvalidArgumentError(
            f"Model input is a sparse matrix of {matrix.dtype} but the model's signature expects "
            f"{expected} (only safe widening such as int32 -> float64 is applied)."
        )
    return matrix.astype(expected)
