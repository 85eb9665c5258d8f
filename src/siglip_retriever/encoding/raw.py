"""Camera RAW files (``.cr2 .cr3 .nef .arw .dng .raf .orf .rw2``...) read as pictures, through
rawpy (LibRaw), the ``raw`` extra.

A RAW file holds what the sensor recorded and, from most cameras, the full-size JPEG the camera
made of it and showed on its screen. :func:`read_raw` reads that preview when there is a large
one: it is fast (a JPEG decode, at a reduced scale when the model wants a small picture) and it
is the picture the photographer saw, as the JPEG the camera wrote beside the RAW is. Otherwise it
develops the sensor data at half size (LibRaw's demosaicing, the camera's white balance). Either
way the picture is upright (the preview's own EXIF orientation, else the camera's) and comes with
the facts an index records: the sensor's size and when the photo was taken (EXIF
``DateTimeOriginal``, from the preview's EXIF or the file's own tags).

:func:`~siglip_retriever.encoding.images.decode_image` reads RAW files through this module, from
a path, bytes or a file object alike (:func:`raw_bytes` tells them apart from other pictures),
so everything that takes an image takes a RAW file when rawpy is installed.

Example:
    >>> from siglip_retriever.encoding.raw import is_raw
    >>> is_raw("DSC_0042.NEF"), is_raw("IMG_0042.JPG"), is_raw(b"FUJIFILMCCD-RAW 0201")
    (True, False, True)
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

from PIL import Image

from siglip_retriever.encoding.sniffing import RAW_HEAD, raw_format, read_head, tiff_tags
from siglip_retriever.errors import ImageLoadError, MissingDependencyError

if TYPE_CHECKING:
    from os import PathLike

__all__ = [
    "PREVIEW_SIDE",
    "RAW_EXTENSIONS",
    "RawFacts",
    "RawPicture",
    "exif_date",
    "is_raw",
    "raw_bytes",
    "raw_size",
    "read_raw",
]

RAW_EXTENSIONS = frozenset(
    {".cr2", ".cr3", ".nef", ".nrw", ".arw", ".dng", ".raf", ".orf", ".rw2", ".pef", ".srw"}
)
"""Camera RAW file extensions (compared case-insensitively): Canon, Nikon, Sony, Adobe DNG (and
the phones and cameras that write it), Fujifilm, Olympus/OM System, Panasonic, Pentax, Samsung."""

PREVIEW_SIDE = 1024
"""An embedded preview is read in place of the sensor data when its long side is at least this
many pixels, or half the sensor's: smaller ones are thumbnails."""

_PICTURES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".avif", ".gif", ".bmp", ".heic", ".heif", ".hif"}
)  # never a RAW: read by Pillow without a look inside
_EXIF_IFD, _DATE_ORIGINAL, _OFFSET_ORIGINAL, _ORIENTATION = 0x8769, 0x9003, 0x9011, 0x0112
_EXIF_DATE = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")
_DRAFT_FACTOR = 2  # as images.py: decode a JPEG preview at reduced scale when it is this much larger
# LibRaw's flip (0, 3, 5, 6 and mirrors) as the EXIF orientation it stands for, and the turn that
# makes each EXIF orientation upright
_FLIP_TO_EXIF = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class RawFacts:
    """What a camera RAW file records beside its picture.

    Attributes:
        sensor_width, sensor_height: the sensor's picture in pixels (its visible area, as the
            camera recorded it, before orientation): the photo's true size, whatever the size of
            the preview read.
        taken: when the photo was taken (EXIF ``DateTimeOriginal``) as ISO 8601 text, with the
            offset when the camera recorded it; ``None`` when unknown.
        source: ``"preview"`` (the camera's embedded JPEG was read) or ``"demosaiced"`` (the
            sensor data was developed at half size).

    Example:
        >>> RawFacts(6000, 4000, "2019-07-14T16:02:11", "preview").source
        'preview'
    """

    sensor_width: int
    sensor_height: int
    taken: str | None
    source: Literal["preview", "demosaiced"]


