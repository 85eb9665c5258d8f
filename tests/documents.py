"""The test corpus of pictures and pages that carry words, built by the tests themselves.

- slides and screenshots with words in several languages and scripts (:data:`SLIDES`,
  :func:`slide`, :func:`screenshot`, :func:`write_slides`), and one line per language for
  measuring which languages OCR reads (:data:`LANGUAGE_LINES`);
- text PDFs with a text layer, page labels and figures (the demo's shapes), made with fpdf2
  (:func:`write_text_pdf`); scanned PDFs whose pages are pictures only, made with Pillow
  (:func:`write_scanned_pdf`); PDFs that cannot be read (:func:`write_broken_pdf`,
  :func:`write_encrypted_pdf`, :func:`write_empty_pdf`, :func:`write_pageless_pdf`) and one
  whose one page is broken (:func:`write_pdf_with_broken_page`);
- photos without text: the demo's shapes (:func:`write_photos`);
- all of them in one folder: :func:`write_corpus`.

Words are drawn with real fonts: DejaVu Sans (Latin, Greek, Cyrillic; Debian's
``fonts-dejavu-core``) and WenQuanYi Micro Hei (Han; ``fonts-wqy-microhei``). ``scripts/test``
installs both when missing; :func:`font` says so when one is not there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from siglip_retriever.demo import render, write_image_folder

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONTS = {
    "latin": ("DejaVuSans.ttf", "fonts-dejavu-core"),
    "han": ("wqy-microhei.ttc", "fonts-wqy-microhei"),
}
"""The font file each kind of script is drawn with, and the Debian package that has it."""

_HAN = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")  # CJK, kana and Hangul


def font_path(kind: str = "latin") -> Path:
    """The font file for ``kind`` (``"latin"``: Latin, Greek, Cyrillic; ``"han"``: CJK)."""
    name, package = FONTS[kind]
    for folder in FONT_DIRS:
        found = sorted(folder.rglob(name)) if folder.is_dir() else []
        if found:
            return found[0]
    raise FileNotFoundError(
        f"the font {name} is missing: install Debian's {package} (scripts/test installs it when missing)"
    )


def font(text: str = "", size: int = 32) -> ImageFont.FreeTypeFont:
    """A font that has the glyphs of ``text``: WenQuanYi for CJK, else DejaVu Sans."""
    kind = "han" if _HAN.search(text) else "latin"
    return ImageFont.truetype(str(font_path(kind)), size)


# -- pictures with words -------------------------------------------------------------------------


@dataclass(frozen=True)
class Slide:
    """A picture with words: what it says, and a word only it carries (to search for)."""

    name: str
    language: str
    lines: tuple[str, ...]
    keyword: str
    kind: str = "slide"  # or "screenshot"
    path: Path | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


SLIDES: tuple[Slide, ...] = (
    Slide("revenue", "en", ("Quarterly revenue 2026", "Sales grew in every region"), "revenue"),
    Slide("umsatz", "de", ("Umsatz pro Quartal", "Wachstum in allen Regionen"), "Umsatz"),
    Slide("affaires", "fr", ("Chiffre d'affaires annuel", "Réunion du conseil à Lyon"), "Lyon"),
    Slide("ventas", "es", ("Informe de ventas", "Reunión del equipo en Sevilla"), "Sevilla"),
    Slide("shouru", "zh", ("季度收入报告", "销售增长"), "收入"),
    Slide("roadmap", "en", ("Product roadmap", "Launch the telescope app"), "telescope"),
    Slide("settings", "en", ("Settings", "Dark mode", "Notifications"), "Notifications", "screenshot"),
    Slide("login", "de", ("Anmeldung", "Benutzername", "Passwort vergessen"), "Passwort", "screenshot"),
    Slide("facture", "fr", ("Facture numéro 4711", "Montant dû : 250 euros"), "Facture", "screenshot"),
    Slide("dingdan", "zh", ("订单详情", "付款成功"), "订单", "screenshot"),
)
"""Slides and screenshots in English, German, French, Spanish (Latin script) and Chinese (Han);
each ``keyword`` is on that picture only."""

LANGUAGE_LINES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("English", "Latin", ("Quarterly revenue 2026", "The meeting starts at nine")),
    ("German", "Latin", ("Umsatz pro Quartal", "Größere Brücken über die Straße")),
    ("French", "Latin", ("Chiffre d'affaires", "Où est la bibliothèque ? Déjà vu")),
    ("Spanish", "Latin", ("Reunión del equipo", "El niño comió piña en Málaga")),
    ("Portuguese", "Latin", ("Relatório de vendas", "Ação e coração na educação")),
    ("Polish", "Latin", ("Sprawozdanie finansowe", "Zażółć gęślą jaźń")),
    ("Turkish", "Latin", ("Satış raporu", "Işık ağaçların üstünde")),
    ("Vietnamese", "Latin", ("Báo cáo doanh thu", "Tiếng Việt có dấu")),
    ("Chinese (simplified)", "Han", ("季度收入报告", "今天的会议在北京举行")),
    ("Chinese (traditional)", "Han", ("季度收入報告", "會議在臺北舉行")),
    ("Japanese", "Han + kana", ("売上報告書", "ひらがなとカタカナ")),
    ("Korean", "Hangul", ("매출 보고서", "회의는 서울에서")),
    ("Russian", "Cyrillic", ("Годовой отчёт", "Встреча в Москве")),
    ("Greek", "Greek", ("Ετήσια έκθεση", "Συνάντηση στην Αθήνα")),
)
"""Two lines per language, for measuring which languages and scripts OCR reads (benchmarks/ocr.py)."""


def _background(size: tuple[int, int], seed: int) -> Image.Image:
    """A light background with a soft gradient, a different one per seed."""
    rng = np.random.default_rng(seed)
    top, bottom = rng.uniform(225, 255, 3), rng.uniform(205, 245, 3)
    ramp = np.linspace(0.0, 1.0, size[1], dtype=np.float32)[:, None, None]
    pixels = top * (1 - ramp) + bottom * ramp
    return Image.fromarray(
        np.ascontiguousarray(np.broadcast_to(pixels, (size[1], size[0], 3)), dtype=np.uint8)
    )


def draw_lines(
    draw: ImageDraw.ImageDraw,
    lines: Sequence[str],
    at: tuple[int, int],
    sizes: tuple[int, int],
    spacing: float,
    ink: tuple[int, int, int],
) -> None:
    """Draw ``lines`` from ``at`` down: the first in type of ``sizes[0]`` px, the rest
    ``sizes[1]``, each ``spacing`` times its size below the one before."""
    x, y = at
    for number, line in enumerate(lines):
        text_size = sizes[0] if number == 0 else sizes[1]
        draw.text((x, y), line, font=font(line, text_size), fill=ink)
        y += int(text_size * spacing)


def slide(lines: Sequence[str], *, size: tuple[int, int] = (960, 540), seed: int = 0) -> Image.Image:
    """A presentation slide: a title (the first line), the other lines below it, a coloured bar."""
    picture = _background(size, seed)
    draw = ImageDraw.Draw(picture)
    colour = tuple(int(c) for c in np.random.default_rng(seed).integers(20, 160, 3))
    draw.rectangle((0, 0, size[0], 18), fill=colour)
    draw_lines(draw, lines, (60, 70), (48, 34), 1.9, (20, 20, 30))
    return picture


def screenshot(
    lines: Sequence[str], *, size: tuple[int, int] = (800, 500), dark: bool = False
) -> Image.Image:
    """An app's window: a title bar with three dots, a side bar, the lines as its content."""
    back, ink, chrome = (
        ((30, 32, 38), (230, 230, 235), (55, 58, 66))
        if dark
        else ((250, 250, 252), (25, 25, 30), (222, 224, 230))
    )
    picture = Image.new("RGB", size, back)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, size[0], 36), fill=chrome)
    for n, dot in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        draw.ellipse((14 + 22 * n, 12, 26 + 22 * n, 24), fill=dot)
    draw.rectangle((0, 36, 170, size[1]), fill=chrome)
    for n in range(5):
        draw.rounded_rectangle((18, 62 + 40 * n, 150, 82 + 40 * n), radius=6, fill=back)
    draw_lines(draw, lines, (200, 70), (30, 24), 2.1, ink)
    return picture


