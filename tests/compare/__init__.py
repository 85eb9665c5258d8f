"""Tests of siglip_retriever.compare: comparing models on pairs and classes."""
