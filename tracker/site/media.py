"""Which artifact copies a browser may open as they are: an allow-list of inert types (#15).

A copied artifact is served from the site's origin without the pages' Content-Security-Policy,
so any type a browser runs script in (HTML, SVG, XML and its many spellings such as ``.xhtm``
or ``.xpdl``) would run a logged file's script as the site. A deny-list always misses one, so
only the types below are copied and served as they are; the static build renames every other
copy (``.txt`` when its bytes are text, ``.bin`` otherwise) and ``tracker serve`` sends it as
``application/octet-stream`` with ``Content-Disposition: attachment``.
"""

from __future__ import annotations

# Extension (lower case) -> the Content-Type ``tracker serve`` sends. Images a browser shows
# as images (not SVG), text shown as text, JSON, CSV and PDF.
INERT_TYPES: dict[str, str] = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "webp": "image/webp", "bmp": "image/bmp", "avif": "image/avif",
    "txt": "text/plain", "log": "text/plain", "md": "text/plain", "markdown": "text/plain",
    "yaml": "text/plain", "yml": "text/plain", "toml": "text/plain", "ini": "text/plain",
    "cfg": "text/plain", "py": "text/plain", "sql": "text/plain", "sh": "text/plain",
    "r": "text/plain", "rst": "text/plain",
    "csv": "text/csv", "tsv": "text/tab-separated-values",
    "json": "application/json", "pdf": "application/pdf",
}
_CHARSET = ("text/", "application/json")
SNIFF_BYTES = 8192


def extension(path: str) -> str:
    """The lower-case extension of a path's file name ('' when it has none)."""
    name = path.rsplit("/", 1)[-1].lower()
    return name.rsplit(".", 1)[-1] if "." in name.strip(".") else ""


def is_inert(path: str) -> bool:
    """Whether a file of this name may be copied and served as it is.

    Args:
        path: the artifact path or file name.
    """
    return extension(path) in INERT_TYPES


def content_type(path: str) -> str | None:
    """The Content-Type to serve an inert file with (None: not inert, send it as a download).

    Args:
        path: the file name or path.
    """
    mime = INERT_TYPES.get(extension(path))
    if mime is not None and mime.startswith(_CHARSET):
        return f"{mime}; charset=utf-8"
    return mime


def looks_like_text(data: bytes) -> bool:
    """True when the start of ``data`` is UTF-8 text without NUL bytes."""
    sample = data[:SNIFF_BYTES]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A character cut at the end of the sample is not a reason to call the file binary.
        return len(data) > SNIFF_BYTES and exc.start >= len(sample) - 3
    return True


def copy_suffix(path: str, data: bytes) -> tuple[str, str]:
    """(suffix to append to the site copy of an artifact, note for the run page); ('', '') for
    an inert type.

    Args:
        path: the artifact path.
        data: the bytes copied (after redaction).
    """
    if is_inert(path):
        return "", ""
    if looks_like_text(data):
        return ".txt", ("copied as plain text: only images, text, JSON, CSV and PDF are "
                        "copied as they are")
    return ".bin", ("copied as a .bin download: only images, text, JSON, CSV and PDF are "
                    "copied as they are")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels read from a PNG, GIF, JPEG or WebP header, else None.

    Args:
        data: the image file's bytes.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return (int.from_bytes(data[26:28], "little") & 0x3FFF,
                int.from_bytes(data[28:30], "little") & 0x3FFF)
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        length = int.from_bytes(data[at + 2:at + 4], "big")
        # Start-of-frame markers (not DHT C4, JPG C8, DAC CC) hold height, then width.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[at + 7:at + 9], "big"), int.from_bytes(data[at + 5:at + 7], "big")
        at += 2 + length
    return None
