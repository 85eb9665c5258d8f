"""MultimodalStore: images and texts in one SigLIP space, in one chromadb collection.

Three clients, one API:

- embedded on disk (the default): ``MultimodalStore("my-store")``;
- in memory, for tests and notebooks: ``MultimodalStore.in_memory()``;
- a Chroma server, when one machine is not enough: ``MultimodalStore.connect("db.local", 8000)``.

The collection uses cosine space. Its metadata records the model (preset name, hub id or
directory), the vector size and the model's logit scale and bias, so a search can turn cosine
similarities into SigLIP probabilities, and opening the store with another model is a clear
:class:`~siglip_retriever.errors.ModelMismatchError` instead of a silent mix of spaces. Opening an
existing store without naming a model uses the one it was built with.

Ids are content hashes (see :mod:`siglip_retriever.store.entries`), so adding the same image or
text twice stores it once. Besides adding and searching, the store offers the operations indexing
is made of: :meth:`~MultimodalStore.lookup` (which ids are stored, with their metadata),
:meth:`~MultimodalStore.upsert_vectors` (write a batch of ready vectors) and
:meth:`~MultimodalStore.update_file_facts` (record a file's new path, time and size).

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> ids = store.add_images([Image.new("RGB", (32, 32), "red")], metadatas=[{"colour": "red"}])
    >>> store.add_texts(["a red square"]) and store.count()
    2
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.encoder import resolve_encoder
from siglip_retriever.encoding.images import ImageInput, image_list
from siglip_retriever.encoding.texts import encodable_text
from siglip_retriever.errors import (
    ConfigurationError,
    InputTypeError,
    ServerUnavailableError,
    StoreError,
)
from siglip_retriever.store.clients import chroma_settings, close, describe_client, persist_directory
from siglip_retriever.store.collection import (
    ModelRecord,
    existing_metadata,
    open_collection,
    open_words_collection,
    recorded_model,
)
from siglip_retriever.store.entries import (
    Kind,
    Metadata,
    StoredItem,
    content_id,
    entry_metadata,
    image_entry,
    kind_filter,
    query_vector,
    stored_item,
    user_metadatas,
)
from siglip_retriever.store.files import keep_other_files
from siglip_retriever.store.fingerprints import SAME_PICTURE_BITS
from siglip_retriever.store.live import StoreVersions, read_live
from siglip_retriever.store.metadata import KIND, URI, VISUAL_KINDS
from siglip_retriever.store.retry import RetryPolicy
from siglip_retriever.store.words import PictureWords, StoreWords, weak_method

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.scores import ScoreKind
    from siglip_retriever.store.duplicates import DuplicateGroups
    from siglip_retriever.store.indexing import FolderOptions
    from siglip_retriever.store.report import IndexReport

__all__ = ["DEFAULT_COLLECTION", "DEFAULT_PATH", "MultimodalStore"]

DEFAULT_PATH = "siglip-store"
"""Where an embedded store lives when no path is given (relative to the working directory)."""

DEFAULT_COLLECTION = "siglip"

T = TypeVar("T")


class MultimodalStore(StoreWords, StoreVersions):
    """Images and texts embedded by SigLIP in one chromadb collection.

    Args:
        path: directory of an embedded, persistent store (created if missing).
        model: preset name, hub id or checkpoint directory. ``None``: the model the store was
            built with, or the default preset for a new store.
        encoder: an already loaded encoder (instead of ``model``, ``device``, ``dtype``).
        collection: the collection's name; one directory or server can hold several stores.
        client: an existing chromadb client (``PersistentClient``, ``HttpClient``, ...).
        device, dtype, batch_size: passed to :class:`~siglip_retriever.SiglipEncoder`.
        lock_timeout: an embedded store is open in one process at a time (chromadb's embedded
            client is not safe for more): seconds to wait while another process has it open;
            ``0`` (the default) fails at once with :class:`~siglip_retriever.errors.StoreBusyError`,
            ``None`` waits as long as it takes. See :mod:`siglip_retriever.store.locking`.
        retries, retry_backoff: a call that cannot reach a Chroma server is tried ``retries``
            more times, first after ``retry_backoff`` seconds, each wait twice the last
            (:class:`~siglip_retriever.store.retry.RetryPolicy`).

    Raises:
        ModelMismatchError: the collection was built with another model.
        ServerUnavailableError: a Chroma server does not answer.
        StoreBusyError: another process has the embedded store open (after ``lock_timeout``).

    Example:
        >>> import tempfile
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> checkpoint = build_checkpoint(tempfile.mkdtemp())
        >>> store = MultimodalStore(tempfile.mkdtemp(), model=checkpoint)
        >>> store.add_texts(["un cercle rouge", "a blue square"])
        ['txt-...', 'txt-...']
        >>> MultimodalStore(store.path).count()  # reopens with the model it was built with
        2
        >>> store.close()  # or: with MultimodalStore(path) as store: ...
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = DEFAULT_PATH,
        *,
        model: str | os.PathLike[str] | None = None,
        encoder: SiglipEncoder | None = None,
        collection: str = DEFAULT_COLLECTION,
        client: Any = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
        lock_timeout: float | None = 0.0,
        retries: int = 3,
        retry_backoff: float = 0.5,
    ) -> None:
        import chromadb

        self.retry = RetryPolicy(retries, retry_backoff)
        self.path: Path | None = persist_directory(client) if client is not None else None
        """The folder of an embedded store (given, or that of the persistent client given); ``None``
        for in-memory and server stores. Indexing never looks into it."""
        if client is None:
            if path is None:
                raise ConfigurationError(
                    "give a path, a client, or use MultimodalStore.in_memory() / .connect()"
                )
            self.path = Path(path).expanduser().resolve()
            if self.path.exists() and not self.path.is_dir():
                raise ConfigurationError(f"store path {self.path} exists and is not a directory")
            self.path.mkdir(parents=True, exist_ok=True)
        lease = None
        if self.path is not None:  # before chromadb reads the directory: see siglip_retriever.store.locking
            from siglip_retriever.store.locking import acquire

            lease = acquire(self.path, lock_timeout)
        owned = client is None
        try:
            if client is None:
                client = chromadb.PersistentClient(path=str(self.path), settings=chroma_settings())
            self.client = client
            self.base_collection = collection  # the live one is collection_name: store.live
            self.location = str(self.path) if self.path else describe_client(client)
            live = read_live(client, collection).live
            existing = existing_metadata(client, live, self.location)
            self.encoder = resolve_encoder(
                encoder,
                model=model if model is not None else recorded_model(existing),
                device=device,
                dtype=dtype,
                batch_size=batch_size,
                given={"model"} if model is not None else (),
            )
            if existing is not None:
                ModelRecord.of(self.encoder).check(existing, collection=live, location=self.location)
            self.generation = 0
            """Writes and collection changes through this store object (a query cache compares it)."""
            self._attach(live, self.encoder, create=existing is None)
        except BaseException:
            close(client if owned else None, lease)
            raise
        # close() or the garbage collector closes what this store opened and ends its lock
        self._finalizer = weakref.finalize(self, close, client if owned else None, lease)
        self.sole_writer = lease is not None
        """Whether no other process can write to this store while it is open (an embedded store
        holds its directory's lock): only then can query results be cached (see ``Retriever``)."""

    def _attach(self, name: str, encoder: SiglipEncoder, *, create: bool) -> None:
        """Read and write collection ``name`` (and its words) with ``encoder``."""
        collection = open_collection(self.client, name, encoder, create=create)
        words = open_words_collection(self.client, name, encoder)
        self.encoder, self.collection_name, self._collection = encoder, name, collection
        # the words call back through a weak reference: a store dropped without close() is
        # collected at once (its finalizer ends the directory's lock), not at the next GC cycle
        self._words = PictureWords(words, encoder, weak_method(self._call))
        self.record = ModelRecord.from_metadata(collection.metadata or {}, fallback=ModelRecord.of(encoder))
        """The model facts the collection records: a search scores with these."""
        self.model_name = self.record.model
        self.logit_scale = self.record.logit_scale
        self.logit_bias = self.record.logit_bias
        self.score_kind: ScoreKind = self.record.score_kind
        self.generation += 1

    # -- constructors --------------------------------------------------------------------------

    @classmethod
    def in_memory(cls, *, collection: str | None = None, **kwargs: Any) -> MultimodalStore:
        """A store that lives in this process only (gone when it ends).

        chromadb shares one in-memory database per process: without a ``collection`` name each
        call gets a new, empty collection; with one, calls naming it share it.
        """
        import uuid

        import chromadb

        name = collection or f"{DEFAULT_COLLECTION}-{uuid.uuid4().hex[:12]}"
        store = cls(
            None, client=chromadb.EphemeralClient(settings=chroma_settings()), collection=name, **kwargs
        )
        store.sole_writer = collection is None  # a named one may be shared with other objects
        return store

    @classmethod
    def connect(
        cls, host: str = "localhost", port: int = 8000, *, ssl: bool = False, **kwargs: Any
    ) -> MultimodalStore:
        """A store on a Chroma server (``chroma run --host H --port P --path DIR``)."""
        import chromadb

        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings())
            client.heartbeat()
        except Exception as exc:
            raise ServerUnavailableError(
                f"no Chroma server answers at {'https' if ssl else 'http'}://{host}:{port} ({exc}). "
                "Start one with: chroma run --host 127.0.0.1 --port 8000 --path ./chroma-data"
            ) from exc
        return cls(None, client=client, **kwargs)

    @property
    def collection(self) -> Any:
        """The underlying chromadb collection (for anything this class does not wrap)."""
        return self._collection

    def __repr__(self) -> str:
        count = self.count() if self._finalizer.alive else "closed"
        return f"MultimodalStore({self.location!r}, model={self.model_name!r}, count={count})"

    def close(self) -> None:
        """Close the store: another process may open an embedded store once this one is closed.

        The garbage collector closes a store nobody refers to, and the lock ends with the process
        in any case; ``close()`` (or ``with MultimodalStore(path) as store:``) says when.
        """
        self._finalizer()

    def __enter__(self) -> MultimodalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        """One chromadb call, retried while a server cannot be reached (see :attr:`retry`)."""
        if not self._finalizer.alive:
            raise StoreError(f"the store at {self.location} is closed; open it again to use it")
        if what in _WRITES:
            self.generation += 1  # before the call: a write that fails half-way still counts
        return self.retry.call(operation, what, self.location)

    # -- writing -------------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Embed and store texts (captions, labels, documents); returns their ids.

        Default ids are content hashes: adding a text twice stores it once.
        """
        if isinstance(texts, str):
            raise InputTypeError("add_texts takes a list of strings; wrap one text in a list")
        items = list(texts)
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise InputTypeError(f"text {i} is {type(text).__name__}, not str")
        # lone surrogates (a file name's undecodable bytes) can be neither hashed as UTF-8 nor
        # stored: keep what the encoder embeds, with U+FFFD in their place
        items = [encodable_text(text) for text in items]
        metas = user_metadatas(metadatas, len(items))
        keys = list(ids) if ids is not None else [content_id("text", t) for t in items]
        if len(keys) != len(items):
            raise ConfigurationError(f"got {len(keys)} ids for {len(items)} texts")
        step = self.encoder.batch_size * 8
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            vectors = self.encoder.encode_texts(chunk)
            self.upsert_vectors(
                keys[start : start + step],
                vectors,
                [{**m, KIND: "text"} for m in metas[start : start + step]],
                documents=chunk,
            )
        return keys

    def add_images(
        self,
        images: Iterable[ImageInput],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Embed and store images (paths, PIL images, bytes, arrays, data URIs); returns their ids.

        Images stream through in batches of ``batch_size``; they are never all in memory. Default
        ids are content hashes: adding a picture twice stores it once. Each entry records the
        picture's fingerprint, size and EXIF date (:mod:`siglip_retriever.store.facts`);
        an image from a file records the file too, beside the other files the entry holds. To add
        the pictures of a folder, use :meth:`index_folder`, which skips unchanged files and
        reports unreadable ones.

        Raises:
            ImageLoadError: an image cannot be read; the message names it.
            ConfigurationError: ``images`` is a folder, or the lengths of the lists differ.
        """
        if isinstance(images, (str, os.PathLike)) and _is_dir(images):
            raise ConfigurationError(
                f"{os.fsdecode(images)} is a folder; add_images takes images. Index a folder with "
                "index_folder(folder), which skips unchanged files and reports unreadable ones"
            )
        items = image_list(images, what="add_images")
        metas = user_metadatas(metadatas, len(items))
        if ids is not None and len(ids) != len(items):
            raise ConfigurationError(f"got {len(ids)} ids for {len(items)} images")
        keys: list[str] = []
        size = self.encoder.batch_size
        preparer = self.encoder.image_preparer()
        for start in range(0, len(items), size):
            batch_keys, pictures, batch_meta, from_bytes = [], [], [], []
            for offset, item in enumerate(items[start : start + size]):
                key, picture, meta, read = image_entry(preparer, item, metas[start + offset])
                batch_keys.append(key if ids is None else ids[start + offset])
                pictures.append(picture)
                batch_meta.append(meta)
                from_bytes.extend(batch_keys[-1:] if read else [])
            keep_other_files(batch_meta, self.lookup(from_bytes), batch_keys)
            self.upsert_vectors(batch_keys, self.encoder.encode_images(pictures), batch_meta)
            keys.extend(batch_keys)
        return keys

    def index_folder(self, folder: str | os.PathLike[str], **options: Unpack[FolderOptions]) -> IndexReport:
        """Index the images of a folder incrementally, with the options of
        :func:`siglip_retriever.store.indexing.index_folder` (``recursive``, ``extensions``,
        ``remove_missing``, ``show_progress``)."""
        from siglip_retriever.store.indexing import index_folder

        return index_folder(self, folder, **options)

    def upsert_vectors(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32],
        metadatas: Sequence[Metadata],
        documents: Sequence[str] | None = None,
    ) -> None:
        """Write entries whose vectors are already computed, in chunks chromadb accepts.

        ``metadatas`` hold every key of the entry, this package's (``kind``, and ``uri`` and the
        file facts of images from files) included. An id given twice keeps its first entry.
        """
        if not ids:
            return
        first = {key: n for n, key in reversed(list(enumerate(ids)))}
        if len(first) < len(ids):  # the same content twice in one call: keep its first entry
            keep = sorted(first.values())
            ids = [ids[n] for n in keep]
            vectors = vectors[keep]
            metadatas = [metadatas[n] for n in keep]
            documents = [documents[n] for n in keep] if documents is not None else None
        limit = max(1, int(self._call("get_max_batch_size", self.client.get_max_batch_size)))
        uris = [m.get(URI) for m in metadatas]
        for start in range(0, len(ids), limit):
            end = start + limit
            kwargs: dict[str, Any] = {
                "ids": list(ids[start:end]),
                "embeddings": vectors[start:end],
                "metadatas": [entry_metadata(m) for m in metadatas[start:end]],
            }
            if documents is not None:
                kwargs["documents"] = list(documents[start:end])
            chunk_uris = uris[start:end]
            if any(u is not None for u in chunk_uris):
                kwargs["uris"] = [u or "" for u in chunk_uris]
            self._call("upsert", partial(self._collection.upsert, **kwargs))

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        """Set metadata keys of stored entries (the other keys are kept; a ``None`` value
        removes its key), without embedding them again."""
        if ids:
            metas = [
                {k: v if v is None else entry_metadata({k: v})[k] for k, v in m.items()} for m in metadatas
            ]
            self._call("update", lambda: self._collection.update(ids=list(ids), metadatas=metas))

    def update_file_facts(self, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        """Record new file facts (``uri``, modification time, size) on entries whose picture is
        unchanged: a file touched, or moved to another path."""
        if not ids:
            return
        uris = [str(m[URI]) for m in metadatas]
        metas = [entry_metadata(m) for m in metadatas]
        self._call("update", lambda: self._collection.update(ids=list(ids), metadatas=metas, uris=uris))

    def delete(self, ids: Sequence[str] | None = None, where: Mapping[str, Any] | None = None) -> None:
        """Delete entries by id, or every entry matching a metadata filter (``where={}``: all),
        and their words."""
        if ids is None and where is None:
            raise ConfigurationError("give ids or where; to empty the store use delete(where={}) ")
        if ids is not None and not ids:
            return
        if where is not None and not where:  # every entry this package writes has a kind
            where = {KIND: {"$in": [*VISUAL_KINDS, "text"]}}
        keys = list(ids) if ids is not None else None
        if where is not None and self.words_count():  # the words go by id: find the entries'
            get = partial(self._collection.get, ids=keys, where=_where(where), include=[])
            keys, where = list(self._call("get", get)["ids"]), None
            if not keys:
                return
        self._call("delete", lambda: self._collection.delete(ids=keys, where=_where(where)))
        if keys is not None:
            self._words.delete(keys)

    # -- reading -------------------------------------------------------------------------------

    def lookup(self, ids: Sequence[str]) -> dict[str, Metadata]:
        """``id -> metadata`` of those of ``ids`` that are stored (one read, no documents)."""
        if not ids:
            return {}
        found = self._call("get", lambda: self._collection.get(ids=list(ids), include=["metadatas"]))
        return {i: dict(m or {}) for i, m in zip(found["ids"], found["metadatas"], strict=True)}

    def count(self, kind: Kind | None = None, *, where: Mapping[str, Any] | None = None) -> int:
        """Number of entries, or of entries of one kind (``"image"``: pictures, PDF pages and video
        moments; ``"text"``), or matching a metadata filter (``where={"kind": "video"}``: the
        moments of videos)."""
        filters = [kind_filter(kind)] if kind is not None else []
        filters += [dict(where)] if where else []
        if not filters:
            return int(self._call("count", self._collection.count))
        combined = filters[0] if len(filters) == 1 else {"$and": filters}
        return sum(len(page["ids"]) for page in self._pages(where=combined, include=[]))

    def get(
        self,
        ids: Sequence[str] | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        include_vectors: bool = False,
    ) -> list[StoredItem]:
        """Entries by id (in the order asked, missing ids left out) and/or metadata filter.

        With ``include_vectors`` each item carries its stored vector (``item.vector``).
        """
        include = ["metadatas", "documents", "uris"] + (["embeddings"] if include_vectors else [])
        keys = list(ids) if ids is not None else None
        result = self._call(
            "get",
            lambda: self._collection.get(ids=keys, where=_where(where), limit=limit, include=include),
        )
        order = list(range(len(result["ids"])))
        if ids is not None:  # chromadb returns its own order: give back the order asked for
            position = {key: n for n, key in enumerate(result["ids"])}
            order = [position[key] for key in dict.fromkeys(ids) if key in position]
        vectors = result["embeddings"] if include_vectors else None
        return [
            stored_item(
                result["ids"][n],
                result["metadatas"][n],
                result["documents"][n],
                None if vectors is None else vectors[n],
            )
            for n in order
        ]

    def iter_metadata(self, where: Mapping[str, Any] | None = None) -> Iterator[tuple[str, Metadata]]:
        """Every ``(id, metadata)`` pair, read in pages (for incremental indexing of huge stores)."""
        for page in self._pages(where=where, include=["metadatas"]):
            yield from zip(page["ids"], page["metadatas"], strict=True)

    def _pages(
        self, *, where: Mapping[str, Any] | None, include: list[str], size: int = 5000
    ) -> Iterator[Any]:
        offset = 0
        while True:
            get = partial(self._collection.get, where=_where(where), include=include, limit=size)
            page = self._call("get", partial(get, offset=offset))
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def query(
        self,
        vector: npt.ArrayLike,
        *,
        k: int = 10,
        kind: Kind | None = None,
        where: Mapping[str, Any] | None = None,
        include_vectors: bool = False,
    ) -> list[tuple[StoredItem, float]]:
        """Nearest entries to a vector, as ``(item, cosine similarity)`` pairs, best first.

        This is the raw nearest-neighbour read; :class:`~siglip_retriever.search.Retriever`
        turns it into ranked hits with probabilities and thresholds. With ``include_vectors``
        each item carries its stored vector (``item.vector``), as diverse (MMR) searches need.
        """
        query = query_vector(vector, k, self.encoder.dim)
        if kind is not None and not where:
            # a metadata filter makes chromadb scan the collection (BENCHMARKS.md, "Why queries
            # were slow"): ask for the nearest entries of any kind first, filter here, and fall back
            # to the filtered query only when too few of the wanted kind came back
            wanted = max(4 * k, 32)
            hits = self._query(query, wanted, None, include_vectors)
            matching = [hit for hit in hits if hit[0].kind == kind]
            if len(matching) >= k or len(hits) < wanted:
                return matching[:k]
        filters = dict(where or {})
        if kind is not None:
            filters = {"$and": [kind_filter(kind), filters]} if filters else kind_filter(kind)
        return self._query(query, k, filters, include_vectors)

    def _query(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        where: Mapping[str, Any] | None,
        include_vectors: bool = False,
    ) -> list[tuple[StoredItem, float]]:
        include = ["metadatas", "documents", "distances"] + (["embeddings"] if include_vectors else [])
        result = self._call(
            "query",
            lambda: self._collection.query(
                query_embeddings=query, n_results=k, where=_where(where), include=include
            ),
        )
        ids = result["ids"][0]
        vectors = result["embeddings"][0] if include_vectors else [None] * len(ids)
        return [
            (stored_item(i, meta, doc, vector), 1.0 - float(distance))
            for i, meta, doc, distance, vector in zip(
                ids,
                result["metadatas"][0],
                result["documents"][0],
                result["distances"][0],
                vectors,
                strict=True,
            )
        ]

    def find_duplicates(
        self, *, max_bits: int = SAME_PICTURE_BITS, similar: float | None = None, neighbours: int = 10
    ) -> DuplicateGroups:
        """Groups of image files that hold the same picture (identical bytes, or fingerprints at
        most ``max_bits`` apart; with ``similar``, embeddings at least that cosine), the one to
        keep first; nothing is deleted. See :func:`siglip_retriever.store.duplicates.find_duplicates`."""
        from siglip_retriever.store.duplicates import find_duplicates

        return find_duplicates(self, max_bits=max_bits, similar=similar, neighbours=neighbours)


_WRITES = frozenset({"upsert", "add", "update", "delete"})
"""The chromadb calls that change a collection."""


def _is_dir(path: str | os.PathLike[str]) -> bool:
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


def _where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(where) if where else None
