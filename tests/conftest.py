"""Shared fixtures: offline mode, a network guard, tiny checkpoints built locally."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest

# Offline before anything imports huggingface_hub or chromadb.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# pytest-socket (``--allow-hosts`` in pyproject's addopts) blocks socket connections to any host
# but this machine; name resolution of other hosts is blocked here too.
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = {"localhost", "", None}


def _is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_local(host):
        raise RuntimeError(f"a test tried to resolve {host!r}; tests must stay offline")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
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
def tiny_encoder(tiny_siglip_dir: Path) -> Any:
    """A :class:`SiglipEncoder` on the tiny SigLIP checkpoint, shared by the session."""
    from siglip_retriever.encoder import SiglipEncoder

    return SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=4)
