"""The corpus the search layer's words are measured on: pictures that say something and pictures
that only show, with the queries that should find them.

It is the issue's corpus (``tests/documents.py``: slides and screenshots in English, German,
French, Spanish and Chinese, the pages of a text PDF, scanned pages, the demo's shapes) with more
pictures of words: Cyrillic slides, more languages, receipts and letters, and two slides whose
words name a demo shape in another language than the query's (for matching by meaning). The
words are given, not read: the tests store them with ``MultimodalStore.set_words`` as OCR or a
text layer would (no OCR engine needed), so that they measure the search, not the reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from siglip_retriever.encoding.ocr import PictureText, TextLine
from siglip_retriever.search.tokens import document_tokens, query_tokens
from tests import documents


@dataclass(frozen=True)
class Wordy:
    """A picture that says something: its name, its lines, and word queries that should find it."""

    name: str
    lines: tuple[str, ...]
    queries: tuple[str, ...]
    style: str = "slide"  # "slide", "screenshot", "page" (a PDF page) or "scan" (a scanned page)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


_MORE: tuple[Wordy, ...] = (
    Wordy("otchet", ("Годовой отчёт", "Выручка за квартал"), ("отчет", "ВЫРУЧКА")),
    Wordy("plan", ("План продаж", "Цели на год"), ("план продаж", "цели")),
    Wordy("yingye", ("营业收入增长", "第二季度报告"), ("营业收入", "第二季度")),
    Wordy("hiring", ("Hiring plan", "Engineers wanted"), ("hiring plan", "engineers")),
    Wordy("kunden", ("Kundenzufriedenheit", "Umfrage März"), ("kundenzufriedenheit", "umfrage marz")),
    Wordy("securite", ("Sécurité des données", "Règles internes"), ("securite", "données")),
    Wordy("budget", ("Budget overview", "Marketing spend"), ("budget", "marketing spend")),
    Wordy("invoice", ("INVOICE No. 8152", "Total due: 1,250 EUR"), ("invoice 8152", "total due"), "page"),
    Wordy(
        "contract",
        ("Service agreement", "The supplier delivers the goods", "within thirty days of the order"),
        ("service agreement", "thirty days"),
        "page",
    ),
    Wordy(
        "letter",
        ("Sehr geehrte Damen und Herren,", "wir bestätigen Ihre Bestellung", "Mit freundlichen Grüßen"),
        ("bestellung", "freundlichen grussen"),
        "scan",
    ),
    Wordy("receipt", ("Bäckerei Schmidt", "2 Brötchen 0,80", "Kaffee 2,40"), ("backerei", "kaffee"), "scan"),
    Wordy("meeting", ("会议记录", "下周三讨论预算"), ("会议记录", "讨论"), "scan"),
)

_PAGE_QUERIES = (("annual report", "foreword"), ("revenue grew",), ("im uberblick",), ("lighthouse",))
_SCAN_QUERIES = (("dear customer",), ("aquarium",))

WORDY: tuple[Wordy, ...] = (
    *(Wordy(item.name, item.lines, (item.keyword,), item.kind) for item in documents.SLIDES),
    *(
        Wordy(f"report_p{n}", page.lines, queries, "page")
        for n, (page, queries) in enumerate(zip(documents.REPORT_PAGES, _PAGE_QUERIES, strict=True), 1)
    ),
    *(
        Wordy(f"scanned_p{n}", lines, queries, "scan")
        for n, (lines, queries) in enumerate(zip(documents.SCANNED_PAGES, _SCAN_QUERIES, strict=True), 1)
    ),
    *_MORE,
)
"""Pictures that say something, each with word queries (in any case, with or without accents)."""

SHAPE_WORDS: tuple[Wordy, ...] = (
    Wordy("kreis", ("ein roter Kreis",), ("a red circle",)),
    Wordy("carre", ("un carré bleu",), ("a blue square",)),
)
"""Slides whose words name a demo shape in another language than their query's (no shape drawn)."""

NONSENSE = ("xqzvbl", "flurbish wompatz")
"""Words no picture says and no picture shows (for the demo model: it gives some made-up words a
high probability for some shapes, as any model may)."""

VISUAL = (
    ("a red circle", "red_circle"),
    ("un cercle rouge", "red_circle"),
    ("a blue square", "blue_square"),
    ("ein grüner Stern", "green_star"),
    ("a yellow triangle", "yellow_triangle"),
    ("una estrella morada", "purple_star"),
)
"""Queries of what pictures show, and the demo class (file-name prefix) that matches them."""


def picture(item: Wordy, seed: int = 0) -> Image.Image:
    """The picture of ``item``: a slide, a screenshot, or a page."""
    if item.style == "screenshot":
        return documents.screenshot(item.lines, dark=seed % 2 == 1)
    if item.style in ("page", "scan"):
        return documents.page_picture(item.lines, size=(425, 550), seed=seed)
    return documents.slide(item.lines, size=(480, 270), seed=seed)


def words(lines: Sequence[str], engine: str = "test words") -> PictureText:
    """``lines`` as a :class:`PictureText` (boxes stacked, confidence 0.95)."""
    return PictureText(
        tuple(
            TextLine(line, ((0, 30 * n), (200, 30 * n), (200, 30 * n + 24), (0, 30 * n + 24)), 0.95)
            for n, line in enumerate(lines)
        ),
        engine,
    )


def says_all(text: str, query: str) -> bool:
    """Whether ``text`` holds every word of ``query`` (folded): what makes a word query's answer right."""
    return set(query_tokens(query)) <= set(document_tokens(text))


def write_corpus(folder: Path, *, per_class: int = 2) -> dict[str, Wordy]:
    """Write the corpus's pictures into ``folder``: every :data:`WORDY` and :data:`SHAPE_WORDS`
    item as ``says_<name>.png``, and ``per_class`` photos of every demo class
    (``red_circle_000.png``, ...). Returns each wordy file's name -> its item."""
    folder.mkdir(parents=True, exist_ok=True)
    said: dict[str, Wordy] = {}
    for seed, item in enumerate((*WORDY, *SHAPE_WORDS)):
        picture(item, seed).save(folder / f"says_{item.name}.png")
        said[f"says_{item.name}.png"] = item
    documents.write_photos(folder, per_class=per_class, seed=3)
    return said
