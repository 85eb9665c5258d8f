"""The indexing plan: what to do with each file, decided the same way by local and Ray indexing.

A run goes through these steps, each a public function here:

1. :func:`known_files`: what the store holds of files (``uri -> [(id, mtime, size)]``);
2. :func:`local_facts` (or a filesystem listing): each file's :class:`FileFacts`;
3. :func:`changed_files`: files whose facts match their one entry are skipped unread;
4. :func:`read_and_hash` / :func:`hash_bytes`: a changed file's content id (or why it cannot be read);
5. :func:`stored_uris` and :func:`decide`: embed it (``added``, ``updated``), or record it as
   ``unchanged`` (touched), ``moved`` or ``duplicate`` content, without the model;
6. :class:`BatchWriter`: a batch's writes and report lines, in order: file facts of touched
   entries, then the new vectors, then the deletion of replaced pictures;
7. :func:`delete_missing`: delete the entries whose files are gone (``remove_missing=True``).

Example:
    >>> from siglip_retriever.store.plan import FileFacts, decide
    >>> facts = FileFacts("/p/b.png", mtime_ns=1, size=10)
    >>> decide(facts, "img-a", known={}, stored={}, batch_ids=[]).status
    'added'
    >>> decide(facts, "img-a", known={}, stored={}, batch_ids=["img-a"]).status
    'duplicate'
    >>> decide(facts, "img-a", known={}, stored={"img-a": "/gone/a.png"}, batch_ids=[]).status
    'moved'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.images import image_size
from siglip_retriever.errors import ImageLoadError
from siglip_retriever.store.entries import (
    FACTS,
    FACTS_VERSION,
    HEIGHT,
    KIND,
    MTIME,
    SIZE,
    URI,
    WIDTH,
    content_id,
)
from siglip_retriever.store.report import FailedFile, IndexedFile, IndexReport, Status
from siglip_retriever.store.scanning import file_uri

if TYPE_CHECKING:
    from siglip_retriever.store.store import MultimodalStore

__all__ = [
    "BatchWriter",
    "Decision",
    "FileFacts",
    "KnownFiles",
    "changed_files",
    "decide",
    "delete_missing",
    "facts_metadata",
    "hash_bytes",
    "known_files",
    "local_facts",
    "local_prefix",
    "missing_entries",
    "outdated_facts",
    "read_and_hash",
    "refresh_facts",
    "stored_uris",
]

KnownFiles = dict[str, list[tuple[str, int, int, bool]]]
"""``uri -> [(id, mtime_ns, size, current)]`` of the store's entries that came from files;
``current``: the entry's file facts are of the current version (``FACTS_VERSION``)."""

_LOOKUP_CHUNK = 1000  # ids per store lookup


@dataclass(frozen=True)
class FileFacts:
    """A file as a scan or a listing sees it, before it is read."""

    uri: str
    """The file as the store and the reports name it (:func:`file_uri`, or a full URI)."""
    mtime_ns: int
    """Its modification time."""
    size: int
    """Its size in bytes."""
    path: str = ""
    """Where to read it: the local path (undecodable bytes of its name kept), or its path on a
    pyarrow filesystem; empty: ``uri``."""


@dataclass(frozen=True)
class Decision:
    """What to do with one read file: embed it, or record it as skipped (and maybe touch its entry).

    Attributes:
        status: what happens to the file (see :data:`~siglip_retriever.store.report.Status`).
        meta: the file's facts as the entry records them (``uri``, ``mtime_ns``, ``file_size``).
        previous: ids of this path's older pictures, to delete once the batch is written.
        detail: why it was skipped (``same picture as ...``).
        embed: the picture goes through the model.
        touch: the stored entry's file facts are updated (same picture, touched or moved here).
    """

    status: Status
    meta: dict[str, Any]
    previous: list[str]
    detail: str = ""
    embed: bool = False
    touch: bool = False


def known_files(store: MultimodalStore) -> KnownFiles:
    """``uri -> [(id, mtime_ns, size, current)]`` of every image entry that came from a file."""
    known: KnownFiles = {}
    for item_id, meta in store.iter_metadata(where={KIND: "image"}):
        uri = (meta or {}).get(URI)
        if uri:
            current = meta.get(FACTS) == FACTS_VERSION
            entry = (item_id, int(meta.get(MTIME, -1)), int(meta.get(SIZE, -1)), current)
            known.setdefault(str(uri), []).append(entry)
    return known


def local_facts(paths: Iterable[Path], report: IndexReport) -> list[FileFacts]:
    """The facts of local files; a file that cannot be examined goes to ``report.failed``."""
    facts: list[FileFacts] = []
    for path in paths:
        uri = file_uri(path)
        try:
            stat = path.stat()
        except OSError as exc:
            report.failed.append(FailedFile(uri, f"cannot read file: {exc.strerror}"))
            continue
        facts.append(FileFacts(uri, int(stat.st_mtime_ns), int(stat.st_size), str(path)))
    return facts


