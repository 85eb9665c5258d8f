"""Files on any filesystem Ray Data reads: URIs (``s3://``, ``gs://``, ``hdfs://``, ``file://``)
and explicit :class:`pyarrow.fs.FileSystem` objects.

:func:`resolve_source` turns what the caller gave (a URI, or a path with ``filesystem=``) into a
:class:`RemoteSource`: a picklable filesystem that Ray tasks read from, the path on it, and the
URI every file is stored and reported under (``s3://bucket/photos/a.jpg``). Listing, file facts
(size, modification time) and reading all go through the filesystem, never through ``os``.
Plain local paths are not handled here: they keep the local code path.

Example:
    >>> from siglip_retriever.store.scanning import is_uri
    >>> is_uri("s3://bucket/photos"), is_uri("file:///data/photos"), is_uri("/data/photos")
    (True, True, False)
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.plan import FileFacts
from siglip_retriever.store.report import FailedFile, IgnoredFile
from siglip_retriever.store.scanning import ignored_reason, is_uri, parse_extensions

__all__ = ["RemoteSource", "is_uri", "read_bytes", "resolve_source"]

# filesystem type -> URI scheme, for files of an explicit filesystem
_SCHEMES = {"local": "file", "s3": "s3", "gcs": "gs", "hdfs": "hdfs"}


def read_bytes(filesystem: Any, path: str) -> bytes:
    """The bytes of the file at ``path`` on a pyarrow ``filesystem`` (raises ``OSError``).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from pyarrow.fs import LocalFileSystem
        >>> file = Path(tempfile.mkdtemp()) / "a.png"
        >>> _ = file.write_bytes(b"abc")
        >>> read_bytes(LocalFileSystem(), str(file))
        b'abc'
    """
    with filesystem.open_input_stream(path) as stream:
        return bytes(stream.read())


@dataclass
class RemoteSource:
    """What to index on a pyarrow filesystem.

    Attributes:
        filesystem: the ``pyarrow.fs.FileSystem`` (pickled to the Ray tasks that read).
        paths: paths on ``filesystem``: one folder or file, or (a list given) several files.
        listed: whether ``paths`` came as a list of files (any extension, no scan).
        prefix: what turns a path on ``filesystem`` into the URI the store keeps
            (``prefix + path``), when the caller gave a URI; empty: derived from the filesystem.
    """

    filesystem: Any
    paths: list[str]
    listed: bool
    prefix: str = ""

    def uri(self, path: str) -> str:
        """The URI of ``path`` on this source's filesystem, as the store and reports keep it.

        Example:
            >>> from pyarrow.fs import LocalFileSystem, SubTreeFileSystem
            >>> RemoteSource(LocalFileSystem(), [], False, "s3://").uri("bucket/a.jpg")
            's3://bucket/a.jpg'
            >>> RemoteSource(SubTreeFileSystem("/data", LocalFileSystem()), [], False).uri("a.jpg")
            'file:///data/a.jpg'
        """
        if self.prefix:
            return self.prefix + path
        return _uri_on(self.filesystem, path)

    def exists(self, uri: str) -> bool:
        """Whether the file a stored ``uri`` names is still there (unknown filesystems: yes).

        Local indexing treats a stored picture whose file is gone as moved; this is the same
        check for URIs of this source, and for plain local paths.
        """
        if not is_uri(uri):
            return os.path.exists(uri)
        import pyarrow.fs as pafs

        base = self.uri("")
        subtree = isinstance(self.filesystem, pafs.SubTreeFileSystem)
        if subtree:
            base += "/"
        if not base or not uri.startswith(base):
            return True  # another filesystem: it cannot be checked, so it is not taken over
        try:
            info = self.filesystem.get_file_info(uri[len(base) :])
        except OSError:
            return True
        return bool(info.type != pafs.FileType.NotFound)

    def root_uri(self) -> str:
        """The URI reports name as their ``folder``: the folder, or the files' common folder."""
        if not self.paths:
            return ""
        if self.listed or len(self.paths) > 1:
            parents = [posixpath.dirname(p) for p in self.paths]
            absolute = [p.startswith("/") for p in parents]
            if all(absolute) or not any(absolute):
                return self.uri(posixpath.commonpath(parents))
            return ""
        return self.uri(self.paths[0])

    def scan(
        self,
        *,
        recursive: bool = True,
        extensions: Iterable[str] | None = None,
        skip: str | os.PathLike[str] | None = None,
    ) -> tuple[list[FileFacts], list[FailedFile], list[IgnoredFile], bool]:
        """The files to index, in local scanning's order, those that cannot be read, those left
        out for their extension, and whether a folder was scanned.

        A folder is listed (recursively unless told otherwise) for files with one of
        ``extensions`` (default: the image extensions local scanning uses); the others are
        ignored, with what they are; the files under the local folder ``skip`` (a store's own,
        inside a ``file://`` folder it indexes) are left out unreported. A single file or a list
        of files is taken as it is.

        Raises:
            ConfigurationError: the one path given is neither a folder nor a file, or the
                folder cannot be listed.
        """
        import pyarrow.fs as pafs

        fs = self.filesystem
        failed: list[FailedFile] = []
        if not self.listed and len(self.paths) == 1:
            root = self.paths[0]
            info = _info(fs, root)
            if info.type == pafs.FileType.Directory:
                listed, ignored = self._list_folder(root, recursive, extensions, skip)
                return listed, failed, ignored, True
            if info.type != pafs.FileType.File:
                raise ConfigurationError(f"{self.uri(root)} is neither a folder nor a file")
        files: list[FileFacts] = []
        try:
            infos = fs.get_file_info(self.paths)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {self.root_uri() or 'the files'}: {exc}") from exc
        for path, info in zip(self.paths, infos, strict=True):
            if info.type == pafs.FileType.File:
                files.append(_remote_file(self, path, info))
            elif info.type == pafs.FileType.NotFound:
                failed.append(FailedFile(self.uri(path), "cannot read file: No such file or directory"))
            else:
                failed.append(FailedFile(self.uri(path), "cannot read file: not a file"))
        return files, failed, [], False

    def _list_folder(
        self,
        root: str,
        recursive: bool,
        extensions: Iterable[str] | None,
        skip: str | os.PathLike[str] | None,
    ) -> tuple[list[FileFacts], list[IgnoredFile]]:
        import pyarrow.fs as pafs

        wanted = parse_extensions(extensions)
        selector = pafs.FileSelector(root, recursive=recursive)
        try:
            infos = self.filesystem.get_file_info(selector)
        except OSError as exc:
            raise ConfigurationError(f"cannot list {self.uri(root)}: {exc}") from exc
        start = len(root.rstrip("/")) + 1 if root.rstrip("/") else 0
        own = f"file://{Path(skip).resolve().as_posix()}/" if skip is not None else None
        files = sorted(
            (
                info
                for info in infos
                if info.type == pafs.FileType.File and not (own and self.uri(info.path).startswith(own))
            ),
            key=lambda info: _walk_order(info.path[start:]),
        )
        found = [info for info in files if posixpath.splitext(info.path)[1].lower() in wanted]
        ignored = [
            IgnoredFile(self.uri(info.path), ignored_reason(info.base_name, wanted))
            for info in files
            if posixpath.splitext(info.path)[1].lower() not in wanted
        ]
        return [_remote_file(self, info.path, info) for info in found], ignored


