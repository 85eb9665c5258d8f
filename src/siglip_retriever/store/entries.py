"""What one entry of a store is: its content-hash id, its kind, its metadata as chromadb keeps it,
and the :class:`StoredItem` that reads give back (the keys this package writes are named in
:mod:`siglip_retriever.store.metadata`).

Ids are content hashes (``img-`` + SHA-256 of an image file's bytes, ``txt-`` + SHA-256 of a
text), so adding the same image or text twice stores it once, and a rerun after a crash converges
to the same store.

Example:
    >>> from siglip_retriever.store.entries import content_id, entry_metadata
    >>> content_id("text", "a red circle")[:4]
    'txt-'
    >>> entry_metadata({"album": "2019", "rating": None, "tags": ["a"]})
    {'album': '2019', 'tags': "['a']"}
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from PIL.Image import Image as PILImage

from siglip_retriever.encoding.images import ImageInput, describe_source
from siglip_retriever.errors import ConfigurationError, ImageLoadError

if TYPE_CHECKING:
    from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage
from siglip_retriever.store.facts import prepare_picture
from siglip_retriever.store.files import StoredFile, files_metadata, stored_files
from siglip_retriever.store.metadata import (
    FACTS,
    FACTS_VERSION,
    KIND,
    PATHS,
    RESERVED_KEYS,
    URI,
    VISUAL_KINDS,
    public_metadata,
)

__all__ = [
    "Kind",
    "Metadata",
    "StoredItem",
    "content_id",
    "entry_metadata",
    "image_content_id",
    "image_entry",
    "kind_filter",
    "query_vector",
    "shown_metadata",
    "stored_item",
    "user_metadatas",
]

Kind = Literal["image", "text"]
Metadata = dict[str, Any]


@dataclass(frozen=True)
class StoredItem:
    """One entry of the store, as :meth:`MultimodalStore.get` returns it.

    Attributes:
        id: the entry's id (a content hash unless given).
        kind: ``"image"`` or ``"text"``.
        uri: the image's file path (images indexed from files), else ``None``.
        text: the stored text (text entries), else ``None``.
        metadata: the entry's metadata, this package's keys included (internal ones too:
            :meth:`result_metadata` leaves them out).
        vector: the stored vector, when it was asked for (``include_vectors=True``).

    Example:
        >>> stored = {"kind": "image", "uri": "/p/a.jpg", "facts": 3}
        >>> StoredItem("img-1", "image", "/p/a.jpg", None, stored).result_metadata()
        {'kind': 'image', 'uri': '/p/a.jpg', 'paths': ['/p/a.jpg']}
    """

    id: str
    kind: Kind
    uri: str | None
    text: str | None
    metadata: Metadata
    vector: npt.NDArray[np.float32] | None = None

    def result_metadata(self) -> Metadata:
        """The entry's metadata as results show it (:func:`shown_metadata`)."""
        return shown_metadata(self.metadata, self.kind)


def shown_metadata(metadata: Mapping[str, Any] | None, kind: str) -> Metadata:
    """An entry's metadata as results show it: its internal keys left out
    (:data:`~siglip_retriever.store.metadata.INTERNAL_KEYS`), and for an image from files
    ``paths`` as the list of the paths of every file holding it, primary first."""
    shown = public_metadata(metadata)
    files = stored_files(metadata) if kind == "image" else []
    if files:
        shown[PATHS] = [file.path for file in files]
    return shown


def kind_filter(kind: Kind) -> dict[str, Any]:
    """The chromadb ``where`` of the entries searched as ``kind``: pictures are images, PDF
    pages and figures, and video moments (:data:`~siglip_retriever.store.metadata.VISUAL_KINDS`).

    Example:
        >>> kind_filter("image"), kind_filter("text")
        ({'kind': {'$in': ['image', 'video']}}, {'kind': 'text'})
    """
    return {KIND: {"$in": list(VISUAL_KINDS)}} if kind == "image" else {KIND: kind}


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


def image_entry(
    preparer: ImagePreparer, item: ImageInput, metadata: Mapping[str, Any]
) -> tuple[str, PreparedImage, Metadata, bool]:
    """An image input as ``MultimodalStore.add_images`` stores it: its content id, its picture
    prepared for the model, its entry's metadata (``metadata``, its kind, its picture's facts,
    and the file it came from, if any), and whether its bytes were read (a file or bytes: only
    then can its id be that of an indexed file).

    Raises:
        ImageLoadError: the image cannot be read; the message names it.
    """
    key, data = image_content_id(item)
    try:
        picture, facts = prepare_picture(preparer, data if data is not None else item)
    except ImageLoadError as exc:  # name the input, not the bytes read from it
        raise ImageLoadError(describe_source(item), exc.reason) from exc
    meta = {**metadata, KIND: "image", **facts.metadata()}
    if isinstance(item, (str, os.PathLike)) and data is not None:
        meta.update(files_metadata([StoredFile.local(os.fsdecode(item))]), **{FACTS: FACTS_VERSION})
    return key, picture, meta, data is not None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def user_metadatas(metadatas: Sequence[Mapping[str, Any] | None] | None, count: int) -> list[Metadata]:
    """``count`` metadata dicts from what a caller passed (``None``: empty ones).

    Raises:
        ConfigurationError: the count differs, or a dict uses a key this package reserves.
    """
    if metadatas is None:
        return [{} for _ in range(count)]
    if len(metadatas) != count:
        raise ConfigurationError(f"got {len(metadatas)} metadatas for {count} items")
    result = []
    for meta in metadatas:
        clean = dict(meta or {})
        clash = RESERVED_KEYS & set(clean)
        if clash:
            raise ConfigurationError(f"metadata keys {sorted(clash)} are reserved by siglip-retriever")
        result.append(clean)
    return result


def entry_metadata(meta: Mapping[str, Any]) -> Metadata:
    """Metadata as chromadb stores it: str, int, float or bool values; ``None`` dropped, the rest
    written as text."""
    out: Metadata = {}
    for key, value in meta.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return out


def query_vector(vector: npt.ArrayLike, k: int, dim: int) -> npt.NDArray[np.float32]:
    """A query's vector as chromadb takes it (one row), after checking ``k`` and its size.

    Raises:
        ConfigurationError: ``k`` is not a positive integer, or the vector has not ``dim`` values.

    Example:
        >>> query_vector([1.0, 0.0], 3, 2).shape
        (1, 2)
    """
    if not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"k must be a positive integer, not {k!r}")
    query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    if query.shape[1] != dim:
        raise ConfigurationError(f"query vector has {query.shape[1]} values, the store {dim}")
    return query


def stored_item(
    item_id: str,
    meta: Mapping[str, Any] | None,
    document: str | None,
    vector: npt.ArrayLike | None = None,
) -> StoredItem:
    """A :class:`StoredItem` from what chromadb returns for one entry."""
    metadata = dict(meta or {})
    kind: Kind = "text" if metadata.get(KIND) == "text" else "image"
    array = None if vector is None else np.asarray(vector, dtype=np.float32)
    return StoredItem(
        id=item_id, kind=kind, uri=metadata.get(URI), text=document, metadata=metadata, vector=array
    )
