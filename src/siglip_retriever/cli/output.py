"""What the commands print: JSON, the hits table, paths shown short, and errors as one line.

Example:
    >>> from siglip_retriever.cli.output import print_json, show
    >>> print_json({"hits": [], "query": "un chat"})
    {
      "hits": [],
      "query": "un chat"
    }
    >>> show(None)
    '-'
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from siglip_retriever.cli.settings import Settings
from siglip_retriever.errors import ConfigurationError, SiglipRetrieverError

if TYPE_CHECKING:
    from siglip_retriever.search.hits import SearchHit

__all__ = ["hits_table", "print_hits", "print_json", "show", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Print a package error as one line and exit 1, or 2 for a bad option or argument
    (:class:`~siglip_retriever.errors.ConfigurationError`, as click's usage errors); ``--verbose``
    shows the traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SiglipRetrieverError as exc:
            settings = click.get_current_context().find_object(Settings)
            if settings is not None and settings.verbose:
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2 if isinstance(exc, ConfigurationError) else 1)

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON, non-ASCII characters as they are."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def show(path: str | None) -> str:
    """``path`` relative to the current folder where it can be (``-`` for none)."""
    if path is None:
        return "-"
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def hits_table(hits: Sequence[SearchHit]) -> None:
    """Print ``hits`` as a table: rank, probability, cosine similarity, the picture or text, and
    how many other files hold the same bytes and how many copies a collapsed hit stands for."""
    if not hits:
        click.echo("no match above the threshold")
        return
    click.echo(f"{'rank':>4}  {'prob':>6}  {'cosine':>7}  item")
    for hit in hits:
        prob = f"{hit.probability:6.3f}" if hit.probability is not None else f"{'-':>6}"
        item = show(hit.uri) if hit.uri else hit.text
        click.echo(f"{hit.rank:>4}  {prob}  {hit.similarity:7.3f}  {item}{_others(hit)}")


def _others(hit: SearchHit) -> str:
    """`` (+2 identical files, +3 copies)``: the hit's other files and collapsed duplicates."""
    from siglip_retriever.search.diversity import DUPLICATES_KEY

    notes = []
    identical = len(hit.paths) - 1
    if identical > 0:
        notes.append(f"+{identical} identical file{'s' if identical > 1 else ''}")
    copies = hit.metadata.get(DUPLICATES_KEY)
    if isinstance(copies, list) and copies:
        notes.append(f"+{len(copies)} cop{'ies' if len(copies) > 1 else 'y'}")
    return f" ({', '.join(notes)})" if notes else ""


def print_hits(query: str, model: str, score_kind: str, hits: Sequence[SearchHit], as_json: bool) -> None:
    """Print the hits of ``query``: as JSON (the schema in the README) or as :func:`hits_table`."""
    if as_json:
        print_json(
            {"query": query, "model": model, "score_kind": score_kind, "hits": [h.to_dict() for h in hits]}
        )
    else:
        hits_table(hits)
