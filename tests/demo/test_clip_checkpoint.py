"""The bundled ``demo-clip`` twin: a CLIP of the demo's size, trained with the softmax loss.

It exists so that SigLIP and CLIP can be compared offline on equal terms (a tokenizer trained
the same way, the same pictures, the same size); these tests show it loads as CLIP, retrieves
as well as its recipe promises, and scores the way a softmax model does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from siglip_retriever import PRESETS, SiglipEncoder
from siglip_retriever.cli import main
from siglip_retriever.demo.data import LANGUAGES, class_captions, render
from tests.demo.gallery import HELD_OUT_SEED, caption_queries, held_out_gallery

CLIP_DIR = Path(PRESETS["demo-clip"].model_id)
DEMO_DIR = Path(PRESETS["demo"].model_id)


@pytest.fixture(scope="module")
def clip() -> SiglipEncoder:
    return SiglipEncoder("demo-clip", device="cpu")


def test_loads_as_clip_with_the_demo_tokenizer_and_size(clip: SiglipEncoder) -> None:
    demo = SiglipEncoder("demo", device="cpu")
    assert (clip.family, clip.score_kind) == ("clip", "softmax")
    assert (clip.text_length, clip.image_size, clip.dim) == (demo.text_length, demo.image_size, demo.dim)
    assert clip.logit_bias == 0.0
    assert (CLIP_DIR / "spiece.model").is_file()  # a SentencePiece tokenizer trained as the demo's
    report: dict[str, Any] = json.loads((CLIP_DIR / "training_report.json").read_text(encoding="utf-8"))
    assert report["config"]["family"] == "clip"
    demo_report = json.loads((DEMO_DIR / "training_report.json").read_text(encoding="utf-8"))
    for key in (
        "image_size",
        "patch_size",
        "text_length",
        "hidden_size",
        "num_layers",
        "batch_size",
        "pool_per_class",
    ):
        assert report["config"][key] == demo_report["config"][key], key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_text_to_image_recall_and_zero_shot(clip: SiglipEncoder, lang: str) -> None:
    images, image_labels = held_out_gallery(clip)
    queries, labels = caption_queries(clip, lang)
    top = clip.cosine(queries, images).argmax(axis=1)
    assert float(np.mean(image_labels[top] == np.array(labels))) >= 0.9
    predicted = clip.cosine(images, clip.encode_texts(class_captions(lang))).argmax(axis=1)
    assert float(np.mean(predicted == image_labels)) >= 0.9


def test_softmax_scores_depend_on_the_candidates_and_sigmoid_scores_do_not(clip: SiglipEncoder) -> None:
    """The difference the comparison is about, on one picture of a red circle."""
    picture = [render("circle", "red", np.random.default_rng(HELD_OUT_SEED + 1), size=64)]
    alone = ["a red circle"]
    crowded = ["a red circle", "un cercle rouge", "a red circle", "a blue star"]
    demo = SiglipEncoder("demo", device="cpu")
    for encoder in (demo, clip):
        image = encoder.encode_images(picture)
        p_alone = encoder.probabilities(encoder.encode_texts(alone), image)[0, 0]
        p_crowded = encoder.probabilities(encoder.encode_texts(crowded), image)[0, 0]
        if encoder.score_kind == "sigmoid":
            assert p_alone == pytest.approx(p_crowded, abs=1e-6)  # a pair is scored on its own
            assert p_alone > 0.5
        else:
            assert p_alone == pytest.approx(1.0)  # one candidate takes all of the softmax
            assert p_crowded < 0.5  # shared with the same caption twice and its translation


@pytest.mark.slow
def test_offline_comparison_of_the_two(tmp_path: Path) -> None:
    args = ["--device", "cpu", "compare", "--models", "demo,demo-clip", "--format", "json"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    models = {model["name"]: model for model in report["models"]}
    assert set(models) == {"demo", "demo-clip"}
    assert (models["demo"]["score_kind"], models["demo-clip"]["score_kind"]) == ("sigmoid", "softmax")
    for model in models.values():
        overall = model["retrieval"]["overall"]
        assert overall["text_to_image"]["R@1"] >= 0.9, model["name"]
        assert overall["images"] == 24  # one captioned picture per class
        assert min(model["zero_shot"].values()) >= 0.9, model["name"]
