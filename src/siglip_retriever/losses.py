"""Image-text training losses: SigLIP's pairwise sigmoid loss and CLIP's softmax loss.

SigLIP (Zhai et al., *Sigmoid Loss for Language Image Pre-Training*, ICCV 2023) scores every
image-text pair of a batch on its own. For L2-normalised image vectors ``x_i`` and text vectors
``y_j``, a pair gets the label ``z_ij = +1`` when it matches and ``-1`` otherwise, and::

    loss = -1/|B| * sum_i sum_j log sigmoid(z_ij * (t * x_i . y_j + b))

with ``t = exp(t')`` a learned temperature (``t'`` starts at ``log 10``) and ``b`` a learned
bias (starting at ``-10``, so that the many negatives do not dominate the start of training).
Because each pair is a binary decision, ``sigmoid(t * cos + b)`` of a trained model is a
probability that the pair matches, independent of the other candidates.

Every loss here has the same signature, ``loss(image_embeds, text_embeds, *, logit_scale,
logit_bias, positives)``, and is registered in :data:`LOSSES`, so a CLIP-style softmax
contrastive loss can be added beside the sigmoid one and picked by name with :func:`get_loss`.
Each is written as a function of the pair logits and the positives matrix; one wrapper gives
it that signature and its checks.

torch is imported when a loss is called, not when this module is imported.

Example:
    >>> import torch
    >>> from siglip_retriever.losses import INIT_LOGIT_BIAS, INIT_LOGIT_SCALE, sigmoid_loss
    >>> x = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    >>> loss = sigmoid_loss(x, x, logit_scale=torch.tensor(INIT_LOGIT_SCALE),
    ...                     logit_bias=torch.tensor(INIT_LOGIT_BIAS))
    >>> loss.shape, bool(loss > 0)
    (torch.Size([]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    import torch

__all__ = [
    "INIT_LOGIT_BIAS",
    "INIT_LOGIT_SCALE",
    "LOSSES",
    "ContrastiveLoss",
    "get_loss",
    "pair_logits",
    "positives_from_labels",
    "sigmoid_loss",
    "softmax_loss",
]

INIT_LOGIT_SCALE: float = math.log(10.0)
"""The paper's initial ``t'`` (the stored, log-space temperature): ``t = exp(t') = 10``."""

INIT_LOGIT_BIAS: float = -10.0
"""The paper's initial bias ``b``."""


class ContrastiveLoss(Protocol):
    """What every loss in :data:`LOSSES` looks like.

    Args:
        image_embeds: ``(n_images, dim)`` image vectors.
        text_embeds: ``(n_texts, dim)`` text vectors.
        logit_scale: the log-space temperature ``t'`` (a scalar tensor; ``t = exp(t')``),
            as stored in a SigLIP or CLIP model's ``logit_scale`` parameter.
        logit_bias: the bias ``b`` (a scalar tensor), or ``None`` for losses without one.
        positives: an ``(n_images, n_texts)`` boolean matrix marking the matching pairs;
            ``None`` means image ``i`` matches text ``i`` only.

    Returns:
        The scalar loss.

    Example:
        >>> import torch
        >>> loss: ContrastiveLoss = get_loss("softmax")
        >>> round(float(loss(torch.eye(2), torch.eye(2), logit_scale=torch.tensor(0.0))), 4)
        0.3133
    """

    def __call__(
        self,
        image_embeds: torch.Tensor,
        text_embeds: torch.Tensor,
        *,
        logit_scale: torch.Tensor,
        logit_bias: torch.Tensor | None = None,
        positives: torch.Tensor | None = None,
    ) -> torch.Tensor: ...


def _check_pair(image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> None:
    if image_embeds.ndim != 2 or text_embeds.ndim != 2:
        raise ConfigurationError(
            "embeddings must be 2-d (batch, dim), got "
            f"{tuple(image_embeds.shape)} and {tuple(text_embeds.shape)}"
        )
    if image_embeds.shape[1] != text_embeds.shape[1]:
        raise ConfigurationError(
            f"image and text vectors differ in size ({image_embeds.shape[1]} vs {text_embeds.shape[1]})"
        )
    if image_embeds.shape[0] == 0:
        raise ConfigurationError("the batch is empty; a loss needs at least one image")


def _positives(
    positives: torch.Tensor | None, n_images: int, n_texts: int, like: torch.Tensor
) -> torch.Tensor:
    import torch

    if positives is None:
        if n_images != n_texts:
            raise ConfigurationError(
                f"{n_images} images and {n_texts} texts: without a positives matrix, image i must "
                "match text i, so the counts must be equal"
            )
        return torch.eye(n_images, dtype=torch.bool, device=like.device)
    if tuple(positives.shape) != (n_images, n_texts):
        raise ConfigurationError(
            f"positives must be shaped (n_images, n_texts) = ({n_images}, {n_texts}), "
            f"not {tuple(positives.shape)}"
        )
    return positives.to(device=like.device, dtype=torch.bool)


def pair_logits(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    *,
    logit_scale: torch.Tensor,
    logit_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """``exp(logit_scale) * cos(x_i, y_j) + logit_bias`` for every pair, shaped ``(n_images, n_texts)``.

    The vectors are L2-normalised here (a no-op for vectors that already are).
    """
    import torch

    _check_pair(image_embeds, text_embeds)
    x = torch.nn.functional.normalize(image_embeds, dim=-1)
    y = torch.nn.functional.normalize(text_embeds, dim=-1)
    logits = (x @ y.T) * logit_scale.exp()
    if logit_bias is not None:
        logits = logits + logit_bias
    return logits


_FromLogits = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


def _pairwise(*, uses_bias: bool) -> Callable[[_FromLogits], ContrastiveLoss]:
    """Make a :class:`ContrastiveLoss` of a function of the pair logits and the positives matrix.

    The loss has the signature every loss here shares. It checks the vectors, computes
    :func:`pair_logits` (with ``logit_bias`` if ``uses_bias``, else without), turns
    ``positives`` into an ``(n_images, n_texts)`` boolean matrix (``None``: image ``i`` matches
    text ``i``), and returns ``from_logits(logits, positives)``. It takes ``from_logits``'s name
    and docstring, which documents the loss as it is called.
    """

    def make(from_logits: _FromLogits) -> ContrastiveLoss:
        def loss(
            image_embeds: torch.Tensor,
            text_embeds: torch.Tensor,
            *,
            logit_scale: torch.Tensor,
            logit_bias: torch.Tensor | None = None,
            positives: torch.Tensor | None = None,
        ) -> torch.Tensor:
            bias = logit_bias if uses_bias else None
            logits = pair_logits(image_embeds, text_embeds, logit_scale=logit_scale, logit_bias=bias)
            return from_logits(logits, _positives(positives, logits.shape[0], logits.shape[1], logits))

        loss.__name__, loss.__qualname__ = from_logits.__name__, from_logits.__qualname__
        loss.__doc__ = from_logits.__doc__
        return loss

    return make


@_pairwise(uses_bias=True)
def sigmoid_loss(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """SigLIP's sigmoid loss, ``-1/|B| sum_ij log sigmoid(z_ij (t x_i.y_j + b))``.

    ``|B|`` is the number of images. Pass the model's own ``logit_scale`` (``t'``) and
    ``logit_bias`` (``b``) parameters, so that they are learned and the trained model's
    ``sigmoid(exp(logit_scale) * cos + logit_bias)`` is a calibrated probability.

    Args:
        image_embeds: ``(n_images, dim)`` image vectors (normalised here).
        text_embeds: ``(n_texts, dim)`` text vectors (normalised here).
        logit_scale: ``t'``, a scalar tensor; the temperature is ``exp(t')``.
        logit_bias: ``b``, a scalar tensor (``None`` is taken as 0).
        positives: ``(n_images, n_texts)`` booleans, true where a pair matches (``z_ij = +1``).
            ``None``: the paper's setting, image ``i`` matches text ``i`` only. Pass a matrix
            when a batch holds several texts that describe the same picture (or several
            pictures of the same class), so that true matches are not pushed apart.

    Returns:
        The scalar loss.

    Raises:
        ConfigurationError: shapes that do not fit together, or an empty batch.

    Example:
        >>> import torch
        >>> x = torch.eye(3)
        >>> loss = sigmoid_loss(x, x, logit_scale=torch.tensor(0.0), logit_bias=torch.tensor(0.0))
        >>> round(float(loss), 4)  # 3 positives at cos 1, 6 negatives at cos 0, over 3 images
        1.6996
    """
    import torch

    signs = positives.to(logits.dtype) * 2.0 - 1.0  # z_ij: +1 for a match, -1 otherwise
    return -torch.nn.functional.logsigmoid(signs * logits).sum() / logits.shape[0]


def positives_from_labels(
    image_labels: Sequence[int] | torch.Tensor, text_labels: Sequence[int] | torch.Tensor
) -> torch.Tensor:
    """The ``(n_images, n_texts)`` positives matrix of pairs that share a class label.

    Example:
        >>> positives_from_labels([0, 1, 0], [0, 1]).int().tolist()
        [[1, 0], [0, 1], [1, 0]]
    """
    import torch

    images = torch.as_tensor(image_labels)
    texts = torch.as_tensor(text_labels, device=images.device)
    return images[:, None] == texts[None, :]


@_pairwise(uses_bias=False)
def softmax_loss(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric softmax contrastive loss (InfoNCE, Radford et al., 2021).

    Each image's logits are a softmax over the batch's texts and each text's over its images;
    the loss is the mean of the two cross-entropies. With ``positives`` (several matches in a
    row), the target of a row is spread evenly over its matches, the usual multi-positive
    form. Unlike the sigmoid loss, a score only means something relative to the other
    candidates of the same softmax: there is no per-pair probability.

    Args:
        image_embeds: ``(n_images, dim)`` image vectors (normalised here).
        text_embeds: ``(n_texts, dim)`` text vectors (normalised here).
        logit_scale: ``t'``, a scalar tensor; the temperature is ``exp(t')``.
        logit_bias: ignored by the softmax (a constant shift cancels), accepted so that every
            loss has one signature.
        positives: ``(n_images, n_texts)`` booleans; ``None`` means image ``i`` matches text
            ``i`` only. Every image and every text needs at least one match.

    Raises:
        ConfigurationError: shapes that do not fit together, or a row or column without a match.

    Example:
        >>> import torch
        >>> x = torch.eye(3)
        >>> loss = softmax_loss(x, x, logit_scale=torch.tensor(0.0))
        >>> round(float(loss), 4)  # -log(e / (e + 2)) for every row and column
        0.5514
    """
    import torch

    match = positives.to(logits.dtype)
    if bool((match.sum(dim=1) == 0).any()) or bool((match.sum(dim=0) == 0).any()):
        raise ConfigurationError(
            "the softmax loss needs a match for every image and every text; check the positives matrix"
        )
    image_targets = match / match.sum(dim=1, keepdim=True)
    text_targets = (match / match.sum(dim=0, keepdim=True)).T
    image_loss = -(image_targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    text_loss = -(text_targets * torch.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return (image_loss + text_loss) / 2


LOSSES: dict[str, ContrastiveLoss] = {"sigmoid": sigmoid_loss, "softmax": softmax_loss}
"""Losses by name: ``"sigmoid"`` is SigLIP's, ``"softmax"`` CLIP's."""


def get_loss(name: str) -> ContrastiveLoss:
    """The loss registered as ``name`` in :data:`LOSSES`.

    Raises:
        ConfigurationError: no loss has that name.

    Example:
        >>> get_loss("sigmoid") is sigmoid_loss
        True
    """
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown loss {name!r}; choose one of {', '.join(sorted(LOSSES))}"
        ) from None
