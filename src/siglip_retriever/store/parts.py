"""Files that become many entries (a PDF's pages and figures, a video's moments), indexed
incrementally by the file's content hash: what :class:`PartsIndexer` does for every such kind.

What a run does with such a file, as indexing does with a picture file:

- its path, size and time are those its entries record: skipped, unread (``unchanged``);
- else it is read and hashed: a content already stored (touched, copied, moved) joins those
  entries without being decoded; new content is decoded part by part and embedded in batches,
  and its entries are written when the whole file is done (an interrupted run leaves none, and
  the next one starts the file again); the entries the path held before (an older version of the
  file) lose it, and are deleted when it was their last file;
- a file that cannot be read at all goes to the report's ``failed`` with its reason, and so does
  each part that fails (``file.pdf#page=3``, ``clip.mp4#t=12,30``), while the other parts are
  indexed. The failed parts are recorded on the file's entries and reported again while the file
  is unchanged: nothing is skipped in silence.

A subclass says how its entries are named (:meth:`PartsIndexer.key_of`,
:meth:`PartsIndexer.location`), how its file is read and embedded (:meth:`PartsIndexer.embed`),
and how the failures it records are reported again (:meth:`PartsIndexer.recorded_failures`).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from siglip_retriever.store.parts import hash_file
    >>> path = Path(tempfile.mkdtemp()) / "clip.mp4"
    >>> _ = path.write_bytes(b"not much")
    >>> hash_file(path, "vid")[0][:12]
    'vid-abd72851'
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.store.files import files_metadata, stored_files
from siglip_retriever.store.report import FailedFile, IndexedFile, Status

if TYPE_CHECKING:
    from siglip_retriever.store.plan import FileFacts, KnownFiles
    from siglip_retriever.store.reading import WordReader
    from siglip_retriever.store.report import IndexReport
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["CHUNK", "PartsIndexer", "hash_file"]

CHUNK = 1000
"""Ids per store call."""

_HASH_BLOCK = 1 << 20


def hash_file(path: Path, prefix: str) -> tuple[str, str]:
    """A file's content id (``<prefix>-<32 hex digits of its SHA-256>``, read in blocks, never
    whole), or ``("", reason)``."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(_HASH_BLOCK), b""):
                digest.update(block)
    except OSError as exc:
        return "", f"cannot read file: {exc.strerror or exc}"
    return f"{prefix}-{digest.hexdigest()[:32]}", ""


