"""A LangChain vector store on a :class:`~siglip_retriever.store.store.MultimodalStore`.

:class:`SiglipVectorStore` is a ``langchain_core`` ``VectorStore`` over the store's chromadb
collection. Text queries search the stored texts by default (``kind="text"``: documents are texts,
as LangChain users expect); pass ``kind="image"`` (or ``"any"``) per call, as a constructor
default, or in ``as_retriever(search_kwargs={"kind": "image"})`` to search images. Every search
goes through the search layer (:class:`~siglip_retriever.search.retriever.Retriever`): the same
scores, thresholds and result cache as every other front-end, and the same diverse results:
:meth:`SiglipVectorStore.max_marginal_relevance_search` (and ``as_retriever(search_type="mmr")``)
picks by maximal marginal relevance, and ``collapse_duplicates=True`` returns one hit per group of
duplicate pictures (see :mod:`siglip_retriever.search.diversity`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, cast, get_args

import numpy as np
import numpy.typing as npt
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from siglip_retriever.encoding.images import ImageInput
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.integrations.langchain.documents import hit_document, item_document
from siglip_retriever.integrations.langchain.embeddings import SiglipEmbeddings
from siglip_retriever.search.diversity import DEFAULT_FETCH_K, DEFAULT_LAMBDA_MULT
from siglip_retriever.search.hits import DEFAULT_CAPTION_KEY, SearchHit
from siglip_retriever.search.retriever import QueryKind, Retriever
from siglip_retriever.store.entries import content_id
from siglip_retriever.store.store import DEFAULT_COLLECTION, MultimodalStore

__all__ = ["SearchKind", "SiglipVectorStore"]

SearchKind = Literal["text", "image", "any"]
"""What a search returns: stored texts, images, or both."""

_SEARCH_OPTIONS = ("kind", "filter", "min_probability", "min_similarity", "collapse_duplicates")
_MMR_OPTIONS = ("diverse", "fetch_k", "lambda_mult")  # set by the MMR methods


class SiglipVectorStore(VectorStore):
    """A LangChain vector store on a :class:`~siglip_retriever.store.store.MultimodalStore`.

    The store embeds with its own SigLIP encoder; :attr:`embeddings` is a
    :class:`~siglip_retriever.integrations.langchain.embeddings.SiglipEmbeddings` sharing it.
    Default ids are the store's content hashes, so adding the same text (or image) twice stores
    it once.

    Scores: ``similarity_search_with_score`` returns the cosine similarity (higher is closer, not
    a distance). ``similarity_search_with_relevance_scores`` returns SigLIP's calibrated
    probability for image-text pairs (text queries over images); texts found by a text query have
    no calibrated probability (the sigmoid was trained on image-text pairs), so their relevance is
    the cosine similarity clipped to [0, 1].

    Search options (keyword arguments of every search, and ``as_retriever(search_kwargs=...)``):
    ``kind`` (``"text"``, ``"image"`` or ``"any"``), ``filter`` (a Chroma ``where`` filter on
    metadata: LangChain's name for the ``where`` of the other front-ends), ``min_probability``
    (image-text pairs), ``min_similarity`` (text-text and image-image pairs) and
    ``collapse_duplicates`` (one document per group of duplicate pictures, the others' ids in its
    metadata under ``duplicates``), as :class:`~siglip_retriever.search.retriever.Retriever`
    defines them. :meth:`max_marginal_relevance_search` (``as_retriever(search_type="mmr")``)
    takes them too, beside ``fetch_k`` and ``lambda_mult``. Images come back with the
    metadata every front-end gives them (``id``, ``uri``, ``kind``, ``rank``, ``similarity``,
    ``probability``) and their caption (metadata ``caption_key``) as ``page_content``; texts come
    back as they were added.

    Args:
        store: the store to read and write.
        kind: what text queries search by default.
        caption_key: metadata key whose value, when present, is an image's ``page_content``.
        cache_size: results of this many recent searches are kept (see
            :mod:`siglip_retriever.search.cache`).

    Example:
        >>> from siglip_retriever import MultimodalStore, SiglipVectorStore
        >>> from siglip_retriever.demo import render
        >>> vectors = SiglipVectorStore(MultimodalStore.in_memory(model="demo"))
        >>> vectors.add_texts(["a red circle", "un carré bleu"], ids=["en", "fr"])
        ['en', 'fr']
        >>> [doc.id for doc in vectors.similarity_search("a blue square", k=1)]
        ['fr']
        >>> _ = vectors.add_images([render("star", "green", rng=1)], ids=["star"])
        >>> images = vectors.as_retriever(search_kwargs={"kind": "image", "k": 1})
        >>> [(doc.id, doc.metadata["kind"]) for doc in images.invoke("ein grüner Stern")]
        [('star', 'image')]
        >>> diverse = vectors.as_retriever(search_type="mmr", search_kwargs={"k": 2, "lambda_mult": 0.3})
        >>> sorted(doc.id for doc in diverse.invoke("a red circle"))
        ['en', 'fr']
    """

    def __init__(
        self,
        store: MultimodalStore,
        *,
        kind: SearchKind = "text",
        caption_key: str = DEFAULT_CAPTION_KEY,
        cache_size: int = 256,
    ) -> None:
        self.store = store
        self.kind = _check_kind(kind)
        self.caption_key = caption_key
        self.retriever = Retriever(store, cache_size=cache_size)
        """The search this vector store goes through (one for its lifetime: its cache serves it)."""
        self._embeddings = SiglipEmbeddings(encoder=store.encoder)

    @property
    def embeddings(self) -> SiglipEmbeddings:
        """SiglipEmbeddings on the store's encoder (no second model load)."""
        return self._embeddings

    # -- writing -------------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store texts; missing ids (``None``) become content hashes."""
        _no_options(kwargs, "add_texts")
        items = list(texts)
        given: Sequence[str | None] = ids if ids is not None else [None] * len(items)
        if len(given) != len(items):
            raise ConfigurationError(f"got {len(given)} ids for {len(items)} texts")
        keys = [key or content_id("text", text) for key, text in zip(given, items, strict=True)]
        return self.store.add_texts(items, metadatas, ids=keys)

    def add_images(
        self,
        uris: Sequence[ImageInput],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Embed and store images (paths, PIL images, bytes, data URIs); a folder is refused: index
        it with ``store.index_folder(folder)``."""
        return self.store.add_images(uris, metadatas, ids)

    async def aadd_images(
        self,
        uris: Sequence[ImageInput],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Like :meth:`add_images`, in a worker thread."""
        return await asyncio.to_thread(self.add_images, uris, metadatas, ids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete by ids and/or ``filter``; ``filter={}`` empties the store, ``delete()`` refuses."""
        where = kwargs.pop("filter", None)
        _no_options(kwargs, "delete")
        if ids is None and where is None:
            raise ConfigurationError("give ids or filter=...; to empty the store use delete(filter={})")
        self.store.delete(ids, where=where)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents by id, in the order asked; missing ids are left out."""
        return [item_document(item, caption_key=self.caption_key) for item in self.store.get(list(ids))]

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        path: str | os.PathLike[str] | None = None,
        collection: str | None = None,
        kind: SearchKind = "text",
        **kwargs: Any,
    ) -> SiglipVectorStore:
        """A store on ``embedding``'s encoder, holding ``texts``.

        On disk at ``path`` (collection ``collection`` or the default one), else in memory (a new
        collection unless ``collection`` names one).
        """
        _no_options(kwargs, "from_texts")
        if not isinstance(embedding, SiglipEmbeddings):
            raise ConfigurationError(
                f"SiglipVectorStore embeds with SigLIP; pass SiglipEmbeddings, not {type(embedding).__name__}"
            )
        if path is not None:
            store = MultimodalStore(
                path, encoder=embedding.encoder, collection=collection or DEFAULT_COLLECTION
            )
        else:
            store = MultimodalStore.in_memory(encoder=embedding.encoder, collection=collection)
        vectors = cls(store, kind=kind)
        vectors.add_texts(texts, metadatas, ids=ids)
        return vectors

    # -- searching -----------------------------------------------------------------------------

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Documents closest to a text query (stored texts unless ``kind`` says otherwise)."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, cosine similarity)`` pairs for a text query, best first."""
        hits = self._hits(self.retriever.text_vector(query), "text", k, kwargs)
        return [(self._document(hit), hit.similarity) for hit in hits]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        """Documents closest to a SigLIP vector (from :attr:`embeddings`); whether it was made from a
        text or an image is not known, so no hit has a probability."""
        return [self._document(hit) for hit in self._hits(np.asarray(embedding), None, k, kwargs)]

    def similarity_search_by_image(
        self, image: ImageInput, k: int = 4, *, kind: SearchKind = "image", **kwargs: Any
    ) -> list[Document]:
        """Documents closest to an image: similar images by default, ``kind="text"`` for captions."""
        hits = self._hits(self.retriever.image_vector(image), "image", k, {**kwargs, "kind": kind})
        return [self._document(hit) for hit in hits]

    async def asimilarity_search_by_image(
        self, image: ImageInput, k: int = 4, *, kind: SearchKind = "image", **kwargs: Any
    ) -> list[Document]:
        """Like :meth:`similarity_search_by_image`, in a worker thread."""
        return await asyncio.to_thread(self.similarity_search_by_image, image, k, kind=kind, **kwargs)

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Documents for a text query picked by maximal marginal relevance: ``k`` among the
        ``fetch_k`` nearest, ``lambda_mult`` from 0 (most diverse) to 1 (the plain ranking).

        The search layer picks them (:func:`~siglip_retriever.search.diversity.maximal_marginal_relevance`,
        as ``langchain_core``'s); each document keeps its true scores in its metadata. Options as
        :meth:`similarity_search` (``kind``, ``min_probability``, ``min_similarity``,
        ``collapse_duplicates``).

        Raises:
            ConfigurationError: ``fetch_k`` is smaller than ``k``, ``lambda_mult`` is not in
                [0, 1], or an unknown option.
        """
        vector = self.retriever.text_vector(query)
        options = {
            **kwargs,
            "filter": filter,
            "diverse": True,
            "fetch_k": fetch_k,
            "lambda_mult": lambda_mult,
        }
        return [self._document(hit) for hit in self._hits(vector, "text", k, options)]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Like :meth:`max_marginal_relevance_search`, from a SigLIP vector (no hit has a
        probability: whether it was made from a text or an image is not known)."""
        options = {
            **kwargs,
            "filter": filter,
            "diverse": True,
            "fetch_k": fetch_k,
            "lambda_mult": lambda_mult,
        }
        return [self._document(hit) for hit in self._hits(np.asarray(embedding), None, k, options)]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = self._hits(self.retriever.text_vector(query), "text", k, kwargs)
        return [(self._document(hit), hit.relevance) for hit in hits]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return await asyncio.to_thread(self._similarity_search_with_relevance_scores, query, k, **kwargs)

    def _document(self, hit: SearchHit) -> Document:
        return hit_document(hit, caption_key=self.caption_key)

    def _hits(
        self, vector: npt.ArrayLike, query_kind: QueryKind | None, k: int, options: Mapping[str, Any]
    ) -> list[SearchHit]:
        """The search, with LangChain's option names mapped to the search layer's (``filter`` is
        ``where``)."""
        unknown = set(options) - {*_SEARCH_OPTIONS, *_MMR_OPTIONS}
        _no_options({name: options[name] for name in unknown}, "search")
        kind = _check_kind(options.get("kind", self.kind))
        return self.retriever.by_vector(
            vector,
            query_kind=query_kind,
            kind=None if kind == "any" else kind,
            k=k,
            where=options.get("filter"),
            min_probability=options.get("min_probability"),
            min_similarity=options.get("min_similarity"),
            collapse_duplicates=options.get("collapse_duplicates"),
            diverse=options.get("diverse"),
            fetch_k=options.get("fetch_k"),
            lambda_mult=options.get("lambda_mult"),
        )


def _check_kind(kind: Any) -> SearchKind:
    if kind not in get_args(SearchKind):
        raise ConfigurationError(f"kind must be 'text', 'image' or 'any', not {kind!r}")
    return cast(SearchKind, kind)


def _no_options(options: Mapping[str, Any], method: str) -> None:
    if options:
        raise ConfigurationError(f"{method} got unknown options {sorted(options)}; see SiglipVectorStore")
