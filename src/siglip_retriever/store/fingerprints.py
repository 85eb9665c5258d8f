"""Picture fingerprints: the 64-bit perceptual hash (pHash, ``imagehash``) of a picture as it is
shown (EXIF orientation applied, RGB), as 16 hex digits, and how many bits two of them differ.

Resized, recompressed, EXIF-rotated or slightly cropped copies of a picture differ by a few bits
(:func:`hash_distance`); distinct photos by 20 or more. :data:`SAME_PICTURE_BITS` is the default
threshold between the two. Indexing records each picture's fingerprint with its other facts
(:mod:`siglip_retriever.store.facts`); duplicates and ``collapse_duplicates`` compare them.

Example:
    >>> from PIL import Image
    >>> from siglip_retriever.store.fingerprints import SAME_PICTURE_BITS, fingerprint, hash_distance
    >>> picture = Image.radial_gradient("L").convert("RGB")
    >>> code = fingerprint(picture)
    >>> len(code), hash_distance(code, fingerprint(picture.resize((100, 100)))) <= SAME_PICTURE_BITS
    (16, True)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["SAME_PICTURE_BITS", "fingerprint", "hash_distance", "is_fingerprint", "rgb_fingerprint"]

SAME_PICTURE_BITS = 12
"""Default threshold: fingerprints at most this many bits apart are taken as the same picture
(copies that were resized, recompressed, rotated by EXIF or cropped by a few percent differ by at
most 10 bits; distinct photo-like pictures by 20 or more)."""

_HEX = re.compile(r"[0-9a-fA-F]{16}")


def fingerprint(picture: PILImage) -> str:
    """The perceptual hash (``imagehash.phash``, 64 bits) of ``picture`` as it is shown: EXIF
    orientation applied, transparency on white, as 16 lowercase hex digits.

    Example:
        >>> from PIL import Image
        >>> fingerprint(Image.new("RGB", (64, 64), "white"))
        '8000000000000000'
    """
    from siglip_retriever.encoding.images import load_image

    return rgb_fingerprint(load_image(picture, max_pixels=None))


def rgb_fingerprint(rgb: PILImage) -> str:
    """The fingerprint of a picture already oriented and in RGB (as an image preparer decodes it).

    Example:
        >>> from PIL import Image
        >>> rgb_fingerprint(Image.new("RGB", (64, 64), "white"))
        '8000000000000000'
    """
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
        if not is_fingerprint(code):
            raise ConfigurationError(
                f"{code!r} is not a picture fingerprint: expected 16 hex digits, as fingerprint() gives"
            )
    return (int(a, 16) ^ int(b, 16)).bit_count()


def is_fingerprint(code: object) -> bool:
    """Whether ``code`` is a fingerprint: 16 hex digits (either case).

    Example:
        >>> is_fingerprint("00FF00ff00ff00ff"), is_fingerprint("not hex")
        (True, False)
    """
    return isinstance(code, str) and _HEX.fullmatch(code) is not None
