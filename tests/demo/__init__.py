"""Tests of siglip_retriever.demo: the demo's data, its bundled checkpoints, and what they answer."""
