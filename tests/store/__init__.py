"""Tests of siglip_retriever.store: the store on chromadb, indexing (local, Ray), locking, retries."""
