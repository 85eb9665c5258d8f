"""Searches that match what pictures say: the candidates of a ``"text"`` or ``"hybrid"`` search,
each with its evidence, ranked in one list.

:class:`WordsSearch` gathers the candidates of one query once, then ranks them for any number of
hits (the picks of :mod:`siglip_retriever.search.diversity` may ask for more):

- a **text query** (``mode="hybrid"`` or ``"text"``): the pictures whose words hold the query's
  words (:func:`~siglip_retriever.search.lexical.word_index`), the pictures whose words' text
  vectors are nearest the query's (``MultimodalStore.query_words``), and in ``"hybrid"`` mode the
  pictures nearest by look (``MultimodalStore.query``). Each gets an
  :class:`~siglip_retriever.search.fusion.Evidence`: what it shows (SigLIP's probability; 0 in
  ``"text"`` mode), its exact words, their meaning; it is ranked by the combined probability
  (ties: BM25, then the look) and carries its words and the query's words found in them.
- an **image query** (``mode="text"``): the pictures whose words' text vectors are nearest the
  query picture's vector; these are image-text pairs, so the probability is SigLIP's own.

The store's ``where`` filter and ``kind`` apply to every candidate (the words side reads the
candidates' entries with the filter). A picture beyond the words' nearest :data:`MEANING_POOL`
(or the ``n`` asked for, when more) has no meaning evidence: its words stand too low to count.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.encoding.ocr import PictureText, TextLine
    >>> from siglip_retriever.search.hybrid import WordsSearch
    >>> from siglip_retriever.search.options import SearchOptions
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> ids = store.add_images([Image.new("RGB", (32, 32), c) for c in ("white", "red")])
    >>> line = TextLine("Quarterly revenue 2026", ((0, 0), (90, 0), (90, 12), (0, 12)), 0.97)
    >>> store.set_words(ids[:1], [PictureText((line,), "test")], source="ocr")
    >>> vector = store.encoder.encode_query("REVENUE")
    >>> search = WordsSearch(store, vector, "REVENUE", "text", "hybrid", SearchOptions())
    >>> best = search.ranked(2)[0]
    >>> best.item.id == ids[0], best.evidence.matched, best.words
    (True, 'says', ('revenue',))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.scores import sigmoid_probability
from siglip_retriever.search import fusion
from siglip_retriever.search.lexical import LexicalMatch, word_index
from siglip_retriever.search.tokens import matched_words, query_tokens

if TYPE_CHECKING:
    from siglip_retriever.search.options import Mode, QueryKind, SearchOptions
    from siglip_retriever.store.entries import StoredItem
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["MEANING_POOL", "Candidate", "WordsSearch"]

MEANING_POOL = 64
"""How many pictures' words, nearest the query by meaning, a search weighs at least."""


@dataclass(frozen=True)
class Candidate:
    """A picture a search that matches words found, with its evidence.

    Attributes:
        item: the picture's entry (its stored vector included).
        similarity: the cosine of the query's vector and the picture's vector.
        evidence: what it shows and says of the query.
        lexical: the BM25 score of its words (0 without exact words).
        says: its words, if it has any.
        words: the query's words found in them, as written there.
    """

    item: StoredItem
    similarity: float
    evidence: fusion.Evidence
    lexical: float = 0.0
    says: str | None = None
    words: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[float, float, float]:
        """What candidates are ranked by, highest first: the combined probability (without
        rounding), the BM25 score, then the look."""
        shows = self.evidence.shows_logit if self.evidence.shows_logit is not None else self.evidence.shows
        return (self.evidence.strength, self.lexical, shows)


