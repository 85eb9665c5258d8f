"""Indexing PDF files: one entry per page (the page rendered, its text layer as its words) and one
per figure (a picture embedded in a page), incrementally by the PDF's content hash.

An entry of a PDF is an image entry whose id is the PDF's content id and its place in it
(:func:`part_id`: ``img-<sha256 of the PDF>-p3``, ``img-<...>-p3-f1``) and whose metadata holds,
beside an image's (its file: the PDF; the picture's facts), ``source`` (the PDF's path),
``page`` (from 1), ``page_label``, ``part`` (``"page"`` or ``"figure"``) and ``figure``
(:mod:`siglip_retriever.store.metadata`). A page's text layer is stored as its words
(``source="pdf"``); a page without one (a scan) is read by OCR when OCR is on, and so are figures
as the OCR setting says (:mod:`siglip_retriever.store.reading`).

What a run does with a PDF file (:class:`PdfIndexer`), as indexing does with a picture file:

- its path, size and time are those its entries record: skipped, unread (``unchanged``);
- else it is read and hashed: a content already stored (touched, copied, moved) joins those
  entries without being rendered; new content is rendered page by page (one page in memory at
  a time) and embedded in batches, and its entries are written when the whole file is done
  (an interrupted run leaves none, and the next one starts the file again); the entries the
  path held before (an older version of the file) lose it, and are deleted when it was their
  last file;
- a file that cannot be read at all (damaged, encrypted, empty, no pages) goes to the report's
  ``failed`` with its reason, and so does each page that fails (``file.pdf#page=3``), while the
  other pages are indexed. The failed pages are recorded on the file's entries and reported
  again while the file is unchanged: nothing is skipped in silence.

A removed PDF is forgotten with the other removed files (``remove_missing``). The report names
each entry as ``file.pdf#page=N`` (``&figure=M`` for figures).

Example:
    >>> from siglip_retriever.store.pdfs import parse_part_id, part_id, part_location
    >>> part_id("img-" + "ab" * 16, 3, 1)
    'img-abababababababababababababababab-p3-f1'
    >>> parse_part_id(part_id("img-" + "ab" * 16, 3))
    ('img-abababababababababababababababab', 3, 0)
    >>> part_location("/docs/report.pdf", 3, 1)
    '/docs/report.pdf#page=3&figure=1'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ImageLoadError, MissingDependencyError
from siglip_retriever.store.facts import prepare_picture
from siglip_retriever.store.metadata import (
    FACTS,
    FACTS_VERSION,
    FAILED_PAGES,
    FIGURE,
    KIND,
    OCR,
    PAGE,
    PAGE_LABEL,
    PART,
    SOURCE,
)
from siglip_retriever.store.parts import PartsIndexer
from siglip_retriever.store.reading import OcrState, ocr_state
from siglip_retriever.store.report import FailedFile, Status
from siglip_retriever.store.scanning import PDF_EXTENSIONS

if TYPE_CHECKING:
    from siglip_retriever.encoding.ocr import PictureText
    from siglip_retriever.encoding.pdf import PdfPart
    from siglip_retriever.store.plan import FileFacts
    from siglip_retriever.store.report import IndexReport

__all__ = [
    "MIN_FIGURE_SIDE",
    "RENDER_SIDE",
    "PdfIndexer",
    "is_pdf",
    "parse_part_id",
    "part_id",
    "part_location",
]

RENDER_SIDE = 1280
"""The long side, in pixels, a page is rendered at: the model makes it small anyway; OCR of a
scanned page reads its words at this size (an A4 page at about 110 dpi)."""

MIN_FIGURE_SIDE = 64
"""Pictures in a page with a side shorter than this (icons, bullets, rules) are not figures."""

_ID = re.compile(r"^(img-[0-9a-f]{32})-p(\d+)(?:-f(\d+))?$")


def is_pdf(path: str | Path) -> bool:
    """Whether a file is indexed as a PDF (by its extension)."""
    return Path(path).suffix.lower() in PDF_EXTENSIONS


def part_id(pdf_key: str, page: int, figure: int = 0) -> str:
    """The id of a PDF's page (``figure=0``) or of a figure on it."""
    return f"{pdf_key}-p{page}" + (f"-f{figure}" if figure else "")


