"""The same pixels, the same vector (encoding/images.py, encoding/preparing.py): a picture passed as
any kind of input gives the vector of the model card's processor on its PIL image.

PNG pictures of 40x40 to 7000x7000 as a PIL image, a path (``str`` and ``Path``), bytes, a file
object, a numpy array, a data URI and bare base64 on the bundled demo model; JPEG files against
the PIL image of their pixels decoded in full: exact below twice the model's input side, close
above it, where the file is decoded at reduced scale (``benchmarks/input_kinds.py`` prints the
table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoModel, AutoProcessor

from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.helpers import image_input_kinds, noisy_gradient, photo_like

KINDS = ["PIL image", "str path", "Path", "bytes", "file object", "numpy array", "data URI", "base64"]
SIZES = [(40, 40), (300, 200), (600, 800), pytest.param((7000, 7000), marks=pytest.mark.slow)]
JPEG_COSINE = 0.999
"""The least cosine of a photo-like JPEG file (quality 90) decoded at reduced scale to the PIL
image of its pixels decoded in full, on the demo model: 0.99922 to 0.99993 measured
(``benchmarks/input_kinds.py``; pictures of per-pixel noise go lower)."""


@pytest.fixture(scope="module")
def demo() -> SiglipEncoder:
    return SiglipEncoder("demo", device="cpu")


@pytest.fixture(scope="module")
def model_card(demo: SiglipEncoder) -> Any:
    """The model card's usage: the processor on the PIL image (``padding="max_length"`` for the
    text beside it, the processor's own resize), the model's ``image_embeds``."""
    model = AutoModel.from_pretrained(demo.model_id).eval()
    processor = AutoProcessor.from_pretrained(demo.model_id)

    def embed(picture: Image.Image) -> np.ndarray:
        inputs = processor(
            text=["a picture"],
            images=[picture],
            padding="max_length",
            max_length=demo.text_length,
            return_tensors="pt",
        )
        with torch.no_grad():
            return model(**inputs).image_embeds[0].numpy()

    return embed


def _largest_gap(vectors: np.ndarray) -> tuple[float, str]:
    """The largest difference between any two rows, and the pair of kinds that gives it."""
    gaps = np.abs(vectors[:, None, :] - vectors[None, :, :]).max(axis=-1)
    i, j = np.unravel_index(int(gaps.argmax()), gaps.shape)
    return float(gaps[i, j]), f"{KINDS[i]} ~ {KINDS[j]}"


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_input_kind_gives_the_model_cards_vector(
    demo: SiglipEncoder, model_card: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    picture = noisy_gradient(*size)
    inputs = image_input_kinds(picture, tmp_path)
    assert len(inputs) == len(KINDS)
    vectors = demo.encode_images(inputs)
    gap, pair = _largest_gap(vectors)
    assert gap <= 1e-5, f"{pair}: {gap:.2e}"
    reference = model_card(picture)
    assert np.abs(vectors[0] - reference).max() <= 1e-4


@pytest.mark.parametrize("size", [(40, 40), (79, 120)], ids=lambda size: f"{size[0]}x{size[1]}")
def test_a_jpeg_below_twice_the_input_side_is_decoded_in_full(
    demo: SiglipEncoder, tmp_path: Path, size: tuple[int, int]
) -> None:
    path = tmp_path / "picture.jpg"
    noisy_gradient(*size).save(path, format="JPEG", quality=90)
    with Image.open(path) as file:
        pixels = file.convert("RGB")
    from_file, from_pixels = demo.encode_images([path, pixels])
    assert np.abs(from_file - from_pixels).max() <= 1e-5


@pytest.mark.parametrize(
    "size", [(300, 200), (600, 800), (1600, 1200)], ids=lambda size: f"{size[0]}x{size[1]}"
)
def test_a_larger_jpeg_decoded_at_reduced_scale_is_close_to_its_pixels(
    demo: SiglipEncoder, tmp_path: Path, size: tuple[int, int]
) -> None:
    path = tmp_path / "photo.jpg"
    photo_like(3, size).save(path, format="JPEG", quality=90)
    with Image.open(path) as file:
        pixels = file.convert("RGB")  # decoded in full
    from_file, from_pixels = demo.encode_images([path, pixels])
    assert float(from_file @ from_pixels) >= JPEG_COSINE
    assert np.abs(from_file - from_pixels).max() > 1e-5  # the file was decoded at reduced scale
