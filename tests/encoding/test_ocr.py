"""OCR: the real rapidocr models on the corpus' pictures; what a picture says as JSON and back."""

from __future__ import annotations

import logging
import sys
import threading

import numpy as np
import pytest

from siglip_retriever.demo import render
from siglip_retriever.encoding.ocr import OcrReader, PictureText, TextLine
from siglip_retriever.errors import ConfigurationError, MissingDependencyError
from tests.documents import SCANNED_PAGES, SLIDES, page_picture, picture_of, screenshot, slide

# four languages in Latin script, and Chinese in Han (what the bundled models read exactly:
# benchmarks/ocr.py measures the others)
SLIDE_LINES = (
    "Quarterly revenue 2026",
    "Umsatz pro Quartal",
    "chiffre d'affaires",
    "Reunión del equipo",
    "季度收入报告",
)


@pytest.fixture(scope="module")
def reader() -> OcrReader:
    return OcrReader()


@pytest.fixture(scope="module")
def slide_words(reader: OcrReader) -> PictureText:
    return reader.read(slide(SLIDE_LINES))


def test_reads_a_slide_in_five_languages_and_two_scripts(slide_words: PictureText) -> None:
    assert [line.text for line in slide_words.lines] == list(SLIDE_LINES)
    assert slide_words.text.splitlines()[0] == "Quarterly revenue 2026"
    assert all(0.5 <= line.confidence <= 1.0 for line in slide_words.lines)


def test_boxes_are_the_lines_corners_in_the_pictures_pixels(slide_words: PictureText) -> None:
    # tests.documents.slide draws the title at (60, 70) in 48 px type, the next line 91 px lower
    title, second = slide_words.lines[0].box, slide_words.lines[1].box
    assert len(title) == 4
    xs, ys = [x for x, _ in title], [y for _, y in title]
    assert 45 <= min(xs) <= 70 and 500 <= max(xs) <= 960
    assert 60 <= min(ys) <= 85 and 100 <= max(ys) <= 135
    assert min(y for _, y in second) > max(ys)


def test_engine_names_rapidocr_its_version_and_models(reader: OcrReader, slide_words: PictureText) -> None:
    from importlib.metadata import version

    assert reader.engine.startswith(f"rapidocr {version('rapidocr')} (PP-OCR")
    assert " det " in reader.engine and "rec " in reader.engine
    assert slide_words.engine == reader.engine


@pytest.mark.slow
def test_the_corpus_slides_screenshots_and_scans_are_read_exactly(reader: OcrReader) -> None:
    # what the search tests build on: every line of the corpus' pictures, in English, German,
    # French, Spanish and Chinese, read exactly (about 12 reads)
    for seed, item in enumerate(SLIDES):
        assert reader.read(picture_of(item, seed)).text == item.text, item.name
    for seed, lines in enumerate(SCANNED_PAGES):
        assert reader.read(page_picture(lines, seed=seed)).text == "\n".join(lines)


def test_a_photo_without_text_says_nothing(reader: OcrReader) -> None:
    # the models read a shape as a symbol ("●", "★"): lines without a letter or digit are left out
    words = reader.read(render("circle", "red", np.random.default_rng(1), size=512))
    assert words.lines == ()
    assert words.text == ""


def test_one_reader_is_shared_by_threads(reader: OcrReader) -> None:
    pictures = [screenshot(("Settings", "Dark mode")), screenshot(("Anmeldung", "Passwort"), dark=True)]
    results: dict[int, str] = {}
    threads = [
        threading.Thread(target=lambda n=n: results.__setitem__(n, reader.read(pictures[n]).text))
        for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {0: "Settings\nDark mode", 1: "Anmeldung\nPasswort"}


def test_rapidocr_loads_without_info_logging(capfd: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("RapidOCR").setLevel(logging.INFO)  # as rapidocr sets it on import
    words = OcrReader().read(slide(("Quarterly revenue 2026",)))
    assert words.text == "Quarterly revenue 2026"
    assert "INFO" not in capfd.readouterr().err


def test_without_rapidocr_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    reader = OcrReader()  # making one costs nothing and needs nothing
    with pytest.raises(MissingDependencyError, match=r"siglip-retriever\[ocr\]") as caught:
        reader.read(slide(("x",)))
    assert caught.value.extra == "ocr"


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_min_confidence_outside_0_to_1_is_refused(value: float) -> None:
    with pytest.raises(ConfigurationError, match="min_confidence"):
        OcrReader(min_confidence=value)


def test_picture_text_to_json_and_back() -> None:
    words = PictureText(
        (
            TextLine("季度收入报告", ((10.4, 5.6), (200.0, 5.0), (200.2, 30.0), (10.0, 30.0)), 0.98765),
            TextLine("Réunion", ((1, 40), (90, 40), (90, 60), (1, 60)), 1.0),
        ),
        "rapidocr 3.10.0 (PP-OCRv6 det small, rec small)",
    )
    data = words.to_json()
    assert "季度收入报告" in data and " " not in data.replace(
        "rapidocr 3.10.0 (PP-OCRv6 det small, rec small)", ""
    )
    back = PictureText.from_json(data)
    assert back.engine == words.engine
    assert back.text == "季度收入报告\nRéunion"
    assert back.lines[0].box == ((10.0, 6.0), (200.0, 5.0), (200.0, 30.0), (10.0, 30.0))
    assert back.lines[0].confidence == 0.988
    assert PictureText.from_json(back.to_json()) == back


def test_a_picture_that_says_nothing() -> None:
    nothing = PictureText((), "pdf text layer")
    assert nothing.text == ""
    assert PictureText.from_json(nothing.to_json()) == nothing
