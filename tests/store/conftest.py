"""Fixtures of the store tests: the fork server that starts the indexing child processes."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import ForkServerContext

import pytest

from tests.store import index_worker


@pytest.fixture(scope="module")
def forkserver() -> ForkServerContext:
    """Child processes forked from a server that imported torch, transformers and chromadb once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([index_worker.__name__])
    return context