@dataclass(frozen=True)
class RawPicture:
    """A camera RAW file read as a picture (:func:`read_raw`).

    Attributes:
        image: the picture, upright: the camera's preview (decoded at a reduced scale when a
            ``target_size`` allowed it) or the sensor data developed at half size; RGB or
            grayscale.
        width, height: the picture's own size after orientation, whatever size ``image`` was
            decoded at: the preview's, or the sensor's visible area.
        sensor_width, sensor_height, taken, source: as :class:`RawFacts` (:attr:`facts`).

    Example:
        >>> from PIL import Image
        >>> raw = RawPicture(Image.new("RGB", (3, 2)), 3, 2, 4, 2, None, "demosaiced")
        >>> raw.facts
        RawFacts(sensor_width=4, sensor_height=2, taken=None, source='demosaiced')
    """

    image: Image.Image
    width: int
    height: int
    sensor_width: int
    sensor_height: int
    taken: str | None
    source: Literal["preview", "demosaiced"]

    @property
    def facts(self) -> RawFacts:
        """What the file records beside the picture (no pixels: cheap to keep and to send)."""
        return RawFacts(self.sensor_width, self.sensor_height, self.taken, self.source)


def is_raw(name_or_bytes: str | PathLike[str] | bytes) -> bool:
    """Whether a file is a camera RAW: by its name's extension (:data:`RAW_EXTENSIONS`), or by
    its first bytes (:func:`~siglip_retriever.encoding.sniffing.raw_format`)."""
    if isinstance(name_or_bytes, (bytes, bytearray, memoryview)):
        return raw_format(bytes(name_or_bytes[:RAW_HEAD])) is not None
    return os.path.splitext(os.fspath(name_or_bytes))[1].lower() in RAW_EXTENSIONS


_IFD_ENTRIES = 64  # entries of a first IFD looked at when it lies past the head


def _sniffed_head(data: IO[bytes] | str) -> bytes:
    """The first bytes of a file, enough to tell a camera RAW: :data:`RAW_HEAD` of them, and
    further when a TIFF-based file's first IFD lies past them (writers that put the image data
    before the directories), so that it is read the same whatever its layout."""
    head = read_head(data, RAW_HEAD)
    order = {b"II*\x00": "little", b"MM\x00*": "big"}.get(head[:4])
    if order is None or len(head) < RAW_HEAD:
        return head
    first = int.from_bytes(head[4:8], order)  # type: ignore[arg-type]
    if first + 2 + 12 * _IFD_ENTRIES <= len(head):
        return head
    return read_head(data, first + RAW_HEAD)


def raw_bytes(data: IO[bytes] | str) -> bytes | None:
    """The whole of a camera RAW file, when ``data`` (a path, or a seekable stream, left at its
    start) is one; ``None`` for any other file. A path's RAW extension is enough; a picture's
    extension (JPEG, PNG, HEIC...) rules it out; other names and streams are told by their first
    bytes, so that a RAW reads the same from a path, bytes or a file object."""
    if isinstance(data, str):
        extension = os.path.splitext(data)[1].lower()
        if extension in _PICTURES:
            return None
        if extension not in RAW_EXTENSIONS and raw_format(_sniffed_head(data)) is None:
            return None
        with open(data, "rb") as handle:
            return handle.read()
    head = read_head(data, 16)
    if not head.startswith((b"II", b"MM", b"FUJIFILM")) and head[4:12] != b"ftypcrx ":
        return None
    if raw_format(_sniffed_head(data)) is None:
        return None
    whole = data.read()
    data.seek(0)
    return whole if isinstance(whole, bytes) else bytes(whole)


