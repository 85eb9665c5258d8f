"""What an image entry records of its picture: :class:`PictureFacts` (its fingerprint, size and
EXIF date), read from the picture as it is decoded for the model.

- :func:`prepare_picture`: decode an image once, for the model and for its facts (indexing and
  ``add_images``); :func:`picture_facts_of`: the same facts without preprocessing (bringing older
  entries' facts up to date);
- :meth:`PictureFacts.metadata` and :func:`picture_facts`: the facts written as an entry's
  metadata (under :data:`~siglip_retriever.store.metadata.PHASH`, ``WIDTH``, ``HEIGHT``,
  ``TAKEN``) and read back from it;
- :func:`exif_taken`: when a picture was taken, from its EXIF.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import SiglipEncoder
    >>> from siglip_retriever.store.facts import picture_facts, picture_facts_of, prepare_picture
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> preparer = SiglipEncoder(build_checkpoint(tempfile.mkdtemp())).image_preparer()
    >>> picture = Image.new("RGB", (64, 48), "red")
    >>> prepared, facts = prepare_picture(preparer, picture)
    >>> (prepared.width, prepared.height), (facts.width, facts.height)
    ((64, 48), (64, 48))
    >>> picture_facts_of(preparer, picture) == facts == picture_facts(facts.metadata())
    True
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siglip_retriever.store.fingerprints import is_fingerprint, rgb_fingerprint
from siglip_retriever.store.metadata import HEIGHT, PHASH, TAKEN, WIDTH

if TYPE_CHECKING:
    from PIL.Image import Exif

    from siglip_retriever.encoding.images import DecodedImage, ImageInput
    from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage

__all__ = ["PictureFacts", "exif_taken", "picture_facts", "picture_facts_of", "prepare_picture"]

_EXIF_IFD, _DATE_ORIGINAL, _OFFSET_ORIGINAL = 0x8769, 0x9003, 0x9011
_EXIF_DATE = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


@dataclass(frozen=True)
class PictureFacts:
    """What an image entry records of its picture (``None``: not recorded, or not known).

    Attributes:
        phash: the picture's :func:`~siglip_retriever.store.fingerprints.fingerprint` (16 hex digits).
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
        values = {PHASH: self.phash, WIDTH: self.width, HEIGHT: self.height, TAKEN: self.taken}
        return {key: value for key, value in values.items() if value is not None}


def picture_facts(metadata: Mapping[str, Any] | None) -> PictureFacts:
    """The :class:`PictureFacts` an entry's metadata records (a value of the wrong type: ``None``).

    Example:
        >>> picture_facts({"phash": "00ff00ff00ff00ff", "width": 640, "height": 480})
        PictureFacts(phash='00ff00ff00ff00ff', width=640, height=480, taken=None)
    """
    meta = metadata or {}
    code = meta.get(PHASH)
    taken = meta.get(TAKEN)
    return PictureFacts(
        phash=code.lower() if isinstance(code, str) and is_fingerprint(code) else None,
        width=_count(meta.get(WIDTH)),
        height=_count(meta.get(HEIGHT)),
        taken=taken if isinstance(taken, str) and taken else None,
    )


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def prepare_picture(preparer: ImagePreparer, image: ImageInput) -> tuple[PreparedImage, PictureFacts]:
    """Decode ``image`` once: what the model takes (as ``preparer(image)`` gives it) and the
    picture's :class:`PictureFacts` (the fingerprint of the picture as decoded for the model).

    Raises:
        ImageLoadError: the image cannot be read; the message names it.
    """
    decoded = preparer.decode(image)
    return preparer.preprocess(decoded), _facts(decoded, image)


def picture_facts_of(preparer: ImagePreparer, image: ImageInput) -> PictureFacts:
    """The :class:`PictureFacts` of an image decoded as :func:`prepare_picture` decodes it for
    ``preparer``'s model (so the fingerprint is the one indexing records), without preprocessing.

    Raises:
        ImageLoadError: the image cannot be read; the message names it.
    """
    return _facts(preparer.decode(image), image)


def _facts(decoded: DecodedImage, image: ImageInput) -> PictureFacts:
    """The facts of a picture as ``preparer.decode`` gave it; its EXIF date read from ``image``."""
    return PictureFacts(rgb_fingerprint(decoded.image), decoded.width, decoded.height, _taken_of(image))


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
