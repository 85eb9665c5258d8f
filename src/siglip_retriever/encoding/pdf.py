"""PDF files read page by page: each page rendered with its text layer, and the figures it holds.

:func:`read_pdf` turns a PDF into :class:`PdfPart` objects, one page at a time: the page rendered
as a picture (its long side ``render_side`` pixels) with the words of its text layer
(:class:`~siglip_retriever.encoding.ocr.PictureText`, each line's box in that picture's pixels),
then the pictures embedded in the page (figures) at their own pixels. A page without a text
layer (a scan) has ``text=None``: OCR reads it, if asked (the indexing decides).

What is left out, and why:

- a figure with a side below ``min_figure_side`` pixels (icons, bullets, rules);
- an image that covers most of its page (a scanned page is one big image: the page is it);
- a figure already yielded from an earlier page of the same file (a logo on every page).

Bad input is never skipped in silence: a file that cannot be read at all (damaged, encrypted,
empty, no pages) raises :class:`~siglip_retriever.errors.PdfError` naming the file and the reason;
a page (or a figure) that fails is yielded as a :class:`PdfFailure` naming it, and reading goes on
with the next.

Memory is bounded by one page: a page is loaded, rendered, yielded, its figures decoded and
yielded one by one, and the page closed before the next is loaded. PDFium is not thread-safe:
the calls into it take turns through one lock (held while PDFium works, never while a caller
holds a yielded part), so several threads may each read a PDF.

It needs ``pypdfium2`` (the ``pdf`` extra), whose wheels bundle PDFium; imported on first use.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from siglip_retriever.encoding.ocr import PictureText, TextLine
from siglip_retriever.errors import ConfigurationError, MissingDependencyError, PdfError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["TEXT_LAYER", "PdfFailure", "PdfPart", "read_pdf"]

TEXT_LAYER = "pdf text layer"
"""The :attr:`~siglip_retriever.encoding.ocr.PictureText.engine` of a page's text layer."""

_PDFIUM = threading.RLock()  # PDFium is not thread-safe: one call into it at a time, process-wide
_PAGE_SHARE = 0.8  # an image covering this share of its page is the page (a scan), not a figure
_HEAD = 1024  # PDFium accepts "%PDF" anywhere in a file's first 1,024 bytes
# PDFium's FPDF_GetLastError codes when a document does not load (2: none set, see _open)
_LOAD_ERRORS = {
    2: "no pages (or a page tree PDFium cannot read)",
    3: "not a PDF or damaged (PDFium: data format error)",
    4: "encrypted (needs a password): save a copy without a password to index it",
    5: "encrypted with a security handler PDFium does not support",
    6: "no pages (or a page tree PDFium cannot read)",  # FPDF_ERR_PAGE
}


@dataclass(frozen=True)
class PdfPart:
    """A page of a PDF, rendered, or a figure embedded in one.

    Attributes:
        page: the page's number, from 1.
        page_label: the label the PDF gives the page (``"iv"``, ``"A-3"``), else ``str(page)``.
        kind: ``"page"`` or ``"figure"``.
        index: 0 for a page; 1, 2, ... for the page's figures, in the page's drawing order.
        picture: an RGB picture: the page rendered (its long side ``render_side`` pixels), or
            the figure's own pixels.
        text: a page's text layer, with ``engine`` :data:`TEXT_LAYER` and each line's box in
            ``picture``'s pixels; ``None`` for figures and for pages without a text layer.

    Example:
        >>> from PIL import Image
        >>> part = PdfPart(3, "iii", "figure", 1, Image.new("RGB", (80, 60)), None)
        >>> part.kind, part.page, part.page_label
        ('figure', 3, 'iii')
    """

    page: int
    page_label: str
    kind: Literal["page", "figure"]
    index: int
    picture: Image.Image
    text: PictureText | None


@dataclass(frozen=True)
class PdfFailure:
    """A page of a PDF (or a figure on it) that could not be read; the other pages are read.

    Attributes:
        page: the page's number, from 1 (``None`` would be the whole file, which
            :func:`read_pdf` raises as :class:`~siglip_retriever.errors.PdfError` instead).
        reason: what went wrong, for reports.

    Example:
        >>> PdfFailure(2, "PDFium cannot load the page")
        PdfFailure(page=2, reason='PDFium cannot load the page')
    """

    page: int | None
    reason: str