class PartsIndexer(ABC):
    """One indexing run's files of one kind that become many entries (see the module's notes).

    Args:
        store: the store to write to.
        report: the run's report.
        known: what the store holds of files before the run
            (:func:`~siglip_retriever.store.plan.known_files`).
        words: the run's OCR (:class:`~siglip_retriever.store.reading.WordReader`).

    Example:
        >>> from siglip_retriever.store.pdfs import PdfIndexer
        >>> from siglip_retriever.store.videos import VideoIndexer
        >>> [issubclass(kind, PartsIndexer) for kind in (PdfIndexer, VideoIndexer)]
        [True, True]
    """

    prefix = ""
    """The prefix of the file's content id (``"img"`` for a PDF, ``"vid"`` for a video)."""

    def __init__(
        self, store: MultimodalStore, report: IndexReport, known: KnownFiles, words: WordReader
    ) -> None:
        self.store = store
        self.report = report
        self.known = known
        self.words = words
        self.by_content: dict[str, set[str]] = {}
        """``file content id -> ids of its entries`` in the store, as the run leaves it."""
        for held in known.values():
            for entry in held:
                key = self.key_of(entry.id)
                if key is not None:
                    self.by_content.setdefault(key, set()).add(entry.id)

    # -- what a subclass says ------------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def key_of(entry_id: str) -> str | None:
        """The content id of the file an entry is part of; ``None`` for other entries."""

    @abstractmethod
    def location(self, path: str, entry_id: str, metadata: dict[str, Any]) -> str:
        """How the report names one entry (of this ``metadata``) of the file at ``path``
        (``file.pdf#page=3``)."""

    @abstractmethod
    def embed(self, file: FileFacts, key: str, status: Status) -> None:
        """Read and embed a file whose content is not stored; write its entries
        (:meth:`write`)."""

    @abstractmethod
    def recorded_failures(self, path: str, metadata: dict[str, Any]) -> list[FailedFile]:
        """The parts of a stored file that failed when it was indexed, from an entry's metadata."""

    @abstractmethod
    def read_stored(self, file: FileFacts, key: str, metas: dict[str, dict[str, Any]]) -> None:
        """Read the words of a stored file's entries that this run's OCR wants read."""

    @abstractmethod
    def order(self, entry_id: str) -> tuple[int, ...]:
        """Where an entry comes in its file (the report lists them in this order)."""

    # -- a run -----------------------------------------------------------------------------------

    def index(self, file: FileFacts) -> None:
        """Index one file, incrementally."""
        held = self.known.get(file.path, [])
        keys = {key for entry in held if (key := self.key_of(entry.id)) is not None}
        if held and len(keys) == 1 and all(entry.file == file.stored() for entry in held):
            self._stored(file, next(iter(keys)), sorted(entry.id for entry in held), "unchanged", None)
            return
        key, failure = hash_file(Path(file.source), self.prefix)
        if failure:
            self.report.failed.append(FailedFile(file.path, failure))
            return
        mine = self.by_content.get(key, set())
        previous = sorted({entry.id for entry in held} - mine)
        if mine:
            self._join(file, key, sorted(mine))
        else:
            self.embed(file, key, "updated" if previous else "added")
        self._leave(file.path, previous)

    def write(
        self,
        file: FileFacts,
        status: Status,
        ids: list[str],
        vectors: list[npt.NDArray[np.float32]],
        metas: list[dict[str, Any]],
    ) -> None:
        """Write a file's entries (with its file), then report them."""
        if not ids:
            return
        files = files_metadata([file.stored()])
        self.store.upsert_vectors(ids, np.concatenate(vectors), [{**meta, **files} for meta in metas])
        outcome = self.report.updated if status == "updated" else self.report.added
        for entry, meta in zip(ids, metas, strict=True):
            outcome.append(IndexedFile(self.location(file.path, entry, meta), entry, status))
            key = self.key_of(entry)
            if key is not None:
                self.by_content.setdefault(key, set()).add(entry)

    # -- content already stored --------------------------------------------------------------

    def _join(self, file: FileFacts, key: str, ids: list[str]) -> None:
        """This file holds content the store has: its entries record it too (touched, moved,
        copied), nothing is decoded or embedded."""
        held = stored_files(self.store.lookup(ids[:1]).get(ids[0]))
        record = file.stored()
        if any(stored.path == file.path for stored in held):
            status: Status = "unchanged"
            kept = [stored for stored in held if stored.path != file.path]
        else:
            kept = [stored for stored in held if Path(stored.path).exists()]
            status = "duplicate" if kept else "moved"
        files = sorted([*kept, record], key=lambda stored: stored.path)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            self.store.update_file_facts(chunk, [files_metadata(files)] * len(chunk))
        detail = f"same content as {kept[0].path}" if status == "duplicate" else ""
        self._stored(file, key, ids, status, detail)

    def _stored(self, file: FileFacts, key: str, ids: list[str], status: Status, detail: str | None) -> None:
        """Report a file whose entries are stored, its failed parts again, and read the words of
        its entries that this run's OCR wants read and no run has read."""
        metas: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), CHUNK):
            metas.update(self.store.lookup(ids[start : start + CHUNK]))
        for entry in sorted(ids, key=self.order):
            where = self.location(file.path, entry, metas.get(entry, {}))
            self.report.skipped.append(IndexedFile(where, entry, status, detail or ""))
        first = metas.get(min(ids, key=self.order), {}) if ids else {}
        self.report.failed.extend(self.recorded_failures(file.path, first))
        if self.words.on:
            self.read_stored(file, key, metas)
        self.by_content.setdefault(key, set()).update(ids)

    # -- the entries this path held before -----------------------------------------------------

    def _leave(self, path: str, previous: Iterable[str]) -> None:
        """The entries this path held before lose it; those left with no file are deleted."""
        ids = list(previous)
        if not ids:
            return
        kept_ids, kept_metas, gone = [], [], []
        for entry, meta in self.store.lookup(ids).items():
            left = [stored for stored in stored_files(meta) if stored.path != path]
            if left:
                kept_ids.append(entry)
                kept_metas.append(files_metadata(left))
            else:
                gone.append(entry)
        self.store.update_file_facts(kept_ids, kept_metas)
        self.store.delete(ids=sorted(gone))
        for key in {key for entry in gone if (key := self.key_of(entry)) is not None}:
            self.by_content[key] = self.by_content.get(key, set()) - set(gone)
