"""Framework adapters over :class:`~siglip_retriever.encoding.encoder.SiglipEncoder`.

Each module imports its framework, so import the one you use:

- :mod:`siglip_retriever.integrations.langchain`: ``SiglipEmbeddings`` (LangChain ``Embeddings``);
- :mod:`siglip_retriever.integrations.llama_index`: ``SiglipEmbedding`` (LlamaIndex
  ``MultiModalEmbedding``);
- :mod:`siglip_retriever.integrations.chroma`: ``SiglipEmbeddingFunction`` (chromadb
  ``EmbeddingFunction``) and ``SiglipImageLoader``.

The classes are also reachable, lazily, as ``siglip_retriever.SiglipEmbeddings`` and so on.
"""