def read_pdf(
    source: str | os.PathLike[str] | bytes,
    *,
    render_side: int = 1024,
    min_figure_side: int = 64,
    pages: Collection[int] | None = None,
) -> Iterator[PdfPart | PdfFailure]:
    """The pages and figures of a PDF, one page at a time (see the module's notes).

    Args:
        source: the PDF's path, or its bytes.
        render_side: the long side of a rendered page, in pixels.
        min_figure_side: embedded pictures with a side shorter than this (in their own pixels)
            are not figures.
        pages: the numbers (from 1) of the pages to read, in the file's order; ``None``: every
            page. A number past the last page yields a :class:`PdfFailure` naming it. Figures
            are numbered among the pages read (a figure met on an unread earlier page is new).

    Yields:
        For each page in order: a :class:`PdfPart` of kind ``"page"`` then one per figure, or a
        :class:`PdfFailure` for a page (or figure) that could not be read.

    Raises:
        PdfError: when the file itself cannot be read: missing, empty, not a PDF or damaged,
            encrypted, or without pages. The file is opened on the first ``next()``, so this
            comes from there; a reader never iterated opens nothing.
        ConfigurationError: ``render_side`` or ``min_figure_side`` below 1 (at the call).
        MissingDependencyError: pypdfium2 (the ``pdf`` extra) is not installed (at the call).

    Example:
        >>> import io
        >>> from PIL import Image
        >>> scan = io.BytesIO()
        >>> Image.new("RGB", (600, 800), "white").save(scan, "PDF")
        >>> [(part.kind, part.page, part.picture.size, part.text) for part in read_pdf(scan.getvalue())]
        [('page', 1, (768, 1024), None)]
    """
    for name, value in (("render_side", render_side), ("min_figure_side", min_figure_side)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive whole number of pixels, not {value!r}")
    wanted = None if pages is None else sorted(set(pages))
    if wanted is not None and not all(type(page) is int and page >= 1 for page in wanted):
        raise ConfigurationError(f"pages must be page numbers from 1, not {pages!r}")
    return _parts(_import_pdfium(), source, render_side, min_figure_side, wanted)


def _parts(
    pdfium: Any,
    source: str | os.PathLike[str] | bytes,
    render_side: int,
    min_figure_side: int,
    pages: list[int] | None,
) -> Iterator[PdfPart | PdfFailure]:
    document = _open(pdfium, source)
    seen: set[bytes] = set()
    try:
        with _PDFIUM:
            count = len(document)
        for number in range(1, count + 1) if pages is None else pages:
            if number > count:
                yield PdfFailure(number, f"no page {number}: the PDF has {count}")
                continue
            yield from _read_page(document, number - 1, render_side, min_figure_side, seen)
    finally:
        with _PDFIUM:
            document.close()


def _import_pdfium() -> Any:
    try:
        import pypdfium2
    except ImportError as exc:
        raise MissingDependencyError("pypdfium2", "pdf", "Reading PDF files") from exc
    return pypdfium2


def _describe(source: str | os.PathLike[str] | bytes) -> str:
    """The source as messages name it: its path, or ``bytes (N B)``."""
    return f"bytes ({len(source)} B)" if isinstance(source, bytes) else os.fspath(source)


def _open(pdfium: Any, source: str | os.PathLike[str] | bytes) -> Any:
    """The opened document, or :class:`PdfError` saying why the file cannot be read."""
    name = _describe(source)
    if isinstance(source, bytes):
        head, size = source[:_HEAD], len(source)
        given: Any = source
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            with path.open("rb") as file:
                head = file.read(_HEAD)
        except FileNotFoundError:
            raise PdfError(name, "file not found") from None
        except OSError as exc:
            raise PdfError(name, f"cannot be read ({exc.strerror or exc})") from None
        given = str(path)
    if size == 0:
        raise PdfError(name, "empty file (0 bytes)")
    if b"%PDF" not in head:
        raise PdfError(name, "not a PDF (no %PDF header in its first bytes)")
    with _PDFIUM:
        # PDFium keeps its last load error until a new one is set, and a PDF without pages sets
        # none: a failed load of no file first sets FPDF_ERR_FILE, which a file read above cannot
        # really give, so that code after a failure means "nothing set"
        pdfium.raw.FPDF_LoadDocument(b"", None)
        try:
            document = pdfium.PdfDocument(given)
        except pdfium.PdfiumError as exc:
            code = int(getattr(exc, "err_code", None) or 0)
            raise PdfError(name, _LOAD_ERRORS.get(code, f"cannot be opened ({exc})")) from None
        if len(document) == 0:
            document.close()
            raise PdfError(name, "no pages")
    return document


def _reason(exc: Exception) -> str:
    """An exception as a report's reason: PDFium's message, or the exception's kind and message."""
    text = str(exc).strip().rstrip(".")
    return f"PDFium: {text}" if type(exc).__name__ == "PdfiumError" else f"{type(exc).__name__}: {text}"


def _read_page(
    document: Any, index: int, render_side: int, min_figure_side: int, seen: set[bytes]
) -> Iterator[PdfPart | PdfFailure]:
    """One page: rendered with its text layer, then its figures; failures named, never raised."""
    number = index + 1
    try:
        with _PDFIUM:
            page = document[index]
    except Exception as exc:  # a broken page object: the other pages are still read
        yield PdfFailure(number, f"cannot load the page ({_reason(exc)})")
        return
    try:
        try:
            with _PDFIUM:
                label = document.get_page_label(index) or str(number)
                picture, text = _render(page, render_side)
        except Exception as exc:
            yield PdfFailure(number, f"cannot render the page ({_reason(exc)})")
            return
        yield PdfPart(number, label, "page", 0, picture, text)
        del picture, text  # the caller holds them now; the page's figures come one at a time
        yield from _figures(page, number, label, min_figure_side, seen)
    finally:
        with _PDFIUM:
            page.close()


def _render(page: Any, render_side: int) -> tuple[Image.Image, PictureText | None]:
    """The page as an RGB picture (long side ``render_side``) and its text layer in its pixels."""
    width, height = page.get_size()
    bitmap = page.render(scale=render_side / max(width, height, 1.0), rev_byteorder=True)
    try:
        picture = bitmap.to_pil().convert("RGB")  # a copy: the bitmap's memory is freed below
        to_pixels = bitmap.get_posconv(page).to_bitmap
    finally:
        bitmap.close()
    return picture, _text_layer(page, to_pixels)


def _text_layer(page: Any, to_pixels: Any) -> PictureText | None:
    """The page's text layer as lines (PDFium's line breaks), boxes in the rendered pixels."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        lines: list[TextLine] = []
        chars: list[str] = []
        box: list[float] = []  # left, bottom, right, top in page points, of the line's glyphs
        for i in range(textpage.count_chars()):
            char = chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i))
            if char in "\r\n":
                _end_line(lines, chars, box, to_pixels)
                chars, box = [], []
                continue
            chars.append(char)
            if not char.isspace():
                left, bottom, right, top = textpage.get_charbox(i)
                box = [left, bottom, right, top] if not box else _union(box, (left, bottom, right, top))
        _end_line(lines, chars, box, to_pixels)
    finally:
        textpage.close()
    return PictureText(tuple(lines), TEXT_LAYER) if lines else None


def _union(box: list[float], other: tuple[float, float, float, float]) -> list[float]:
    return [min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]), max(box[3], other[3])]


def _end_line(lines: list[TextLine], chars: list[str], box: list[float], to_pixels: Any) -> None:
    """Append the line of ``chars`` (if it has glyphs), its box turned into picture pixels."""
    text = " ".join("".join(chars).split())
    if not text or not box:
        return
    corners = [to_pixels(x, y) for x in (box[0], box[2]) for y in (box[1], box[3])]
    xs, ys = [float(x) for x, _ in corners], [float(y) for _, y in corners]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    lines.append(TextLine(text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), 1.0))


def _figures(
    page: Any, number: int, label: str, min_figure_side: int, seen: set[bytes]
) -> Iterator[PdfPart | PdfFailure]:
    """The page's embedded pictures that are figures, decoded one at a time."""
    import pypdfium2.raw as pdfium_c

    try:
        with _PDFIUM:
            width, height = page.get_size()
            images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
    except Exception as exc:
        yield PdfFailure(number, f"cannot list the page's figures ({_reason(exc)})")
        return
    found = 0
    for image in images:
        try:
            with _PDFIUM:
                picture = _figure(image, min_figure_side, width * height)
        except Exception as exc:
            yield PdfFailure(number, f"cannot read a figure ({_reason(exc)})")
            continue
        if picture is None:
            continue
        digest = hashlib.blake2b(b"%dx%d:" % picture.size + picture.tobytes(), digest_size=16).digest()
        if digest in seen:
            continue
        seen.add(digest)
        found += 1
        yield PdfPart(number, label, "figure", found, picture, None)


def _figure(image: Any, min_figure_side: int, page_area: float) -> Image.Image | None:
    """An embedded image's own pixels as RGB, or ``None`` when it is too small or is the page."""
    width, height = image.get_px_size()
    if min(width, height) < min_figure_side:
        return None
    left, bottom, right, top = image.get_bounds()
    if page_area > 0 and (right - left) * (top - bottom) >= _PAGE_SHARE * page_area:
        return None
    # a copy in RGB; the bitmap (PDFium's memory) is freed as this returns, inside the lock
    return image.get_bitmap(render=False).to_pil().convert("RGB")
