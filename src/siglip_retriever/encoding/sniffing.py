"""What a file that Pillow cannot read is, as far as its first bytes tell: the reason an
:class:`~siglip_retriever.errors.ImageLoadError` gives (an HTML page, a text file, an SVG, a PDF, a
HEIC photo, a corrupt PNG...).

Example:
    >>> from siglip_retriever.encoding.sniffing import what_is
    >>> what_is(b"%PDF-1.7")
    'a PDF document, not an image; export its pages as images first'
"""

from __future__ import annotations

__all__ = ["what_is"]

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def what_is(head: bytes) -> str:
    """Why a file Pillow cannot identify is not an image, as far as its first bytes tell."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return f"a corrupt or truncated {kind} file (Pillow cannot read it)"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a corrupt or truncated WebP file (Pillow cannot read it)"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return (
                "a HEIC/HEIF photo, which Pillow cannot read by itself; convert it to JPEG, or "
                "install and register the pillow-heif plugin"
            )
        if brand in (b"avif", b"avis"):
            return "an AVIF image that this Pillow build cannot read; convert it to JPEG or PNG"
        return "a video or other media file (MP4/MOV family), not an image"
    if head.startswith(b"%PDF"):
        return "a PDF document, not an image; export its pages as images first"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or a document packed as one), not an image"
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n").lower()
    if text.startswith("<svg") or (text.startswith("<?xml") and "<svg" in text):
        return "an SVG (vector) drawing; only raster images are read: convert it to PNG first"
    if text.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in text[:200]:
        return (
            "an HTML page, not an image (a saved error page, or the address of a page rather than of "
            "the image itself?)"
        )
    if head and _is_text(head):
        return "a text file, not an image"
    return "not an image file, or a format Pillow cannot read"


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return False
        text = head[: exc.start].decode("utf-8")
    printable = sum(c.isprintable() or c in "\t\r\n" for c in text)
    return bool(text) and printable >= 0.95 * len(text)
