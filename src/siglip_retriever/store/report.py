"""What an indexing run did with every file: :class:`IndexReport` and its lines.

Local indexing (:func:`siglip_retriever.store.indexing.index_folder`) and Ray indexing
(:func:`siglip_retriever.store.distributed.index_distributed`) return the same report.

Example:
    >>> from siglip_retriever.store.report import FailedFile, IndexedFile, IndexReport
    >>> report = IndexReport("/photos", added=[IndexedFile("/photos/a.jpg", "img-1", "added")])
    >>> report.failed.append(FailedFile("/photos/b.jpg", "empty file (zero bytes)"))
    >>> report.summary()
    '1 added, 0 updated, 0 skipped, 1 failed, 0 removed in 0.0s'
    >>> report.ignored.append(IgnoredFile("/photos/IMG_0042.MOV", "a video: install the video extra"))
    >>> report.summary()
    '1 added, 0 updated, 0 skipped, 1 failed, 0 removed in 0.0s; ignored 1 file: .mov 1'
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from siglip_retriever.errors import StoreError
    from siglip_retriever.store.feeding import FeedChoice

__all__ = ["FailedFile", "IgnoredFile", "IndexReport", "IndexedFile", "Status", "stopped"]

Status = Literal["added", "updated", "unchanged", "duplicate", "moved"]
"""What indexing did with a file that is in the store after the run."""


@dataclass(frozen=True)
class IndexedFile:
    """A file that is in the store after indexing, and what indexing did with it."""

    path: str
    """The file, as the store and the reports name it (an absolute path or a full URI)."""
    id: str
    """The id of its entry (the content hash of its picture)."""
    status: Status
    """What indexing did with it."""
    detail: str = ""
    """Why a duplicate was not embedded (``same picture as ...``)."""


@dataclass(frozen=True)
class FailedFile:
    """A file that could not be indexed, and why."""

    path: str
    """The file, as the reports name it."""
    reason: str
    """Why: what the file is when it is not a picture, or what went wrong reading it."""


@dataclass(frozen=True)
class IgnoredFile:
    """A file a folder scan did not try to index, because of its extension, and what it is."""

    path: str
    """The file, as the reports name it."""
    reason: str
    """What the file is (a video, an XMP sidecar, a vector drawing...) or why it was left out."""

    @property
    def extension(self) -> str:
        """Its extension, lower-case with the dot (``.mov``), or ``(none)``."""
        return PurePath(self.path).suffix.lower() or "(none)"


@dataclass
class IndexReport:
    """What an indexing run did: ``added``, ``updated``, ``skipped``, ``failed``, ``removed``, and
    the files a folder scan ``ignored``.

    ``skipped`` holds files that needed no embedding: unchanged since the last run, or holding the
    same picture as another indexed file (``status == "duplicate"``). ``ignored`` holds the files
    of a scanned folder whose extension is not indexed (videos, sidecars, drawings...), each with
    what it is; ``refreshed`` counts the older entries whose recorded facts (the picture's size,
    fingerprint and date, its files) were completed without embedding them again.

    ``ocr`` is the run's OCR setting (``"auto"``, ``"all"`` or ``"off"``); ``ocr_read`` counts the
    pictures OCR read in the run (new entries and older ones read for the first time), and
    ``ocr_found`` those of them that carried words. A PDF's pages and figures are reported one by
    one, as ``file.pdf#page=3`` (and ``&figure=1``).
    """

    folder: str
    added: list[IndexedFile] = field(default_factory=list)
    updated: list[IndexedFile] = field(default_factory=list)
    skipped: list[IndexedFile] = field(default_factory=list)
    failed: list[FailedFile] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    ignored: list[IgnoredFile] = field(default_factory=list)
    refreshed: int = 0
    ocr: str = "off"
    ocr_read: int = 0
    ocr_found: int = 0
    seconds: float = 0.0
    feed: FeedChoice | None = None
    """How local indexing decoded (threads or worker processes, and why; ``index -v`` prints it)."""

    @property
    def indexed(self) -> list[IndexedFile]:
        """Every file that is in the store now."""
        return self.added + self.updated + self.skipped

    @property
    def embedded(self) -> int:
        """How many files went through the model in this run."""
        return len(self.added) + len(self.updated)

    def extend(self, other: IndexReport) -> None:
        """Append ``other``'s added, updated, skipped and failed files to this report's."""
        self.added.extend(other.added)
        self.updated.extend(other.updated)
        self.skipped.extend(other.skipped)
        self.failed.extend(other.failed)

    def ignored_by_extension(self) -> dict[str, int]:
        """How many files were ignored, by extension, most first: ``{".mov": 300, ".xmp": 12}``."""
        return dict(Counter(file.extension for file in self.ignored).most_common())

    def summary(self) -> str:
        """One line: counts of each outcome, the embedding speed, and the files ignored."""
        rate = f", {self.embedded / self.seconds:.1f} images/s" if self.seconds > 0 and self.embedded else ""
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed, {len(self.removed)} removed in {self.seconds:.1f}s{rate}"
        )
        if self.refreshed:
            line += f"; {self.refreshed} older entries completed (picture facts, files)"
        if self.ocr != "off":
            line += f"; OCR ({self.ocr}) read {self.ocr_read} pictures, {self.ocr_found} with words"
        if self.ignored:
            counts = ", ".join(f"{ext} {n}" for ext, n in self.ignored_by_extension().items())
            line += f"; ignored {len(self.ignored)} file{'s' * (len(self.ignored) != 1)}: {counts}"
        return line

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the schema of ``siglip-retriever index --report``)."""
        data = asdict(self)
        data["ignored_by_extension"] = self.ignored_by_extension()
        data["summary"] = self.summary()
        return data

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the report as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")


def stopped(exc: StoreError, report: IndexReport) -> StoreError:
    """``exc`` again, saying what was written before it and carrying ``report`` (``exc.report``).

    For a run that a store error (a server gone, say) stopped half-way: the report lists only
    files that are in the store, and running the same indexing again finishes the work.
    """
    written = len(report.added) + len(report.updated)
    message = (
        f"{exc}. Indexing stopped: {written} files were written before this ({len(report.added)} "
        f"added, {len(report.updated)} updated) and {len(report.skipped)} were already stored; "
        "the error's .report lists them. Run the same indexing again to finish: what is stored is "
        "skipped, nothing is stored twice"
    )
    try:
        error = type(exc)(message)
    except TypeError:  # an error class with another signature: keep it as it is
        error = exc
    error.report = report
    return error
