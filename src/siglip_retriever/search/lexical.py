"""Exact words: BM25 (``bm25s``) over the words of a store's pictures, built once per store
generation and shared by every search of that store.

:class:`WordIndex` holds the pictures' words cut into tokens (:mod:`siglip_retriever.search.tokens`:
case- and accent-insensitive, words for scripts with spaces, character bigrams for scripts
without). A query gets, for each picture whose words hold at least one of its tokens, a
:class:`LexicalMatch`: the BM25 score (``bm25s``, Lucene's variant) that ranks pictures by their
words, and the query's *coverage*, the share of the query's information found in the picture's
words: the IDF of the query tokens found over the IDF of all the query's tokens (a token no
picture says counts as one that a single picture says: as informative as the rarest word).
The coverage says how much of the query a picture says, whatever the store's size: it is what
:mod:`siglip_retriever.search.fusion` turns into a probability. It is counted within two
consecutive lines of the words (lines as OCR or a PDF's text layer gives them), so that a long
page that holds the query's words in unrelated places does not count as saying the query.

:func:`word_index` keeps one index per store, rebuilt on the first search after a write to the
store (``MultimodalStore.generation``); a store other processes may write to (a Chroma server) is
also re-read when its count of pictures with words changed, or every :data:`SHARED_STORE_MAX_AGE`
seconds. Searches from many threads share it: it is built once, under a lock, and only read after.

Example:
    >>> from siglip_retriever.search.lexical import WordIndex
    >>> index = WordIndex([("img-1", "Quarterly revenue 2026"), ("img-2", "Umsatz pro Quartal")])
    >>> match = index.search("REVENUE report")["img-1"]
    >>> round(match.coverage, 2), match.score > 0
    (0.5, True)
    >>> index.search("umsatz quartal")["img-2"].coverage
    1.0
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from siglip_retriever.search.tokens import document_tokens, query_tokens

__all__ = ["MOST_EXAMINED", "SHARED_STORE_MAX_AGE", "LexicalMatch", "WordIndex", "word_index"]

MOST_EXAMINED = 512
"""The most pictures whose words one query examines: those that hold the most of its words."""

SHARED_STORE_MAX_AGE = 60.0
"""Seconds after which the word index of a store other processes may write to is read again."""


@dataclass(frozen=True)
class LexicalMatch:
    """How a picture's words match a query's words.

    Attributes:
        score: the BM25 score (ranks pictures by their words; no fixed scale).
        coverage: the share of the query's information the words hold within two consecutive
            lines, from 0 to 1: the IDF of the query tokens found there over the IDF of all the
            query's tokens.
    """

    score: float
    coverage: float


class WordIndex:
    """BM25 over the words of pictures, and which query tokens each picture's words hold.

    Args:
        entries: ``(entry id, words)`` of every picture with words (``MultimodalStore.iter_words``).

    Example:
        >>> from siglip_retriever.search.lexical import WordIndex
        >>> index = WordIndex([("img-1", "东京都の天気"), ("img-2", "Wetter in Berlin")])
        >>> sorted(index.search("WETTER"))
        ['img-2']
        >>> sorted(index.search("东京"))  # inside a run of Han characters
        ['img-1']
        >>> len(index), WordIndex([]).search("anything")
        (2, {})
    """

    def __init__(self, entries: Iterable[tuple[str, str]]) -> None:
        import bm25s

        self.ids: list[str] = []
        self.texts: list[str] = []
        corpus: list[list[str]] = []
        for entry_id, text in entries:
            self.ids.append(entry_id)
            self.texts.append(text)
            corpus.append(document_tokens(text))
        self.position = {entry_id: n for n, entry_id in enumerate(self.ids)}
        self._bm25: Any = None
        if self.ids:
            self._bm25 = bm25s.BM25(method="lucene")
            self._bm25.index(corpus, show_progress=False)
            self._vocabulary: dict[str, int] = self._bm25.vocab_dict
            matrix = self._bm25.scores  # the eager score matrix, a column per token
            self._indptr = np.asarray(matrix["indptr"])
            self._indices = np.asarray(matrix["indices"])

    def __len__(self) -> int:
        return len(self.ids)

    def text(self, entry_id: str) -> str | None:
        """The words of a picture, or ``None`` when it has none."""
        position = self.position.get(entry_id)
        return None if position is None else self.texts[position]

    def idf(self, token: str) -> float:
        """Lucene's IDF of ``token`` in these words (a token no picture says counts as said by one)."""
        count = len(self.ids)
        df = 1
        column = self._vocabulary.get(token) if self._bm25 is not None else None
        if column is not None:
            df = max(1, int(self._indptr[column + 1] - self._indptr[column]))
        return math.log(1.0 + (count - df + 0.5) / (df + 0.5))

    def search(self, query: str) -> dict[str, LexicalMatch]:
        """The pictures whose words hold a token of ``query``, with their BM25 score and the
        query's coverage (at most :data:`MOST_EXAMINED`, those holding the most of the query)."""
        tokens = query_tokens(query)
        if self._bm25 is None or not tokens:
            return {}
        weights = {token: self.idf(token) * tokens.count(token) for token in dict.fromkeys(tokens)}
        total = sum(weights.values())
        found = np.zeros(len(self.ids), dtype=np.float64)
        for token, weight in weights.items():
            column = self._vocabulary.get(token)
            if column is not None:
                found[self._indices[self._indptr[column] : self._indptr[column + 1]]] += weight
        known = [token for token in tokens if token in self._vocabulary]
        if not known or total <= 0.0:
            return {}
        scores = self._bm25.get_scores(known)
        hits = np.flatnonzero(found > 0.0)
        hits = hits[np.lexsort((-scores[hits], -found[hits]))][:MOST_EXAMINED]
        return {
            self.ids[n]: LexicalMatch(float(scores[n]), _coverage(self.texts[n], weights, total))
            for n in hits
        }


