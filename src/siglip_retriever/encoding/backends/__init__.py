"""Encoder backends behind one interface, and the factory that picks one from a model name.

Every model a comparison (or any other caller) can use is an :class:`ImageTextEncoder`:
:class:`~siglip_retriever.encoding.encoder.SiglipEncoder` for SigLIP, SigLIP 2 and CLIP checkpoints
loaded through transformers, and :class:`~siglip_retriever.encoding.backends.open_clip.OpenClipEncoder`
for open_clip models (NLLB-CLIP and other multilingual models), an optional extra. Each declares
its ``score_kind``: ``"sigmoid"`` (independent probabilities, SigLIP-style models) or
``"softmax"`` (CLIP-style models, whose scores only mean something relative to each other).

:func:`load_encoder` reads a model name: ``open_clip:...`` goes to open_clip, anything else
(a preset, a model-hub id, a checkpoint directory) to transformers.

Example:
    >>> import tempfile
    >>> from siglip_retriever.encoding.backends import ImageTextEncoder, load_encoder
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> encoder = load_encoder(str(build_checkpoint(tempfile.mkdtemp(), family="clip")), device="cpu")
    >>> isinstance(encoder, ImageTextEncoder), encoder.score_kind
    (True, 'softmax')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.scores import ScoreKind, cosine_matrix, match_probabilities

if TYPE_CHECKING:
    from siglip_retriever.encoding.backends.open_clip import OpenClipEncoder
    from siglip_retriever.encoding.encoder import SiglipEncoder

__all__ = ["OPEN_CLIP_PREFIX", "ImageTextEncoder", "is_open_clip", "load_encoder", "pair_probabilities"]

OPEN_CLIP_PREFIX = "open_clip:"
"""Model names starting with this are loaded by open_clip (``open_clip:ViT-B-32/laion2b_s34b_b79k``)."""


@runtime_checkable
class ImageTextEncoder(Protocol):
    """What every backend provides: unit vectors for texts and images, and how to score them.

    ``logit_scale`` is the multiplier of cosine similarities (``exp`` of the stored
    parameter); ``logit_bias`` is 0 for softmax models. For sigmoid models a pair's probability
    is ``sigmoid(logit_scale * cos + logit_bias)``.
    """

    @property
    def model_id(self) -> str:
        """What was loaded: a hub id, a directory or an open_clip name."""
        ...

    @property
    def family(self) -> str:
        """``"siglip"``, ``"siglip2"``, ``"clip"`` or ``"open_clip"``."""
        ...

    @property
    def score_kind(self) -> ScoreKind:
        """``"sigmoid"`` or ``"softmax"``."""
        ...

    @property
    def dim(self) -> int:
        """The size of every vector."""
        ...

    @property
    def logit_scale(self) -> float:
        """The multiplier of cosine similarities."""
        ...

    @property
    def logit_bias(self) -> float:
        """The learned bias of sigmoid models (0 for softmax models)."""
        ...

    @property
    def device(self) -> str:
        """The device the model runs on."""
        ...

    def encode_texts(
        self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool | None = None
    ) -> npt.NDArray[np.float32]:
        """``(N, dim)`` float32 unit vectors."""
        ...

    def encode_images(
        self, images: Sequence[Any], *, batch_size: int | None = None, show_progress: bool | None = None
    ) -> npt.NDArray[np.float32]:
        """``(N, dim)`` float32 unit vectors."""
        ...


def pair_probabilities(
    encoder: ImageTextEncoder, text_vectors: npt.ArrayLike, image_vectors: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Match probabilities ``(n_texts, n_images)`` by ``encoder``'s calibration: for sigmoid models
    ``sigmoid(logit_scale * cos + logit_bias)``, each pair on its own; for softmax models a softmax
    over the texts for each image. What every backend's ``probabilities`` returns.

    Example:
        >>> from types import SimpleNamespace
        >>> clip = SimpleNamespace(score_kind="softmax", logit_scale=100.0, logit_bias=0.0)
        >>> pair_probabilities(clip, [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0]]).round(3).tolist()
        [[1.0], [0.0]]
    """
    return match_probabilities(
        cosine_matrix(text_vectors, image_vectors),
        score_kind=encoder.score_kind,
        logit_scale=encoder.logit_scale,
        logit_bias=encoder.logit_bias,
        axis=0,
    )


def is_open_clip(name: str) -> bool:
    """True when ``name`` selects the open_clip backend (it starts with ``open_clip:``)."""
    return name.strip().startswith(OPEN_CLIP_PREFIX)


def load_encoder(
    name: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 32,
) -> ImageTextEncoder:
    """Load the encoder a model name selects.

    Args:
        name: ``open_clip:MODEL[/PRETRAINED]`` or ``open_clip:hf-hub:ORG/NAME`` for open_clip
            (see :func:`~siglip_retriever.encoding.backends.open_clip.parse_open_clip_id`); anything
            else is a preset, a model-hub id or a checkpoint directory for
            :class:`~siglip_retriever.encoding.encoder.SiglipEncoder`.
        device: ``"auto"``, ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.
        dtype: ``"auto"``, ``"float32"``, ``"float16"`` or ``"bfloat16"`` (and ``"int8"`` for
            transformers checkpoints on the CPU).
        batch_size: texts or images per forward pass.

    Raises:
        MissingDependencyError: an open_clip model was asked for and open_clip is not installed.
        ModelLoadError: the model cannot be loaded.
        ConfigurationError: an option has an impossible value.
    """
    if is_open_clip(name):
        from siglip_retriever.encoding.backends.open_clip import OpenClipEncoder

        return OpenClipEncoder(name, device=device, dtype=dtype, batch_size=batch_size)
    from siglip_retriever.encoding.encoder import SiglipEncoder

    return SiglipEncoder(name, device=device, dtype=dtype, batch_size=batch_size)


if TYPE_CHECKING:  # mypy checks that both backends satisfy the protocol

    def _conforms(a: SiglipEncoder, b: OpenClipEncoder) -> tuple[ImageTextEncoder, ImageTextEncoder]:
        return a, b
