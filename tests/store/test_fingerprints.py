"""Picture fingerprints and the facts entries record (store/fingerprints.py): copies of a picture
stay within a few bits, distinct photo-like pictures are far apart, and the metadata readers
take what indexing writes and shrug off what it never writes."""

from __future__ import annotations

import io
import itertools
import json

import pytest
from PIL import Image, ImageOps

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, ImageLoadError
from siglip_retriever.store.fingerprints import (
    PATHS_KEY,
    SAME_PICTURE_BITS,
    PictureFacts,
    StoredFile,
    exif_taken,
    file_records,
    files_metadata,
    fingerprint,
    hash_distance,
    paths_value,
    picture_facts,
    picture_facts_of,
    prepare_picture,
    stored_files,
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
    with pytest.raises(ConfigurationError, match="not a picture fingerprint"):
        hash_distance("0" * 16, bad)  # type: ignore[arg-type]
    assert hash_distance("FFFFFFFFFFFFFFFF", "0" * 16) == 64


def test_the_exif_date_is_iso_8601_text() -> None:
    exif = Image.Exif()
    assert exif_taken(exif) is None
    exif.get_ifd(0x8769)[0x9003] = "2019:07:14 16:02:11"
    assert exif_taken(exif) == "2019-07-14T16:02:11"
    exif.get_ifd(0x8769)[0x9011] = "+02:00"
    assert exif_taken(exif) == "2019-07-14T16:02:11+02:00"
    for nonsense in ("0000:00:00 00:00:00", "    :  :     :  :  ", "yesterday", "2019:13:01 10:00:00"):
        exif.get_ifd(0x8769)[0x9003] = nonsense
        assert exif_taken(exif) is None, nonsense


def test_measured_and_prepared_facts_agree(tiny_encoder: SiglipEncoder) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2021:01:02 03:04:05"
    buffer = io.BytesIO()
    photo_like(3, (200, 120)).save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    data = buffer.getvalue()
    preparer = tiny_encoder.image_preparer()
    prepared, facts = prepare_picture(preparer, data)
    assert (facts.width, facts.height, facts.taken) == (120, 200, "2021-01-02T03:04:05")  # turned by EXIF
    assert (prepared.width, prepared.height) == (120, 200)
    assert picture_facts_of(preparer, data) == facts
    # the fingerprint of the picture as decoded for the model is that of the picture itself, or close
    original = Image.open(io.BytesIO(data))
    shown = ImageOps.exif_transpose(original).convert("RGB")
    assert (shown.width, shown.height, exif_taken(original.getexif())) == (120, 200, "2021-01-02T03:04:05")
    assert facts.phash is not None
    assert hash_distance(facts.phash, fingerprint(shown)) <= 4
    with pytest.raises(ImageLoadError):
        prepare_picture(preparer, b"not a picture")


def test_picture_facts_read_what_indexing_writes() -> None:
    facts = PictureFacts("00ff00ff00ff00ff", 640, 480, "2019-07-14T16:02:11")
    assert picture_facts(facts.metadata()) == facts
    assert picture_facts({}) == PictureFacts(None, None, None, None)
    assert picture_facts(None) == PictureFacts(None, None, None, None)
    odd = {"phash": "not hex", "width": "640", "height": True, "taken": ""}
    assert picture_facts(odd) == PictureFacts(None, None, None, None)
    assert picture_facts({"phash": "00FF00FF00FF00FF"}).phash == "00ff00ff00ff00ff"


def test_stored_files_primary_first_and_old_entries() -> None:
    records = [("/p/a.jpg", 1_600_000_000_000_000_000, 10), ("/q/b.jpg", 1_700_000_000_500_000_000, 10)]
    meta = files_metadata(records)
    assert meta["uri"] == "/p/a.jpg" and json.loads(meta[PATHS_KEY])[1]["path"] == "/q/b.jpg"
    assert file_records(meta) == records
    assert stored_files(meta) == [
        StoredFile("/p/a.jpg", 10, 1.6e9),
        StoredFile("/q/b.jpg", 10, 1.7000000005e9),
    ]
    # an entry written before paths were recorded: its uri alone
    assert file_records({"uri": "/p/a.jpg", "mtime_ns": 5, "file_size": 9}) == [("/p/a.jpg", 5, 9)]
    # an unreadable paths value falls back to the uri; entries from no file have none
    assert file_records({"uri": "/p/a.jpg", "mtime_ns": 5, "file_size": 9, PATHS_KEY: "{oops"}) == [
        ("/p/a.jpg", 5, 9)
    ]
    assert stored_files({"kind": "image"}) == [] and stored_files(None) == []
    assert file_records({PATHS_KEY: paths_value([("/p/é ü.jpg", 1, 2)])}) == [("/p/é ü.jpg", 1, 2)]
    with pytest.raises(ConfigurationError, match="cannot be empty"):
        files_metadata([])


def test_importing_the_package_loads_no_imagehash() -> None:
    import subprocess
    import sys

    code = (
        "import sys, siglip_retriever.store.fingerprints\n"
        "print(sorted(m for m in ('imagehash', 'scipy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
