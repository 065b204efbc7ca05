"""Installing and removing autologging patches, and each integration's current options.

A patch replaces one attribute (``xgboost.train``, ``LinearRegression.fit``) with a wrapper and
remembers exactly what was there, so ``autolog(disable=True)`` puts back the very same object —
or removes the attribute when the class only inherited it.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

_MISSING = object()
_lock = threading.Lock()


@dataclass(frozen=True)
class Patch:
    """One replaced attribute.

    Args:
        owner: the module or class that was patched.
        name: the attribute name.
        original: what ``owner.__dict__`` held before (``_MISSING`` when it was inherited).
    """

    owner: Any
    name: str
    original: Any


_patches: dict[str, list[Patch]] = {}
_options: dict[str, dict[str, Any]] = {}


def options(flavor: str) -> dict[str, Any] | None:
    """The options ``autolog()`` was last called with for ``flavor``; None when it is off.

    Args:
        flavor: the integration name (``xgboost``, ``sklearn``).
    """
    return _options.get(flavor)


def is_enabled(flavor: str) -> bool:
    """True while ``flavor``'s patches are installed.

    Args:
        flavor: the integration name.
    """
    return flavor in _patches


def enable(flavor: str, opts: dict[str, Any], install: Callable[[], None]) -> None:
    """Store ``opts`` for ``flavor`` and run ``install`` the first time (not when re-configuring).

    Args:
        flavor: the integration name.
        opts: the options the wrappers read at each call.
        install: patches the library (through ``patch``).
    """
    with _lock:
        _options[flavor] = dict(opts)
        if flavor in _patches:
            return
        _patches[flavor] = []
    try:
        install()
    except BaseException:
        disable(flavor)
        raise


def disable(flavor: str) -> None:
    """Remove every patch of ``flavor`` (newest first) and forget its options.

    Args:
        flavor: the integration name.
    """
    with _lock:
        patches = _patches.pop(flavor, [])
        _options.pop(flavor, None)
    for item in reversed(patches):
        if item.original is _MISSING:
            try:
                delattr(item.owner, item.name)
            except AttributeError:
                pass
        else:
            setattr(item.owner, item.name, item.original)


def patch(
    flavor: str, owner: Any, name: str, make_wrapper: Callable[[Callable[..., Any]], Any]
) -> bool:
    """Replace ``owner.name`` by ``make_wrapper(current)``; False when not a plain function or
    already patched (inherited from a patched base class).

    Args:
        flavor: the integration the patch belongs to.
        owner: a module or class.
        name: the attribute to replace.
        make_wrapper: builds the replacement from the current function.
    """
    current = inspect.getattr_static(owner, name, None)
    if not inspect.isfunction(current):
        return False  # descriptors such as sklearn's available_if keep their own logic
    if getattr(current, "__tracker_autolog__", None) == flavor:
        return False  # inherited from a class patched already
    wrapper = functools.wraps(current)(make_wrapper(current))
    setattr(wrapper, "__tracker_autolog__", flavor)  # noqa: B010 - marks our wrappers
    original = vars(owner).get(name, _MISSING)
    setattr(owner, name, wrapper)
    with _lock:
        _patches.setdefault(flavor, []).append(Patch(owner, name, original))
    return True


def version_at_least(version: str, minimum: tuple[int, ...]) -> bool:
    """True when a ``major.minor[...]`` version string is at least ``minimum``.

    Args:
        version: e.g. ``"3.2.0"`` or ``"1.9.dev0"``.
        minimum: e.g. ``(1, 7)``.
    """
    parts = [
        int("".join(itertools.takewhile(str.isdigit, piece)) or 0)
        for piece in version.split(".")[: len(minimum)]
    ]
    return tuple(parts) >= minimum
