"""ZeroShotClassifier (search/zero_shot.py): prompt ensembling, independent sigmoid probabilities,
softmax for CLIP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever import SiglipEncoder, ZeroShotClassifier
from siglip_retriever.encoding.scores import sigmoid_probability
from siglip_retriever.errors import ConfigurationError, InputTypeError

PICTURES = [Image.new("RGB", (32, 32), colour) for colour in ("red", "blue", "green")]


def test_probabilities_are_independent_sigmoids(tiny_encoder: SiglipEncoder) -> None:
    classifier = ZeroShotClassifier(["cat", "dog", "bird"], encoder=tiny_encoder)
    results = classifier.classify(PICTURES)
    assert len(results) == 3
    assert classifier.score_kind == "sigmoid"
    image_vectors = tiny_encoder.encode_images(PICTURES)
    prompts = tiny_encoder.encode_texts(["a photo of cat.", "a photo of dog.", "a photo of bird."])
    expected = sigmoid_probability(
        image_vectors @ prompts.T, logit_scale=tiny_encoder.logit_scale, logit_bias=tiny_encoder.logit_bias
    )
    for result, row in zip(results, expected, strict=True):
        assert list(result.probabilities) == ["cat", "dog", "bird"]
        np.testing.assert_allclose(list(result.probabilities.values()), row, rtol=1e-5)
        assert result.top == max(result.probabilities.items(), key=lambda item: item[1])
        assert result.ranked()[0] == result.top
        assert result.above(0.0) == [label for label, _ in result.ranked()]
        assert result.above(1.0) == []
    data = results[0].to_dict()
    assert set(data) == {"image", "score_kind", "top", "labels"}
    assert data["image"].startswith("PIL image")


def test_names_and_templates_are_averaged(tiny_encoder: SiglipEncoder) -> None:
    names = {"circle": ["circle", "cercle", "Kreis"], "square": ["square"]}
    templates = ["a photo of {}.", "{}"]
    classifier = ZeroShotClassifier(names, templates=templates, encoder=tiny_encoder)
    prompts = [t.format(n) for n in names["circle"] for t in templates]
    mean = tiny_encoder.encode_texts(prompts).mean(axis=0)
    np.testing.assert_allclose(classifier.label_vectors[0], mean / np.linalg.norm(mean), atol=1e-6)
    assert classifier.labels == ["circle", "square"]


def test_clip_gives_a_softmax_over_labels(tiny_clip_dir: Path) -> None:
    classifier = ZeroShotClassifier(["cat", "dog", "bird"], model=tiny_clip_dir, device="cpu")
    results = classifier.classify(PICTURES)
    assert classifier.score_kind == "softmax"
    for result in results:
        assert result.score_kind == "softmax"
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-6)


def test_bad_labels_and_templates(tiny_encoder: SiglipEncoder) -> None:
    with pytest.raises(ConfigurationError, match="at least one label"):
        ZeroShotClassifier([], encoder=tiny_encoder)
    with pytest.raises(ConfigurationError, match="twice"):
        ZeroShotClassifier(["cat", "cat"], encoder=tiny_encoder)
    with pytest.raises(ConfigurationError, match="empty name"):
        ZeroShotClassifier(["cat", " "], encoder=tiny_encoder)
    with pytest.raises(InputTypeError, match="one string"):
        ZeroShotClassifier("cat,dog", encoder=tiny_encoder)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="has no"):
        ZeroShotClassifier(["cat"], templates=["a photo"], encoder=tiny_encoder)
    with pytest.raises(InputTypeError, match="list of images"):
        ZeroShotClassifier(["cat"], encoder=tiny_encoder).classify(PICTURES[0])  # type: ignore[arg-type]
