"""Camera RAW files written by the tests: DNGs built by hand, a few KB each.

No library writes camera RAW files, so these are written field by field, as the DNG
specification (1.4) lays them out: a TIFF whose raw IFD holds 16-bit Bayer (RGGB) sensor data
(``PhotometricInterpretation`` = CFA, ``CFARepeatPatternDim``, ``CFAPattern``), the DNG tags
LibRaw needs to develop it (``DNGVersion``, ``ColorMatrix1``, ``AsShotNeutral``, black and white
levels), an EXIF IFD with the date it was taken, and optionally the full-size JPEG preview a
camera writes (``NewSubFileType`` = 1: in IFD0 with the raw data in a SubIFD, as Adobe's
converter writes it, or in a SubIFD of its own).

The sensor data is the picture itself, mosaicked: its sRGB values made linear, and the colour
matrix that of linear sRGB, so LibRaw's demosaicing gives back (nearly) the picture drawn.

- :func:`dng_bytes`, :func:`write_dng`: one DNG, with or without a preview, turned, dated;
- :func:`write_large_preview_dng`: a DNG with a 12-megapixel JPEG preview (the benchmarks');
- :func:`damaged_nef_bytes`: what a NEF cut short in a copy looks like (a Nikon TIFF whose
  raw data is missing).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

# TIFF field types
BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 1, 2, 3, 4, 5, 7, 10
_FORMATS = {BYTE: "B", SHORT: "H", LONG: "I", RATIONAL: "II", SRATIONAL: "ii"}

# tags
NEW_SUBFILE_TYPE, WIDTH, LENGTH, BITS, COMPRESSION, PHOTOMETRIC = 254, 256, 257, 258, 259, 262
MAKE, MODEL, STRIP_OFFSETS, ORIENTATION, SAMPLES, ROWS_PER_STRIP = 271, 272, 273, 274, 277, 278
STRIP_BYTE_COUNTS, PLANAR, SUB_IFDS, EXIF_IFD = 279, 284, 330, 34665
CFA_REPEAT, CFA_PATTERN, DATE_ORIGINAL = 33421, 33422, 36867
DNG_VERSION, UNIQUE_MODEL, BLACK_LEVEL, WHITE_LEVEL = 50706, 50708, 50714, 50717
COLOR_MATRIX1, AS_SHOT_NEUTRAL, ILLUMINANT1 = 50721, 50728, 50778

CFA, YCBCR, RGB_PHOTOMETRIC = 32803, 6, 2
JPEG_COMPRESSION = 7
D65 = 21
WHITE = 65535

# XYZ (D65) -> linear sRGB: as the DNG's ColorMatrix1, the camera "sees" linear sRGB
XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))

Value = int | str | bytes | tuple[int, int] | list[int] | list[tuple[int, int]]


@dataclass
class Ifd:
    """One TIFF IFD to write: ``{tag: (type, value)}``; ``data`` is written before it and its
    offset goes in ``data_tag`` (strip offsets, a SubIFD...)."""

    fields: dict[int, tuple[int, Value]] = field(default_factory=dict)

    def set(self, tag: int, kind: int, value: Value) -> Ifd:
        self.fields[tag] = (kind, value)
        return self


class TiffWriter:
    """A little-endian TIFF laid out in one buffer: blobs first, then the IFDs that point at them."""

    def __init__(self) -> None:
        self.buffer = bytearray(b"II*\x00\x00\x00\x00\x00")

    def blob(self, data: bytes) -> int:
        """Append ``data`` (word-aligned) and return its offset."""
        if len(self.buffer) % 2:
            self.buffer += b"\x00"
        offset = len(self.buffer)
        self.buffer += data
        return offset

    def ifd(self, ifd: Ifd, next_ifd: int = 0) -> int:
        """Append ``ifd`` (its values longer than 4 bytes right after it) and return its offset."""
        if len(self.buffer) % 2:
            self.buffer += b"\x00"
        start = len(self.buffer)
        tags = sorted(ifd.fields)
        extra_at = start + 2 + 12 * len(tags) + 4
        entries, extra = bytearray(struct.pack("<H", len(tags))), bytearray()
        for tag in tags:
            kind, value = ifd.fields[tag]
            payload, count = _encode(kind, value)
            if len(payload) <= 4:
                inline = payload.ljust(4, b"\x00")
            else:
                inline = struct.pack("<I", extra_at + len(extra))
                extra += payload + (b"\x00" if len(payload) % 2 else b"")
            entries += struct.pack("<HHI", tag, kind, count) + inline
        entries += struct.pack("<I", next_ifd)
        self.buffer += entries + extra
        return start

    def finish(self, first_ifd: int) -> bytes:
        self.buffer[4:8] = struct.pack("<I", first_ifd)
        return bytes(self.buffer)


def _encode(kind: int, value: Value) -> tuple[bytes, int]:
    if kind == ASCII:
        text = (value if isinstance(value, str) else "").encode("ascii") + b"\x00"
        return text, len(text)
    if kind == UNDEFINED:
        data = value if isinstance(value, bytes) else bytes(value)  # type: ignore[arg-type]
        return data, len(data)
    items = value if isinstance(value, list) else [value]
    fmt = _FORMATS[kind]
    packed = b"".join(
        struct.pack("<" + fmt, *(item if isinstance(item, tuple) else (item,))) for item in items
    )
    return packed, len(items)


# -- the pictures inside ------------------------------------------------------------------------


def mosaic(picture: Image.Image) -> np.ndarray:
    """``picture`` (RGB, even sides) as 16-bit RGGB Bayer sensor data: its sRGB values made linear."""
    srgb = np.asarray(picture.convert("RGB"), dtype=np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    height, width = linear.shape[:2]
    raw = np.empty((height, width), dtype=np.float64)
    raw[0::2, 0::2] = linear[0::2, 0::2, 0]
    raw[0::2, 1::2] = linear[0::2, 1::2, 1]
    raw[1::2, 0::2] = linear[1::2, 0::2, 1]
    raw[1::2, 1::2] = linear[1::2, 1::2, 2]
    return np.round(raw * WHITE).astype("<u2")


def jpeg_bytes(picture: Image.Image, *, taken: str | None = None, quality: int = 90) -> bytes:
    """``picture`` as a JPEG, with an EXIF date when ``taken`` (``"2019:07:14 16:02:11"``) is
    given: then its EXIF block comes first, as in a camera's JPEG (LibRaw puts an EXIF block of
    its own before a preview that does not start with one)."""
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality}
    if taken is not None:
        exif = Image.Exif()
        exif.get_ifd(EXIF_IFD)[DATE_ORIGINAL] = taken
        options["exif"] = exif.tobytes()
    picture.convert("RGB").save(buffer, "JPEG", **options)
    data = buffer.getvalue()
    if taken is not None and data[2:4] == b"\xff\xe0":  # Pillow's JFIF segment: left out
        data = data[:2] + data[4 + struct.unpack(">H", data[4:6])[0] :]
    return data


def _raw_ifd(writer: TiffWriter, sensor: np.ndarray, subfile: int) -> Ifd:
    height, width = sensor.shape
    strip = writer.blob(sensor.tobytes())
    matrix = [(round(v * 10000), 10000) for row in XYZ_TO_SRGB for v in row]
    return (
        Ifd()
        .set(NEW_SUBFILE_TYPE, LONG, subfile)
        .set(WIDTH, LONG, width)
        .set(LENGTH, LONG, height)
        .set(BITS, SHORT, 16)
        .set(COMPRESSION, SHORT, 1)
        .set(PHOTOMETRIC, SHORT, CFA)
        .set(STRIP_OFFSETS, LONG, strip)
        .set(SAMPLES, SHORT, 1)
        .set(ROWS_PER_STRIP, LONG, height)
        .set(STRIP_BYTE_COUNTS, LONG, sensor.nbytes)
        .set(PLANAR, SHORT, 1)
        .set(CFA_REPEAT, SHORT, [2, 2])
        .set(CFA_PATTERN, BYTE, [0, 1, 1, 2])
        .set(BLACK_LEVEL, SHORT, 0)
        .set(WHITE_LEVEL, SHORT, WHITE)
        .set(COLOR_MATRIX1, SRATIONAL, matrix)  # type: ignore[arg-type]
        .set(ILLUMINANT1, SHORT, D65)
        .set(AS_SHOT_NEUTRAL, RATIONAL, [(1, 1), (1, 1), (1, 1)])
    )


def _preview_ifd(writer: TiffWriter, jpeg: bytes, size: tuple[int, int]) -> Ifd:
    offset = writer.blob(jpeg)
    return (
        Ifd()
        .set(NEW_SUBFILE_TYPE, LONG, 1)
        .set(WIDTH, LONG, size[0])
        .set(LENGTH, LONG, size[1])
        .set(BITS, SHORT, [8, 8, 8])
        .set(COMPRESSION, SHORT, JPEG_COMPRESSION)
        .set(PHOTOMETRIC, SHORT, YCBCR)
        .set(STRIP_OFFSETS, LONG, offset)
        .set(SAMPLES, SHORT, 3)
        .set(ROWS_PER_STRIP, LONG, size[1])
        .set(STRIP_BYTE_COUNTS, LONG, len(jpeg))
        .set(PLANAR, SHORT, 1)
    )


def dng_bytes(
    picture: Image.Image,
    *,
    preview: Literal["ifd0", "subifd"] | None = "ifd0",
    preview_picture: Image.Image | None = None,
    sensor: Image.Image | None = None,
    orientation: int = 1,
    taken: str | None = "2019:07:14 16:02:11",
    preview_taken: str | None = None,
    make: str = "Canon",
    model: str = "EOS Hand Made",
) -> bytes:
    """A DNG of ``picture`` as the camera held it (before ``orientation``).

    Args:
        picture: what the sensor saw (RGB, even sides): the raw data, mosaicked.
        preview: where the full-size JPEG preview of ``picture`` goes: ``"ifd0"`` (IFD0 is the
            preview, the raw data a SubIFD), ``"subifd"`` (IFD0 is the raw data, the preview a
            SubIFD), or ``None`` (no preview: only the raw data, in IFD0).
        preview_picture: the preview's picture, when it is not ``picture`` itself (a small
            thumbnail, or a picture unlike the sensor's to tell which one was read).
        sensor: the sensor data's picture, when it is not ``picture`` itself (a small one keeps
            a file with a large preview small).
        orientation: the TIFF ``Orientation`` of IFD0 (6: the camera was held turned right).
        taken: the EXIF ``DateTimeOriginal`` of the file (``None``: none).
        preview_taken: the EXIF date inside the preview JPEG itself (``None``: none).
        make, model: the camera.
    """
    writer = TiffWriter()
    raw_picture = sensor if sensor is not None else picture
    shown = preview_picture if preview_picture is not None else picture
    exif = writer.ifd(Ifd().set(DATE_ORIGINAL, ASCII, taken)) if taken else None
    if preview is None:
        first = _raw_ifd(writer, mosaic(raw_picture), 0)
    else:
        jpeg = jpeg_bytes(shown, taken=preview_taken)
        if preview == "ifd0":
            sub = writer.ifd(_raw_ifd(writer, mosaic(raw_picture), 0))
            first = _preview_ifd(writer, jpeg, shown.size)
        else:
            sub = writer.ifd(_preview_ifd(writer, jpeg, shown.size))
            first = _raw_ifd(writer, mosaic(raw_picture), 0)
        first.set(SUB_IFDS, LONG, sub)
    first.set(MAKE, ASCII, make).set(MODEL, ASCII, model).set(ORIENTATION, SHORT, orientation)
    first.set(DNG_VERSION, BYTE, [1, 4, 0, 0]).set(UNIQUE_MODEL, ASCII, f"{make} {model}")
    if exif is not None:
        first.set(EXIF_IFD, LONG, exif)
    return writer.finish(writer.ifd(first))


def write_dng(path: str | Path, picture: Image.Image, **options: object) -> Path:
    """Write :func:`dng_bytes` of ``picture`` (same options) to ``path``."""
    target = Path(path)
    target.write_bytes(dng_bytes(picture, **options))  # type: ignore[arg-type]
    return target


def large_preview(width: int = 4000, height: int = 3000, seed: int = 0) -> Image.Image:
    """A photo-like picture of ``width`` x ``height`` (12 megapixels by default): smooth
    gradients, a few shapes and noise, so its JPEG is about the size a camera's preview is."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [xx / width * 200 + 30, yy / height * 180 + 40, (xx + yy) / (width + height) * 160 + 50], axis=-1
    )
    small = rng.normal(0, 40, size=(height // 50 + 1, width // 50 + 1, 3)).astype(np.float32)
    texture = np.asarray(
        Image.fromarray(np.clip(small + 128, 0, 255).astype(np.uint8)).resize((width, height)),
        dtype=np.float32,
    )
    noise = rng.normal(0, 6, size=(height, width, 1)).astype(np.float32)
    pixels = np.clip(base + (texture - 128) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def write_large_preview_dng(
    path: str | Path,
    *,
    size: tuple[int, int] = (4000, 3000),
    sensor_scale: int = 16,
    seed: int = 0,
    orientation: int = 1,
) -> Path:
    """A DNG whose full-size JPEG preview is ``size`` (12 megapixels by default, about 3 MB),
    for the benchmarks: the preview is what indexing reads. The sensor data is the picture made
    ``sensor_scale`` times smaller (1: a true-size 16-bit sensor, 24 MB for 12 megapixels), so
    the file stays the size of the preview unless asked."""
    picture = large_preview(*size, seed=seed)
    width, height = (max(2, size[0] // sensor_scale) // 2 * 2, max(2, size[1] // sensor_scale) // 2 * 2)
    sensor = picture if sensor_scale == 1 else picture.resize((width, height), Image.Resampling.BOX)
    return write_dng(path, picture, sensor=sensor, orientation=orientation)


def damaged_nef_bytes() -> bytes:
    """A NEF cut short: a Nikon TIFF whose IFD0 names its raw data in a SubIFD past the end of
    the file (what a copy interrupted after the first kilobytes leaves)."""
    writer = TiffWriter()
    first = (
        Ifd()
        .set(NEW_SUBFILE_TYPE, LONG, 1)
        .set(WIDTH, LONG, 160)
        .set(LENGTH, LONG, 120)
        .set(MAKE, ASCII, "NIKON CORPORATION")
        .set(MODEL, ASCII, "NIKON D850")
        .set(SUB_IFDS, LONG, 1 << 20)
    )
    return writer.finish(writer.ifd(first))[:200]
