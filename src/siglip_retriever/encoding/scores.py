"""Turn cosine similarities into scores, without torch.

SigLIP was trained with a sigmoid on each image-text pair, so
``sigmoid(logit_scale * cos + logit_bias)`` is a calibrated, independent probability that the
pair matches. ``logit_scale`` here is the multiplier (``exp`` of the model's stored parameter).
CLIP has no bias; its logits only mean something under a softmax over candidates.

Example:
    >>> from siglip_retriever.encoding.scores import sigmoid_probability
    >>> round(float(sigmoid_probability(0.1, logit_scale=100.0, logit_bias=-10.0)), 3)
    0.5
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["ScoreKind", "cosine_matrix", "match_probabilities", "sigmoid_probability", "softmax_probability"]

ScoreKind = Literal["sigmoid", "softmax"]


def sigmoid_probability(
    cosine: npt.ArrayLike, *, logit_scale: float, logit_bias: float
) -> npt.NDArray[np.float64]:
    """SigLIP's probability of a match: ``sigmoid(logit_scale * cosine + logit_bias)``."""
    logits = np.asarray(cosine, dtype=np.float64) * logit_scale + logit_bias
    # numerically stable sigmoid for large |logits|
    return np.exp(-np.logaddexp(0.0, -logits))


def softmax_probability(
    cosine: npt.ArrayLike, *, logit_scale: float, axis: int = -1
) -> npt.NDArray[np.float64]:
    """CLIP's probability: softmax of ``logit_scale * cosine`` along ``axis`` (the candidates)."""
    logits = np.asarray(cosine, dtype=np.float64) * logit_scale
    logits = logits - logits.max(axis=axis, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=axis, keepdims=True)


def cosine_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Cosine similarities ``(len(a), len(b))`` of two sets of unit vectors.

    Raises:
        ConfigurationError: the vectors have different sizes (made by different models?).
    """
    left = np.atleast_2d(np.asarray(a, dtype=np.float64))
    right = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if left.shape[-1] != right.shape[-1]:
        from siglip_retriever.errors import ConfigurationError

        raise ConfigurationError(
            f"vector sizes differ ({left.shape[-1]} vs {right.shape[-1]}): were they made by the same model?"
        )
    return left @ right.T


def match_probabilities(
    cosine: npt.ArrayLike, *, score_kind: ScoreKind, logit_scale: float, logit_bias: float, axis: int
) -> npt.NDArray[np.float64]:
    """A model's probabilities that pairs match: one sigmoid per pair for SigLIP
    (``score_kind="sigmoid"``), a softmax along ``axis`` (the candidates) for CLIP."""
    if score_kind == "softmax":
        return softmax_probability(cosine, logit_scale=logit_scale, axis=axis)
    return sigmoid_probability(cosine, logit_scale=logit_scale, logit_bias=logit_bias)
