"""Framework-free search over a :class:`~siglip_retriever.store.MultimodalStore`.

Three directions, each with ``k``, a metadata filter ``where`` and a threshold:

- :meth:`Retriever.text_to_images`: a query in any language the model knows -> images;
- :meth:`Retriever.image_to_texts`: an image -> captions or labels stored as texts;
- :meth:`Retriever.image_to_images`: an image -> similar images.

Every :class:`SearchHit` carries the cosine similarity and, for image-text pairs, SigLIP's
probability ``sigmoid(logit_scale * cos + logit_bias)`` computed with the scale and bias stored in
the collection. The probability is what ``min_probability`` filters on: when nothing passes it,
the result is empty, so an application can say "no relevant image" instead of showing the least
bad one. Image-to-image hits have no calibrated probability (SigLIP's sigmoid was trained on
image-text pairs); they are ranked and filtered by cosine similarity (``min_similarity``).

Results are cached: the same query (same vector, ``k``, filter and thresholds) on a store that
nothing has written to since is answered from memory, without asking chromadb. Only stores that
no other process can write to while they are open cache (an embedded store holds its directory's
lock; see :attr:`MultimodalStore.sole_writer`); a write through the store empties the cache.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore, Retriever
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> _ = store.add_images([Image.new("RGB", (32, 32), c) for c in ("red", "blue")])
    >>> hits = Retriever(store).text_to_images("a red square", k=1)
    >>> len(hits), 0.0 <= hits[0].probability <= 1.0
    (1, True)
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from siglip_retriever.encoding.images import ImageInput
from siglip_retriever.encoding.scores import sigmoid_probability
from siglip_retriever.errors import ConfigurationError, InputTypeError

if TYPE_CHECKING:
    from siglip_retriever.store.entries import Kind, StoredItem
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["Retriever", "SearchHit"]


@dataclass(frozen=True)
class SearchHit:
    """One search result.

    Attributes:
        id: the entry's id in the store.
        kind: ``"image"`` or ``"text"``.
        uri: the image's file path (images indexed from files), else ``None``.
        text: the stored text (text entries), else ``None``.
        metadata: the entry's metadata.
        similarity: cosine similarity to the query, in [-1, 1].
        probability: SigLIP's probability that query and entry match (image-text pairs of
            sigmoid models); ``None`` for image-to-image hits and softmax (CLIP) models.
        score: what the hit was ranked and filtered by: ``probability`` when there is one,
            else ``similarity``.
        rank: 1 for the best hit.
    """

    id: str
    kind: str
    uri: str | None
    text: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    similarity: float = 0.0
    probability: float | None = None
    rank: int = 0

    @property
    def score(self) -> float:
        """``probability`` when there is one, else ``similarity``."""
        return self.probability if self.probability is not None else self.similarity

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the schema of the CLI's and the API's ``--json`` output)."""
        return {
            "rank": self.rank,
            "id": self.id,
            "kind": self.kind,
            "uri": self.uri,
            "text": self.text,
            "similarity": self.similarity,
            "probability": self.probability,
            "metadata": self.metadata,
        }


