"""Turn any image input into an RGB PIL image.

Accepted inputs (:data:`ImageInput`):

- a path (``str`` or :class:`os.PathLike`) to an image file;
- ``bytes`` / ``bytearray`` / ``memoryview`` holding an encoded image;
- a binary file object (anything with ``read()``);
- a :class:`PIL.Image.Image`;
- a numpy array: ``(H, W)`` grayscale, ``(H, W, 1|3|4)`` or ``(1|3|4, H, W)``, ``uint8`` or
  float (``0..1``; floats above 1 are taken as ``0..255``);
- a ``data:image/...;base64,...`` URI, or a bare base64 string of an encoded image;
- an ``http(s)://`` URL, only when ``allow_urls`` is given (see :mod:`siglip_retriever.encoding.remote`);
  otherwise a URL is refused with :class:`~siglip_retriever.errors.UrlNotAllowedError`.

Formats: everything Pillow reads (JPEG, PNG, WebP, AVIF, GIF, BMP, TIFF, ...), HEIC/HEIF, the
default format of iPhone photos, through the ``pillow-heif`` plugin (registered on the first
decode, see :func:`enable_plugins`), and camera RAW files through rawpy, the ``raw`` extra (their
embedded preview, else their sensor data: :mod:`~siglip_retriever.encoding.raw`).

What happens on the way: EXIF orientation is applied; palette, RGBA/LA (composited on white),
CMYK, 16-bit, 32-bit and grayscale images become 8-bit RGB; animated images and multi-page TIFFs
give their first frame; images with more than ``max_pixels`` pixels are refused (a
decompression-bomb guard); large JPEG files are decoded at a reduced scale (``Image.draft``) when
``target_size`` is much smaller than the file, which halves decode time for phone photos.
:func:`decode_image` also says the picture's own size, whatever size it was decoded at, and
:func:`image_size` reads that size from the file's header alone.

Then the picture is made as small as its next step needs, the same way for every input kind (a
path, bytes, a PIL image or an array of the same pixels give the same picture): by a ``resize`` of
the caller's own, such as the encoder's, which goes straight to its model's input size with its
processor's own filter; or, with ``target_size`` alone, by a box reduction by a whole factor that
leaves both sides at least twice ``target_size``. Either way a 50-megapixel PNG leaves this module
as a small picture.

Every failure raises :class:`~siglip_retriever.errors.ImageLoadError` naming the input, with a
reason that says what the input is when it is not an image (an HTML page, a text file, an SVG, a
PDF, a HEIC photo, a corrupt PNG...).

Example:
    >>> import numpy as np
    >>> from siglip_retriever.encoding.images import load_image
    >>> load_image(np.zeros((4, 6), dtype=np.uint8)).size
    (6, 4)
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from siglip_retriever.encoding.raw import RawFacts, raw_bytes, raw_size, read_raw
from siglip_retriever.encoding.remote import looks_like_url, redact, resolve_url_policy
from siglip_retriever.encoding.sniffing import read_head, what_is
from siglip_retriever.errors import ImageLoadError, InputTypeError

if TYPE_CHECKING:
    from siglip_retriever.encoding.remote import UrlPolicy

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DecodedImage",
    "ImageInput",
    "Resize",
    "decode_image",
    "describe_source",
    "enable_plugins",
    "image_list",
    "image_size",
    "load_image",
]

ImageInput = Union[  # noqa: UP007 - a runtime alias; X | Y of these fails on Python 3.10
    str, os.PathLike, bytes, bytearray, memoryview, IO[bytes], Image.Image, np.ndarray
]
"""Everything :func:`load_image` accepts."""

Resize = Callable[[Image.Image], Image.Image]
"""A resize applied to every decoded picture (8-bit RGB, or grayscale ``"L"`` that becomes RGB
afterwards; EXIF orientation applied) that returns a new picture, such as the one a model takes
(see :meth:`~siglip_retriever.encoding.preparing.ImagePreparer.resize`)."""

DEFAULT_MAX_PIXELS = 89_478_485
"""Pillow's own decompression-bomb threshold (about 89 megapixels); larger images are refused."""

_DATA_URI = re.compile(
    r"data:(?P<mime>[\w/+.-]*)(?P<params>(;[\w=.-]+)*?)(?P<b64>;base64)?,(?P<data>.*)", re.S
)
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s_-]+")
_DRAFT_FACTOR = 2  # decode JPEGs at reduced scale only when the file is at least this much larger
_ORIENTATION = 0x0112  # the EXIF tag
_TRANSPOSED = (5, 6, 7, 8)  # orientations that swap width and height
_TURNS = (2, 3, 4, 5, 6, 7, 8)  # orientations that move pixels


