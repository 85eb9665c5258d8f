"""Search results: :class:`SearchHit`, and the metadata every front-end puts on its results.

A hit carries the cosine similarity to the query and, for an image-text pair on a SigLIP
(sigmoid) model, the calibrated probability that query and entry match. Front-ends (LangChain
documents, LlamaIndex nodes, the CLI, the web app) take their content and metadata from here,
so every one of them names the same facts with the same keys (:data:`RESULT_KEYS`). An image
indexed from files also says every file that holds it (:attr:`SearchHit.paths`; ``paths`` in
:meth:`~SearchHit.result_metadata` and :meth:`~SearchHit.to_dict`), its ``uri`` first. The
store's internal bookkeeping keys (:data:`~siglip_retriever.store.metadata.INTERNAL_KEYS`, such as
the version of an image's facts) are left out of both.

A search that matches what pictures say (``mode`` ``"text"`` or ``"hybrid"``) says why each hit
matched: :attr:`SearchHit.matched` (``"shows"``, ``"says"`` or ``"both"``), the picture's words
(:attr:`SearchHit.says`) and the query's words found in them (:attr:`SearchHit.words`); the
content of a hit with words ends with its words, so that a language model reads them.

A moment of a video (stored kind ``"video"``, searched as a picture: :attr:`SearchHit.kind` is
``"image"``, :attr:`SearchHit.entry_kind` ``"video"``) carries the video and its span:
``source``, ``start``, ``end`` and ``frame`` in its metadata (:attr:`SearchHit.start`...), and
when a search collapses a video's moments into its best one (the default), the others under
:data:`MOMENTS_KEY` (:attr:`SearchHit.moments`). :func:`format_span` writes a span as people
read it (``0:42-0:51``).

Example:
    >>> from dataclasses import replace
    >>> from siglip_retriever.search.hits import SearchHit
    >>> hit = SearchHit("img-1", "image", "/p/red.png", None, {"caption": "a red square"}, 0.12, 0.81, 1)
    >>> hit.content("caption"), hit.score, sorted(hit.result_metadata())[:5]
    ('a red square', 0.81, ['caption', 'id', 'kind', 'matched', 'probability'])
    >>> said = SearchHit("img-2", "image", "/p/q.png", None, {}, 0.05, 0.99, 1)
    >>> said = replace(said, matched="says", says="Quarterly revenue", words=("revenue",))
    >>> said.content(), said.result_metadata()["words"]
    ('/p/q.png\\n\\nQuarterly revenue', ['revenue'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from siglip_retriever.store.entries import shown_metadata
from siglip_retriever.store.files import StoredFile, stored_files
from siglip_retriever.store.metadata import END, FRAME, KIND, START, URI, public_metadata

__all__ = ["DEFAULT_CAPTION_KEY", "MOMENTS_KEY", "RESULT_KEYS", "SearchHit", "format_span", "format_time"]

MOMENTS_KEY = "moments"
"""The metadata key of a video's best moment in a search that collapses moments (the default):
the video's other moments among the results, best first, as ``{"id", "start", "end",
"probability", "similarity"}``."""

RESULT_KEYS = ("id", URI, KIND, "rank", "similarity", "probability", "matched", "says", "words")
"""The metadata keys every front-end's results carry, besides the entry's own metadata."""

DEFAULT_CAPTION_KEY = "caption"
"""The metadata key whose value, when present, is an image's text in documents and nodes."""


