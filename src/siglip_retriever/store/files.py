"""The files that hold an entry's bytes: :class:`StoredFile`, and how an entry records them.

An image entry records every file whose bytes are its content, the primary one first: that one
under ``uri``, ``mtime_ns`` and ``file_size``, and all of them as JSON text under ``paths``
(chromadb metadata values are scalars; the keys are named in
:mod:`siglip_retriever.store.metadata`). Indexing, Ray indexing, duplicates, search hits and the
web app all read and write them as :class:`StoredFile` values, through :func:`stored_files` and
:func:`files_metadata`.

Example:
    >>> from siglip_retriever.store.files import StoredFile, files_metadata, stored_files
    >>> files = [StoredFile("/p/a.jpg", 9, 5), StoredFile("/q/a.jpg", 9, 6)]
    >>> meta = files_metadata(files)
    >>> meta["uri"], stored_files(meta) == files
    ('/p/a.jpg', True)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.metadata import MTIME, PATHS, SIZE, URI
from siglip_retriever.store.scanning import file_uri

__all__ = ["StoredFile", "files_metadata", "keep_other_files", "paths_value", "stored_files"]

_PATH, _MTIME, _SIZE = "path", "mtime_ns", "size"  # the fields of one file in the ``paths`` JSON


@dataclass(frozen=True)
class StoredFile:
    """One file whose bytes are an entry's content, as the entry records it.

    Attributes:
        path: the file, as indexing names it (an absolute path, or a URI such as ``s3://...``).
        size: its size in bytes when it was last indexed (``-1``: not known).
        mtime_ns: its modification time then, in nanoseconds since the epoch (``-1``: not
            known). Indexing skips a file whose size and time are those recorded.

    Example:
        >>> file = StoredFile("/photos/a.jpg", 1024, 1_500_000_000_000_000_000)
        >>> file.path, file.modified
        ('/photos/a.jpg', 1500000000.0)
    """

    path: str
    size: int
    mtime_ns: int

    @property
    def modified(self) -> float | None:
        """The modification time in seconds since the epoch (``None``: not known)."""
        return self.mtime_ns / 1e9 if self.mtime_ns >= 0 else None

    @classmethod
    def local(cls, path: str | Path) -> StoredFile:
        """A local file as it is now (its absolute path, as indexing writes it down).

        Raises:
            OSError: the file cannot be examined.
        """
        stat = Path(path).stat()
        return cls(file_uri(path), int(stat.st_size), int(stat.st_mtime_ns))


def stored_files(metadata: Mapping[str, Any] | None) -> list[StoredFile]:
    """Every file that holds an entry's content, the primary one (its ``uri``) first: the
    ``paths`` JSON, or for entries written before it (or with it unreadable) the ``uri`` alone;
    ``[]`` for entries not indexed from files.

    Example:
        >>> stored_files({"uri": "/p/a.jpg", "mtime_ns": 5, "file_size": 9})
        [StoredFile(path='/p/a.jpg', size=9, mtime_ns=5)]
        >>> stored_files({"kind": "text"})
        []
    """
    meta = metadata or {}
    files = _parse_paths(meta.get(PATHS))
    if files:
        return files
    uri = meta.get(URI)
    if not uri:
        return []
    return [StoredFile(str(uri), _int(meta.get(SIZE)), _int(meta.get(MTIME)))]


def _parse_paths(value: Any) -> list[StoredFile]:
    if not isinstance(value, str):
        return []
    try:
        items = json.loads(value)
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [
        StoredFile(item[_PATH], _int(item.get(_SIZE)), _int(item.get(_MTIME)))
        for item in items
        if isinstance(item, dict) and isinstance(item.get(_PATH), str) and item[_PATH]
    ]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else -1


def paths_value(files: Sequence[StoredFile]) -> str:
    """The ``paths`` metadata value of ``files``: JSON text, in order.

    Example:
        >>> paths_value([StoredFile("/p/a.jpg", 9, 5)])
        '[{"path": "/p/a.jpg", "mtime_ns": 5, "size": 9}]'
    """
    return json.dumps(
        [{_PATH: file.path, _MTIME: int(file.mtime_ns), _SIZE: int(file.size)} for file in files],
        ensure_ascii=False,
    )


def files_metadata(files: Sequence[StoredFile]) -> dict[str, Any]:
    """What an entry records of its files: the primary one (the first: ``uri``, ``mtime_ns``,
    ``file_size``) and all of them (``paths``).

    Raises:
        ConfigurationError: ``files`` is empty.
    """
    if not files:
        raise ConfigurationError("an entry's files cannot be empty: delete the entry instead")
    primary = files[0]
    return {
        URI: primary.path,
        MTIME: int(primary.mtime_ns),
        SIZE: int(primary.size),
        PATHS: paths_value(files),
    }


def keep_other_files(
    metas: Sequence[MutableMapping[str, Any]], stored: Mapping[str, Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """Entries written again keep the files they hold: the files of ``metas[n]`` (entry
    ``keys[n]``) join those ``stored`` records for it (sorted, so the first is the entry's
    ``uri``). ``metas`` are updated in place.

    ``MultimodalStore.add_images`` looks up only the ids of images read from bytes, the only ones
    that can have the id of an indexed file (with chromadb 1.5.9, a read between two writes of an
    in-memory collection made its next query with a large ``k`` return fewer entries than it
    holds).

    Example:
        >>> meta = files_metadata([StoredFile("/q/a.jpg", 9, 6)])
        >>> keep_other_files([meta], {"img-1": files_metadata([StoredFile("/p/a.jpg", 9, 5)])}, ["img-1"])
        >>> [file.path for file in stored_files(meta)]
        ['/p/a.jpg', '/q/a.jpg']
    """
    for key, meta in zip(keys, metas, strict=True):
        held = stored_files(stored.get(key))
        if not held:
            continue
        merged = {file.path: file for file in [*held, *stored_files(meta)]}
        meta.update(files_metadata([merged[path] for path in sorted(merged)]))