def _coverage(text: str, weights: dict[str, float], total: float) -> float:
    """The most of the query's information (``weights`` of its tokens, ``total``) that two
    consecutive lines of ``text`` hold."""
    lines = [set(document_tokens(line)) for line in text.split("\n")] or [set()]
    best = 0.0
    for first, second in zip(lines, [*lines[1:], set()], strict=True):
        said = first | second
        best = max(best, sum(weight for token, weight in weights.items() if token in said))
    return min(1.0, best / total)


class _Cached:
    """A store's word index and what it was built from."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.index: WordIndex | None = None
        self.key: tuple[Any, ...] = ()
        self.built = 0.0


_INDEXES: weakref.WeakKeyDictionary[Any, _Cached] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def word_index(store: Any) -> WordIndex:
    """The word index of ``store`` (a ``MultimodalStore``) as it is now, built on first use and
    after every write to it, shared by every search of it.

    Example:
        >>> from siglip_retriever.search.lexical import word_index
        >>> class Store:  # what word_index reads of a MultimodalStore
        ...     generation, sole_writer, words = 0, True, {"img-1": "Hello world"}
        ...     def iter_words(self):
        ...         return iter(self.words.items())
        >>> store = Store()
        >>> word_index(store) is word_index(store)
        True
        >>> store.words = {**store.words, "img-2": "Bonjour"}
        >>> store.generation = 1  # the store was written to
        >>> len(word_index(store))
        2
    """
    with _INDEXES_LOCK:
        cached = _INDEXES.get(store)
        if cached is None:
            cached = _INDEXES[store] = _Cached()
    with cached.lock:
        shared = not getattr(store, "sole_writer", False)
        key: tuple[Any, ...] = (store.generation,)
        if shared:
            key += (store.words_count(),)
        stale = shared and time.monotonic() - cached.built > SHARED_STORE_MAX_AGE
        if cached.index is None or cached.key != key or stale:
            cached.index = WordIndex(store.iter_words())
            cached.key, cached.built = key, time.monotonic()
        return cached.index
