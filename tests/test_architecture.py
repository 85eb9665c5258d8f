"""The package's shape (docs/architecture.md): import contracts, private names, sizes, exports."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from checks.private_names import private_uses

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "siglip_retriever"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def test_import_contracts_are_kept() -> None:
    """`lint-imports` (the contracts in pyproject.toml) passes, as CI requires."""
    command = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_private_names_contract_sees_every_kind_of_reach_in() -> None:
    source = (
        "from siglip_retriever.store.store import _where\n"
        "from . import _helpers\n"
        "import siglip_retriever.encoding.loading as loading\n"
        "loading._CACHE.clear()\n"
        "store._upsert([])\n"
        "self._private = cls._other = 1\n"
        "x = value.__class__\n"
        "from siglip_retriever._version import __version__\n"
    )
    assert [line for line, _ in private_uses(source, attributes=True)] == [1, 2, 4, 5]
    assert [line for line, _ in private_uses(source, attributes=False)] == [1, 2, 4, 5]
    assert private_uses("obj.attr._x\n", attributes=False) == []
    assert [line for line, _ in private_uses("obj.attr._x\n", attributes=True)] == [1]


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_one_job_and_a_size_a_reader_can_hold() -> None:
    too_long: list[str] = []
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(PACKAGE.parent)
        tree = ast.parse(source)
        docstring = ast.get_docstring(tree)
        assert docstring and docstring.splitlines()[0].strip(), f"{name}: no docstring naming its job"
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    assert too_long == []


def test_lazy_exports_are_declared_for_type_checkers() -> None:
    """Every lazily exported name of the package root is imported under TYPE_CHECKING too."""
    import siglip_retriever

    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    typed = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for child in node.body
        if isinstance(child, ast.ImportFrom)
        for alias in child.names
    }
    lazy = set(vars(siglip_retriever)["_LAZY"])
    assert typed == lazy
    assert lazy <= set(siglip_retriever.__all__)
