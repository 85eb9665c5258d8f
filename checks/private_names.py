"""An import-linter contract: no module uses another module's private names or attributes.

``lint-imports`` (configured in ``pyproject.toml``) loads this contract type. For every module of
the checked packages it reads the module's source and reports:

- ``from package.module import _name``: an underscore name imported from another module;
- ``module._name`` where ``module`` was imported: another module's private name used through it;
- ``thing._name`` on anything but ``self`` and ``cls`` (with ``attributes = true``): another
  object's private attribute.

Dunder names (``__version__``, ``__init__``) are public. A private *module* (``_version``) may be
imported whole; its names follow the same rule. Import-linter's own contracts check the layers;
this one checks what crosses them.

Example:
    >>> from checks.private_names import private_uses
    >>> source = "from siglip_retriever.store import _upsert\\nstore._call()\\nself._x = 1\\n"
    >>> [line for line, _ in private_uses(source, attributes=True)]
    [1, 2]
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output

__all__ = ["PrivateNamesContract", "private_uses"]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str, *, attributes: bool) -> list[tuple[int, str]]:
    """``(line, what)`` for every use of another module's or object's private name in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found.extend(
                (node.lineno, f"imports {alias.name} from {'.' * node.level}{node.module or ''}")
                for alias in node.names
                if _private(alias.name)
            )
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if attributes or isinstance(owner, ast.Name):
                found.append((node.lineno, f"uses {ast.unparse(node)}"))
    return sorted(found)


def _source_file(module: str) -> Path | None:
    root, _, rest = module.partition(".")
    spec = importlib.util.find_spec(root)
    if spec is None or spec.origin is None:
        return None
    base = Path(spec.origin).parent.joinpath(*rest.split(".")) if rest else Path(spec.origin).parent
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class PrivateNamesContract(Contract):
    """No module of ``source_packages`` uses another module's (or object's) private names.

    Options:
        source_packages: the packages whose modules are checked (with all their descendants).
        attributes: also report private attributes of objects other than ``self`` and ``cls``.
    """

    type_name = "private_names"

    source_packages = fields.ListField(subfield=fields.StringField())
    attributes = fields.BooleanField(default=True)

    def check(self, graph: object, verbose: bool) -> ContractCheck:
        packages = [str(p) for p in self.source_packages]  # type: ignore[attr-defined]
        violations: list[str] = []
        for module in sorted(graph.modules):  # type: ignore[attr-defined]
            if not any(module == p or module.startswith(p + ".") for p in packages):
                continue
            path = _source_file(module)
            if path is None:
                continue
            for line, what in private_uses(
                path.read_text(encoding="utf-8"), attributes=bool(self.attributes)
            ):
                violations.append(f"{module}:{line} {what}")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in check.metadata["violations"]:
            output.print_error(f"- {violation}", bold=False)
            output.new_line()
