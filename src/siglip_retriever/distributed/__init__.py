"""Moved to :mod:`siglip_retriever.store.distributed`; this path keeps working for existing code.

Example:
    >>> from siglip_retriever.distributed import index_distributed
    >>> index_distributed.__module__
    'siglip_retriever.store.distributed.indexer'
"""

from __future__ import annotations

from siglip_retriever.store.distributed.indexer import index_distributed

__all__ = ["index_distributed"]