@dataclass(frozen=True)
class DecodedImage:
    """A decoded picture, and the size of the picture itself.

    Attributes:
        image: the picture as 8-bit RGB, EXIF orientation applied, then made smaller: by the
            ``resize`` given to :func:`decode_image`, or for its ``target_size``.
        width, height: the picture's own size in pixels after EXIF orientation, whatever size
            ``image`` was decoded at: what a photo viewer shows as its size.
        resized: ``image`` is what the ``resize`` given to :func:`decode_image` returned.
        raw: a camera RAW file's own facts (the sensor's size, the date); ``None`` for others.
    """

    image: Image.Image
    width: int
    height: int
    resized: bool = False
    raw: RawFacts | None = None


@cache
def enable_plugins() -> bool:
    """Register the Pillow plugins for formats Pillow does not read by itself; ``True`` when the
    HEIC/HEIF plugin (``pillow-heif``, a dependency) is there.

    Called before every decode; cheap after the first call. Call it yourself before opening
    images with Pillow directly (``Image.open``) to read HEIC photos too.
    """
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # a broken or removed install: HEIC files then say what they are
        return False
    register_heif_opener()
    return True


def describe_source(source: object) -> str:
    """A short, human-readable name for an image input, used in error messages and reports."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        text = text if isinstance(text, str) else os.fsdecode(text)
        if text.startswith("data:"):
            return f"data URI ({len(text)} chars)"
        if looks_like_url(text):
            return redact(text)
        if _looks_like_base64(text) and not _exists(Path(text)):
            return f"base64 string ({len(text)} chars)"
        return text if len(text) <= 200 else text[:197] + "..."
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"bytes ({len(source)} B)"
    if isinstance(source, Image.Image):
        return f"PIL image ({source.mode}, {source.size[0]}x{source.size[1]})"
    if isinstance(source, np.ndarray):
        return f"numpy array {tuple(source.shape)} {source.dtype}"
    if hasattr(source, "inputs") and hasattr(source, "model_id"):  # a PreparedImage
        return f"prepared image ({getattr(source, 'width', '?')}x{getattr(source, 'height', '?')})"
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return f"file object {name}" if isinstance(name, str) else "file object"
    return f"object of type {type(source).__name__}"


def image_list(images: object, *, what: str = "encode_images") -> list[Any]:
    """``images`` as a list, after checking that it is a list and not one image.

    Raises:
        InputTypeError: ``images`` is one image (a path, bytes, an array, a PIL image).

    Example:
        >>> len(image_list(("a.jpg", "b.png")))
        2
    """
    if isinstance(images, (str, bytes, os.PathLike, np.ndarray)) or hasattr(images, "mode"):
        raise InputTypeError(f"{what} takes a list of images; wrap one image in a list")
    return list(images)  # type: ignore[call-overload]


def load_image(
    source: ImageInput,
    *,
    target_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    allow_urls: bool | UrlPolicy = False,
    resize: Resize | None = None,
) -> Image.Image:
    """Load ``source`` as an 8-bit RGB :class:`PIL.Image.Image`.

    :func:`decode_image` does the same, and also says the picture's own size.

    Args:
        source: any :data:`ImageInput`.
        target_size: the side in pixels the image will be resized to afterwards. When a JPEG is
            at least twice as large, it is decoded at a reduced scale that is still at least
            ``target_size`` on both sides. Without ``resize``, a picture of any input kind whose
            sides are both at least four times ``target_size`` is then reduced by a whole factor
            (box averages) while both stay at least twice ``target_size``. ``None`` keeps the
            full size.
        max_pixels: refuse images with more pixels than this (``None``: no limit; Pillow's own
            guard, ``PIL.Image.MAX_IMAGE_PIXELS``, still refuses twice its value).
        allow_urls: fetch ``http(s)://`` URLs: ``True`` under the default
            :class:`~siglip_retriever.encoding.remote.UrlPolicy`, or a policy of your own. ``False`` (the
            default) refuses every URL.
        resize: applied to the RGB picture right after decoding, whatever the input kind, in
            place of the whole-factor reduction: the encoder resizes there straight to its
            model's input size, with its processor's own filter.

    Returns:
        A new RGB image; the caller may modify it.

    Raises:
        ImageLoadError: the input cannot be read; the message names the input and the reason.
            :class:`~siglip_retriever.errors.RemoteImageError` (a subclass) for URLs.
    """
    return decode_image(
        source, target_size=target_size, max_pixels=max_pixels, allow_urls=allow_urls, resize=resize
    ).image


def decode_image(
    source: ImageInput,
    *,
    target_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    allow_urls: bool | UrlPolicy = False,
    resize: Resize | None = None,
) -> DecodedImage:
    """Decode ``source`` as :func:`load_image` does, and say the picture's own size.

    ``width`` and ``height`` are those of the picture after EXIF orientation, also when a large
    JPEG was decoded at a reduced scale for ``target_size``.

    Raises:
        ImageLoadError: as :func:`load_image`.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buffer = io.BytesIO()
        >>> Image.new("RGB", (640, 480), "red").save(buffer, format="JPEG")
        >>> decoded = decode_image(buffer.getvalue(), target_size=224)
        >>> decoded.image.size, (decoded.width, decoded.height)
        ((320, 240), (640, 480))
        >>> square = decode_image(buffer.getvalue(), resize=lambda picture: picture.resize((40, 40)))
        >>> square.image.size, (square.width, square.height), square.resized
        ((40, 40), (640, 480), True)
    """
    policy = resolve_url_policy(allow_urls)
    with _named_errors(describe_source(source)):
        if isinstance(source, Image.Image):
            _check_pixels(source, max_pixels)
            oriented = _upright(source)
            return _finished(oriented, source, oriented.size, target_size, resize)
        if isinstance(source, np.ndarray):
            picture = _from_array(source)
            return _finished(picture, None, picture.size, target_size, resize)
        data = _open_bytes_or_path(source, policy)
        return _decode(data, target_size=target_size, max_pixels=max_pixels, resize=resize)


def image_size(source: str | os.PathLike[str] | bytes | IO[bytes]) -> tuple[int, int]:
    """``(width, height)`` of the picture in a file, after EXIF orientation, read from its header
    alone (no pixel is decoded): the size :func:`decode_image` reports.

    Raises:
        ImageLoadError: the file cannot be read or is not an image.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buffer = io.BytesIO()
        >>> exif = Image.Exif()
        >>> exif[0x0112] = 6  # shot with the phone on its side: shown rotated a quarter turn
        >>> Image.new("RGB", (640, 480)).save(buffer, format="JPEG", exif=exif.tobytes())
        >>> image_size(buffer.getvalue())
        (480, 640)
    """
    with _named_errors(describe_source(source)):
        data = _open_bytes_or_path(source, None)
        whole = raw_bytes(data)
        if whole is not None:  # a camera RAW file: its preview's size, else its sensor's
            return raw_size(whole)
        enable_plugins()
        with _open(data) as image:
            width, height = image.size
            # Pillow's TIFF reader and pillow-heif give the oriented size already
            turned = image.format not in ("TIFF", "HEIF") and _orientation(image) in _TRANSPOSED
            return (height, width) if turned else (width, height)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except (*_DECODER_FAILURES, OSError, ValueError, SyntaxError):  # a broken EXIF block
        return 1
    return value if isinstance(value, int) else 1


@contextmanager
def _named_errors(name: str) -> Iterator[None]:
    """Turn whatever reading an image raises into :class:`ImageLoadError` naming ``name``."""
    try:
        yield
    except ImageLoadError as exc:
        if exc.source == name:
            raise
        raise type(exc)(name, exc.reason) from exc
    except Image.DecompressionBombError as exc:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ImageLoadError(
            name,
            f"image too large, a possible decompression bomb ({exc}); if the file is trusted, raise "
            f"PIL.Image.MAX_IMAGE_PIXELS (Pillow refuses more than {limit:,} pixels) and max_pixels",
        ) from None
    except UnidentifiedImageError:
        raise ImageLoadError(name, "not an image file, or a format Pillow cannot read") from None
    except FileNotFoundError:
        raise ImageLoadError(name, "file not found") from None
    except IsADirectoryError:
        raise ImageLoadError(name, "is a directory, not an image file") from None
    except PermissionError:
        raise ImageLoadError(name, "permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason.lower() or isinstance(exc, EOFError):
            reason = f"truncated or corrupt file ({reason})"
        raise ImageLoadError(name, reason) from exc


def _check_pixels(image: Image.Image, max_pixels: int | None) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageLoadError(describe_source(image), f"image has no pixels ({width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageLoadError(
            describe_source(image),
            f"{width}x{height} = {width * height:,} pixels is more than the limit of "
            f"{max_pixels:,} (a possible decompression bomb); raise max_pixels if the file is "
            "trusted",
        )


def _open_bytes_or_path(source: object, policy: UrlPolicy | None) -> IO[bytes] | str:
    """Return a readable binary stream or a path for ``Image.open``."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageLoadError(describe_source(source), "empty input (zero bytes)")
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
        return _open_text(text, policy)
    if hasattr(source, "read"):  # one that cannot seek is read whole, as Pillow would, to look twice
        seekable = getattr(source, "seekable", None)
        return source if seekable is not None and seekable() else io.BytesIO(source.read())  # type: ignore
    raise ImageLoadError(
        describe_source(source),
        "unsupported input type; pass a path, bytes, a binary file object, a PIL image, "
        "a numpy array, a data: URI or a base64 string",
    )


