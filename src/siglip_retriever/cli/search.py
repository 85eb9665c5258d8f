"""The search commands over a store: ``search`` (a text query) and ``similar`` (a query image).

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.search import search_command
    >>> print(CliRunner().invoke(search_command, ["--help"]).output.splitlines()[0])
    Usage: search [OPTIONS] QUERY
"""

from __future__ import annotations

from pathlib import Path

import click

from siglip_retriever.cli.options import (
    EXISTING_FILE,
    SettingsCommand,
    diversity_kwargs,
    diversity_options,
    json_option,
    k_option,
    min_probability_option,
    min_similarity_option,
    parse_where,
    where_option,
    with_settings,
)
from siglip_retriever.cli.output import print_hits
from siglip_retriever.cli.settings import Settings
from siglip_retriever.errors import ConfigurationError

__all__ = ["search_command", "similar_command"]


@click.command("search", cls=SettingsCommand)
@click.argument("query")
@k_option
@min_probability_option
@min_similarity_option("Only hits with at least this cosine similarity (with --texts).")
@where_option('Metadata filter as JSON, e.g. \'{"album": "2019"}\'.')
@click.option("--texts", is_flag=True, help="Search stored texts instead of images.")
@diversity_options
@json_option("Print JSON (schema in the README).")
@with_settings
def search_command(
    settings: Settings,
    query: str,
    k: int,
    min_probability: float | None,
    min_similarity: float | None,
    where: str | None,
    texts: bool,
    as_json: bool,
    diverse: bool,
    fetch_k: int | None,
    lambda_mult: float | None,
    collapse_duplicates: bool,
) -> None:
    """Find images matching QUERY, in any language the model knows (stored texts with --texts).

    With --diverse the hits are picked for variety as well as relevance; with
    --collapse-duplicates copies of one picture count once."""
    from siglip_retriever.search.retriever import Retriever

    diversity = diversity_kwargs(diverse, fetch_k, lambda_mult, collapse_duplicates)
    if not query.strip():
        raise ConfigurationError("the query is empty; type what the picture should show")
    store = settings.store(must_exist=True)
    retriever = Retriever(store, k=k)
    hits = retriever.by_vector(
        retriever.text_vector(query),
        query_kind="text",
        kind="text" if texts else "image",
        where=parse_where(where),
        min_probability=min_probability,
        min_similarity=min_similarity,
        **diversity,
    )
    print_hits(query, store.model_name, store.score_kind, hits, as_json)


@click.command("similar", cls=SettingsCommand)
@click.argument("image", type=EXISTING_FILE)
@k_option
@min_similarity_option("Only hits with at least this cosine similarity.")
@where_option("Metadata filter as JSON.")
@diversity_options
@json_option("Print JSON (same schema as search).")
@with_settings
def similar_command(
    settings: Settings,
    image: Path,
    k: int,
    min_similarity: float | None,
    where: str | None,
    as_json: bool,
    diverse: bool,
    fetch_k: int | None,
    lambda_mult: float | None,
    collapse_duplicates: bool,
) -> None:
    """Find images similar to IMAGE (the image itself is left out)."""
    from siglip_retriever.search.retriever import Retriever

    diversity = diversity_kwargs(diverse, fetch_k, lambda_mult, collapse_duplicates)
    store = settings.store(must_exist=True)
    retriever = Retriever(store, k=k)
    hits = retriever.image_to_images(
        image, where=parse_where(where), min_similarity=min_similarity, **diversity
    )
    print_hits(str(image), store.model_name, "cosine", hits, as_json)
