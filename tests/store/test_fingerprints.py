"""Picture fingerprints (store/fingerprints.py): copies of a picture stay within a few bits,
distinct photo-like pictures are far apart."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.fingerprints import (
    SAME_PICTURE_BITS,
    fingerprint,
    hash_distance,
    is_fingerprint,
    rgb_fingerprint,
)
from tests.helpers import photo_like

SEEDS = range(40)


def _reopened(picture: Image.Image, quality: int = 70, **options: object) -> Image.Image:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality, **options)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _exif_rotated(picture: Image.Image) -> Image.Image:
    """The picture stored turned a quarter, with the EXIF orientation that turns it back."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _reopened(picture.transpose(Image.Transpose.ROTATE_90), 90, exif=exif.tobytes())


def _cropped(picture: Image.Image, corner: bool) -> Image.Image:
    """3 % of each side cut: evenly on both sides, or all from one corner."""
    width, height = picture.size
    dx, dy = int(width * 0.03), int(height * 0.03)
    if corner:
        return picture.crop((0, 0, width - dx, height - dy))
    return picture.crop((dx // 2, dy // 2, width - dx // 2, height - dy // 2))


COPIES = {
    "half size": lambda p: p.resize((p.width // 2, p.height // 2)),
    "double size": lambda p: p.resize((p.width * 2, p.height * 2)),
    "JPEG quality 70": _reopened,
    "JPEG quality 30": lambda p: _reopened(p, 30),
    "EXIF-rotated": _exif_rotated,
    "3% cropped": lambda p: _cropped(p, corner=False),
}


@pytest.fixture(scope="module")
def originals() -> list[tuple[Image.Image, str]]:
    return [(picture, fingerprint(picture)) for picture in (photo_like(seed) for seed in SEEDS)]


def test_a_fingerprint_is_16_lowercase_hex_digits(originals: list[tuple[Image.Image, str]]) -> None:
    for _, code in originals:
        assert len(code) == 16 and code == code.lower() and int(code, 16) >= 0
    picture = originals[0][0]
    assert fingerprint(picture) == originals[0][1]  # deterministic
    assert fingerprint(picture.convert("RGBA")) == originals[0][1]  # as shown: RGB
    assert rgb_fingerprint(picture) == originals[0][1]  # an RGB picture as it is
    assert all(is_fingerprint(code) for _, code in originals)


@pytest.mark.parametrize("change", sorted(COPIES))
def test_copies_differ_by_at_most_10_bits(change: str, originals: list[tuple[Image.Image, str]]) -> None:
    worst = max(hash_distance(code, fingerprint(COPIES[change](picture))) for picture, code in originals)
    assert worst <= 10, f"{change}: {worst} bits"


def test_a_crop_from_one_corner_stays_within_the_threshold(originals: list[tuple[Image.Image, str]]) -> None:
    """Cutting 3 % of width and height from one corner moves the picture's centre: up to 12 bits
    measured on these pictures, still the same picture for the default threshold."""
    worst = max(
        hash_distance(code, fingerprint(_cropped(picture, corner=True))) for picture, code in originals
    )
    assert worst <= SAME_PICTURE_BITS


def test_distinct_pictures_are_far_apart(originals: list[tuple[Image.Image, str]]) -> None:
    """40 photo-like pictures, 780 pairs: 18 bits apart at least (one pair of 80 pictures comes
    within 14, still beyond the threshold)."""
    closest = min(hash_distance(a, b) for (_, a), (_, b) in itertools.combinations(originals, 2))
    assert closest >= 18 > SAME_PICTURE_BITS


@pytest.mark.parametrize("bad", ["", "abc", "g" * 16, "0" * 17, None, 12])
def test_hash_distance_refuses_what_is_not_a_fingerprint(bad: object) -> None:
    assert not is_fingerprint(bad)
    with pytest.raises(ConfigurationError, match="not a picture fingerprint"):
        hash_distance("0" * 16, bad)  # type: ignore[arg-type]
    assert hash_distance("FFFFFFFFFFFFFFFF", "0" * 16) == 64


def test_importing_the_package_loads_no_imagehash() -> None:
    import subprocess
    import sys

    code = (
        "import sys, siglip_retriever.store.fingerprints\n"
        "print(sorted(m for m in ('imagehash', 'scipy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
