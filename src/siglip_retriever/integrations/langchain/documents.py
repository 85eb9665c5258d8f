"""Search hits as LangChain ``Document`` objects, and images for multimodal chat models.

Every LangChain front-end of this package (the vector store, the image retriever) makes its
documents here, from the search layer's :class:`~siglip_retriever.search.hits.SearchHit`:

- an image's ``page_content`` is its caption (metadata ``caption_key``), else its path, else its
  id; its metadata is the stored metadata plus ``id``, ``uri``, ``kind``, ``rank``,
  ``similarity`` and ``probability``, and on request the picture as base64 (``image_base64``,
  ``image_mime_type``) for a multimodal chat model (:func:`image_content_blocks`);
- a text comes back as it was added: its text and its own metadata (LangChain's vector-store
  convention; its scores come beside it, in ``similarity_search_with_score``).

Example:
    >>> from siglip_retriever.integrations.langchain.documents import hit_document
    >>> from siglip_retriever.search.hits import SearchHit
    >>> hit = SearchHit("img-1", "image", None, None, {"caption": "a red square"}, 0.1, 0.8, 1)
    >>> document = hit_document(hit)
    >>> document.page_content, document.metadata["probability"], document.metadata["rank"]
    ('a red square', 0.8, 1)
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from siglip_retriever.encoding.images import load_image
from siglip_retriever.search.hits import DEFAULT_CAPTION_KEY, SearchHit
from siglip_retriever.store.entries import StoredItem
from siglip_retriever.store.metadata import KIND

__all__ = ["hit_document", "image_content_blocks", "image_payload", "item_document"]

_CHAT_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def hit_document(
    hit: SearchHit, *, caption_key: str = DEFAULT_CAPTION_KEY, attach_image: bool = False
) -> Document:
    """The document of a search hit; with ``attach_image``, images from files carry their picture."""
    if hit.kind == "text":
        return _text_document(hit.id, hit.text, hit.metadata)
    metadata = hit.result_metadata()
    if attach_image and hit.uri is not None:
        metadata["image_base64"], metadata["image_mime_type"] = image_payload(hit.uri)
    return Document(id=hit.id, page_content=hit.content(caption_key), metadata=metadata)


def item_document(item: StoredItem, *, caption_key: str = DEFAULT_CAPTION_KEY) -> Document:
    """The document of a stored entry (no search: no rank or scores)."""
    if item.kind == "text":
        return _text_document(item.id, item.text, item.metadata)
    content = item.metadata.get(caption_key) or item.uri or item.id
    return Document(id=item.id, page_content=str(content), metadata=item.result_metadata())


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


def image_payload(uri: str) -> tuple[str, str]:
    """A picture file as ``(base64, mime type)``: as it is when chat models take its format (PNG,
    JPEG, GIF, WebP), else converted to PNG."""
    from PIL import Image

    data = Path(uri).read_bytes()
    with Image.open(io.BytesIO(data)) as picture:
        mime = _CHAT_FORMATS.get(picture.format or "")
    if mime is None:
        buffer = io.BytesIO()
        load_image(data).save(buffer, format="PNG")
        data, mime = buffer.getvalue(), "image/png"
    return base64.b64encode(data).decode("ascii"), mime
