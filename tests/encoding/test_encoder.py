"""SiglipEncoder (encoding/encoder.py): the model card's reference usage on tiny local checkpoints,
prefetching decode threads and the query cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoModel, AutoProcessor

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import (
    ConfigurationError,
    ImageLoadError,
    InputTypeError,
    ModelLoadError,
    UnknownPresetError,
)
from tests.helpers import image_input_kinds, mixed_inputs, random_pictures

TEXTS = [
    "a photo of a red circle",
    "une photo d'un cercle rouge",
    "红色圆形的照片",
    "صورة دائرة حمراء",
    "фотография красного круга",
    "",
]


def _images() -> list[Image.Image]:
    pictures = random_pictures(4)  # 32x32, 64x48, 17x90, 300x200
    pictures.append(pictures[1].convert("L"))
    pictures.append(pictures[2].convert("RGBA"))
    return pictures


def _reference(checkpoint: Path, texts: list[str], images: list[Image.Image]) -> tuple[torch.Tensor, ...]:
    """The model card's usage: processor with padding="max_length", model forward, sigmoid."""
    model = AutoModel.from_pretrained(checkpoint).eval()
    processor = AutoProcessor.from_pretrained(checkpoint)
    rgb = [image.convert("RGB") for image in images]
    extra = {}
    if model.config.model_type == "siglip2":
        # Siglip2Processor's call defaults (patch 16, 256 patches) fit the released checkpoints,
        # not a tiny one: pass the checkpoint's own values
        ip = processor.image_processor
        extra = {"patch_size": ip.patch_size, "max_num_patches": ip.max_num_patches}
    inputs = processor(
        text=texts,
        images=rgb,
        padding="max_length",
        max_length=model.config.text_config.max_position_embeddings,
        truncation=True,
        return_tensors="pt",
        **extra,
    )
    with torch.no_grad():
        outputs = model(**inputs)
    return outputs.text_embeds, outputs.image_embeds, torch.sigmoid(outputs.logits_per_image)


@pytest.mark.parametrize("family", ["siglip", "siglip2"])
def test_parity_with_model_card(family: str, tiny_siglip_dir: Path, tiny_siglip2_dir: Path) -> None:
    checkpoint = tiny_siglip_dir if family == "siglip" else tiny_siglip2_dir
    images = _images()
    ref_text, ref_image, ref_probs = _reference(checkpoint, TEXTS, images)

    encoder = SiglipEncoder(checkpoint, device="cpu", batch_size=4)
    text_vectors = encoder.encode_texts(TEXTS)
    image_vectors = encoder.encode_images(images)

    assert text_vectors.dtype == np.float32 and image_vectors.dtype == np.float32
    np.testing.assert_allclose(text_vectors, ref_text.numpy(), atol=1e-5)
    np.testing.assert_allclose(image_vectors, ref_image.numpy(), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(text_vectors, axis=1), 1.0, atol=1e-5)
    probs = encoder.probabilities(text_vectors, image_vectors)
    assert probs.shape == (len(TEXTS), len(images))
    np.testing.assert_allclose(probs, ref_probs.numpy().T, atol=1e-5)
    assert encoder.family == family
    assert encoder.score_kind == "sigmoid"


def test_every_image_input_kind_gives_the_same_vector(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    picture = _images()[1]
    inputs = [*image_input_kinds(picture, tmp_path), np.asarray(picture) / 255.0]
    vectors = tiny_encoder.encode_images(inputs)
    for i in range(1, len(inputs)):
        np.testing.assert_allclose(vectors[i], vectors[0], atol=1e-5, err_msg=f"input {i}")


def test_prefetch_gives_the_same_vectors_in_the_same_order(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    items = mixed_inputs(tmp_path)
    serial = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=3, num_workers=0)
    threaded = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=3, num_workers=3)
    one_by_one = np.stack([serial.encode_images([item])[0] for item in items])
    np.testing.assert_allclose(threaded.encode_images(items), serial.encode_images(items), atol=1e-6)
    np.testing.assert_allclose(threaded.encode_images(items), one_by_one, atol=1e-5)
    # any subset gives the same vectors as the whole list
    return_order = [threaded.encode_images(items[i : i + 1])[0] for i in (4, 0, 7)]
    np.testing.assert_allclose(np.stack(return_order), threaded.encode_images(items)[[4, 0, 7]], atol=1e-5)


def test_prefetch_on_siglip2(tiny_siglip2_dir: Path, tmp_path: Path) -> None:
    items = mixed_inputs(tmp_path)
    serial = SiglipEncoder(tiny_siglip2_dir, device="cpu", batch_size=4, num_workers=0)
    threaded = SiglipEncoder(tiny_siglip2_dir, device="cpu", batch_size=4, num_workers=2)
    np.testing.assert_allclose(threaded.encode_images(items), serial.encode_images(items), atol=1e-6)


def test_batching_does_not_change_vectors(tiny_siglip_dir: Path) -> None:
    images = _images()
    one = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=1)
    many = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=16)
    np.testing.assert_allclose(one.encode_images(images), many.encode_images(images), atol=1e-5)
    np.testing.assert_allclose(one.encode_texts(TEXTS), many.encode_texts(TEXTS), atol=1e-5)


def test_empty_inputs_and_long_texts(tiny_encoder: SiglipEncoder) -> None:
    assert tiny_encoder.encode_texts([]).shape == (0, tiny_encoder.dim)
    assert tiny_encoder.encode_images([]).shape == (0, tiny_encoder.dim)
    long_text = "a red circle " * 500
    vectors = tiny_encoder.encode_texts([long_text, "a red circle " * tiny_encoder.text_length])
    assert vectors.shape == (2, tiny_encoder.dim)
    # both are cut at the model's text length, so they are the same text to the model
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


