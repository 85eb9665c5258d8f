"""Tests of siglip_retriever.integrations: the LangChain, LlamaIndex and Chroma adapters."""
