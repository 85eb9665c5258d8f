"""A generated corpus of bad and odd image files, beside good ones, for reliability tests.

:func:`build_corpus` writes every case into a folder and returns what each file is and what
indexing must do with it: ``"indexed"`` (a good image, perhaps an unusual one), ``"failed"``
(reported with a reason that contains ``reason``) or ``"ignored"`` (not an image file to the
folder scanner: a directory or a named pipe with an image extension, a file with another
extension). Every good image is a different picture, so none is skipped as a duplicate.

Example:
    >>> import tempfile
    >>> from tests.store.bad_inputs import build_corpus
    >>> cases = build_corpus(tempfile.mkdtemp())
    >>> len([c for c in cases if c.expect == "indexed"]) > 10
    True
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

__all__ = ["Case", "build_corpus", "png_chunk", "unreadable_file"]

Expect = Literal["indexed", "failed", "ignored"]
Size = tuple[int, int]


@dataclass(frozen=True)
class Case:
    """One file of the corpus and what indexing must do with it."""

    name: str  # the file name as written (``os.fsdecode`` of the bytes for non-UTF-8 names)
    path: Path
    expect: Expect
    reason: str = ""  # a part of the failure reason, for ``expect == "failed"``
    size: tuple[int, int] | None = None  # (width, height) of the decoded picture, when known


def _picture(seed: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A distinct RGB picture per seed (so no two good files are duplicates)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload and CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_bomb(width: int, height: int) -> bytes:
    """A valid-looking 1-bit PNG header claiming ``width x height`` pixels, a few hundred bytes long.

    Decoding it in full would need ``width * height`` bytes of memory; a loader must refuse it from
    the header alone.
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    data = zlib.compress(row * 64, 9)  # the first rows only: enough to start decoding
    return _png(header, data)


def _png(header: bytes, data: bytes) -> bytes:
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def unreadable_file(folder: str | os.PathLike[str]) -> Path:
    """A good PNG that nobody but root may read (mode 000)."""
    path = Path(folder) / "unreadable.png"
    _picture(999).save(path)
    path.chmod(0)
    return path


