"""A LlamaIndex image retriever on a :class:`~siglip_retriever.store.MultimodalStore`.

:class:`SiglipImageNodeRetriever` returns ``NodeWithScore(ImageNode)``:

- a text query (in any language the model knows) finds images, scored by SigLIP's calibrated
  probability that text and image match (or, when the store holds their words, that the picture
  shows or says it: a node's text then holds its words, and a PDF page's node its
  ``file_path`` and ``page_label``);
- a ``QueryBundle`` with ``image_path`` finds similar images, scored by cosine similarity: SigLIP's
  sigmoid was trained on image-text pairs, so an image-image pair has no calibrated probability.

It is a LlamaIndex ``BaseRetriever`` (``retrieve``, ``aretrieve``, usable in a
``RetrieverQueryEngine``) and ``BaseImageRetriever`` (``text_to_image_retrieve``,
``image_to_image_retrieve`` and their async forms). Async methods run the model in a worker
thread. Its nodes are :class:`StoredImageNode`: ``ImageNode`` whose hash names the store entry,
because llama-index-core up to 0.14.10 at least removes "duplicate" results by hash, and an
``ImageNode``'s hash there is only its caption and file: pictures stored without a file, with the
same caption or none, would come back as one.
"""

from __future__ import annotations

import asyncio
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.image_retriever import BaseImageRetriever
from llama_index.core.schema import ImageNode, NodeWithScore, QueryBundle, TextNode

from siglip_retriever.errors import ConfigurationError, ImageLoadError
from siglip_retriever.integrations.common import picture_payload
from siglip_retriever.search.hits import DEFAULT_CAPTION_KEY, SearchHit
from siglip_retriever.search.options import SearchKwargs
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store.metadata import MTIME, SIZE
from siglip_retriever.store.pictures import file_is_picture
from siglip_retriever.store.store import MultimodalStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["FILE_NAME", "FILE_PATH", "SiglipImageNodeRetriever", "StoredImageNode"]

FILE_PATH = "file_path"
"""A node's file, as LlamaIndex's ``SimpleDirectoryReader`` names it (a PDF entry's: the PDF)."""

FILE_NAME = "file_name"
"""The file's name, as ``SimpleDirectoryReader`` names it."""


class StoredImageNode(ImageNode):
    """An ``ImageNode`` of a store entry whose :attr:`hash` includes the entry's id, so that two
    stored pictures are never taken for one (llama-index-core up to 0.14.10 at least removes retrieved
    nodes with equal hashes, and hashes an ``ImageNode`` by its caption and file alone). It is an
    ``ImageNode`` in every other way, and serialises as one.

    Example:
        >>> from siglip_retriever.integrations.llama_index.retriever import StoredImageNode
        >>> a, b = StoredImageNode(id_="img-1", text=""), StoredImageNode(id_="img-2", text="")
        >>> a.hash != b.hash, a.class_name()
        (True, 'ImageNode')
    """

    def __init__(self, **kwargs: Any) -> None:
        # ImageNode's own signature (type checkers would otherwise derive one from the model's
        # field aliases, ``extra_info`` for ``metadata``)
        super().__init__(**kwargs)

    @property
    def hash(self) -> str:
        """The ``ImageNode``'s hash with the entry's id."""
        return sha256(f"{self.node_id}-{super().hash}".encode("utf-8", "surrogatepass")).hexdigest()


