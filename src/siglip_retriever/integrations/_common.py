"""What the three framework adapters share: building or adopting one :class:`SiglipEncoder`.

Every adapter accepts either an existing encoder (``encoder=``) or the encoder's own options
(``model``, ``device``, ``dtype``, ``batch_size``). Encoders built with the same options share one
model in memory (the encoder core caches it per ``(checkpoint, device, dtype)``), so building a
LangChain, a LlamaIndex and a Chroma adapter side by side loads the checkpoint once.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BeforeValidator

from siglip_retriever.encoding.encoder import SiglipEncoder, resolve_encoder

__all__ = ["ModelReference", "model_reference", "resolve_encoder"]


def _fspath(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


ModelReference = Annotated[str | None, BeforeValidator(_fspath)]
"""A pydantic field type for ``model``: a preset name, hub id or directory (``Path`` accepted)."""


def model_reference(encoder: SiglipEncoder) -> str:
    """A name that loads ``encoder``'s checkpoint again (see :attr:`Preset.reference`)."""
    return encoder.preset.reference
