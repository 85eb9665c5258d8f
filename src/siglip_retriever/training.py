"""The optimisation every training in the package shares: AdamW with its parameter groups, the
warm-up-then-cosine schedule, the family's loss and one optimisation step.

Fine-tuning (:mod:`siglip_retriever.tuning`) and the demo's training
(:mod:`siglip_retriever.demo.train`) both train with these, so the two cannot drift apart. The
family of the checkpoint (:class:`~siglip_retriever.encoding.families.Family`) says which loss
trains it and whether the temperature is bounded.

torch is imported when a function is called, not when this module is imported.

Example:
    >>> import torch
    >>> from siglip_retriever.training import adamw, set_learning_rates
    >>> model = torch.nn.Linear(2, 2)
    >>> optimizer = adamw(model, learning_rate=1e-3, logit_learning_rate=1e-2, weight_decay=1e-4)
    >>> set_learning_rates(optimizer, step=0, total=10, warmup_steps=2)
    >>> [group["lr"] for group in optimizer.param_groups]
    [0.0005, 0.0005]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from siglip_retriever.encoding.families import Family

__all__ = [
    "LOGIT_PARAMETERS",
    "adamw",
    "family_loss",
    "optimisation_step",
    "set_learning_rates",
    "warmup_cosine",
]

LOGIT_PARAMETERS = ("logit_scale", "logit_bias")
"""The names (as suffixes) of the temperature and the bias, which learn at a rate of their own."""


def adamw(
    model: Any,
    *,
    learning_rate: float,
    logit_learning_rate: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.98),
    eps: float = 1e-6,
) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters of ``model``, in three groups: the matrices with weight
    decay, the other tensors without, and the temperature and bias at ``logit_learning_rate``.

    Each group keeps its peak rate as ``"base_lr"``, which :func:`set_learning_rates` scales and a
    saved optimiser state keeps (unlike ``"lr"``, which the schedule overwrites). Empty groups are
    left out.
    """
    import torch

    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    logit = [p for name, p in trainable if name.endswith(LOGIT_PARAMETERS)]
    rest = [p for name, p in trainable if not name.endswith(LOGIT_PARAMETERS)]
    groups = [
        {"params": [p for p in rest if p.ndim >= 2], "weight_decay": weight_decay, "base_lr": learning_rate},
        {"params": [p for p in rest if p.ndim < 2], "weight_decay": 0.0, "base_lr": learning_rate},
        {"params": logit, "weight_decay": 0.0, "lr": logit_learning_rate, "base_lr": logit_learning_rate},
    ]
    return torch.optim.AdamW(
        [group for group in groups if group["params"]], lr=learning_rate, betas=betas, eps=eps
    )


def warmup_cosine(step: int, total: int, warmup_steps: int) -> float:
    """The factor on the peak rate at ``step`` of ``total``: a linear warm-up over
    ``warmup_steps``, then a cosine decay to zero.

    Example:
        >>> [round(warmup_cosine(step, 6, 2), 2) for step in range(6)]
        [0.5, 1.0, 1.0, 0.85, 0.5, 0.15]
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rates(optimizer: torch.optim.Optimizer, *, step: int, total: int, warmup_steps: int) -> None:
    """Set every group's rate for ``step``: its ``"base_lr"`` times :func:`warmup_cosine`."""
    factor = warmup_cosine(step, total, warmup_steps)
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor


def family_loss(
    model: Any,
    family: Family,
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    positives: torch.Tensor,
) -> torch.Tensor:
    """The loss that trains ``family`` (its :attr:`~siglip_retriever.encoding.families.Family.loss`),
    on the model's own temperature and, where the family has one, bias."""
    from siglip_retriever.losses import get_loss

    return get_loss(family.loss)(
        image_embeds,
        text_embeds,
        logit_scale=model.logit_scale,
        logit_bias=model.logit_bias if family.has_bias else None,
        positives=positives,
    )


def optimisation_step(
    model: Any,
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    family: Family,
    *,
    max_grad_norm: float = 1.0,
) -> None:
    """One step on ``loss``: gradients clipped at ``max_grad_norm``, the optimiser's step, and the
    temperature clamped where the family bounds it (CLIP at ``log 100``)."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_grad_norm)
    optimizer.step()
    if family.max_logit_scale is not None:
        with torch.no_grad():
            model.logit_scale.clamp_(0, family.max_logit_scale)
