"""Fixtures of the framework adapters' tests: files named like pictures that are not pictures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def broken_jpeg(tmp_path: Path) -> str:
    """``broken.jpg``: a JPEG's first bytes, then text."""
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff this is not a JPEG")
    return str(path)


@pytest.fixture
def broken_png(tmp_path: Path) -> str:
    """``broken.png``: a PNG's signature, then text."""
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return str(path)