def _open_text(text: str, policy: UrlPolicy | None) -> IO[bytes] | str:
    stripped = text.strip()
    if stripped.startswith("data:"):
        match = _DATA_URI.fullmatch(stripped)
        if match is None:
            raise ImageLoadError(describe_source(text), "malformed data URI")
        if not match["b64"]:
            raise ImageLoadError(describe_source(text), "data URI is not base64-encoded")
        return io.BytesIO(_b64decode(match["data"], text))
    if looks_like_url(stripped) and not _exists(Path(text)):
        return io.BytesIO(_fetch(stripped, policy))
    path = _expand(text)
    exists = _exists(path)
    if exists or not _looks_like_base64(stripped):
        if not exists:
            raise FileNotFoundError(text)
        if path.stat().st_size == 0 and path.is_file():
            raise ImageLoadError(str(path), "empty file (zero bytes)")
        return str(path)
    return io.BytesIO(_b64decode(stripped, text))


def _fetch(url: str, policy: UrlPolicy | None) -> bytes:
    from siglip_retriever.errors import RemoteImageError, UrlNotAllowedError

    if policy is None:
        raise UrlNotAllowedError(
            redact(url),
            "loading images from URLs is off; pass allow_urls=True (or a UrlPolicy) to load_image or "
            "SiglipEncoder to fetch http(s) URLs, or download the file first",
        )
    data = policy.fetch(url)
    if not data:
        raise RemoteImageError(redact(url), "the server sent an empty reply (zero bytes)")
    return data


