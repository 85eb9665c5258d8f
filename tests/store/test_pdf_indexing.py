"""PDF files in indexing (store/pdfs.py): one entry per page and per figure, incremental by the PDF's
content hash, bad files and pages reported; on real chromadb with the tiny model and real PDFs
(tests/documents.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.store.entries import content_id
from siglip_retriever.store.pdfs import parse_part_id
from siglip_retriever.store.scanning import scan_folder
from tests.documents import (
    REPORT_PAGES,
    Page,
    write_broken_pdf,
    write_empty_pdf,
    write_encrypted_pdf,
    write_long_pdf,
    write_pageless_pdf,
    write_pdf_with_broken_page,
    write_photos,
    write_text_pdf,
)


def _store(encoder: SiglipEncoder) -> MultimodalStore:
    return MultimodalStore.in_memory(encoder=encoder)


def _names(items: list) -> list[str]:
    return sorted(Path(item.path).name for item in items)


def test_pages_and_figures_become_entries(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    pdf = write_text_pdf(tmp_path / "docs" / "report.pdf")
    store = _store(tiny_encoder)
    report = store.index_folder(tmp_path / "docs", ocr="off")
    key = content_id("image", pdf.read_bytes())
    pages = [f"{key}-p{n}" for n in range(1, 5)]
    figures = [f"{key}-p2-f1", f"{key}-p3-f1", f"{key}-p3-f2"]
    assert sorted(item.id for item in report.added) == sorted(pages + figures)
    assert _names(report.added)[:3] == [
        "report.pdf#page=1",
        "report.pdf#page=2",
        "report.pdf#page=2&figure=1",
    ]
    assert report.failed == [] and report.ignored == []
    items = {item.id: item for item in store.get(pages + figures)}
    first, second, figure = items[pages[0]], items[pages[1]], items[figures[2]]
    path = str(pdf.resolve())
    assert first.uri == path and first.kind == "image"
    assert first.metadata["source"] == path and first.metadata["page"] == 1
    assert first.metadata["page_label"] == "i" and second.metadata["page_label"] == "1"
    assert first.metadata["part"] == "page" and "figure" not in first.metadata
    assert figure.metadata["part"] == "figure" and figure.metadata["figure"] == 2
    assert figure.metadata["page"] == 3 and figure.metadata["page_label"] == "2"
    assert first.metadata["ocr"] == "pdf text layer"  # a text layer counts as read
    assert "ocr" not in figure.metadata  # OCR off: figures not read
    shown = second.result_metadata()
    assert shown["paths"] == [path] and "failed_pages" not in shown
    # the text layers are the pages' words (source "pdf"); figures carry none
    words = store.words(pages + figures)
    assert set(words) == set(pages)
    assert words[pages[1]].text == "\n".join(REPORT_PAGES[1].lines)
    assert words[pages[1]].engine == "pdf text layer"
    hits = store.query_words(tiny_encoder.encode_query(words[pages[3]].text), k=1)
    assert hits[0][0] == pages[3]


def test_pdfs_are_incremental_by_content(
    tiny_encoder: SiglipEncoder, tmp_path: Path, embedded: list[int]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    pdf = write_text_pdf(folder / "report.pdf")
    store = _store(tiny_encoder)
    first = store.index_folder(folder, ocr="off")
    assert len(first.added) == 7 and sum(embedded) == 7
    # unchanged: skipped unread
    again = store.index_folder(folder)
    assert len(again.skipped) == 7 and {item.status for item in again.skipped} == {"unchanged"}
    assert sum(embedded) == 7
    # touched: same content, read and hashed, not rendered or embedded
    os.utime(pdf, ns=(pdf.stat().st_atime_ns, pdf.stat().st_mtime_ns + 10**9))
    touched = store.index_folder(folder)
    assert len(touched.skipped) == 7 and touched.embedded == 0 and sum(embedded) == 7
    assert store.get([first.added[0].id])[0].metadata["mtime_ns"] == pdf.stat().st_mtime_ns
    # a copy: the same entries record both files
    copy = folder / "copy.pdf"
    shutil.copy2(pdf, copy)
    copied = store.index_folder(folder)
    statuses = {item.status for item in copied.skipped if "copy.pdf" in item.path}
    assert statuses == {"duplicate"} and sum(embedded) == 7
    assert store.get([first.added[0].id])[0].result_metadata()["paths"] == sorted(
        [str(pdf.resolve()), str(copy.resolve())]
    )
    copy.unlink()
    store.index_folder(folder, remove_missing=True)
    assert store.get([first.added[0].id])[0].result_metadata()["paths"] == [str(pdf.resolve())]
    # changed: its entries replaced, the old ones and their words gone
    old = {item.id for item in first.added}
    write_text_pdf(pdf, [Page(("A new first page",)), Page(("A new second page",))], front_matter=0)
    changed = store.index_folder(folder)
    assert [item.status for item in changed.updated] == ["updated", "updated"]
    assert store.get(sorted(old)) == [] and store.words(sorted(old)) == {}
    assert store.count() == 2 and store.words_count() == 2
    # removed: its entries and words go with remove_missing
    pdf.unlink()
    removed = store.index_folder(folder, remove_missing=True)
    assert removed.removed == [str(pdf.resolve())]
    assert store.count() == 0 and store.words_count() == 0


def test_bad_pdfs_and_pages_are_reported_with_their_reasons(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_broken_pdf(folder / "broken.pdf")
    write_encrypted_pdf(folder / "encrypted.pdf")
    write_empty_pdf(folder / "empty.pdf")
    write_pageless_pdf(folder / "no_pages.pdf")
    write_pdf_with_broken_page(folder / "torn.pdf", broken=2)
    (folder / "fake.pdf").write_text("this is not a PDF at all")
    store = _store(tiny_encoder)
    report = store.index_folder(folder, ocr="off")
    reasons = {Path(item.path).name: item.reason for item in report.failed}
    assert "damaged" in reasons["broken.pdf"]
    assert "encrypted" in reasons["encrypted.pdf"] and "password" in reasons["encrypted.pdf"]
    assert "empty" in reasons["empty.pdf"]
    assert "no pages" in reasons["no_pages.pdf"]
    assert "not a PDF" in reasons["fake.pdf"]
    assert "page" in reasons["torn.pdf#page=2"]
    assert len(reasons) == 6
    # the other pages of the torn PDF are indexed
    torn = sorted(Path(item.path).name for item in report.added)
    assert "torn.pdf#page=1" in torn and "torn.pdf#page=3" in torn and "torn.pdf#page=2" not in torn
    # nothing skipped in silence: the failed page is reported again while the file is unchanged
    again = store.index_folder(folder)
    assert {Path(item.path).name for item in again.failed} == set(reasons)
    repeated = next(item for item in again.failed if item.path.endswith("torn.pdf#page=2"))
    assert "as when the file was indexed" in repeated.reason
    # and the bookkeeping of it is internal
    entry = store.get([report.added[0].id])[0]
    assert "failed_pages" in entry.metadata and "failed_pages" not in entry.result_metadata()


def test_pages_are_embedded_in_batches(
    tiny_encoder: SiglipEncoder, tmp_path: Path, embedded: list[int]
) -> None:
    """Pages are rendered one at a time and embedded a batch at a time (the tiny encoder's 4)."""
    pdf = write_long_pdf(tmp_path / "long.pdf", pages=18, figure_every=6)
    store = _store(tiny_encoder)
    report = store.index_folder(tmp_path, ocr="off")
    assert len(report.added) == 18 + 3 and report.failed == []
    assert max(embedded) <= tiny_encoder.batch_size and sum(embedded) == 21
    pages = sorted(parse_part_id(item.id)[1:] for item in report.added if parse_part_id(item.id))
    assert pages[:3] == [(1, 0), (1, 1), (2, 0)]
    assert pdf.exists()


def test_scan_offers_pdfs_and_says_why_when_left_out(tmp_path: Path) -> None:
    write_text_pdf(tmp_path / "report.pdf")
    write_photos(tmp_path, per_class=1)
    scan = scan_folder(tmp_path)
    assert "report.pdf" in [path.name for path in scan.files] and scan.ignored == []
    only_pictures = scan_folder(tmp_path, extensions=["png"])
    assert [(Path(item.path).name, item.reason) for item in only_pictures.ignored] == [
        ("report.pdf", "extension .pdf is not among those asked for (.png)")
    ]


def test_index_files_takes_a_pdf_and_duplicates_leave_pdf_parts_out(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    from siglip_retriever.store.indexing import index_files

    blank = [Page(()), Page(())]  # two identical blank pages: one picture twice
    pdf = write_text_pdf(tmp_path / "blank.pdf", blank, front_matter=0)
    store = _store(tiny_encoder)
    report = index_files(store, [pdf], ocr="off")
    assert len(report.added) == 2
    found = store.find_duplicates()
    assert list(found) == [] and found.checked == 0  # pages of a PDF are not files to delete


@pytest.mark.parametrize("name", ["report.PDF"])
def test_upper_case_extension_is_a_pdf(tiny_encoder: SiglipEncoder, tmp_path: Path, name: str) -> None:
    write_text_pdf(tmp_path / name, REPORT_PAGES[:1], front_matter=0)
    report = _store(tiny_encoder).index_folder(tmp_path, ocr="off")
    assert [Path(item.path).name for item in report.added] == [f"{name}#page=1"]
