"""What the three framework adapters share: building or adopting one :class:`SiglipEncoder`.

Every adapter accepts either an existing encoder (``encoder=``) or the encoder's own options
(``model``, ``device``, ``dtype``, ``batch_size``). Encoders built with the same options share one
model in memory (the encoder core caches it per ``(checkpoint, device, dtype)``), so building a
LangChain, a LlamaIndex and a Chroma adapter side by side loads the checkpoint once.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Annotated, Any

from pydantic import BeforeValidator

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, InputTypeError

__all__ = ["ModelReference", "model_reference", "resolve_encoder"]


def _fspath(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


ModelReference = Annotated[str | None, BeforeValidator(_fspath)]
"""A pydantic field type for ``model``: a preset name, hub id or directory (``Path`` accepted)."""

_ENCODER_OPTIONS = ("model", "device", "dtype")


def resolve_encoder(
    encoder: SiglipEncoder | None,
    *,
    model: str | os.PathLike[str] | None,
    device: str,
    dtype: str,
    batch_size: int,
    given: Collection[str] = (),
) -> SiglipEncoder:
    """Return ``encoder`` itself, or a new encoder built from the options.

    Args:
        encoder: an encoder to adopt, or ``None`` to build one.
        model: preset name, hub id or directory (ignored when ``encoder`` is given).
        device: device option of :class:`SiglipEncoder`.
        dtype: dtype option of :class:`SiglipEncoder`.
        batch_size: batch size of a new encoder.
        given: the option names the caller set explicitly; ``model``, ``device`` or ``dtype``
            next to ``encoder`` is refused, since the encoder already fixes them.

    Raises:
        InputTypeError: ``encoder`` is not a :class:`SiglipEncoder`.
        ConfigurationError: both ``encoder`` and one of its options were given.
    """
    if encoder is None:
        return SiglipEncoder(model, device=device, dtype=dtype, batch_size=batch_size)
    if not isinstance(encoder, SiglipEncoder):
        raise InputTypeError(f"encoder must be a SiglipEncoder, not {type(encoder).__name__}")
    clash = [name for name in _ENCODER_OPTIONS if name in given]
    if clash:
        raise ConfigurationError(
            f"pass either encoder= or {'/'.join(clash)}=, not both: an encoder already fixes its "
            "model, device and dtype"
        )
    return encoder


def model_reference(encoder: SiglipEncoder) -> str:
    """A name that loads ``encoder``'s checkpoint again (see :attr:`Preset.reference`)."""
    return encoder.preset.reference
