"""Camera RAW files read as pictures: the camera's preview when it has a large one, else the
sensor data developed; upright; the same picture from every input kind; the sensor's size and
the date; damaged files and a missing extra said clearly. The RAW files are DNGs the tests write
by hand (tests/raws.py), a few KB each."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import rawpy
from PIL import Image

from siglip_retriever.demo.pictures import render
from siglip_retriever.encoding.images import decode_image, image_size, load_image
from siglip_retriever.encoding.raw import RAW_EXTENSIONS, is_raw, raw_bytes, read_raw
from siglip_retriever.encoding.sniffing import RAW_HEAD, raw_format, what_is
from siglip_retriever.errors import ImageLoadError, MissingDependencyError
from tests.helpers import half_and_half
from tests.raws import damaged_nef_bytes, dng_bytes, write_dng, write_large_preview_dng

RED, BLUE = (255, 0, 0), (0, 0, 255)
# the corners of a half-red (left), half-blue (right) picture once upright, per EXIF orientation
CORNERS = {1: (RED, BLUE), 3: (BLUE, RED), 6: (RED, BLUE), 8: (BLUE, RED)}


def _close(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def _corners(image: Image.Image) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rgb = image.convert("RGB")
    return rgb.getpixel((0, 0)), rgb.getpixel((rgb.width - 1, rgb.height - 1))  # type: ignore[return-value]


@pytest.mark.parametrize("preview", ["ifd0", "subifd", None])
def test_the_hand_made_dngs_are_small_and_libraw_reads_them(preview: str | None) -> None:
    data = dng_bytes(half_and_half(64, 48), preview=preview)  # type: ignore[arg-type]
    assert len(data) < 12_000  # a few KB
    with rawpy.RawPy() as raw:
        raw.open_buffer(io.BytesIO(data))
        assert (raw.sizes.width, raw.sizes.height) == (64, 48)
        if preview is None:
            with pytest.raises(rawpy.LibRawNoThumbnailError):
                raw.extract_thumb()
        else:
            thumb = raw.extract_thumb()
            assert thumb.format == rawpy.ThumbFormat.JPEG
            assert Image.open(io.BytesIO(thumb.data)).size == (64, 48)
        developed = raw.postprocess(half_size=True, use_camera_wb=True)
    assert developed.shape == (24, 32, 3)
    assert _close(tuple(developed[0, 0]), RED) and _close(tuple(developed[-1, -1]), BLUE)


@pytest.mark.parametrize("preview", ["ifd0", "subifd"])
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_the_preview_is_read_upright(preview: str, orientation: int) -> None:
    picture = read_raw(dng_bytes(half_and_half(64, 48), preview=preview, orientation=orientation))  # type: ignore[arg-type]
    turned = orientation in (6, 8)
    assert picture.source == "preview"
    assert picture.image.size == picture_size(turned, 64, 48) == (picture.width, picture.height)
    assert (picture.sensor_width, picture.sensor_height) == (64, 48)  # the sensor, as it lies
    top_left, bottom_right = _corners(picture.image)
    assert _close(top_left, CORNERS[orientation][0]) and _close(bottom_right, CORNERS[orientation][1])


def picture_size(turned: bool, width: int, height: int) -> tuple[int, int]:
    return (height, width) if turned else (width, height)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_without_a_preview_the_sensor_data_is_developed_at_half_size(orientation: int) -> None:
    drawn = render("circle", "red", 3, size=64)
    picture = read_raw(dng_bytes(drawn, preview=None, orientation=orientation))
    assert picture.source == "demosaiced"
    assert picture.image.size == (32, 32) and (picture.width, picture.height) == (64, 64)
    turns = {1: drawn, 3: drawn.rotate(180), 6: drawn.rotate(-90), 8: drawn.rotate(90)}
    got = np.asarray(picture.image, dtype=np.float32)
    got = got / got.mean() * 100  # LibRaw brightens by its histogram: compare shapes of light
    difference = {}
    for turn, upright in turns.items():
        expected = np.asarray(upright.reduce(2), dtype=np.float32)
        difference[turn] = float(np.abs(got - expected / expected.mean() * 100).mean())
    # the picture drawn, developed back: the right way up, far closer than any other turn
    assert difference[orientation] < 25 and difference[orientation] < 0.7 * min(
        value for turn, value in difference.items() if turn != orientation
    ), difference
    red, green, blue = got.reshape(-1, 3).mean(axis=0)
    assert red > 1.3 * max(green, blue)  # a red circle on a neutral background stays red

    turned = read_raw(dng_bytes(half_and_half(64, 48), preview=None, orientation=orientation))
    assert turned.image.size == picture_size(orientation in (6, 8), 32, 24)
    assert (turned.width, turned.height) == picture_size(orientation in (6, 8), 64, 48)
    top_left, bottom_right = _corners(turned.image)
    assert _close(top_left, CORNERS[orientation][0]) and _close(bottom_right, CORNERS[orientation][1])


def test_a_small_thumbnail_is_not_taken_for_the_picture() -> None:
    sensor = half_and_half(64, 48)
    green = Image.new("RGB", (16, 12), (0, 200, 0))
    picture = read_raw(dng_bytes(sensor, preview="ifd0", preview_picture=green))
    assert picture.source == "demosaiced" and picture.image.size == (32, 24)
    assert _close(_corners(picture.image)[0], RED)


def test_the_preview_is_the_picture_the_camera_showed_with_its_own_size() -> None:
    sensor, shown = half_and_half(64, 48), Image.new("RGB", (128, 96), (0, 200, 0))
    picture = read_raw(dng_bytes(sensor, preview="subifd", preview_picture=shown, orientation=6))
    assert picture.source == "preview"
    assert (picture.width, picture.height) == (96, 128)  # the preview's, upright
    assert (picture.sensor_width, picture.sensor_height) == (64, 48)  # the sensor's
    assert all(_close(corner, (0, 200, 0)) for corner in _corners(picture.image))


def test_the_date_from_the_file_the_preview_or_nowhere() -> None:
    sensor = half_and_half(64, 48)
    assert read_raw(dng_bytes(sensor)).taken == "2019-07-14T16:02:11"  # the file's EXIF IFD
    assert read_raw(dng_bytes(sensor, preview=None)).taken == "2019-07-14T16:02:11"
    from_preview = dng_bytes(sensor, taken=None, preview_taken="2021:03:04 05:06:07")
    assert read_raw(from_preview).taken == "2021-03-04T05:06:07"  # the preview's own EXIF
    both = dng_bytes(sensor, preview_taken="2021:03:04 05:06:07")
    assert read_raw(both).taken == "2021-03-04T05:06:07"  # the preview's first
    assert read_raw(dng_bytes(sensor, taken=None)).taken is None
    assert read_raw(dng_bytes(sensor, preview=None, taken=None)).taken is None


def test_every_input_kind_gives_the_same_picture(tmp_path: Path) -> None:
    data = dng_bytes(render("star", "blue", 5, size=64), orientation=6)
    named = write_dng(tmp_path / "IMG_0001.DNG", render("star", "blue", 5, size=64), orientation=6)
    as_tiff, nameless = tmp_path / "exported.tif", tmp_path / "IMG_0001"
    as_tiff.write_bytes(data)
    nameless.write_bytes(data)

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.stream = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self.stream.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    inputs = [named, str(named), as_tiff, nameless, data, bytearray(data), io.BytesIO(data), Unseekable()]
    decoded = [decode_image(item, target_size=16) for item in inputs]
    first = decoded[0]
    assert first.raw is not None and first.raw.source == "preview" and (first.width, first.height) == (64, 64)
    for item, result in zip(inputs, decoded, strict=True):
        assert result.raw == first.raw, item
        assert (result.width, result.height) == (first.width, first.height), item
        assert np.array_equal(np.asarray(result.image), np.asarray(first.image)), item
    assert load_image(named).size == (64, 64)


@pytest.mark.parametrize("preview", ["ifd0", "subifd", None])
@pytest.mark.parametrize("orientation", [1, 6])
def test_image_size_says_the_size_decoding_reports(
    preview: str | None, orientation: int, tmp_path: Path
) -> None:
    shown = Image.new("RGB", (96, 72), (0, 200, 0)) if preview else None
    data = dng_bytes(half_and_half(64, 48), preview=preview, preview_picture=shown, orientation=orientation)  # type: ignore[arg-type]
    decoded = decode_image(data)
    assert (
        image_size(data)
        == (decoded.width, decoded.height)
        == picture_size(orientation == 6, *(96, 72) if preview else (64, 48))
    )
    (tmp_path / "IMG.DNG").write_bytes(data)
    assert image_size(tmp_path / "IMG.DNG") == image_size(io.BytesIO(data)) == (decoded.width, decoded.height)
    (tmp_path / "junk.NEF").write_bytes(b"not a camera file " * 8)
    with pytest.raises(ImageLoadError, match=r"junk\.NEF: not a camera RAW file, or damaged"):
        image_size(tmp_path / "junk.NEF")


def test_a_large_preview_is_decoded_at_a_reduced_scale(tmp_path: Path) -> None:
    path = write_large_preview_dng(tmp_path / "big.dng", size=(800, 600), orientation=6)
    decoded = decode_image(path, target_size=100)
    assert decoded.raw is not None and decoded.raw.source == "preview"
    assert (decoded.width, decoded.height) == (600, 800)  # the preview's own size, upright
    assert (decoded.raw.sensor_width, decoded.raw.sensor_height) == (50, 36)
    assert decoded.image.size == (150, 200)  # JPEG draft to a quarter, both sides still >= 100
    square = decode_image(path, resize=lambda picture: picture.resize((40, 40)))
    assert square.image.size == (40, 40) and square.resized and square.raw == decoded.raw


def test_plain_tiffs_and_other_pictures_are_not_raw(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "NIKON CORPORATION"  # exported from a camera's photo: a maker, no RAW tags
    buffer = io.BytesIO()
    half_and_half(64, 48).save(buffer, "TIFF", exif=exif)
    tiff = buffer.getvalue()
    assert raw_format(tiff) is None and not is_raw(tiff)
    decoded = decode_image(tiff)
    assert decoded.raw is None and decoded.image.size == (64, 48)
    (tmp_path / "scan.tif").write_bytes(tiff)
    assert raw_bytes(str(tmp_path / "scan.tif")) is None
    jpeg = tmp_path / "photo.jpg"
    half_and_half(64, 48).save(jpeg)
    assert raw_bytes(str(jpeg)) is None and raw_bytes(io.BytesIO(jpeg.read_bytes())) is None


def test_raw_formats_are_told_by_their_first_bytes() -> None:
    heads = {
        b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01": "CR3",
        b"FUJIFILMCCD-RAW 0201FF129502": "RAF",
        b"IIRO\x08\x00\x00\x00": "ORF",
        b"IIU\x00\x18\x00\x00\x00": "RW2",
        b"II*\x00\x10\x00\x00\x00CR\x02\x00": "CR2",
        dng_bytes(half_and_half(8, 8), preview=None): "DNG",
        damaged_nef_bytes(): "NEF",
        b"\xff\xd8\xff\xe0\x00\x10JFIF": None,
        b"\x00\x00\x00\x18ftypheic": None,
    }
    for head, kind in heads.items():
        assert raw_format(head) == kind, head[:16]
        assert is_raw(head) is (kind is not None)
    assert {".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2"} <= RAW_EXTENSIONS
    assert all(is_raw(f"DSC_0001{extension.upper()}") for extension in RAW_EXTENSIONS)
    assert not is_raw("IMG_0001.HEIC") and not is_raw(Path("scan.tiff"))


def test_damaged_raw_files_say_why(tmp_path: Path) -> None:
    damaged = tmp_path / "DSC_0002.NEF"
    damaged.write_bytes(damaged_nef_bytes())
    for source in (damaged, damaged.read_bytes()):
        with pytest.raises(
            ImageLoadError, match=r"not a camera RAW file, or damaged \(LibRaw: .+\)"
        ) as caught:
            decode_image(source)
    assert caught.value.source == f"bytes ({len(damaged_nef_bytes())} B)"
    with pytest.raises(ImageLoadError, match=r"DSC_0002\.NEF: not a camera RAW file, or damaged"):
        load_image(damaged)
    cut = tmp_path / "IMG_0003.DNG"  # a copy interrupted half-way
    cut.write_bytes(dng_bytes(half_and_half(64, 48), preview=None)[:3000])
    with pytest.raises(ImageLoadError, match="not a camera RAW file, or damaged"):
        decode_image(cut)
    with pytest.raises(ImageLoadError, match="not a camera RAW file, or damaged"):
        read_raw(b"II*\x00" + b"\x00" * 64)


def test_max_pixels_refuses_a_raw_picture_too(tmp_path: Path) -> None:
    data = dng_bytes(half_and_half(64, 48))
    with pytest.raises(ImageLoadError, match="more than the limit of 1,000"):
        decode_image(data, max_pixels=1000)
    with pytest.raises(ImageLoadError, match="more than the limit of 100"):
        decode_image(dng_bytes(half_and_half(64, 48), preview=None), max_pixels=100)
    assert decode_image(data, max_pixels=64 * 48).width == 64


def test_without_rawpy_a_raw_file_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rawpy", None)  # import rawpy now fails, as when not installed
    data = dng_bytes(half_and_half(64, 48))
    for source in (data, io.BytesIO(data)):
        with pytest.raises(MissingDependencyError, match=r"siglip-retriever\[raw\]") as caught:
            decode_image(source)
    assert caught.value.extra == "raw" and caught.value.package == "rawpy"
    assert "pip install 'siglip-retriever[raw]'" in what_is(b"FUJIFILMCCD-RAW 0201")
    assert decode_image(half_and_half(8, 8)).raw is None  # everything else reads as before


def test_a_raw_whose_directories_follow_its_data_is_read_from_every_input_kind(tmp_path: Path) -> None:
    """Writers that put the image data before the TIFF directories (these fixtures do) leave the
    first IFD past the sniffed head when the preview is large; bytes, streams and a ``.tif``
    name must still be read as the camera RAW, as its ``.dng`` path is."""
    named = write_large_preview_dng(tmp_path / "IMG_0002.DNG", size=(1200, 900), sensor_scale=8)
    data = named.read_bytes()
    first_ifd = int.from_bytes(data[4:8], "little" if data[:2] == b"II" else "big")
    assert first_ifd > RAW_HEAD  # the layout this test is about
    as_tiff = tmp_path / "exported.tif"
    as_tiff.write_bytes(data)
    decoded = [decode_image(item, target_size=224) for item in [named, as_tiff, data, io.BytesIO(data)]]
    assert all(item.raw is not None and item.raw.source == "preview" for item in decoded)
    assert len({(item.raw, item.width, item.height) for item in decoded}) == 1
