"""LangChain on SigLIP: embeddings, a vector store and an image retriever.

- :class:`SiglipEmbeddings` (:mod:`.embeddings`): a LangChain ``Embeddings`` for texts and images;
- :class:`SiglipVectorStore` (:mod:`.vectorstore`): a ``VectorStore`` on a multimodal store;
- :class:`SiglipImageRetriever` (:mod:`.retriever`): a ``BaseRetriever`` of images for a query in
  any language, scored with SigLIP's probability;
- :func:`image_content_blocks` (:mod:`.documents`): the retrieved pictures as content blocks of a
  multimodal chat message.

Example:
    >>> from siglip_retriever.integrations.langchain import MODEL_ENV
    >>> MODEL_ENV
    'SIGLIP_RETRIEVER_MODEL'
"""

from __future__ import annotations

from siglip_retriever.integrations.langchain.documents import image_content_blocks
from siglip_retriever.integrations.langchain.embeddings import MODEL_ENV, SiglipEmbeddings
from siglip_retriever.integrations.langchain.retriever import SiglipImageRetriever
from siglip_retriever.integrations.langchain.vectorstore import SiglipVectorStore

__all__ = [
    "MODEL_ENV",
    "SiglipEmbeddings",
    "SiglipImageRetriever",
    "SiglipVectorStore",
    "image_content_blocks",
]
