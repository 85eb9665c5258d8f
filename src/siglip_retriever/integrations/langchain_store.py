"""A LangChain vector store and a multilingual image retriever on a :class:`MultimodalStore`.

- :class:`SiglipVectorStore` is a ``langchain_core`` ``VectorStore`` over the store's chromadb
  collection. Text queries search the stored texts by default (``kind="text"``: documents are
  texts, as LangChain users expect); pass ``kind="image"`` (or ``"any"``) per call, as a
  constructor default, or in ``as_retriever(search_kwargs={"kind": "image"})`` to search images.
- :class:`SiglipImageRetriever` is a ``BaseRetriever``: a query in any language the model knows
  -> image ``Document`` objects carrying the uri, id, SigLIP probability and cosine similarity and,
  on request, the image itself as base64 for a multimodal chat model (see
  :func:`image_content_blocks`).

Example:
    >>> import tempfile
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.integrations.langchain_store import SiglipVectorStore
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> vectors = SiglipVectorStore(store)
    >>> vectors.add_texts(["a red circle", "un carré bleu"], ids=["en", "fr"])
    ['en', 'fr']
    >>> [doc.id for doc in vectors.similarity_search("un carré bleu", k=1)]
    ['fr']
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast, get_args

import numpy as np
import numpy.typing as npt
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict, Field

from siglip_retriever.encoding.images import ImageInput, load_image
from siglip_retriever.encoding.scores import sigmoid_probability
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.integrations.langchain import SiglipEmbeddings
from siglip_retriever.retrieval import Retriever, SearchHit
from siglip_retriever.store.entries import KIND, StoredItem, content_id
from siglip_retriever.store.store import DEFAULT_COLLECTION, MultimodalStore

__all__ = ["SearchKind", "SiglipImageRetriever", "SiglipVectorStore", "image_content_blocks"]

SearchKind = Literal["text", "image", "any"]
"""What a search returns: stored texts, images, or both."""

_CHAT_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


class SiglipVectorStore(VectorStore):
    """A LangChain vector store on a :class:`~siglip_retriever.store.MultimodalStore`.

    The store embeds with its own SigLIP encoder; :attr:`embeddings` is a
    :class:`~siglip_retriever.integrations.langchain.SiglipEmbeddings` sharing it. Default ids are
    the store's content hashes, so adding the same text (or image) twice stores it once.

    Scores: ``similarity_search_with_score`` returns the cosine similarity (higher is closer, not
    a distance). ``similarity_search_with_relevance_scores`` returns SigLIP's calibrated
    probability for image-text pairs (text queries over images); texts found by a text query have
    no calibrated probability (the sigmoid was trained on image-text pairs), so their relevance is
    the cosine similarity clipped to [0, 1].

    Search options (keyword arguments of every search, and ``as_retriever(search_kwargs=...)``):
    ``kind`` (``"text"``, ``"image"`` or ``"any"``) and ``filter`` (a Chroma ``where`` filter on
    metadata).

    Args:
        store: the store to read and write.
        kind: what text queries search by default.

    Example:
        >>> import os.path
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.integrations.langchain_store import SiglipVectorStore
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> vectors = SiglipVectorStore(store)
        >>> path = tempfile.mkdtemp() + "/red.png"
        >>> Image.new("RGB", (40, 40), "red").save(path)
        >>> image_ids = vectors.add_images([path])
        >>> retriever = vectors.as_retriever(search_kwargs={"kind": "image", "k": 1})
        >>> retriever.invoke("ein rotes Quadrat")[0].metadata["uri"] == os.path.realpath(path)
        True
    """

    def __init__(self, store: MultimodalStore, *, kind: SearchKind = "text") -> None:
        self.store = store
        self.kind = _check_kind(kind)
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
        return [_document(item) for item in cast(list[StoredItem], self.store.get(list(ids)))]

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
        return [(_document(item), cos) for item, cos in self._query(self._text_vector(query), k, kwargs)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        """Documents closest to a SigLIP vector (from :attr:`embeddings`)."""
        return [_document(item) for item, _ in self._query(np.asarray(embedding), k, kwargs)]

    def similarity_search_by_image(
        self, image: ImageInput, k: int = 4, *, kind: SearchKind = "image", **kwargs: Any
    ) -> list[Document]:
        """Documents closest to an image: similar images by default, ``kind="text"`` for captions."""
        vector = self.store.encoder.encode_images([image])[0]
        return [_document(item) for item, _ in self._query(vector, k, {**kwargs, "kind": kind})]

    async def asimilarity_search_by_image(
        self, image: ImageInput, k: int = 4, *, kind: SearchKind = "image", **kwargs: Any
    ) -> list[Document]:
        """Like :meth:`similarity_search_by_image`, in a worker thread."""
        return await asyncio.to_thread(self.similarity_search_by_image, image, k, kind=kind, **kwargs)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Cosine similarity of an image-text pair -> SigLIP's probability that they match."""
        store = self.store
        return lambda cos: float(
            sigmoid_probability(cos, logit_scale=store.logit_scale, logit_bias=store.logit_bias)
        )

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        probability = self._select_relevance_score_fn()
        calibrated = self.store.score_kind == "sigmoid"
        return [
            (_document(item), probability(cos) if calibrated and item.kind == "image" else max(cos, 0.0))
            for item, cos in self._query(self._text_vector(query), k, kwargs)
        ]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return await asyncio.to_thread(self._similarity_search_with_relevance_scores, query, k, **kwargs)

    def _text_vector(self, query: str) -> npt.NDArray[np.float32]:
        return self.store.encoder.encode_query(query)

    def _query(
        self, vector: npt.ArrayLike, k: int, options: dict[str, Any]
    ) -> list[tuple[StoredItem, float]]:
        options = dict(options)
        kind = _check_kind(options.pop("kind", self.kind))
        where = options.pop("filter", None)
        _no_options(options, "search")
        return self.store.query(vector, k=k, kind=None if kind == "any" else kind, where=where)


