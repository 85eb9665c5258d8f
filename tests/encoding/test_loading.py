"""Loading a checkpoint (encoding/loading.py): the process-wide model cache, int8, the device choice.

No timing here (benchmarks/run.py measures speed); these tests check that the fast paths give the
same answers as the plain ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.loading import load_counts
from siglip_retriever.errors import ConfigurationError
from tests.helpers import mixed_inputs, random_pictures

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_same_options_load_once(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    checkpoint = Path(shutil.copytree(tiny_siglip_dir, tmp_path / "fresh"))  # a path no test loaded
    a = SiglipEncoder(checkpoint, device="cpu")
    b = SiglipEncoder(str(checkpoint), device="cpu", dtype="float32", batch_size=7)
    assert a.model is b.model
    key = (str(checkpoint.resolve()), "cpu", "float32")
    assert load_counts()[key] == 1


def test_int8_vectors_are_close_to_float32(tiny_siglip_dir: Path, tiny_siglip2_dir: Path) -> None:
    for checkpoint in (tiny_siglip_dir, tiny_siglip2_dir):
        fp32 = SiglipEncoder(checkpoint, device="cpu")
        int8 = SiglipEncoder(checkpoint, device="cpu", dtype="int8")
        assert int8.dtype == "int8" and int8.device == "cpu"
        assert int8.model is not fp32.model
        pictures = random_pictures(8, seed=3)
        images32, images8 = fp32.encode_images(pictures), int8.encode_images(pictures)
        texts = ["a photo of a red circle", "un carré bleu", "赤い丸の写真"]
        texts32, texts8 = fp32.encode_texts(texts), int8.encode_texts(texts)
        assert np.sum(images32 * images8, axis=1).min() > 0.99
        assert np.sum(texts32 * texts8, axis=1).min() > 0.99
        np.testing.assert_allclose(np.linalg.norm(images8, axis=1), 1.0, atol=1e-5)
        assert int8.logit_scale == pytest.approx(fp32.logit_scale)
        assert int8.logit_bias == pytest.approx(fp32.logit_bias)


def test_int8_has_its_own_cache_key_and_is_a_cpu_mode(tiny_siglip_dir: Path) -> None:
    a = SiglipEncoder(tiny_siglip_dir, dtype="int8")  # device "auto" means the CPU for int8
    b = SiglipEncoder(str(tiny_siglip_dir), device="cpu", dtype="qint8", batch_size=3)
    assert a.device == "cpu" and a.model is b.model
    key = (str(tiny_siglip_dir.resolve()), "cpu", "int8")
    assert load_counts()[key] == 1
    assert SiglipEncoder(tiny_siglip_dir, device="cpu").model is not a.model
    with pytest.raises(ConfigurationError, match=r"int8|CUDA"):
        SiglipEncoder(tiny_siglip_dir, device="cuda", dtype="int8")


@pytest.mark.parametrize("device", DEVICES)
def test_auto_device_path(tiny_siglip_dir: Path, tmp_path: Path, device: str) -> None:
    """``device="auto"`` picks the GPU where there is one, with float16 and pinned host memory."""
    encoder = SiglipEncoder(tiny_siglip_dir, device="auto" if device == "cuda" else device, batch_size=4)
    assert encoder.device == device
    assert encoder.dtype == ("float16" if device == "cuda" else "float32")
    reference = SiglipEncoder(tiny_siglip_dir, device="cpu", dtype="float32", num_workers=0)
    items = mixed_inputs(tmp_path)
    vectors = encoder.encode_images(items)
    assert vectors.dtype == np.float32 and vectors.shape == (len(items), encoder.dim)
    assert np.sum(vectors * reference.encode_images(items), axis=1).min() > 0.99
    texts = ["a photo of a red circle", "un carré bleu"]
    assert np.sum(encoder.encode_texts(texts) * reference.encode_texts(texts), axis=1).min() > 0.99


def test_int8_keeps_the_demo_models_answers() -> None:
    """On the trained demo checkpoint, int8 finds the same class as float32 for every caption that
    float32 does not call a near tie (its best class ahead of the next by less than 0.01 in
    cosine), and is right as often but for those near ties."""
    from siglip_retriever.demo.data import CLASSES, LANGUAGES, caption, render

    rng = np.random.default_rng(4242)
    per_class = 2
    pictures = [render(shape, colour, rng, size=64) for shape, colour in CLASSES for _ in range(per_class)]

    def best_per_class(texts: np.ndarray, gallery: np.ndarray) -> np.ndarray:
        """Each caption's best cosine in each class: (captions, classes)."""
        return (texts @ gallery.T).reshape(len(texts), len(CLASSES), per_class).max(axis=2)

    fp32 = SiglipEncoder("demo", device="cpu")
    int8 = SiglipEncoder("demo", device="cpu", dtype="int8")
    gallery32, gallery8 = fp32.encode_images(pictures), int8.encode_images(pictures)
    assert np.sum(gallery32 * gallery8, axis=1).min() > 0.99
    for lang in LANGUAGES:
        texts = [caption(shape, colour, lang) for shape, colour in CLASSES]
        texts32, texts8 = fp32.encode_texts(texts), int8.encode_texts(texts)
        assert np.sum(texts32 * texts8, axis=1).min() > 0.99, lang
        by_class32, by_class8 = best_per_class(texts32, gallery32), best_per_class(texts8, gallery8)
        found32, found8 = by_class32.argmax(axis=1), by_class8.argmax(axis=1)
        top_two = np.sort(by_class32, axis=1)[:, -2:]
        clear = top_two[:, 1] - top_two[:, 0] > 0.01
        assert clear.sum() >= len(texts) - 2, lang
        np.testing.assert_array_equal(found8[clear], found32[clear], err_msg=lang)
        truth = np.arange(len(CLASSES))
        assert np.sum(found8 == truth) >= np.sum(found32 == truth) - np.sum(~clear), lang
