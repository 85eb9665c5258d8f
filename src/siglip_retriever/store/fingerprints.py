"""What an image entry records of its picture and its files: a perceptual fingerprint, the
picture's size and date, and every file that holds its content.

- :func:`fingerprint`: the 64-bit perceptual hash (pHash, ``imagehash``) of a picture as it is
  shown (EXIF orientation applied, RGB), as 16 hex digits. Resized, recompressed, EXIF-rotated or
  slightly cropped copies of a picture differ by a few bits (:func:`hash_distance`); distinct
  photos by 20 or more. :data:`SAME_PICTURE_BITS` is the default threshold between the two.
- :class:`PictureFacts` (:func:`picture_facts`): the fingerprint, width, height and EXIF date an
  entry records under :data:`PHASH_KEY`, :data:`WIDTH_KEY`, :data:`HEIGHT_KEY`, :data:`TAKEN_KEY`.
- :class:`StoredFile` (:func:`stored_files`): every file whose bytes are this entry's content,
  recorded as JSON text under :data:`PATHS_KEY` (chromadb metadata values are scalars); the
  primary one (the entry's ``uri``) first.
- :func:`prepare_picture`: decode an image once, for the model and for its facts.

Example:
    >>> from PIL import Image
    >>> from siglip_retriever.store.fingerprints import SAME_PICTURE_BITS, fingerprint, hash_distance
    >>> picture = Image.radial_gradient("L").convert("RGB")
    >>> code = fingerprint(picture)
    >>> len(code), hash_distance(code, fingerprint(picture.resize((100, 100)))) <= SAME_PICTURE_BITS
    (16, True)
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    from PIL.Image import Exif
    from PIL.Image import Image as PILImage

    from siglip_retriever.encoding.images import ImageInput
    from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage

__all__ = [
    "HEIGHT_KEY",
    "PATHS_KEY",
    "PHASH_KEY",
    "SAME_PICTURE_BITS",
    "TAKEN_KEY",
    "WIDTH_KEY",
    "PictureFacts",
    "StoredFile",
    "exif_taken",
    "file_records",
    "files_metadata",
    "fingerprint",
    "hash_distance",
    "paths_value",
    "picture_facts",
    "picture_facts_of",
    "prepare_picture",
    "stored_files",
]

PHASH_KEY, WIDTH_KEY, HEIGHT_KEY, TAKEN_KEY, PATHS_KEY = "phash", "width", "height", "taken", "paths"
"""Metadata keys of an image entry: its fingerprint, size, EXIF date, and the files holding it."""

SAME_PICTURE_BITS = 12
"""Default threshold: fingerprints at most this many bits apart are taken as the same picture
(copies that were resized, recompressed, rotated by EXIF or cropped by a few percent differ by at
most 10 bits; distinct photo-like pictures by 20 or more)."""

_URI, _MTIME, _SIZE = "uri", "mtime_ns", "file_size"  # the keys of store.entries (URI, MTIME, SIZE)
_HEX = re.compile(r"[0-9a-fA-F]{16}")
_EXIF_IFD, _DATE_ORIGINAL, _OFFSET_ORIGINAL = 0x8769, 0x9003, 0x9011
_EXIF_DATE = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


@dataclass(frozen=True)
class PictureFacts:
    """What an image entry records of its picture (``None``: not recorded, or not known).

    Attributes:
        phash: the picture's :func:`fingerprint` (16 hex digits).
        width, height: its size in pixels, after EXIF orientation.
        taken: when it was taken (EXIF ``DateTimeOriginal``) as ISO 8601 text, such as
            ``"2019-07-14T16:02:11"`` (with ``+02:00`` when the camera recorded its offset).

    Example:
        >>> facts = PictureFacts("ffd8000000000000", 640, 480, None)
        >>> facts.metadata()
        {'phash': 'ffd8000000000000', 'width': 640, 'height': 480}
    """

    phash: str | None
    width: int | None
    height: int | None
    taken: str | None

    def metadata(self) -> dict[str, Any]:
        """The facts as metadata to store: the keys of known facts only."""
        values = {
            PHASH_KEY: self.phash,
            WIDTH_KEY: self.width,
            HEIGHT_KEY: self.height,
            TAKEN_KEY: self.taken,
        }
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class StoredFile:
    """One file whose bytes are an entry's content.

    Attributes:
        path: the file, as indexing names it (an absolute path, or a URI such as ``s3://...``).
        size: its size in bytes, when it was last indexed.
        modified: its modification time then, in seconds since the epoch.

    Example:
        >>> StoredFile("/photos/a.jpg", 1024, 1.5e9).path
        '/photos/a.jpg'
    """

    path: str
    size: int
    modified: float


def fingerprint(picture: PILImage) -> str:
    """The perceptual hash (``imagehash.phash``, 64 bits) of ``picture`` as it is shown: EXIF
    orientation applied, transparency on white, as 16 lowercase hex digits.

    Example:
        >>> from PIL import Image
        >>> fingerprint(Image.new("RGB", (64, 64), "white"))
        '8000000000000000'
    """
    from siglip_retriever.encoding.images import load_image

    return _phash(load_image(picture, max_pixels=None))


def _phash(rgb: PILImage) -> str:
    """The fingerprint of a picture already oriented and in RGB."""
    import imagehash

    return str(imagehash.phash(rgb, hash_size=8))


def hash_distance(a: str, b: str) -> int:
    """How many of the 64 bits of two fingerprints differ (0: the same hash).

    Raises:
        ConfigurationError: either is not 16 hex digits.

    Example:
        >>> hash_distance("ffffffffffffffff", "fffffffffffffff0")
        4
    """
    for code in (a, b):
        if not isinstance(code, str) or not _HEX.fullmatch(code):
            raise ConfigurationError(
                f"{code!r} is not a picture fingerprint: expected 16 hex digits, as fingerprint() gives"
            )
    return (int(a, 16) ^ int(b, 16)).bit_count()


def exif_taken(exif: Exif) -> str | None:
    """When the picture was taken, from its EXIF ``DateTimeOriginal``, as ISO 8601 text
    (``None``: not recorded, or not a real date).

    Example:
        >>> from PIL import Image
        >>> exif = Image.Exif()
        >>> exif.get_ifd(0x8769)[0x9003] = "2019:07:14 16:02:11"
        >>> exif_taken(exif)
        '2019-07-14T16:02:11'
    """
    try:
        ifd = exif.get_ifd(_EXIF_IFD)
        text, offset = ifd.get(_DATE_ORIGINAL), ifd.get(_OFFSET_ORIGINAL)
    except Exception:  # a broken EXIF block: no date
        return None
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


def _taken_of(source: object) -> str | None:
    """The EXIF date of an encoded image (bytes, a local file) or a PIL picture, reading no pixels."""
    from PIL import Image

    try:
        if isinstance(source, Image.Image):
            return exif_taken(source.getexif())
        if isinstance(source, (bytes, bytearray, memoryview)):
            with Image.open(io.BytesIO(bytes(source))) as image:
                return exif_taken(image.getexif())
        if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
            with Image.open(source) as image:
                return exif_taken(image.getexif())
    except Exception:  # no readable EXIF: no date (the picture itself decoded, or failed, elsewhere)
        return None
    return None


def prepare_picture(preparer: ImagePreparer, image: ImageInput) -> tuple[PreparedImage, PictureFacts]:
    """Decode ``image`` once: what the model takes (as ``preparer(image)`` gives it) and the
    picture's :class:`PictureFacts` (the fingerprint of the picture as decoded for the model).

    Raises:
        ImageLoadError: the image cannot be read; the message names it.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever import SiglipEncoder
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()))
        >>> prepared, facts = prepare_picture(encoder.image_preparer(), Image.new("RGB", (64, 48)))
        >>> (prepared.width, prepared.height), (facts.width, facts.height)
        ((64, 48), (64, 48))
    """
    decoded = preparer.decode(image)
    facts = PictureFacts(_phash(decoded.image), decoded.width, decoded.height, _taken_of(image))
    return preparer.preprocess(decoded), facts


def picture_facts_of(preparer: ImagePreparer, image: ImageInput) -> PictureFacts:
    """The :class:`PictureFacts` of an image decoded as :func:`prepare_picture` decodes it for
    ``preparer``'s model (so the fingerprint is the one indexing records), without preprocessing.

    Raises:
        ImageLoadError: the image cannot be read; the message names it.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever import SiglipEncoder
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> preparer = SiglipEncoder(build_checkpoint(tempfile.mkdtemp())).image_preparer()
        >>> picture = Image.new("RGB", (64, 48), "red")
        >>> picture_facts_of(preparer, picture) == prepare_picture(preparer, picture)[1]
        True
    """
    decoded = preparer.decode(image)
    return PictureFacts(_phash(decoded.image), decoded.width, decoded.height, _taken_of(image))


def picture_facts(metadata: Mapping[str, Any] | None) -> PictureFacts:
    """The :class:`PictureFacts` an entry's metadata records (a value of the wrong type: ``None``).

    Example:
        >>> picture_facts({"phash": "00ff00ff00ff00ff", "width": 640, "height": 480})
        PictureFacts(phash='00ff00ff00ff00ff', width=640, height=480, taken=None)
    """
    meta = metadata or {}
    code = meta.get(PHASH_KEY)
    taken = meta.get(TAKEN_KEY)
    return PictureFacts(
        phash=code.lower() if isinstance(code, str) and _HEX.fullmatch(code) else None,
        width=_count(meta.get(WIDTH_KEY)),
        height=_count(meta.get(HEIGHT_KEY)),
        taken=taken if isinstance(taken, str) and taken else None,
    )


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def file_records(metadata: Mapping[str, Any] | None) -> list[tuple[str, int, int]]:
    """``(path, mtime_ns, size)`` of every file an entry records, primary first: the ``paths``
    JSON, or for entries written before it (or with it unreadable) the entry's ``uri`` alone.

    Example:
        >>> file_records({"uri": "/p/a.jpg", "mtime_ns": 5, "file_size": 9})
        [('/p/a.jpg', 5, 9)]
        >>> file_records({"uri": "/p/a.jpg", "paths": paths_value([("/p/a.jpg", 5, 9), ("/q/a.jpg", 6, 9)])})
        [('/p/a.jpg', 5, 9), ('/q/a.jpg', 6, 9)]
    """
    meta = metadata or {}
    records = _parse_paths(meta.get(PATHS_KEY))
    if records:
        return records
    uri = meta.get(_URI)
    if not uri:
        return []
    return [(str(uri), _int(meta.get(_MTIME)), _int(meta.get(_SIZE)))]


def _parse_paths(value: Any) -> list[tuple[str, int, int]]:
    if not isinstance(value, str):
        return []
    try:
        items = json.loads(value)
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    records = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("path"), str) and item["path"]:
            records.append((item["path"], _int(item.get("mtime_ns")), _int(item.get("size"))))
    return records


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else -1


def paths_value(records: Sequence[tuple[str, int, int]]) -> str:
    """The ``paths`` metadata value of ``(path, mtime_ns, size)`` records: JSON text, in order.

    Example:
        >>> paths_value([("/p/a.jpg", 5, 9)])
        '[{"path": "/p/a.jpg", "mtime_ns": 5, "size": 9}]'
    """
    return json.dumps(
        [{"path": path, "mtime_ns": int(mtime), "size": int(size)} for path, mtime, size in records],
        ensure_ascii=False,
    )


def files_metadata(records: Sequence[tuple[str, int, int]]) -> dict[str, Any]:
    """What an entry records of its files, given as ``(path, mtime_ns, size)`` records: the
    primary one (the first: ``uri``, ``mtime_ns``, ``file_size``) and all of them (``paths``).

    Raises:
        ConfigurationError: ``records`` is empty.

    Example:
        >>> files_metadata([("/p/a.jpg", 5, 9)])["uri"]
        '/p/a.jpg'
    """
    if not records:
        raise ConfigurationError("an entry's files cannot be empty: delete the entry instead")
    path, mtime, size = records[0]
    return {_URI: path, _MTIME: int(mtime), _SIZE: int(size), PATHS_KEY: paths_value(records)}


def stored_files(metadata: Mapping[str, Any] | None) -> list[StoredFile]:
    """Every file that holds an entry's content, the primary one (its ``uri``) first; ``[]`` for
    entries not indexed from files.

    Example:
        >>> [f.path for f in stored_files({"uri": "/p/a.jpg", "mtime_ns": 1_500_000_000_000_000_000})]
        ['/p/a.jpg']
    """
    return [
        StoredFile(path, size, mtime / 1e9 if mtime >= 0 else 0.0)
        for path, mtime, size in file_records(metadata)
    ]
