"""PDFs read page by page with the real pypdfium2: pages, labels, text layers, figures, failures."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from siglip_retriever.demo import render
from siglip_retriever.encoding.pdf import TEXT_LAYER, PdfFailure, PdfPart, read_pdf
from siglip_retriever.errors import ConfigurationError, ImageLoadError, MissingDependencyError, PdfError
from tests.documents import (
    REPORT_PAGES,
    SCANNED_PAGES,
    Page,
    text_pdf_bytes,
    write_broken_pdf,
    write_empty_pdf,
    write_encrypted_pdf,
    write_pageless_pdf,
    write_pdf_with_broken_page,
    write_scanned_pdf,
    write_text_pdf,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdfs")


@pytest.fixture(scope="module")
def report(folder: Path) -> Path:
    return write_text_pdf(folder / "report.pdf")


@pytest.fixture(scope="module")
def report_parts(report: Path) -> list[PdfPart | PdfFailure]:
    return list(read_pdf(report))


def parts_of(parts: list[PdfPart | PdfFailure]) -> list[PdfPart]:
    assert all(isinstance(part, PdfPart) for part in parts), parts
    return [part for part in parts if isinstance(part, PdfPart)]


def test_pages_come_in_order_with_numbers_labels_and_their_text_layer(
    report_parts: list[PdfPart | PdfFailure],
) -> None:
    pages = [part for part in parts_of(report_parts) if part.kind == "page"]
    assert [(part.page, part.page_label, part.index) for part in pages] == [
        (1, "i", 0),
        (2, "1", 0),
        (3, "2", 0),
        (4, "3", 0),
    ]
    for part, written in zip(pages, REPORT_PAGES, strict=True):
        assert part.text is not None and part.text.engine == TEXT_LAYER
        assert part.text.text == "\n".join(written.lines)
        assert all(line.confidence == 1.0 for line in part.text.lines)


def test_a_page_is_rendered_in_rgb_with_its_long_side_render_side(
    report: Path, report_parts: list[PdfPart | PdfFailure]
) -> None:
    first = parts_of(report_parts)[0]
    assert first.picture.mode == "RGB"
    assert max(first.picture.size) == 1024
    assert first.picture.size == (724, 1024) or first.picture.size == (725, 1024)  # A4
    small = next(read_pdf(report, render_side=300))
    assert isinstance(small, PdfPart) and max(small.picture.size) == 300


def test_text_layer_boxes_are_in_the_rendered_pictures_pixels(
    report_parts: list[PdfPart | PdfFailure],
) -> None:
    page = parts_of(report_parts)[1]  # "Quarterly revenue 2026" in 22 pt type at fpdf2's 10 mm margins
    assert page.text is not None
    title, second = page.text.lines[0].box, page.text.lines[1].box
    (x0, y0), (x1, _), (_, y1), _ = title
    pixels_per_mm = 1024 / 297
    assert abs(x0 - 10 * pixels_per_mm) < 6 and abs(y0 - 10 * pixels_per_mm) < 12
    assert 150 < x1 - x0 < 500 and 15 < y1 - y0 < 45
    assert second[0][1] > y1  # the next line is below
    grey = np.asarray(page.picture.convert("L"))
    assert grey[int(y0) : int(y1), int(x0) : int(x1)].min() < 80  # ink inside the box
    assert grey[int(y1) + 2 : int(second[0][1]) - 2, int(x0) : int(x1)].min() > 200  # none between lines


def test_a_rotated_pages_boxes_are_in_its_rendered_pictures_pixels() -> None:
    import io

    import pypdfium2

    document = pypdfium2.PdfDocument(text_pdf_bytes())
    document[1].set_rotation(90)  # shown turned a quarter clockwise: landscape, lines run downwards
    rotated = io.BytesIO()
    document.save(rotated)
    document.close()
    page = parts_of(list(read_pdf(rotated.getvalue())))[1]
    assert page.picture.size[0] > page.picture.size[1] and page.text is not None
    grey = np.asarray(page.picture.convert("L"))
    assert sorted(line.text for line in page.text.lines) == sorted(REPORT_PAGES[1].lines)
    for line in page.text.lines:
        (x0, y0), (x1, _), (_, y1), _ = line.box
        assert y1 - y0 > 5 * (x1 - x0)  # a vertical strip
        assert grey[int(y0) : int(y1), int(x0) : int(x1)].min() < 80


def test_figures_are_found_with_their_page_at_their_own_pixels(
    report_parts: list[PdfPart | PdfFailure],
) -> None:
    figures = [part for part in parts_of(report_parts) if part.kind == "figure"]
    assert [(part.page, part.page_label, part.index, part.text) for part in figures] == [
        (2, "1", 1, None),
        (3, "2", 1, None),
        (3, "2", 2, None),
    ]
    # the very pixels written: write_text_pdf draws the shapes in order from one generator
    rng = np.random.default_rng(len(REPORT_PAGES))
    for part, (shape, colour) in zip(
        figures, [("circle", "red"), ("square", "blue"), ("star", "green")], strict=True
    ):
        assert part.picture.mode == "RGB" and part.picture.size == (160, 160)
        assert np.array_equal(np.asarray(part.picture), np.asarray(render(shape, colour, rng, size=160)))


def test_each_figure_follows_its_page(report_parts: list[PdfPart | PdfFailure]) -> None:
    order = [(part.page, part.kind) for part in parts_of(report_parts)]
    assert order == [
        (1, "page"),
        (2, "page"),
        (2, "figure"),
        (3, "page"),
        (3, "figure"),
        (3, "figure"),
        (4, "page"),
    ]


def test_pictures_smaller_than_min_figure_side_are_not_figures(report: Path) -> None:
    parts = parts_of(list(read_pdf(report, min_figure_side=161)))
    assert [part.kind for part in parts] == ["page"] * 4


def test_a_figure_repeated_on_several_pages_comes_once(folder: Path) -> None:
    logo = (("triangle", "purple"),)
    path = folder / "logo.pdf"
    path.write_bytes(text_pdf_bytes([Page(("One",), logo), Page(("Two",), logo)], front_matter=0))
    # fpdf2 draws the same shape twice (new pixels each time from its generator): not the same picture
    assert len([p for p in parts_of(list(read_pdf(path))) if p.kind == "figure"]) == 2
    import io

    from fpdf import FPDF

    pdf, picture = FPDF(), render("triangle", "purple", 3, size=128)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    for text in ("One", "Two"):
        pdf.add_page()
        pdf.set_font("helvetica", size=20)
        pdf.cell(text=text)
        pdf.image(io.BytesIO(buffer.getvalue()), x=20, y=60, w=50)
    parts = parts_of(list(read_pdf(bytes(pdf.output()))))
    assert [(part.page, part.kind) for part in parts] == [(1, "page"), (1, "figure"), (2, "page")]


def test_scanned_pages_have_no_text_layer_and_are_not_figures(folder: Path) -> None:
    parts = parts_of(list(read_pdf(write_scanned_pdf(folder / "scan.pdf"))))
    assert [(part.page, part.page_label, part.kind, part.text) for part in parts] == [
        (1, "1", "page", None),
        (2, "2", "page", None),
    ]
    assert len(SCANNED_PAGES) == 2
    assert max(parts[0].picture.size) == 1024
    assert np.asarray(parts[0].picture.convert("L")).min() < 80  # the scan's ink is rendered


def test_a_broken_page_is_named_and_the_other_pages_are_read(folder: Path) -> None:
    # page 2's page object has a wrong /Type: PDFium 5.15 cannot load the page; the PDFium of
    # pypdfium2 5.0 loads and renders it, then cannot list its objects (its figures): either
    # way page 2 is named, with the reason, and the others are whole
    parts = list(read_pdf(write_pdf_with_broken_page(folder / "broken_page.pdf", broken=2)))
    failures = [part for part in parts if isinstance(part, PdfFailure)]
    assert [failure.page for failure in failures] == [2]
    assert "cannot load the page" in failures[0].reason or "cannot list" in failures[0].reason
    assert "PDFium: " in failures[0].reason
    pages = [part for part in parts if isinstance(part, PdfPart) and part.kind == "page" and part.page != 2]
    assert [(part.page, part.text.text.splitlines()[0] if part.text else None) for part in pages] == [
        (1, "Annual report 2026"),
        (3, "Umsatz pro Quartal"),
        (4, "Outlook"),
    ]
    assert [part.page for part in parts if isinstance(part, PdfPart) and part.kind == "figure"] == [3, 3]


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (write_broken_pdf, "not a PDF or damaged"),
        (write_encrypted_pdf, "encrypted (needs a password)"),
        (write_empty_pdf, "empty file (0 bytes)"),
        (write_pageless_pdf, "no pages"),
    ],
)
def test_a_pdf_that_cannot_be_read_raises_one_error_naming_file_and_reason(
    folder: Path, write: object, reason: str
) -> None:
    path = write(folder / f"{write.__name__}.pdf")  # type: ignore[attr-defined,operator]
    with pytest.raises(PdfError) as caught:
        list(read_pdf(path))
    assert caught.value.source == str(path)
    assert reason in caught.value.reason
    assert str(caught.value) == f"cannot read PDF {path}: {caught.value.reason}"
    assert isinstance(caught.value, ImageLoadError)  # indexing reports it as any unreadable file


def test_a_file_that_is_not_a_pdf_or_is_missing(folder: Path) -> None:
    png = folder / "picture.pdf"
    render("circle", "red", 0, size=64).save(png, "PNG")
    with pytest.raises(PdfError, match="not a PDF"):
        list(read_pdf(png))
    with pytest.raises(PdfError, match="file not found"):
        list(read_pdf(folder / "missing.pdf"))


def test_bytes_are_read_and_named_by_their_size(report: Path) -> None:
    data = report.read_bytes()
    assert [(p.page, p.kind) for p in parts_of(list(read_pdf(data)))][:2] == [(1, "page"), (2, "page")]
    with pytest.raises(PdfError, match=r"^cannot read PDF bytes \(9 B\): "):
        list(read_pdf(b"%PDF-1.7\n"))


def test_threads_each_read_a_pdf(report: Path, folder: Path) -> None:
    scan = write_scanned_pdf(folder / "scan_threads.pdf")
    expected = {
        path: [(p.page, p.kind, p.picture.tobytes()) for p in parts_of(list(read_pdf(path)))]
        for path in (report, scan)
    }
    results: dict[Path, list[tuple[int, str, bytes]]] = {}

    def read(path: Path) -> None:
        results[path] = [(p.page, p.kind, p.picture.tobytes()) for p in parts_of(list(read_pdf(path)))]

    threads = [threading.Thread(target=read, args=(path,)) for path in (report, scan, report)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected


def test_a_reader_left_after_its_first_page_closes_the_file(report: Path) -> None:
    parts = read_pdf(report)
    first = next(parts)
    assert isinstance(first, PdfPart) and first.page == 1
    parts.close()  # the page and the document are closed; nothing else is read
    assert next(read_pdf(report)).page == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("option", ["render_side", "min_figure_side"])
def test_sizes_below_one_pixel_are_refused(report: Path, option: str) -> None:
    with pytest.raises(ConfigurationError, match=option):
        read_pdf(report, **{option: 0})  # type: ignore[arg-type]


def test_without_pypdfium2_the_error_names_the_extra(report: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(MissingDependencyError, match=r"siglip-retriever\[pdf\]") as caught:
        list(read_pdf(report))
    assert caught.value.extra == "pdf"
