"""The site's build steps hand each other typed objects, never ``Any`` (#13).

mypy refuses an explicit ``Any`` in ``tracker.site.build`` (pyproject.toml); the rest of the
site still passes store records as ``dict[str, Any]``, so these checks read the source instead:
an object of a build step (the site data, the writer, a page model, the URL scheme, ...) is
never annotated with ``Any``, no page-model field is ``Any``, and every page module's
``collect`` takes the ``SiteData``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tracker.site.build import COLLECTORS, collector

SITE = Path(__file__).resolve().parent.parent / "tracker" / "site"

# Parameter names that hold a build step's object (not a record value): each must have a real type.
STEP_OBJECTS = frozenset({
    "site", "writer", "env", "urls", "config", "rules", "publish", "cache", "query", "registry",
    "page", "pages", "state", "ctx", "context", "column", "columns", "version", "champion",
    "importance", "block", "browser", "route", "formatter", "collect", "base",
})


def _mentions_any(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    text = ast.unparse(annotation)
    return any(
        isinstance(node, ast.Name) and node.id == "Any"
        for node in ast.walk(ast.parse(text.strip("'\""), mode="eval"))
    )


def _sources() -> list[tuple[str, ast.Module]]:
    return [
        (path.relative_to(SITE.parent.parent).as_posix(), ast.parse(path.read_text("utf-8")))
        for path in sorted(SITE.rglob("*.py"))
    ]


def untyped_step_objects(sources: list[tuple[str, ast.Module]]) -> list[str]:
    """``file:line function(param)`` of every step-object parameter that is unannotated or ``Any``."""
    found = []
    for name, tree in sources:
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = node.args
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
                if arg.arg in STEP_OBJECTS and (
                    arg.annotation is None or _mentions_any(arg.annotation)
                ):
                    found.append(f"{name}:{arg.lineno} {node.name}({arg.arg})")
    return found


def any_fields(sources: list[tuple[str, ast.Module]]) -> list[str]:
    """``file:line Class.field`` of every class attribute annotated ``Any`` (or ``Any | None``)."""
    found = []
    for name, tree in sources:
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for stmt in cls.body:
                if not isinstance(stmt, ast.AnnAssign):
                    continue
                parts = ast.unparse(stmt.annotation).replace(" ", "").split("|")
                if "Any" in parts:
                    found.append(f"{name}:{stmt.lineno} {cls.name}.{ast.unparse(stmt.target)}")
    return found


def test_no_build_step_object_is_annotated_any() -> None:
    found = untyped_step_objects(_sources())
    assert not found, "site step objects typed Any (use the class, or a Protocol):\n  " + (
        "\n  ".join(found))


def test_no_page_model_field_is_any() -> None:
    found = any_fields(_sources())
    assert not found, "site model fields typed Any:\n  " + "\n  ".join(found)


def test_the_checks_find_what_they_look_for() -> None:
    tree = ast.parse(
        "from typing import Any\n"
        "def _collect(site: Any, writer, env: dict[str, Any], value: Any) -> None: ...\n"
        "class BlockView:\n"
        "    block: Any = None\n"
        "    data: Any | None = None\n"
        "    rows: tuple[Any, ...] = ()\n"
    )
    assert untyped_step_objects([("x.py", tree)]) == [
        "x.py:2 _collect(site)", "x.py:2 _collect(writer)", "x.py:2 _collect(env)",
    ]
    assert any_fields([("x.py", tree)]) == ["x.py:4 BlockView.block", "x.py:5 BlockView.data"]


@pytest.mark.parametrize("name", COLLECTORS)
def test_every_page_module_collects_from_the_site_data(name: str) -> None:
    collect = collector(name)
    annotations = collect.__annotations__
    assert annotations.get("site") == "SiteData", (name, annotations)
    assert "Any" not in str(annotations.get("return")), (name, annotations)
