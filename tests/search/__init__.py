"""Tests of siglip_retriever.search: the retriever, its hits and cache, zero-shot classification."""
