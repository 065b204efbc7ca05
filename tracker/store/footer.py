"""One key of a local Parquet file's footer, read from its bytes without pyarrow (#16).

A new process's first search reads the ``tracker.format_version`` of every file it loads and
the ``tracker.covers`` of every consolidated file it plans; ``pyarrow.parquet.read_metadata``
costs ~0.1 ms a file plus ~50 ms to import ``pyarrow.parquet`` and ``pyarrow.fs``. The footer is
Thrift's compact encoding, where a key/value pair that tracker writes is the bytes
``0x18 <len> key 0x18 <len> value``; ``footer_value`` finds it there and answers ``UNSURE`` for
anything else (an encrypted footer, a key found twice, an unexpected encoding), so the caller
reads that footer with pyarrow. Store files are untrusted: a wrong answer here can only be one a
hand-made footer could also give pyarrow.
"""

from __future__ import annotations

import os
from typing import Any

UNSURE: Any = type("Unsure", (), {"__repr__": lambda self: "UNSURE"})()
MAX_FOOTER = 64 << 20
TAIL_GUESS = 8 << 10  # bytes read from a file's end at once


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """The unsigned varint at ``data[at:]`` and the index after it ((-1, at) when cut off)."""
    value = shift = 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    return -1, at


def footer_value(path: str, key: bytes) -> Any:
    """The value of ``key`` in the footer of the Parquet file at ``path``; None when the footer
    does not hold it; ``UNSURE`` when the bytes are not what tracker writes. Raises OSError
    when the file cannot be read."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size < 12:
            return UNSURE
        # One read of the file's end holds the whole footer of a run's file (~2 KB); a longer
        # footer takes a second read. Fewer calls than seek and read: ~2,000 files a first load.
        end = min(size, TAIL_GUESS)
        tail = os.pread(fd, end, size - end)
        length = int.from_bytes(tail[-8:-4], "little")
        if tail[-4:] != b"PAR1" or not 0 < length <= min(size - 12, MAX_FOOTER):
            return UNSURE
        if length + 8 <= len(tail):
            footer = tail[len(tail) - 8 - length:-8]
        else:
            footer = os.pread(fd, length, size - 8 - length)
    finally:
        os.close(fd)
    if len(footer) != length:
        return UNSURE  # cut short meanwhile
    needle = b"\x18" + _varint_bytes(len(key)) + key + b"\x18"
    at = footer.find(needle)
    if at < 0:
        return None if footer.find(key) < 0 else UNSURE
    if footer.find(key, at + len(needle) - 1) >= 0:
        return UNSURE  # the key twice (or inside a value): let pyarrow decide
    count, start = _varint(footer, at + len(needle))
    if count < 0 or start + count > len(footer):
        return UNSURE
    return footer[start:start + count]


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