def test_bad_texts_are_type_errors(tiny_encoder: SiglipEncoder) -> None:
    with pytest.raises(InputTypeError, match="not one string"):
        tiny_encoder.encode_texts("a red circle")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="text 1 is NoneType"):
        tiny_encoder.encode_texts(["ok", None])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        tiny_encoder.encode_texts(None)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError):
        tiny_encoder.encode_query(42)  # type: ignore[arg-type]


def test_broken_image_names_the_input(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        tiny_encoder.encode_images([_images()[0], bad])
    with pytest.raises(InputTypeError, match="list of images"):
        tiny_encoder.encode_images(str(bad))  # type: ignore[arg-type]


def test_query_cache(tiny_encoder: SiglipEncoder) -> None:
    first = tiny_encoder.encode_query("un cercle rouge")
    second = tiny_encoder.encode_query("un cercle rouge")
    assert first is second
    assert not first.flags.writeable
    np.testing.assert_allclose(first, tiny_encoder.encode_texts(["un cercle rouge"])[0], atol=1e-6)


def test_query_cache_is_an_lru_that_skips_the_model(
    tiny_siglip_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", query_cache_size=2)
    forwards: list[list[str]] = []
    real = encoder._encode_text_batch

    def encode_text_batch(texts: list[str]) -> Any:
        forwards.append(texts)
        return real(texts)

    monkeypatch.setattr(encoder, "_encode_text_batch", encode_text_batch)
    red = encoder.encode_query("red")
    assert encoder.encode_query("red") is red
    assert len(forwards) == 1
    encoder.encode_query("blue")
    encoder.encode_query("red")  # red is now the most recent
    encoder.encode_query("green")  # evicts blue
    assert len(forwards) == 3
    assert encoder.encode_query("red") is red
    encoder.encode_query("blue")
    assert len(forwards) == 4
    with pytest.raises(ValueError, match="read-only"):
        red[0] = 1.0

    uncached = SiglipEncoder(tiny_siglip_dir, device="cpu", query_cache_size=0)
    first, second = uncached.encode_query("red"), uncached.encode_query("red")
    assert first is not second
    np.testing.assert_allclose(first, red, atol=1e-6)


def test_facts_come_from_the_checkpoint(tiny_encoder: SiglipEncoder) -> None:
    assert tiny_encoder.dim == 32
    assert tiny_encoder.text_length == 16
    assert tiny_encoder.image_size == 32
    assert tiny_encoder.logit_scale == pytest.approx(10.0)
    assert tiny_encoder.logit_bias == pytest.approx(-10.0)
    assert "SiglipEncoder(" in repr(tiny_encoder)


def test_probabilities_formula(tiny_encoder: SiglipEncoder) -> None:
    text = np.array([[1.0, 0.0], [0.0, 1.0]])
    image = np.array([[1.0, 0.0]])
    probs = tiny_encoder.probabilities(text, image)
    expected = 1 / (1 + np.exp(-(10.0 * np.array([[1.0], [0.0]]) - 10.0)))
    np.testing.assert_allclose(probs, expected)
    with pytest.raises(ConfigurationError, match="vector sizes differ"):
        tiny_encoder.probabilities(np.ones((1, 3)), np.ones((1, 4)))


def test_bad_options(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="batch_size"):
        SiglipEncoder(tiny_siglip_dir, batch_size=0)
    with pytest.raises(ConfigurationError, match="device"):
        SiglipEncoder(tiny_siglip_dir, device="tpu")
    with pytest.raises(ConfigurationError, match="dtype"):
        SiglipEncoder(tiny_siglip_dir, device="cpu", dtype="int3")
    with pytest.raises(UnknownPresetError, match="unknown model"):
        SiglipEncoder("no such model")
    with pytest.raises(ModelLoadError, match=r"save_pretrained|offline"):
        SiglipEncoder(tmp_path)  # an empty directory
    with pytest.raises(ModelLoadError, match="offline"):
        SiglipEncoder("google/siglip-not-downloaded-here", device="cpu")


def test_progress_bar(tiny_siglip_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=2, show_progress=True)
    assert encoder.encode_images(_images()).shape[0] == 6
    assert "encoding images" in capsys.readouterr().err


def test_clip_parity_and_softmax(tiny_clip_dir: Path) -> None:
    """CLIP checkpoints load too; their scores are a softmax, as CLIP's model card uses them."""
    images = _images()
    model = AutoModel.from_pretrained(tiny_clip_dir).eval()
    processor = AutoProcessor.from_pretrained(tiny_clip_dir)
    rgb = [image.convert("RGB") for image in images]
    inputs = processor(
        text=TEXTS, images=rgb, padding=True, truncation=True, max_length=16, return_tensors="pt"
    )
    with torch.no_grad():
        outputs = model(**inputs)
    encoder = SiglipEncoder(tiny_clip_dir, device="cpu")
    assert (encoder.family, encoder.score_kind, encoder.logit_bias) == ("clip", "softmax", 0.0)
    text_vectors = encoder.encode_texts(TEXTS)
    image_vectors = encoder.encode_images(images)
    np.testing.assert_allclose(text_vectors, outputs.text_embeds.numpy(), atol=1e-5)
    np.testing.assert_allclose(image_vectors, outputs.image_embeds.numpy(), atol=1e-5)
    probs = encoder.probabilities(text_vectors, image_vectors)
    np.testing.assert_allclose(probs, outputs.logits_per_image.softmax(-1).numpy().T, atol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-6)