def changed_files(files: Iterable[FileFacts], known: KnownFiles, report: IndexReport) -> list[FileFacts]:
    """The files that need reading; unchanged ones go to ``report.skipped``.

    A file is unchanged when its path has one entry with the same size and time. Several entries
    for one path (a run interrupted between writing a changed file and deleting its old entry)
    are checked again.
    """
    pending: list[FileFacts] = []
    for file in files:
        entry = _unchanged_entry(file, known)
        if entry is not None:
            report.skipped.append(IndexedFile(file.uri, entry[0], "unchanged"))
        else:
            pending.append(file)
    return pending


def _unchanged_entry(file: FileFacts, known: KnownFiles) -> tuple[str, int, int, bool] | None:
    """The file's one entry, when its size and time are those recorded there."""
    entries = known.get(file.uri, [])
    if len(entries) == 1 and entries[0][1:3] == (file.mtime_ns, file.size):
        return entries[0]
    return None


def outdated_facts(files: Iterable[FileFacts], known: KnownFiles) -> list[tuple[FileFacts, str]]:
    """The unchanged files (as :func:`changed_files` finds them) whose entry records file facts of
    an older version, and the entry's id: :func:`refresh_facts` corrects them."""
    outdated = []
    for file in files:
        entry = _unchanged_entry(file, known)
        if entry is not None and not entry[3]:
            outdated.append((file, entry[0]))
    return outdated


def refresh_facts(
    store: MultimodalStore,
    outdated: Iterable[tuple[FileFacts, str]],
    size_of: Callable[[FileFacts], tuple[int, int]] | None = None,
) -> int:
    """Bring the file facts of ``outdated`` entries to the current version, without the model:
    ``width`` and ``height`` read from each file's header. Returns how many were corrected.

    Args:
        store: the store holding the entries.
        outdated: ``(file, id)`` pairs from :func:`outdated_facts`.
        size_of: a file's ``(width, height)``; default: the local file's header
            (:func:`~siglip_retriever.encoding.images.image_size`).

    A file whose header cannot be read keeps its entry as it is (the next change to the file
    embeds it again, and reports it then).
    """
    read = size_of or (lambda file: image_size(file.path or file.uri))
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    for file, key in outdated:
        try:
            width, height = read(file)
        except (ImageLoadError, OSError):
            continue
        ids.append(key)
        metas.append({**facts_metadata(file), WIDTH: width, HEIGHT: height, FACTS: FACTS_VERSION})
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        store.update_file_facts(ids[start : start + _LOOKUP_CHUNK], metas[start : start + _LOOKUP_CHUNK])
    return len(ids)


def facts_metadata(file: FileFacts) -> dict[str, Any]:
    """What an entry records of ``file`` that a touch or a move changes: ``uri``, modification time
    and size (an entry touched keeps its picture's size, and the version of its facts)."""
    return {URI: file.uri, MTIME: int(file.mtime_ns), SIZE: int(file.size)}


def hash_bytes(data: bytes) -> tuple[str, str]:
    """A file's content id, or ``("", reason)`` when its content cannot be indexed."""
    if not data:
        return "", "empty file (zero bytes)"
    return content_id("image", data), ""


