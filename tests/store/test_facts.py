"""What an image entry records of its picture (store/facts.py): the EXIF date as ISO 8601 text, the
facts of a picture as decoded for the model, and the metadata reader that takes what indexing
writes and shrugs off what it never writes."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ImageLoadError
from siglip_retriever.store.facts import (
    PictureFacts,
    exif_taken,
    picture_facts,
    picture_facts_of,
    prepare_picture,
)
from siglip_retriever.store.fingerprints import fingerprint, hash_distance
from tests.helpers import photo_like


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