@dataclass(frozen=True)
class SearchHit:
    """One search result.

    Attributes:
        id: the entry's id in the store.
        kind: ``"image"`` or ``"text"``.
        uri: the image's file path (images indexed from files), else ``None``.
        text: the stored text (text entries), else ``None``.
        metadata: the entry's metadata as stored, internal keys included (results leave them out:
            :meth:`result_metadata`, :meth:`to_dict`).
        similarity: cosine similarity to the query, in [-1, 1].
        probability: SigLIP's probability that query and entry match (image-text pairs of
            sigmoid models); ``None`` for pairs of one modality (image-image, text-text) and for
            softmax (CLIP) models. In a search that matches what pictures say, the probability
            that the picture shows the query or says it
            (:mod:`siglip_retriever.search.fusion`).
        rank: 1 for the best hit.
        matched: why the hit matched: ``"shows"`` (what the picture shows), ``"says"`` (its
            words), ``"both"``; ``None`` for searches that do not match words (``mode="visual"``).
        says: the picture's words (read by OCR, or a PDF page's text layer) in a search that
            matches words, when it has any; else ``None``.
        words: the query's words found in :attr:`says`, as the picture writes them.
    """

    id: str
    kind: str
    uri: str | None
    text: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    similarity: float = 0.0
    probability: float | None = None
    rank: int = 0
    matched: Literal["shows", "says", "both"] | None = None
    says: str | None = None
    words: tuple[str, ...] = ()

    @property
    def entry_kind(self) -> str:
        """The entry's kind as stored: ``"image"``, ``"text"`` or ``"video"`` (a moment)."""
        stored = self.metadata.get(KIND)
        return stored if isinstance(stored, str) and stored else self.kind

    @property
    def start(self) -> float | None:
        """A video moment's start in seconds; ``None`` for other entries."""
        return _seconds(self.metadata.get(START)) if self.entry_kind == "video" else None

    @property
    def end(self) -> float | None:
        """A video moment's end in seconds; ``None`` for other entries."""
        return _seconds(self.metadata.get(END)) if self.entry_kind == "video" else None

    @property
    def frame(self) -> float | None:
        """The time in seconds of the frame a video moment was embedded from; ``None`` for others."""
        return _seconds(self.metadata.get(FRAME)) if self.entry_kind == "video" else None

    @property
    def moments(self) -> list[dict[str, Any]]:
        """The same video's other moments in the results, best first (a search that collapses
        moments); ``[]`` otherwise."""
        listed = self.metadata.get(MOMENTS_KEY)
        return [dict(moment) for moment in listed] if isinstance(listed, list) else []

    def span(self) -> str | None:
        """A video moment's span as people read it (``"0:42-0:51"``); ``None`` for others."""
        if self.start is None:
            return None
        return format_span(self.start, self.end)

    @property
    def score(self) -> float:
        """What the hit was ranked and filtered by: ``probability`` when there is one, else
        ``similarity``."""
        return self.probability if self.probability is not None else self.similarity

    @property
    def relevance(self) -> float:
        """A score in [0, 1], higher is better: the probability, else the cosine clipped to [0, 1]
        (LangChain's relevance scores)."""
        if self.probability is not None:
            return self.probability
        return min(max(self.similarity, 0.0), 1.0)

    def caption(self, caption_key: str = DEFAULT_CAPTION_KEY) -> str | None:
        """The entry's caption (metadata ``caption_key``), if it has one."""
        value = self.metadata.get(caption_key)
        return str(value) if value not in (None, "") else None

    def content(self, caption_key: str = DEFAULT_CAPTION_KEY) -> str:
        """What a document shows of the entry: the stored text, else the caption, else the
        image's path, else its id (a video's moment: followed by its span, ``0:42-0:51``); then,
        after a blank line, the picture's words (:attr:`says`) when it has any."""
        if self.kind == "text" and self.text is not None:
            return self.text
        span = self.span()
        name = self.caption(caption_key) or self.uri or self.id
        if span is not None:
            name = f"{name} {span}"
        return f"{name}\n\n{self.says}" if self.says else name

    @property
    def paths(self) -> list[StoredFile]:
        """Every file that holds this entry's picture (path, size, modification time), the
        primary one (:attr:`uri`) first; ``[]`` for entries not indexed from files.

        Example:
            >>> meta = {"uri": "/p/a.jpg", "paths": '[{"path": "/p/a.jpg", "mtime_ns": 0, "size": 9}]'}
            >>> [f.path for f in SearchHit("img-1", "image", "/p/a.jpg", None, meta).paths]
            ['/p/a.jpg']
        """
        return stored_files(self.metadata) if self.kind == "image" else []

    def result_metadata(self) -> dict[str, Any]:
        """The entry's metadata without its internal keys, with :data:`RESULT_KEYS` (``id``,
        ``uri``, ``kind``, ``rank``, ``similarity``, ``probability``, ``matched``, ``says``,
        ``words``: a list) set from the hit, and for an image from files ``paths``: the list of
        every file holding it, primary first.

        Example:
            >>> meta = {"uri": "/p/a.jpg", "facts": 3, "album": "2019"}
            >>> sorted(SearchHit("img-1", "image", "/p/a.jpg", None, meta).result_metadata())[:6]
            ['album', 'id', 'kind', 'matched', 'paths', 'probability']
        """
        return {
            **shown_metadata(self.metadata, self.kind),
            "id": self.id,
            URI: self.uri,
            KIND: self.entry_kind,
            "rank": self.rank,
            "similarity": self.similarity,
            "probability": self.probability,
            "matched": self.matched,
            "says": self.says,
            "words": list(self.words),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the schema of the CLI's and the API's ``--json`` output); ``paths``
        lists every file holding the picture (``[]`` when it came from no file), ``metadata`` the
        entry's metadata without its internal keys; ``matched``, ``says`` and ``words`` say why
        it matched (``None``, ``None`` and ``[]`` in a search that does not match words);
        ``kind`` is the stored kind (``"video"`` for a moment), and ``start``, ``end``, ``frame``
        and ``moments`` say a moment's span (``None`` and ``[]`` for other entries)."""
        return {
            "rank": self.rank,
            "id": self.id,
            "kind": self.entry_kind,
            "uri": self.uri,
            "paths": [file.path for file in self.paths],
            "text": self.text,
            "similarity": self.similarity,
            "probability": self.probability,
            "matched": self.matched,
            "says": self.says,
            "words": list(self.words),
            "start": self.start,
            "end": self.end,
            "frame": self.frame,
            "moments": self.moments,
            "metadata": public_metadata(self.metadata),
        }


def format_time(seconds: float) -> str:
    """A time in a video as people read it: ``m:ss``, ``h:mm:ss`` past an hour.

    Example:
        >>> format_time(42.4), format_time(3725)
        ('0:42', '1:02:05')
    """
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_span(start: float, end: float | None) -> str:
    """A moment's span as people read it (``0:42-0:51``); the end rounded up, so that a span
    shorter than a second still reads as one.

    Example:
        >>> format_span(42.0, 50.2), format_span(3600, None)
        ('0:42-0:51', '1:00:00')
    """
    if end is None:
        return format_time(start)
    return f"{format_time(start)}-{format_time(math.ceil(end))}"


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
