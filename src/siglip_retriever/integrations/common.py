"""What the framework adapters share: the ``model`` field type, adopting or building one encoder, and
an entry's picture as a framework sends it to a multimodal model.

Every embedding adapter accepts either an existing encoder (``encoder=``) or the encoder's own
options (``model``, ``device``, ``dtype``, batch size). Encoders built with the same options share
one model in memory (the encoding layer caches it per ``(checkpoint, device, dtype)``), so a
LangChain, a LlamaIndex and a Chroma adapter side by side load the checkpoint once.

A hit's picture (:func:`picture_payload`) is its image file as it is, when multimodal chat models
take its format (PNG, JPEG, GIF, WebP), else converted to PNG; a PDF entry's file is the PDF, so
its picture is its page rendered, or its figure, as PNG
(:func:`~siglip_retriever.store.pictures.entry_picture`).

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

import base64
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from siglip_retriever.encoding.encoder import SiglipEncoder, resolve_encoder
from siglip_retriever.encoding.images import load_image
from siglip_retriever.store.metadata import URI
from siglip_retriever.store.pictures import entry_picture, file_is_picture

__all__ = ["CHAT_FORMATS", "ModelReference", "adopt_encoder", "picture_payload"]

CHAT_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
"""The picture formats multimodal chat models take as they are (Pillow's name -> media type)."""


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


def picture_payload(metadata: Mapping[str, Any]) -> tuple[str, str]:
    """A stored image entry's picture as ``(base64, media type)``, from its metadata (``uri``,
    and a PDF entry's ``page``, ``part``, ``figure``): see the module's notes.

    Raises:
        ImageLoadError: the entry has no file, or it cannot be read now.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> path = tempfile.mkdtemp() + "/red.bmp"
        >>> Image.new("RGB", (8, 8), "red").save(path)
        >>> picture_payload({"uri": path})[1]  # BMP is sent as PNG
        'image/png'
    """
    from PIL import Image

    if not file_is_picture(metadata):  # a PDF's page or figure, a video's frame
        data, mime = _png(entry_picture(metadata)), "image/png"
    else:
        data = Path(str(metadata.get(URI))).read_bytes()
        with Image.open(io.BytesIO(data)) as picture:
            found = CHAT_FORMATS.get(picture.format or "")
        data, mime = (data, found) if found is not None else (_png(load_image(data)), "image/png")
    return base64.b64encode(data).decode("ascii"), mime


def _png(picture: Any) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # a page: fast, and lossless for its words
    return buffer.getvalue()
