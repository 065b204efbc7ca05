"""Logged models: the model folder format, flavors and model URIs."""

from __future__ import annotations