def build_corpus(folder: str | os.PathLike[str]) -> list[Case]:
    """Write the corpus into ``folder`` (created if needed) and return its cases.

    Unreadable permissions are left out (as root every file is readable): see
    :func:`unreadable_file`.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str, data: bytes, expect: Expect, reason: str = "", size: Size | None = None) -> None:
        path = root / name
        path.write_bytes(data)
        cases.append(Case(name, path, expect, reason, size))

    # -- good images, some of them unusual -----------------------------------------------------
    add("good.png", _encoded(_picture(1), "PNG"), "indexed", size=(48, 40))
    add("good.jpg", _encoded(_picture(2), "JPEG", quality=90), "indexed", size=(48, 40))
    add("good.webp", _encoded(_picture(3), "WEBP"), "indexed", size=(48, 40))
    add("good.bmp", _encoded(_picture(4), "BMP"), "indexed", size=(48, 40))
    add("good.tiff", _encoded(_picture(5), "TIFF"), "indexed", size=(48, 40))
    add("UPPER.JPEG", _encoded(_picture(6), "JPEG"), "indexed", size=(48, 40))
    cmyk = Image.new("CMYK", (30, 20), (0, 255, 255, 0))
    add("cmyk.jpg", _encoded(cmyk, "JPEG", quality=95), "indexed", size=(30, 20))
    ramp = (np.arange(32 * 24, dtype=np.uint32).reshape(24, 32) * 85).astype(np.uint16)
    add("sixteen_bit.png", _encoded(Image.fromarray(ramp), "PNG"), "indexed", size=(32, 24))
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([0, 0, 255, 255, 0, 0, 0, 255, 0] + [0] * 759)
    palette.putpixel((3, 3), 1)
    palette.putpixel((5, 5), 2)
    add("palette_transparent.png", _encoded(palette, "PNG", transparency=0), "indexed", size=(16, 16))
    add("palette_transparent.gif", _encoded(palette, "GIF", transparency=0), "indexed", size=(16, 16))
    rgba = Image.new("RGBA", (12, 10), (255, 0, 0, 0))
    rgba.putpixel((1, 1), (0, 0, 255, 255))
    add("transparent.png", _encoded(rgba, "PNG"), "indexed", size=(12, 10))
    add("gray_alpha.png", _encoded(Image.new("LA", (9, 7), (80, 128)), "PNG"), "indexed", size=(9, 7))
    add("bilevel.png", _encoded(_picture(7).convert("1"), "PNG"), "indexed", size=(48, 40))
    floats = np.linspace(0, 1, 20 * 10, dtype=np.float32).reshape(10, 20)
    add("float32.tiff", _encoded(Image.fromarray(floats), "TIFF"), "indexed", size=(20, 10))
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "blue", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)
    add("animated.gif", buffer.getvalue(), "indexed", size=(20, 20))
    buffer = io.BytesIO()
    frames[1].save(buffer, format="PNG", save_all=True, append_images=frames[2:], duration=40)
    add("animated.png", buffer.getvalue(), "indexed", size=(20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 60x20, displayed rotated by 90 degrees: 20x60
    add("exif_rotated.jpg", _encoded(_picture(8, (60, 20)), "JPEG", exif=exif), "indexed", size=(20, 60))
    exif = Image.Exif()
    exif[0x0112] = 42  # no such orientation: ignored
    add("exif_bad_orientation.jpg", _encoded(_picture(9), "JPEG", exif=exif), "indexed", size=(48, 40))
    add("one_pixel.png", _encoded(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"), "indexed", size=(1, 1))
    add("one_pixel.jpg", _encoded(Image.new("RGB", (1, 1), (200, 2, 3)), "JPEG"), "indexed", size=(1, 1))
    add("wide_20000x50.png", _encoded(_picture(10, (20000, 50)), "PNG", compress_level=1), "indexed",
        size=(20000, 50))  # fmt: skip
    add("tall_50x20000.jpg", _encoded(_picture(11, (50, 20000)), "JPEG"), "indexed", size=(50, 20000))
    add("naïve café 🐱 名前.png", _encoded(_picture(12), "PNG"), "indexed", size=(48, 40))
    add("space and\nnewline.png", _encoded(_picture(13), "PNG"), "indexed", size=(48, 40))
    add("-starts-with-dash.png", _encoded(_picture(14), "PNG"), "indexed", size=(48, 40))
    add("x" * 240 + ".png", _encoded(_picture(15), "PNG"), "indexed", size=(48, 40))
    add("png_named.jpg", _encoded(_picture(16), "PNG"), "indexed", size=(48, 40))  # wrong extension
    # a name that is not valid UTF-8 (Latin-1 "é"): Python sees it as "caf\udce9.png"
    raw = os.fsencode(root) + b"/caf\xe9.png"
    with open(raw, "wb") as handle:
        handle.write(_encoded(_picture(17), "PNG"))
    cases.append(Case(os.fsdecode(b"caf\xe9.png"), Path(os.fsdecode(raw)), "indexed", size=(48, 40)))

    # -- bad files: each must be reported with a reason ----------------------------------------
    add("zero_bytes.jpg", b"", "failed", "zero bytes")
    add("zero_bytes.png", b"", "failed", "zero bytes")
    jpeg = _encoded(_picture(20, (200, 150)), "JPEG", quality=90)
    add("truncated.jpg", jpeg[: len(jpeg) // 2], "failed", "truncated")
    add("header_only.jpg", jpeg[:200], "failed", "truncated")
    png = _encoded(_picture(21, (200, 150)), "PNG")
    add("truncated.png", png[: len(png) // 2], "failed", "truncated")
    add("signature_only.png", png[:8], "failed", "truncated")
    corrupt = bytearray(png)
    corrupt[40:60] = b"\xff" * 20  # inside the image data: a CRC and zlib error
    add("corrupt_data.png", bytes(corrupt), "failed", "corrupt")
    gif = _encoded(_picture(22, (64, 64)), "GIF")
    add("truncated.gif", gif[: len(gif) // 2], "failed", "truncated")
    add("text.jpg", b"This is a plain text file, not a picture.\n" * 3, "failed", "text file")
    add("page.jpg", b"<!DOCTYPE html>\n<html><head><title>404</title></head><body>Not found</body></html>",
        "failed", "HTML")  # fmt: skip
    add("page_bom.png", "\ufeff<html><body>saved error page</body></html>".encode(), "failed", "HTML")
    add("json.png", b'{"error": "not found"}', "failed", "text file")
    add("random_bytes.jpg", np.random.default_rng(0).bytes(4096), "failed", "not an image")
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    add("iphone.jpg", heic, "failed", "HEIC")
    add("clip.gif", struct.pack(">I", 20) + b"ftypisom\x00\x00\x02\x00isom" + b"\x00" * 64, "failed", "video")
    add("archive.png", b"PK\x03\x04" + b"\x00" * 60, "failed", "ZIP")
    add("pdf.png", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "failed", "PDF")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="9"/></svg>'
    add("vector.svg.png", svg, "failed", "SVG")
    add("vector_xml.jpg", b'<?xml version="1.0"?>\n' + svg, "failed", "SVG")
    add("vector.svg", svg, "ignored")  # not a raster extension: the scanner leaves it out
    add("bomb.png", _png_bomb(100_000, 100_000), "failed", "decompression bomb")
    add("bomb_just_over.png", _png_bomb(10_000, 9_000), "failed", "decompression bomb")
    add("zero_width.png", _zero_width_png(), "failed", "")

    # -- things that are not files -------------------------------------------------------------
    dangling = root / "dangling.jpg"
    dangling.symlink_to(root / "does-not-exist.jpg")
    cases.append(Case("dangling.jpg", dangling, "failed", "broken symbolic link"))
    loop = root / "loop.png"
    loop.symlink_to(loop)
    cases.append(Case("loop.png", loop, "failed", "broken symbolic link"))
    (root / "folder.jpg").mkdir()
    cases.append(Case("folder.jpg", root / "folder.jpg", "ignored"))
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "pipe.png")  # reading it would block forever: the scanner must skip it
        cases.append(Case("pipe.png", root / "pipe.png", "ignored"))
    (root / "notes.txt").write_text("not an image extension")
    cases.append(Case("notes.txt", root / "notes.txt", "ignored"))
    return cases


def _zero_width_png() -> bytes:
    """A PNG whose header says 0 x 10 pixels (invalid, but some encoders write it)."""
    header = struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 10)
    return _png(header, data)
