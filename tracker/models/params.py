"""Inference params: the ``params`` part of a signature, and what ``predict(data, params=...)`` gets.

A model accepts inference params only when its signature declares them — as MLflow's
``infer_signature(data, output, params={"k": 1})`` does. At ``predict`` time declared params are
type-checked (MLflow's conversions: ``integer`` → ``long``/``float``/``double``, ``long`` →
``float``/``double``, ``float`` → ``double``), missing ones take their default, and undeclared
ones are dropped with a warning naming them — MLflow drops them the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import dataclass
from typing import Any

from tracker.exceptions import InvalidArgumentError

PARAM_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")

# declared type -> the inferred types a value may have and still be accepted (converted).
_CONVERSIONS = {
    "long": ("integer",),
    "float": ("integer", "long"),
    "double": ("integer", "long", "float"),
}


@dataclass(frozen=True)
class ParamSpec:
    """One inference param: name, type, default, and shape (None: a scalar; ``(-1,)``: a list).

    Args:
        name: the param name.
        type: one of ``boolean``, ``integer``, ``long``, ``float``, ``double``, ``string``,
            ``binary``, ``datetime``.
        default: the value used when ``predict`` is not given this param.
        shape: None for a scalar, ``(-1,)`` for a list of values.
    """

    name: str
    type: str
    default: Any = None
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgumentError(
                f"A param name must be a non-empty string, got {self.name!r}."
            )
        if self.type not in PARAM_TYPES:
            raise InvalidArgumentError(
                f"Unknown type {self.type!r} for param {self.name!r}; allowed: "
                f"{', '.join(PARAM_TYPES)}."
            )
        if self.shape not in (None, (-1,)):
            raise InvalidArgumentError(
                f"Param {self.name!r} has shape {self.shape!r}; allowed: None (a scalar) or (-1,) "
                "(a list)."
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest (MLflow's)."""
        default = self.default
        if isinstance(default, (dt.date, dt.datetime)):
            default = default.isoformat()
        elif isinstance(default, tuple):
            default = list(default)
        return {
            "name": self.name, "type": self.type, "default": default,
            "shape": list(self.shape) if self.shape is not None else None,
        }

    def validate(self, value: Any) -> Any:
        """``value`` converted to this param's type, or an error naming the param.

        Args:
            value: what ``predict`` was given.
        """
        if value is None:
            return None
        if self.shape is None:
            return _convert(self, value)
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise InvalidArgumentError(
                f"Param {self.name!r} expects a list of {self.type} values, got {value!r}."
            )
        return [_convert(self, v) for v in value]


@dataclass(frozen=True)
class ParamSchema:
    """The inference params a model declares.

    Args:
        params: the specs, in order.
    """

    params: tuple[ParamSpec, ...]

    def to_list(self) -> list[dict[str, Any]]:
        """The JSON form stored in the manifest."""
        return [p.to_dict() for p in self.params]

    @classmethod
    def from_list(cls, specs: Any) -> ParamSchema:
        """A params schema from its JSON form (a list, or MLflow's JSON string of that list).

        Args:
            specs: a list of ``{"name", "type", "default", "shape"}`` dicts or a JSON string.
        """
        if isinstance(specs, str):
            specs = json.loads(specs)
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise InvalidArgumentError(f"A params schema must be a list of dicts, got {specs!r}.")
        out = []
        for spec in specs:
            shape = spec.get("shape")
            out.append(ParamSpec(
                str(spec.get("name")), str(spec.get("type")), spec.get("default"),
                tuple(shape) if shape is not None else None,
            ))
        return cls(tuple(out))


def infer_param_schema(params: Any) -> ParamSchema:
    """The params schema of example params, e.g. ``{"multiplier": 2, "mode": "fast"}``.

    Args:
        params: a dict of param name to default value (a scalar, or a list of scalars).
    """
    if not isinstance(params, dict):
        raise InvalidArgumentError(
            f"params must be a dict of param name to default value, got {type(params).__name__}."
        )
    specs = []
    for name, value in params.items():
        if isinstance(value, (list, tuple)) or (hasattr(value, "ndim") and value.ndim == 1):
            values = list(value)
            kinds = {_value_type(name, v) for v in values}
            if len(kinds) != 1:
                raise InvalidArgumentError(
                    f"Param {name!r}: a list default needs values of one type, got {values!r}."
                )
            specs.append(ParamSpec(str(name), kinds.pop(), values, (-1,)))
        else:
            specs.append(ParamSpec(str(name), _value_type(name, value), _plain(value)))
    return ParamSchema(tuple(specs))


def enforce_params(params: Any, schema: ParamSchema | None) -> dict[str, Any] | None:
    """The params to pass to the model: checked, defaults filled, undeclared ones dropped.

    Args:
        params: what ``predict(..., params=)`` was given (None or a dict).
        schema: the model's params schema, or None when it declares none.
    """
    if params is not None and not isinstance(params, dict):
        raise InvalidArgumentError(
            f"params must be a dict of param name to value, got {type(params).__name__}."
        )
    if schema is None:
        if params:
            warnings.warn(
                f"Ignoring params {sorted(params)}: this model's signature declares no inference "
                "params (MLflow ignores them too). Log the model with "
                "signature=infer_signature(input, output, params={...}) to declare them.",
                UserWarning, stacklevel=3,
            )
            return {}
        return params
    given = {str(k): v for k, v in (params or {}).items()}
    declared = {p.name: p for p in schema.params}
    ignored = sorted(set(given) - set(declared))
    if ignored:
        warnings.warn(
            f"Ignoring params {ignored}: the model's signature declares only {sorted(declared)}.",
            UserWarning, stacklevel=3,
        )
    return {
        name: spec.validate(given[name]) if name in given else spec.default
        for name, spec in declared.items()
    }


def _value_type(name: Any, value: Any) -> str:
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, np.integer):
        return "integer" if np.can_cast(value.dtype, np.int32, "safe") else "long"
    if isinstance(value, int):
        return "long"
    if isinstance(value, np.floating):
        return "float" if value.dtype.itemsize <= 4 else "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, (dt.date, dt.datetime, np.datetime64)):
        return "datetime"
    raise InvalidArgumentError(
        f"Param {name!r} has a value of type {type(value).__name__} ({value!r}); params take "
        "bool, int, float, str, bytes or datetime values, or lists of them."
    )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


def _convert(spec: ParamSpec, value: Any) -> Any:
    if spec.type == "datetime":
        import numpy as np

        try:
            converted = np.datetime64(value).item()
        except (TypeError, ValueError):
            converted = None
        if not isinstance(converted, (dt.date, dt.datetime)):
            raise InvalidArgumentError(
                f"Param {spec.name!r} expects a datetime, got {value!r}."
            )
        return converted
    try:
        actual = _value_type(spec.name, value)
    except InvalidArgumentError:
        actual = type(value).__name__
    if actual == spec.type or actual in _CONVERSIONS.get(spec.type, ()):
        python = {"boolean": bool, "integer": int, "long": int, "float": float, "double": float,
                  "string": str, "binary": bytes}[spec.type]
        return python(value)
    raise InvalidArgumentError(
        f"Param {spec.name!r} expects a {spec.type} value, got {value!r} ({actual}); a value "
        "is converted only when nothing is lost (integer -> long/float/double, float -> double)."
    )
