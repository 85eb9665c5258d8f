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

A threshold given to the constructor is a default for the pairs it applies to and is ignored
elsewhere; a threshold given to a call that can return no pair it applies to is an error.

Diverse results (:mod:`siglip_retriever.search.diversity`): ``diverse=True`` picks the hits by
maximal marginal relevance among the ``fetch_k`` nearest (``lambda_mult`` weighs relevance
against diversity), and ``collapse_duplicates=True`` returns one hit per group of duplicate
pictures, the others listed in its metadata (``duplicates``). Both are constructor defaults and
options of every search; hits keep their true scores, and thresholds apply before the picks.

Results are cached (:mod:`siglip_retriever.search.cache`): keep one retriever per store, and a
repeated query on a store nothing has written to since is answered without asking chromadb.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore, Retriever
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> _ = store.add_images([Image.new("RGB", (32, 32), c) for c in ("red", "blue")])
    >>> hits = Retriever(store).text_to_images("a red square", k=1)
    >>> len(hits), 0.0 <= hits[0].probability <= 1.0
    (1, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.images import ImageInput
from siglip_retriever.encoding.scores import sigmoid_probability
from siglip_retriever.errors import ConfigurationError, InputTypeError, StoreError
from siglip_retriever.search.cache import ResultCache, frozen_filter
from siglip_retriever.search.diversity import Candidates, Diversity, DiversityOptions, pick
from siglip_retriever.search.hits import SearchHit
from siglip_retriever.store.scanning import IMAGE_EXTENSIONS

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from siglip_retriever.encoding.preparing import PreparedImage
    from siglip_retriever.store.entries import Kind, StoredItem
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["QueryKind", "Retriever", "SearchOptions", "check_k", "check_threshold"]

QueryKind = Literal["text", "image"]
"""What a query was made from."""


class SearchOptions(TypedDict, total=False):
    """The options of a :class:`Retriever`, for classes that make one (the framework retrievers)."""

    k: int
    min_probability: float | None
    min_similarity: float | None
    where: Mapping[str, Any] | None
    cache_size: int
    diverse: bool
    fetch_k: int | None
    lambda_mult: float
    collapse_duplicates: bool


_SAME_PICTURE = 1.0 - 1e-5  # a cosine this high: the query image itself


class Retriever:
    """Search a store by text, by image or by vector.

    Args:
        store: the store to search.
        k: default number of hits.
        min_probability: default threshold on the probability of image-text pairs. Only sigmoid
            (SigLIP) stores have one: on a CLIP store an image-text search raises
            ``ConfigurationError``.
        min_similarity: default threshold on the cosine similarity of image-image and text-text
            pairs (and of bare-vector queries).
        where: default Chroma ``where`` filter on the entries' metadata.
        cache_size: results of this many recent searches are kept (0: none); see
            :mod:`siglip_retriever.search.cache` for when the cache is used.
        diverse: by default, pick the hits by maximal marginal relevance (MMR) among the
            ``fetch_k`` nearest.
        fetch_k: default number of candidates MMR picks from (``None``: ``max(20, k)``).
        lambda_mult: default weight of relevance against diversity in MMR, in [0, 1].
        collapse_duplicates: by default, one hit per group of duplicate pictures.

    Raises:
        ConfigurationError: an option is out of its range.

    Example:
        >>> import tempfile
        >>> from siglip_retriever import MultimodalStore, Retriever
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> Retriever(store, k=3).text_to_images("un chat noir")  # an empty store finds nothing
        []
    """

    def __init__(
        self,
        store: MultimodalStore,
        *,
        k: int = 4,
        min_probability: float | None = None,
        min_similarity: float | None = None,
        where: Mapping[str, Any] | None = None,
        cache_size: int = 256,
        diverse: bool = False,
        fetch_k: int | None = None,
        lambda_mult: float = 0.5,
        collapse_duplicates: bool = False,
    ) -> None:
        self.store = store
        self.k = check_k(k)
        self.min_probability = check_threshold("min_probability", min_probability)
        self.min_similarity = check_threshold("min_similarity", min_similarity)
        self.where = dict(where) if where is not None else None
        self.cache: ResultCache[SearchHit] = ResultCache(store, cache_size)
        self.diversity = Diversity(diverse, fetch_k, lambda_mult, collapse_duplicates)
        """The default diversity options (:class:`~siglip_retriever.search.diversity.Diversity`)."""

    @property
    def cache_size(self) -> int:
        """How many recent results are kept."""
        return self.cache.size

    # -- directions ----------------------------------------------------------------------------

    def text_to_images(
        self,
        query: str,
        *,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_probability: float | None = None,
        **diversity: Unpack[DiversityOptions],
    ) -> list[SearchHit]:
        """Images matching a text query in any language, best first."""
        vector = self.text_vector(query)
        return self.by_vector(
            vector,
            query_kind="text",
            kind="image",
            k=k,
            where=where,
            min_probability=min_probability,
            **diversity,
        )

    def image_to_texts(
        self,
        image: ImageInput | PreparedImage,
        *,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_probability: float | None = None,
        **diversity: Unpack[DiversityOptions],
    ) -> list[SearchHit]:
        """Stored texts (captions, labels) that describe an image, best first."""
        vector = self.image_vector(image)
        return self.by_vector(
            vector,
            query_kind="image",
            kind="text",
            k=k,
            where=where,
            min_probability=min_probability,
            **diversity,
        )

    def image_to_images(
        self,
        image: ImageInput | PreparedImage,
        *,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_similarity: float | None = None,
        exclude_self: bool = True,
        **diversity: Unpack[DiversityOptions],
    ) -> list[SearchHit]:
        """Images similar to a given one, best first, ranked by cosine similarity.

        With ``exclude_self`` an entry whose vector is identical to the query's (the query image
        itself, when it is in the store) is left out.
        """
        vector = self.image_vector(image)
        leave_out = _LeaveOut(same_picture=exclude_self)
        return self._search(vector, "image", "image", k, where, (None, min_similarity), diversity, leave_out)

    def text_to_texts(
        self,
        query: str,
        *,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_similarity: float | None = None,
        **diversity: Unpack[DiversityOptions],
    ) -> list[SearchHit]:
        """Stored texts closest to a text query, ranked by cosine similarity (no probability)."""
        vector = self.text_vector(query)
        return self.by_vector(
            vector,
            query_kind="text",
            kind="text",
            k=k,
            where=where,
            min_similarity=min_similarity,
            **diversity,
        )

    def similar_to_stored(
        self,
        entry_id: str,
        *,
        k: int | None = None,
        kind: Kind | None = "image",
        where: Mapping[str, Any] | None = None,
        min_similarity: float | None = None,
        min_probability: float | None = None,
        **diversity: Unpack[DiversityOptions],
    ) -> list[SearchHit]:
        """Entries similar to a stored one (itself left out), from its stored vector: nothing is
        decoded or encoded.

        Raises:
            StoreError: no entry has this id.
        """
        found = self.store.get([entry_id], include_vectors=True)
        vector = found[0].vector if found else None
        if vector is None:
            raise StoreError(f"no entry with id {entry_id!r} in the store")
        thresholds = (min_probability, min_similarity)
        leave_out = _LeaveOut(entry_id=entry_id)
        return self._search(vector, found[0].kind, kind, k, where, thresholds, diversity, leave_out)

    def search(self, query: str | ImageInput, **kwargs: Any) -> list[SearchHit]:
        """A text query finds images; an image query (a picture, a data URI, an existing image
        file's path) finds similar images."""
        if isinstance(query, str) and not _is_image_string(query):
            return self.text_to_images(query, **kwargs)
        return self.image_to_images(query, **kwargs)

    # -- the one search path -------------------------------------------------------------------

    def by_vector(
        self,
        vector: npt.ArrayLike,
        *,
        query_kind: QueryKind | None,
        kind: Kind | None,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_probability: float | None = None,
        min_similarity: float | None = None,
        **diversity: Unpack[DiversityOptions],
    ) -> list[SearchHit]:
        """Entries nearest to a vector, as ranked hits with their scores, best first.

        Args:
            vector: the query's vector (from this store's encoder).
            query_kind: what the vector was made from (``"text"`` or ``"image"``), or ``None``
                when that is not known: then no hit has a probability.
            kind: the entries to search: ``"image"``, ``"text"`` or ``None`` (both).
            k: number of hits (default: the retriever's).
            where: metadata filter (default: the retriever's).
            min_probability: threshold on image-text pairs (default: the retriever's).
            min_similarity: threshold on the other pairs (default: the retriever's).
            diversity: ``diverse``, ``fetch_k``, ``lambda_mult``, ``collapse_duplicates``
                (default: the retriever's; see :mod:`siglip_retriever.search.diversity`).

        Raises:
            ConfigurationError: a bad option, or a threshold this search cannot apply.
        """
        thresholds = (min_probability, min_similarity)
        return self._search(vector, query_kind, kind, k, where, thresholds, diversity, _LeaveOut())

    def _search(
        self,
        vector: npt.ArrayLike,
        query_kind: QueryKind | None,
        kind: Kind | None,
        k: int | None,
        where: Mapping[str, Any] | None,
        thresholds: tuple[float | None, float | None],
        diversity: DiversityOptions,
        leave_out: _LeaveOut,
    ) -> list[SearchHit]:
        """:meth:`by_vector`, leaving out the query's own entry (``leave_out``) before the picks."""
        count = check_k(k if k is not None else self.k)
        filters = where if where is not None else self.where
        threshold_p, threshold_s = self._thresholds(query_kind, kind, *thresholds)
        options = self.diversity.merged(diversity)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        where_key = frozen_filter(filters)
        key = (
            query.tobytes(),
            query_kind,
            kind,
            count,
            where_key,
            threshold_p,
            threshold_s,
            options,
            leave_out,
        )
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        generation = self.cache.generation

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

        ranked = _ranked(pick(fetch, query, count, options))
        self.cache.put(key, generation, ranked)
        return list(ranked)

    def text_vector(self, query: str) -> npt.NDArray[np.float32]:
        """The vector of a text query (repeated queries come from the encoder's cache).

        Raises:
            InputTypeError: ``query`` is not a string.
            ConfigurationError: ``query`` is empty.
        """
        if not isinstance(query, str):
            raise InputTypeError(f"a text query must be a str, not {type(query).__name__}")
        if not query.strip():
            raise ConfigurationError("the query is empty; type what the image should show")
        return self.store.encoder.encode_query(query)

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

    # -- scores and thresholds -----------------------------------------------------------------

    def _probability(self, similarity: float) -> float | None:
        store = self.store
        if store.score_kind != "sigmoid":
            return None
        return float(
            sigmoid_probability(similarity, logit_scale=store.logit_scale, logit_bias=store.logit_bias)
        )

    def _thresholds(
        self,
        query_kind: QueryKind | None,
        kind: Kind | None,
        min_probability: float | None,
        min_similarity: float | None,
    ) -> tuple[float | None, float | None]:
        """The thresholds of this search: each from the call, else the default where it applies."""
        cross_modal = query_kind is not None and kind != query_kind  # some hits are image-text pairs
        one_modality = query_kind is None or kind in (None, query_kind)  # some hits are not
        explicit_p = check_threshold("min_probability", min_probability)
        explicit_s = check_threshold("min_similarity", min_similarity)
        if explicit_p is not None and not cross_modal:
            raise ConfigurationError(
                "min_probability applies to image-text pairs, and this search returns none; "
                "use min_similarity for image-image and text-text searches"
            )
        if explicit_s is not None and not one_modality:
            raise ConfigurationError(
                "min_similarity applies to image-image and text-text pairs, and this search returns "
                "image-text pairs only; use min_probability"
            )
        threshold_p = (
            (explicit_p if explicit_p is not None else self.min_probability) if cross_modal else None
        )
        threshold_s = (
            (explicit_s if explicit_s is not None else self.min_similarity) if one_modality else None
        )
        if threshold_p is not None and self.store.score_kind != "sigmoid":
            raise ConfigurationError(
                f"min_probability needs a sigmoid (SigLIP) model; this store's model scores with a "
                f"{self.store.score_kind}, whose probabilities depend on the other candidates. Leave "
                "min_probability out, or use a SigLIP model."
            )
        return threshold_p, threshold_s


def check_k(k: int) -> int:
    """``k`` itself, when it is a positive integer.

    Raises:
        ConfigurationError: otherwise.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"k must be a positive integer, not {k!r}")
    return k


_RANGES = {"min_probability": (0.0, 1.0), "min_similarity": (-1.0, 1.0)}


def check_threshold(name: str, value: float | None) -> float | None:
    """A threshold as a float, ``None`` for none.

    Raises:
        ConfigurationError: it is not a number in its range ([0, 1] for ``min_probability``,
            [-1, 1] for ``min_similarity``).
    """
    if value is None:
        return None
    low, high = _RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be a number between {low} and {high}, not {value!r}")
    return float(value)


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
        return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
    except (OSError, ValueError):
        return False
