"""Moved to :mod:`siglip_retriever.encoding.remote`; this path keeps working for existing code.

Example:
    >>> from siglip_retriever.remote import UrlPolicy
    >>> UrlPolicy().max_redirects >= 0
    True
"""

from __future__ import annotations

from siglip_retriever.encoding.remote import (
    DEFAULT_MAX_BYTES,
    UrlPolicy,
    looks_like_url,
    redact,
    resolve_url_policy,
)

__all__ = ["DEFAULT_MAX_BYTES", "UrlPolicy", "looks_like_url", "redact", "resolve_url_policy"]
