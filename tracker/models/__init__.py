"""Logged models: the model folder format, flavors and model URIs."""

from __future__ import annotations

from tracker.models.flavors import ModelInfo
from tracker.models.params import ParamSchema, ParamSpec
from tracker.models.signature import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature

__all__ = [
    "ColSpec", "ModelInfo", "ModelSignature", "ParamSchema", "ParamSpec", "Schema", "TensorSpec",
    "infer_signature",
]
