"""Retrieval and zero-shot metrics on similarity matrices (numpy only).

Every function takes similarities that a model already computed (higher is better) and the
ground truth, and returns plain numbers, so each can be checked by hand on small cases.

Ties count against the query: a candidate that scores exactly as high as the right answer is
ranked ahead of it. A model that gives two different images the same vector therefore cannot
get either of their captions right at rank 1, instead of getting one right by luck of ordering.

Example:
    >>> import numpy as np
    >>> from siglip_retriever.compare.metrics import recall_at_k, text_to_image_ranks
    >>> similarity = np.array([[0.9, 0.1], [0.8, 0.7]])  # 2 captions x 2 images
    >>> ranks = text_to_image_ranks(similarity, [0, 1])  # caption 1 belongs to image 1
    >>> ranks.tolist()
    [0, 1]
    >>> recall_at_k(ranks, (1, 2))
    {1: 0.5, 2: 1.0}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ConfigurationError

__all__ = [
    "DEFAULT_KS",
    "OVERALL",
    "image_to_text_ranks",
    "ranks_of_relevant",
    "recall_at_k",
    "retrieval_scores",
    "text_to_image_ranks",
    "top1_accuracy",
    "zero_shot_scores",
]

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)
"""The k of Recall@k reported by default."""

OVERALL = "overall"
"""The key of the scores over every language."""

IntArray = npt.NDArray[np.int64]


def ranks_of_relevant(similarity: npt.ArrayLike, relevant: npt.ArrayLike) -> IntArray:
    """The 0-based rank of each query's best relevant candidate.

    Args:
        similarity: ``(n_queries, n_candidates)`` scores, higher is better.
        relevant: a boolean array of the same shape: which candidates are right for each query.
            Every query needs at least one.

    Returns:
        ``(n_queries,)`` integers: how many wrong candidates score at least as high as the best
        right one (0 means the top hit is right).

    Raises:
        ConfigurationError: shapes differ, or a query has no relevant candidate.
    """
    scores = np.asarray(similarity, dtype=np.float64)
    mask = np.asarray(relevant, dtype=bool)
    if scores.ndim != 2 or scores.shape != mask.shape:
        raise ConfigurationError(
            f"similarity {scores.shape} and relevant {mask.shape} must be 2-d arrays of the same shape"
        )
    if scores.shape[0] and not mask.any(axis=1).all():
        missing = int(np.flatnonzero(~mask.any(axis=1))[0])
        raise ConfigurationError(f"query {missing} has no relevant candidate")
    best = np.where(mask, scores, -np.inf).max(axis=1, initial=-np.inf)
    wrong_ahead = (scores >= best[:, None]) & ~mask
    return wrong_ahead.sum(axis=1).astype(np.int64)


def text_to_image_ranks(similarity: npt.ArrayLike, caption_image: Sequence[int] | npt.ArrayLike) -> IntArray:
    """Ranks of each caption's own image among all images.

    Args:
        similarity: ``(n_captions, n_images)`` scores.
        caption_image: for each caption, the index of its image.
    """
    scores = np.asarray(similarity, dtype=np.float64)
    targets = np.asarray(caption_image, dtype=np.int64)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ConfigurationError("give one image index per caption (row of the similarity matrix)")
    if targets.size and (targets.min() < 0 or targets.max() >= scores.shape[1]):
        raise ConfigurationError("an image index is out of range")
    relevant = np.zeros(scores.shape, dtype=bool)
    relevant[np.arange(len(targets)), targets] = True
    return ranks_of_relevant(scores, relevant)


def image_to_text_ranks(
    similarity: npt.ArrayLike, caption_image: Sequence[int] | npt.ArrayLike
) -> tuple[IntArray, IntArray]:
    """Ranks of each image's best caption among all captions.

    An image counts as found at rank r when the best-ranked of its own captions is at rank r.

    Args:
        similarity: ``(n_images, n_captions)`` scores.
        caption_image: for each caption (column), the index of its image.

    Returns:
        ``(ranks, images)``: the ranks, and which images they belong to. Images that have no
        caption among the columns are left out.
    """
    scores = np.asarray(similarity, dtype=np.float64)
    owners = np.asarray(caption_image, dtype=np.int64)
    if scores.ndim != 2 or owners.shape != (scores.shape[1],):
        raise ConfigurationError("give one image index per caption (column of the similarity matrix)")
    relevant = owners[None, :] == np.arange(scores.shape[0])[:, None]
    images = np.flatnonzero(relevant.any(axis=1)).astype(np.int64)
    return ranks_of_relevant(scores[images], relevant[images]), images


def recall_at_k(ranks: npt.ArrayLike, ks: Iterable[int] = DEFAULT_KS) -> dict[int, float]:
    """Recall@k for each k: the fraction of queries whose rank is below k.

    Returns ``nan`` for every k when there are no queries.
    """
    values = np.asarray(ranks, dtype=np.int64)
    result = {}
    for k in ks:
        if int(k) < 1:
            raise ConfigurationError(f"k must be at least 1, not {k}")
        result[int(k)] = float((values < k).mean()) if values.size else float("nan")
    return result


def top1_accuracy(similarity: npt.ArrayLike, true_class: Sequence[int] | npt.ArrayLike) -> float:
    """Zero-shot top-1 accuracy: the fraction of images whose own label scores highest.

    Args:
        similarity: ``(n_images, n_labels)`` scores.
        true_class: each image's label index.

    A tie with another label counts as wrong. ``nan`` when there are no images.
    """
    ranks = text_to_image_ranks(similarity, true_class)
    return float((ranks == 0).mean()) if ranks.size else float("nan")


def retrieval_scores(
    similarity: npt.ArrayLike,
    caption_image: Sequence[int] | npt.ArrayLike,
    caption_language: Sequence[str],
    ks: Iterable[int] = DEFAULT_KS,
    *,
    relevant: npt.ArrayLike | None = None,
) -> dict[str, dict[str, Any]]:
    """Recall@k both ways, over all captions and over each language's.

    Text→image: each caption ranks all images. Image→text: each image ranks the captions in
    scope (all of them for ``overall``, one language's otherwise) and counts as found when any
    of its own captions is within the top k; images without a caption in scope are left out.

    Args:
        similarity: ``(n_captions, n_images)`` scores.
        caption_image: each caption's image index.
        caption_language: each caption's language.
        ks: the k of Recall@k.
        relevant: ``(n_captions, n_images)`` booleans: which images are right for each caption,
            when more than its own image is (a caption shared by several pictures); by default
            only ``caption_image``.

    Example:
        >>> import numpy as np
        >>> from siglip_retriever.compare.metrics import retrieval_scores
        >>> same = np.array([[True, True], [True, True]])  # one caption text on both pictures
        >>> scores = retrieval_scores(np.eye(2)[::-1], [0, 1], ["en", "en"], relevant=same)
        >>> scores["overall"]["text_to_image"]["R@1"]
        1.0

    Returns:
        ``{"overall" | language: {"captions": n, "images": n, "text_to_image": {"R@k": r},
        "image_to_text": {"R@k": r}}}``, ``overall`` first, then languages sorted.
    """
    scores = np.asarray(similarity, dtype=np.float64)
    owners = np.asarray(caption_image, dtype=np.int64)
    languages = list(caption_language)
    if len(languages) != scores.shape[0]:
        raise ConfigurationError("give one language per caption (row of the similarity matrix)")
    k_values = list(ks)
    scopes = {OVERALL: list(range(len(languages)))}
    for language in sorted(set(languages)):
        scopes[language] = [i for i, lang in enumerate(languages) if lang == language]
    result = {}
    mask = None if relevant is None else np.asarray(relevant, dtype=bool)
    for scope, rows in scopes.items():
        if mask is None:
            t2i = text_to_image_ranks(scores[rows], owners[rows])
            i2t, found = image_to_text_ranks(scores[rows].T, owners[rows])
        else:
            found = np.flatnonzero(mask[rows].any(axis=0))
            t2i = ranks_of_relevant(scores[rows], mask[rows])
            i2t = ranks_of_relevant(scores[rows].T[found], mask[rows].T[found])
        result[scope] = {
            "captions": len(rows),
            "images": len(found),
            "text_to_image": {f"R@{k}": v for k, v in recall_at_k(t2i, k_values).items()},
            "image_to_text": {f"R@{k}": v for k, v in recall_at_k(i2t, k_values).items()},
        }
    return result


def zero_shot_scores(
    similarities: Mapping[str, npt.ArrayLike], true_class: Sequence[int] | npt.ArrayLike
) -> dict[str, float]:
    """Top-1 accuracy for each label language, and their mean as ``overall``.

    Args:
        similarities: language -> ``(n_images, n_labels)`` scores against that language's labels.
        true_class: each image's label index.
    """
    accuracy = {language: top1_accuracy(sim, true_class) for language, sim in similarities.items()}
    overall = float(np.mean(list(accuracy.values()))) if accuracy else float("nan")
    return {OVERALL: overall, **accuracy}
