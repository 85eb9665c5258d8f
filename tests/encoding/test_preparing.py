"""Prepared images (encoding/preparing.py): decoded and preprocessed without the model, encoded alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siglip_retriever.encoding.encoder import PreparedImage, SiglipEncoder
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
