"""The bundled demo checkpoint: it loads through the "demo" preset and its answers are right.

The gallery is drawn with a seed the training never used, so these are held-out measurements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from siglip_retriever import PRESETS, SiglipEncoder
from siglip_retriever.demo.data import CLASSES, LANGUAGES, class_captions, write_image_folder
from tests.demo.gallery import HELD_OUT_SEED, caption_queries, held_out_gallery

MODEL_DIR = Path(PRESETS["demo"].model_id)


@pytest.fixture(scope="module")
def encoder() -> SiglipEncoder:
    return SiglipEncoder("demo", device="cpu")


def test_checkpoint_is_complete_small_and_matches_the_preset(encoder: SiglipEncoder) -> None:
    names = {p.name for p in MODEL_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "spiece.model", "tokenizer_config.json"} <= names
    assert (MODEL_DIR / "model.safetensors").stat().st_size < 6 * 2**20
    assert encoder.family == "siglip"
    assert encoder.score_kind == "sigmoid"
    assert encoder.text_length == PRESETS["demo"].text_length
    assert encoder.image_size == PRESETS["demo"].image_size
    report: dict[str, Any] = json.loads((MODEL_DIR / "training_report.json").read_text(encoding="utf-8"))
    assert report["training_seconds"] > 0
    assert set(report["held_out"]["recall_at_1"]) == set(LANGUAGES)


def test_tokenizer_returns_no_attention_mask(encoder: SiglipEncoder) -> None:
    # SigLIP attends to its pad tokens; the demo model was trained on input ids alone
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    inputs = tokenizer(
        ["a red circle"], padding="max_length", max_length=encoder.text_length, truncation=True
    )
    assert set(inputs) == {"input_ids"}
    assert len(inputs["input_ids"][0]) == encoder.text_length


def test_logit_scale_and_bias_were_learned(encoder: SiglipEncoder) -> None:
    assert encoder.logit_scale != pytest.approx(10.0, abs=0.05)
    assert encoder.logit_bias != pytest.approx(-10.0, abs=0.05)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_text_to_image_recall_at_1(encoder: SiglipEncoder, lang: str) -> None:
    """For every class caption (all templates), the best picture of 96 is of that class."""
    images, image_labels = held_out_gallery(encoder)
    queries, query_labels = caption_queries(encoder, lang)
    top = encoder.cosine(queries, images).argmax(axis=1)
    recall = float(np.mean(image_labels[top] == query_labels))
    assert recall >= 0.9, f"{lang}: Recall@1 {recall:.3f}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_probabilities_are_calibrated(encoder: SiglipEncoder, lang: str) -> None:
    """Matching caption-picture pairs score above 0.5 and the others below, on >= 90 % of each."""
    images, image_labels = held_out_gallery(encoder)
    queries, query_labels = caption_queries(encoder, lang)
    probabilities = encoder.probabilities(queries, images)
    assert probabilities.shape == (len(queries), len(images))
    match = query_labels[:, None] == image_labels[None, :]
    positives = float(np.mean(probabilities[match] > 0.5))
    negatives = float(np.mean(probabilities[~match] < 0.5))
    assert positives >= 0.9, f"{lang}: only {positives:.3f} of matching pairs above 0.5"
    assert negatives >= 0.9, f"{lang}: only {negatives:.3f} of non-matching pairs below 0.5"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_zero_shot_classification(encoder: SiglipEncoder, lang: str) -> None:
    """Image -> text: each picture's best class caption names its shape and colour."""
    images, image_labels = held_out_gallery(encoder)
    texts = encoder.encode_texts(class_captions(lang))
    predicted = encoder.cosine(images, texts).argmax(axis=1)
    accuracy = float(np.mean(predicted == image_labels))
    assert accuracy >= 0.9, f"{lang}: zero-shot accuracy {accuracy:.3f}"


def test_captions_of_one_class_agree_across_languages(encoder: SiglipEncoder) -> None:
    """The nearest caption in another language is the same class's caption."""
    vectors = {lang: encoder.encode_texts(class_captions(lang)) for lang in LANGUAGES}
    for lang in LANGUAGES:
        hits = np.mean(encoder.cosine(vectors["en"], vectors[lang]).argmax(axis=1) == np.arange(len(CLASSES)))
        assert hits >= 0.9, f"en -> {lang}: {hits:.3f}"


def test_search_a_folder_of_pictures(encoder: SiglipEncoder, tmp_path: Path) -> None:
    """Image files written by write_image_folder: a query finds files named after it."""
    written = write_image_folder(tmp_path, per_class=2, seed=HELD_OUT_SEED + 1, size=64)
    vectors = encoder.encode_images([path for path, _, _ in written])
    for query, prefix in (
        ("a red circle", "red_circle_"),
        ("синяя звезда", "blue_star_"),
        ("一个黄色的三角形", "yellow_triangle_"),
    ):
        best = written[int(np.argmax(encoder.cosine(encoder.encode_texts([query]), vectors)[0]))][0]
        assert best.name.startswith(prefix), (query, best.name)
