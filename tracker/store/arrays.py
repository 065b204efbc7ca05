"""Arrow arrays built from Python values through their buffers, without ``pyarrow.array()``.

``pyarrow.array()`` imports pandas the first time a process calls it (~0.27 s of a 0.29 s
``end_run``, issue #16), so the write path builds its arrays here instead: values are packed
into numpy buffers (numpy is imported by pyarrow anyway) and wrapped with
``pyarrow.Array.from_buffers``. Nothing here imports pandas or DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

_INT32_MAX = 2**31 - 1


def _validity(values: Sequence[Any]) -> tuple[Any, int]:
    """The validity bitmap of ``values`` (None where every value is set) and the null count."""
    import numpy as np
    import pyarrow as pa

    mask = np.fromiter((v is not None for v in values), dtype=np.bool_, count=len(values))
    valid = int(mask.sum())
    if valid == len(values):
        return None, 0
    return pa.py_buffer(np.packbits(mask, bitorder="little")), len(values) - valid


def string_array(values: Sequence[str | None]) -> Any:
    """A ``pa.string()`` array of ``values`` (None becomes null).

    Args:
        values: str or None items.
    """
    import numpy as np
    import pyarrow as pa

    n = len(values)
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    validity, nulls = _validity(values)
    if offsets[-1] > _INT32_MAX:
        large = pa.Array.from_buffers(
            pa.large_string(), n, [validity, pa.py_buffer(offsets), data], nulls
        )
        return large.cast(pa.string())  # raises pyarrow's own error past 2 GiB
    return pa.Array.from_buffers(
        pa.string(), n, [validity, pa.py_buffer(offsets.astype(np.int32)), data], nulls
    )


def repeated_string(value: str | None, n: int) -> Any:
    """A ``pa.string()`` array holding ``value`` ``n`` times (all nulls for None)."""
    import numpy as np
    import pyarrow as pa

    if value is None:
        return pa.nulls(n, pa.string())
    raw = value.encode("utf-8")
    if len(raw) * n > _INT32_MAX:
        return string_array([value] * n)
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(raw))
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw * n)]
    )


def _numeric_array(values: Sequence[Any], arrow_type: Any, dtype: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    n = len(values)
    validity, nulls = _validity(values)
    if nulls:
        fill = dtype.type(0)
        values = [fill if v is None else v for v in values]
    data = np.fromiter(values, dtype=dtype, count=n)
    return pa.Array.from_buffers(arrow_type, n, [validity, pa.py_buffer(data)], nulls)


def float_array(values: Sequence[float | None]) -> Any:
    """A ``pa.float64()`` array of ``values`` (None becomes null; NaN stays NaN)."""
    import numpy as np
    import pyarrow as pa

    return _numeric_array(values, pa.float64(), np.dtype(np.float64))


def int_array(values: Sequence[int | None]) -> Any:
    """A ``pa.int64()`` array of ``values`` (None becomes null)."""
    import numpy as np
    import pyarrow as pa

    return _numeric_array(values, pa.int64(), np.dtype(np.int64))


def from_numpy(data: Any) -> Any:
    """A pyarrow array over a 1-d numpy array of int64 or float64, without a copy."""
    import numpy as np
    import pyarrow as pa

    arrow_type = {np.dtype(np.int64): pa.int64(), np.dtype(np.float64): pa.float64()}[data.dtype]
    data = np.ascontiguousarray(data)
    return pa.Array.from_buffers(arrow_type, len(data), [None, pa.py_buffer(data)])
