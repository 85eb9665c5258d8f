"""The chromadb embedding function of a store: documents and images in one collection.

:class:`SiglipEmbeddingFunction` embeds documents (strings) and images (numpy arrays, as
chromadb's ``ImageLoader`` yields them from ``uris``) in one call, keeping the input order, mixed
lists included. Every :class:`~siglip_retriever.store.store.MultimodalStore` collection is made
with it, and plain chromadb users can use it on their own collections
(:mod:`siglip_retriever.integrations.chroma`).

It is registered with chromadb under the name ``"siglip_retriever"``: a collection created with
it stores its configuration, and a later process that has imported this module reopens the
collection with ``client.get_collection(name)`` and gets a working SigLIP embedding function back,
no argument needed. Its default space is cosine (vectors are L2-normalised).

Never create a collection without an embedding function: chromadb then picks its default one,
which downloads a model on first use.

Example:
    >>> import tempfile
    >>> from siglip_retriever.store.embedding_function import SiglipEmbeddingFunction
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> embed = SiglipEmbeddingFunction(build_checkpoint(tempfile.mkdtemp()), device="cpu")
    >>> [vector.shape for vector in embed(["a red circle", "a blue square"])]
    [(32,), (32,)]
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from chromadb.api.types import Embeddable, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from siglip_retriever.encoding.encoder import SiglipEncoder, resolve_encoder
from siglip_retriever.errors import ConfigurationError, InputTypeError

__all__ = ["SiglipEmbeddingFunction"]

_CONFIG_KEYS = {"model", "device", "dtype", "batch_size"}


class SiglipEmbeddingFunction(EmbeddingFunction[Embeddable]):
    """SigLIP embeddings for chromadb collections: documents and images, batched, in order.

    Pass either an existing encoder (``encoder=``) or the encoder's options. Adapters built with
    the same ``model``/``device``/``dtype`` share one model in memory.

    Args:
        model: preset name, model-hub id or checkpoint directory (``None``: the default preset).
        encoder: an existing encoder to use (then ``model``, ``device`` and ``dtype`` must not be
            given).
        device: ``"auto"``, ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.
        dtype: ``"auto"``, ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        batch_size: documents or images per forward pass.

    The persisted configuration (:meth:`get_config`) holds the preset name (or the hub id or
    directory), ``device``, ``dtype`` and ``batch_size``; with ``encoder=`` they are the
    encoder's resolved device and dtype.

    Raises:
        InputTypeError: an item is neither a string nor an image array (``None``, say).
        ImageLoadError: an image array cannot be read as a picture.

    Example:
        >>> import tempfile
        >>> import chromadb
        >>> import numpy as np
        >>> from chromadb.utils.data_loaders import ImageLoader
        >>> from PIL import Image
        >>> from siglip_retriever.integrations.chroma import SiglipEmbeddingFunction
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> embed = SiglipEmbeddingFunction(build_checkpoint(tempfile.mkdtemp()), device="cpu")
        >>> path = tempfile.mkdtemp() + "/red.png"
        >>> Image.new("RGB", (40, 40), "red").save(path)
        >>> client = chromadb.EphemeralClient(chromadb.Settings(anonymized_telemetry=False))
        >>> photos = client.create_collection(
        ...     "ef-example", embedding_function=embed, data_loader=ImageLoader()
        ... )
        >>> photos.configuration["hnsw"]["space"]
        'cosine'
        >>> photos.add(ids=["red"], uris=[path])
        >>> photos.query(query_texts=["a red square"], n_results=1)["ids"]
        [['red']]
        >>> photos.query(query_images=[np.zeros((8, 8, 3), np.uint8)], n_results=1)["ids"]
        [['red']]
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        encoder: SiglipEncoder | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
    ) -> None:
        given = {
            name
            for name, value in (("model", model), ("device", device), ("dtype", dtype))
            if value is not None
        }
        self._encoder = resolve_encoder(
            encoder,
            model=model,
            device=device or "auto",
            dtype=dtype or "auto",
            batch_size=batch_size or 32,
            given=given,
        )
        built_from_encoder = encoder is not None
        self.model = self._encoder.preset.reference
        self.device = self._encoder.device if built_from_encoder else device or "auto"
        self.dtype = self._encoder.dtype if built_from_encoder else dtype or "auto"
        self.batch_size = batch_size or self._encoder.batch_size

    @property
    def encoder(self) -> SiglipEncoder:
        """The encoder every call goes through (shared with other adapters of the model)."""
        return self._encoder

    def __call__(self, input: Embeddable) -> Embeddings:
        """Embed documents and images, in input order; each kind is encoded in batches."""
        return self._embed(input, query=False)

    def embed_query(self, input: Embeddable) -> Embeddings:
        """Embed query texts or images; repeated query texts come from the encoder's cache."""
        return self._embed(input, query=True)

    def _embed(self, input: Embeddable, *, query: bool) -> Embeddings:
        if isinstance(input, str) or (isinstance(input, np.ndarray) and input.ndim < 4):
            raise InputTypeError("pass a list of documents or images; wrap a single item in a list")
        items = list(input)
        texts = [(i, item) for i, item in enumerate(items) if isinstance(item, str)]
        images = [(i, item) for i, item in enumerate(items) if isinstance(item, np.ndarray)]
        if len(texts) + len(images) != len(items):
            bad = next(i for i, item in enumerate(items) if not isinstance(item, (str, np.ndarray)))
            raise InputTypeError(
                f"item {bad} is {type(items[bad]).__name__}; pass strings (documents) or numpy "
                "arrays (images)"
            )
        out = np.empty((len(items), self._encoder.dim), dtype=np.float32)
        if texts:
            positions, values = zip(*texts, strict=True)
            if query:
                out[list(positions)] = [self._encoder.encode_query(text) for text in values]
            else:
                out[list(positions)] = self._encoder.encode_texts(values, batch_size=self.batch_size)
        if images:
            positions, values = zip(*images, strict=True)
            out[list(positions)] = self._encoder.encode_images(values, batch_size=self.batch_size)
        return list(out)

    @staticmethod
    def name() -> str:
        return "siglip_retriever"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "device": self.device,
            "dtype": self.dtype,
            "batch_size": self.batch_size,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SiglipEmbeddingFunction:
        SiglipEmbeddingFunction.validate_config(config)
        return SiglipEmbeddingFunction(
            config["model"],
            device=config.get("device"),
            dtype=config.get("dtype"),
            batch_size=config.get("batch_size"),
        )

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise ConfigurationError(f"unknown siglip_retriever config keys: {sorted(unknown)}")
        if not isinstance(config.get("model"), str):
            raise ConfigurationError("a siglip_retriever config needs 'model', a string")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if "model" in new_config and new_config["model"] != old_config.get("model"):
            raise ConfigurationError(
                "the model of a collection cannot change: its stored vectors come from the old one"
            )

    def __repr__(self) -> str:
        return f"SiglipEmbeddingFunction(model={self.model!r}, device={self.device!r}, dtype={self.dtype!r})"


register_embedding_function(SiglipEmbeddingFunction)