def read_raw(data: bytes, *, target_size: int | None = None, max_pixels: int | None = None) -> RawPicture:
    """Read a camera RAW file's picture: its embedded preview when it is large (see
    :data:`PREVIEW_SIDE`), decoded at a reduced scale when ``target_size`` allows, as
    :func:`~siglip_retriever.encoding.images.decode_image` decodes JPEGs; otherwise the sensor
    data developed at half size with the camera's white balance. The picture is upright.

    Args:
        data: the file's bytes.
        target_size: the side the picture will be resized to afterwards (``None``: full size).
        max_pixels: refuse a picture with more pixels than this (``None``: no limit).

    Raises:
        MissingDependencyError: rawpy (the ``raw`` extra) is not installed.
        ImageLoadError: not a camera RAW file, or a damaged one (the reason says what LibRaw
            found), or a picture over ``max_pixels``.
    """
    rawpy = _rawpy()
    name = f"bytes ({len(data)} B)"
    try:
        with rawpy.RawPy() as raw:
            raw.open_buffer(io.BytesIO(data))
            sensor, orientation = _sensor(raw)
            preview = _preview(raw, rawpy, sensor)
            read = (
                None
                if preview is None
                else _from_preview(preview, orientation, target_size, max_pixels, name)
            )
            if read is None:
                read = _demosaiced(raw, sensor, orientation, max_pixels, name)
    except (rawpy.LibRawError, rawpy.NotSupportedError) as exc:
        raise _damaged(name, exc) from None
    image, width, height, source, hint = read
    # a date from the preview's EXIF comes first; LibRaw's (local time, no offset) last
    taken = (hint or _file_taken(data)) if source == "preview" else (_file_taken(data) or hint)
    return RawPicture(image, width, height, sensor[0], sensor[1], taken, source)


