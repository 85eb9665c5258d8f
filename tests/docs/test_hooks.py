"""The docs build's hooks (docs/hooks/), each on its own: fast, without building the site."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.docs.hooks import load_hook


def test_search_options_table_has_every_option_and_default() -> None:
    """One row an option, in the order defined, with each front-end's default and its range."""
    from siglip_retriever.search import options

    hook = load_hook("search_options")
    table = hook.on_page_markdown("Before.\n\n<!-- search-options -->\n\nAfter.\n")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    names = [spec.name for spec in options.option_specs()]
    assert [row.split("`")[1] for row in rows] == names
    k_row = rows[0]
    cli, web = options.CLI_DEFAULTS.k, options.WEB_DEFAULTS.k
    assert f"`{options.DEFAULTS.k}`<br>(CLI: `{cli}`, web: `{web}`)" in k_row
    assert f"integer: 1 to {options.MAX_K}" in k_row and "`--k`, `-k`" in k_row
    assert "(vector store: `'text'`)" in rows[names.index("kind")]
    assert "number: 0 to 1" in rows[names.index("min_probability")]
    assert "| `None` |" in rows[names.index("min_probability")]
    assert table.startswith("Before.") and table.rstrip().endswith("After.")
    assert hook.on_page_markdown("no marker here") == "no marker here"


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "T", "version": "1", "description": "About."},
    "paths": {
        "/api/items/{item_id}": {
            "get": {
                "tags": ["items"],
                "summary": "Item",
                "description": "One item.",
                "parameters": [
                    {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "k",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 4},
                        "description": "How | many.",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Item": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "description": "Its id."},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                    "score": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}]},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                },
            }
        }
    },
}


def test_http_reference_renders_operations_parameters_and_schemas() -> None:
    """Operations by tag, parameters with their range and default, responses linked to schemas."""
    markdown = load_hook("http_reference").render(DOCUMENT)
    assert "## Items {#tag-items}" in markdown
    assert "### `GET /api/items/{item_id}`" in markdown
    assert "| `k` | query | integer | no | `4` | 1 to 100 | How \\| many. |" in markdown
    assert "| `item_id` | path | string | yes |" in markdown
    assert "| 200 | OK | `application/json`: [Item](#schema-item) |" in markdown
    assert "### Item {#schema-item}" in markdown
    assert "| `id` | string | yes |" in markdown
    assert "| `tags` | array of string | no |  | items ≤ 3 |" in markdown
    assert "| `score` | number or null | no |  | 0 to 1 |" in markdown
    assert "one of `a`, `b`" in markdown


LINK_CASES = """
docs/guides/scale.md           from changelog.md        -> guides/scale.md
docs/guides/search.md#options  from guides/cli.md       -> search.md#options
docs/architecture.md           from reference/index.md -> ../architecture.md
CHANGELOG.md#070---2026-12-07  from benchmarks.md       -> changelog.md#070---2026-12-07
BENCHMARKS.md                  from guides/scale.md     -> ../benchmarks.md
"""
"""A root file's link, the page that includes it, the link as that page must write it."""


@pytest.mark.parametrize("case", LINK_CASES.strip().splitlines())
def test_root_files_links_point_into_the_site(case: str) -> None:
    """A repository-relative link of an included root file, seen from the including page."""
    target, _, page, _, expected = case.split()
    assert load_hook("included_links").site_target(target, page) == expected


def test_included_links_preprocessor_rewrites_only_repository_links() -> None:
    """``docs/...`` and the root files' names are rewritten; other links are left to --strict."""
    hook = load_hook("included_links")
    hook.on_page_markdown("", page=SimpleNamespace(file=SimpleNamespace(src_uri="changelog.md")))
    lines = ["See [scale](docs/guides/scale.md) and [x](https://example.org/docs/a.md).", "[r](README.md#a)"]
    assert hook.RootLinks(None).run(lines) == [
        "See [scale](guides/scale.md) and [x](https://example.org/docs/a.md).",
        "[r](README.md#a)",
    ]


