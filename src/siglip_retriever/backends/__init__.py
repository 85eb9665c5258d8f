"""Moved to :mod:`siglip_retriever.encoding.backends`; this path keeps working for existing code.

Example:
    >>> from siglip_retriever.backends import ImageTextEncoder, load_encoder
    >>> callable(load_encoder)
    True
"""

from __future__ import annotations

from siglip_retriever.encoding.backends import (
    OPEN_CLIP_PREFIX,
    ImageTextEncoder,
    is_open_clip,
    load_encoder,
)

__all__ = ["OPEN_CLIP_PREFIX", "ImageTextEncoder", "is_open_clip", "load_encoder"]