def resolve_source(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], filesystem: Any = None
) -> RemoteSource | None:
    """The :class:`RemoteSource` for ``source``, or ``None`` for plain local paths.

    Args:
        source: a URI (``s3://bucket/photos``, ``file:///data/photos``), a path on
            ``filesystem``, or a list of either (files).
        filesystem: a ``pyarrow.fs.FileSystem`` (``S3FileSystem(...)``, ``SubTreeFileSystem``);
            ``None``: the one the URI names (``pyarrow.fs.FileSystem.from_uri``).

    Raises:
        ConfigurationError: a list of URIs on different filesystems, or URIs mixed with local
            paths without ``filesystem``, or ``filesystem`` is not a pyarrow filesystem.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> source = resolve_source("file://" + folder)
        >>> source.filesystem.type_name, source.paths == [folder], source.uri(folder) == "file://" + folder
        ('local', True, True)
        >>> resolve_source(folder) is None
        True
    """
    listed = not isinstance(source, (str, os.PathLike))
    items = [os.fspath(source)] if isinstance(source, (str, os.PathLike)) else [os.fspath(s) for s in source]
    uris = [is_uri(s) for s in items]
    if filesystem is None and not any(uris):
        return None
    import pyarrow.fs as pafs

    if filesystem is not None:
        if not isinstance(filesystem, pafs.FileSystem):
            raise ConfigurationError(
                f"filesystem must be a pyarrow.fs.FileSystem (S3FileSystem, SubTreeFileSystem, ...), "
                f"not {type(filesystem).__name__}"
            )
        if not any(uris):
            return RemoteSource(filesystem, items, listed)
    if not all(uris):
        raise ConfigurationError("mix of URIs and local paths; give one kind per call")
    origins = {_origin(s) for s in items}
    if len(origins) > 1:
        raise ConfigurationError(f"URIs on several filesystems ({', '.join(sorted(origins))}); one per call")
    paths = [_unwrap(s) for s in items]
    if filesystem is None:
        try:
            filesystem, first = pafs.FileSystem.from_uri(items[0])
        except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
            raise ConfigurationError(f"cannot open {items[0]}: {exc}") from exc
        paths[0] = first
    return RemoteSource(filesystem, paths, listed, _prefix(items[0], paths[0]))


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _unwrap(uri: str) -> str:
    """The path a URI names on its filesystem, as pyarrow and Ray Data spell it."""
    parts = urlsplit(uri, allow_fragments=False)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    path = parts.path.rstrip("/") or parts.path
    if parts.scheme in ("file", "local", "hdfs", "viewfs"):
        return path
    return (netloc + path).rstrip("/")


