"""MkDocs hook: the search options table, generated from the one definition of the options.

A page that holds the marker ``<!-- search-options -->`` gets, in its place, one row per field of
:class:`siglip_retriever.search.options.SearchOptions`, from
:func:`siglip_retriever.search.options.option_specs`: the option's name (and the CLI's flag), its
type, its default in each front-end (Python, the LangChain vector store, the CLI, the web API),
its values and its help line. A new option appears in the table by itself; the page's prose is
the writer's.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- search-options -->"

TYPES = {
    "count": "integer",
    "probability": "number",
    "cosine": "number",
    "flag": "boolean",
    "choice": "string",
    "filter": "object (JSON)",
}


def show(value: Any) -> str:
    """A default as Python writes it, in code (``None`` as ``None``)."""
    return f"`{value!r}`"


def values(spec: Any) -> str:
    """What values the option takes: a range, the choices, or a word."""
    if spec.bounds is not None:
        low, high = spec.bounds
        return f"{low:g} to {high:g}"
    if spec.choices:
        return ", ".join(f"`{choice}`" for choice in spec.choices)
    if spec.type == "flag":
        return "`True`, `False`"
    return "a Chroma `where` filter"


def flags(spec: Any) -> str:
    """The option's name in Python and the CLI's flags."""
    cli = "--" + spec.name.replace("_", "-")
    short = f", `{spec.short}`" if spec.short else ""
    return f"`{spec.name}`<br>`{cli}`{short}"


def options_table() -> str:
    """The table, as Markdown."""
    from siglip_retriever.search import options

    fronts = [
        ("Python", options.DEFAULTS),
        ("vector store", options.VECTOR_STORE_DEFAULTS),
        ("CLI", options.CLI_DEFAULTS),
        ("web", options.WEB_DEFAULTS),
    ]
    head = ["option", "type", *(f"default: {name}" for name, _ in fronts), "values", "what it does"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for spec in options.option_specs():
        defaults = [show(getattr(defaults, spec.name)) for _, defaults in fronts]
        help_text = spec.help.replace("|", "\\|")
        cells = [flags(spec), TYPES[spec.type], *defaults, values(spec), help_text]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the marker with the table."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, options_table())
