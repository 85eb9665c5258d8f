"""The photo formats people have, written by the real encoders: HEIC (pillow-heif), AVIF, WebP,
BMP, GIF, multi-page TIFF, PNG and JPEG; EXIF orientation; and the picture's own size.

Each picture is half red (left) and half blue (right), so a test can tell which way it was
turned, through lossy encoders too.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.encoding.images import decode_image, enable_plugins, image_size, load_image
from siglip_retriever.errors import ImageLoadError
from tests.helpers import PHOTO_FORMATS, half_and_half, save_photo

ROTATED = 6  # EXIF orientation: the camera was turned a quarter; a viewer turns it back clockwise


def _colour(image: Image.Image, x: float, y: float) -> str:
    """Which of red or blue the pixel at fractions ``x``, ``y`` of the picture is."""
    r, _g, b = image.getpixel((int(x * (image.width - 1)), int(y * (image.height - 1))))
    return "red" if r > b else "blue"


@pytest.mark.parametrize("extension", sorted(PHOTO_FORMATS))
def test_each_format_is_read_with_its_colours(tmp_path: Path, extension: str) -> None:
    path = save_photo(tmp_path / f"photo.{extension}", half_and_half(60, 40))
    with Image.open(path) as written:  # really that format, written by its own encoder
        assert written.format == PHOTO_FORMATS[extension]
    decoded = decode_image(path)
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (60, 40) == (decoded.width, decoded.height)
    assert (_colour(decoded.image, 0.1, 0.5), _colour(decoded.image, 0.9, 0.5)) == ("red", "blue")
    assert image_size(path) == (60, 40)


@pytest.mark.parametrize("extension", ["jpg", "heic", "avif", "webp", "png", "tif"])
def test_exif_orientation_is_applied(tmp_path: Path, extension: str) -> None:
    path = save_photo(tmp_path / f"turned.{extension}", half_and_half(60, 40), orientation=ROTATED)
    decoded = decode_image(path)
    # shown upright: the left (red) half of the stored pixels is now on top
    assert decoded.image.size == (40, 60) == (decoded.width, decoded.height)
    assert (_colour(decoded.image, 0.5, 0.1), _colour(decoded.image, 0.5, 0.9)) == ("red", "blue")
    assert image_size(path) == (40, 60)  # from the header alone: the same size


def test_multi_page_tiff_gives_its_first_page(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    pages = [Image.new("RGB", (30, 20), colour) for colour in ("red", "blue", "green")]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with Image.open(path) as written:
        assert written.n_frames == 3
    picture = load_image(path)
    assert picture.getpixel((5, 5)) == (255, 0, 0)
    assert image_size(path) == (30, 20)


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "loop.gif"
    frames = [Image.new("RGB", (30, 20), colour) for colour in ("blue", "red")]
    frames[0].save(path, save_all=True, append_images=frames[1:], loop=0, duration=100)
    assert _colour(load_image(path), 0.5, 0.5) == "blue"


@pytest.mark.parametrize(("orientation", "expected"), [(1, (1600, 1200)), (ROTATED, (1200, 1600))])
def test_a_large_jpeg_decoded_small_still_says_its_own_size(
    tmp_path: Path, orientation: int, expected: tuple[int, int]
) -> None:
    path = save_photo(tmp_path / "big.jpg", half_and_half(1600, 1200), orientation=orientation)
    decoded = decode_image(path, target_size=224)
    assert max(decoded.image.size) <= 800  # decoded at a reduced scale (Image.draft) ...
    assert (decoded.width, decoded.height) == expected  # ... and still its own size
    assert image_size(path) == expected


def test_pil_images_and_arrays_say_their_size() -> None:
    exif = Image.Exif()
    exif[0x0112] = ROTATED
    picture = half_and_half(60, 40)
    picture.info["exif"] = exif.tobytes()
    decoded = decode_image(picture)
    assert (decoded.width, decoded.height) == decoded.image.size
    array = decode_image(np.zeros((5, 7, 3), dtype=np.uint8))
    assert (array.width, array.height) == (7, 5)


def test_heic_bytes_and_file_objects_are_read(tmp_path: Path) -> None:
    path = save_photo(tmp_path / "IMG_0001.HEIC", half_and_half(48, 32))
    data = path.read_bytes()
    assert load_image(data).size == (48, 32)
    assert load_image(io.BytesIO(data)).size == (48, 32)
    assert image_size(data) == (48, 32)


def test_corrupt_heic_says_what_it_is(tmp_path: Path) -> None:
    path = save_photo(tmp_path / "cut.heic", half_and_half(48, 32))
    cut = tmp_path / "cut-short.heic"
    cut.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ImageLoadError, match="HEIC") as caught:
        load_image(cut)
    assert "cut-short.heic" in str(caught.value)


def test_image_size_of_a_non_image_names_it(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(ImageLoadError, match="a text file, not an image"):
        image_size(notes)


def test_plugins_register_once() -> None:
    assert enable_plugins() is True
    assert enable_plugins() is True
    assert ".heic" in Image.registered_extensions()