class WordsSearch:
    """The candidates of one search that matches words (see the module's docstring).

    Args:
        store: the store searched.
        vector: the query's vector.
        text: the query's text (a text query), else ``None``.
        query_kind: ``"text"`` or ``"image"``.
        mode: ``"text"`` or ``"hybrid"`` (an image query: ``"text"``).
        options: the search's options (``where``; ``diverse`` and the rest are the caller's).
    """

    def __init__(
        self,
        store: MultimodalStore,
        vector: npt.NDArray[np.float32],
        text: str | None,
        query_kind: QueryKind,
        mode: Mode,
        options: SearchOptions,
    ) -> None:
        self.store = store
        self.vector = vector
        self.text = text
        self.query_kind = query_kind
        self.mode = mode
        self.where = options.where
        self.index = word_index(store) if text is not None else None
        self.lexical: dict[str, LexicalMatch] = self.index.search(text) if self.index and text else {}
        self.tokens = query_tokens(text) if text else []
        self._meaning: dict[str, float] = {}
        self._meaning_asked = 0
        self._meaning_complete = False

    def ranked(self, n: int) -> list[Candidate]:
        """Every candidate for the best ``n`` hits, best first (more than ``n`` may come back:
        the caller applies its thresholds, then takes what it needs)."""
        meaning_complete = self._read_meaning(max(n, MEANING_POOL))
        candidates: dict[str, tuple[StoredItem, float]] = {}
        if self.mode == "hybrid":
            looks = self.store.query(self.vector, k=n, kind="image", where=self.where, include_vectors=True)
            candidates = {item.id: (item, similarity) for item, similarity in looks}
            self.complete = len(looks) < n and meaning_complete
        else:
            self.complete = meaning_complete
        said = list(dict.fromkeys(key for key in (*self.lexical, *self._meaning) if key not in candidates))
        for item in self.store.get(said, where=self.where, include_vectors=True) if said else []:
            if item.kind == "image" and item.vector is not None:
                similarity = float(np.dot(np.asarray(item.vector, dtype=np.float32), self.vector))
                candidates[item.id] = (item, similarity)
        texts = self._texts(list(candidates))
        found = [self._candidate(item, cosine, texts.get(key)) for key, (item, cosine) in candidates.items()]
        return sorted(found, key=lambda candidate: candidate.key, reverse=True)

    complete = False
    """Whether the last :meth:`ranked` saw every candidate the store has."""

    def _read_meaning(self, wanted: int) -> bool:
        """The query's cosines to the nearest ``wanted`` pictures' words (read again only when more
        are wanted); whether they are all the words there are."""
        if wanted > self._meaning_asked and not self._meaning_complete:
            nearest = self.store.query_words(self.vector, k=wanted)
            self._meaning = dict(nearest)
            self._meaning_asked = wanted
            self._meaning_complete = len(nearest) < wanted
        return self._meaning_complete

    def _texts(self, entry_ids: list[str]) -> dict[str, str]:
        """The words of these pictures (from the word index of a text query, else the store)."""
        if self.index is not None:
            return {key: text for key in entry_ids if (text := self.index.text(key)) is not None}
        return {key: words.text for key, words in self.store.words(entry_ids).items()}

    def _candidate(self, item: StoredItem, similarity: float, said: str | None) -> Candidate:
        store = self.store
        cosine = self._meaning.get(item.id)
        if self.query_kind == "image":  # the query picture and the words: an image-text pair
            says = 0.0 if cosine is None else _probability(store, cosine)
            return Candidate(item, similarity, fusion.Evidence(0.0, 0.0, says), says=said)
        lexical = self.lexical.get(item.id)
        meaning = None
        if cosine is not None:
            reference = fusion.reference_vectors(store.encoder)
            meaning = float(fusion.standing([cosine], self.vector, reference)[0])
        shows, logit = 0.0, None
        if self.mode == "hybrid":
            logit = store.logit_scale * similarity + store.logit_bias
            shows = _probability(store, similarity)
        exact = fusion.exact_probability(lexical.coverage if lexical else 0.0)
        evidence = fusion.Evidence(shows, exact, fusion.meaning_probability(meaning), logit)
        words = matched_words(said, self.tokens) if said and lexical else ()
        return Candidate(item, similarity, evidence, lexical.score if lexical else 0.0, said, words)


def _probability(store: Any, cosine: float) -> float:
    return float(sigmoid_probability(cosine, logit_scale=store.logit_scale, logit_bias=store.logit_bias))