def parse_part_id(entry_id: str) -> tuple[str, int, int] | None:
    """``(PDF content id, page, figure)`` of a PDF entry's id (``figure`` 0 for a page); ``None``
    for other ids."""
    match = _ID.match(entry_id)
    if match is None:
        return None
    return match.group(1), int(match.group(2)), int(match.group(3) or 0)


def part_location(path: str, page: int, figure: int = 0) -> str:
    """How reports name a page (``file.pdf#page=3``) or a figure (``#page=3&figure=1``)."""
    return f"{path}#page={page}" + (f"&figure={figure}" if figure else "")


@dataclass
class _Written:
    """A PDF's entries as its reading goes, written when the file is done."""

    ids: list[str] = field(default_factory=list)
    vectors: list[npt.NDArray[np.float32]] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)
    layer: dict[str, PictureText] = field(default_factory=dict)  # text layers: source "pdf"
    read: dict[str, PictureText] = field(default_factory=dict)  # read by OCR
    failures: list[tuple[int | None, str]] = field(default_factory=list)


class PdfIndexer(PartsIndexer):
    """One indexing run's PDF files (see the module's notes); its arguments are those of
    :class:`~siglip_retriever.store.parts.PartsIndexer`.

    Example:
        >>> import tempfile
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> from siglip_retriever.store import reading, report
        >>> words = reading.WordReader("off", store.encoder)
        >>> pdfs = PdfIndexer(store, report.IndexReport("/docs"), {}, words)
        >>> pdfs.by_content
        {}
    """

    prefix = "img"

    @staticmethod
    def key_of(entry_id: str) -> str | None:
        """The PDF's content id of a page's or figure's entry."""
        parsed = parse_part_id(entry_id)
        return parsed[0] if parsed is not None else None

    def location(self, path: str, entry_id: str, metadata: dict[str, Any]) -> str:
        """``file.pdf#page=3`` (``&figure=1`` for a figure)."""
        _, page, figure = parse_part_id(entry_id) or ("", 0, 0)
        return part_location(path, page, figure)

    def order(self, entry_id: str) -> tuple[int, ...]:
        """Page, then figure (0 for the page itself)."""
        parsed = parse_part_id(entry_id)
        return (parsed[1], parsed[2]) if parsed is not None else (0, 0)

    def recorded_failures(self, path: str, metadata: dict[str, Any]) -> list[FailedFile]:
        """The pages that failed when the PDF was indexed (``failed_pages``)."""
        failed = []
        for page, reason in json.loads(str(metadata.get(FAILED_PAGES) or "[]")):
            where = path if page is None else part_location(path, int(page))
            failed.append(FailedFile(where, f"{reason} (as when the file was indexed)"))
        return failed

    # -- stored content whose words are wanted now -------------------------------------------

    def read_stored(self, file: FileFacts, key: str, metas: dict[str, dict[str, Any]]) -> None:
        """Read the words of a stored PDF's entries that this run's setting wants read: pages
        without a text layer, and figures (``auto`` judges them by their stored vectors)."""
        wanted: dict[str, float | None] = {}
        figures: list[str] = []
        for entry, meta in metas.items():
            state: OcrState = ocr_state(meta)
            if state == "read" or (state == "unlikely" and self.words.setting != "all"):
                continue
            if meta.get(PART) == "figure":
                figures.append(entry)
            else:
                wanted[entry] = None  # a scan: read when OCR is on
        judged: dict[str, dict[str, Any]] = {}
        if figures:
            items = [
                item for item in self.store.get(figures, include_vectors=True) if item.vector is not None
            ]
            if items:
                choices = self.words.choose(
                    np.stack([item.vector for item in items if item.vector is not None])
                )
                for item, (chosen, probability) in zip(items, choices, strict=True):
                    if chosen:
                        wanted[item.id] = probability
                    elif probability is not None:
                        judged[item.id] = self.words.metadata(False, probability)
        read: dict[str, PictureText] = {}
        for part in _parts(file, None) if wanted else ():
            entry = part_id(key, part.page, part.index)
            if entry in wanted:
                read[entry] = self.words.read(part.picture)
            del part
        self.store.set_words(list(read), list(read.values()), source="ocr")
        done = {entry: self.words.metadata(True, wanted[entry]) for entry in read}
        done.update(judged)
        self.store.update_metadata(list(done), list(done.values()))

    # -- new content -------------------------------------------------------------------------

    def embed(self, file: FileFacts, key: str, status: Status) -> None:
        """Render, embed (and read) a PDF page by page; write its entries when it is done."""
        encoder = self.store.encoder
        preparer = encoder.image_preparer()
        written = _Written()
        pending: list[tuple[str, Any, Any]] = []  # (id, prepared, the picture when OCR may read it)
        for part in _parts(file, self.report, written.failures):
            entry = part_id(key, part.page, part.index)
            prepared, facts = prepare_picture(preparer, part.picture)
            meta = {KIND: "image", **facts.metadata(), FACTS: FACTS_VERSION, **_part_metadata(file, part)}
            scan = part.kind == "page" and part.text is None
            if part.text is not None:
                written.layer[entry] = part.text
                meta[OCR] = part.text.engine
            elif scan and self.words.on:  # a scan: read now, whatever the vector says
                written.read[entry] = self.words.read(part.picture)
                meta.update(self.words.metadata(True, None))
            keep = part.picture if part.kind == "figure" and self.words.on else None
            written.ids.append(entry)
            written.metas.append(meta)
            pending.append((entry, prepared, keep))
            del part
            if len(pending) >= encoder.batch_size:
                self._vectors(pending, written)
                pending = []
        if pending:
            self._vectors(pending, written)
        self._write(file, status, written)

    def _vectors(self, pending: list[tuple[str, Any, Any]], written: _Written) -> None:
        """Embed a batch of a PDF's pictures; its figures read as the OCR setting says."""
        vectors = self.store.encoder.encode_images([prepared for _, prepared, _ in pending])
        written.vectors.append(vectors)
        figures = [
            (n, entry, picture) for n, (entry, _, picture) in enumerate(pending) if picture is not None
        ]
        if not figures:
            return
        offset = len(written.ids) - len(pending)
        choices = self.words.choose(vectors[[n for n, _, _ in figures]])
        for (n, entry, picture), (read, probability) in zip(figures, choices, strict=True):
            if read:
                written.read[entry] = self.words.read(picture)
            written.metas[offset + n].update(self.words.metadata(read, probability))

    def _write(self, file: FileFacts, status: Status, written: _Written) -> None:
        """Write a PDF's words, then its entries (with its file), then report them."""
        if not written.ids:
            return
        failed = {FAILED_PAGES: json.dumps(written.failures, ensure_ascii=False)} if written.failures else {}
        self.store.set_words(list(written.layer), list(written.layer.values()), source="pdf")
        self.store.set_words(list(written.read), list(written.read.values()), source="ocr")
        self.write(file, status, written.ids, written.vectors, [{**meta, **failed} for meta in written.metas])


