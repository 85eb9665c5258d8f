"""Search hits as LangChain ``Document`` objects, and images for multimodal chat models.

Every LangChain front-end of this package (the vector store, the image retriever) makes its
documents here, from the search layer's :class:`~siglip_retriever.search.hits.SearchHit`:

- an image's ``page_content`` is its caption (metadata ``caption_key``), else its path, else its
  id, then, after a blank line, the words the picture says (read by OCR, or a PDF page's text
  layer) when the search matched words (:meth:`~siglip_retriever.search.hits.SearchHit.content`),
  so that a language model reads them;
- its metadata is the stored metadata plus ``id``, ``uri``, ``kind``, ``rank``, ``similarity``,
  ``probability``, ``matched``, ``says`` and ``words``, and ``source``: the file, as LangChain's
  loaders name it (the caller's own ``source`` is kept). A PDF's page or figure also carries
  ``page`` and ``page_label``, as LangChain's PDF loaders write them, with one difference:
  ``page`` counts from 1 here, the number a reader sees and a ``#page=N`` link takes, where
  ``PyPDFLoader``, ``PyMuPDFLoader`` and ``PyPDFium2Loader`` count from 0 (``page_label`` is the
  label the PDF prints, the same in both); and ``part`` (``"page"`` or ``"figure"``) and
  ``figure``;
- on request the picture as base64 (``image_base64``, ``image_mime_type``) for a multimodal chat
  model (:func:`image_content_blocks`): a PDF entry's page rendered, or its figure, as PNG;
- a text comes back as it was added: its text and its own metadata (LangChain's vector-store
  convention; its scores come beside it, in ``similarity_search_with_score``).

Example:
    >>> from siglip_retriever.integrations.langchain.documents import hit_document
    >>> from siglip_retriever.search.hits import SearchHit
    >>> hit = SearchHit("img-1", "image", None, None, {"caption": "a red square"}, 0.1, 0.8, 1)
    >>> document = hit_document(hit)
    >>> document.page_content, document.metadata["probability"], document.metadata["rank"]
    ('a red square', 0.8, 1)
    >>> meta = {"uri": "/docs/report.pdf", "source": "/docs/report.pdf", "page": 3, "page_label": "2"}
    >>> page = SearchHit("img-2", "image", "/docs/report.pdf", None, meta, 0.1, 0.9, 1, "says",
    ...                  "Quarterly revenue 2026", ("revenue",))
    >>> document = hit_document(page)
    >>> print(document.page_content)
    /docs/report.pdf
    <BLANKLINE>
    Quarterly revenue 2026
    >>> [document.metadata[key] for key in ("source", "page", "page_label", "matched", "words")]
    ['/docs/report.pdf', 3, '2', 'says', ['revenue']]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.documents import Document

from siglip_retriever.integrations.common import picture_payload
from siglip_retriever.search.hits import DEFAULT_CAPTION_KEY, SearchHit
from siglip_retriever.store.entries import StoredItem
from siglip_retriever.store.metadata import KIND, SOURCE

__all__ = ["hit_document", "image_content_blocks", "item_document"]


def hit_document(
    hit: SearchHit, *, caption_key: str = DEFAULT_CAPTION_KEY, attach_image: bool = False
) -> Document:
    """The document of a search hit; with ``attach_image``, images from files carry their picture."""
    if hit.kind == "text":
        return _text_document(hit.id, hit.text, hit.metadata)
    metadata = hit.result_metadata()
    if hit.uri is not None:
        metadata.setdefault(SOURCE, hit.uri)
        if attach_image:
            metadata["image_base64"], metadata["image_mime_type"] = picture_payload(hit.metadata)
    return Document(id=hit.id, page_content=hit.content(caption_key), metadata=metadata)


def item_document(item: StoredItem, *, caption_key: str = DEFAULT_CAPTION_KEY) -> Document:
    """The document of a stored entry (no search: no rank or scores)."""
    if item.kind == "text":
        return _text_document(item.id, item.text, item.metadata)
    content = item.metadata.get(caption_key) or item.uri or item.id
    metadata = item.result_metadata()
    if item.uri is not None:
        metadata.setdefault(SOURCE, item.uri)
    return Document(id=item.id, page_content=str(content), metadata=metadata)


def _text_document(entry_id: str, text: str | None, metadata: dict[str, Any]) -> Document:
    """A text as it was added: its own metadata only."""
    own = {key: value for key, value in metadata.items() if key != KIND}
    return Document(id=entry_id, page_content=text or "", metadata=own)


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
