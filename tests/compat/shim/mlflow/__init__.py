"""A stand-in ``mlflow`` package for the compatibility corpus: ``import mlflow`` is ``tracker``.

Only on PYTHONPATH while the corpus runs (tests/compat/runner.py). ``mlflow`` itself becomes the
``tracker`` module, and ``mlflow.<x>.<y>`` is the already imported or freshly imported
``tracker.<x>.<y>``, the same module object, so classes are identical under both names
(``mlflow.pyfunc.PythonModel is tracker.pyfunc.PythonModel``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Any

import tracker


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``mlflow.<name>`` as ``tracker.<name>``."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not fullname.startswith("mlflow."):
            return None
        if importlib.util.find_spec("tracker" + fullname[len("mlflow"):]) is None:
            return None  # "No module named 'mlflow.x'", as without the shim
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> ModuleType:
        return importlib.import_module("tracker" + spec.name[len("mlflow"):])

    def exec_module(self, module: ModuleType) -> None:
        pass  # already executed under its tracker name


sys.meta_path.insert(0, _Alias())
sys.modules["mlflow"] = tracker
