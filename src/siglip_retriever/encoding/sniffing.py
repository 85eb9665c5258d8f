"""What a file is, as far as its first bytes tell: the reason an
:class:`~siglip_retriever.errors.ImageLoadError` gives for a file Pillow cannot read (an HTML page,
a text file, an SVG, a PDF, a HEIC photo, a corrupt PNG...), and whether a file is a camera RAW
(:func:`raw_format`: CR3, RAF, ORF and RW2 by their signatures; DNG, CR2 and the TIFF-based RAW
of other cameras by their TIFF tags, :func:`tiff_tags`), which plain TIFFs are not.

Example:
    >>> from siglip_retriever.encoding.sniffing import raw_format, what_is
    >>> what_is(b"%PDF-1.7")
    'a PDF document, not an image; export its pages as images first'
    >>> raw_format(b"FUJIFILMCCD-RAW 0201FF383501"), raw_format(b"\\xff\\xd8\\xff\\xe0")
    ('RAF', None)
"""

from __future__ import annotations

import struct
from typing import IO

__all__ = ["RAW_HEAD", "raw_format", "read_head", "tiff_tags", "what_is"]

RAW_HEAD = 65_536
"""The bytes of a file :func:`raw_format` needs to tell a camera RAW (its TIFF IFD0 and Make)."""

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
    camera = raw_format(head)
    if camera is not None:
        return f"a camera RAW file ({camera}): install the raw extra (pip install 'siglip-retriever[raw]')"
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


# -- camera RAW ----------------------------------------------------------------------------------

_TIFF_RAW = {b"IIRO": "ORF", b"IIRS": "ORF", b"MMOR": "ORF", b"IIU\x00": "RW2"}
_RAW_MAKERS = {
    "NIKON": "NEF",
    "SONY": "ARW",
    "PENTAX": "PEF",
    "RICOH": "PEF",
    "SAMSUNG": "SRW",
    "CANON": "CR2",
    "OLYMPUS": "ORF",
    "OM DIGITAL": "ORF",
    "PANASONIC": "RW2",
    "LEICA": "DNG",
    "FUJIFILM": "RAF",
    "HASSELBLAD": "3FR",
    "PHASE ONE": "IIQ",
    "KODAK": "DCR",
    "MAMIYA": "MEF",
    "MINOLTA": "MRW",
    "KONICA": "MRW",
    "SIGMA": "X3F",
    "EPSON": "ERF",
}
_NEW_SUBFILE, _MAKE, _PHOTOMETRIC, _SUB_IFDS, _DNG_VERSION = 0x00FE, 0x010F, 0x0106, 0x014A, 0xC612
_CFA = 32803  # PhotometricInterpretation of Bayer sensor data
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MOST_TAGS = 1000


def raw_format(data: bytes) -> str | None:
    """The camera RAW format of a file from its first bytes (:data:`RAW_HEAD` of them suffice),
    or ``None`` when it is no camera RAW: ``"CR3"``, ``"RAF"``, ``"ORF"``, ``"RW2"`` by their
    signatures, ``"CR2"`` by its marker, ``"DNG"`` by its ``DNGVersion`` tag, and the TIFF-based
    RAW of other cameras (``"NEF"``, ``"ARW"``, ``"PEF"``...) by a camera maker's ``Make`` on an
    IFD0 that is a preview or sensor data, or that has SubIFDs (a plain TIFF, even one exported
    from a camera's photo, has none of these).

    Example:
        >>> raw_format(b"II*\\x00\\x10\\x00\\x00\\x00CR\\x02\\x00")
        'CR2'
        >>> raw_format(b"II*\\x00\\x08\\x00\\x00\\x00") is None  # a TIFF, no more
        True
    """
    if data[4:12] == b"ftypcrx ":
        return "CR3"
    if data.startswith(b"FUJIFILMCCD-RAW"):
        return "RAF"
    if data[:4] in _TIFF_RAW:
        return _TIFF_RAW[data[:4]]
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    if data[8:10] == b"CR":
        return "CR2"
    tags = tiff_tags(data)
    if _DNG_VERSION in tags:
        return "DNG"
    make = tags.get(_MAKE)
    maker = next(
        (
            kind
            for name, kind in _RAW_MAKERS.items()
            if isinstance(make, str) and make.upper().startswith(name)
        ),
        None,
    )
    if maker and (_SUB_IFDS in tags or tags.get(_NEW_SUBFILE) == 1 or tags.get(_PHOTOMETRIC) == _CFA):
        return maker
    return None


def tiff_tags(data: bytes, start: int = 0, ifd: int | None = None) -> dict[int, int | str | bytes]:
    """The tags of one IFD of the TIFF structure at ``start`` in ``data`` (IFD0 unless ``ifd``,
    an offset from ``start``, is given): a number for a tag with one integer value, text for
    ASCII, raw bytes otherwise. Whatever lies outside ``data`` is left out; never raises.

    Example:
        >>> make = b"\\x0f\\x01\\x02\\x00\\x04\\x00\\x00\\x00Sony"  # Make, ASCII, 4 bytes, in the entry
        >>> tiff_tags(b"II*\\x00\\x08\\x00\\x00\\x00\\x01\\x00" + make + b"\\x00" * 4)
        {271: 'Sony'}
    """
    order = {b"II": "<", b"MM": ">"}.get(data[start : start + 2])
    if order is None:
        return {}
    try:
        offset = struct.unpack_from(order + "I", data, start + 4)[0] if ifd is None else ifd
        count = min(struct.unpack_from(order + "H", data, start + offset)[0], _MOST_TAGS)
    except struct.error:
        return {}
    tags: dict[int, int | str | bytes] = {}
    for at in range(start + offset + 2, start + offset + 2 + 12 * count, 12):
        if at + 12 > len(data):
            break
        tag, kind, number = struct.unpack_from(order + "HHI", data, at)
        size = _TYPE_SIZES.get(kind, 1) * number
        where = at + 8 if size <= 4 else start + struct.unpack_from(order + "I", data, at + 8)[0]
        value = data[where : where + size]
        if len(value) < size:
            continue
        if kind == 2:
            tags[tag] = value.split(b"\x00", 1)[0].decode("latin-1").strip()
        elif kind in (3, 4) and number == 1:
            tags[tag] = struct.unpack_from(order + ("H" if kind == 3 else "I"), value)[0]
        else:
            tags[tag] = value
    return tags


def read_head(data: IO[bytes] | str, size: int = 1024) -> bytes:
    """The first ``size`` bytes of a file (a path) or a stream (read from its start, then left
    there); ``b""`` when they cannot be read (an unseekable stream gets no second look)."""
    try:
        if isinstance(data, str):
            with open(data, "rb") as handle:
                return handle.read(size)
        data.seek(0)
        head = data.read(size)
        data.seek(0)
        return head if isinstance(head, bytes) else b""
    except (OSError, ValueError, AttributeError):
        return b""
