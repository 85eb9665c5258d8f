"""Test-wide settings for tests/ and the docstring examples in src/: offline, no telemetry.

pytest-socket (``--allow-hosts`` in pyproject's addopts) blocks socket connections to any host but
this machine; name resolution of other hosts is blocked here too.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

import pytest

# Offline before anything imports huggingface_hub or chromadb.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
