"""The indexing plan: what to do with each file, decided the same way by local and Ray indexing.

A run goes through these steps, each a public function here:

1. :func:`known_files`: what the store holds of files (``path -> [KnownFile]``, every file of
   every entry);
2. :func:`local_facts` (or a filesystem listing): each file's :class:`FileFacts`;
3. :func:`changed_files`: files whose facts match their one entry are skipped unread;
4. :func:`read_and_hash` / :func:`hash_bytes`: a changed file's content id (or why it cannot be read);
5. :meth:`EntryFiles.load` and :func:`decide`: embed it (``added``, ``updated``), or record it
   as ``unchanged`` (touched), ``moved`` or ``duplicate`` content (one more file of an entry),
   without the model;
6. :class:`BatchWriter`: a batch's writes and report lines, in order: the files of touched
   entries, then the new vectors, then the entries that lost files (deleted when none is left);
7. :func:`refresh_facts`: entries of an older version get their facts without the model;
8. :func:`delete_missing`: forget the files that are gone (``remove_missing=True``).

An entry records every file that holds its content (``paths``, sorted; the first is its ``uri``):
a copy joins it, a changed or deleted file leaves it, and an entry with no file left is deleted.

Example:
    >>> from siglip_retriever.store.files import StoredFile
    >>> from siglip_retriever.store.plan import EntryFiles, FileFacts, decide
    >>> entries = EntryFiles({})
    >>> decide(FileFacts("/p/b.png", size=10, mtime_ns=1), "img-a", entries, batch_ids=[]).status
    'added'
    >>> entries.set("img-b", [StoredFile("/gone/c.png", 10, 1)]) and None
    >>> decide(FileFacts("/p/c.png", 10, 2), "img-b", entries, batch_ids=[]).status
    'moved'
    >>> entries.files["img-b"]
    [StoredFile(path='/p/c.png', size=10, mtime_ns=2)]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ImageLoadError
from siglip_retriever.store.entries import content_id, kind_filter
from siglip_retriever.store.facts import PictureFacts, picture_facts_of
from siglip_retriever.store.files import StoredFile, files_metadata, stored_files
from siglip_retriever.store.metadata import FACTS, FACTS_VERSION, KIND
from siglip_retriever.store.reading import OcrState, ocr_state
from siglip_retriever.store.report import FailedFile, IndexedFile, IndexReport, Status
from siglip_retriever.store.scanning import file_uri

if TYPE_CHECKING:
    from siglip_retriever.encoding.ocr import PictureText
    from siglip_retriever.store.store import MultimodalStore

__all__ = [
    "BatchWriter",
    "Decision",
    "EntryFiles",
    "FileFacts",
    "KnownFile",
    "KnownFiles",
    "changed_files",
    "decide",
    "delete_missing",
    "hash_bytes",
    "known_files",
    "local_facts",
    "local_prefix",
    "outdated_facts",
    "read_and_hash",
    "refresh_facts",
]

_LOOKUP_CHUNK = 1000  # ids per store lookup


@dataclass(frozen=True)
class KnownFile:
    """One file that one of the store's entries records, before the run.

    Attributes:
        id: the entry's id.
        file: the file as the entry records it.
        current: whether the entry's facts are of the current version
            (:data:`~siglip_retriever.store.metadata.FACTS_VERSION`).
        ocr: what the entry records of OCR (:func:`~siglip_retriever.store.reading.ocr_state`).

    Example:
        >>> known = KnownFile("img-a", StoredFile("/p/a.png", 10, 1), current=True)
        >>> known.file.path
        '/p/a.png'
    """

    id: str
    file: StoredFile
    current: bool
    ocr: OcrState = "unread"


KnownFiles = dict[str, list[KnownFile]]
"""``path -> [KnownFile]``: the files the store's entries record (every one of an entry's
``paths``), by path."""


@dataclass(frozen=True)
class FileFacts(StoredFile):
    """A file as a scan or a listing sees it, before it is read: the file as an entry would record
    it (``path`` as the store and the reports name it: :func:`file_uri`, or a full URI), and where
    to read it.

    Example:
        >>> file = FileFacts("s3://bucket/a.png", 10, 1, location="bucket/a.png")
        >>> file.source, file.stored()
        ('bucket/a.png', StoredFile(path='s3://bucket/a.png', size=10, mtime_ns=1))
    """

    location: str = ""
    """Where to read it: the local path (undecodable bytes of its name kept), or its path on a
    pyarrow filesystem; empty: ``path``."""

    @property
    def source(self) -> str:
        """Where to read the file: :attr:`location`, else :attr:`path`."""
        return self.location or self.path

    def stored(self) -> StoredFile:
        """The file as an entry records it."""
        return StoredFile(self.path, self.size, self.mtime_ns)


@dataclass(frozen=True)
class Decision:
    """What to do with one read file: embed it, or record it as skipped (and maybe touch its entry).

    Attributes:
        status: what happens to the file (see :data:`~siglip_retriever.store.report.Status`).
        previous: ids of other entries this path held (its older pictures): they lose the path,
            and are deleted once the batch is written when it was their last.
        detail: why it was skipped (``same picture as ...``).
        embed: the picture goes through the model.
        touch: the stored entry's files are updated (same picture, touched, moved or copied here).
        changes: every entry whose files this decision changes, with its files after it (sorted;
            empty: the entry has no file left). The file's own entry is among them.
    """

    status: Status
    previous: list[str]
    detail: str = ""
    embed: bool = False
    touch: bool = False
    changes: dict[str, list[StoredFile]] = field(default_factory=dict)


def known_files(store: MultimodalStore) -> KnownFiles:
    """Every file the store's picture entries (images, PDF parts, video moments) record (each of
    an entry's ``paths``), by path."""
    known: KnownFiles = {}
    for item_id, meta in store.iter_metadata(where=kind_filter("image")):
        current = (meta or {}).get(FACTS) == FACTS_VERSION
        state = ocr_state(meta)
        for file in stored_files(meta):
            known.setdefault(file.path, []).append(KnownFile(item_id, file, current, state))
    return known