class SiglipImageRetriever(BaseRetriever):
    """Images for a query in any language, as LangChain ``Document`` objects.

    Each document's ``page_content`` is the image's caption (metadata ``caption_key``), else its
    uri, else its id; its metadata holds the stored metadata plus ``id``, ``uri``, ``probability``
    (SigLIP's calibrated match probability), ``similarity`` (cosine) and ``rank``, and with
    ``include_image_base64`` also ``image_base64`` and ``image_mime_type`` (images stored from
    files only; PNG, JPEG, GIF and WebP are sent as they are, other formats as PNG).

    ``k``, ``min_probability``, ``where`` and ``include_image_base64`` can be set per call:
    ``retriever.invoke(query, k=2)``, or inside a chain ``retriever.bind(k=2)``. When nothing
    reaches ``min_probability`` the result is empty.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.integrations.langchain_store import SiglipImageRetriever
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> path = tempfile.mkdtemp() + "/red.png"
        >>> Image.new("RGB", (40, 40), "red").save(path)
        >>> _ = store.add_images([path], metadatas=[{"caption": "a red square"}])
        >>> retriever = SiglipImageRetriever(store=store, k=2, include_image_base64=True)
        >>> doc = retriever.invoke("un carré rouge")[0]
        >>> doc.page_content, doc.metadata["image_mime_type"], 0 <= doc.metadata["probability"] <= 1
        ('a red square', 'image/png', True)
        >>> retriever.invoke("un carré rouge", min_probability=1.0)
        []
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: MultimodalStore = Field(description="The multimodal store to search.")
    k: int = Field(default=4, gt=0, description="Number of images to return at most.")
    min_probability: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Leave out images whose SigLIP probability is lower."
    )
    where: dict[str, Any] | None = Field(
        default=None, description="Chroma `where` filter on the images' metadata."
    )
    include_image_base64: bool = Field(
        default=False, description="Put the image (base64) and its mime type in each document's metadata."
    )
    caption_key: str = Field(
        default="caption", description="Metadata key whose value, when present, is the page_content."
    )

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        min_probability: float | None = None,
        where: dict[str, Any] | None = None,
        include_image_base64: bool | None = None,
    ) -> list[Document]:
        hits = Retriever(self.store, k=self.k, min_probability=self.min_probability).text_to_images(
            query, k=k, where=where if where is not None else self.where, min_probability=min_probability
        )
        attach = self.include_image_base64 if include_image_base64 is None else include_image_base64
        return [self._document(hit, attach) for hit in hits]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        **kwargs: Any,
    ) -> list[Document]:
        sync_manager = run_manager.get_sync()
        return await asyncio.to_thread(
            self._get_relevant_documents, query, run_manager=sync_manager, **kwargs
        )

    def _document(self, hit: SearchHit, attach: bool) -> Document:
        metadata = {**hit.metadata, "id": hit.id, "uri": hit.uri, "probability": hit.probability}
        metadata.update(similarity=hit.similarity, rank=hit.rank)
        if attach and hit.uri is not None:
            metadata["image_base64"], metadata["image_mime_type"] = _image_payload(hit.uri)
        content = hit.metadata.get(self.caption_key) or hit.uri or hit.id
        return Document(id=hit.id, page_content=str(content), metadata=metadata)


def image_content_blocks(documents: Iterable[Document]) -> list[dict[str, Any]]:
    """LangChain image content blocks for the documents that carry an image (``include_image_base64``).

    Example:
        >>> from langchain_core.documents import Document
        >>> doc = Document("a red square", metadata={"image_base64": "iVBO", "image_mime_type": "image/png"})
        >>> image_content_blocks([doc])
        [{'type': 'image', 'base64': 'iVBO', 'mime_type': 'image/png'}]
    """
    return [
        {
            "type": "image",
            "base64": doc.metadata["image_base64"],
            "mime_type": doc.metadata["image_mime_type"],
        }
        for doc in documents
        if "image_base64" in doc.metadata
    ]


def _document(item: StoredItem) -> Document:
    if item.kind == "text":  # a text comes back as it was added: its own metadata only
        metadata = {key: value for key, value in item.metadata.items() if key != KIND}
        return Document(id=item.id, page_content=item.text or "", metadata=metadata)
    content = item.metadata.get("caption") or item.uri or item.id
    return Document(id=item.id, page_content=str(content), metadata=dict(item.metadata))


def _image_payload(uri: str) -> tuple[str, str]:
    """The file's bytes as base64 when chat models take its format, else a PNG of it."""
    from PIL import Image

    data = Path(uri).read_bytes()
    with Image.open(io.BytesIO(data)) as picture:
        mime = _CHAT_FORMATS.get(picture.format or "")
    if mime is None:
        buffer = io.BytesIO()
        load_image(data).save(buffer, format="PNG")
        data, mime = buffer.getvalue(), "image/png"
    return base64.b64encode(data).decode("ascii"), mime


def _check_kind(kind: Any) -> SearchKind:
    if kind not in get_args(SearchKind):
        raise ConfigurationError(f"kind must be 'text', 'image' or 'any', not {kind!r}")
    return cast(SearchKind, kind)


def _no_options(options: Mapping[str, Any], method: str) -> None:
    if options:
        raise ConfigurationError(f"{method} got unknown options {sorted(options)}; see SiglipVectorStore")
