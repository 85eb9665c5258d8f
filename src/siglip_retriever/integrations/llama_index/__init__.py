"""LlamaIndex on SigLIP: a multimodal embedding and an image retriever.

- :class:`SiglipEmbedding` (:mod:`.embedding`): a ``MultiModalEmbedding`` that embeds texts and
  images in batches, for ``MultiModalVectorStoreIndex``;
- :class:`SiglipImageNodeRetriever` (:mod:`.retriever`): a ``BaseRetriever`` and
  ``BaseImageRetriever`` of ``ImageNode`` results on a multimodal store, scored with SigLIP's
  probability (text queries) or cosine similarity (image queries).

Example:
    >>> from siglip_retriever.integrations.llama_index import SiglipEmbedding
    >>> SiglipEmbedding.class_name()
    'SiglipEmbedding'
"""

from __future__ import annotations

from siglip_retriever.integrations.llama_index.embedding import SiglipEmbedding
from siglip_retriever.integrations.llama_index.retriever import SiglipImageNodeRetriever

__all__ = ["SiglipEmbedding", "SiglipImageNodeRetriever"]
