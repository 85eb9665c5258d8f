"""The docs build's hooks (docs/hooks/*.py: MkDocs loads them by path, they are no package), loaded
by name for the tests."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.docs.snippets import ROOT


def load_hook(name: str) -> ModuleType:
    """The module docs/hooks/``name``.py, loaded once."""
    key = f"docs_hooks_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "docs" / "hooks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]