class SiglipImageNodeRetriever(BaseRetriever, BaseImageRetriever):
    """Images for a text query (score: probability) or for an image (score: cosine similarity).

    Each node is an ``ImageNode`` with the entry's id as ``node_id``, the file as ``image_path``
    (images stored from files), as text the caption (metadata ``caption_key``) when there is one
    and then the words the picture says (read by OCR, or a PDF page's text layer) when the
    search matched words, and the stored metadata plus ``id``, ``uri``, ``kind``, ``rank``,
    ``similarity``, ``probability``, ``matched``, ``says`` and ``words``, as every front-end's
    results carry them, and ``file_path`` and ``file_name`` as LlamaIndex's
    ``SimpleDirectoryReader`` writes them. A PDF's page or figure also carries ``page_label``
    (the label the PDF prints, as LlamaIndex's ``PDFReader`` writes it) and ``page`` (from 1);
    its ``file_path`` is the PDF, and since that is no picture the node carries its picture
    itself (``image``: the page rendered, or the figure, as base64 PNG) instead of an
    ``image_path``. The retriever keeps one
    :class:`~siglip_retriever.search.retriever.Retriever` for its lifetime, so a repeated query is
    answered from the search layer's result cache.

    Args:
        store: the store to search.
        exclude_self: in image-to-image search, leave out the query image itself.
        caption_key: metadata key whose value becomes the node's text.
        callback_manager: LlamaIndex callback manager.
        cache_size: results of this many recent searches are kept.
        search: the search options, the fields of
            :class:`~siglip_retriever.search.options.SearchOptions`: ``k`` (default 4), ``kind``
            (``"image"`` by default; stored texts come back as ``TextNode``), ``where`` (a
            Chroma filter on the entries' metadata), ``min_probability`` (text-to-image hits;
            when none passes, the result is empty), ``min_similarity`` (image-to-image hits),
            ``diverse``, ``fetch_k`` and ``lambda_mult`` (maximal marginal relevance) and
            ``collapse_duplicates`` (one image per group of duplicate pictures, the others' ids
            in its metadata under ``duplicates``), ``mode`` (what pictures match by: what they
            show, ``"visual"``, what they say, ``"text"``, or both, ``"hybrid"``: the default
            when the store holds words).

    Example:
        >>> import tempfile
        >>> from llama_index.core.schema import QueryBundle
        >>> from siglip_retriever import MultimodalStore, SiglipImageNodeRetriever
        >>> from siglip_retriever.demo import write_image_folder
        >>> folder = tempfile.mkdtemp()
        >>> _ = write_image_folder(folder, per_class=1, seed=7)
        >>> store = MultimodalStore.in_memory(model="demo")
        >>> _ = store.index_folder(folder)
        >>> retriever = SiglipImageNodeRetriever(store, k=1)
        >>> retriever.retrieve("un cercle rouge")[0].node.metadata["uri"].endswith("red_circle_000.png")
        True
        >>> similar = retriever.retrieve(QueryBundle("", image_path=f"{folder}/red_circle_000.png"))
        >>> similar[0].score == similar[0].node.metadata["similarity"]  # image queries: the cosine
        True
        >>> diverse = SiglipImageNodeRetriever(store, k=3, diverse=True, lambda_mult=0.3)
        >>> len(diverse.retrieve("un cercle rouge"))
        3
    """

    def __init__(
        self,
        store: MultimodalStore,
        *,
        exclude_self: bool = True,
        caption_key: str = DEFAULT_CAPTION_KEY,
        callback_manager: CallbackManager | None = None,
        cache_size: int = 256,
        **search: Unpack[SearchKwargs],
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.search = Retriever(store, cache_size=cache_size, **search)
        """The search this retriever goes through (one for its lifetime: its cache serves it)."""
        self.exclude_self = exclude_self
        self.caption_key = caption_key

    @property
    def store(self) -> MultimodalStore:
        """The store searched."""
        return self.search.store

    @property
    def where(self) -> dict[str, Any] | None:
        """The Chroma ``where`` filter on the entries' metadata."""
        return dict(self.search.options.where) if self.search.options.where is not None else None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if query_bundle.image_path:
            return self._image_to_image_retrieve(query_bundle)
        return self._text_to_image_retrieve(query_bundle)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)

    def _text_to_image_retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.search.search_text(query_bundle.query_str)
        return [self._node(hit) for hit in hits]

    def _image_to_image_retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if not query_bundle.image_path:
            raise ConfigurationError("image-to-image retrieval needs QueryBundle(image_path=...)")
        hits = self.search.search_image(query_bundle.image_path, exclude_self=self.exclude_self)
        return [self._node(hit) for hit in hits]

    async def _atext_to_image_retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._text_to_image_retrieve, query_bundle)

    async def _aimage_to_image_retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._image_to_image_retrieve, query_bundle)

    def _node(self, hit: SearchHit) -> NodeWithScore:
        if hit.kind == "text":
            text = TextNode(id_=hit.id, text=hit.text or "", metadata=hit.result_metadata())
            return NodeWithScore(node=text, score=hit.score)
        metadata = hit.result_metadata()
        picture: dict[str, Any] = {"image_path": hit.uri}
        if hit.uri is not None:
            metadata.setdefault(FILE_PATH, hit.uri)
            metadata.setdefault(FILE_NAME, Path(hit.uri).name)
            if not file_is_picture(hit.metadata):  # a PDF or a video: the node carries the picture
                try:
                    image, mime = picture_payload(hit.metadata)
                    picture = {"image": image, "image_mimetype": mime}
                except ImageLoadError as exc:  # the file is gone or changed: the hit, without it
                    picture = {}
                    metadata["image_error"] = str(exc)
        node = StoredImageNode(
            id_=hit.id,
            text="\n\n".join(part for part in (hit.caption(self.caption_key), hit.says) if part),
            metadata=metadata,
            excluded_llm_metadata_keys=[MTIME, SIZE, "says"],  # the words are the node's text
            excluded_embed_metadata_keys=["says"],
            **picture,
        )
        return NodeWithScore(node=node, score=hit.score)
