"""Fixtures of the command-line tests: a folder of pictures, and a store indexed from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import colour_pictures, run_cli


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """``tmp_path/photos``: four plain pictures (red, green, blue, yellow) and a text named broken.jpg."""
    folder = tmp_path / "photos"
    colour_pictures(folder, ("red", "green", "blue", "yellow"))
    (folder / "broken.jpg").write_text("not a picture")
    return folder


@pytest.fixture
def indexed(tiny_siglip_dir: Path, tmp_path: Path, photos: Path) -> tuple[list[str], Path]:
    """Global options for a store holding the tiny model's index of 4 pictures and a broken file."""
    options = ["--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db"), "--device", "cpu"]
    result = run_cli(*options, "index", str(photos))
    assert result.exit_code == 0, result.output
    return options, photos
