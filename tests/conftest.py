"""Shared fixtures: tiny checkpoints built locally, a real Chroma server.

Offline mode and the network guard live in the repository's root conftest.py.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


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