class Retriever:
    """Search a store by text or by image.

    Args:
        store: the store to search.
        k: default number of hits.
        min_probability: default threshold on the probability (image-text searches). Only
            sigmoid (SigLIP) stores have one: a CLIP store raises ``ConfigurationError``.
        min_similarity: default threshold on cosine similarity (image-to-image and
            text-to-text searches).
        cache_size: results of this many recent searches are kept (0: none); see the module's
            docstring for when the cache is used.

    Example:
        >>> import tempfile
        >>> from siglip_retriever import MultimodalStore, Retriever
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> Retriever(store, k=3).text_to_images("un chat noir")  # an empty store finds nothing
        []
    """

    def __init__(
        self,
        store: MultimodalStore,
        *,
        k: int = 4,
        min_probability: float | None = None,
        min_similarity: float | None = None,
        cache_size: int = 256,
    ) -> None:
        self.store = store
        self.k = _check_k(k)
        self.min_probability = _check_threshold("min_probability", min_probability, 0.0, 1.0)
        self.min_similarity = _check_threshold("min_similarity", min_similarity, -1.0, 1.0)
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigurationError(f"cache_size must be an integer >= 0, not {cache_size!r}")
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, list[SearchHit]]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def text_to_images(
        self,
        query: str,
        *,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_probability: float | None = None,
    ) -> list[SearchHit]:
        """Images matching a text query in any language, best first."""
        if not isinstance(query, str):
            raise InputTypeError(f"a text query must be a str, not {type(query).__name__}")
        if not query.strip():
            raise ConfigurationError("the query is empty; type what the image should show")
        vector = self.store.encoder.encode_query(query)
        return self._search(vector, "image", k, where, min_probability, None, cross_modal=True)

    def image_to_texts(
        self,
        image: ImageInput,
        *,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_probability: float | None = None,
    ) -> list[SearchHit]:
        """Stored texts (captions, labels) that describe an image, best first."""
        vector = self.store.encoder.encode_images([image])[0]
        return self._search(vector, "text", k, where, min_probability, None, cross_modal=True)

    def image_to_images(
        self,
        image: ImageInput,
        *,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_similarity: float | None = None,
        exclude_self: bool = True,
    ) -> list[SearchHit]:
        """Images similar to a given one, best first, ranked by cosine similarity.

        With ``exclude_self`` an entry whose vector is identical to the query's (the query image
        itself, when it is in the store) is left out.
        """
        vector = self.store.encoder.encode_images([image])[0]
        limit = (k or self.k) + (1 if exclude_self else 0)
        hits = self._search(vector, "image", limit, where, None, min_similarity, cross_modal=False)
        if exclude_self:
            hits = [h for h in hits if h.similarity < 1.0 - 1e-5]
        return _ranked(hits[: k or self.k])

    def text_to_texts(
        self,
        query: str,
        *,
        k: int | None = None,
        where: Mapping[str, Any] | None = None,
        min_similarity: float | None = None,
    ) -> list[SearchHit]:
        """Stored texts closest to a text query, ranked by cosine similarity (no probability)."""
        if not isinstance(query, str):
            raise InputTypeError(f"a text query must be a str, not {type(query).__name__}")
        if not query.strip():
            raise ConfigurationError("the query is empty")
        vector = self.store.encoder.encode_query(query)
        return self._search(vector, "text", k, where, None, min_similarity, cross_modal=False)

    def search(self, query: str | ImageInput, **kwargs: Any) -> list[SearchHit]:
        """A text query finds images; an image query finds similar images."""
        if isinstance(query, str) and not _is_image_string(query):
            return self.text_to_images(query, **kwargs)
        return self.image_to_images(query, **kwargs)

    def _search(
        self,
        vector: np.ndarray,
        kind: Kind,
        k: int | None,
        where: Mapping[str, Any] | None,
        min_probability: float | None,
        min_similarity: float | None,
        *,
        cross_modal: bool,
    ) -> list[SearchHit]:
        count = _check_k(k if k is not None else self.k)
        store = self.store
        calibrated = cross_modal and store.score_kind == "sigmoid"
        threshold_p = threshold_s = None
        if cross_modal:
            wanted_p = min_probability if min_probability is not None else self.min_probability
            threshold_p = _check_threshold("min_probability", wanted_p, 0, 1)
            if threshold_p is not None and not calibrated:
                raise ConfigurationError(
                    f"min_probability needs a sigmoid (SigLIP) model; this store's model scores with "
                    f"a {store.score_kind}, whose probabilities depend on the other candidates. "
                    "Leave min_probability out, or use a SigLIP model."
                )
        else:
            wanted_s = min_similarity if min_similarity is not None else self.min_similarity
            threshold_s = _check_threshold("min_similarity", wanted_s, -1, 1)
        key = (vector.tobytes(), kind, count, _frozen(where), threshold_p, threshold_s, cross_modal)
        generation = getattr(store, "generation", 0)
        cached = self._cached(key, generation)
        if cached is not None:
            return cached
        results = store.query(vector, k=count, kind=kind, where=where)
        hits = []
        for item, similarity in results:
            probability = (
                float(
                    sigmoid_probability(
                        similarity, logit_scale=store.logit_scale, logit_bias=store.logit_bias
                    )
                )
                if calibrated
                else None
            )
            if threshold_p is not None and (probability is None or probability < threshold_p):
                continue
            if threshold_s is not None and similarity < threshold_s:
                continue
            hits.append(_hit(item, similarity, probability))
        ranked = _ranked(hits)
        self._remember(key, generation, ranked)
        return list(ranked)

    def clear_cache(self) -> None:
        """Forget every cached result (after writing to the store some other way)."""
        with self._cache_lock:
            self._cache.clear()

    def _cached_store(self) -> bool:
        return bool(self.cache_size) and bool(getattr(self.store, "sole_writer", False))

    def _cached(self, key: tuple[Any, ...], generation: int) -> list[SearchHit] | None:
        if not self._cached_store():
            return None
        with self._cache_lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if entry[0] != generation:  # the store was written to since
                self._cache.clear()
                return None
            self._cache.move_to_end(key)
            return list(entry[1])

    def _remember(self, key: tuple[Any, ...], generation: int, hits: list[SearchHit]) -> None:
        if not self._cached_store() or getattr(self.store, "generation", 0) != generation:
            return
        with self._cache_lock:
            self._cache[key] = (generation, hits)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)


def _frozen(where: Mapping[str, Any] | None) -> str:
    """A hashable form of a metadata filter."""
    return json.dumps(where, sort_keys=True, default=repr) if where else ""


def _hit(item: StoredItem, similarity: float, probability: float | None) -> SearchHit:
    return SearchHit(
        id=item.id,
        kind=item.kind,
        uri=item.uri,
        text=item.text,
        metadata=item.metadata,
        similarity=similarity,
        probability=probability,
    )


def _ranked(hits: list[SearchHit]) -> list[SearchHit]:
    from dataclasses import replace

    return [replace(hit, rank=i) for i, hit in enumerate(hits, start=1)]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"k must be a positive integer, not {k!r}")
    return k


def _check_threshold(name: str, value: float | None, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be a number between {low} and {high}, not {value!r}")
    return float(value)


def _is_image_string(text: str) -> bool:
    """A str query is an image when it is a data URI or an existing image file."""
    from pathlib import Path

    from siglip_retriever.store.scanning import IMAGE_EXTENSIONS

    if text.startswith("data:image/"):
        return True
    try:
        path = Path(text)
        return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
    except (OSError, ValueError):
        return False
