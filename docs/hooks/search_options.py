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


def defaults_cell(spec: Any, fronts: list[tuple[str, Any]]) -> str:
    """The Python default, then each front-end whose default differs from it."""
    python = getattr(fronts[0][1], spec.name)
    others = [
        f"{name}: {show(getattr(defaults, spec.name))}"
        for name, defaults in fronts[1:]
        if getattr(defaults, spec.name) != python
    ]
    return show(python) + (f"<br>({', '.join(others)})" if others else "")


def options_table() -> str:
    """The table, as Markdown: option and flags, type and values, defaults, what it does."""
    from siglip_retriever.search import options

    fronts = [
        ("Python", options.DEFAULTS),
        ("vector store", options.VECTOR_STORE_DEFAULTS),
        ("CLI", options.CLI_DEFAULTS),
        ("web", options.WEB_DEFAULTS),
    ]
    rows = ["| option | type: values | default | what it does |", "|---|---|---|---|"]
    for spec in options.option_specs():
        help_text = spec.help.replace("|", "\\|")
        cells = [flags(spec), f"{TYPES[spec.type]}: {values(spec)}", defaults_cell(spec, fronts), help_text]
        rows.append("| " + " | ".join(cells) + " |")
    notes = (
        "The name is the keyword argument in Python and the query parameter over HTTP; the CLI's "
        "flags are under it. Defaults: Python's (the `Retriever`, the LangChain and LlamaIndex "
        "retrievers), and in parentheses the front-ends whose users expect another one (the "
        "LangChain vector store, the CLI, the web API and page). Generated from "
        "`siglip_retriever.search.options`."
    )
    return "\n".join([*rows, "", notes])


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the marker with the table."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, options_table())
