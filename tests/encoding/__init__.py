"""Tests of siglip_retriever.encoding: checkpoints, images, texts, scores and the encoder."""