def picture_of(item: Slide, seed: int = 0) -> Image.Image:
    """The slide or screenshot that shows ``item``'s lines."""
    if item.kind == "screenshot":
        return screenshot(item.lines, dark=seed % 2 == 1)
    return slide(item.lines, seed=seed)


def write_slides(folder: str | Path, items: Sequence[Slide] = SLIDES) -> list[Slide]:
    """Write each slide or screenshot as ``{kind}_{name}.png`` in ``folder``; the items, with paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for seed, item in enumerate(items):
        path = out / f"{item.kind}_{item.name}.png"
        picture_of(item, seed).save(path, "PNG")
        written.append(Slide(item.name, item.language, item.lines, item.keyword, item.kind, path))
    return written


def write_photos(folder: str | Path, per_class: int = 1, seed: int = 0, size: int = 96) -> list[Path]:
    """Photos without text: the demo's coloured shapes (``red_circle_000.png``, ...)."""
    return [path for path, _, _ in write_image_folder(folder, per_class=per_class, seed=seed, size=size)]


# -- PDFs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A PDF page to write: its lines, and the demo shapes drawn on it as figures."""

    lines: tuple[str, ...]
    figures: tuple[tuple[str, str], ...] = field(default=())  # (shape, colour)


REPORT_PAGES: tuple[Page, ...] = (
    Page(("Annual report 2026", "Contents and foreword")),
    Page(("Quarterly revenue 2026", "Revenue grew in every quarter"), (("circle", "red"),)),
    Page(("Umsatz pro Quartal", "Die Zahlen im Überblick"), (("square", "blue"), ("star", "green"))),
    Page(("Outlook", "The lighthouse project starts in spring")),
)
"""A small report: page 1 is front matter (label ``i``), pages 2-4 are labelled 1-3; figures on
pages 2 (a red circle) and 3 (a blue square, a green star)."""

