"""What the examples share: their common options and a folder of pictures to search.

The examples run as scripts (``python examples/NAME.py``), so this module, beside them, is
importable as ``example_setup``; copy it along with an example you take elsewhere.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from siglip_retriever.demo import write_image_folder

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"})


def options(
    description: str | None, *, images: bool = True, k: tuple[int, str] | None = None
) -> argparse.ArgumentParser:
    """An argument parser with ``--model``, ``--device``, with ``images`` ``--images``, and with
    ``k=(default, help)`` ``-k``."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="multilingual", help="preset, hub id or checkpoint directory")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    if images:
        parser.add_argument("--images", type=Path, help="folder of pictures (default: generate demo shapes)")
    if k is not None:
        parser.add_argument("-k", type=int, default=k[0], help=k[1])
    return parser


@contextmanager
def scratch_pictures(folder: Path | None) -> Iterator[tuple[Path, Path]]:
    """``(pictures, scratch)``: ``folder``, or else pictures of coloured shapes the demo model knows,
    drawn into a scratch folder that is removed afterwards."""
    with tempfile.TemporaryDirectory() as scratch:
        if folder is None:
            folder = Path(scratch) / "shapes"
            write_image_folder(folder, per_class=2, seed=20231127)
        yield folder, Path(scratch)


def picture_files(folder: Path) -> list[Path]:
    """The picture files under ``folder``, sorted."""
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)


def document_line(document: Any) -> str:
    """``rank: file name p=probability`` of an image document a retriever returned."""
    metadata = document.metadata
    return f"{metadata['rank']}: {Path(metadata['uri']).name} p={metadata['probability']:.3f}"


def probe_picture(given: Path | None, paths: list[Path]) -> Path:
    """The query picture: ``given``, else the demo folder's first red circle, else the first picture."""
    return given or next((path for path in paths if path.name == "red_circle_000.png"), paths[0])
