"""Finding image, camera RAW, PDF and video files: the folder scan, the extensions indexed, and how a
path is written down.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from siglip_retriever.store.scanning import parse_extensions, scan_folder
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.JPG").write_bytes(b"x"); _ = (folder / "a.xmp").write_text("x")
    >>> scan = scan_folder(folder)
    >>> [f.name for f in scan.files], scan.failed, [i.reason for i in scan.ignored]
    (['a.JPG'], [], ['an XMP sidecar (photo metadata), not a picture'])
    >>> sorted(parse_extensions("png, .JPG"))
    ['.jpg', '.png']
"""

from __future__ import annotations

import importlib.util
import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from siglip_retriever.encoding.raw import RAW_EXTENSIONS
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.report import FailedFile, IgnoredFile

__all__ = [
    "IMAGE_EXTENSIONS",
    "PDF_EXTENSIONS",
    "RAW_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "FolderScan",
    "file_uri",
    "ignored_reason",
    "indexed_extensions",
    "is_uri",
    "parse_extensions",
    "printable",
    "scan_folder",
]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")

IMAGE_EXTENSIONS = frozenset(
    {
        # JPEG, PNG, WebP, AVIF, GIF, BMP, TIFF (first page), Netpbm: Pillow itself
        *(".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".avif", ".gif", ".bmp", ".tif", ".tiff"),
        *(".ppm", ".pgm", ".pbm"),
        # HEIC/HEIF, the default format of iPhone photos: through pillow-heif
        *(".heic", ".heif", ".hif"),
    }
)
"""Picture file extensions indexed by default (compared case-insensitively)."""

PDF_EXTENSIONS = frozenset({".pdf"})
"""Document file extensions indexed by default (page by page) when the ``pdf`` extra is installed."""

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp", ".mts", ".m2ts", ".wmv", ".mpg", ".mpeg"}
)
"""Video file extensions indexed by default (moment by moment) when the ``video`` extra is installed."""

_NO_VIDEO = "a video: install the video extra (pip install 'siglip-retriever[video]') to index its moments"
_NO_RAW = "a camera RAW file: install the raw extra (pip install 'siglip-retriever[raw]') to index it"
_KINDS = {
    **dict.fromkeys(
        (".svg", ".svgz"), "an SVG (vector) drawing; only raster images are read: convert it to PNG first"
    ),
    ".raw": "a camera RAW file of some older cameras, or raw data: add .raw to the extensions to read it "
    "as a camera RAW (with the raw extra: pip install 'siglip-retriever[raw]')",
    ".xmp": "an XMP sidecar (photo metadata), not a picture",
    ".aae": "an Apple Photos edit sidecar, not a picture",
    ".json": "a JSON file (metadata), not a picture",
}
_NO_PDF = "a PDF document: install the pdf extra (pip install 'siglip-retriever[pdf]') to index its pages"


@dataclass
class FolderScan:
    """What :func:`scan_folder` found: the files to index, and the rest, each with its reason."""

    files: list[Path] = field(default_factory=list)
    """Files with an indexed extension, in walking order (sorted within each folder)."""
    failed: list[FailedFile] = field(default_factory=list)
    """Entries that could not be read while scanning (broken links, unreadable sub-folders)."""
    ignored: list[IgnoredFile] = field(default_factory=list)
    """Files left out for their extension, each with what it is."""


def indexed_extensions() -> frozenset[str]:
    """The extensions indexed by default: :data:`IMAGE_EXTENSIONS`, :data:`RAW_EXTENSIONS` when
    rawpy (the ``raw`` extra) is installed, :data:`PDF_EXTENSIONS` when pypdfium2 (the ``pdf``
    extra) is, and :data:`VIDEO_EXTENSIONS` when PyAV (the ``video`` extra) is."""
    extensions = IMAGE_EXTENSIONS
    if _installed("rawpy"):
        extensions |= RAW_EXTENSIONS
    if _installed("pypdfium2"):
        extensions |= PDF_EXTENSIONS
    if _installed("av"):
        extensions |= VIDEO_EXTENSIONS
    return extensions


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # a module set to None in sys.modules (tests that hide an extra)
        return False


