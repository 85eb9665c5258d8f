"""``index --ocr`` (cli/index.py): the words in pictures and PDF pages read at index time, the setting
the store remembers, the report's OCR counts, and Ray refusing OCR."""

from __future__ import annotations

import json
from pathlib import Path

from tests.documents import SLIDES, write_scanned_pdf, write_slides, write_text_pdf
from tests.helpers import run_cli


def test_index_ocr_all_then_remembered(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_slides(folder, SLIDES[:1])
    write_text_pdf(folder / "report.pdf")
    write_scanned_pdf(folder / "scanned.pdf")
    options = ["--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db"), "--device", "cpu"]
    first = run_cli(*options, "index", str(folder), "--ocr", "all", "--json")
    assert first.exit_code == 0, first.output
    (report,) = json.loads(first.stdout)
    assert report["ocr"] == "all"
    # the slide, the 2 scanned pages and the 3 figures of the report are read; text-layer pages are not
    assert report["ocr_read"] == 1 + 2 + 3 and report["ocr_found"] >= 3
    pages = [Path(item["path"]).name for item in report["added"] if "report.pdf" in item["path"]]
    assert "report.pdf#page=2&figure=1" in pages and len(pages) == 7
    again = run_cli(*options, "index", str(folder))
    assert again.exit_code == 0, again.output
    assert "OCR (all) read 0 pictures, 0 with words" in again.stdout  # remembered, nothing new
    assert "10 skipped" in again.stdout


def test_index_ocr_choices_and_ray(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    options = ["--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db"), "--device", "cpu"]
    bad = run_cli(*options, "index", str(folder), "--ocr", "some")
    assert bad.exit_code == 2 and "'some' is not one of 'auto', 'all', 'off'" in bad.output
    ray = run_cli(*options, "index", str(folder), "--ocr", "auto", "--engine", "ray")
    assert ray.exit_code == 2
    assert "does not read the words in pictures yet" in ray.output
    assert not (tmp_path / "db").exists()  # refused before the store is opened
    off = run_cli(*options, "index", str(folder), "--ocr", "off")
    assert off.exit_code == 0 and "OCR" not in off.stdout.split("\n")[0]
