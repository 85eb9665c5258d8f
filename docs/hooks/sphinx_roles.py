"""A Griffe extension for the Python reference: the docstrings' Sphinx roles as cross-references.

It also reads the docstrings' ``Example:`` (and ``Example (what it shows):``) heading as Google
style's ``Examples:`` section, so that their doctests are shown as Python code (Griffe knows only
the plural), and an RST literal block's ``::`` as one colon (the indented block after it is code
in Markdown too).

The package's docstrings name other objects with Sphinx roles (``:class:`~siglip_retriever.Retriever```,
``:func:`.option_specs```), which Markdown would show as they are typed. This extension, loaded by
mkdocstrings (``extensions`` in mkdocs.yml), rewrites each role into an *optional* autorefs
cross-reference: a link where the object is documented on the site (the public reference, or the
internal modules' page for a module), plain code elsewhere, and never a build warning.

A role's target is resolved as Sphinx does for the common cases: a full dotted path as it is; a
leading ``~`` shows the last name only; a name with a leading dot, or with no package prefix, is
looked up in the docstring's own module, then in its package.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

EXAMPLE_HEADING = re.compile(r"^Examples?(?: *\((?P<what>[^)\n]*)\))?:[ \t]*$", re.MULTILINE)
LITERAL_BLOCK = re.compile(r"(?<=[^:\s]):(:)[ \t]*$", re.MULTILINE)
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|type):`(?P<target>[^`]+)`")
PACKAGE = "siglip_retriever"


def resolve(target: str, obj: griffe.Object) -> str:
    """The full dotted path a role's ``target`` names, seen from the docstring of ``obj``."""
    target = target.lstrip("~")
    if target.startswith(PACKAGE + ".") or target == PACKAGE:
        return target
    name = target.lstrip(".")
    module = obj if obj.is_module else obj.module
    first = name.split(".")[0]
    if first in module.members:
        return f"{module.path}.{name}"
    package = module if module.is_init_module else module.parent
    if package is not None and first in package.members:
        return f"{package.path}.{name}"
    return f"{module.path}.{name}" if target.startswith(".") else name


def rewrite(text: str, obj: griffe.Object) -> str:
    """``text`` with every Sphinx role replaced by an optional autorefs cross-reference."""

    def replace(match: re.Match[str]) -> str:
        target = match.group("target").strip()
        title = target.lstrip("~.").split(".")[-1] if target.startswith("~") else target.lstrip(".")
        identifier = html.escape(resolve(target, obj), quote=True)
        return f'<autoref identifier="{identifier}" optional><code>{html.escape(title)}</code></autoref>'

    def heading(match: re.Match[str]) -> str:
        what = match.group("what")
        return f"Examples:\n    {what[:1].upper()}{what[1:]}:" if what else "Examples:"

    text = LITERAL_BLOCK.sub(":", ROLE.sub(replace, text))
    return EXAMPLE_HEADING.sub(heading, text)


class SphinxRoles(griffe.Extension):
    """Rewrites the Sphinx roles of every docstring once the package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the package's objects (not aliases: each object is rewritten where it is defined)."""
        seen: set[str] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.path in seen:
                continue
            seen.add(obj.path)
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj.docstring.value, obj)
            stack.extend(member for member in obj.members.values() if not member.is_alias)