def _expand(text: str) -> Path:
    """``text`` as a path, with ``~`` expanded where a home directory is known."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~someone" with no such user: a name, not a home directory
        return Path(text)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, or with a NUL byte, is no file
        return False


def _looks_like_base64(text: str) -> bool:
    return len(text) >= 64 and _BASE64.fullmatch(text) is not None


def _b64decode(data: str, source: str) -> bytes:
    try:
        cleaned = re.sub(r"\s+", "", data)
        cleaned += "=" * (-len(cleaned) % 4)
        altchars = b"-_" if ("-" in cleaned or "_" in cleaned) else None
        decoded = base64.b64decode(cleaned, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageLoadError(describe_source(source), f"invalid base64 ({exc})") from None
    if not decoded:
        raise ImageLoadError(describe_source(source), "empty input (zero bytes)")
    return decoded


def _open(data: IO[bytes] | str) -> Image.Image:
    """``Image.open``, with a file Pillow cannot identify said for what it is."""
    try:
        return Image.open(data)
    except UnidentifiedImageError:
        raise ImageLoadError(describe_source(data), what_is(read_head(data))) from None
    except _DECODER_FAILURES as exc:
        raise ImageLoadError(describe_source(data), _decoder_failure(exc)) from exc


def _decode(
    data: IO[bytes] | str, *, target_size: int | None, max_pixels: int | None, resize: Resize | None
) -> DecodedImage:
    enable_plugins()
    whole = raw_bytes(data)
    if whole is not None:  # a camera RAW file: its preview, or its sensor data developed
        raw = read_raw(whole, target_size=target_size, max_pixels=max_pixels)
        decoded = _finished(raw.image, None, (raw.width, raw.height), target_size, resize)
        return replace(decoded, raw=raw.facts)
    with _open(data) as image:
        _check_pixels(image, max_pixels)
        try:
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            full = image.size
            if target_size and image.format == "JPEG":
                width, height = image.size
                if min(width, height) >= _DRAFT_FACTOR * target_size:
                    image.draft("RGB", (target_size, target_size))
            image.load()
            loaded = image.size
            oriented = _upright(image)
            turned = oriented.size != loaded and oriented.size == loaded[::-1]
            size = full[::-1] if turned else full
            return _finished(oriented, image, size, target_size, resize)
        except _DECODER_FAILURES as exc:
            raise ImageLoadError(describe_source(data), _decoder_failure(exc)) from exc


def _upright(image: Image.Image) -> Image.Image:
    """``image`` turned as its EXIF orientation says; ``image`` itself (no copy) when it says nothing."""
    if _orientation(image) in _TURNS:
        return ImageOps.exif_transpose(image) or image
    return image


def _finished(
    picture: Image.Image,
    original: Image.Image | None,
    size: tuple[int, int],
    target_size: int | None,
    resize: Resize | None,
) -> DecodedImage:
    """``picture`` (upright, any mode) as 8-bit RGB made small, the same way for every input kind:
    by ``resize``, or reduced for ``target_size``. The result is a new image, never ``original``
    (the caller's PIL image, or the decoder's, which closes with its file). RGB pictures are not
    copied at full size on the way, and grayscale ones are made small before they become RGB (the
    same pixels, without a full-size RGB copy)."""
    gray = picture.mode == "L" and "transparency" not in picture.info
    rgb = picture if gray else _to_rgb(picture)
    small = resize(rgb) if resize is not None else _reduced(rgb, target_size)
    if gray:
        small = small.convert("RGB")
    elif small is original:
        small = small.copy()
    return DecodedImage(small, *size, resized=resize is not None)


def _reduced(image: Image.Image, target_size: int | None) -> Image.Image:
    """``image`` reduced by a whole factor (box averages) while both sides stay at least twice
    ``target_size``: a 50-megapixel PNG bound for a 224-pixel model leaves the decoder as a small
    picture, not a second full-size copy. JPEGs got there already through ``draft``."""
    if not target_size:
        return image
    factor = min(image.size) // (_DRAFT_FACTOR * target_size)
    return image.reduce(factor) if factor >= 2 else image


# What Pillow's decoders raise, besides OSError/ValueError/SyntaxError, on some corrupt files (a
# TIFF with no width tag gives TypeError, found by the property tests). Caught only around
# Pillow's own calls, so a bug elsewhere in this module still shows as what it is.
_DECODER_FAILURES = (
    TypeError,
    KeyError,
    IndexError,
    struct.error,
    ZeroDivisionError,
    OverflowError,
    RuntimeError,
    AttributeError,
)


def _decoder_failure(exc: BaseException) -> str:
    return f"corrupt file: the decoder failed ({type(exc).__name__}: {exc})"


def _to_rgb(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit RGB: ``image`` itself when it is RGB already, else a new image."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _from_array(np.asarray(image), high_bit_depth=mode != "F")
    if mode == "P":
        has_alpha = "transparency" in image.info or (
            image.palette is not None and image.palette.mode == "RGBA"
        )
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
    elif mode in ("LA", "La", "PA", "RGBa") or (mode == "L" and "transparency" in image.info):
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image)  # its alpha band, without a copy of it
        return background
    return image.convert("RGB")


def _from_array(array: np.ndarray, *, high_bit_depth: bool = False) -> Image.Image:
    """Convert a numpy array (HW, HWC or CHW; uint8, 16-bit or float) to RGB."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageLoadError(
            describe_source(array),
            "expected an array shaped (H, W), (H, W, 1|3|4) or (1|3|4, H, W)",
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageLoadError(describe_source(array), "array has no pixels")
    a = _to_uint8(a, high_bit_depth=high_bit_depth, source=array)
    if a.ndim == 2:
        return Image.fromarray(a, mode="L").convert("RGB")
    if a.shape[2] == 4:
        return _to_rgb(Image.fromarray(a, mode="RGBA"))
    return Image.fromarray(np.ascontiguousarray(a), mode="RGB")


def _to_uint8(a: np.ndarray, *, high_bit_depth: bool, source: Any) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageLoadError(describe_source(source), "array contains NaN or infinity")
        if a.size and float(a.max()) <= 1.0:
            a = np.clip(a, 0.0, 1.0) * 255.0
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        peak = int(a.max()) if a.size else 0
        if high_bit_depth or peak > 255:
            bits = 16 if peak <= 65535 else 32
            return (a.astype(np.float64) / (2**bits - 1) * 255).round().clip(0, 255).astype(np.uint8)
        return np.clip(a, 0, 255).astype(np.uint8)
    raise ImageLoadError(describe_source(source), f"unsupported array dtype {a.dtype}")
