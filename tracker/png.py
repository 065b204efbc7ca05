"""Numpy arrays to PNG bytes with the standard library's zlib (Pillow is not needed).

``image_array`` applies MLflow's rules for image arrays (``log_image``): bool, integer in
[0, 255] or float in [0, 1] (other floats are min/max-scaled with a warning); shape H×W,
H×W×1, H×W×3 (RGB) or H×W×4 (RGBA). ``encode_png`` writes an 8-bit PNG: filter 0 on every row,
one zlib-compressed IDAT chunk.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from typing import Any

from tracker.exceptions import InvalidArgumentError

__all__ = ["encode_png", "image_array"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels → PNG colour type (grey, RGB, RGBA)


def image_array(image: Any) -> Any:
    """The ``uint8`` H×W or H×W×{3,4} array MLflow would save for ``image`` (a numpy array)."""
    import numpy as np

    kinds = {"b": "bool", "i": "signed integer", "u": "unsigned integer", "f": "floating"}
    if image.dtype.kind not in kinds:
        raise InvalidArgumentError(
            f"Invalid image array dtype {image.dtype}: use one of {', '.join(kinds.values())}."
        )
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise InvalidArgumentError(
            f"Invalid image array shape {image.shape}: use H×W (grey), H×W×1, H×W×3 (RGB) or "
            "H×W×4 (RGBA)."
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.size == 0:
        raise InvalidArgumentError(f"Invalid image array shape {image.shape}: it has no pixels.")
    is_int = image.dtype.kind in "iu"
    low, high = float(image.min()), float(image.max())
    if is_int and (low < 0 or high > 255):
        raise InvalidArgumentError(
            f"Integer pixel values must lie in [0, 255]; this image has {low:g} to {high:g}."
        )
    if image.dtype.kind == "f" and (low < 0 or high > 1):
        warnings.warn(
            f"Float pixel values out of [0.0, 1.0] ({low:g} to {high:g}); rescaled with min/max.",
            stacklevel=3,
        )
        image = (image - low) / ((high - low) or 1.0)
    if not is_int:
        image = image * 255
    return np.ascontiguousarray(image.astype(np.uint8))


def encode_png(array: Any) -> bytes:
    """PNG bytes of a ``uint8`` H×W, H×W×3 or H×W×4 array (see ``image_array``)."""
    import numpy as np

    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    rows = array.reshape(height, width * channels)
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return b"".join((
        _SIGNATURE,
        _chunk(b"IHDR", header),
        _chunk(b"IDAT", zlib.compress(raw, 6)),
        _chunk(b"IEND", b""),
    ))


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