def raw_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` of the picture :func:`read_raw` reads from a camera RAW file, upright,
    decoding no pixels: its preview's, else its sensor's.

    Raises:
        MissingDependencyError: rawpy (the ``raw`` extra) is not installed.
        ImageLoadError: not a camera RAW file, or a damaged one.
    """
    rawpy = _rawpy()
    try:
        with rawpy.RawPy() as raw:
            raw.open_buffer(io.BytesIO(data))
            sensor, orientation = _sensor(raw)
            preview = _preview(raw, rawpy, sensor)
    except (rawpy.LibRawError, rawpy.NotSupportedError) as exc:
        raise _damaged(f"bytes ({len(data)} B)", exc) from None
    size, turn = (sensor, orientation) if preview is None else (preview.size, _turn(preview, orientation))
    return (size[1], size[0]) if turn in (5, 6, 7, 8) else size


def _sensor(raw: Any) -> tuple[tuple[int, int], int]:
    """The sensor's visible size (before orientation) and the camera's orientation, as EXIF's."""
    sizes = raw.sizes
    return (int(sizes.width), int(sizes.height)), _FLIP_TO_EXIF.get(int(sizes.flip), 1)


def _turn(preview: Image.Image, orientation: int) -> int:
    """The orientation of a preview: its own EXIF's, else the camera's."""
    try:
        own = preview.getexif().get(_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, KeyError, IndexError, TypeError):
        return orientation
    return own if isinstance(own, int) and own in _UPRIGHT else orientation


def _damaged(name: str, exc: BaseException) -> ImageLoadError:
    return ImageLoadError(name, f"not a camera RAW file, or damaged (LibRaw: {_message(exc)})")


_Read = tuple[Image.Image, int, int, Literal["preview", "demosaiced"], "str | None"]


def _demosaiced(
    raw: Any, sensor: tuple[int, int], orientation: int, max_pixels: int | None, name: str
) -> _Read:
    """The sensor data developed at half size (upright: LibRaw turns it), the sensor's size as
    shown, and the date LibRaw read."""
    _check_pixels(name, sensor[0] * sensor[1] // 4, max_pixels)
    image = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8))
    width, height = (sensor[1], sensor[0]) if orientation in (5, 6, 7, 8) else sensor
    return image, width, height, "demosaiced", _stamp(raw)


def _rawpy() -> Any:
    try:
        import rawpy
    except ImportError as exc:
        raise MissingDependencyError("rawpy", "raw", "Reading camera RAW files") from exc
    return rawpy


def _message(exc: BaseException) -> str:
    detail = exc.args[0] if exc.args else ""
    text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    return text or type(exc).__name__


def _preview(raw: Any, rawpy: Any, sensor: tuple[int, int]) -> Image.Image | None:
    """The camera's embedded preview, opened (not decoded), when it is a large JPEG or bitmap."""
    preview: Image.Image
    try:
        thumb = raw.extract_thumb()
        if thumb.format == rawpy.ThumbFormat.JPEG:
            preview = Image.open(io.BytesIO(thumb.data))
        elif thumb.format == rawpy.ThumbFormat.BITMAP:
            preview = Image.fromarray(thumb.data)
        else:
            return None
    except (rawpy.LibRawError, OSError, ValueError, SyntaxError):  # none, or one Pillow cannot read
        return None
    if max(preview.size) < min(PREVIEW_SIDE, max(sensor) // 2):
        return None
    return preview


def _from_preview(
    preview: Image.Image, orientation: int, target_size: int | None, max_pixels: int | None, name: str
) -> _Read | None:
    """The preview decoded (drafted for ``target_size``) and upright, its own size and EXIF date;
    ``None`` when it is damaged (then the sensor data is read)."""
    _check_pixels(name, preview.size[0] * preview.size[1], max_pixels)
    try:
        exif = preview.getexif()
        turn = _turn(preview, orientation)
        width, height = preview.size
        if target_size and preview.format == "JPEG" and min(width, height) >= _DRAFT_FACTOR * target_size:
            preview.draft("RGB", (target_size, target_size))
        preview.load()
    except (OSError, ValueError, SyntaxError, KeyError, IndexError, TypeError):
        return None
    image = preview.transpose(_UPRIGHT[turn]) if turn in _UPRIGHT else preview
    if turn in (5, 6, 7, 8):
        width, height = height, width
    return image, width, height, "preview", _exif_taken(exif)


def _check_pixels(name: str, pixels: int, max_pixels: int | None) -> None:
    if max_pixels is not None and pixels > max_pixels:
        raise ImageLoadError(
            name,
            f"{pixels:,} pixels is more than the limit of {max_pixels:,} (a possible decompression "
            "bomb); raise max_pixels if the file is trusted",
        )


def _stamp(raw: Any) -> str | None:
    """The date LibRaw read (the sensor data is unpacked already): local time, as the camera's clock."""
    try:
        moment = raw.other.timestamp
    except (AttributeError, ValueError, OSError, OverflowError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment.timestamp() > 0 else None


def _exif_taken(exif: Image.Exif) -> str | None:
    try:
        ifd = exif.get_ifd(_EXIF_IFD)
    except Exception:  # a broken EXIF block: no date
        return None
    return exif_date(ifd.get(_DATE_ORIGINAL), ifd.get(_OFFSET_ORIGINAL))


def _file_taken(data: bytes) -> str | None:
    """The EXIF date in a RAW file's own tags: its TIFF IFD0 and EXIF IFD (DNG, CR2, NEF, ARW,
    ORF, RW2...), or a CR3's ``CMT2`` box (its EXIF IFD)."""
    start = data.find(b"CMT2", 0, RAW_HEAD) + 4 if data[4:12] == b"ftypcrx " else 0
    if start == 3:
        return None
    tags = tiff_tags(data, start)
    exif = tags.get(_EXIF_IFD)
    if _DATE_ORIGINAL not in tags and isinstance(exif, int):
        tags = tiff_tags(data, start, exif)
    offset = tags.get(_OFFSET_ORIGINAL)
    return exif_date(tags.get(_DATE_ORIGINAL), offset if isinstance(offset, str) else None)


def exif_date(text: object, offset: object = None) -> str | None:
    """An EXIF date (``"2019:07:14 16:02:11"``) as ISO 8601 text, with its offset
    (``OffsetTimeOriginal``, ``"+02:00"``) when there is one; ``None`` when it is no real date.

    Example:
        >>> exif_date("2019:07:14 16:02:11", "+02:00"), exif_date("0000:00:00 00:00:00")
        ('2019-07-14T16:02:11+02:00', None)
    """
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    match = _EXIF_DATE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61 and year > 0):
        return None
    stamp = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if isinstance(offset, str) and _EXIF_OFFSET.fullmatch(offset.strip()):
        stamp += offset.strip()
    return stamp