class EntryFiles:
    """The files of the store's entries as the run leaves them, decision after decision.

    Local and Ray indexing keep one each: :meth:`load` reads the entries a batch's files may
    touch (their content ids, and the entries that hold their paths), :func:`decide` changes it,
    and :meth:`end_batch` forgets the entries the batch's commit deletes. An entry's files are
    kept sorted, so that the store after a run is the same whatever order the files came in.

    Example:
        >>> entries = EntryFiles({})
        >>> decide(FileFacts("/p/b.png", 10, 1), "img-a", entries, batch_ids=[]).status
        'added'
        >>> decision = decide(FileFacts("/p/a.png", 10, 1), "img-a", entries, batch_ids=["img-a"])
        >>> [file.path for file in decision.changes["img-a"]]
        ['/p/a.png', '/p/b.png']
    """

    def __init__(self, known: KnownFiles) -> None:
        self.known = known
        self.files: dict[str, list[StoredFile]] = {}
        """``id -> files`` of the entries read or written in this run (``[]``: none from files)."""
        self._holders: dict[str, set[str]] = {}
        self._looked_up: set[str] = set()
        self._emptied: set[str] = set()

    def load(self, store: MultimodalStore, keys: Iterable[str], uris: Iterable[str] = ()) -> None:
        """Read the files of the entries ``keys`` and of those the ``known`` files ``uris`` held,
        unless this run read (or wrote) them already."""
        wanted = set(keys) | {entry.id for uri in uris for entry in self.known.get(uri, [])}
        ordered = sorted(wanted - self._looked_up)
        self._looked_up.update(ordered)
        for start in range(0, len(ordered), _LOOKUP_CHUNK):
            for key, meta in store.lookup(ordered[start : start + _LOOKUP_CHUNK]).items():
                if key not in self.files:
                    self.set(key, stored_files(meta))
                    self._emptied.discard(key)  # stored without a file (add_images): it stays

    def holders(self, uri: str) -> set[str]:
        """Ids of the (loaded) entries that hold ``uri`` now."""
        return set(self._holders.get(uri, ()))

    def set(self, key: str, files: Iterable[StoredFile]) -> list[StoredFile]:
        """Record the files of entry ``key`` (sorted by path, one per path); returns them."""
        for file in self.files.get(key, []):
            self._holders.get(file.path, set()).discard(key)
        unique = {file.path: file for file in files}
        ordered = [unique[path] for path in sorted(unique)]
        self.files[key] = ordered
        self._looked_up.add(key)
        for file in ordered:
            self._holders.setdefault(file.path, set()).add(key)
        if ordered:
            self._emptied.discard(key)
        else:
            self._emptied.add(key)
        return ordered

    def forget(self, key: str) -> None:
        """Drop entry ``key``: it is not (or no longer) in the store."""
        for file in self.files.pop(key, []):
            self._holders.get(file.path, set()).discard(key)
        self._emptied.discard(key)

    def end_batch(self) -> None:
        """Forget the entries that lost their last file in this batch: its commit deletes them."""
        for key in list(self._emptied):
            self.forget(key)


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
        facts.append(FileFacts(uri, int(stat.st_size), int(stat.st_mtime_ns), location=str(path)))
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
            report.skipped.append(IndexedFile(file.path, entry.id, "unchanged"))
        else:
            pending.append(file)
    return pending


