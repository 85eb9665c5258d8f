"""A store's chromadb collection: made in cosine space with the SigLIP embedding function, with
the model that built it recorded in its metadata, and checked against that record when opened.

The record (:class:`ModelRecord`) holds the model (a preset name, hub id or directory), the
vector size, and the model's logit scale, bias and score kind, so that a search can turn cosine
similarities into SigLIP probabilities without the model, and opening the store with another
model is a clear :class:`~siglip_retriever.errors.ModelMismatchError` instead of a silent mix of
vector spaces.

Example:
    >>> from siglip_retriever.store.collection import ModelRecord
    >>> record = ModelRecord("demo", 96, logit_scale=10.0, logit_bias=-2.0, score_kind="sigmoid")
    >>> ModelRecord.from_metadata(record.metadata(), fallback=record) == record
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siglip_retriever._version import __version__
from siglip_retriever.errors import ModelMismatchError, ServerUnavailableError
from siglip_retriever.store.metadata import (
    RECORD_DIM,
    RECORD_LOGIT_BIAS,
    RECORD_LOGIT_SCALE,
    RECORD_MODEL,
    RECORD_SCORE_KIND,
    RECORD_VERSION,
)

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.scores import ScoreKind

__all__ = ["ModelRecord", "existing_metadata", "open_collection", "open_words_collection", "recorded_model"]


@dataclass(frozen=True)
class ModelRecord:
    """The facts of the model that built a collection, as its metadata records them.

    Attributes:
        model: a name that loads the model again (preset name, hub id or directory).
        dim: the size of its vectors.
        logit_scale: the multiplier of cosine similarities in its probabilities.
        logit_bias: SigLIP's bias (0 for CLIP).
        score_kind: ``"sigmoid"`` (SigLIP) or ``"softmax"`` (CLIP).
    """

    model: str
    dim: int
    logit_scale: float
    logit_bias: float
    score_kind: ScoreKind

    @classmethod
    def of(cls, encoder: SiglipEncoder) -> ModelRecord:
        """The record of ``encoder``'s model."""
        return cls(
            encoder.preset.reference, encoder.dim, encoder.logit_scale, encoder.logit_bias, encoder.score_kind
        )

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], *, fallback: ModelRecord) -> ModelRecord:
        """The record a collection's metadata holds; facts it lacks come from ``fallback``."""
        return cls(
            str(metadata.get(RECORD_MODEL, fallback.model)),
            int(metadata.get(RECORD_DIM, fallback.dim)),
            float(metadata.get(RECORD_LOGIT_SCALE, fallback.logit_scale)),
            float(metadata.get(RECORD_LOGIT_BIAS, fallback.logit_bias)),
            metadata.get(RECORD_SCORE_KIND, fallback.score_kind),
        )

    def metadata(self) -> dict[str, Any]:
        """The collection metadata that records this model (and this package's version)."""
        return {
            RECORD_MODEL: self.model,
            RECORD_DIM: self.dim,
            RECORD_LOGIT_SCALE: self.logit_scale,
            RECORD_LOGIT_BIAS: self.logit_bias,
            RECORD_SCORE_KIND: self.score_kind,
            RECORD_VERSION: __version__,
        }

    def check(self, existing: Mapping[str, Any], *, collection: str, location: str) -> None:
        """Refuse to open a collection that another model (or another program) built.

        Raises:
            ModelMismatchError: the collection records another model or vector size, or none.
        """
        built_with = existing.get(RECORD_MODEL)
        if built_with is None:
            raise ModelMismatchError(
                f"collection {collection!r} at {location} was not made by siglip-retriever (no model "
                "recorded); use another collection name"
            )
        dim = int(existing.get(RECORD_DIM, -1))
        if built_with != self.model or dim != self.dim:
            raise ModelMismatchError(
                f"the store at {location} (collection {collection!r}) was built with model "
                f"{built_with!r} ({dim}-d vectors), not {self.model!r} ({self.dim}-d). Open it with "
                f"model={built_with!r} (or no model); to change its model (a fine-tuned one, say), "
                "build it again with the new one beside it and swap: siglip-retriever reindex --model NEW "
                "(MultimodalStore.reindex(model=NEW))."
            )


def recorded_model(existing: Mapping[str, Any] | None) -> str | None:
    """The model a collection's metadata names, if any."""
    if existing is None or RECORD_MODEL not in existing:
        return None
    return str(existing[RECORD_MODEL])


def existing_metadata(client: Any, name: str, location: str) -> Mapping[str, Any] | None:
    """The metadata of collection ``name``, or ``None`` when there is no such collection.

    Raises:
        ServerUnavailableError: the client cannot list its collections (a server gone).
    """
    try:
        names = [getattr(c, "name", c) for c in client.list_collections()]
    except Exception as exc:
        raise ServerUnavailableError(f"cannot list collections at {location}: {exc}") from exc
    if name not in names:
        return None
    from siglip_retriever.store import embedding_function  # noqa: F401 - registers it with chromadb

    return client.get_collection(name).metadata or {}


def open_collection(client: Any, name: str, encoder: SiglipEncoder, *, create: bool) -> Any:
    """Open collection ``name`` with ``encoder``'s embedding function, or create it recording the
    model (cosine space)."""
    from siglip_retriever.store.embedding_function import SiglipEmbeddingFunction

    function = SiglipEmbeddingFunction(encoder=encoder)
    if not create:
        return client.get_collection(name, embedding_function=function)
    return client.get_or_create_collection(
        name,
        embedding_function=function,
        metadata=ModelRecord.of(encoder).metadata(),
        configuration={"hnsw": {"space": "cosine"}},
    )


def open_words_collection(client: Any, name: str, encoder: SiglipEncoder) -> Any:
    """The words collection of the store collection ``name`` (``name__words``: see
    :mod:`siglip_retriever.store.words`), made the way :func:`open_collection` makes a store's
    (cosine space, ``encoder``'s embedding function, the model recorded) if it is not there yet."""
    from siglip_retriever.store.words import words_collection_name

    return open_collection(client, words_collection_name(name), encoder, create=True)
