"""From one model's vectors and timings to its scores: Recall@k, zero-shot accuracy, speed, memory.

Example:
    >>> import numpy as np
    >>> from siglip_retriever.compare.datasets import PairsDataset
    >>> from siglip_retriever.compare.scoring import retrieval_by_language
    >>> pairs = PairsDataset(["/a.png", "/b.png"], ["a", "b"], [0, 1], ["en", "en"])
    >>> vectors = np.eye(2, dtype=np.float32)
    >>> scores = retrieval_by_language(pairs, vectors, [vectors], ks=(1,))
    >>> scores["overall"]["text_to_image"]
    {'R@1': 1.0}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.compare.datasets import ClassesDataset, PairsDataset
from siglip_retriever.compare.measuring import Encoded
from siglip_retriever.compare.metrics import retrieval_scores, zero_shot_scores
from siglip_retriever.compare.report import ModelResult
from siglip_retriever.compare.workload import Workload

__all__ = ["model_result", "retrieval_by_language", "score_model", "zero_shot_by_language"]

Vectors = npt.NDArray[np.float32]


def score_model(label: str, encoded: Encoded, workload: Workload, ks: Sequence[int]) -> ModelResult:
    """Everything one model's run says: its facts, speed and memory, and its scores on each task.

    Args:
        label: the model's name in the reports.
        encoded: what the model produced for ``workload``.
        workload: what it encoded, and the data sets it came from.
        ks: the k of Recall@k.
    """
    result = model_result(label, encoded, len(workload.images), workload.text_count)
    if workload.pairs is not None:
        result.retrieval = retrieval_by_language(
            workload.pairs,
            encoded.image_vectors[workload.pair_images],
            encoded.groups(workload.pair_groups),
            ks,
        )
    if workload.classes is not None:
        result.zero_shot = zero_shot_by_language(
            workload.classes,
            encoded.image_vectors[workload.class_images],
            encoded.groups(workload.prompt_groups),
            workload.templates,
        )
    return result


def model_result(label: str, encoded: Encoded, images: int, texts: int) -> ModelResult:
    """A :class:`ModelResult` of what the model is and how fast and large it ran; no scores yet.

    Example:
        >>> from siglip_retriever.compare.measuring import ModelFacts
        >>> facts = ModelFacts("m", "siglip", "sigmoid", 2, "cpu", 2.3, -10.0)
        >>> vectors = np.zeros((4, 2), dtype=np.float32)
        >>> encoded = Encoded(facts, 1.0, 2.0, 0.0, 2**21, None, 2, vectors)
        >>> result = model_result("mine", encoded, images=4, texts=0)
        >>> result.images_per_second, result.texts_per_second, result.peak_memory_mb
        (2.0, None, 2.0)
    """
    return ModelResult(
        name=label,
        **asdict(encoded.facts),
        load_seconds=encoded.load_seconds,
        images=images,
        texts=texts,
        images_per_second=_rate(images, encoded.image_seconds),
        texts_per_second=_rate(texts, encoded.text_seconds),
        peak_memory_mb=_mb(encoded.peak_rss_bytes),
        peak_gpu_memory_mb=_mb(encoded.peak_gpu_bytes),
        torch_threads=encoded.threads,
    )


def _rate(count: int, seconds: float) -> float | None:
    return count / seconds if count and seconds > 0 else None


def _mb(count: int | None) -> float | None:
    return None if count is None else count / 2**20


def retrieval_by_language(
    pairs: PairsDataset, image_vectors: Vectors, caption_groups: Sequence[Vectors], ks: Sequence[int]
) -> dict[str, dict[str, Any]]:
    """Recall@k both ways, for all captions and for each language's.

    Args:
        pairs: the image-caption pairs.
        image_vectors: one row per image of ``pairs.images``.
        caption_groups: the captions' vectors, one array per language of ``pairs.languages``.
        ks: the k of Recall@k.
    """
    text_vectors = np.zeros((len(pairs.captions), image_vectors.shape[1]), dtype=np.float32)
    for language, vectors in zip(pairs.languages, caption_groups, strict=True):
        text_vectors[pairs.captions_in(language)] = vectors
    similarity = text_vectors.astype(np.float64) @ image_vectors.astype(np.float64).T
    return retrieval_scores(similarity, pairs.caption_image, pairs.caption_language, ks)


def zero_shot_by_language(
    classes: ClassesDataset,
    image_vectors: Vectors,
    prompt_groups: Sequence[Vectors],
    templates: Sequence[str],
) -> dict[str, float]:
    """Top-1 accuracy per label language; each label's vector averages its names x templates.

    Args:
        classes: the class folders.
        image_vectors: one row per image of ``classes.images``.
        prompt_groups: the prompts' vectors, one array per language of ``classes.languages``.
        templates: the prompt templates every name was written with.

    Example:
        >>> from siglip_retriever.compare.datasets import ClassesDataset
        >>> classes = ClassesDataset(["a", "b"], ["/a.png", "/b.png"], [0, 1], {"en": [["a"], ["b"]]})
        >>> vectors = np.eye(2, dtype=np.float32)
        >>> zero_shot_by_language(classes, vectors, [vectors], ["{}"])
        {'overall': 1.0, 'en': 1.0}
    """
    similarities = {}
    for language, vectors in zip(classes.languages, prompt_groups, strict=True):
        labels = []
        start = 0
        for names in classes.label_names[language]:
            count = len(names) * len(templates)
            mean = vectors[start : start + count].astype(np.float64).mean(axis=0)
            labels.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            start += count
        similarities[language] = image_vectors.astype(np.float64) @ np.stack(labels).T
    return zero_shot_scores(similarities, classes.image_class)