def test_sphinx_roles_become_optional_cross_references() -> None:
    """Roles with full paths, ``~`` and relative names; ``Example:`` read as the examples section."""
    import griffe

    package = griffe.load("siglip_retriever", search_paths=["src"], resolve_aliases=False)
    module = package["search.options"]
    hook = load_hook("sphinx_roles")
    text = hook.rewrite(
        "Uses :class:`~siglip_retriever.search.retriever.Retriever` and :func:`option_specs` and "
        ":mod:`.hits`.\n\nExample:\n    >>> 1\n    1\n\nExample (a note)::\n\n    code\n",
        module,
    )
    assert (
        '<autoref identifier="siglip_retriever.search.retriever.Retriever" optional><code>Retriever</code>'
        in text
    )
    assert '<autoref identifier="siglip_retriever.search.options.option_specs" optional>' in text
    assert '<autoref identifier="siglip_retriever.search.hits" optional><code>hits</code>' in text
    assert "\nExamples:\n    >>> 1" in text
    assert "Examples:\n    A note:\n\n    code" in text


def test_internal_modules_are_every_module_but_the_public_ones() -> None:
    """Found in the source tree; the public modules and ``__main__`` left out."""
    hook = load_hook("internal_modules")
    modules = hook.internal_modules()
    assert "siglip_retriever.search.options" in modules
    assert "siglip_retriever.integrations.langchain.embeddings" in modules
    assert not set(hook.PUBLIC) & set(modules)
    assert not [name for name in modules if name.endswith("__main__")]
    rendered = hook.render()
    assert "## `siglip_retriever.store`" in rendered and "::: siglip_retriever.store.indexing" in rendered


def test_http_reference_lists_responses_every_operation_shares_once() -> None:
    """A response every operation declares alike is listed once, before the operations."""
    hook = load_hook("http_reference")
    shared = {"405": {"description": "Wrong method."}}
    document = {
        "paths": {
            "/a": {"get": {"responses": {"200": {"description": "A."}, **shared}}},
            "/b": {"post": {"responses": {"200": {"description": "B."}, **shared}}},
        }
    }
    markdown = hook.render(document)
    assert markdown.count("| 405 | Wrong method. |") == 1
    assert markdown.index("Every operation may also answer") < markdown.index("`GET /a`")
    assert "| 200 | A. |" in markdown and "| 200 | B. |" in markdown


def test_cli_help_keeps_its_verbatim_paragraphs() -> None:
    """A ``\\b`` paragraph of a click help text is a code block, its line breaks kept."""
    hook = load_hook("cli_reference")
    lines = list(hook.verbatim_paragraphs("Does things.\n\n\b\nExamples:\n  tool run\n  tool stop\n\nMore."))
    verbatim = ["```text", "Examples:", "  tool run", "  tool stop", "```"]
    assert lines == ["Does things.", "", *verbatim, "", "More.", ""]
    assert hook.on_page_content("<td><code>Sentinel.UNSET</code></td>") == "<td></td>"


def test_the_root_api_page_lists_every_public_name_once() -> None:
    """docs/reference/python/siglip_retriever.md orders the package root's names by hand (the order
    a newcomer meets them); it must hold every name of ``__all__`` but the exceptions (their own
    page) and ``__version__``, each once."""
    from pathlib import Path

    import siglip_retriever
    from siglip_retriever import errors

    page = Path(__file__).parents[2] / "docs" / "reference" / "python" / "siglip_retriever.md"
    listed = [line.strip()[2:] for line in page.read_text().splitlines() if line.startswith("        - ")]
    public = set(siglip_retriever.__all__) - set(errors.__all__) - {"__version__"}
    assert len(listed) == len(set(listed)) and set(listed) == public, set(listed) ^ public
