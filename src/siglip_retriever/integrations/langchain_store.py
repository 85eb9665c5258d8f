"""Moved to :mod:`siglip_retriever.integrations.langchain`; this path keeps working for existing code.

Example:
    >>> from siglip_retriever.integrations.langchain_store import SiglipVectorStore, image_content_blocks
    >>> SiglipVectorStore.__module__
    'siglip_retriever.integrations.langchain.vectorstore'
"""

from __future__ import annotations

from siglip_retriever.integrations.langchain import (
    SearchKind,
    SiglipImageRetriever,
    SiglipVectorStore,
    image_content_blocks,
)

__all__ = ["SearchKind", "SiglipImageRetriever", "SiglipVectorStore", "image_content_blocks"]
