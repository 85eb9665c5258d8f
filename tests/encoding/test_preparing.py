"""Prepared images (encoding/preparing.py): decoded and preprocessed without the model, encoded alike,
and resized right after decoding as each family's processor resizes."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from transformers import AutoProcessor

from siglip_retriever.encoding.encoder import PreparedImage, SiglipEncoder
from siglip_retriever.encoding.preparing import ImagePreparer
from siglip_retriever.errors import ConfigurationError
from tests.helpers import mixed_inputs, random_pictures


def test_prepared_images_are_encoded_like_their_sources(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    items = mixed_inputs(tmp_path)
    prepared = [tiny_encoder.prepare_image(item) for item in items]
    assert all(isinstance(p, PreparedImage) for p in prepared)
    assert prepared[2].width == items[2].width and prepared[2].height == items[2].height
    assert set(prepared[0].inputs) == {"pixel_values"}
    assert prepared[0].inputs["pixel_values"].shape == (1, 3, 32, 32)
    mixed = [prepared[i] if i % 2 else item for i, item in enumerate(items)]
    np.testing.assert_allclose(
        tiny_encoder.encode_images(mixed), tiny_encoder.encode_images(items), atol=1e-6
    )
    assert tiny_encoder.prepare_image(prepared[0]) is prepared[0]


def test_prepared_for_another_model_is_refused(tiny_encoder: SiglipEncoder, tiny_siglip2_dir: Path) -> None:
    other = SiglipEncoder(tiny_siglip2_dir, device="cpu")
    prepared = other.prepare_image(random_pictures(1)[0])
    with pytest.raises(ConfigurationError, match="prepared for model"):
        tiny_encoder.encode_images([prepared])


@pytest.mark.parametrize("family", ["siglip", "siglip2", "clip"])
def test_prepared_pixels_are_the_processors_for_every_family(
    family: str, tiny_siglip_dir: Path, tiny_siglip2_dir: Path, tiny_clip_dir: Path
) -> None:
    checkpoint = {"siglip": tiny_siglip_dir, "siglip2": tiny_siglip2_dir, "clip": tiny_clip_dir}[family]
    processor = AutoProcessor.from_pretrained(checkpoint).image_processor  # the model card's
    options = (
        {"patch_size": processor.patch_size, "max_num_patches": processor.max_num_patches}
        if family == "siglip2"
        else {}
    )
    preparer = SiglipEncoder(checkpoint, device="cpu").image_preparer()
    odd = [Image.new("RGB", (8, 1), "red"), random_pictures(1, seed=3)[0].resize((812, 112))]
    gray = random_pictures(4)[3].convert("L")  # made small first, then RGB: the same pixels
    for picture in [*random_pictures(5), *odd, gray]:  # square, wide, tall, one pixel high, very tall
        decoded = preparer.decode(picture)
        assert decoded.resized and (decoded.width, decoded.height) == picture.size
        expected = processor(images=[picture.convert("RGB")], return_tensors="np", **options)
        prepared = preparer.preprocess(decoded).inputs
        assert set(prepared) == set(expected)
        for key, value in expected.items():
            assert np.array_equal(prepared[key], np.asarray(value)), (family, picture.size, key)


def test_siglip2_pictures_are_resized_once(tiny_siglip2_dir: Path) -> None:
    """SigLIP 2's patch budget, asked again of a picture it sized, can give another size (a 2x1
    picture goes to 208x112 under the released checkpoints' 16-pixel patches and 256 patches, and
    208x112 then to 336x192): the processor must not resize what decoding resized already."""
    processor = copy.deepcopy(AutoProcessor.from_pretrained(tiny_siglip2_dir).image_processor)
    processor.patch_size, processor.max_num_patches = 16, 256
    preparer = ImagePreparer("released-budget", processor, target_size=0, max_pixels=None)
    for picture in [Image.new("RGB", (2, 1), "red"), Image.new("RGB", (1, 1), "blue")]:
        prepared = preparer(picture).inputs
        expected = processor(images=[picture], return_tensors="np")
        assert all(np.array_equal(prepared[key], np.asarray(value)) for key, value in expected.items())


def test_a_processor_without_a_known_resize_gets_the_whole_factor_reduction() -> None:
    preparer = ImagePreparer("custom", SimpleNamespace(do_resize=False), target_size=40, max_pixels=None)
    picture = random_pictures(4)[3]  # 300x200
    decoded = preparer.decode(picture)
    assert not decoded.resized and decoded.image.size == (150, 100)  # 200 // 80 = 2
    assert preparer.resize(picture).size == (300, 200)
