"""Figures to artifact bytes: matplotlib (any format it saves) and plotly (HTML or JSON)."""

from __future__ import annotations

import io
from typing import Any

from tracker.exceptions import InvalidArgumentError


def figure_bytes(figure: Any, artifact_file: str, save_kwargs: dict[str, Any] | None = None) -> bytes:
    """Serialize ``figure`` in the format ``artifact_file``'s extension names."""
    ext = artifact_file.rsplit(".", 1)[-1].lower() if "." in artifact_file else ""
    module = type(figure).__module__
    if module.startswith("matplotlib"):
        buf = io.BytesIO()
        figure.savefig(buf, format=ext or "png", **(save_kwargs or {}))
        return buf.getvalue()
    if module.startswith("plotly"):
        if ext == "html":
            # Self-contained so the artifact opens offline; the site renders .json more compactly.
            return str(figure.to_html(include_plotlyjs=True, full_html=True)).encode()
        if ext == "json":
            return str(figure.to_json()).encode()
        raise InvalidArgumentError(
            f"log_figure: a plotly figure can be saved as .html or .json, not {artifact_file!r}."
        )
    raise InvalidArgumentError(
        f"log_figure needs a matplotlib or plotly figure, got {type(figure).__name__}."
    )
