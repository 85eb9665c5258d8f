"""Fixtures of the store tests: the fork server that starts the indexing child processes, and a
count of the images the encoder embeds."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import ForkServerContext
from typing import Any

import pytest

from siglip_retriever import SiglipEncoder
from siglip_retriever.store.reading import WordReader
from tests.store import index_worker


@pytest.fixture(scope="module")
def forkserver() -> ForkServerContext:
    """Child processes forked from a server that imported torch, transformers and chromadb once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([index_worker.__name__])
    return context


@pytest.fixture
def embedded(tiny_encoder: SiglipEncoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the images that go through the (real) encoder; ``sum(embedded)`` is the total.

    The OCR setting ``auto`` checks the model once per encoder and process by embedding two probe
    pictures; that check is made here first, so the counts are the same whichever test runs first.
    """
    WordReader("auto", tiny_encoder).model_tells_text()
    counts: list[int] = []
    real = tiny_encoder.encode_images

    def encode_images(images: Any, **kwargs: Any) -> Any:
        items = list(images)
        counts.append(len(items))
        return real(items, **kwargs)

    monkeypatch.setattr(tiny_encoder, "encode_images", encode_images)
    return counts