SCANNED_PAGES: tuple[tuple[str, ...], ...] = (
    ("Scanned letter", "Dear customer, thank you"),
    ("Invoice for the aquarium", "Total amount 120 euros"),
)
"""Two scanned pages; "aquarium" is on page 2 only, and in no text layer anywhere."""


def write_text_pdf(
    path: str | Path,
    pages: Sequence[Page] = REPORT_PAGES,
    *,
    front_matter: int = 1,
    user_password: str | None = None,
    figure_side: int = 160,
) -> Path:
    """A PDF with a text layer (DejaVu Sans, so Latin, Greek and Cyrillic), made with fpdf2.

    The first ``front_matter`` pages are labelled ``i``, ``ii``, ...; the rest ``1``, ``2``, ...
    Figures are PNG pictures of the demo's shapes, ``figure_side`` pixels, 45 mm wide. With
    ``user_password`` the file is encrypted and cannot be opened without it.
    """
    out = Path(path)
    out.write_bytes(
        text_pdf_bytes(pages, front_matter=front_matter, user_password=user_password, figure_side=figure_side)
    )
    return out


def text_pdf_bytes(
    pages: Sequence[Page] = REPORT_PAGES,
    *,
    front_matter: int = 1,
    user_password: str | None = None,
    figure_side: int = 160,
) -> bytes:
    """The bytes of the PDF :func:`write_text_pdf` writes."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_compression(True)
    pdf.add_font("DejaVu", fname=str(font_path("latin")))
    rng = np.random.default_rng(len(pages))
    for number, page in enumerate(pages):
        pdf.add_page()
        if number == 0 and front_matter:
            pdf.set_page_label("r")
        elif number == front_matter:
            pdf.set_page_label("D", label_start=1)
        for line_number, line in enumerate(page.lines):
            pdf.set_font("DejaVu", size=22 if line_number == 0 else 14)
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        for n, (shape, colour) in enumerate(page.figures):
            pdf.image(render(shape, colour, rng, size=figure_side), x=20 + 60 * n, y=100, w=45)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-" + user_password, user_password=user_password)
    return bytes(pdf.output())


def page_picture(lines: Sequence[str], *, size: tuple[int, int] = (850, 1100), seed: int = 0) -> Image.Image:
    """A scanned page: the lines in dark ink on slightly grey, slightly noisy paper."""
    rng = np.random.default_rng(seed)
    paper = rng.normal(242, 4, (size[1], size[0])).clip(0, 255).astype(np.uint8)
    picture = Image.fromarray(paper).convert("RGB")
    draw = ImageDraw.Draw(picture)
    draw_lines(draw, lines, (90, 110), (40, 30), 2.2, (35, 35, 40))
    return picture


def write_scanned_pdf(path: str | Path, pages: Sequence[Sequence[str]] = SCANNED_PAGES) -> Path:
    """An image-only PDF (no text layer), one picture of words per page, made with Pillow."""
    pictures = [page_picture(lines, seed=n) for n, lines in enumerate(pages)]
    out = Path(path)
    pictures[0].save(out, "PDF", save_all=True, append_images=pictures[1:], resolution=100.0)
    return out


def write_encrypted_pdf(path: str | Path, password: str = "secret") -> Path:
    """A text PDF that needs ``password`` to be opened."""
    return write_text_pdf(path, REPORT_PAGES[:1], front_matter=0, user_password=password)


def write_broken_pdf(path: str | Path) -> Path:
    """A text PDF cut after its first 40 %: the header is right, the rest is missing."""
    data = text_pdf_bytes(REPORT_PAGES)
    out = Path(path)
    out.write_bytes(data[: len(data) * 2 // 5])
    return out


def write_empty_pdf(path: str | Path) -> Path:
    """A ``.pdf`` file of 0 bytes."""
    out = Path(path)
    out.write_bytes(b"")
    return out


def write_pageless_pdf(path: str | Path) -> Path:
    """A well-formed PDF whose page tree has no pages."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    data = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(data))
        data += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(data)
    data += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    data += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    data += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    out = Path(path)
    out.write_bytes(bytes(data))
    return out


