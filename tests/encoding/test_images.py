"""load_image (encoding/images.py): every input kind, mode conversions, and broken inputs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.encoding.images import decode_image, describe_source, load_image
from siglip_retriever.errors import ImageLoadError, SiglipRetrieverError
from tests.helpers import image_input_kinds, png_bytes


def _picture(size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A picture with structure, so orientation and colour mistakes change pixels."""
    x = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :].repeat(size[1], 0)
    y = np.linspace(0, 255, size[1], dtype=np.uint8)[:, None].repeat(size[0], 1)
    return Image.fromarray(np.stack([x, y, 255 - x], axis=-1), "RGB")


def _same(a: Image.Image, b: Image.Image, tolerance: int = 0) -> bool:
    diff = np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int))
    return a.size == b.size and a.mode == b.mode == "RGB" and int(diff.max()) <= tolerance


def test_every_input_kind_gives_the_same_picture(tmp_path: Path) -> None:
    picture = _picture()
    data = png_bytes(picture)
    inputs = [
        *image_input_kinds(picture, tmp_path),
        bytearray(data),
        memoryview(data),
        np.asarray(picture).astype(np.float32) / 255.0,
        np.moveaxis(np.asarray(picture), -1, 0),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
    ]
    for item in inputs:
        assert _same(load_image(item), picture), describe_source(item)


def test_a_resize_is_applied_to_every_input_kind_and_gives_a_new_picture(tmp_path: Path) -> None:
    picture = _picture((300, 200))
    before = np.asarray(picture).copy()
    seen: list[Image.Image] = []

    def remember(rgb: Image.Image) -> Image.Image:
        seen.append(rgb)
        return rgb  # returns its input: decode_image must still hand back a picture of its own

    decoded = [decode_image(item, resize=remember) for item in image_input_kinds(picture, tmp_path)]
    assert all(d.resized and (d.width, d.height) == (300, 200) and _same(d.image, picture) for d in decoded)
    assert decoded[0].image is not picture and np.array_equal(np.asarray(picture), before)
    assert len(seen) == len(decoded) and all(image.mode == "RGB" for image in seen)
    squares = [
        load_image(item, resize=lambda rgb: rgb.resize((40, 40)))
        for item in image_input_kinds(picture, tmp_path)
    ]
    assert all(_same(square, squares[0]) and square.size == (40, 40) for square in squares)


def test_target_size_alone_reduces_every_input_kind_alike(tmp_path: Path) -> None:
    picture = _picture((400, 300))
    reduced = [decode_image(item, target_size=40) for item in image_input_kinds(picture, tmp_path)]
    # a whole factor (300 // 80 = 3) that leaves both sides at least twice 40
    assert all(not d.resized and (d.width, d.height) == (400, 300) for d in reduced)
    assert all(_same(d.image, picture.reduce(3)) for d in reduced)
    assert load_image(picture, target_size=100).size == (400, 300)  # not 4 times larger: kept


def test_grayscale_array_and_float_255(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    image = load_image(gray)
    assert image.mode == "RGB"
    assert image.size == (4, 3)
    assert np.array_equal(np.asarray(image)[..., 0], gray)
    assert _same(load_image(gray[..., None]), image)
    assert _same(load_image(gray.astype(np.float64)), image)  # floats above 1 are 0..255


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    picture = _picture((40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rotated.jpg"
    picture.save(path, format="JPEG", exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.size == (20, 40)


def test_rgba_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    loaded = load_image(rgba)
    assert loaded.getpixel((0, 0)) == (255, 0, 0)
    assert loaded.getpixel((1, 1)) == (255, 255, 255)
    la = Image.new("LA", (2, 2), (0, 0))
    assert load_image(png_bytes(la)).getpixel((0, 0)) == (255, 255, 255)


def test_palette_with_transparency() -> None:
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 255, 255, 0, 0] + [0] * 762)
    palette.putpixel((0, 0), 1)
    palette.info["transparency"] = 0
    loaded = load_image(png_bytes(palette))
    assert loaded.getpixel((0, 0)) == (255, 0, 0)
    assert loaded.getpixel((2, 2)) == (255, 255, 255)


def test_cmyk_and_sixteen_bit(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red in CMYK
    path = tmp_path / "cmyk.jpg"
    cmyk.save(path, format="JPEG", quality=100)
    r, g, b = load_image(path).getpixel((4, 4))
    assert r > 200 and g < 60 and b < 60

    sixteen = Image.fromarray(np.full((5, 5), 65535, dtype=np.uint16))
    data = png_bytes(sixteen)
    loaded = load_image(data)
    assert loaded.mode == "RGB"
    assert loaded.getpixel((0, 0)) == (255, 255, 255)
    mid = load_image(np.full((2, 2), 32768, dtype=np.uint16))
    assert mid.getpixel((0, 0)) == (128, 128, 128)


def test_first_frame_of_animated_gif(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (6, 6), colour) for colour in ("red", "blue", "green")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    r, _, b = load_image(path).getpixel((3, 3))
    assert r > 200 and b < 50


def test_large_jpeg_is_draft_decoded(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    _picture((1600, 1200)).save(path, format="JPEG", quality=90)
    full = load_image(path)
    drafted = load_image(path, target_size=224)
    assert full.size == (1600, 1200)
    assert min(drafted.size) >= 224
    assert drafted.size[0] < 1600
    # not drafted when the file is not much bigger than the target
    assert load_image(path, target_size=800).size == (1600, 1200)


def test_decompression_bomb_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("L", (3000, 3000)).save(path)
    with pytest.raises(ImageLoadError, match="decompression bomb") as info:
        load_image(path, max_pixels=1_000_000)
    assert str(path) in str(info.value)
    assert load_image(path, max_pixels=None).size == (3000, 3000)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "zero bytes"),
        ("text.jpg", b"this is not an image at all\n", "not an image"),
        ("page.png", b"<html><body>hello</body></html>", "not an image"),
        ("unsupported.xyz", b"\x00\x01\x02\x03" * 10, "not an image"),
    ],
)
def test_broken_files_name_the_input(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(path) in str(info.value)
    assert reason in str(info.value)
    assert isinstance(info.value, SiglipRetrieverError)
    assert isinstance(info.value, ValueError)


def test_truncated_jpeg(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    _picture((200, 200)).save(buffer, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match="truncated") as info:
        load_image(path)
    assert info.value.source == str(path)


def test_missing_and_odd_inputs(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="file not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="directory"):
        load_image(tmp_path)
    with pytest.raises(ImageLoadError, match="bytes"):
        load_image(b"")
    with pytest.raises(ImageLoadError, match="unsupported input type"):
        load_image(12345)  # type: ignore[arg-type]
    with pytest.raises(ImageLoadError, match="numpy array"):
        load_image(np.zeros((2, 2, 7), dtype=np.uint8))
    with pytest.raises(ImageLoadError, match="NaN"):
        load_image(np.full((2, 2), np.nan))
    with pytest.raises(ImageLoadError, match="URL"):
        load_image("https://example.com/cat.jpg")
    with pytest.raises(ImageLoadError, match="base64"):
        load_image("data:image/png;base64,@@@@")
    with pytest.raises(ImageLoadError, match="data URI"):
        load_image("data:image/png,rawbytes")


def test_error_pickles_with_its_fields() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(ImageLoadError("a.jpg", "broken")))
    assert (error.source, error.reason) == ("a.jpg", "broken")
    assert str(error) == "cannot load image a.jpg: broken"