def _unchanged_entry(file: FileFacts, known: KnownFiles) -> KnownFile | None:
    """The file's one entry, when its size and time are those recorded there."""
    entries = known.get(file.path, [])
    if len(entries) == 1 and entries[0].file == file.stored():
        return entries[0]
    return None


def outdated_facts(files: Iterable[FileFacts], known: KnownFiles) -> list[tuple[FileFacts, str]]:
    """The unchanged files (as :func:`changed_files` finds them) whose entry records file facts of
    an older version, and the entry's id: :func:`refresh_facts` corrects them."""
    outdated = []
    for file in files:
        entry = _unchanged_entry(file, known)
        if entry is not None and not entry.current:
            outdated.append((file, entry.id))
    return outdated


def refresh_facts(
    store: MultimodalStore,
    outdated: Iterable[tuple[FileFacts, str]],
    facts_of: Callable[[FileFacts], PictureFacts] | None = None,
    submit: Callable[..., Future[Any]] | None = None,
) -> int:
    """Bring the facts of ``outdated`` entries to the current version, without the model: each
    file decoded once for its fingerprint, size and date (:func:`picture_facts_of`), and the
    entry's files recorded as ``paths``. Returns how many entries were corrected.

    Args:
        store: the store holding the entries.
        outdated: ``(file, id)`` pairs from :func:`outdated_facts`.
        facts_of: a file's :class:`~siglip_retriever.store.facts.PictureFacts`; default:
            the local file decoded as the store's model decodes it.
        submit: runs ``facts_of`` in worker threads (``store.encoder.submit``); default: here.

    A file that cannot be decoded keeps its entry as it is (the next change to the file embeds
    it again, and reports it then).
    """
    read = facts_of or _local_reader(store)
    pairs = list({key: file for file, key in outdated}.items())
    done = 0
    for start in range(0, len(pairs), _LOOKUP_CHUNK):
        chunk = pairs[start : start + _LOOKUP_CHUNK]
        pending = [(key, (submit or _now)(_facts_or_none, read, file)) for key, file in chunk]
        current = store.lookup([key for key, _ in chunk])
        ids, metas = [], []
        for key, future in pending:
            facts = future.result()
            files = stored_files(current.get(key))
            if facts is None or not files:
                continue
            ids.append(key)
            metas.append({**files_metadata(files), **facts.metadata(), FACTS: FACTS_VERSION})
        if ids:
            store.update_file_facts(ids, metas)
        done += len(ids)
    return done


