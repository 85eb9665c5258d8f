"""chromadb with SigLIP: the embedding function and an image loader for plain chromadb users.

- :class:`SiglipEmbeddingFunction` (from :mod:`siglip_retriever.store.embedding_function`, the one
  every store's collection uses): documents and images in one collection, batched, in order,
  registered with chromadb as ``"siglip_retriever"`` so a persisted collection reopens with it.
- :class:`SiglipImageLoader`: a drop-in for chromadb's ``ImageLoader`` that reads ``uris`` through
  :func:`siglip_retriever.encoding.images.load_image` (EXIF orientation, any mode, data URIs, a
  decompression-bomb guard), so an unreadable file raises
  :class:`~siglip_retriever.errors.ImageLoadError` naming it.

Never create a collection without an embedding function: chromadb then picks its default one,
which downloads a model on first use.

Example:
    >>> from siglip_retriever.integrations.chroma import SiglipEmbeddingFunction, SiglipImageLoader
    >>> SiglipEmbeddingFunction.name(), SiglipImageLoader().max_pixels > 0
    ('siglip_retriever', True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from chromadb.api.types import URI, DataLoader, Image

from siglip_retriever.encoding.images import DEFAULT_MAX_PIXELS, load_image
from siglip_retriever.store.embedding_function import SiglipEmbeddingFunction

__all__ = ["SiglipEmbeddingFunction", "SiglipImageLoader"]


class SiglipImageLoader(DataLoader[list[Image | None]]):
    """A chromadb data loader that reads ``uris`` with :func:`siglip_retriever.encoding.images.load_image`.

    A drop-in for chromadb's ``ImageLoader``: it returns RGB ``uint8`` arrays, applies EXIF
    orientation, accepts paths and data URIs, and raises
    :class:`~siglip_retriever.errors.ImageLoadError` naming any input it cannot read.

    Args:
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever.integrations.chroma import SiglipImageLoader
        >>> path = tempfile.mkdtemp() + "/red.png"
        >>> Image.new("RGB", (4, 3), "red").save(path)
        >>> SiglipImageLoader()([path])[0].shape
        (3, 4, 3)
    """

    def __init__(self, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
        self.max_pixels = max_pixels

    def __call__(self, uris: Sequence[URI | None]) -> list[Image | None]:
        return [
            None if uri is None else np.asarray(load_image(uri, max_pixels=self.max_pixels)) for uri in uris
        ]
