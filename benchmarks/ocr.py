"""Which languages and scripts the bundled OCR models read, what OCR costs, and what reading a PDF costs.

Run: ``python benchmarks/ocr.py`` (about two minutes on 2 cores; ``--quick`` for a smoke run).
It prints three Markdown tables:

1. languages: for each language of ``tests.documents.LANGUAGE_LINES``, its two lines drawn on a
   slide and on a screenshot (DejaVu Sans; WenQuanYi Micro Hei for CJK), read by
   :class:`~siglip_retriever.encoding.ocr.OcrReader`: the lines read exactly (after Unicode NFC,
   whitespace collapsed) and the character accuracy (1 - edit distance / characters, each
   expected line against the read line nearest to it);
2. OCR cost per picture: the median of several reads (wall seconds, and CPU seconds of all the
   process' threads, steadier on a shared machine) of a slide, a screenshot, a scanned PDF page
   rendered at 1,024 px, and photos without text (the demo's shapes at 512 px);
3. PDF pages: ``read_pdf`` over a 200-page text PDF with a figure every 10 pages (time per page,
   rendering and text layer included) and a scanned PDF (render + OCR per page); the peak RSS of
   a child process reading the 200-page PDF against one reading its first 20 pages (the bound:
   memory does not grow with the pages).

Name the CPU (``lscpu``) with every figure; the machines are shared and drift.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.documents: the test corpus

from siglip_retriever.demo import render
from siglip_retriever.encoding.ocr import OcrReader
from siglip_retriever.encoding.pdf import PdfPart, read_pdf
from tests.documents import (
    LANGUAGE_LINES,
    SCANNED_PAGES,
    page_picture,
    screenshot,
    slide,
    write_long_pdf,
    write_scanned_pdf,
)


def normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), by characters."""
    row = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, char_b in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (char_a != char_b))
    return row[-1]


def score(expected: list[str], read: list[str]) -> tuple[int, int, int]:
    """(lines read exactly, edit distance summed, characters expected)."""
    exact = errors = chars = 0
    for line in map(normal, expected):
        best = min((distance(line, normal(got)) for got in read), default=len(line))
        exact += best == 0
        errors += min(best, len(line))
        chars += len(line)
    return exact, errors, chars


def language_table(reader: OcrReader) -> list[str]:
    rows = [
        "| language | script | lines read exactly | character accuracy | read as |",
        "| --- | --- | --- | --- | --- |",
    ]
    for language, script, lines in LANGUAGE_LINES:
        exact = errors = chars = 0
        seen: list[str] = []
        for picture in (slide(lines, seed=3), screenshot(lines)):
            read = [line.text for line in reader.read(picture).lines]
            got = score(list(lines), read)
            exact, errors, chars = exact + got[0], errors + got[1], chars + got[2]
            seen.extend(read)
        sample = "; ".join(seen[:2]) if seen else "(nothing)"
        rows.append(
            f"| {language} | {script} | {exact}/{2 * len(lines)} | {1 - errors / chars:.1%} | {sample[:60]} |"
        )
    return rows


def median_seconds(action, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (all of the process' threads) of ``action``."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def cost_table(reader: OcrReader, repeats: int) -> list[str]:
    pictures = {
        "slide 960x540, 2 lines": slide(("Quarterly revenue 2026", "Sales grew in every region")),
        "screenshot 800x500, 3 lines": screenshot(("Settings", "Dark mode", "Notifications")),
        "scanned page 792x1024, 2 lines": page_picture(SCANNED_PAGES[1], size=(792, 1024)),
        "photo without text 512x512 (shape)": render("circle", "red", 1, size=512),
        "photo without text 512x512 (shape, 2)": render("star", "blue", 2, size=512),
    }
    rows = [
        "| picture | OCR seconds (median) | CPU seconds (median) | lines found |",
        "| --- | --- | --- | --- |",
    ]
    for name, picture in pictures.items():
        found = len(reader.read(picture).lines)  # warm
        wall, cpu = median_seconds(lambda picture=picture: reader.read(picture), repeats)
        rows.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {found} |")
    return rows


_CHILD = """
import json, sys, time

def peak_mib():  # VmHWM: this process's peak resident memory (ru_maxrss would count the parent's)
    line = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

from siglip_retriever.encoding.pdf import read_pdf
pages = int(sys.argv[2])
next(read_pdf(sys.argv[1]))  # PDFium loaded, one page read: the floor
floor = peak_mib(); start = time.perf_counter(); parts = figures = 0
for part in read_pdf(sys.argv[1]):
    if part.page > pages:
        break
    parts += 1; figures += getattr(part, "kind", "") == "figure"
print(json.dumps({"seconds": time.perf_counter() - start, "parts": parts, "figures": figures,
                  "floor_mib": floor, "peak_mib": peak_mib()}))
"""


def read_in_child(path: Path, pages: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(pages)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def pdf_table(reader: OcrReader, folder: Path, pages: int) -> list[str]:
    long_pdf = write_long_pdf(folder / "long.pdf", pages)
    scanned = write_scanned_pdf(folder / "scanned.pdf", SCANNED_PAGES * 2)
    rows = [
        "| what | pages | seconds per page | peak RSS (MiB): after one page, after all |",
        "| --- | --- | --- | --- |",
    ]
    for count in (pages // 10, pages):
        got = read_in_child(long_pdf, count)
        rows.append(
            f"| read_pdf, text PDF, first {count} pages ({got['figures']:.0f} figures) | {count} | "
            f"{got['seconds'] / count:.3f} | {got['floor_mib']:.0f}, {got['peak_mib']:.0f} |"
        )
    start = time.perf_counter()
    count = 0
    for part in read_pdf(scanned):
        if isinstance(part, PdfPart) and part.kind == "page":
            reader.read(part.picture)
            count += 1
    rows.append(f"| scanned PDF: render + OCR | {count} | {(time.perf_counter() - start) / count:.2f} | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one read per picture, a 40-page PDF")
    parser.add_argument("--pages", type=int, default=200, help="pages of the long PDF")
    args = parser.parse_args()
    reader = OcrReader()
    print(f"engine: {reader.engine}; {os.cpu_count()} CPUs\n")
    print("\n".join(language_table(reader)) + "\n")
    print("\n".join(cost_table(reader, 1 if args.quick else 5)) + "\n")
    with tempfile.TemporaryDirectory() as folder:
        print("\n".join(pdf_table(reader, Path(folder), 40 if args.quick else args.pages)))


if __name__ == "__main__":
    main()