def write_pdf_with_broken_page(
    path: str | Path, broken: int = 2, pages: Sequence[Page] = REPORT_PAGES
) -> Path:
    """A text PDF whose page ``broken`` (from 1) is damaged: its page object's ``/Type /Page`` is
    overwritten (same length, so the cross-reference table stays right), and PDFium cannot load
    that page; the others are whole."""
    data = text_pdf_bytes(pages)
    kids = re.search(rb"/Kids \[([^\]]*)\]", data)
    if kids is None:
        raise AssertionError("fpdf2 wrote no page tree")
    number = int(re.findall(rb"(\d+) 0 R", kids.group(1))[broken - 1])
    start = data.index(b"\n%d 0 obj" % number) + 1
    end = data.index(b"endobj", start)
    body = data[start:end]
    if body.count(b"/Type /Page\n") != 1:
        raise AssertionError(f"page object {number} is not as fpdf2 writes it: {body[:120]!r}")
    out = Path(path)
    out.write_bytes(data[:start] + body.replace(b"/Type /Page\n", b"/Type /Xage\n") + data[end:])
    return out


def write_long_pdf(path: str | Path, pages: int = 200, *, figure_every: int = 10) -> Path:
    """A long text PDF (``pages`` pages, a figure on every ``figure_every``-th): for memory and
    speed measurements."""
    shapes = ("circle", "square", "triangle", "star")
    colours = ("red", "blue", "green", "yellow", "purple", "orange")
    content = [
        Page(
            (f"Chapter {n + 1}", f"Section {n + 1} of the long report", "The quick brown fox jumps over"),
            ((shapes[n % 4], colours[n % 6]),) if n % figure_every == 0 else (),
        )
        for n in range(pages)
    ]
    return write_text_pdf(path, content, front_matter=0)


# -- everything ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """What :func:`write_corpus` wrote, and where."""

    root: Path
    slides: tuple[Slide, ...]
    photos: tuple[Path, ...]
    report_pdf: Path
    scanned_pdf: Path
    bad_pdfs: dict[str, Path]  # reason word ("broken", "encrypted", "empty", "no pages") -> file


def write_corpus(root: str | Path, *, photos_per_class: int = 1, bad_pdfs: bool = True) -> Corpus:
    """The whole corpus under ``root``: ``slides/`` (slides and screenshots), ``photos/`` (shapes,
    no text), ``pdfs/`` (the report with a text layer and figures, the scanned letter, and with
    ``bad_pdfs`` a broken, an encrypted, an empty and a page-less PDF)."""
    base = Path(root)
    (base / "pdfs").mkdir(parents=True, exist_ok=True)
    slides = tuple(write_slides(base / "slides"))
    photos = tuple(write_photos(base / "photos", per_class=photos_per_class))
    report = write_text_pdf(base / "pdfs" / "report.pdf")
    scanned = write_scanned_pdf(base / "pdfs" / "scanned.pdf")
    bad = {}
    if bad_pdfs:
        bad = {
            "broken": write_broken_pdf(base / "pdfs" / "broken.pdf"),
            "encrypted": write_encrypted_pdf(base / "pdfs" / "encrypted.pdf"),
            "empty": write_empty_pdf(base / "pdfs" / "empty.pdf"),
            "no pages": write_pageless_pdf(base / "pdfs" / "no_pages.pdf"),
        }
    return Corpus(base, slides, photos, report, scanned, bad)
