"""Describe training data as ``tracker.data`` datasets: DataFrames, arrays, sparse matrices,
lists of dicts (the course's ``DictVectorizer`` input) and XGBoost ``DMatrix`` objects.

The digest covers the features and the labels, so the same rows with other labels are another
dataset. Nothing is copied into the store: only name, digest, schema and profile.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from tracker.data import Dataset, from_numpy, from_pandas

EXAMPLE_ROWS = 5


def training_dataset(features: Any, labels: Any = None, name: str = "train") -> Dataset | None:
    """The dataset of ``fit(X, y)`` arguments; None for a type we cannot describe.

    Args:
        features: a DataFrame, numpy array, scipy sparse matrix, list of dicts or nested list.
        labels: the targets, if any (anything ``numpy.asarray`` takes).
        name: the dataset name.
    """
    import numpy as np
    import pandas as pd

    if isinstance(features, list) and features and all(isinstance(r, dict) for r in features):
        features = pd.DataFrame.from_records(features)
    if _is_sparse(features):
        return _sparse_dataset(features.tocsr(), labels, name)
    if isinstance(features, pd.DataFrame):
        dataset = from_pandas(features, name=name)
        if labels is None:
            return dataset
        target = str(getattr(labels, "name", None) or "target")
        digest = _combined(dataset.digest, _array_digest(labels))
        return dataclasses.replace(dataset, digest=digest, targets=target)
    if isinstance(features, (list, tuple)):
        features = np.asarray(features)
    if isinstance(features, np.ndarray) and features.dtype != object:
        targets = None if labels is None else np.asarray(labels)
        return from_numpy(features, targets=targets, name=name)
    return None


def dmatrix_dataset(dmatrix: Any, name: str) -> Dataset:
    """The dataset of an XGBoost ``DMatrix``, its digest taken from ``get_data()`` and the labels.

    Args:
        dmatrix: an ``xgboost.DMatrix``.
        name: the dataset name (``train``, or the eval set's name).
    """
    labels = dmatrix.get_label()
    try:
        data = dmatrix.get_data()
    except Exception:  # noqa: BLE001 - e.g. a QuantileDMatrix keeps no raw data
        data = None
    rows, cols = int(dmatrix.num_row()), int(dmatrix.num_col())
    h = hashlib.sha256(f"dmatrix{rows}x{cols}".encode())
    if data is not None:
        _update_csr(h, data)
    h.update(labels.tobytes())
    schema: dict[str, Any] = {"features": {"shape": [rows, cols], "format": "DMatrix"}}
    if dmatrix.feature_names:
        types = dmatrix.feature_types or [None] * cols
        schema["columns"] = [
            {"name": str(n), "type": str(t) if t else "float"}
            for n, t in zip(dmatrix.feature_names, types)
        ]
    if labels.size:
        schema["targets"] = {"dtype": str(labels.dtype), "shape": list(labels.shape)}
    profile = {"num_rows": rows, "num_columns": cols, "num_elements": rows * cols}
    return Dataset(
        name=name, digest=h.hexdigest()[:16], source="", source_type="code", schema=schema,
        profile=profile, targets="label" if labels.size else None,
    )


# The first rows of the data a DMatrix was built from, kept by the patched DMatrix.__init__.
DMATRIX_EXAMPLE_ATTR = "_tracker_input_example"


def remember_dmatrix_data(dmatrix: Any, data: Any) -> None:
    """Keep the first rows of the DataFrame, array or sparse matrix a ``DMatrix`` was built from.

    A DMatrix holds float32 copies only; MLflow takes the input example (and so the signature)
    from the original data, so a model trained on a float64 frame predicts on that same frame.

    Args:
        dmatrix: the ``xgboost.DMatrix`` being built.
        data: its ``data`` argument.
    """
    module = type(data).__module__.split(".")[0]  # no pandas import for a numpy DMatrix
    frame = module == "pandas" and hasattr(data, "columns") and hasattr(data, "iloc")
    if frame or (module == "numpy" and hasattr(data, "ndim")) or _is_sparse(data):
        setattr(dmatrix, DMATRIX_EXAMPLE_ATTR, head(data))


def dmatrix_example(dmatrix: Any) -> Any:
    """The input example of a ``DMatrix``: the first rows of the data it was built from.

    When the DMatrix was built before autologging was turned on, the rows are read back from the
    DMatrix (float32) and declared with the widest type of their kind — ``float`` features as
    float64, ``int`` features as int64 — so that a signature inferred from them accepts the
    original frame. (MLflow logs no example or signature in that case.) None when the matrix
    keeps no raw data (a ``QuantileDMatrix``): the model is then logged without either.

    Args:
        dmatrix: an ``xgboost.DMatrix``.
    """
    import numpy as np
    import pandas as pd

    kept = getattr(dmatrix, DMATRIX_EXAMPLE_ATTR, None)
    if kept is not None:
        return kept
    try:
        data = dmatrix.get_data()
    except Exception:  # noqa: BLE001 - no raw data to take an example from
        return None
    rows = data[:EXAMPLE_ROWS].tocoo()
    dense = np.full(rows.shape, np.nan, dtype=np.float64)
    dense[rows.row, rows.col] = rows.data
    if not dmatrix.feature_names:
        return dense
    frame = pd.DataFrame(dense, columns=list(dmatrix.feature_names))
    types = dmatrix.feature_types or []
    for name, kind in zip(frame.columns, types):
        if frame[name].hasnans:
            continue
        if kind == "int":
            frame[name] = frame[name].astype(np.int64)
        elif kind == "i":
            frame[name] = frame[name].astype(bool)
    return frame


def head(features: Any) -> Any:
    """The first rows of ``fit``'s X, as an input example (a copy, so predict cannot change it).

    Args:
        features: a DataFrame, array, sparse matrix or list.
    """
    import copy

    rows = features.iloc[:EXAMPLE_ROWS] if hasattr(features, "iloc") else features[:EXAMPLE_ROWS]
    return copy.deepcopy(rows)


def _sparse_dataset(matrix: Any, labels: Any, name: str) -> Dataset:
    h = hashlib.sha256(f"csr{matrix.shape}{matrix.dtype}".encode())
    _update_csr(h, matrix)
    digest = h.hexdigest()[:16]
    if labels is not None:
        digest = _combined(digest, _array_digest(labels))
    rows, cols = (int(n) for n in matrix.shape)
    schema: dict[str, Any] = {
        "features": {"dtype": str(matrix.dtype), "shape": [rows, cols], "format": "csr"}
    }
    profile = {"num_rows": rows, "num_columns": cols, "num_elements": rows * cols,
               "num_stored": int(matrix.nnz)}
    return Dataset(
        name=name, digest=digest, source="", source_type="code", schema=schema, profile=profile,
        targets="targets" if labels is not None else None,
    )


def _update_csr(h: Any, matrix: Any) -> None:
    """Hash a CSR matrix's arrays (no copies); full rows with sorted indices imply the indices."""
    import numpy as np

    h.update(np.ascontiguousarray(matrix.data))
    h.update(np.ascontiguousarray(matrix.indptr))
    if matrix.nnz != matrix.shape[0] * matrix.shape[1] or not matrix.has_sorted_indices:
        h.update(np.ascontiguousarray(matrix.indices))


def _is_sparse(value: Any) -> bool:
    return type(value).__module__.startswith("scipy.sparse") and hasattr(value, "tocsr")


def _array_digest(values: Any) -> str:
    import numpy as np

    array = np.ascontiguousarray(np.asarray(values))
    h = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
    h.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    return h.hexdigest()


def _combined(*digests: str) -> str:
    return hashlib.sha256("".join(digests).encode()).hexdigest()[:16]
