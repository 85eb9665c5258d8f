"""LlamaIndex multimodal embedding backed by SigLIP.

:class:`SiglipEmbedding` is a ``llama_index.core.embeddings.MultiModalEmbedding``: use it as the
``image_embed_model`` (and the ``embed_model``) of a ``MultiModalVectorStoreIndex`` so texts and
images share one vector space and text queries retrieve images. Unlike the base class, which
embeds one image per call, it encodes texts and images in batches of ``embed_batch_size``, and
its async methods run the model in a worker thread instead of blocking the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.embeddings import MultiModalEmbedding
from llama_index.core.schema import ImageType

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.integrations.common import ModelReference, adopt_encoder

__all__ = ["SiglipEmbedding"]


class SiglipEmbedding(MultiModalEmbedding):
    """SigLIP text and image embeddings for LlamaIndex.

    Every method goes through one :class:`~siglip_retriever.encoding.encoder.SiglipEncoder`; images may be
    anything :func:`siglip_retriever.encoding.images.load_image` accepts, including the paths and
    ``BytesIO`` objects that LlamaIndex's ``ImageNode.resolve_image`` returns. Vectors are
    L2-normalised.

    Pass either an existing encoder (``encoder=``) or the encoder's options. Adapters built with
    the same ``model``/``device``/``dtype`` share one model in memory.

    Args:
        encoder: an existing encoder to use (then ``model``, ``device`` and ``dtype`` must not be
            given).
        model: preset name, model-hub id or checkpoint directory (``None``: the default preset).
        device: ``"auto"``, ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.
        dtype: ``"auto"``, ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        embed_batch_size: texts or images per forward pass (``batch_size`` is accepted as an
            alias).

    Raises:
        InputTypeError: a text is not a string (``None``, say).
        ImageLoadError: an image cannot be read; the message names it.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import chromadb
        >>> from PIL import Image
        >>> from llama_index.core import StorageContext
        >>> from llama_index.core.indices import MultiModalVectorStoreIndex
        >>> from llama_index.core.schema import ImageDocument
        >>> from llama_index.vector_stores.chroma import ChromaVectorStore
        >>> from siglip_retriever.integrations.llama_index import SiglipEmbedding
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> embedding = SiglipEmbedding(model=build_checkpoint(tempfile.mkdtemp()), device="cpu")
        >>> path = Path(tempfile.mkdtemp()) / "red.png"
        >>> Image.new("RGB", (40, 40), "red").save(path)
        >>> client = chromadb.EphemeralClient(chromadb.Settings(anonymized_telemetry=False))
        >>> space = {"hnsw:space": "cosine"}
        >>> stores = {
        ...     name: ChromaVectorStore(chroma_collection=client.create_collection(name, metadata=space))
        ...     for name in ("texts", "images")
        ... }
        >>> context = StorageContext.from_defaults(
        ...     vector_store=stores["texts"], image_store=stores["images"]
        ... )
        >>> index = MultiModalVectorStoreIndex.from_documents(
        ...     [ImageDocument(image_path=str(path), doc_id="red", metadata={"file_name": path.name})],
        ...     storage_context=context, embed_model=embedding, image_embed_model=embedding,
        ... )
        >>> hits = index.as_retriever(image_similarity_top_k=1).text_to_image_retrieve("red")
        >>> hits[0].node.ref_doc_id
        'red'
    """

    model: ModelReference = Field(
        default=None,
        description="Preset name, model-hub id or checkpoint directory; None is the default preset.",
    )
    device: str = Field(default="auto", description="'auto', 'cpu', 'cuda[:N]' or 'mps'.")
    dtype: str = Field(default="auto", description="'auto', 'float32', 'float16' or 'bfloat16'.")
    embed_batch_size: int = Field(default=32, gt=0, le=2048, description="Texts or images per forward pass.")

    _encoder: SiglipEncoder = PrivateAttr()

    def __init__(
        self, *, encoder: SiglipEncoder | None = None, batch_size: int | None = None, **data: Any
    ) -> None:
        if batch_size is not None:
            if "embed_batch_size" in data:
                raise ConfigurationError("pass batch_size= or embed_batch_size=, not both")
            data["embed_batch_size"] = batch_size
        if isinstance(encoder, SiglipEncoder) and "embed_batch_size" not in data:
            data["embed_batch_size"] = encoder.batch_size
        super().__init__(**data)
        self._encoder = adopt_encoder(self, encoder, batch_size=self.embed_batch_size)
        if "model_name" not in self.model_fields_set:
            self.model_name = self._encoder.model_id

    @classmethod
    def class_name(cls) -> str:
        return "SiglipEmbedding"

    @property
    def encoder(self) -> SiglipEncoder:
        """The encoder every method goes through (shared with other adapters of the model)."""
        return self._encoder

    # -- texts ---------------------------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encoder.encode_query(query).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        vectors = self._encoder.encode_texts(texts, batch_size=self.embed_batch_size)
        return vectors.tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)

    # -- images --------------------------------------------------------------------------------

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._get_image_embeddings([img_file_path])[0]

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        vectors = self._encoder.encode_images(img_file_paths, batch_size=self.embed_batch_size)
        return vectors.tolist()

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return await asyncio.to_thread(self._get_image_embedding, img_file_path)

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_image_embeddings, img_file_paths)
