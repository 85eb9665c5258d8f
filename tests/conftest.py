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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Chroma server (``chroma run``) on 127.0.0.1, stopped after the session."""
    import shutil
    import subprocess
    import sys
    import time
    import urllib.request

    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("wb")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    deadline = time.monotonic() + 60
    url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"chroma server did not start: {(data / 'server.log').read_text()}"
                ) from None
            time.sleep(0.2)
    try:
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
