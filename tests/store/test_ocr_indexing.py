"""OCR at index time (store/reading.py): ``ocr="auto"|"all"|"off"``, the setting the store remembers,
older entries read without embedding them again, scanned PDF pages; real rapidocr, real chromadb,
the tiny model and the corpus of tests/documents.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, MissingDependencyError
from siglip_retriever.store.engines import check_engine
from siglip_retriever.store.reading import AUTO_THRESHOLD, TEXT_PROMPTS, WordReader, resolve_ocr
from tests.documents import SLIDES, write_photos, write_scanned_pdf, write_slides

THREE = (SLIDES[0], SLIDES[2], SLIDES[6])  # English and French slides, an English screenshot


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three pictures with words and two photos without."""
    root = tmp_path / "pictures"
    write_slides(root, THREE)
    for extra in write_photos(root, per_class=1)[2:]:  # the demo's 24 shapes: keep two
        extra.unlink()
    return root


def _by_name(report_items: list) -> dict[str, str]:
    return {Path(item.path).name: item.id for item in report_items}


def test_all_reads_every_picture_and_records_it(tiny_encoder: SiglipEncoder, folder: Path) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    report = store.index_folder(folder, ocr="all")
    assert report.ocr == "all" and report.ocr_read == 5 and report.ocr_found >= 3
    ids = _by_name(report.added)
    words = store.words(list(ids.values()))
    revenue = words[ids["slide_revenue.png"]]
    assert "Quarterly revenue 2026" in revenue.text and revenue.engine.startswith("rapidocr")
    assert all(line.confidence >= 0.5 and len(line.box) == 4 for line in revenue.lines)
    assert "Lyon" in words[ids["slide_affaires.png"]].text
    assert "Notifications" in words[ids["screenshot_settings.png"]].text
    for item in store.get(list(ids.values())):
        assert item.metadata["ocr"] == revenue.engine  # read, words or not
    assert store.ocr_setting == "all"
    assert "OCR (all) read 5 pictures" in report.summary()


def test_turning_ocr_on_reads_stored_pictures_without_embedding(
    tiny_encoder: SiglipEncoder, folder: Path, embedded: list[int]
) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    off = store.index_folder(folder, ocr="off")
    assert len(off.added) == 5 and store.words_count() == 0 and off.ocr_read == 0
    assert all("ocr" not in item.metadata for item in store.get(where={"kind": "image"}))
    before = sum(embedded)
    on = store.index_folder(folder, ocr="all")
    assert sum(embedded) == before  # nothing embedded again
    assert len(on.skipped) == 5 and on.ocr_read == 5 and store.words_count() >= 3
    # unchanged files are not read again; the remembered setting is used when none is given
    again = store.index_folder(folder)
    assert again.ocr == "all" and again.ocr_read == 0


def test_auto_reads_what_the_model_judges_text_bearing(tiny_encoder: SiglipEncoder, folder: Path) -> None:
    """The tiny random model fails auto's check: auto reads no picture, and records nothing (its
    judgement means nothing)."""
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    report = store.index_folder(folder, ocr="auto")
    assert report.ocr == "auto" and report.ocr_read == 0 and store.words_count() == 0
    for item in store.get(where={"kind": "image"}):
        assert "text_probability" not in item.metadata and "ocr" not in item.metadata
    # auto does not look again; all reads what auto left
    assert store.index_folder(folder, ocr="auto").ocr_read == 0
    assert store.index_folder(folder, ocr="all").ocr_read == 5


class TrustingReader(WordReader):
    """A reader that trusts its model's judgement (the tiny model fails the check)."""

    def model_tells_text(self) -> bool:
        return True


def test_auto_choice_follows_the_calibrated_probability(tiny_encoder: SiglipEncoder) -> None:
    words = TrustingReader("auto", tiny_encoder)
    prompt = tiny_encoder.encode_texts([TEXT_PROMPTS[0]])[0]  # a picture "just like" a screenshot
    other = np.zeros_like(prompt)
    other[int(np.argmin(np.abs(prompt)))] = 1.0  # a picture unlike every prompt
    (near, near_p), (far, far_p) = words.choose(np.stack([prompt, other]))
    assert near and near_p == pytest.approx(0.5, abs=1e-3)  # sigmoid(10 * 1 - 10) for the tiny model
    assert not far and far_p < AUTO_THRESHOLD
    assert words.choose(np.stack([other]), scans=[True]) == [(True, far_p)]  # a scan is always read
    assert WordReader("all", tiny_encoder).choose(np.stack([other])) == [(True, None)]
    assert WordReader("off", tiny_encoder).choose(np.stack([prompt])) == [(False, None)]


def test_auto_does_not_trust_a_model_that_cannot_tell_text(tiny_encoder: SiglipEncoder) -> None:
    """The tiny random model and the demo model do not pass the check: auto reads only scans."""
    demo = SiglipEncoder("demo", device="cpu")
    for encoder in (tiny_encoder, demo):
        words = WordReader("auto", encoder)
        assert not words.model_tells_text()
        prompt = encoder.encode_texts([TEXT_PROMPTS[0]])
        assert words.choose(prompt) == [(False, None)]
        assert words.choose(prompt, scans=[True]) == [(True, None)]


def test_scanned_pdf_pages_are_read_when_ocr_is_on(
    tiny_encoder: SiglipEncoder, tmp_path: Path, embedded: list[int]
) -> None:
    write_scanned_pdf(tmp_path / "scanned.pdf")
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    off = store.index_folder(tmp_path, ocr="off")
    assert len(off.added) == 2 and store.words_count() == 0
    embedded_before = sum(embedded)
    on = store.index_folder(tmp_path, ocr="auto")  # auto reads scans whatever the model says
    assert sum(embedded) == embedded_before and on.ocr_read == 2
    ids = _by_name(on.skipped)
    words = store.words(list(ids.values()))
    assert "aquarium" in words[ids["scanned.pdf#page=2"]].text
    assert "aquarium" not in words[ids["scanned.pdf#page=1"]].text
    assert store.get([ids["scanned.pdf#page=2"]])[0].metadata["ocr"].startswith("rapidocr")
    # a new scanned PDF with OCR on: read while it is embedded
    (tmp_path / "more").mkdir()
    write_scanned_pdf(tmp_path / "more" / "letter.pdf", [("Letter about the lighthouse",)])
    fresh = store.index_folder(tmp_path / "more")
    assert fresh.ocr == "auto" and fresh.ocr_read == 1
    assert "lighthouse" in store.words([fresh.added[0].id])[fresh.added[0].id].text


def test_settings_are_checked(
    tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    with pytest.raises(ConfigurationError, match="ocr must be one of auto, all, off"):
        store.index_folder(tmp_path, ocr="some")
    with pytest.raises(ConfigurationError, match="does not read the words in pictures yet"):
        check_engine("ray", [tmp_path], ocr="all")
    assert resolve_ocr(None) == "auto"  # rapidocr is installed here
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rapidocr" else real(name, *a)
    )
    with pytest.raises(MissingDependencyError, match=r"siglip-retriever\[ocr\]"):
        resolve_ocr("auto")
    assert resolve_ocr(None) == "off" and resolve_ocr(None, remembered="all") == "off"
