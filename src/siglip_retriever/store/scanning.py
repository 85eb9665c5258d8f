"""Finding image files: the folder scan, the extensions indexed, and how a path is written down.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from siglip_retriever.store.scanning import parse_extensions, scan_folder
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.JPG").write_bytes(b"x"); _ = (folder / "notes.txt").write_text("x")
    >>> files, failed = scan_folder(folder)
    >>> [f.name for f in files], failed
    (['a.JPG'], [])
    >>> sorted(parse_extensions("png, .JPG"))
    ['.jpg', '.png']
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.report import FailedFile

__all__ = ["IMAGE_EXTENSIONS", "file_uri", "is_uri", "parse_extensions", "printable", "scan_folder"]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
"""File extensions indexed by default (compared case-insensitively)."""


def scan_folder(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = True,
    extensions: Iterable[str] | None = None,
) -> tuple[list[Path], list[FailedFile]]:
    """Image files under ``folder`` (sorted), and entries that could not be read while scanning.

    Broken symbolic links and unreadable sub-folders are reported, not raised.

    Raises:
        ConfigurationError: ``folder`` is not a folder, or ``extensions`` is empty.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigurationError(f"{root} is not a folder")
    wanted = parse_extensions(extensions)
    files: list[Path] = []
    failed: list[FailedFile] = []

    def on_error(error: OSError) -> None:
        where = printable(str(error.filename or root))
        failed.append(FailedFile(where, f"cannot read folder: {error.strerror}"))

    walker: Iterator[tuple[str, list[str], list[str]]]
    if recursive:
        walker = os.walk(root, onerror=on_error)
    else:
        walker = iter([(str(root), [], [e.name for e in os.scandir(root) if not e.is_dir()])])
    for directory, subdirs, names in walker:
        subdirs.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if path.suffix.lower() not in wanted:
                continue
            if path.is_symlink() and not path.exists():
                failed.append(FailedFile(printable(str(path)), "broken symbolic link"))
                continue
            if path.is_file():
                files.append(path)
    return files, failed


def is_uri(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` is a URI with a scheme (``s3://bucket/photos``, ``file:///data``), rather
    than a local path."""
    return isinstance(text, str) and bool(_URI.match(text))


def file_uri(path: str | os.PathLike[str]) -> str:
    """The absolute path of a file, as the store and the reports keep it.

    A name that is not valid UTF-8 (Python holds its odd bytes as lone surrogates, which neither
    chromadb nor JSON accept) has those bytes written as ``\\xNN``: ``caf\\xe9.png``.
    """
    return printable(str(Path(path).resolve()))


def printable(text: str) -> str:
    """``text`` with the undecodable bytes of a file name written as ``\\xNN``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


def parse_extensions(extensions: Iterable[str] | str | None) -> frozenset[str]:
    """The extensions to index: ``None`` -> :data:`IMAGE_EXTENSIONS`; ``"png, .JPG"`` -> ``{".png", ".jpg"}``.

    Raises:
        ConfigurationError: no extension is left.
    """
    if extensions is None:
        return IMAGE_EXTENSIONS
    if isinstance(extensions, str):
        extensions = extensions.split(",")
    result = frozenset("." + e.strip().lower().lstrip(".") for e in extensions if e.strip())
    if not result:
        raise ConfigurationError("extensions is empty; give at least one, such as ['jpg', 'png']")
    return result
