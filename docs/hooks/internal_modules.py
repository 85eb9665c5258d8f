"""MkDocs hook: the internal modules' page, generated from the package's tree.

The public API is the package root (``siglip_retriever``, its ``__all__``) and the front-end
packages (:data:`PUBLIC`); their pages are in docs/reference/python/. Every other module is
internal: it may change in any release without a CHANGELOG entry. The marker
``<!-- internal-modules -->`` (docs/reference/python/internal.md) is replaced by every internal
module, found by walking ``src/siglip_retriever`` (so a new module appears by itself), grouped by
its top-level package, each with its docstring (the job it does) and no members: mkdocstrings
renders it, so a cross-reference to a module from a public docstring lands here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MARKER = "<!-- internal-modules -->"
PACKAGE = "siglip_retriever"
SOURCE = Path(__file__).resolve().parents[2] / "src" / PACKAGE
PUBLIC = (
    "siglip_retriever",
    "siglip_retriever.errors",
    "siglip_retriever.integrations.langchain",
    "siglip_retriever.integrations.llama_index",
    "siglip_retriever.integrations.chroma",
    "siglip_retriever.app",
    "siglip_retriever.cli",
)
"""The public modules: the package root, its exceptions, and the front-end packages."""


def module_names(source: Path = SOURCE) -> list[str]:
    """Every module of the package, dotted, sorted (packages before their modules)."""
    names = []
    for path in source.rglob("*.py"):
        parts = list(path.relative_to(source.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return sorted(names, key=lambda name: name.split("."))


def internal_modules(source: Path = SOURCE) -> list[str]:
    """The modules that are not public (``__main__`` entry points left out: they hold no API)."""
    return [name for name in module_names(source) if name not in PUBLIC and not name.endswith("__main__")]


def render(source: Path = SOURCE) -> str:
    """The page's generated part: one section a top-level package, one entry a module."""
    lines: list[str] = []
    group = None
    for name in internal_modules(source):
        parts = name.split(".")
        in_package = len(parts) > 1 and (source / parts[1]).is_dir()
        top = ".".join(parts[:2]) if in_package else PACKAGE
        if top != group:
            group = top
            lines += [f"## `{top}`" if in_package else f"## Modules of `{top}`", ""]
        lines += [
            f"::: {name}",
            "    options:",
            "      members: false",
            "      show_root_heading: true",
            "      show_root_full_path: true",
            "      heading_level: 3",
            "",
        ]
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the marker with the list of internal modules."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
