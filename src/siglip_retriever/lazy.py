"""Lazy exports: a package names what it offers and imports each name's module on first use.

``import siglip_retriever`` and ``siglip-retriever --help`` stay fast because the package's
``__init__`` modules import nothing heavy: they hand :func:`lazy_exports` a table of public names
and the modules that define them, and the name's module is imported the first time it is read.

Example:
    >>> import types, sys
    >>> from siglip_retriever.lazy import lazy_exports
    >>> package = types.ModuleType("example_package")
    >>> sys.modules["example_package"] = package
    >>> package.__getattr__, package.__dir__ = lazy_exports("example_package", {"dumps": "json"})
    >>> package.dumps([1])
    '[1]'
    >>> "dumps" in dir(package)
    True
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module-level ``__getattr__`` and ``__dir__`` for ``names`` (public name ->
    module that defines it); a name read once is kept in the package's namespace."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        namespace = vars(sys.modules[package])
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
