"""Datasets for ``log_input``, made as in MLflow: ``tracker.data.from_pandas`` / ``from_numpy``.

A dataset records its name, source (path or URI), a digest of its full content, its schema
(column names and dtypes) and profile (rows, columns); ``log_input(ds, context="training")``
attaches it to a run.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from tracker.exceptions import InvalidArgumentError

__all__ = ["Dataset", "from_pandas", "from_numpy", "source_type_of"]


def source_type_of(source: str | None) -> str:
    if not source:
        return "code"
    scheme, sep, _ = source.partition("://")
    if sep and scheme.isidentifier():
        return "local" if scheme.lower() == "file" else scheme.lower()
    return "local"


@dataclass(frozen=True)
class Dataset:
    """A logged dataset's description (the data itself is never copied into the store)."""

    name: str
    digest: str
    source: str
    source_type: str
    schema: dict[str, Any]
    profile: dict[str, Any]
    targets: str | None = None
    predictions: str | None = None
    data: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self.source,
            "source_type": self.source_type,
            "schema": json.dumps(self.schema, sort_keys=True),
            "profile": json.dumps(self.profile, sort_keys=True),
            "targets": self.targets,
            "predictions": self.predictions,
        }

    @property
    def df(self) -> Any:
        return self.data


def _source_text(source: Any) -> str:
    if source is None:
        return ""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    raise InvalidArgumentError(
        f"Dataset source must be a path or URI string, got {type(source).__name__} {source!r}."
    )


def from_pandas(
    df: Any,
    source: Any = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> Dataset:
    """Describe a pandas DataFrame as a dataset (digest over every row, column and dtype)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidArgumentError(f"from_pandas needs a pandas DataFrame, got {type(df).__name__}.")
    for label, column in (("targets", targets), ("predictions", predictions)):
        if column is not None and column not in df.columns:
            raise InvalidArgumentError(
                f"{label}={column!r} is not a column of the DataFrame; columns: {list(df.columns)}."
            )
    if digest is None:
        h = hashlib.sha256()
        h.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
        digest = h.hexdigest()[:16]
    src = _source_text(source)
    schema = {"columns": [{"name": str(c), "type": str(t)} for c, t in df.dtypes.items()]}
    profile = {"num_rows": int(len(df)), "num_columns": int(df.shape[1]),
               "num_elements": int(df.size)}
    return Dataset(
        name=name or "dataset", digest=digest, source=src, source_type=source_type_of(src),
        schema=schema, profile=profile, targets=targets, predictions=predictions, data=df,
    )


def from_numpy(
    features: Any,
    source: Any = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> Dataset:
    """Describe numpy features (and optional targets) as a dataset."""
    import numpy as np

    if not isinstance(features, np.ndarray):
        raise InvalidArgumentError(f"from_numpy needs a numpy array, got {type(features).__name__}.")
    if targets is not None and not isinstance(targets, np.ndarray):
        raise InvalidArgumentError(f"targets must be a numpy array, got {type(targets).__name__}.")
    if digest is None:
        h = hashlib.sha256()
        for arr in (features, targets):
            if arr is not None:
                arr = np.ascontiguousarray(arr)
                h.update(f"{arr.dtype}{arr.shape}".encode())
                h.update(arr.tobytes() if arr.dtype != object else repr(arr.tolist()).encode())
        digest = h.hexdigest()[:16]
    src = _source_text(source)
    schema: dict[str, Any] = {"features": {"dtype": str(features.dtype), "shape": list(features.shape)}}
    if targets is not None:
        schema["targets"] = {"dtype": str(targets.dtype), "shape": list(targets.shape)}
    profile = {"num_rows": int(features.shape[0]) if features.ndim else 1,
               "num_elements": int(features.size)}
    return Dataset(
        name=name or "dataset", digest=digest, source=src, source_type=source_type_of(src),
        schema=schema, profile=profile, targets="targets" if targets is not None else None,
        data=features,
    )


def input_record(item: Any, context: str | None = None) -> tuple[str, str]:
    """The (key, JSON value) stored for a dataset input."""
    from tracker.entities import DatasetInput

    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Dataset):
        item, context = item
    if isinstance(item, Dataset):
        body = item.to_dict()
    elif isinstance(item, DatasetInput):
        ds = item.dataset
        body = {"name": ds.name, "digest": ds.digest, "source": ds.source,
                "source_type": ds.source_type, "schema": ds.schema, "profile": ds.profile}
        context = context or item.context
    else:
        raise InvalidArgumentError(
            f"log_input needs a dataset from tracker.data.from_pandas/from_numpy, got {item!r}."
        )
    if context is not None and not isinstance(context, str):
        raise InvalidArgumentError(f"Dataset context must be a string, got {context!r}.")
    body["context"] = context
    return f"{body['name']}:{body['digest']}:{context or ''}", json.dumps(body, sort_keys=True)