def ignored_reason(name: str, wanted: Iterable[str] = IMAGE_EXTENSIONS) -> str:
    """Why a file of this name is not indexed when ``wanted`` are the indexed extensions.

    Example:
        >>> ignored_reason("IMG_0042.xmp")
        'an XMP sidecar (photo metadata), not a picture'
        >>> ignored_reason("scan.jpg", wanted={".png"})
        'extension .jpg is not among those asked for (.png)'
    """
    extension = posixpath.splitext(name)[1].lower()
    if extension in _KINDS:
        return _KINDS[extension]
    if not extension:
        return "no file extension; give the file itself to index it"
    indexed = indexed_extensions()
    if extension in RAW_EXTENSIONS and extension not in indexed:
        return _NO_RAW
    if extension in PDF_EXTENSIONS and extension not in indexed:
        return _NO_PDF
    if extension in VIDEO_EXTENSIONS and extension not in indexed:
        return _NO_VIDEO
    if extension in indexed:
        return f"extension {extension} is not among those asked for ({', '.join(sorted(wanted))})"
    return f"extension {extension} is not indexed; add it to the extensions if the file is a picture"


def scan_folder(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = True,
    extensions: Iterable[str] | None = None,
    skip: str | os.PathLike[str] | None = None,
) -> FolderScan:
    """Image files under ``folder`` (sorted), entries that could not be read while scanning, and
    the files left out for their extension.

    Broken symbolic links and unreadable sub-folders are reported, not raised; files with other
    extensions are listed in ``ignored`` with what they are (:func:`ignored_reason`). The folder
    ``skip`` (a store's own, when it lies inside the folder it indexes) is not looked into, and
    nothing in it is reported.

    Raises:
        ConfigurationError: ``folder`` is not a folder, or ``extensions`` is empty.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigurationError(f"{root} is not a folder")
    wanted = parse_extensions(extensions)
    scan = FolderScan()
    files, failed = scan.files, scan.failed
    if skip is not None and _same_folder(root, Path(skip)):
        return scan

    def on_error(error: OSError) -> None:
        where = printable(str(error.filename or root))
        failed.append(FailedFile(where, f"cannot read folder: {error.strerror}"))

    walker: Iterator[tuple[str, list[str], list[str]]]
    if recursive:
        walker = os.walk(root, onerror=on_error)
    else:
        walker = iter([(str(root), [], [e.name for e in os.scandir(root) if not e.is_dir()])])
    for directory, subdirs, names in walker:
        if skip is not None:
            subdirs[:] = [d for d in subdirs if not _same_folder(Path(directory) / d, Path(skip))]
        subdirs.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_symlink() and not path.exists():
                if path.suffix.lower() in wanted:
                    failed.append(FailedFile(printable(str(path)), "broken symbolic link"))
                continue
            if not path.is_file():
                continue
            if path.suffix.lower() in wanted:
                files.append(path)
            else:
                scan.ignored.append(IgnoredFile(printable(str(path)), ignored_reason(name, wanted)))
    return scan


def _same_folder(folder: Path, other: Path) -> bool:
    """Whether two paths name the same folder (compared by name first: a walk stats no more)."""
    if folder.name != other.name:
        return False
    try:
        return os.path.samefile(folder, other)
    except OSError:
        return False


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
    """The extensions to index: ``None``: :func:`indexed_extensions`; ``"png, .JPG"``: ``{".png", ".jpg"}``.

    Raises:
        ConfigurationError: no extension is left.
    """
    if extensions is None:
        return indexed_extensions()
    if isinstance(extensions, str):
        extensions = extensions.split(",")
    result = frozenset("." + e.strip().lower().lstrip(".") for e in extensions if e.strip())
    if not result:
        raise ConfigurationError("extensions is empty; give at least one, such as ['jpg', 'png']")
    return result
