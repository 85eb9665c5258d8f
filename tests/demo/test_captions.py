"""The demo's captions (demo/captions.py): seven languages, their scripts, their grammar."""

from __future__ import annotations

import unicodedata

import pytest

from siglip_retriever.demo import data
from siglip_retriever.demo.data import (
    CLASSES,
    COLOURS,
    LANGUAGES,
    SHAPES,
    caption,
    caption_corpus,
    class_captions,
    num_templates,
)
from siglip_retriever.errors import ConfigurationError


def _scripts(text: str) -> set[str]:
    """Unicode script families of the letters in ``text`` (LATIN, CJK, ARABIC, CYRILLIC)."""
    names = {unicodedata.name(ch, "").split(" ")[0] for ch in text if ch.isalpha()}
    return {"CJK" if name.startswith("CJK") else name for name in names}


def test_classes_and_languages() -> None:
    assert len(SHAPES) >= 4
    assert len(COLOURS) >= 6
    assert len(CLASSES) == len(SHAPES) * len(COLOURS) == len(set(CLASSES))
    assert {"en", "fr", "de", "es", "zh", "ar", "ru"} <= set(LANGUAGES)


def test_every_caption_is_non_empty_and_distinct_per_class() -> None:
    for lang in LANGUAGES:
        assert num_templates(lang) >= 4
        for template in range(num_templates(lang)):
            texts = class_captions(lang, template)
            assert all(text.strip() == text and text for text in texts)
            assert len(set(texts)) == len(CLASSES), (lang, template)  # every class captioned differently
    corpus = caption_corpus()
    assert len(corpus) == sum(num_templates(lang) for lang in LANGUAGES) * len(CLASSES)


@pytest.mark.parametrize(
    ("lang", "script"),
    [("en", "LATIN"), ("fr", "LATIN"), ("zh", "CJK"), ("ar", "ARABIC"), ("ru", "CYRILLIC")],
)
def test_captions_are_written_in_their_script(lang: str, script: str) -> None:
    for template in range(num_templates(lang)):
        for text in class_captions(lang, template):
            assert _scripts(text) == {script}, text


@pytest.mark.parametrize(
    ("shape", "colour", "lang", "template", "expected"),
    [
        ("circle", "red", "en", 0, "a red circle"),
        ("circle", "orange", "en", 1, "a photo of an orange circle"),
        ("star", "red", "fr", 0, "une étoile rouge"),
        ("circle", "red", "fr", 0, "un cercle rouge"),
        ("star", "green", "fr", 4, "l'étoile est verte"),
        ("square", "purple", "fr", 1, "une photo d'un carré violet"),
        ("star", "purple", "fr", 5, "il y a une étoile violette"),
        ("circle", "red", "de", 0, "ein roter Kreis"),
        ("square", "red", "de", 0, "ein rotes Quadrat"),
        ("triangle", "blue", "de", 1, "ein Foto von einem blauen Dreieck"),
        ("circle", "yellow", "de", 3, "eine Zeichnung eines gelben Kreises"),
        ("triangle", "orange", "de", 4, "das Dreieck ist orange"),
        ("star", "red", "es", 0, "una estrella roja"),
        ("circle", "yellow", "es", 0, "un círculo amarillo"),
        ("star", "purple", "es", 4, "la estrella es morada"),
        ("circle", "red", "zh", 0, "一个红色的圆形"),
        ("circle", "red", "ar", 0, "دائرة حمراء"),
        ("square", "red", "ar", 0, "مربع أحمر"),
        ("star", "blue", "ar", 3, "هذه نجمة زرقاء"),
        ("circle", "red", "ru", 0, "красный круг"),
        ("star", "red", "ru", 0, "красная звезда"),
        ("star", "blue", "ru", 1, "фотография синей звезды"),
        ("square", "green", "ru", 2, "изображение зелёного квадрата"),
    ],
)
def test_grammar(shape: str, colour: str, lang: str, template: int, expected: str) -> None:
    assert caption(shape, colour, lang, template) == expected


def test_caption_errors() -> None:
    with pytest.raises(ConfigurationError, match="unknown shape"):
        caption("hexagon", "red")
    with pytest.raises(ConfigurationError, match="unknown colour"):
        caption("circle", "teal")
    with pytest.raises(ConfigurationError, match="unknown language"):
        caption("circle", "red", "xx")
    with pytest.raises(ConfigurationError, match="template_index"):
        caption("circle", "red", "en", num_templates("en"))


def test_canonical_text_is_what_the_tokenizer_sees() -> None:
    assert data.canonical_text("Une photo d'une  Étoile!") == "une photo dune étoile"