def _part_metadata(file: FileFacts, part: PdfPart) -> dict[str, Any]:
    meta: dict[str, Any] = {SOURCE: file.path, PAGE: part.page, PAGE_LABEL: part.page_label, PART: part.kind}
    if part.kind == "figure":
        meta[FIGURE] = part.index
    return meta


def _parts(
    file: FileFacts, report: IndexReport | None, failures: list[tuple[int | None, str]] | None = None
) -> Iterable[PdfPart]:
    """The pages and figures of a PDF file; each failure goes to the report (and ``failures``);
    without a report (reading a stored file again), they were reported when it was indexed."""
    from siglip_retriever.encoding.pdf import PdfFailure, read_pdf

    try:
        for item in read_pdf(file.source, render_side=RENDER_SIDE, min_figure_side=MIN_FIGURE_SIDE):
            if isinstance(item, PdfFailure):
                where = file.path if item.page is None else part_location(file.path, item.page)
                if report is not None:
                    report.failed.append(FailedFile(where, item.reason))
                if failures is not None:
                    failures.append((item.page, item.reason))
                continue
            yield item
    except (ImageLoadError, MissingDependencyError) as exc:  # PdfError: the whole file
        reason = exc.reason if isinstance(exc, ImageLoadError) else str(exc)
        if report is not None:
            report.failed.append(FailedFile(file.path, reason))
