"""Zero-shot image classification with independent (sigmoid) probabilities.

Each label is written into one or more templates ("a photo of {}.") and may have several names,
for example translations; the text vectors of all its names x templates are averaged into one
label vector (prompt ensembling). For SigLIP each label then gets its own probability
``sigmoid(logit_scale * cos + logit_bias)``: the probabilities are independent and need not sum
to 1, so an image can be "a dog" and "on a beach" at once, or none of the labels. For CLIP
checkpoints the probabilities are a softmax over the labels instead, and the result says so.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import SiglipEncoder, ZeroShotClassifier
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()))
    >>> classifier = ZeroShotClassifier(["cat", "dog"], encoder=encoder)
    >>> result = classifier.classify([Image.new("RGB", (32, 32), "red")])[0]
    >>> result.score_kind, sorted(result.probabilities)
    ('sigmoid', ['cat', 'dog'])
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from siglip_retriever.encoding.images import ImageInput, describe_source, image_list
from siglip_retriever.encoding.scores import ScoreKind, match_probabilities
from siglip_retriever.errors import ConfigurationError, InputTypeError
from siglip_retriever.search.templates import parse_template

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.preparing import PreparedImage

__all__ = ["DEFAULT_TEMPLATES", "Classification", "ZeroShotClassifier"]

DEFAULT_TEMPLATES: tuple[str, ...] = ("a photo of {}.",)
"""The prompt used when none is given; ``{}`` is replaced by the label."""


@dataclass(frozen=True)
class Classification:
    """The labels' probabilities for one image.

    Attributes:
        source: the image, as a user would recognise it (a path or a description).
        probabilities: label -> probability, in the order the labels were given.
        score_kind: ``"sigmoid"`` (independent probabilities) or ``"softmax"`` (they sum to 1).
    """

    source: str
    probabilities: dict[str, float]
    score_kind: ScoreKind

    @property
    def top(self) -> tuple[str, float]:
        """The most probable label and its probability."""
        label = max(self.probabilities, key=self.probabilities.__getitem__)
        return label, self.probabilities[label]

    def ranked(self) -> list[tuple[str, float]]:
        """``(label, probability)`` pairs, most probable first."""
        return sorted(self.probabilities.items(), key=lambda item: item[1], reverse=True)

    def above(self, threshold: float = 0.5) -> list[str]:
        """Labels whose probability is at least ``threshold`` (multi-label classification)."""
        return [label for label, p in self.ranked() if p >= threshold]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"image", "score_kind", "top", "labels": [{"label", "probability"}]}``."""
        return {
            "image": self.source,
            "score_kind": self.score_kind,
            "top": self.top[0],
            "labels": [{"label": label, "probability": p} for label, p in self.ranked()],
        }


class ZeroShotClassifier:
    """Classify images against labels that are only written down, never trained on.

    Args:
        labels: label names, or a mapping ``label -> [names]`` whose names (for example
            translations: ``{"cat": ["cat", "chat", "猫"]}``) are averaged.
        templates: prompts with exactly one ``{}``; each label name is written into every
            template. Use ``["{}"]`` for labels that are already sentences. A template is data,
            not a format string: ``{{``/``}}`` are literal braces and any other field (``{0}``,
            ``{x}``, ``{!r}``, ``{:>9}``) is refused (:func:`~.templates.parse_template`).
        encoder: an existing encoder; otherwise ``model``, ``device``, ``dtype`` and
            ``batch_size`` build one (sharing an already loaded model).

    Raises:
        ConfigurationError: no labels, or a duplicate label.
        InvalidTemplateError: a template that is not text with exactly one ``{}`` (a
            :class:`~siglip_retriever.errors.ConfigurationError`).

    Example:
        >>> import tempfile
        >>> from siglip_retriever import ZeroShotClassifier
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> classifier = ZeroShotClassifier(
        ...     {"circle": ["circle", "cercle", "Kreis"], "square": ["square", "carré"]},
        ...     templates=["{}"],
        ...     model=build_checkpoint(tempfile.mkdtemp()),
        ... )
        >>> classifier.labels
        ['circle', 'square']
    """

    def __init__(
        self,
        labels: Sequence[str] | Mapping[str, Sequence[str]],
        *,
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        encoder: SiglipEncoder | None = None,
        model: str | os.PathLike[str] | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
    ) -> None:
        from siglip_retriever.encoding.encoder import resolve_encoder

        names = _label_names(labels)
        template_list = list(templates) if not isinstance(templates, str) else [templates]
        if not template_list:
            raise ConfigurationError("give at least one template, such as 'a photo of {}.'")
        parsed = [parse_template(template) for template in template_list]
        self.encoder = resolve_encoder(
            encoder, model=model, device=device, dtype=dtype, batch_size=batch_size
        )
        self.labels = list(names)
        self.templates = template_list
        prompts = [
            f"{pre}{name}{post}" for label in self.labels for name in names[label] for pre, post in parsed
        ]
        vectors = self.encoder.encode_texts(prompts)
        label_vectors = []
        start = 0
        for label in self.labels:
            count = len(names[label]) * len(template_list)
            mean = vectors[start : start + count].mean(axis=0)
            label_vectors.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            start += count
        self.label_vectors = np.stack(label_vectors).astype(np.float32)

    @property
    def score_kind(self) -> ScoreKind:
        """``"sigmoid"`` for SigLIP checkpoints, ``"softmax"`` for CLIP."""
        return self.encoder.score_kind

    def classify(self, images: Sequence[ImageInput | PreparedImage]) -> list[Classification]:
        """Classify images in batches; one :class:`Classification` per image, in order."""
        items = image_list(images, what="classify")
        vectors = self.encoder.encode_images(items)
        probabilities = self.probabilities(vectors)
        return [
            Classification(
                source=describe_source(item),
                probabilities={label: float(p) for label, p in zip(self.labels, row, strict=True)},
                score_kind=self.score_kind,
            )
            for item, row in zip(items, probabilities, strict=True)
        ]

    def probabilities(self, image_vectors: np.ndarray) -> np.ndarray:
        """``(n_images, n_labels)`` probabilities for already encoded images."""
        cosine = np.atleast_2d(np.asarray(image_vectors, dtype=np.float64)) @ self.label_vectors.T
        encoder = self.encoder
        return match_probabilities(
            cosine,
            score_kind=self.score_kind,
            logit_scale=encoder.logit_scale,
            logit_bias=encoder.logit_bias,
            axis=1,
        )


def _label_names(labels: Sequence[str] | Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    if isinstance(labels, str):
        raise InputTypeError("labels must be a list of names, not one string; split it first")
    if isinstance(labels, Mapping):
        names = {str(k): [v] if isinstance(v, str) else list(v) for k, v in labels.items()}
    else:
        names = {}
        for label in labels:
            if not isinstance(label, str):
                raise InputTypeError(f"label {label!r} is not a string")
            if label in names:
                raise ConfigurationError(f"label {label!r} is given twice")
            names[label] = [label]
    if not names:
        raise ConfigurationError("give at least one label")
    for label, values in names.items():
        if not label.strip() or not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise ConfigurationError(f"label {label!r} has an empty name")
    return names
