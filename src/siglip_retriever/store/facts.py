"""What an image entry records of its picture: :class:`PictureFacts` (its fingerprint, size and
EXIF date, and a camera RAW file's sensor size), read from the picture as it is decoded for the
model.

- :func:`prepare_picture`: decode an image once, for the model and for its facts (indexing and
  ``add_images``); :func:`picture_facts_of`: the same facts without preprocessing (bringing older
  entries' facts up to date);
- :meth:`PictureFacts.metadata` and :func:`picture_facts`: the facts written as an entry's
  metadata (under :data:`~siglip_retriever.store.metadata.PHASH`, ``WIDTH``, ``HEIGHT``,
  ``TAKEN``, ``SENSOR_WIDTH``, ``SENSOR_HEIGHT``) and read back from it;
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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siglip_retriever.encoding.raw import exif_date
from siglip_retriever.store.fingerprints import is_fingerprint, rgb_fingerprint
from siglip_retriever.store.metadata import HEIGHT, PHASH, SENSOR_HEIGHT, SENSOR_WIDTH, TAKEN, WIDTH

if TYPE_CHECKING:
    from PIL.Image import Exif

    from siglip_retriever.encoding.images import DecodedImage, ImageInput
    from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage

__all__ = ["PictureFacts", "exif_taken", "picture_facts", "picture_facts_of", "prepare_picture"]

_EXIF_IFD, _DATE_ORIGINAL, _OFFSET_ORIGINAL = 0x8769, 0x9003, 0x9011


@dataclass(frozen=True)
class PictureFacts:
    """What an image entry records of its picture (``None``: not recorded, or not known).

    Attributes:
        phash: the picture's :func:`~siglip_retriever.store.fingerprints.fingerprint` (16 hex digits).
        width, height: its size in pixels, after EXIF orientation.
        taken: when it was taken (EXIF ``DateTimeOriginal``) as ISO 8601 text, such as
            ``"2019-07-14T16:02:11"`` (with ``+02:00`` when the camera recorded its offset).
        sensor_width, sensor_height: a camera RAW file's sensor size (``width`` and ``height``
            are the picture read from it); ``None`` for other pictures.

    Example:
        >>> facts = PictureFacts("ffd8000000000000", 640, 480, None)
        >>> facts.metadata()
        {'phash': 'ffd8000000000000', 'width': 640, 'height': 480}
    """

    phash: str | None
    width: int | None
    height: int | None
    taken: str | None
    sensor_width: int | None = None
    sensor_height: int | None = None

    def metadata(self) -> dict[str, Any]:
        """The facts as metadata to store: the keys of known facts only."""
        values = {
            PHASH: self.phash,
            WIDTH: self.width,
            HEIGHT: self.height,
            TAKEN: self.taken,
            SENSOR_WIDTH: self.sensor_width,
            SENSOR_HEIGHT: self.sensor_height,
        }
        return {key: value for key, value in values.items() if value is not None}


def picture_facts(metadata: Mapping[str, Any] | None) -> PictureFacts:
    """The :class:`PictureFacts` an entry's metadata records (a value of the wrong type: ``None``).

    Example:
        >>> facts = picture_facts({"phash": "00ff00ff00ff00ff", "width": 640, "sensor_width": 6000})
        >>> facts.phash, facts.width, facts.height, facts.taken, facts.sensor_width, facts.sensor_height
        ('00ff00ff00ff00ff', 640, None, None, 6000, None)
    """
    meta = metadata or {}
    code = meta.get(PHASH)
    taken = meta.get(TAKEN)
    return PictureFacts(
        phash=code.lower() if isinstance(code, str) and is_fingerprint(code) else None,
        width=_count(meta.get(WIDTH)),
        height=_count(meta.get(HEIGHT)),
        taken=taken if isinstance(taken, str) and taken else None,
        sensor_width=_count(meta.get(SENSOR_WIDTH)),
        sensor_height=_count(meta.get(SENSOR_HEIGHT)),
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
    """The facts of a picture as ``preparer.decode`` gave it; its EXIF date read from ``image``
    (a camera RAW file's from the decoding, with its sensor's size)."""
    code, raw = rgb_fingerprint(decoded.image), decoded.raw
    if raw is not None:
        return PictureFacts(
            code, decoded.width, decoded.height, raw.taken, raw.sensor_width, raw.sensor_height
        )
    return PictureFacts(code, decoded.width, decoded.height, _taken_of(image))


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
    return exif_date(text, offset)


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