def _prefix(uri: str, path: str) -> str:
    """What goes before a path on the URI's filesystem to give a URI: ``s3://``, ``file://``."""
    parts = urlsplit(uri, allow_fragments=False)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if path.startswith("/") and parts.scheme not in ("file", "local"):
        return f"{parts.scheme}://{netloc}"  # hdfs://namenode:8020/path
    return f"{parts.scheme}://"


def _uri_on(filesystem: Any, path: str) -> str:
    """The URI of ``path`` on an explicit filesystem (a sub-tree is unwrapped to its base)."""
    import pyarrow.fs as pafs

    if isinstance(filesystem, pafs.SubTreeFileSystem):
        base = str(filesystem.base_path).rstrip("/")
        return _uri_on(filesystem.base_fs, f"{base}/{path.lstrip('/')}" if path else base)
    name = str(filesystem.type_name)
    scheme = _SCHEMES.get(name, re.sub(r"[^A-Za-z0-9+.\-]", "", name) or "fs")
    return f"{scheme}://{path}"


def _info(filesystem: Any, path: str) -> Any:
    try:
        return filesystem.get_file_info(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc


def _remote_file(source: RemoteSource, path: str, info: Any) -> FileFacts:
    """The file at ``path``, stored under its URI, read at ``path`` on the source's filesystem."""
    mtime = -1 if info.mtime_ns is None else int(info.mtime_ns)
    return FileFacts(source.uri(path), int(info.size or 0), mtime, location=path)


def _walk_order(relative: str) -> tuple[tuple[int, str], ...]:
    """Sort key giving ``os.walk`` order (sorted): a folder's files, then its sub-folders'."""
    *folders, name = relative.split("/")
    return (*((1, folder) for folder in folders), (0, name))
