"""Search: the one place where a query becomes ranked hits with scores, thresholds and filters.

Every front-end (the LangChain retriever and vector store, the LlamaIndex retriever, the CLI and
the web app) searches through :class:`Retriever`. Its directions, each with ``k``, a metadata
filter ``where`` and a threshold:

- :meth:`Retriever.text_to_images`: a query in any language the model knows -> images;
- :meth:`Retriever.image_to_texts`: an image -> captions or labels stored as texts;
- :meth:`Retriever.image_to_images` and :meth:`Retriever.similar_to_stored`: similar images;
- :meth:`Retriever.text_to_texts`: stored texts close to a text;
- :meth:`Retriever.by_vector`: any of these from a vector, entries of one kind or of both.

Scores: every :class:`~siglip_retriever.search.hits.SearchHit` carries the cosine similarity
and, for an image-text pair, SigLIP's probability ``sigmoid(logit_scale * cos + logit_bias)``
computed with the scale and bias the store's collection records. The thresholds:

- ``min_probability`` applies to image-text pairs: hits whose probability is lower are left
  out, and when none passes the result is empty, so an application can say "no relevant image"
  instead of showing the least bad one. Only sigmoid (SigLIP) stores have a probability: on a
  CLIP store it is a :class:`~siglip_retriever.errors.ConfigurationError`.
- ``min_similarity`` applies to pairs of one modality (image-image, text-text) and to queries
  given as a bare vector, whose modality is unknown: hits with a lower cosine are left out.
  SigLIP's sigmoid was trained on image-text pairs, so these pairs have no calibrated
  probability.

What pictures say (their words, read by OCR or from a PDF page's text layer, kept by the store)
is matched too, by ``mode``: ``"visual"`` matches what pictures show, as above; ``"text"`` what
they say; ``"hybrid"`` (the default for a text query of images when the store holds words) both,
in one list (:mod:`siglip_retriever.search.hybrid`): a hit's ``probability`` is then the
probability that the picture shows the query *or* says it (:mod:`siglip_retriever.search.fusion`),
and it says why it matched (``matched``: ``"shows"``, ``"says"`` or ``"both"``), with its words
(``says``) and the query's words found in them (``words``). An image query in ``"text"`` mode
finds pictures whose words match what the query picture shows.

Every search takes the options of :class:`~siglip_retriever.search.options.SearchOptions` as
keyword arguments (``k``, ``kind``, ``where``, the thresholds, the diversity options); the
constructor takes them as defaults, and one call's options are laid over them. A threshold given
to the constructor is a default for the pairs it applies to and is ignored elsewhere; a threshold
given to a call that can return no pair it applies to is an error.

Diverse results (:mod:`siglip_retriever.search.diversity`): ``diverse=True`` picks the hits by
maximal marginal relevance among the ``fetch_k`` nearest (``lambda_mult`` weighs relevance
against diversity), and ``collapse_duplicates=True`` returns one hit per group of duplicate
pictures, the others listed in its metadata (``duplicates``); hits keep their true scores, and
thresholds apply before the picks.

Results are cached (:mod:`siglip_retriever.search.cache`): keep one retriever per store, and a
repeated query on a store nothing has written to since is answered without asking chromadb.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore, Retriever
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> _ = store.add_images([Image.new("RGB", (32, 32), c) for c in ("red", "blue")])
    >>> hits = Retriever(store).search("a red square", k=1)
    >>> len(hits), 0.0 <= hits[0].probability <= 1.0
    (1, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.images import ImageInput
from siglip_retriever.encoding.scores import sigmoid_probability
from siglip_retriever.errors import ConfigurationError, InputTypeError, StoreError
from siglip_retriever.search.cache import ResultCache, frozen_filter
from siglip_retriever.search.diversity import Candidates, pick
from siglip_retriever.search.hits import SearchHit
from siglip_retriever.search.hybrid import WordsSearch
from siglip_retriever.search.options import DEFAULTS, QueryKind, SearchKind, SearchKwargs, SearchOptions
from siglip_retriever.store.scanning import IMAGE_EXTENSIONS, RAW_EXTENSIONS

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from siglip_retriever.encoding.preparing import PreparedImage
    from siglip_retriever.store.entries import StoredItem
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["Retriever"]


_SAME_PICTURE = 1.0 - 1e-5  # a cosine this high: the query image itself


class Retriever:
    """Search a store by text, by image or by vector.

    Args:
        store: the store to search.
        cache_size: results of this many recent searches are kept (0: none); see
            :mod:`siglip_retriever.search.cache` for when the cache is used.
        encode_query: how a text query becomes its vector; by default the store's encoder's
            cached :meth:`~siglip_retriever.encoding.encoder.SiglipEncoder.encode_query`. A server
            passes its :class:`~siglip_retriever.encoding.queue.EncodeQueue`'s, so that the queries
            of concurrent requests share one forward pass.
        defaults: the default search options (:class:`~siglip_retriever.search.options.SearchOptions`'s
            fields: ``k``, ``kind``, ``where``, ``min_probability``, ``min_similarity``,
            ``diverse``, ``fetch_k``, ``lambda_mult``, ``collapse_duplicates``, ``mode``), over
            :data:`~siglip_retriever.search.options.DEFAULTS`.

    Raises:
        ConfigurationError: an option is out of its range, or options do not go together.

    Example:
        >>> import tempfile
        >>> from siglip_retriever import MultimodalStore, Retriever
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> retriever = Retriever(store, k=3)
        >>> retriever.options.k, retriever.text_to_images("un chat noir")  # an empty store finds nothing
        (3, [])
    """

    def __init__(
        self,
        store: MultimodalStore,
        *,
        cache_size: int = 256,
        encode_query: Callable[[str], npt.NDArray[np.float32]] | None = None,
        **defaults: Unpack[SearchKwargs],
    ) -> None:
        self.store = store
        self.encode_query = encode_query
        """How text queries are encoded (``None``: the store's encoder's ``encode_query``)."""
        self.options: SearchOptions = DEFAULTS.merged(**defaults)
        """The default search options."""
        self.cache: ResultCache[SearchHit] = ResultCache(store, cache_size)
        self._words_seen: tuple[int, bool] | None = None  # (store generation, whether it held words)

    @property
    def cache_size(self) -> int:
        """How many recent results are kept."""
        return self.cache.size

    # -- what a query is -----------------------------------------------------------------------

    def search(self, query: str | ImageInput, **options: Unpack[SearchKwargs]) -> list[SearchHit]:
        """Entries for a query: a text (in any language the model knows) or an image (a picture,
        a data URI, an existing image file's path; the query image itself is left out). What
        comes back is ``kind`` (images by default)."""
        if isinstance(query, str) and not _is_image_string(query):
            return self.search_text(query, **options)
        return self.search_image(query, **options)

    def search_text(self, query: str, **options: Unpack[SearchKwargs]) -> list[SearchHit]:
        """Entries for a text query, best first (images by default; ``kind`` says); pictures
        match by what they show and, when the store holds words, by what they say (``mode``)."""
        return self._search(self.text_vector(query), "text", dict(options), _LeaveOut(), query)

    def search_image(
        self, image: ImageInput | PreparedImage, *, exclude_self: bool = True, **options: Unpack[SearchKwargs]
    ) -> list[SearchHit]:
        """Entries for an image query, best first (images by default; ``kind`` says).

        With ``exclude_self`` an entry whose vector is identical to the query's (the query image
        itself, when it is in the store) is left out.
        """
        leave_out = _LeaveOut(same_picture=exclude_self)
        return self._search(self.image_vector(image), "image", dict(options), leave_out)

    def similar_to_stored(self, entry_id: str, **options: Unpack[SearchKwargs]) -> list[SearchHit]:
        """Entries similar to a stored one (itself left out), from its stored vector: nothing is
        decoded or encoded. What comes back is ``kind`` (images by default).

        Raises:
            StoreError: no entry has this id.
        """
        found = self.store.get([entry_id], include_vectors=True)
        vector = found[0].vector if found else None
        if vector is None:
            raise StoreError(f"no entry with id {entry_id!r} in the store")
        return self._search(vector, found[0].kind, dict(options), _LeaveOut(entry_id=entry_id))

    def by_vector(
        self, vector: npt.ArrayLike, *, query_kind: QueryKind | None, **options: Unpack[SearchKwargs]
    ) -> list[SearchHit]:
        """Entries nearest to a vector, as ranked hits with their scores, best first.

        Args:
            vector: the query's vector (from this store's encoder).
            query_kind: what the vector was made from (``"text"`` or ``"image"``), or ``None``
                when that is not known: then no hit has a probability.
            options: this search's options, over the retriever's.

        Raises:
            ConfigurationError: a bad option, or a threshold this search cannot apply.
        """
        return self._search(vector, query_kind, dict(options), _LeaveOut())

    # -- the directions: a query of one kind, entries of one kind ------------------------------

    def text_to_images(self, query: str, **options: Unpack[SearchKwargs]) -> list[SearchHit]:
        """Images matching a text query in any language, best first."""
        return self.search_text(query, **_kind(options, "image", "text_to_images"))

    def image_to_texts(
        self, image: ImageInput | PreparedImage, **options: Unpack[SearchKwargs]
    ) -> list[SearchHit]:
        """Stored texts (captions, labels) that describe an image, best first."""
        return self.search_image(image, exclude_self=False, **_kind(options, "text", "image_to_texts"))

    def image_to_images(
        self, image: ImageInput | PreparedImage, *, exclude_self: bool = True, **options: Unpack[SearchKwargs]
    ) -> list[SearchHit]:
        """Images similar to a given one, best first, ranked by cosine similarity (see
        :meth:`search_image` for ``exclude_self``)."""
        return self.search_image(
            image, exclude_self=exclude_self, **_kind(options, "image", "image_to_images")
        )

    def text_to_texts(self, query: str, **options: Unpack[SearchKwargs]) -> list[SearchHit]:
        """Stored texts closest to a text query, ranked by cosine similarity (no probability)."""
        return self.search_text(query, **_kind(options, "text", "text_to_texts"))

    # -- the one search path -------------------------------------------------------------------

    def _search(
        self,
        vector: npt.ArrayLike,
        query_kind: QueryKind | None,
        given: dict[str, Any],
        leave_out: _LeaveOut,
        text: str | None = None,
    ) -> list[SearchHit]:
        """The search of a vector (and of the query's ``text``, for its words) with one call's
        options, leaving out the query's own entry (``leave_out``) before the picks."""
        options = self.options.merged(**given)
        sigmoid = self.store.score_kind == "sigmoid"
        may_read_words = options.mode is None and query_kind == "text" and options.kind == "image"
        has_words = may_read_words and sigmoid and self._store_has_words()
        mode, threshold_p, threshold_s = options.applied(query_kind, given, has_words=has_words)
        if not sigmoid and (threshold_p is not None or mode != "visual"):
            what = "min_probability" if threshold_p is not None else "mode"
            raise ConfigurationError(
                f"{what} needs a sigmoid (SigLIP) model; this store's model scores with a "
                f"{self.store.score_kind}, whose probabilities depend on the other candidates. Leave "
                f"{what} out, or use a SigLIP model."
            )
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        key = (
            query.tobytes(),
            query_kind,
            frozen_filter(options.where),
            options,
            mode,
            text if mode != "visual" else None,
            threshold_p,
            threshold_s,
            leave_out,
        )
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        generation = self.cache.generation
        relevance = None
        if mode == "visual" or query_kind is None:  # a bare vector is always searched by look
            fetch = self._looks(query, query_kind, options, (threshold_p, threshold_s), leave_out)
        else:
            search = WordsSearch(self.store, query, text, query_kind, mode, options)
            fetch = _by_words(search, threshold_p, leave_out)
            relevance = _probability_of  # MMR weighs the combined probability, not the look alone
        ranked = _ranked(pick(fetch, query, options, relevance))
        self.cache.put(key, generation, ranked)
        return list(ranked)

    def _store_has_words(self) -> bool:
        """Whether the store holds any picture's words: asked of chromadb once per generation of a
        store no other process writes to (so a cached search asks chromadb nothing), else each time."""
        store, seen = self.store, self._words_seen
        if store.sole_writer and seen is not None and seen[0] == store.generation:
            return seen[1]
        generation = store.generation
        has = store.words_count() > 0
        self._words_seen = (generation, has)
        return has

    def _looks(
        self,
        query: npt.NDArray[np.float32],
        query_kind: QueryKind | None,
        options: SearchOptions,
        thresholds: tuple[float | None, float | None],
        leave_out: _LeaveOut,
    ) -> Callable[[int], Candidates]:
        """The fetch of a search by look: the store's nearest entries, with their scores."""
        threshold_p, threshold_s = thresholds
        filters, kind = options.where, options.store_kind

        def fetch(n: int) -> Candidates:
            asked = n + leave_out.extra
            found = self.store.query(
                query, k=asked, kind=kind, where=filters, include_vectors=options.diverse
            )
            hits, vectors = [], []
            for item, similarity in found:
                if leave_out.leaves_out(item.id, similarity):
                    continue
                cross_modal = query_kind is not None and item.kind != query_kind
                probability = self._probability(similarity) if cross_modal else None
                threshold, value = (threshold_p, probability) if cross_modal else (threshold_s, similarity)
                if threshold is None or (value is not None and value >= threshold):
                    hits.append(_hit(item, similarity, probability))
                    vectors.append(item.vector)
            return hits[:n], vectors[:n], len(found) < asked

        return fetch

    def text_vector(self, query: str) -> npt.NDArray[np.float32]:
        """The vector of a text query, by :attr:`encode_query` (repeated queries come from the
        encoder's cache).

        Raises:
            InputTypeError: ``query`` is not a string.
            ConfigurationError: ``query`` is empty.
        """
        if not isinstance(query, str):
            raise InputTypeError(f"a text query must be a str, not {type(query).__name__}")
        if not query.strip():
            raise ConfigurationError("the query is empty; type what the image should show")
        return (self.encode_query or self.store.encoder.encode_query)(query)

    def image_vector(self, image: ImageInput | PreparedImage) -> npt.NDArray[np.float32]:
        """The vector of an image query (any input :func:`~siglip_retriever.encoding.images.load_image`
        takes, or an image the encoder prepared already).

        Raises:
            ImageLoadError: the image cannot be read; the message names it.
        """
        return self.store.encoder.encode_images([image])[0]

    def clear_cache(self) -> None:
        """Forget every cached result (after writing to the store some other way)."""
        self.cache.clear()

    def _probability(self, similarity: float) -> float | None:
        store = self.store
        if store.score_kind != "sigmoid":
            return None
        return float(
            sigmoid_probability(similarity, logit_scale=store.logit_scale, logit_bias=store.logit_bias)
        )


def _kind(options: SearchKwargs, kind: SearchKind, method: str) -> SearchKwargs:
    """``options`` with ``kind`` set to a direction's kind.

    Raises:
        ConfigurationError: ``options`` asks for another kind.
    """
    asked = options.get("kind", kind)
    if asked != kind:
        raise ConfigurationError(
            f"{method} returns kind={kind!r}, not {asked!r}; use search() to choose the kind"
        )
    return {**options, "kind": kind}


def _by_words(
    search: WordsSearch, threshold: float | None, leave_out: _LeaveOut
) -> Callable[[int], Candidates]:
    """The fetch of a search that matches words: its candidates in one ranked list, as hits."""

    def fetch(n: int) -> Candidates:
        hits, vectors = [], []
        for found in search.ranked(n + leave_out.extra):
            if leave_out.leaves_out(found.item.id, found.similarity):
                continue
            evidence = found.evidence
            probability = evidence.probability
            if threshold is None or probability >= threshold:
                hit = _hit(found.item, found.similarity, probability)
                hits.append(replace(hit, matched=evidence.matched, says=found.says, words=found.words))
                vectors.append(found.item.vector)
        return hits[:n], vectors[:n], search.complete

    return fetch


def _probability_of(hit: SearchHit) -> float:
    return hit.probability if hit.probability is not None else 0.0


def _hit(item: StoredItem, similarity: float, probability: float | None) -> SearchHit:
    return SearchHit(
        id=item.id,
        kind=item.kind,
        uri=item.uri,
        text=item.text,
        metadata=item.metadata,
        similarity=similarity,
        probability=probability,
    )


@dataclass(frozen=True)
class _LeaveOut:
    """What a search leaves out before its picks: the query's own entry."""

    entry_id: str | None = None
    same_picture: bool = False  # an entry whose vector is the query's

    @property
    def extra(self) -> int:
        """How many more candidates to read, for the one left out."""
        return int(self.entry_id is not None or self.same_picture)

    def leaves_out(self, entry_id: str, similarity: float) -> bool:
        return entry_id == self.entry_id or (self.same_picture and similarity >= _SAME_PICTURE)


def _ranked(hits: list[SearchHit]) -> list[SearchHit]:
    return [replace(hit, rank=i) for i, hit in enumerate(hits, start=1)]


def _is_image_string(text: str) -> bool:
    """A str query is an image when it is a data URI or an existing image file."""
    if text.startswith("data:image/"):
        return True
    try:
        path = Path(text)
        return path.suffix.lower() in IMAGE_EXTENSIONS | RAW_EXTENSIONS and path.is_file()
    except (OSError, ValueError):
        return False