def _local_reader(store: MultimodalStore) -> Callable[[FileFacts], PictureFacts]:
    """A local file's facts, decoded as the store's model decodes it."""
    preparer = store.encoder.image_preparer()
    return lambda file: picture_facts_of(preparer, file.source)


def _facts_or_none(read: Callable[[FileFacts], PictureFacts], file: FileFacts) -> PictureFacts | None:
    try:
        return read(file)
    except (ImageLoadError, OSError):
        return None


def _now(function: Callable[..., Any], *args: Any) -> Future[Any]:
    """``function(*args)`` run here, as a finished future."""
    future: Future[Any] = Future()
    future.set_result(function(*args))
    return future


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


def decide(
    file: FileFacts,
    key: str,
    entries: EntryFiles,
    batch_ids: Collection[str],
    exists: Callable[[str], bool] | None = None,
) -> Decision:
    """Decide one read file against the store as the run left it, and record the outcome in
    ``entries``.

    Args:
        file: the file's facts.
        key: its content id.
        entries: the entries' files so far, loaded (:meth:`EntryFiles.load`) for ``key`` and for
            the entries that held ``file``.
        batch_ids: ids the batch already embeds.
        exists: whether a file an entry records is still there (default: a local path). Files
            of the entry ``file`` joins that are gone are dropped from it (they moved).
    """
    record = file.stored()
    changes: dict[str, list[StoredFile]] = {}
    previous = sorted(entries.holders(file.path) - {key})
    for other in previous:  # this path held another picture before
        changes[other] = entries.set(other, [f for f in entries.files[other] if f.path != file.path])
    if key in entries.files:
        held = entries.files[key]
        if any(f.path == file.path for f in held):
            status: Status = "unchanged"
            kept = [f for f in held if f.path != file.path]
        else:
            there = exists or _path_exists
            kept = [f for f in held if key in batch_ids or there(f.path)]
            status = "duplicate" if kept else "moved"
        changes[key] = entries.set(key, [*kept, record])
        if status != "duplicate":
            return Decision(status, previous, touch=True, changes=changes)
        other_file = "another file" if key in batch_ids else kept[0].path
        return Decision(status, previous, f"same picture as {other_file}", touch=True, changes=changes)
    changes[key] = entries.set(key, [record])
    return Decision("updated" if previous else "added", previous, embed=True, changes=changes)


def _path_exists(path: str) -> bool:
    return Path(path).exists()


