"""Tests of siglip_retriever.cli: the ``siglip-retriever`` command, one file per command group."""
