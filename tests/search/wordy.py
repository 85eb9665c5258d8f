"""A small corpus of pictures that say something, and of pictures that only show: slides with words
in six languages and two scripts besides Latin (Cyrillic, Han), pages of text, scanned pages, and
the demo's shapes; with the word queries that should find each one.

The words are given, not read: the tests store them with ``MultimodalStore.set_words`` as OCR would
(no OCR engine needed), so that they test the search, not the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from siglip_retriever.demo.pictures import render
from siglip_retriever.encoding.ocr import PictureText, TextLine

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class Wordy:
    """A picture that says something: its name, its lines, and word queries that should find it."""

    name: str
    lines: tuple[str, ...]
    queries: tuple[str, ...]
    style: str = "slide"  # "slide", "page" (a page of text) or "scan" (a scanned page)


WORDY: tuple[Wordy, ...] = (
    Wordy("revenue", ("Quarterly revenue 2026", "Growth in every region"), ("quarterly revenue", "REVENUE")),
    Wordy("umsatz", ("Umsatz pro Quartal", "Gewinn und Verlust"), ("Umsatz", "gewinn und verlust")),
    Wordy("affaires", ("Chiffre d'affaires", "Résultats de l'été"), ("chiffre d'affaires", "resultats ete")),
    Wordy("informe", ("Informe anual", "Crecimiento del año"), ("informe anual", "crecimiento")),
    Wordy("otchet", ("Годовой отчёт", "Выручка за квартал"), ("отчет", "ВЫРУЧКА")),
    Wordy("yingye", ("营业收入增长", "第二季度报告"), ("营业收入", "季度报告")),
    Wordy("roadmap", ("Product roadmap", "Launch in September"), ("roadmap", "launch september")),
    Wordy("hiring", ("Hiring plan", "Engineers wanted"), ("hiring plan", "engineers")),
    Wordy("kunden", ("Kundenzufriedenheit", "Umfrage März"), ("kundenzufriedenheit", "umfrage marz")),
    Wordy("securite", ("Sécurité des données", "Règles internes"), ("securite", "données")),
    Wordy("ventas", ("Ventas por región", "Objetivos"), ("ventas", "objetivos")),
    Wordy("plan", ("План продаж", "Цели на год"), ("план продаж", "цели")),
    Wordy("budget", ("Budget overview", "Marketing spend"), ("budget", "marketing spend")),
    Wordy("invoice", ("INVOICE No. 4711", "Total due: 1,250 EUR"), ("invoice 4711", "total due"), "page"),
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
"""Pictures that say something, each with word queries (in any case, with or without accents)."""

SHAPE_WORDS: tuple[tuple[str, str], ...] = (
    ("kreis", "ein roter Kreis"),
    ("carre", "un carré bleu"),
)
"""Slides whose words name a demo shape in another language than the query's (no shape drawn)."""

NONSENSE = ("xqzvbl", "flurbish wompatz", "zzyzx quorble")
"""Words no picture says and no picture shows."""

VISUAL = (
    ("a red circle", "red_circle"),
    ("un cercle rouge", "red_circle"),
    ("a blue square", "blue_square"),
    ("ein grüner Stern", "green_star"),
    ("a yellow triangle", "yellow_triangle"),
    ("una estrella morada", "purple_star"),
)
"""Queries of what pictures show, and the demo class (file-name prefix) that matches them."""


def picture(wordy: Wordy, seed: int = 0, size: tuple[int, int] = (480, 270)) -> Image.Image:
    """The picture of a wordy item: its lines drawn (Han characters are boxes in DejaVu: the words
    are stored, not read, so it does not matter)."""
    rng = np.random.default_rng(seed)
    if wordy.style == "slide":
        background = tuple(int(v) for v in rng.integers(200, 256, 3))
        image = Image.new("RGB", size, background)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, size[0], 40), fill=tuple(int(v) for v in rng.integers(0, 120, 3)))
        sizes = [30] + [22] * (len(wordy.lines) - 1)
    else:
        size = (300, 420)
        image = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(image)
        sizes = [18] * len(wordy.lines)
    y = 60 if wordy.style == "slide" else 30
    for line, points in zip(wordy.lines, sizes, strict=True):
        draw.text((20, y), line, fill="black", font=ImageFont.truetype(str(_FONT), points))
        y += points + 18
    if wordy.style == "scan":
        noise = rng.normal(0, 18, (size[1], size[0], 1)).repeat(3, axis=2)
        pixels = np.clip(np.asarray(image, dtype=np.float32) * 0.92 + 12 + noise, 0, 255)
        image = Image.fromarray(pixels.astype(np.uint8)).rotate(1.5, fillcolor="white")
        image = image.filter(ImageFilter.GaussianBlur(0.6))
    return image


def words(lines: tuple[str, ...], engine: str = "test words") -> PictureText:
    """``lines`` as a :class:`PictureText` (boxes stacked, confidence 0.95)."""
    return PictureText(
        tuple(
            TextLine(line, ((0, 30 * n), (200, 30 * n), (200, 30 * n + 24), (0, 30 * n + 24)), 0.95)
            for n, line in enumerate(lines)
        ),
        engine,
    )


def write_corpus(folder: Path, *, per_class: int = 2, seed: int = 3) -> dict[str, tuple[str, ...]]:
    """Write the corpus's pictures into ``folder``: every :data:`WORDY` item and
    :data:`SHAPE_WORDS` slide as ``says_<name>.png``, and ``per_class`` pictures of every demo
    class as ``<colour>_<shape>_<n>.png``. Returns each wordy file's name -> its lines."""
    from siglip_retriever.demo.captions import CLASSES

    folder.mkdir(parents=True, exist_ok=True)
    said: dict[str, tuple[str, ...]] = {}
    for n, wordy in enumerate(WORDY):
        picture(wordy, seed=n).save(folder / f"says_{wordy.name}.png")
        said[f"says_{wordy.name}.png"] = wordy.lines
    for n, (name, line) in enumerate(SHAPE_WORDS):
        picture(Wordy(name, (line,), ()), seed=100 + n).save(folder / f"says_{name}.png")
        said[f"says_{name}.png"] = (line,)
    rng = np.random.default_rng(seed)
    for shape, colour in CLASSES:
        for index in range(per_class):
            render(shape, colour, rng, size=96).save(folder / f"{colour}_{shape}_{index}.png")
    return said
