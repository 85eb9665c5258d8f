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

Ids are content hashes (``img-`` + SHA-256 of the file's bytes, ``txt-`` + SHA-256 of the text),
so adding the same image or text twice stores it once, and a rerun after a crash converges to the
same store.

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

import hashlib
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from PIL.Image import Image as PILImage

from siglip_retriever._version import __version__
from siglip_retriever.encoding.images import ImageInput, describe_source
from siglip_retriever.encoding.scores import ScoreKind
from siglip_retriever.encoding.texts import encodable_text
from siglip_retriever.errors import (
    ConfigurationError,
    ImageLoadError,
    InputTypeError,
    ModelMismatchError,
    ServerUnavailableError,
    StoreError,
)
from siglip_retriever.retry import RetryPolicy

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.indexing import IndexReport
    from siglip_retriever.locking import StoreLease

__all__ = ["DEFAULT_COLLECTION", "DEFAULT_PATH", "MultimodalStore", "StoredItem", "content_id"]

DEFAULT_PATH = "siglip-store"
"""Where an embedded store lives when no path is given (relative to the working directory)."""

DEFAULT_COLLECTION = "siglip"

Kind = Literal["image", "text"]
Metadata = dict[str, Any]
T = TypeVar("T")

# metadata keys this package writes on entries (user metadata may not use them)
KIND, URI, MTIME, SIZE = "kind", "uri", "mtime_ns", "file_size"
_RESERVED = {KIND, URI, MTIME, SIZE}
# collection metadata keys
_META_MODEL, _META_DIM = "siglip_model", "siglip_dim"
_META_SCALE, _META_BIAS, _META_SCORE = "siglip_logit_scale", "siglip_logit_bias", "siglip_score_kind"


def content_id(kind: Kind, payload: bytes | str) -> str:
    """The id of an entry: its kind and the SHA-256 of its content (32 hex digits kept)."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return f"{'img' if kind == 'image' else 'txt'}-{hashlib.sha256(data).hexdigest()[:32]}"


def image_content_id(image: ImageInput) -> tuple[str, bytes | None]:
    """Content id of an image input, and its encoded bytes when it came from a file or bytes."""
    if isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        path = Path(text if isinstance(text, str) else os.fsdecode(text))
        if not text.startswith("data:") and _is_file(path):
            data = path.read_bytes()
            return content_id("image", data), data
        return content_id("image", str(text)), None
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        return content_id("image", data), data
    if isinstance(image, np.ndarray):
        header = f"{image.shape}{image.dtype}".encode()
        return content_id("image", header + np.ascontiguousarray(image).tobytes()), None
    if isinstance(image, PILImage):
        header = f"{image.mode}{image.size}".encode()
        return content_id("image", header + image.tobytes()), None
    if hasattr(image, "read"):
        data = image.read()
        return content_id("image", data), data
    raise ImageLoadError(describe_source(image), "unsupported input type")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class StoredItem:
    """One entry of the store, as :meth:`MultimodalStore.get` returns it."""

    id: str
    kind: Kind
    uri: str | None
    text: str | None
    metadata: Metadata


class MultimodalStore:
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
            ``None`` waits as long as it takes. See :mod:`siglip_retriever.locking`.
        retries, retry_backoff: a call that cannot reach a Chroma server is tried ``retries``
            more times, first after ``retry_backoff`` seconds, each wait twice the last
            (:class:`~siglip_retriever.retry.RetryPolicy`).

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
        self.path: Path | None = None
        if client is None:
            if path is None:
                raise ConfigurationError(
                    "give a path, a client, or use MultimodalStore.in_memory() / .connect()"
                )
            self.path = Path(path).expanduser().resolve()
            if self.path.exists() and not self.path.is_dir():
                raise ConfigurationError(f"store path {self.path} exists and is not a directory")
            self.path.mkdir(parents=True, exist_ok=True)
        lock_dir = self.path or _persist_directory(client)
        lease = None
        if lock_dir is not None:  # before chromadb reads the directory: see siglip_retriever.locking
            from siglip_retriever.locking import acquire

            lease = acquire(lock_dir, lock_timeout)
        owned = client is None
        try:
            if client is None:
                client = chromadb.PersistentClient(path=str(self.path), settings=_settings())
            self.client = client
            self.collection_name = collection
            self.location = str(self.path) if self.path else _describe_client(client)
            existing = self._existing_metadata()
            self.encoder = self._make_encoder(existing, model, encoder, device, dtype, batch_size)
            self.model_name = self.encoder.preset.reference
            if existing is not None:
                self._check_model(existing)
            self._collection = self._open_collection(create=existing is None)
        except BaseException:
            _release(client if owned else None, lease)
            raise
        # close() or the garbage collector closes what this store opened and ends its lock
        self._finalizer = weakref.finalize(self, _release, client if owned else None, lease)
        self.generation = 0
        """Writes made through this store object so far (a query cache compares it)."""
        self.sole_writer = lease is not None
        """Whether no other process can write to this store while it is open (an embedded store
        holds its directory's lock): only then can query results be cached (see ``Retriever``)."""
        meta = self._collection.metadata or {}
        self.logit_scale = float(meta.get(_META_SCALE, self.encoder.logit_scale))
        self.logit_bias = float(meta.get(_META_BIAS, self.encoder.logit_bias))
        self.score_kind: ScoreKind = meta.get(_META_SCORE, self.encoder.score_kind)

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
        store = cls(None, client=chromadb.EphemeralClient(settings=_settings()), collection=name, **kwargs)
        store.sole_writer = collection is None  # a named one may be shared with other objects
        return store

    @classmethod
    def connect(
        cls, host: str = "localhost", port: int = 8000, *, ssl: bool = False, **kwargs: Any
    ) -> MultimodalStore:
        """A store on a Chroma server (``chroma run --host H --port P --path DIR``)."""
        import chromadb

        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_settings())
            client.heartbeat()
        except Exception as exc:
            raise ServerUnavailableError(
                f"no Chroma server answers at {'https' if ssl else 'http'}://{host}:{port} ({exc}). "
                "Start one with: chroma run --host 127.0.0.1 --port 8000 --path ./chroma-data"
            ) from exc
        return cls(None, client=client, **kwargs)

    # -- setup ---------------------------------------------------------------------------------

    def _existing_metadata(self) -> Mapping[str, Any] | None:
        try:
            names = [getattr(c, "name", c) for c in self.client.list_collections()]
        except Exception as exc:
            raise ServerUnavailableError(f"cannot list collections at {self.location}: {exc}") from exc
        if self.collection_name not in names:
            return None
        from siglip_retriever.integrations import chroma as _register  # noqa: F401 - registers the EF

        collection = self.client.get_collection(self.collection_name)
        return collection.metadata or {}

    @staticmethod
    def _make_encoder(
        existing: Mapping[str, Any] | None,
        model: str | os.PathLike[str] | None,
        encoder: SiglipEncoder | None,
        device: str,
        dtype: str,
        batch_size: int,
    ) -> SiglipEncoder:
        from siglip_retriever.encoding.encoder import SiglipEncoder

        if encoder is not None:
            if model is not None:
                raise ConfigurationError("pass either model= or encoder=, not both")
            return encoder
        if model is None and existing is not None and _META_MODEL in existing:
            model = str(existing[_META_MODEL])
        return SiglipEncoder(model, device=device, dtype=dtype, batch_size=batch_size)

    def _check_model(self, existing: Mapping[str, Any]) -> None:
        built_with = existing.get(_META_MODEL)
        if built_with is None:
            raise ModelMismatchError(
                f"collection {self.collection_name!r} at {self.location} was not made by "
                "siglip-retriever (no model recorded); use another collection name"
            )
        dim = int(existing.get(_META_DIM, -1))
        if built_with != self.model_name or dim != self.encoder.dim:
            raise ModelMismatchError(
                f"the store at {self.location} (collection {self.collection_name!r}) was built with "
                f"model {built_with!r} ({dim}-d vectors), not {self.model_name!r} "
                f"({self.encoder.dim}-d). Open it with model={built_with!r} (or no model), or use "
                "another path or collection for the new model."
            )

    def _open_collection(self, *, create: bool) -> Any:
        from siglip_retriever.integrations.chroma import SiglipEmbeddingFunction

        function = SiglipEmbeddingFunction(encoder=self.encoder)
        if not create:
            return self.client.get_collection(self.collection_name, embedding_function=function)
        metadata = {
            _META_MODEL: self.model_name,
            _META_DIM: self.encoder.dim,
            _META_SCALE: self.encoder.logit_scale,
            _META_BIAS: self.encoder.logit_bias,
            _META_SCORE: self.encoder.score_kind,
            "siglip_retriever_version": __version__,
        }
        return self.client.get_or_create_collection(
            self.collection_name,
            embedding_function=function,
            metadata=metadata,
            configuration={"hnsw": {"space": "cosine"}},
        )

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
        metas = _metadatas(metadatas, len(items))
        keys = list(ids) if ids is not None else [content_id("text", t) for t in items]
        if len(keys) != len(items):
            raise ConfigurationError(f"got {len(keys)} ids for {len(items)} texts")
        step = self.encoder.batch_size * 8
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            vectors = self.encoder.encode_texts(chunk)
            self._upsert(
                keys[start : start + step],
                vectors,
                [{**m, KIND: "text"} for m in metas[start : start + step]],
                documents=chunk,
            )
        return keys

    def add_images(
        self,
        images: Iterable[ImageInput] | str | os.PathLike[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
        *,
        recursive: bool = True,
        extensions: Iterable[str] | None = None,
    ) -> list[str]:
        """Embed and store images; returns their ids.

        ``images`` is a list of image inputs (paths, PIL images, bytes, arrays, data URIs), or a
        folder, which is indexed with :meth:`index_folder` (``recursive``, ``extensions``).
        Images stream through in batches of ``batch_size``; they are never all in memory.

        Raises:
            ImageLoadError: an image cannot be read (for folders, bad files are reported and
                skipped instead: see :meth:`index_folder`).
        """
        if isinstance(images, (str, os.PathLike)) and Path(images).is_dir():
            if metadatas is not None or ids is not None:
                raise ConfigurationError("metadatas and ids are not accepted with a folder")
            report = self.index_folder(images, recursive=recursive, extensions=extensions)
            return [entry.id for entry in report.indexed]
        if isinstance(images, (str, bytes, os.PathLike)) or hasattr(images, "mode"):
            raise InputTypeError("add_images takes a list of images or a folder; wrap one image in a list")
        items = list(images)
        metas = _metadatas(metadatas, len(items))
        if ids is not None and len(ids) != len(items):
            raise ConfigurationError(f"got {len(ids)} ids for {len(items)} images")
        keys: list[str] = []
        size = self.encoder.batch_size
        for start in range(0, len(items), size):
            batch_keys, pictures, batch_meta = [], [], []
            for offset, item in enumerate(items[start : start + size]):
                key, data = image_content_id(item)
                if ids is not None:
                    key = ids[start + offset]
                try:
                    picture = self.encoder.load_image(data if data is not None else item)
                except ImageLoadError as exc:  # name the input, not the bytes read from it
                    raise ImageLoadError(describe_source(item), exc.reason) from exc
                meta = {**metas[start + offset], KIND: "image", "width": picture.width}
                meta["height"] = picture.height
                if isinstance(item, (str, os.PathLike)) and data is not None:
                    meta.update(file_metadata(Path(os.fsdecode(item))))
                batch_keys.append(key)
                pictures.append(picture)
                batch_meta.append(meta)
            self._upsert(batch_keys, self.encoder.encode_images(pictures), batch_meta)
            keys.extend(batch_keys)
        return keys

    def index_folder(
        self,
        folder: str | os.PathLike[str],
        *,
        recursive: bool = True,
        extensions: Iterable[str] | None = None,
        remove_missing: bool = False,
        show_progress: bool = False,
    ) -> IndexReport:
        """Index the images of a folder incrementally; see :func:`siglip_retriever.indexing.index_folder`."""
        from siglip_retriever.indexing import index_folder

        return index_folder(
            self,
            folder,
            recursive=recursive,
            extensions=extensions,
            remove_missing=remove_missing,
            show_progress=show_progress,
        )

    def _upsert(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32],
        metadatas: Sequence[Metadata],
        documents: Sequence[str] | None = None,
    ) -> None:
        """Write in chunks within chromadb's maximum batch size."""
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
                "metadatas": [_clean(m) for m in metadatas[start:end]],
            }
            if documents is not None:
                kwargs["documents"] = list(documents[start:end])
            chunk_uris = uris[start:end]
            if any(u is not None for u in chunk_uris):
                kwargs["uris"] = [u or "" for u in chunk_uris]
            self._call("upsert", partial(self._collection.upsert, **kwargs))

    def delete(self, ids: Sequence[str] | None = None, where: Mapping[str, Any] | None = None) -> None:
        """Delete entries by id, or every entry matching a metadata filter."""
        if ids is None and where is None:
            raise ConfigurationError("give ids or where; to empty the store use delete(where={}) ")
        if ids is not None and not ids:
            return
        if where is not None and not where:  # every entry this package writes has a kind
            where = {KIND: {"$in": ["image", "text"]}}
        keys = list(ids) if ids is not None else None
        self._call("delete", lambda: self._collection.delete(ids=keys, where=_where(where)))

    def _update_files(self, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        """Record new file facts (uri, mtime, size) on entries whose picture is unchanged."""
        if not ids:
            return
        uris = [str(m[URI]) for m in metadatas]
        metas = [_clean(m) for m in metadatas]
        self._call("update", lambda: self._collection.update(ids=list(ids), metadatas=metas, uris=uris))

    def _existing_ids(self, ids: Sequence[str]) -> dict[str, Metadata]:
        """id -> metadata of those of ``ids`` that are stored."""
        if not ids:
            return {}
        found = self._call("get", lambda: self._collection.get(ids=list(ids), include=["metadatas"]))
        return {i: dict(m or {}) for i, m in zip(found["ids"], found["metadatas"], strict=True)}

    # -- reading -------------------------------------------------------------------------------

    def count(self, kind: Kind | None = None) -> int:
        """Number of entries, or of entries of one kind (``"image"`` or ``"text"``)."""
        if kind is None:
            return int(self._call("count", self._collection.count))
        return sum(len(page["ids"]) for page in self._pages(where={KIND: kind}, include=[]))

    def get(
        self,
        ids: Sequence[str] | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        include_vectors: bool = False,
    ) -> list[StoredItem] | tuple[list[StoredItem], npt.NDArray[np.float32]]:
        """Entries by id (in the order asked, missing ids left out) and/or metadata filter.

        With ``include_vectors`` the result is ``(items, vectors)``.
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
        items = [_item(result["ids"][n], result["metadatas"][n], result["documents"][n]) for n in order]
        if include_vectors:
            vectors = np.asarray(result["embeddings"], dtype=np.float32).reshape(-1, self.encoder.dim)
            return items, vectors[order]
        return items

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
    ) -> list[tuple[StoredItem, float]]:
        """Nearest entries to a vector, as ``(item, cosine similarity)`` pairs, best first."""
        if not isinstance(k, int) or k < 1:
            raise ConfigurationError(f"k must be a positive integer, not {k!r}")
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != self.encoder.dim:
            raise ConfigurationError(
                f"query vector has {query.shape[1]} values, the store {self.encoder.dim}"
            )
        if kind is not None and not where:
            # a metadata filter makes chromadb scan the collection (about 100x slower on 100k
            # entries): ask for the nearest entries of any kind first, filter here, and fall back
            # to the filtered query only when too few of the wanted kind came back
            wanted = max(4 * k, 32)
            hits = self._query(query, wanted, None)
            matching = [hit for hit in hits if hit[0].kind == kind]
            if len(matching) >= k or len(hits) < wanted:
                return matching[:k]
        filters = dict(where or {})
        if kind is not None:
            filters = {"$and": [{KIND: kind}, filters]} if filters else {KIND: kind}
        return self._query(query, k, filters)

    def _query(
        self, query: npt.NDArray[np.float32], k: int, where: Mapping[str, Any] | None
    ) -> list[tuple[StoredItem, float]]:
        result = self._call(
            "query",
            lambda: self._collection.query(
                query_embeddings=query,
                n_results=k,
                where=_where(where),
                include=["metadatas", "documents", "distances"],
            ),
        )
        return [
            (_item(i, meta, doc), 1.0 - float(distance))
            for i, meta, doc, distance in zip(
                result["ids"][0],
                result["metadatas"][0],
                result["documents"][0],
                result["distances"][0],
                strict=True,
            )
        ]


_WRITES = frozenset({"upsert", "add", "update", "delete"})
"""The chromadb calls that change a collection."""


def file_metadata(path: Path) -> Metadata:
    """What incremental indexing compares: the path, modification time and size of a file."""
    stat = path.stat()
    return {URI: str(path.resolve()), MTIME: int(stat.st_mtime_ns), SIZE: int(stat.st_size)}


def _settings() -> Any:
    import chromadb

    return chromadb.Settings(anonymized_telemetry=False)


def _persist_directory(client: Any) -> Path | None:
    """The directory of an embedded (persistent) chromadb client, ``None`` for other clients."""
    settings = getattr(client, "get_settings", lambda: None)()
    if settings is None or not getattr(settings, "is_persistent", False):
        return None
    if getattr(settings, "chroma_server_host", None):
        return None
    directory = getattr(settings, "persist_directory", None)
    return Path(directory).resolve() if directory else None


def _release(client: Any, lease: StoreLease | None) -> None:
    """Close a client this store opened, then end its share of the directory's lock."""
    try:
        if client is not None:
            client.close()
    finally:
        if lease is not None:
            lease.release()


def _describe_client(client: Any) -> str:
    settings = getattr(client, "get_settings", lambda: None)()
    host = getattr(settings, "chroma_server_host", None)
    if host:
        return f"http://{host}:{getattr(settings, 'chroma_server_http_port', '')}"
    return f"{type(client).__name__}"


def _metadatas(metadatas: Sequence[Mapping[str, Any] | None] | None, count: int) -> list[Metadata]:
    if metadatas is None:
        return [{} for _ in range(count)]
    if len(metadatas) != count:
        raise ConfigurationError(f"got {len(metadatas)} metadatas for {count} items")
    result = []
    for meta in metadatas:
        clean = dict(meta or {})
        clash = _RESERVED & set(clean)
        if clash:
            raise ConfigurationError(f"metadata keys {sorted(clash)} are reserved by siglip-retriever")
        result.append(clean)
    return result


def _clean(meta: Metadata) -> Metadata:
    """chromadb metadata values are str, int, float or bool; drop None, stringify the rest."""
    out: Metadata = {}
    for key, value in meta.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return out


def _where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(where) if where else None


def _item(item_id: str, meta: Mapping[str, Any] | None, document: str | None) -> StoredItem:
    metadata = dict(meta or {})
    kind: Kind = "text" if metadata.get(KIND) == "text" else "image"
    return StoredItem(id=item_id, kind=kind, uri=metadata.get(URI), text=document, metadata=metadata)
