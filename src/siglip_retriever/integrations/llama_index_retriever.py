"""Moved to :mod:`siglip_retriever.integrations.llama_index`; this path keeps working for existing code.

Example:
    >>> from siglip_retriever.integrations.llama_index_retriever import SiglipImageNodeRetriever
    >>> SiglipImageNodeRetriever.__module__
    'siglip_retriever.integrations.llama_index.retriever'
"""

from __future__ import annotations

from siglip_retriever.integrations.llama_index.retriever import SiglipImageNodeRetriever

__all__ = ["SiglipImageNodeRetriever"]
