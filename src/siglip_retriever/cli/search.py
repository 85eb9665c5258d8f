"""The search commands over a store: ``search`` (a text query) and ``similar`` (a query image).

Both take every search option (:func:`~siglip_retriever.cli.options.search_options`: ``-k``,
``--kind``, ``--where``, ``--min-probability``, ``--min-similarity``, ``--diverse``,
``--fetch-k``, ``--lambda-mult``, ``--collapse-duplicates``, ``--all-moments``, ``--mode``) over
the CLI's defaults (:data:`~siglip_retriever.search.options.CLI_DEFAULTS`). When the store holds
what pictures say (OCR, PDF text layers), a hit that says something is followed by a ``says:``
line around the query's words; a PDF's page is named by its number, a video's moment by its span
(``clip.mov 0:42-0:51``), followed by the video's other moments in the results (``also at:``)
(:func:`~siglip_retriever.cli.output.hits_table`); ``--json`` carries every field of the hits
(``matched``, ``says``, ``words``; ``start``, ``end``, ``frame`` and ``moments``; and ``page`` and
``page_label`` in ``metadata``).

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.search import search_command
    >>> print(CliRunner().invoke(search_command, ["--help"]).output.splitlines()[0])
    Usage: search [OPTIONS] QUERY
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from siglip_retriever.cli.options import (
    EXISTING_FILE,
    SettingsCommand,
    json_option,
    search_options,
    with_settings,
)
from siglip_retriever.cli.output import print_hits
from siglip_retriever.cli.settings import Settings
from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    from siglip_retriever.search.retriever import Retriever

__all__ = ["search_command", "similar_command"]


@click.command("search", cls=SettingsCommand)
@click.argument("query")
@search_options
@json_option("Print JSON (schema: docs/guides/cli.md, JSON output).")
@with_settings
def search_command(settings: Settings, query: str, options: dict[str, Any], as_json: bool) -> None:
    """Find images matching QUERY, in any language the model knows (stored texts with --kind text).

    Pictures match by what they show and, when the store holds their words (index --ocr, PDF
    pages), by what they say: such a hit shows the words around the query's words (says: "...").
    A video's moment shows its span (clip.mov 0:42-0:51); a video's other moments are listed
    under its best one unless --all-moments. With --diverse the hits are picked for variety as
    well as relevance; with --collapse-duplicates copies of one picture count once."""
    if not query.strip():
        raise ConfigurationError("the query is empty; type what the picture should show")
    retriever = _retriever(settings, options)
    hits = retriever.search_text(query, **options)
    print_hits(query, retriever.store.model_name, _score_kind(retriever, options, "text"), hits, as_json)


@click.command("similar", cls=SettingsCommand)
@click.argument("image", type=EXISTING_FILE)
@search_options
@json_option("Print JSON (same schema as search).")
@with_settings
def similar_command(settings: Settings, image: Path, options: dict[str, Any], as_json: bool) -> None:
    """Find images and video moments similar to IMAGE (the image itself is left out; captions with
    --kind text)."""
    retriever = _retriever(settings, options)
    hits = retriever.search_image(image, **options)
    print_hits(
        str(image), retriever.store.model_name, _score_kind(retriever, options, "image"), hits, as_json
    )


def _retriever(settings: Settings, options: dict[str, Any]) -> Retriever:
    """A retriever on the settings' store with the CLI's defaults, once the options are checked
    (before the store is opened)."""
    from siglip_retriever.search.options import CLI_DEFAULTS
    from siglip_retriever.search.retriever import Retriever

    CLI_DEFAULTS.merged(**options)
    return Retriever(settings.store(must_exist=True), **CLI_DEFAULTS.as_kwargs())


def _score_kind(retriever: Retriever, options: dict[str, Any], query_kind: str) -> str:
    """What the hits are ranked by: the cosine when the query and the hits are of one kind."""
    kind = retriever.options.merged(**options).kind
    return "cosine" if kind == query_kind else retriever.store.score_kind