def read_and_hash(path: Path) -> tuple[bytes, str, str]:
    """The file's bytes and content id, or ``(b"", "", reason)`` when it cannot be indexed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return b"", "", f"cannot read file: {exc.strerror or exc}"
    key, failure = hash_bytes(data)
    return (data, key, "") if key else (b"", "", failure)


def stored_uris(store: MultimodalStore, keys: Collection[str]) -> dict[str, Any]:
    """``id -> uri`` (``None`` for entries not from files) of those ``keys`` that are stored."""
    stored: dict[str, Any] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        for key, meta in store.lookup(ordered[start : start + _LOOKUP_CHUNK]).items():
            stored[key] = meta.get(URI)
    return stored


def decide(
    file: FileFacts,
    key: str,
    known: KnownFiles,
    stored: Mapping[str, Any],
    batch_ids: Collection[str],
    exists: Callable[[str], bool] | None = None,
) -> Decision:
    """Decide one read file against the store and the batch so far.

    Args:
        file: the file's facts.
        key: its content id.
        known: the store's file entries before the run (:func:`known_files`).
        stored: ``id -> uri`` of the stored entries, for at least ``key`` (:func:`stored_uris`).
        batch_ids: ids the batch already embeds.
        exists: whether the file a stored uri names is still there (default: a local path).
    """
    meta = facts_metadata(file)
    previous = [entry[0] for entry in known.get(file.uri, []) if entry[0] != key]
    if key in stored:
        other = stored[key]
        if other == file.uri or other is None or not (exists or _path_exists)(str(other)):
            # same picture: only the file's facts changed (touched, or moved here)
            status: Status = "unchanged" if other == file.uri else "moved"
            return Decision(status, meta, previous, touch=True)
        return Decision("duplicate", meta, previous, f"same picture as {other}")
    if key in batch_ids:
        return Decision("duplicate", meta, previous, "same picture as another file")
    return Decision("updated" if previous else "added", meta, previous, embed=True)


def _path_exists(path: str) -> bool:
    return Path(path).exists()


def missing_entries(known: KnownFiles, prefix: str, present: Collection[str]) -> dict[str, str]:
    """``uri -> id`` of the known entries under ``prefix`` whose uri is not in ``present``."""
    return {
        uri: entry[0]
        for uri, entries in known.items()
        for entry in entries
        if uri.startswith(prefix) and uri not in present
    }


@dataclass
class BatchWriter:
    """One batch's writes and report lines, recorded file after file, written by :meth:`commit`.

    For each file, in order: :meth:`unreadable`, or :meth:`record` with its decision; a file the
    decision sends to the model then gets :meth:`embedded` (and its vector, in the same order,
    through :meth:`add_vectors`) or :meth:`undecodable`. Touched entries are updated at once; the
    new vectors are written and the replaced pictures deleted by :meth:`commit`, and only then do
    the batch's files go into the run's report, so the report of a run that stopped half-way lists
    only files that are in the store.
    """

    store: MultimodalStore
    report: IndexReport
    ids: list[str] = field(default_factory=list)
    """Ids the batch embeds so far, in order (``batch_ids`` of :func:`decide`)."""
    _done: IndexReport = field(init=False)
    _metas: list[dict[str, Any]] = field(default_factory=list)
    _vectors: list[npt.NDArray[np.float32]] = field(default_factory=list)
    _replaced: list[str] = field(default_factory=list)
    _undecodable: list[FailedFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._done = IndexReport(self.report.folder)

    def unreadable(self, uri: str, reason: str) -> None:
        """A file that could not be read (or hashed)."""
        self._done.failed.append(FailedFile(uri, reason))

    def record(self, uri: str, key: str, decision: Decision, *, undecodable: str = "") -> bool:
        """Record a decided file; ``True`` when its picture must be embedded.

        ``undecodable``: the picture this file's decision rests on turned out undecodable (a
        duplicate of a file embedded in the same run that failed): the file fails with it.
        """
        self._replaced.extend(decision.previous)
        if undecodable:
            self._undecodable.append(FailedFile(uri, undecodable))
            return False
        if decision.touch:
            self.store.update_file_facts([key], [decision.meta])
        if not decision.embed:
            self._done.skipped.append(IndexedFile(uri, key, decision.status, decision.detail))
            return False
        return True

    def undecodable(self, uri: str, reason: str) -> None:
        """A file to embed whose picture could not be decoded."""
        self._undecodable.append(FailedFile(uri, reason))

    def embedded(self, uri: str, key: str, decision: Decision, width: int, height: int) -> None:
        """A file whose picture is embedded: its vector comes through :meth:`add_vectors`."""
        self.ids.append(key)
        size = {WIDTH: width, HEIGHT: height, FACTS: FACTS_VERSION}
        self._metas.append({**decision.meta, KIND: "image", **size})
        outcome = self._done.updated if decision.status == "updated" else self._done.added
        outcome.append(IndexedFile(uri, key, decision.status))

    def add_vectors(self, vectors: npt.NDArray[np.float32]) -> None:
        """Vectors of the next embedded files, in the order :meth:`embedded` recorded them."""
        self._vectors.append(np.asarray(vectors, dtype=np.float32))

    def commit(self) -> None:
        """Write the new vectors, delete the replaced pictures, then report the batch's files."""
        self._done.failed.extend(self._undecodable)
        if self.ids:
            self.store.upsert_vectors(self.ids, np.concatenate(self._vectors), self._metas)
        if self._replaced:
            self.store.delete(ids=self._replaced)
        self.report.extend(self._done)


def delete_missing(store: MultimodalStore, prefix: str, present: Collection[str]) -> list[str]:
    """Delete the entries of files under ``prefix`` that are not ``present`` (as the store holds
    them now); returns their uris, sorted."""
    gone = missing_entries(known_files(store), prefix, present)
    if gone:
        store.delete(ids=sorted(set(gone.values())))
    return sorted(gone)


def local_prefix(root: Path) -> str:
    """The uri prefix of the files under a local folder."""
    return file_uri(root) + os.sep
