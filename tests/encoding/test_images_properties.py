"""Property tests of the image loader (encoding/images.py): whatever goes in, only the documented
exception comes out.

``load_image`` raises :class:`ImageLoadError` or returns an RGB picture. The texts' property
tests are in test_texts.py.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from siglip_retriever.encoding.images import load_image
from siglip_retriever.errors import ImageLoadError

# SIGLIP_PROPERTY_EXAMPLES=5000 digs deeper; the default keeps the file under about 20 s
EXAMPLES = int(os.environ.get("SIGLIP_PROPERTY_EXAMPLES", "150"))
FAST = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# a corrupt file may make Pillow warn (bad EXIF, a TIFF tag past the end): not what is tested here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::PIL.Image.DecompressionBombWarning")
SMALL_LIMIT = 1_000_000  # max_pixels in these tests: a mutated header may claim any size


def _encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (13, 9), **options: Any) -> bytes:
    rng = np.random.default_rng(len(fmt))
    picture = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
    buffer = io.BytesIO()
    picture.convert(mode).save(buffer, format=fmt, **options)
    return buffer.getvalue()


SEEDS = [
    _encoded("PNG"),
    _encoded("PNG", "P", transparency=0),
    _encoded("PNG", "I;16"),
    _encoded("JPEG", quality=80),
    _encoded("JPEG", "CMYK"),
    _encoded("JPEG", progressive=True),
    _encoded("GIF"),
    _encoded("BMP"),
    _encoded("TIFF"),
    _encoded("TIFF", compression="tiff_deflate"),
    _encoded("WEBP"),
    _encoded("ICO"),
    _encoded("PPM"),
    _encoded("TGA"),
    _encoded("PCX"),
]


def _assert_rgb(image: Image.Image) -> None:
    assert image.mode == "RGB"
    assert image.size[0] > 0 and image.size[1] > 0


def _load(source: Any) -> None:
    """Load ``source``: an RGB picture or an ImageLoadError, nothing else."""
    try:
        image = load_image(source, max_pixels=SMALL_LIMIT)
    except ImageLoadError as exc:
        error: ImageLoadError | None = exc
    else:
        error = None
        _assert_rgb(image)
    if error is not None:
        assert error.reason
        assert str(error).startswith("cannot load image ")


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A real encoded image with bytes changed, cut off, or spliced: deep into the decoders."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["set", "cut", "insert", "delete"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


@FAST
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    _load(data)


@settings(max_examples=EXAMPLES + 50, deadline=None)
@given(mutated_images())
def test_mutated_images(data: bytes) -> None:
    _load(data)
    _load(io.BytesIO(data))


@FAST
@given(mutated_images())
def test_mutated_image_files(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("mutated") / "image.jpg"
    path.write_bytes(data)
    _load(path)


DTYPES = st.sampled_from(
    [
        np.uint8,
        np.int8,
        np.uint16,
        np.int16,
        np.int32,
        np.uint32,
        np.int64,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
        np.bool_,
        np.complex64,
        np.dtype("datetime64[s]"),
        np.dtype("U3"),
        np.dtype("S2"),
    ]
)


@FAST
@given(hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)))
def test_arbitrary_arrays(array: np.ndarray) -> None:
    _load(array)


@FAST
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5)))
def test_float_arrays_with_any_values(array: np.ndarray) -> None:
    _load(array)


@FAST
@given(st.lists(st.integers(1, 5), min_size=0, max_size=5).map(tuple))
def test_object_arrays(shape: tuple[int, ...]) -> None:
    _load(np.empty(shape, dtype=object))


ODD_TEXTS = st.sampled_from(
    [
        "~",
        "~no-such-user-here/x.png",
        "http://",
        "https://[::1",
        "https://example.com:99999/x.png",
        "ftp://example.com/x.png",
        "file:///etc/hostname",
        "data:",
        "data:image/png;base64,",
        "data:image/png;base64,AAAA",
        "A" * 64,
        "A" * 63 + "=",
        "\x00",
        ".",
        "..",
        "/",
        "x" * 5000,
    ]
)
ANY_TEXT = st.one_of(
    ODD_TEXTS,
    st.text(max_size=300),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Zs", "So"]), max_size=50),
    st.from_regex(r"[a-z]{2,6}://[^\s]{0,40}", fullmatch=True),
    st.from_regex(r"data:[a-z/+.-]{0,20}(;[a-z=]+)?(;base64)?,[A-Za-z0-9+/=_-]{0,80}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9+/=]{60,200}", fullmatch=True),
)


@FAST
@given(ANY_TEXT)
def test_arbitrary_strings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.chdir(tmp_path)  # relative names resolve in an empty folder
    _load(text)
    _load(text.encode("utf-8", "surrogatepass"))


@FAST
@given(
    st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.integers(), max_size=3), st.just(object()))
)
def test_unsupported_objects(value: object) -> None:
    with pytest.raises(ImageLoadError, match=r"unsupported input type|numpy array"):
        load_image(value)  # type: ignore[arg-type]
