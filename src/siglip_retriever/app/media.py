"""The media type a stored entry's file is served with, and which picture of its file an entry is
(a picture file, a PDF's page or figure, a video's moment).

Example:
    >>> from siglip_retriever.app.media import VIDEO_MEDIA_TYPES, is_moment, part_key
    >>> VIDEO_MEDIA_TYPES[".mov"], part_key({"kind": "video", "frame": 42.5}), is_moment({"kind": "image"})
    ('video/quicktime', 't42.5', False)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from siglip_retriever.app.errors import not_found
from siglip_retriever.encoding.images import enable_plugins
from siglip_retriever.store.metadata import FIGURE, FRAME, KIND, PAGE, PART
from siglip_retriever.store.pictures import is_pdf_entry

if TYPE_CHECKING:
    from siglip_retriever.store.entries import StoredItem

__all__ = ["VIDEO_MEDIA_TYPES", "file_media_type", "is_moment", "media_type", "part_key"]

_PDF_HEAD = 1024  # a PDF's "%PDF" header is within its first 1,024 bytes
_MEDIA_TYPES = {"AVIF": "image/avif", "HEIF": "image/heif"}  # formats whose plugin names no type
VIDEO_MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".3gp": "video/3gpp",
    ".mts": "video/mp2t",
    ".m2ts": "video/mp2t",
    ".wmv": "video/x-ms-wmv",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
}
"""The media type a video file is served with, by its extension (browsers pick their player by it)."""


def file_media_type(item: StoredItem, path: Path) -> str:
    """The media type of a stored entry's file: ``application/pdf`` for a PDF's page or
    figure (while the file still reads as a PDF), a video's for a video's moment (by its
    extension: :data:`VIDEO_MEDIA_TYPES`), else the picture's (:func:`media_type`)."""
    if is_moment(item.metadata):
        return VIDEO_MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    if not is_pdf_entry(item.metadata):
        return media_type(path)
    try:
        with path.open("rb") as file:
            head = file.read(_PDF_HEAD)
    except OSError:
        head = b""
    if b"%PDF" not in head:
        raise not_found("the stored file is no longer a PDF; re-index its folder to update the store")
    return "application/pdf"


def media_type(path: Path) -> str:
    """The media type of a stored picture's file, read from its content; ``not_found`` when
    the file is no longer a picture."""
    enable_plugins()  # HEIC files
    try:
        with Image.open(path) as image:
            fmt = image.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise not_found("the stored file is no longer a readable picture") from None
    return Image.MIME.get(fmt or "") or _MEDIA_TYPES.get(fmt or "", "application/octet-stream")


def part_key(metadata: dict[str, Any]) -> str:
    """Which picture of its file an entry is: ``""`` for a picture file, ``"p3"`` for a PDF's page
    3, ``"p3-f1"`` for the first figure on it, ``"t42.5"`` for a video's moment (its frame's time)
    (thumbnails and ETags tell them apart by it).

    Example:
        >>> from siglip_retriever.app.media import part_key
        >>> part_key({"part": "figure", "page": 3, "figure": 1}), part_key({"uri": "/p/a.png"})
        ('p3-f1', '')
        >>> part_key({"kind": "video", "start": 40.0, "end": 51.0, "frame": 42.5})
        't42.5'
    """
    if is_moment(metadata):
        return f"t{float(metadata[FRAME]):g}"
    if not is_pdf_entry(metadata):
        return ""
    figure = metadata.get(FIGURE) if metadata.get(PART) == "figure" else None
    return f"p{metadata[PAGE]}" + (f"-f{figure}" if figure else "")


def is_moment(metadata: dict[str, Any]) -> bool:
    """Whether an entry is a video's moment (its file is the video, its picture a frame of it).

    Example:
        >>> from siglip_retriever.app.media import is_moment
        >>> is_moment({"kind": "video", "frame": 1.5}), is_moment({"kind": "image"})
        (True, False)
    """
    frame = metadata.get(FRAME)
    return metadata.get(KIND) == "video" and isinstance(frame, int | float) and not isinstance(frame, bool)
