"""What a fine-tuning run does: :class:`FinetuneConfig`, every choice with a default that works on a
few hundred pairs.

Example:
    >>> from siglip_retriever.tuning.config import FinetuneConfig
    >>> config = FinetuneConfig(train="lora", steps=100)
    >>> config.train, config.lora_rank, config.flip
    ('lora', 8, False)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from siglip_retriever.errors import ConfigurationError

__all__ = ["TRAINABLE", "FinetuneConfig", "auto_learning_rate"]

TRAINABLE = ("all", "last", "lora")
"""Which parameters train: every one; the last ``layers`` of each tower (with the heads, the final
norms and the temperature and bias); or LoRA adapters (merged into the weights when saved)."""


def auto_learning_rate(width: int) -> float:
    """The default peak learning rate of the towers for a model whose text tower is ``width`` wide:
    ``2e-3 * (96 / width) ** 2``: 2e-3 for the demo model (96), 3.1e-5 for a base model (768),
    1.8e-5 for a large one (1024). Wider models are further along and move with smaller steps.

    Example:
        >>> from siglip_retriever.tuning.config import auto_learning_rate
        >>> auto_learning_rate(96), round(auto_learning_rate(768), 7)
        (0.002, 3.13e-05)
    """
    return 2e-3 * (96 / max(1, width)) ** 2


@dataclass(frozen=True)
class FinetuneConfig:
    """The choices of a fine-tuning run.

    Attributes:
        train: ``"last"`` (the default: on a CPU a third of the time and memory of ``"all"``,
            and the model forgets less), ``"all"`` or ``"lora"`` (see :data:`TRAINABLE`).
        layers: with ``train="last"``, how many of the last layers of each tower train.
        lora_rank: with ``train="lora"``, the adapters' rank.
        lora_alpha: with ``train="lora"``, their scale (``alpha / rank`` multiplies them).
        batch_size: pairs per step (a batch has distinct images).
        steps: optimisation steps; ``None``: ``epochs`` passes over the training images, and at
            least ``min_steps``.
        epochs: passes over the training images when ``steps`` is ``None``.
        min_steps: when ``steps`` is ``None``, the fewest steps a run takes: a few hundred pairs
            make only ~10 steps an epoch, too few updates to learn a new word in 15 passes
            (with the defaults: 300 pairs take 400 steps, 3,000 pairs 15 epochs = 1,410).
        learning_rate: AdamW's peak learning rate of the towers (or adapters); ``None``: by the
            model's width (:func:`auto_learning_rate`), ten times that for LoRA adapters.
        logit_learning_rate: the peak learning rate of the temperature and the bias.
        weight_decay: AdamW's weight decay of the matrices.
        warmup: the share of the steps the learning rate warms up over (then cosine decay).
        seed: seeds the split, the batches, the augmentation and the adapters.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"``.
        held_out: the share of the images held out for scoring (when no held-out file is given).
        checkpoint_every: steps between checkpoints a run can be resumed from.
        crop_scale: the random resized crop keeps this share of the picture's area, or more.
        flip: flip pictures left to right at random (off: a caption can say "left").

    Raises:
        ConfigurationError: a value that cannot work.

    Example:
        >>> from siglip_retriever.tuning.config import FinetuneConfig
        >>> FinetuneConfig(batch_size=1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        siglip_retriever.errors.ConfigurationError: batch_size must be at least 2 (a batch needs ...
    """

    train: str = "last"
    layers: int = 2
    lora_rank: int = 8
    lora_alpha: int = 16
    batch_size: int = 32
    steps: int | None = None
    epochs: float = 15.0
    min_steps: int = 400
    learning_rate: float | None = None
    logit_learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup: float = 0.1
    seed: int = 0
    device: str = "auto"
    held_out: float = 0.2
    checkpoint_every: int = 50
    crop_scale: float = 0.8
    flip: bool = False

    def __post_init__(self) -> None:
        if self.train not in TRAINABLE:
            raise ConfigurationError(f"train must be one of {', '.join(TRAINABLE)}, not {self.train!r}")
        if self.batch_size < 2:
            raise ConfigurationError(
                f"batch_size must be at least 2 (a batch needs negatives), not {self.batch_size}"
            )
        positive = {
            "layers": self.layers,
            "lora_rank": self.lora_rank,
            "lora_alpha": self.lora_alpha,
            "epochs": self.epochs,
            "min_steps": self.min_steps,
            "logit_learning_rate": self.logit_learning_rate,
            "checkpoint_every": self.checkpoint_every,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ConfigurationError(f"{name} must be positive, not {value}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigurationError(f"learning_rate must be positive, not {self.learning_rate}")
        if self.steps is not None and self.steps < 1:
            raise ConfigurationError(f"steps must be at least 1, not {self.steps}")
        if not 0 <= self.weight_decay < 1 or not 0 <= self.warmup < 1:
            raise ConfigurationError("weight_decay and warmup must be between 0 and 1")
        if not 0 < self.held_out < 1:
            raise ConfigurationError(f"held_out must be a share between 0 and 1, not {self.held_out}")
        if not 0 < self.crop_scale <= 1:
            raise ConfigurationError(f"crop_scale must be in (0, 1], not {self.crop_scale}")

    def total_steps(self, images: int) -> int:
        """The run's steps: ``steps``, or ``epochs`` passes over ``images`` training images and
        at least ``min_steps``.

        Example:
            >>> from siglip_retriever.tuning.config import FinetuneConfig
            >>> FinetuneConfig().total_steps(300), FinetuneConfig().total_steps(3000)
            (400, 1410)
        """
        if self.steps is not None:
            return self.steps
        per_epoch = max(1, -(-images // self.batch_size))
        return max(self.min_steps, round(self.epochs * per_epoch))

    def resolved(self, width: int) -> FinetuneConfig:
        """This configuration with ``learning_rate`` set for a model of ``width``."""
        if self.learning_rate is not None:
            return self
        rate = auto_learning_rate(width) * (10 if self.train == "lora" else 1)
        return replace(self, learning_rate=rate)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict."""
        return asdict(self)
