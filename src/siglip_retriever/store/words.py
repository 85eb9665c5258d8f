"""The words of pictures: what OCR read in a picture, or a PDF page's text layer, kept in a second
chromadb collection beside the store's, ``<collection>__words``.

One entry per picture that carries words, under the picture entry's own id:

- its document is the text (:attr:`~siglip_retriever.encoding.ocr.PictureText.text`);
- its vector is the SigLIP **text** vector of that text (the text tower truncates a text longer
  than the model's text length: the first words of a long page carry its vector, and the exact
  words of all of it are matched lexically by the search layer);
- its metadata: ``engine`` (what read it), ``lines`` (the lines with their boxes and confidences,
  :meth:`~siglip_retriever.encoding.ocr.PictureText.to_json`), ``source`` (``"ocr"`` or
  ``"pdf"``) and ``confidence`` (the lines' mean).

:class:`PictureWords` reads and writes that collection; :class:`~siglip_retriever.store.store.MultimodalStore`
offers it as ``set_words``, ``words``, ``query_words``, ``iter_words`` and ``words_count``, and
deletes an entry's words with the entry. A separate collection keeps the store's own collection
what it was (one vector an entry, in the image space), so searches by look and stores written by
earlier versions are unchanged.

Example:
    >>> import tempfile
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.encoding.ocr import PictureText, TextLine
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> line = TextLine("Quarterly revenue", ((0, 0), (90, 0), (90, 12), (0, 12)), 0.97)
    >>> store.set_words(["img-1"], [PictureText((line,), "rapidocr")], source="ocr")
    >>> store.words_count(), store.words(["img-1", "img-2"])["img-1"].text
    (1, 'Quarterly revenue')
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy.typing as npt

from siglip_retriever.errors import ConfigurationError, InputTypeError, StoreError
from siglip_retriever.store.entries import query_vector
from siglip_retriever.store.metadata import RECORD_OCR

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.ocr import PictureText

__all__ = [
    "WORDS_CONFIDENCE",
    "WORDS_ENGINE",
    "WORDS_LINES",
    "WORDS_SOURCE",
    "WORDS_SUFFIX",
    "PictureWords",
    "StoreWords",
    "WordSource",
    "weak_method",
    "words_collection_name",
]

T = TypeVar("T")
Call = Callable[[str, Callable[[], T]], T]


def weak_method(method: Call[Any]) -> Call[Any]:
    """A bound method (the store's chromadb call) through a weak reference to its object, so that
    what holds it (:class:`PictureWords`) keeps no store alive: a store dropped without
    ``close()`` is collected at once, and its finalizer ends its directory's lock.

    Example:
        >>> from siglip_retriever.store.words import weak_method
        >>> class Store:
        ...     def call(self, what, operation):
        ...         return operation()
        >>> store = Store()
        >>> call = weak_method(store.call)
        >>> call("get", lambda: 42)
        42
        >>> del store
        >>> call("get", lambda: 42)
        Traceback (most recent call last):
        ...
        siglip_retriever.errors.StoreError: the store is gone; open it again to use its words
    """
    reference = weakref.WeakMethod(method)

    def call(what: str, operation: Callable[[], Any]) -> Any:
        bound = reference()
        if bound is None:
            raise StoreError("the store is gone; open it again to use its words")
        return bound(what, operation)

    return call


WordSource = Literal["ocr", "pdf"]
"""Where a picture's words come from: OCR, or a PDF page's text layer."""

WORDS_SUFFIX = "__words"
"""The words collection's name is the store's collection's name and this."""

WORDS_ENGINE = "engine"
"""What read the words (:attr:`~siglip_retriever.encoding.ocr.PictureText.engine`)."""

WORDS_LINES = "lines"
"""The lines with their boxes and confidences, as JSON text."""

WORDS_SOURCE = "source"
"""``"ocr"`` or ``"pdf"`` (a text layer)."""

WORDS_CONFIDENCE = "confidence"
"""The mean confidence of the lines."""

_SOURCES = ("ocr", "pdf")
_PAGE = 5000  # entries a read of every entry gets at a time


def words_collection_name(collection: str) -> str:
    """The name of the words collection of a store's collection.

    Example:
        >>> words_collection_name("siglip")
        'siglip__words'
    """
    return collection + WORDS_SUFFIX


class PictureWords:
    """The words of a store's pictures, in the store's words collection.

    Args:
        collection: the chromadb words collection (cosine space, made with the store's embedding
            function: :func:`~siglip_retriever.store.collection.open_words_collection`).
        encoder: the store's encoder (its text tower embeds the words).
        call: runs one chromadb call (the store's retries, and its write count).

    Example:
        >>> import chromadb, tempfile
        >>> from siglip_retriever import SiglipEncoder
        >>> from siglip_retriever.store.collection import open_words_collection
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()))
        >>> client = chromadb.EphemeralClient(chromadb.Settings(anonymized_telemetry=False))
        >>> words = PictureWords(open_words_collection(client, "doc", encoder), encoder, lambda what, f: f())
        >>> words.count()
        0
    """

    def __init__(self, collection: Any, encoder: SiglipEncoder, call: Call[Any]) -> None:
        self.collection = collection
        self.encoder = encoder
        self.call = call

    def set(self, entry_ids: Sequence[str], texts: Sequence[PictureText], *, source: str) -> None:
        """Store the words of pictures (embedding their text); an empty text deletes the words
        of its entry.

        Raises:
            ConfigurationError: the lengths differ, or ``source`` is not ``"ocr"`` or ``"pdf"``.
            InputTypeError: ``entry_ids`` is one string.
        """
        if isinstance(entry_ids, str):
            raise InputTypeError("set_words takes a list of entry ids; wrap one id in a list")
        if len(entry_ids) != len(texts):
            raise ConfigurationError(f"got {len(texts)} texts for {len(entry_ids)} entry ids")
        if source not in _SOURCES:
            raise ConfigurationError(f"source must be one of {', '.join(_SOURCES)}, not {source!r}")
        latest = dict(zip(entry_ids, texts, strict=True))  # an id given twice: its last words
        empty = [key for key, words in latest.items() if not words.text.strip()]
        self.delete(empty)
        kept = [(key, words) for key, words in latest.items() if words.text.strip()]
        step = self.encoder.batch_size * 8
        for start in range(0, len(kept), step):
            chunk = kept[start : start + step]
            documents = [words.text for _, words in chunk]
            vectors = self.encoder.encode_texts(documents)
            metadatas = [_metadata(words, source) for _, words in chunk]
            ids = [key for key, _ in chunk]
            upsert = partial(self.collection.upsert, ids=ids, embeddings=vectors, documents=documents)
            self.call("upsert", partial(upsert, metadatas=metadatas))

    def get(self, entry_ids: Sequence[str]) -> dict[str, PictureText]:
        """``id -> PictureText`` of those of ``entry_ids`` whose pictures carry words."""
        from siglip_retriever.encoding.ocr import PictureText

        if not entry_ids:
            return {}
        found = self.call("get", lambda: self.collection.get(ids=list(entry_ids), include=["metadatas"]))
        return {
            key: PictureText.from_json(str((meta or {})[WORDS_LINES]))
            for key, meta in zip(found["ids"], found["metadatas"], strict=True)
        }

    def query(
        self, vector: npt.ArrayLike, *, k: int, where: Mapping[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """The ids of the pictures whose words' vectors are nearest a text vector, with their
        cosine similarity, best first (at most ``k``).

        Raises:
            ConfigurationError: ``k`` is not a positive integer, or the vector's size is wrong.
        """
        query = query_vector(vector, k, self.encoder.dim)
        held = self.count()
        if held == 0:
            return []
        result = self.call(
            "query",
            lambda: self.collection.query(
                query_embeddings=query,
                n_results=min(k, held),
                where=dict(where) if where else None,
                include=["distances"],
            ),
        )
        return [
            (key, 1.0 - float(distance))
            for key, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def iter(self) -> Iterator[tuple[str, str]]:
        """``(entry id, text)`` of every picture with words, read in pages."""
        offset = 0
        while True:
            get = partial(self.collection.get, include=["documents"], limit=_PAGE)
            page = self.call("get", partial(get, offset=offset))
            if not page["ids"]:
                return
            yield from zip(page["ids"], page["documents"], strict=True)
            offset += len(page["ids"])

    def count(self) -> int:
        """How many pictures carry words."""
        return int(self.call("count", self.collection.count))

    def delete(self, entry_ids: Sequence[str]) -> None:
        """Forget the words of these entries (ids without words are left alone)."""
        if not entry_ids:
            return
        keys = list(entry_ids)
        self.call("delete", lambda: self.collection.delete(ids=keys))

    @property
    def ocr_setting(self) -> str | None:
        """The OCR setting the words collection records
        (:data:`~siglip_retriever.store.metadata.RECORD_OCR`)."""
        value = (self.collection.metadata or {}).get(RECORD_OCR)
        return None if value is None else str(value)

    def remember_ocr(self, setting: str) -> None:
        """Record the OCR setting (the collection's other metadata, the model's record, kept)."""
        if setting != self.ocr_setting:
            metadata = {**(self.collection.metadata or {}), RECORD_OCR: setting}
            self.call("modify", lambda: self.collection.modify(metadata=metadata))


class StoreWords:
    """The words API of :class:`~siglip_retriever.store.store.MultimodalStore` (which inherits it),
    over the store's :class:`PictureWords`.

    Example:
        >>> import tempfile
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> store.words_count(), store.ocr_setting
        (0, None)
    """

    _words: PictureWords

    def set_words(self, entry_ids: Sequence[str], texts: Sequence[PictureText], *, source: str) -> None:
        """Store what pictures say (read by OCR: ``source="ocr"``; a PDF page's text layer:
        ``"pdf"``), embedded by the text tower; an empty text deletes the words of its entry.

        Raises:
            ConfigurationError: the lengths differ, or ``source`` is neither ``"ocr"`` nor ``"pdf"``.
        """
        self._words.set(entry_ids, texts, source=source)

    def words(self, entry_ids: Sequence[str]) -> dict[str, PictureText]:
        """``id -> PictureText`` of those of ``entry_ids`` whose pictures carry words."""
        return self._words.get(entry_ids)

    def query_words(
        self, vector: npt.ArrayLike, *, k: int, where: Mapping[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """``(entry id, cosine)`` of the pictures whose words' vectors are nearest a text vector,
        best first; ``where`` filters on the words' metadata (``engine``, ``source``, ``confidence``).

        Raises:
            ConfigurationError: ``k`` is not a positive integer, or the vector's size is wrong.
        """
        return self._words.query(vector, k=k, where=where)

    def iter_words(self) -> Iterator[tuple[str, str]]:
        """``(entry id, text)`` of every picture with words, read in pages."""
        return self._words.iter()

    def words_count(self) -> int:
        """How many pictures carry words."""
        return self._words.count()

    @property
    def ocr_setting(self) -> str | None:
        """The OCR setting of the store's last indexing run (``"auto"``, ``"all"``, ``"off"``),
        ``None`` before any: indexing uses it when given none."""
        return self._words.ocr_setting

    def remember_ocr(self, setting: str) -> None:
        """Record the OCR setting for the next indexing runs."""
        self._words.remember_ocr(setting)


def _metadata(words: PictureText, source: str) -> dict[str, Any]:
    confidences = [float(line.confidence) for line in words.lines]
    return {
        WORDS_ENGINE: words.engine,
        WORDS_LINES: words.to_json(),
        WORDS_SOURCE: source,
        WORDS_CONFIDENCE: round(sum(confidences) / len(confidences), 4) if confidences else 0.0,
    }
