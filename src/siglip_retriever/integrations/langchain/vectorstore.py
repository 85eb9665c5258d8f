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
from typing import Any

import numpy as np
import numpy.typing as npt
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from siglip_retriever.encoding.images import ImageInput
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.integrations.langchain.documents import hit_document, item_document
from siglip_retriever.integrations.langchain.embeddings import SiglipEmbeddings
from siglip_retriever.search.hits import DEFAULT_CAPTION_KEY, SearchHit
from siglip_retriever.search.options import UNSET, VECTOR_STORE_DEFAULTS, QueryKind, option_specs
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store.entries import content_id
from siglip_retriever.store.store import DEFAULT_COLLECTION, MultimodalStore

__all__ = ["OPTION_NAMES", "SiglipVectorStore"]

OPTION_NAMES = {spec.name: "filter" if spec.name == "where" else spec.name for spec in option_specs()}
"""The search layer's option names -> this vector store's: ``where`` is ``filter``, as LangChain's
vector stores call it; the others keep their names."""
_SEARCH_NAMES = {name: option for option, name in OPTION_NAMES.items()}


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

    Search options: the fields of :class:`~siglip_retriever.search.options.SearchOptions`, as
    constructor defaults (over :data:`~siglip_retriever.search.options.VECTOR_STORE_DEFAULTS`:
    texts, 4 hits), as keyword arguments of every search and in
    ``as_retriever(search_kwargs=...)``: ``k``, ``kind`` (``"text"``, ``"image"`` or ``"any"``),
    ``filter`` (a Chroma ``where`` filter on metadata: LangChain's name for the ``where`` of the
    other front-ends, :data:`OPTION_NAMES`), ``min_probability`` (image-text pairs),
    ``min_similarity`` (text-text and image-image pairs), ``diverse``, ``fetch_k`` and
    ``lambda_mult`` (set by :meth:`max_marginal_relevance_search` and
    ``as_retriever(search_type="mmr")``) and ``collapse_duplicates`` (one document per group of
    duplicate pictures, the others' ids in its metadata under ``duplicates``), ``mode`` (what
    pictures match by: ``"visual"``, ``"text"``, ``"hybrid"``). Images come back with the
    metadata every front-end gives them (``id``, ``uri``, ``kind``, ``rank``, ``similarity``,
    ``probability``, ``matched``, ``says``, ``words``; ``source``, and a PDF entry's ``page``,
    from 1, and ``page_label``) and their caption (metadata ``caption_key``) as ``page_content``,
    followed by the words the picture says when the search matched words (see
    :mod:`~siglip_retriever.integrations.langchain.documents`); texts come back as they were
    added.

    Args:
        store: the store to read and write.
        caption_key: metadata key whose value, when present, is an image's ``page_content``.
        cache_size: results of this many recent searches are kept (see
            :mod:`siglip_retriever.search.cache`).
        defaults: default search options (``kind="image"`` to search the pictures by default).

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
        caption_key: str = DEFAULT_CAPTION_KEY,
        cache_size: int = 256,
        **defaults: Any,
    ) -> None:
        self.store = store
        self.caption_key = caption_key
        options = VECTOR_STORE_DEFAULTS.merged(**_search_names(defaults, "SiglipVectorStore"))
        self.retriever = Retriever(store, cache_size=cache_size, **options.as_kwargs())
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
        **defaults: Any,
    ) -> SiglipVectorStore:
        """A store on ``embedding``'s encoder, holding ``texts``.

        On disk at ``path`` (collection ``collection`` or the default one), else in memory (a new
        collection unless ``collection`` names one); ``defaults``: default search options.
        """
        _search_names(defaults, "from_texts")
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
        vectors = cls(store, **defaults)
        vectors.add_texts(texts, metadatas, ids=ids)
        return vectors

    # -- searching -----------------------------------------------------------------------------

    def similarity_search(self, query: str, k: int = UNSET, **kwargs: Any) -> list[Document]:
        """Documents closest to a text query (stored texts unless ``kind`` says otherwise)."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = UNSET, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, cosine similarity)`` pairs for a text query, best first."""
        return [(self._document(hit), hit.similarity) for hit in self._text_hits(query, k, kwargs)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = UNSET, **kwargs: Any
    ) -> list[Document]:
        """Documents closest to a SigLIP vector (from :attr:`embeddings`); whether it was made from a
        text or an image is not known, so no hit has a probability."""
        return [self._document(hit) for hit in self._hits(np.asarray(embedding), None, k, kwargs)]

    def similarity_search_by_image(self, image: ImageInput, k: int = UNSET, **kwargs: Any) -> list[Document]:
        """Documents closest to an image: similar images by default (``kind="image"`` unless
        given), ``kind="text"`` for captions."""
        hits = self._hits(self.retriever.image_vector(image), "image", k, {"kind": "image", **kwargs})
        return [self._document(hit) for hit in hits]

    async def asimilarity_search_by_image(
        self, image: ImageInput, k: int = UNSET, **kwargs: Any
    ) -> list[Document]:
        """Like :meth:`similarity_search_by_image`, in a worker thread."""
        return await asyncio.to_thread(self.similarity_search_by_image, image, k, **kwargs)

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = UNSET,
        fetch_k: int | None = UNSET,
        lambda_mult: float | None = UNSET,
        filter: dict[str, Any] | None = UNSET,
        **kwargs: Any,
    ) -> list[Document]:
        """Documents for a text query picked by maximal marginal relevance: ``k`` among the
        ``fetch_k`` nearest (default: 20, or ``k`` if larger), ``lambda_mult`` from 0 (most
        diverse) to 1 (the plain ranking; default 0.5).

        The search layer picks them (:func:`~siglip_retriever.search.diversity.maximal_marginal_relevance`,
        as ``langchain_core``'s); each document keeps its true scores in its metadata. Options as
        :meth:`similarity_search`.

        Raises:
            ConfigurationError: ``fetch_k`` is smaller than ``k``, ``lambda_mult`` is not in
                [0, 1], or an unknown option.
        """
        options = {
            **kwargs,
            "filter": filter,
            "diverse": True,
            "fetch_k": fetch_k,
            "lambda_mult": lambda_mult,
        }
        return [self._document(hit) for hit in self._text_hits(query, k, options)]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = UNSET,
        fetch_k: int | None = UNSET,
        lambda_mult: float | None = UNSET,
        filter: dict[str, Any] | None = UNSET,
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
        return [(self._document(hit), hit.relevance) for hit in self._text_hits(query, k, kwargs)]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return await asyncio.to_thread(self._similarity_search_with_relevance_scores, query, k, **kwargs)

    def _document(self, hit: SearchHit) -> Document:
        return hit_document(hit, caption_key=self.caption_key)

    def _text_hits(self, query: str, k: int, options: Mapping[str, Any]) -> list[SearchHit]:
        """The search of a text query (its words too, for what pictures say), with LangChain's
        option names (:data:`OPTION_NAMES`) mapped to the search layer's."""
        return self.retriever.search_text(query, **_search_names({**options, "k": k}, "search"))

    def _hits(
        self, vector: npt.ArrayLike, query_kind: QueryKind | None, k: int, options: Mapping[str, Any]
    ) -> list[SearchHit]:
        """The search, with LangChain's option names (:data:`OPTION_NAMES`) mapped to the search
        layer's."""
        given = _search_names({**options, "k": k}, "search")
        return self.retriever.by_vector(vector, query_kind=query_kind, **given)


def _search_names(options: Mapping[str, Any], method: str) -> dict[str, Any]:
    """Search options under LangChain's names -> the search layer's.

    Raises:
        ConfigurationError: an option this vector store does not know.
    """
    unknown = sorted(set(options) - set(_SEARCH_NAMES))
    if unknown:
        known = ", ".join(sorted(_SEARCH_NAMES))
        raise ConfigurationError(f"{method} got unknown options {unknown}; the search options are {known}")
    return {_SEARCH_NAMES[name]: value for name, value in options.items()}


def _no_options(options: Mapping[str, Any], method: str) -> None:
    if options:
        raise ConfigurationError(f"{method} got unknown options {sorted(options)}; see SiglipVectorStore")