@dataclass
class BatchWriter:
    """One batch's writes and report lines, recorded file after file, written by :meth:`commit`.

    For each file, in order: :meth:`unreadable`, or :meth:`record` with its decision; a file the
    decision sends to the model then gets :meth:`embedded` (and its vector, in the same order,
    through :meth:`add_vectors`) or :meth:`undecodable`. Touched entries are updated at once; the
    new vectors are written, the entries that lost files updated and those left with none deleted
    by :meth:`commit`, and only then do the batch's files go into the run's report, so the report
    of a run that stopped half-way lists only files that are in the store.
    """

    store: MultimodalStore
    report: IndexReport
    entries: EntryFiles | None = None
    """The run's :class:`EntryFiles`: told when a picture to embed turns out undecodable, and at
    the end of the batch."""
    ids: list[str] = field(default_factory=list)
    """Ids the batch embeds so far, in order (``batch_ids`` of :func:`decide`)."""
    _done: IndexReport = field(init=False)
    _metas: list[dict[str, Any]] = field(default_factory=list)
    _vectors: list[npt.NDArray[np.float32]] = field(default_factory=list)
    _changes: dict[str, list[StoredFile]] = field(default_factory=dict)
    _written: dict[str, list[StoredFile]] = field(default_factory=dict)
    _undecodable: list[FailedFile] = field(default_factory=list)
    _words: dict[str, PictureText] = field(default_factory=dict)
    _vectored: int = 0

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
        for other, files in decision.changes.items():
            if other == key and (undecodable or decision.embed):
                continue
            if other in self.ids:  # embedded by this batch: its metadata is not written yet
                self._metas[self.ids.index(other)].update(files_metadata(files))
            else:
                self._changes[other] = files
        if undecodable:
            self._undecodable.append(FailedFile(uri, undecodable))
            return False
        if decision.touch and key not in self.ids:
            files = decision.changes[key]
            self.store.update_file_facts([key], [files_metadata(files)])
            self._written[key] = files
        if not decision.embed:
            self._done.skipped.append(IndexedFile(uri, key, decision.status, decision.detail))
            return False
        return True

    def undecodable(self, uri: str, reason: str, key: str = "") -> None:
        """A file to embed whose picture could not be decoded (``key``: its content id)."""
        self._undecodable.append(FailedFile(uri, reason))
        if key and self.entries is not None:
            self.entries.forget(key)

    def embedded(self, uri: str, key: str, decision: Decision, facts: PictureFacts) -> None:
        """A file whose picture is embedded: its vector comes through :meth:`add_vectors`."""
        self.ids.append(key)
        self._changes.pop(key, None)
        files = files_metadata(decision.changes[key])
        self._metas.append({**files, KIND: "image", **facts.metadata(), FACTS: FACTS_VERSION})
        outcome = self._done.updated if decision.status == "updated" else self._done.added
        outcome.append(IndexedFile(uri, key, decision.status))

    def add_vectors(
        self, vectors: npt.NDArray[np.float32], metadatas: Iterable[dict[str, Any]] | None = None
    ) -> None:
        """Vectors of the next embedded files, in the order :meth:`embedded` recorded them, and
        more metadata of each (what OCR did)."""
        self._vectors.append(np.asarray(vectors, dtype=np.float32))
        for offset, extra in enumerate(metadatas or ()):
            self._metas[self._vectored + offset].update(extra)
        self._vectored += len(vectors)

    def add_words(self, key: str, words: PictureText) -> None:
        """The words OCR read in an embedded file's picture: written before its entry."""
        self._words[key] = words

    def commit(self) -> None:
        """Write the new vectors, then the entries that lost files (deleted when they have none
        left), then report the batch's files."""
        self._done.failed.extend(self._undecodable)
        if self._words:  # before the entries, which record that they were read
            self.store.set_words(list(self._words), list(self._words.values()), source="ocr")
        if self.ids:
            self.store.upsert_vectors(self.ids, np.concatenate(self._vectors), self._metas)
        changed = {k: v for k, v in self._changes.items() if k not in self.ids and self._written.get(k) != v}
        kept = sorted(key for key, files in changed.items() if files)
        if kept:
            self.store.update_file_facts(kept, [files_metadata(changed[key]) for key in kept])
        gone = sorted(key for key, files in changed.items() if not files)
        if gone:
            self.store.delete(ids=gone)
        if self.entries is not None:
            self.entries.end_batch()
        self.report.extend(self._done)


def delete_missing(store: MultimodalStore, prefix: str, present: Collection[str]) -> list[str]:
    """Forget the files under ``prefix`` that are not ``present`` (as the store holds them now):
    an entry loses them from its files, and is deleted when it has none left. Returns the
    forgotten paths, sorted."""
    gone: list[str] = []
    kept_ids: list[str] = []
    kept_metas: list[dict[str, Any]] = []
    deleted: list[str] = []
    for item_id, meta in list(store.iter_metadata(where=kind_filter("image"))):
        files = stored_files(meta)
        missing = [f for f in files if f.path.startswith(prefix) and f.path not in present]
        if not missing:
            continue
        gone.extend(f.path for f in missing)
        left = [f for f in files if f not in missing]
        if left:
            kept_ids.append(item_id)
            kept_metas.append(files_metadata(left))
        else:
            deleted.append(item_id)
    if kept_ids:
        store.update_file_facts(kept_ids, kept_metas)
    if deleted:
        store.delete(ids=sorted(deleted))
    return sorted(set(gone))


def local_prefix(root: Path) -> str:
    """The uri prefix of the files under a local folder."""
    return file_uri(root) + os.sep
