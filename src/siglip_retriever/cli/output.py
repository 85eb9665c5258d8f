"""What the commands print: JSON, the hits table, paths shown short, and errors as one line.

The hits table shows each hit's rank, probability, cosine and file (a PDF's page or figure as
``report.pdf p. 3``, with the label the PDF prints when it differs; a video's moment as
``clip.mov 0:42-0:51``, and under it, ``also at:``, the video's other moments in the results),
and under a picture that says something, a ``says:`` line: about :data:`SAYS_WIDTH` characters
of its words around the first of the query's words found there (:func:`says_excerpt`), those
words in bold on a terminal.

Example:
    >>> from siglip_retriever.cli.output import print_json, says_excerpt, show
    >>> print_json({"hits": [], "query": "un chat"})
    {
      "hits": [],
      "query": "un chat"
    }
    >>> show(None)
    '-'
    >>> says_excerpt("Annual report\\nQuarterly revenue 2026\\nSales grew in every region", ["revenue"], 30)
    '...Quarterly revenue 2026 Sales...'
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from siglip_retriever.cli.settings import Settings
from siglip_retriever.errors import ConfigurationError, SiglipRetrieverError

if TYPE_CHECKING:
    from siglip_retriever.search.hits import SearchHit

__all__ = [
    "SAYS_WIDTH",
    "hits_table",
    "moments_line",
    "part_of",
    "print_hits",
    "print_json",
    "says_excerpt",
    "show",
    "user_errors",
]

SAYS_WIDTH = 60
"""About how many characters of a picture's words the hits table shows (``says:``)."""
_ELLIPSIS = "..."
_INDENT = " " * 23  # the table's item column

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
    """Print ``hits`` as a table: rank, probability, cosine similarity, the picture (a moment: its
    video and span) or text, and how many other moments, files holding the same bytes and copies
    a collapsed hit stands for."""
    if not hits:
        click.echo("no match above the threshold")
        return
    click.echo(f"{'rank':>4}  {'prob':>6}  {'cosine':>7}  item")
    for hit in hits:
        prob = f"{hit.probability:6.3f}" if hit.probability is not None else f"{'-':>6}"
        item = f"{show(hit.uri)}{part_of(hit.metadata)}{_span(hit)}" if hit.uri else hit.text
        click.echo(f"{hit.rank:>4}  {prob}  {hit.similarity:7.3f}  {item}{_others(hit)}")
        if hit.moments:
            click.echo(f"{_INDENT}also at: {moments_line(hit.moments)}")
        if hit.says:
            excerpt = _bold(says_excerpt(hit.says, hit.words), hit.words)
            click.echo(f'{_INDENT}says: "{excerpt}"')


def part_of(metadata: dict[str, Any]) -> str:
    """`` p. 3`` for a PDF's page (`` p. 3 (labelled iv)`` when the PDF prints another label),
    `` p. 3 fig. 1`` for a figure on it; ``""`` for other entries.

    Example:
        >>> part_of({"page": 3, "page_label": "1", "part": "figure", "figure": 2}), part_of({})
        (' p. 3 (labelled 1) fig. 2', '')
    """
    from siglip_retriever.store.metadata import FIGURE, PAGE, PAGE_LABEL, PART

    page = metadata.get(PAGE)
    if metadata.get(PART) not in ("page", "figure") or not isinstance(page, int):
        return ""
    label = metadata.get(PAGE_LABEL)
    text = f" p. {page}" + (f" (labelled {label})" if label not in (None, "", str(page)) else "")
    return text + (f" fig. {metadata.get(FIGURE)}" if metadata.get(PART) == "figure" else "")


