"""What the framework adapters share: the ``model`` field type, and adopting or building one encoder.

Every embedding adapter accepts either an existing encoder (``encoder=``) or the encoder's own
options (``model``, ``device``, ``dtype``, batch size). Encoders built with the same options share
one model in memory (the encoding layer caches it per ``(checkpoint, device, dtype)``), so a
LangChain, a LlamaIndex and a Chroma adapter side by side load the checkpoint once.

Example:
    >>> import tempfile
    >>> from siglip_retriever.integrations.langchain import SiglipEmbeddings
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> first = SiglipEmbeddings(model=build_checkpoint(tempfile.mkdtemp()), device="cpu")
    >>> second = SiglipEmbeddings(encoder=first.encoder)  # adopts it: model and device follow
    >>> second.model == first.model and second.device == "cpu"
    True
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BeforeValidator

from siglip_retriever.encoding.encoder import SiglipEncoder, resolve_encoder

__all__ = ["ModelReference", "adopt_encoder"]


def _fspath(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


ModelReference = Annotated[str | None, BeforeValidator(_fspath)]
"""A pydantic field type for ``model``: a preset name, hub id or directory (``Path`` accepted)."""


def adopt_encoder(adapter: Any, encoder: SiglipEncoder | None, *, batch_size: int) -> SiglipEncoder:
    """The encoder of a pydantic adapter with ``model``, ``device`` and ``dtype`` fields.

    Without ``encoder`` a new one is built from the fields. With it, the encoder is adopted and
    the fields are set to what it holds (so a serialised adapter names the right model); giving
    ``model``, ``device`` or ``dtype`` beside it is refused.

    Raises:
        InputTypeError: ``encoder`` is not a :class:`SiglipEncoder`.
        ConfigurationError: both ``encoder`` and one of its options were given.
    """
    resolved = resolve_encoder(
        encoder,
        model=adapter.model,
        device=adapter.device,
        dtype=adapter.dtype,
        batch_size=batch_size,
        given=adapter.model_fields_set,
    )
    if encoder is not None:
        adapter.model = resolved.preset.reference
        adapter.device, adapter.dtype = resolved.device, resolved.dtype
    return resolved
