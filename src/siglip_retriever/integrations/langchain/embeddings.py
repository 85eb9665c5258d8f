"""LangChain embeddings backed by SigLIP: texts and images in one vector space.

:class:`SiglipEmbeddings` is a ``langchain_core.embeddings.Embeddings``. Besides the text methods
it has ``embed_image(uris)``, which stock ``langchain_chroma.Chroma`` calls from ``add_images``
and ``similarity_search_by_image``, so a plain ``Chroma`` vector store indexes images with SigLIP
vectors and searches them by text or by image.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.utils import from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.images import ImageInput
from siglip_retriever.integrations.common import ModelReference, adopt_encoder

__all__ = ["MODEL_ENV", "SiglipEmbeddings"]

MODEL_ENV = "SIGLIP_RETRIEVER_MODEL"
"""Environment variable read for ``model`` when it is not passed (LangChain's ``from_env``)."""


class SiglipEmbeddings(BaseModel, Embeddings):
    """SigLIP text and image embeddings for LangChain.

    Every method goes through one :class:`~siglip_retriever.encoding.encoder.SiglipEncoder`: texts are
    tokenised as the checkpoint expects and encoded in batches, images are loaded by
    :func:`siglip_retriever.encoding.images.load_image` (paths, bytes, file objects, PIL images, numpy
    arrays, data URIs), and every vector is L2-normalised, so use cosine distance (or inner
    product) in the vector store.

    Pass either an existing encoder (``encoder=``) or the encoder's options. Adapters built with
    the same ``model``/``device``/``dtype`` share one model in memory.

    Args:
        encoder: an existing encoder to use (then ``model``, ``device`` and ``dtype`` must not be
            given).
        model: preset name, model-hub id or checkpoint directory; defaults to the
            ``SIGLIP_RETRIEVER_MODEL`` environment variable, else the multilingual SigLIP.
        device: ``"auto"``, ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.
        dtype: ``"auto"``, ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        batch_size: texts or images per forward pass.

    Raises:
        InputTypeError: a text is not a string (``None``, say).
        ImageLoadError: an image cannot be read; the message names it.

    Example:
        >>> import tempfile
        >>> import chromadb
        >>> from langchain_chroma import Chroma
        >>> from PIL import Image
        >>> from siglip_retriever.integrations.langchain import SiglipEmbeddings
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> embeddings = SiglipEmbeddings(model=build_checkpoint(tempfile.mkdtemp()), device="cpu")
        >>> path = tempfile.mkdtemp() + "/red.png"
        >>> Image.new("RGB", (40, 40), "red").save(path)
        >>> client = chromadb.EphemeralClient(chromadb.Settings(anonymized_telemetry=False))
        >>> store = Chroma("photos", embeddings, client=client, collection_metadata={"hnsw:space": "cosine"})
        >>> store.add_images([path], ids=["red"])
        ['red']
        >>> [doc.id for doc in store.similarity_search("a red square", k=1)]
        ['red']
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: ModelReference = Field(
        default_factory=from_env(MODEL_ENV, default=None),
        description="Preset name, model-hub id or checkpoint directory; None is the default preset. "
        "Read from SIGLIP_RETRIEVER_MODEL when not given.",
    )
    device: str = Field(default="auto", description="'auto', 'cpu', 'cuda[:N]' or 'mps'.")
    dtype: str = Field(default="auto", description="'auto', 'float32', 'float16' or 'bfloat16'.")
    batch_size: int = Field(default=32, gt=0, description="Texts or images per forward pass.")

    _encoder: SiglipEncoder = PrivateAttr()

    def __init__(self, *, encoder: SiglipEncoder | None = None, **data: Any) -> None:
        if isinstance(encoder, SiglipEncoder) and "batch_size" not in data:
            data["batch_size"] = encoder.batch_size
        super().__init__(**data)
        self._encoder = adopt_encoder(self, encoder, batch_size=self.batch_size)

    @property
    def encoder(self) -> SiglipEncoder:
        """The encoder every method goes through (shared with other adapters of the model)."""
        return self._encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts, in batches of ``batch_size``.

        Raises:
            InputTypeError: an item is not a string.
        """
        vectors = self._encoder.encode_texts(texts, batch_size=self.batch_size)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text (repeated queries come from the encoder's cache).

        Raises:
            InputTypeError: ``text`` is not a string.
        """
        return self._encoder.encode_query(text).tolist()

    def embed_image(self, uris: Sequence[ImageInput]) -> list[list[float]]:
        """Embed images, in batches of ``batch_size``, into the space of the text vectors.

        ``langchain_chroma.Chroma.add_images`` and ``similarity_search_by_image`` call this with
        file paths; any input :func:`siglip_retriever.encoding.images.load_image` accepts works.

        Raises:
            ImageLoadError: an image cannot be read; the message names it.
        """
        vectors = self._encoder.encode_images(uris, batch_size=self.batch_size)
        return vectors.tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Like :meth:`embed_documents`, in a worker thread so the event loop stays free."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Like :meth:`embed_query`, in a worker thread so the event loop stays free."""
        return await asyncio.to_thread(self.embed_query, text)

    async def aembed_image(self, uris: Sequence[ImageInput]) -> list[list[float]]:
        """Like :meth:`embed_image`, in a worker thread so the event loop stays free."""
        return await asyncio.to_thread(self.embed_image, uris)