def moments_line(moments: Sequence[dict[str, Any]]) -> str:
    """The other moments of a hit's video, as the hits table lists them under it: their spans,
    best first (``0:05-0:09, 1:10-1:15``).

    Example:
        >>> moments_line([{"id": "m2", "start": 5.0, "end": 8.2}, {"id": "m7", "start": 70, "end": 75}])
        '0:05-0:09, 1:10-1:15'
    """
    from siglip_retriever.search.hits import format_span

    return ", ".join(format_span(moment["start"], moment.get("end")) for moment in moments)


def _span(hit: SearchHit) -> str:
    """`` 0:42-0:51``: a video moment's span after its file; ``""`` for other hits."""
    from siglip_retriever.search.hits import format_span

    return f" {format_span(hit.start, hit.end)}" if hit.start is not None else ""


def says_excerpt(says: str, words: Sequence[str], width: int = SAYS_WIDTH) -> str:
    """About ``width`` characters of a picture's words (white space made single spaces) around the
    first of ``words`` found in them, cut at spaces, with ``...`` where text was left out; the
    beginning when none is found.

    Example:
        >>> says_excerpt("Settings\\nDark mode\\nNotifications", ["dark"])
        'Settings Dark mode Notifications'
        >>> says_excerpt("one two three four five six seven", [], 14)
        'one two three...'
    """
    text = " ".join(says.split())
    if len(text) <= width:
        return text
    found = [match for word in words if word.strip() and (match := _find(word, text)) is not None]
    begin, end = min(((m.start(), m.end()) for m in found), default=(0, 0))
    start = max(0, min(begin - (width - (end - begin)) // 2, len(text) - width))
    stop = max(start + width, end)
    if start > 0 and not text[start - 1].isspace():
        space = text.find(" ", start, begin)
        start = space + 1 if space >= 0 else start
    if stop < len(text) and not text[stop].isspace():
        space = text.rfind(" ", max(end, start + 1), stop)
        stop = space if space >= 0 else stop
    excerpt = text[start:stop].strip()
    return (_ELLIPSIS if start > 0 else "") + excerpt + (_ELLIPSIS if stop < len(text) else "")


def _find(word: str, text: str) -> re.Match[str] | None:
    """The first place ``word`` is in ``text``, whatever its case and spacing."""
    pattern = r"\s+".join(re.escape(part) for part in word.split())
    return re.search(pattern, text, re.IGNORECASE)


def _bold(text: str, words: Sequence[str]) -> str:
    """``text`` with every place one of ``words`` is in it in bold (shown on terminals only)."""
    parts = [r"\s+".join(re.escape(piece) for piece in word.split()) for word in words if word.strip()]
    if not parts:
        return text
    pattern = re.compile("|".join(sorted(parts, key=len, reverse=True)), re.IGNORECASE)
    return pattern.sub(lambda match: click.style(match.group(0), bold=True), text)


def _others(hit: SearchHit) -> str:
    """`` (+1 moment, +2 identical files, +3 copies)``: the other moments of a hit's video that
    collapsed into it, the hit's other files and collapsed duplicates."""
    from siglip_retriever.search.diversity import DUPLICATES_KEY

    notes = []
    if hit.moments:
        notes.append(f"+{len(hit.moments)} moment{'s' if len(hit.moments) > 1 else ''}")
    identical = len(hit.paths) - 1
    if identical > 0:
        notes.append(f"+{identical} identical file{'s' if identical > 1 else ''}")
    copies = hit.metadata.get(DUPLICATES_KEY)
    if isinstance(copies, list) and copies:
        notes.append(f"+{len(copies)} cop{'ies' if len(copies) > 1 else 'y'}")
    return f" ({', '.join(notes)})" if notes else ""


def print_hits(query: str, model: str, score_kind: str, hits: Sequence[SearchHit], as_json: bool) -> None:
    """Print the hits of ``query``: as JSON (the schema: docs/guides/cli.md) or as :func:`hits_table`."""
    if as_json:
        print_json(
            {"query": query, "model": model, "score_kind": score_kind, "hits": [h.to_dict() for h in hits]}
        )
    else:
        hits_table(hits)
