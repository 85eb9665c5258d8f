"""Shared fixtures: offline mode, a network guard, tiny checkpoints built locally."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Offline before anything imports huggingface_hub or chromadb.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class NetworkAccessError(RuntimeError):
    """A test tried to reach a host other than this machine."""


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise NetworkAccessError(f"test tried to connect to {address!r}; tests must stay offline")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise NetworkAccessError(f"test tried to connect to {address!r}; tests must stay offline")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_local((host,)):
        raise NetworkAccessError(f"test tried to resolve {host!r}; tests must stay offline")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo


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
def tiny_encoder(tiny_siglip_dir: Path) -> Iterator[Any]:
    """A :class:`SiglipEncoder` on the tiny SigLIP checkpoint, shared by the session."""
    from siglip_retriever.encoder import SiglipEncoder

    yield SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=4)
