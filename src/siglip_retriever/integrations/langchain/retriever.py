"""A LangChain retriever of images for a query in any language: a node for RAG chains.

:class:`SiglipImageRetriever` is a ``BaseRetriever``: a query in any language the model knows ->
image ``Document`` objects carrying the uri, id, SigLIP probability and cosine similarity and, on
request, the image itself as base64 for a multimodal chat model (see
:func:`~siglip_retriever.integrations.langchain.documents.image_content_blocks`). It keeps one
:class:`~siglip_retriever.search.retriever.Retriever` for its lifetime, so a repeated query is
answered from the search layer's result cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from siglip_retriever.integrations.langchain.documents import hit_document
from siglip_retriever.search.diversity import DEFAULT_LAMBDA_MULT, Diversity, DiversityOptions
from siglip_retriever.search.hits import DEFAULT_CAPTION_KEY
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store.store import MultimodalStore

__all__ = ["SiglipImageRetriever"]


class SiglipImageRetriever(BaseRetriever):
    """Images for a query in any language, as LangChain ``Document`` objects.

    Each document's ``page_content`` is the image's caption (metadata ``caption_key``), else its
    uri, else its id; its metadata holds the stored metadata plus ``id``, ``uri``, ``kind``,
    ``rank``, ``similarity`` (cosine) and ``probability`` (SigLIP's calibrated match
    probability), as every front-end's results do, and with ``include_image_base64`` also
    ``image_base64`` and ``image_mime_type`` (images stored from files only; PNG, JPEG, GIF and
    WebP are sent as they are, other formats as PNG).

    ``k``, ``min_probability``, ``where``, ``include_image_base64`` and the diversity options can
    be set per call: ``retriever.invoke(query, k=2)``, or inside a chain ``retriever.bind(k=2)``.
    When nothing reaches ``min_probability`` the result is empty. Diverse results
    (:mod:`siglip_retriever.search.diversity`): ``diverse=True`` picks the images by maximal
    marginal relevance among the ``fetch_k`` nearest (``lambda_mult``: 1 the plain ranking, 0 the
    most diverse); ``collapse_duplicates=True`` returns one image per group of duplicate pictures,
    the others' ids in its metadata under ``duplicates``.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.integrations.langchain import SiglipImageRetriever
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
        >>> len(retriever.invoke("un carré rouge", diverse=True, lambda_mult=0.25))
        1
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
        default=DEFAULT_CAPTION_KEY,
        description="Metadata key whose value, when present, is the page_content.",
    )
    diverse: bool = Field(
        default=False, description="Pick the images by maximal marginal relevance (MMR) among fetch_k."
    )
    fetch_k: int | None = Field(
        default=None, gt=0, description="Candidates MMR picks from (default: max(20, k)); at least k."
    )
    lambda_mult: float = Field(
        default=DEFAULT_LAMBDA_MULT,
        ge=0.0,
        le=1.0,
        description="MMR's weight of relevance against diversity: 1 the plain ranking, 0 the most diverse.",
    )
    collapse_duplicates: bool = Field(
        default=False,
        description="One image per group of duplicate pictures (the others' ids: metadata 'duplicates').",
    )

    _search: Retriever = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._search = Retriever(self.store)

    @property
    def search(self) -> Retriever:
        """The search this retriever goes through (one for its lifetime: its cache serves it)."""
        if self._search.store is not self.store:  # the store was replaced after construction
            self._search = Retriever(self.store)
        return self._search

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        min_probability: float | None = None,
        where: dict[str, Any] | None = None,
        include_image_base64: bool | None = None,
        diverse: bool | None = None,
        fetch_k: int | None = None,
        lambda_mult: float | None = None,
        collapse_duplicates: bool | None = None,
    ) -> list[Document]:
        defaults = Diversity(self.diverse, self.fetch_k, self.lambda_mult, self.collapse_duplicates)
        diversity: DiversityOptions = {
            "diverse": diverse,
            "fetch_k": fetch_k,
            "lambda_mult": lambda_mult,
            "collapse_duplicates": collapse_duplicates,
        }
        hits = self.search.text_to_images(
            query,
            k=k if k is not None else self.k,
            where=where if where is not None else self.where,
            min_probability=min_probability if min_probability is not None else self.min_probability,
            **defaults.merged(diversity).options(),
        )
        attach = self.include_image_base64 if include_image_base64 is None else include_image_base64
        return [hit_document(hit, caption_key=self.caption_key, attach_image=attach) for hit in hits]

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
