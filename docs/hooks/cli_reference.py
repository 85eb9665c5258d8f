"""MkDocs hook: the command-line reference (mkdocs-click) shows the help texts as ``--help`` does.

Two things mkdocs-click renders differently from the terminal are put right here:

- a paragraph that click keeps as typed (a line holding only ``\\b`` before it: the examples in
  ``siglip-retriever --help``) would be joined into one line of prose; it becomes a ``text`` code
  block, line breaks kept;
- a flag's default shows as ``Sentinel.UNSET`` (click 8.3's marker for "no default given"); the
  cell is left empty, as ``--help`` prints nothing there.

The first is done by wrapping mkdocs-click's description maker, the second on the page's HTML.
If a release of mkdocs-click renames that function, the wrapping is skipped and the page is
built as mkdocs-click makes it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

UNSET_CELL = "<code>Sentinel.UNSET</code>"


def verbatim_paragraphs(help_text: str) -> Iterator[str]:
    """Markdown lines of a click help text: each ``\\b`` paragraph as a ``text`` code block."""
    verbatim = False
    for line in inspect.cleandoc(help_text).splitlines():
        if line.strip() == "\b":
            verbatim = True
            yield "```text"
            continue
        if verbatim and not line.strip():
            verbatim = False
            yield "```"
        yield line
    if verbatim:
        yield "```"
    yield ""


def wrap(make_description: Callable[..., Iterator[str]]) -> Callable[..., Iterator[str]]:
    """mkdocs-click's description maker, with :func:`verbatim_paragraphs` for its help texts."""

    def make(ctx: Any, remove_ascii_art: bool = False) -> Iterator[str]:
        help_text = ctx.command.help or ctx.command.short_help
        if remove_ascii_art or not help_text:
            return make_description(ctx, remove_ascii_art=remove_ascii_art)
        return verbatim_paragraphs(help_text)

    make.wrapped = True  # type: ignore[attr-defined]
    return make


def on_config(config: Any, **kwargs: Any) -> Any:
    """Wrap mkdocs-click's description maker (once)."""
    from mkdocs_click import _docs as docs

    original = getattr(docs, "_make_description", None)
    if original is not None and not getattr(original, "wrapped", False):
        docs._make_description = wrap(original)
    return config


def on_page_content(html: str, **kwargs: Any) -> str:
    """Leave a flag's default cell empty instead of ``Sentinel.UNSET``."""
    return html.replace(UNSET_CELL, "")
