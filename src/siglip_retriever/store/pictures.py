"""The picture a stored entry stands for, read again from its file: an image file as it is, a PDF
page rendered, a figure taken out of its page, a video's frame at a moment.

An image entry's file is the picture. A PDF entry's file is the PDF (its ``uri`` and ``source``):
its picture is the page rendered (``part`` ``"page"``) or a picture embedded in it (``"figure"``),
which front-ends show (the web app's thumbnails and ``/api/images/{id}``, a LangChain document's
``image_base64``, a LlamaIndex node's image) without keeping any copy: :func:`entry_picture` reads
the one page it needs from the PDF (:func:`~siglip_retriever.encoding.pdf.read_pdf` with
``pages``), never the pages before it. A figure is found on its page by its fingerprint
(indexing records it), so figures numbered after a repeated one (a logo met on an earlier page,
which indexing counts once) are still found. A video's moment (kind ``"video"``) is the frame
its vector was made from (metadata ``frame``), decoded from the video by seeking
(:func:`~siglip_retriever.encoding.video.video_frame`).

Example:
    >>> import io, tempfile
    >>> from PIL import Image
    >>> from siglip_retriever.store.pictures import entry_picture, is_pdf_entry
    >>> path = tempfile.mkdtemp() + "/scan.pdf"
    >>> Image.new("RGB", (600, 800), "white").save(path, "PDF")
    >>> meta = {"kind": "image", "uri": path, "source": path, "page": 1, "part": "page"}
    >>> is_pdf_entry(meta), entry_picture(meta, side=200).size
    (True, (150, 200))
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ImageLoadError
from siglip_retriever.store.metadata import FIGURE, FRAME, KIND, PAGE, PART, PHASH, URI

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["entry_picture", "file_is_picture", "is_pdf_entry"]


def is_pdf_entry(metadata: Mapping[str, Any]) -> bool:
    """Whether an entry is a PDF's page or figure (its file is the PDF, not a picture).

    Example:
        >>> is_pdf_entry({"part": "figure", "page": 2}), is_pdf_entry({"uri": "/p/a.png"})
        (True, False)
    """
    return metadata.get(PART) in ("page", "figure") and isinstance(metadata.get(PAGE), int)


def file_is_picture(metadata: Mapping[str, Any]) -> bool:
    """Whether an image entry's file is its picture (an image file), not a PDF or a video it is a
    part of (whose picture :func:`entry_picture` renders or decodes).

    Example:
        >>> file_is_picture({"uri": "/p/a.jpg"}), file_is_picture({"kind": "video", "uri": "/v/a.mp4"})
        (True, False)
    """
    return not is_pdf_entry(metadata) and metadata.get(KIND) != "video"


def entry_picture(
    metadata: Mapping[str, Any], *, side: int | None = None, max_pixels: int | None = None
) -> Image.Image:
    """The RGB picture of a stored image entry, read from its file (metadata ``uri``).

    Args:
        metadata: the entry's metadata, as stored.
        side: the long side wanted, in pixels: a page is rendered at it, a picture or figure
            made no larger (``None``: a page at indexing's size, a picture at its own).
        max_pixels: refuse image files larger than this (``None``: no limit).

    Raises:
        ImageLoadError: the entry has no file, or its file (or page, or figure) cannot be read
            now; the message names it.
    """
    from PIL import Image

    from siglip_retriever.encoding.images import load_image

    uri = metadata.get(URI)
    if not isinstance(uri, str) or not uri:
        raise ImageLoadError("the entry", "it was stored without a file")
    if is_pdf_entry(metadata):
        picture = _pdf_picture(uri, metadata, side)
    elif metadata.get(KIND) == "video":
        from siglip_retriever.encoding.video import video_frame

        time = metadata.get(FRAME)
        picture = video_frame(uri, float(time) if isinstance(time, int | float) else 0.0, side=side)
    else:
        picture = load_image(Path(uri), target_size=side, max_pixels=max_pixels)
    if side is not None and max(picture.size) > side:
        picture.thumbnail((side, side), Image.Resampling.LANCZOS)
    return picture


def _pdf_picture(path: str, metadata: Mapping[str, Any], side: int | None) -> Image.Image:
    """A PDF entry's page rendered, or its figure, read from the PDF's one page."""
    from siglip_retriever.encoding.pdf import PdfFailure, read_pdf
    from siglip_retriever.store.pdfs import MIN_FIGURE_SIDE, RENDER_SIDE

    page = int(metadata[PAGE])
    figure = int(metadata.get(FIGURE) or 0) if metadata.get(PART) == "figure" else 0
    where = f"{path}#page={page}" + (f"&figure={figure}" if figure else "")
    render_side = side or RENDER_SIDE
    figures = []
    for part in read_pdf(path, render_side=render_side, min_figure_side=MIN_FIGURE_SIDE, pages=[page]):
        if isinstance(part, PdfFailure):
            if part.page == page and not figure:
                raise ImageLoadError(where, part.reason)
            continue
        if part.kind == "page" and not figure:
            return part.picture
        if part.kind == "figure":
            figures.append(part.picture)
    found = _figure(figures, figure, metadata.get(PHASH))
    if found is None:
        raise ImageLoadError(where, "no such figure on the page now: index the file again")
    return found


def _figure(figures: list[Image.Image], number: int, phash: object) -> Image.Image | None:
    """The figure indexing numbered ``number`` among a page's ``figures``: the one whose
    fingerprint is nearest the recorded one (ties: the nearest in order), else the ``number``-th."""
    from siglip_retriever.store.fingerprints import hash_distance, is_fingerprint, rgb_fingerprint

    if not figures:
        return None
    if not is_fingerprint(phash):
        return figures[number - 1] if number <= len(figures) else None
    best = min(
        range(len(figures)),
        key=lambda n: (hash_distance(str(phash), rgb_fingerprint(figures[n])), abs(n + 1 - number)),
    )
    return figures[best]
