"""A LangChain retriever of images for a query in any language: a node for RAG chains.

:class:`SiglipImageRetriever` is a ``BaseRetriever``: a query in any language the model knows ->
image ``Document`` objects carrying the uri, id, SigLIP probability and cosine similarity, what
the picture says (its words, in ``page_content`` too, and a PDF page's ``source``, ``page`` and
``page_label``) and, on request, the image itself as base64 for a multimodal chat model (see
:func:`~siglip_retriever.integrations.langchain.documents.image_content_blocks`). It keeps one
:class:`~siglip_retriever.search.retriever.Retriever` for its lifetime, so a repeated query is
answered from the search layer's result cache.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr, create_model

from siglip_retriever.integrations.langchain.documents import hit_document
from siglip_retriever.search.hits import DEFAULT_CAPTION_KEY
from siglip_retriever.search.options import DEFAULTS, OptionSpec, SearchOptions, option_specs
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store.store import MultimodalStore

__all__ = ["SiglipImageRetriever"]


_ANNOTATIONS: dict[str, Any] = {
    "count": int,
    "probability": float,
    "cosine": float,
    "flag": bool,
    "choice": str,
    "filter": dict[str, Any],
}


def _option_field(spec: OptionSpec) -> tuple[Any, Any]:
    """A search option as a pydantic field: its type, default and meaning (the search layer checks
    the value, so the errors are its own)."""
    annotation = _ANNOTATIONS[spec.type]
    if spec.default is None:
        annotation = annotation | None
    return annotation, Field(default=getattr(DEFAULTS, spec.name), description=spec.help)


if TYPE_CHECKING:
    _Retriever = BaseRetriever
else:  # every search option a field, as LangChain's configurable_fields and serialisation want
    _Retriever = create_model(
        "_Retriever", __base__=BaseRetriever, **{spec.name: _option_field(spec) for spec in option_specs()}
    )


class SiglipImageRetriever(_Retriever):
    """Images for a query in any language, as LangChain ``Document`` objects.

    Each document's ``page_content`` is the image's caption (metadata ``caption_key``), else its
    uri, else its id, then, after a blank line, the words the picture says (read by OCR, or a PDF
    page's text layer) when the store holds words, so that a language model reads them; its
    metadata holds the stored metadata plus ``id``, ``uri``, ``kind``, ``rank``, ``similarity``
    (cosine), ``probability`` (SigLIP's calibrated probability that the picture shows or says
    the query), ``matched`` (``"shows"``, ``"says"`` or ``"both"``), ``says`` and ``words`` (the
    query's words found in them), as every front-end's results do, and ``source`` (the file, as
    LangChain's loaders name it). A PDF's page or figure carries ``page`` (from 1, where
    LangChain's PDF loaders count from 0) and ``page_label`` (the label the PDF prints). With
    ``include_image_base64`` a document also has ``image_base64`` and ``image_mime_type``
    (images stored from files only; PNG, JPEG, GIF and WebP are sent as they are, other formats
    as PNG, a PDF's page rendered or its figure as PNG).

    Search options: every field of :class:`~siglip_retriever.search.options.SearchOptions`
    (``k``, ``kind``, ``where``, ``min_probability``, ``min_similarity``, ``diverse``,
    ``fetch_k``, ``lambda_mult``, ``collapse_duplicates``, ``mode``) is a field of this retriever (made from
    the options' specs; :attr:`options` gathers them), so it can be set by the constructor, by
    ``configurable_fields`` and per call: ``retriever.invoke(query, k=2)``, or inside a chain
    ``retriever.bind(k=2)``; ``include_image_base64`` can be set per call too.
    When nothing reaches ``min_probability`` the result is empty. ``diverse=True`` picks the
    images by maximal marginal relevance among the ``fetch_k`` nearest; ``collapse_duplicates=True``
    returns one image per group of duplicate pictures, the others' ids in its metadata under
    ``duplicates``.

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
        >>> retriever.k, retriever.options.k
        (2, 2)
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
    include_image_base64: bool = Field(
        default=False, description="Put the image (base64) and its mime type in each document's metadata."
    )
    caption_key: str = Field(
        default=DEFAULT_CAPTION_KEY,
        description="Metadata key whose value, when present, is the page_content.",
    )

    _search: Retriever = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        # the search options are checked by the search layer first, so that a bad one raises its
        # ConfigurationError (not pydantic's ValidationError)
        DEFAULTS.merged(**{spec.name: data[spec.name] for spec in option_specs() if spec.name in data})
        super().__init__(**data)

    def model_post_init(self, context: Any, /) -> None:
        self._search = self._retriever()

    @property
    def options(self) -> SearchOptions:
        """The default search options: this retriever's option fields."""
        return DEFAULTS.merged(**{spec.name: getattr(self, spec.name) for spec in option_specs()})

    def _retriever(self) -> Retriever:
        return Retriever(self.store, **self.options.as_kwargs())

    @property
    def search(self) -> Retriever:
        """The search this retriever goes through (one for its lifetime: its cache serves it)."""
        if self._search.store is not self.store or self._search.options != self.options:
            self._search = self._retriever()  # the store or the options were replaced
        return self._search

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        include_image_base64: bool | None = None,
        **options: Any,
    ) -> list[Document]:
        hits = self.search.search_text(query, **options)
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
