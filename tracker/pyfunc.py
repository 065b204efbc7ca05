"""``tracker.pyfunc.load_model``: any logged model behind one ``predict(data)``.

The flavor is chosen from the manifest's ``python_function.loader_module`` — only tracker's own
flavor modules are imported, never a module named by a (possibly edited) manifest. When the
model has a signature, input is checked against it before ``predict`` (missing columns and wrong
types are refused with a message naming them; extra columns are dropped).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from types import ModuleType

    from tracker.models.signature import ModelSignature

__all__ = ["FLAVOR_NAME", "PyFuncModel", "load_model"]

FLAVOR_NAME = "python_function"

# loader_module values a manifest may name, and the flavor module that loads each one.
_LOADERS = {
    "tracker.xgboost": "tracker.xgboost",
    "tracker.sklearn": "tracker.sklearn",
}


class PyFuncModel:
    """A loaded model with a flavor-independent ``predict``.

    Args:
        raw_model: the flavor's model object (``Booster``, ``XGBRegressor``, a pipeline…).
        flavor: the flavor module that loaded it.
        manifest: the model folder's ``MLmodel`` manifest.
        model_uri: the URI the model was loaded from.
    """

    def __init__(
        self, raw_model: Any, flavor: ModuleType, manifest: dict[str, Any], model_uri: str
    ) -> None:
        from tracker.models.signature import ModelSignature

        self._raw = raw_model
        self._flavor = flavor
        self._manifest = manifest
        self.model_uri = model_uri
        sig = manifest.get("signature")
        self._signature = ModelSignature.from_dict(sig) if sig else None

    @property
    def metadata(self) -> dict[str, Any]:
        """The ``MLmodel`` manifest (flavors, signature, files, versions, run id…)."""
        return self._manifest

    @property
    def signature(self) -> ModelSignature | None:
        """The model's signature, or None when it was logged without one."""
        return self._signature

    @property
    def loader_module(self) -> str:
        """The flavor module that loaded the model (``tracker.xgboost``, ``tracker.sklearn``)."""
        return self._flavor.__name__

    def get_raw_model(self) -> Any:
        """The underlying model object, as the flavor's ``load_model`` returns it."""
        return self._raw

    def unwrap_python_model(self) -> Any:
        """MLflow's spelling of ``get_raw_model``."""
        return self._raw

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict on a pandas DataFrame, numpy array, dict (columns or one record) or list.

        Args:
            data: the input; checked against the signature when the model has one.
            params: accepted for MLflow compatibility; must be empty.
        """
        if params:
            raise InvalidArgumentError(
                f"This model takes no inference params, got {sorted(params)}."
            )
        if self._signature is not None:
            from tracker.models.signature import enforce_schema

            data = enforce_schema(self._signature.inputs, data)
        return self._flavor._predict(self._raw, data)

    def __repr__(self) -> str:
        flavors = sorted(k for k in self._manifest["flavors"] if k != FLAVOR_NAME)
        return (
            f"<PyFuncModel: uri={self.model_uri!r}, flavor={', '.join(flavors)}, "
            f"run_id={self._manifest.get('run_id')!r}>"
        )


def load_model(model_uri: str | os.PathLike[str], dst_path: str | None = None) -> PyFuncModel:
    """Load any logged model as a ``PyFuncModel`` (``.predict``, ``.metadata``, ``.get_raw_model``).

    Args:
        model_uri: ``runs:/<run_id>/model``, ``models:/<name>/<version|stage|latest>``,
            ``models:/<name>@<alias>``, a folder path or ``file://`` URI.
        dst_path: accepted for MLflow compatibility (local models are read in place).
    """
    import importlib

    from tracker.models.flavors import PYFUNC, open_model

    opened = open_model(model_uri, PYFUNC)
    loader = str(opened.manifest["flavors"][PYFUNC].get("loader_module"))
    if loader not in _LOADERS:
        raise InvalidArgumentError(
            f"The model at {model_uri!r} names loader_module {loader!r}, which tracker cannot "
            f"load; supported: {sorted(set(_LOADERS.values()))}."
        )
    flavor = importlib.import_module(_LOADERS[loader])
    raw = flavor._load(opened.local_path, opened.manifest)
    return PyFuncModel(raw, flavor, opened.manifest, os.fspath(model_uri))
