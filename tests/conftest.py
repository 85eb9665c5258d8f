"""Shared fixtures: tiny checkpoints built locally, a real Chroma server.

Offline mode and the network guard live in the repository's root conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ChromaServer


@pytest.fixture(scope="session")
def tiny_siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny SigLIP checkpoint with a multilingual SentencePiece tokenizer."""
    from siglip_retriever.tiny import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("tiny-siglip"), family="siglip")


@pytest.fixture(scope="session")
def tiny_siglip2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny SigLIP 2 checkpoint (variable resolution, fast tokenizer)."""
    from siglip_retriever.tiny import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("tiny-siglip2"), family="siglip2")


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny CLIP checkpoint (softmax scores) with a byte-level BPE tokenizer."""
    from siglip_retriever.tiny import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("tiny-clip"), family="clip")


@pytest.fixture(scope="session")
def tiny_encoder(tiny_siglip_dir: Path) -> Any:
    """A :class:`SiglipEncoder` on the tiny SigLIP checkpoint, shared by the session."""
    from siglip_retriever.encoding.encoder import SiglipEncoder

    return SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=4)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Chroma server (``chroma run``) on 127.0.0.1, stopped after the session."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    try:
        yield "127.0.0.1", server.port
    finally:
        server.stop()
