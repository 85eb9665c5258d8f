"""The synthetic multilingual shapes data: determinism, captions, pictures, image folders."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.demo import data
from siglip_retriever.demo.data import (
    CLASSES,
    COLOURS,
    LANGUAGES,
    SHAPES,
    caption,
    caption_corpus,
    class_captions,
    generate_dataset,
    num_templates,
    render,
    write_image_folder,
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


@pytest.mark.parametrize("size", [16, 32, 64, 97])
def test_render_gives_rgb_of_the_requested_size(size: int) -> None:
    image = render("star", "purple", np.random.default_rng(0), size=size)
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB"
    assert image.size == (size, size)


def test_render_is_deterministic_and_varied() -> None:
    first = np.asarray(render("triangle", "green", 5))
    again = np.asarray(render("triangle", "green", np.random.default_rng(5)))
    other = np.asarray(render("triangle", "green", 6))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_render_paints_the_colour() -> None:
    # on average over pictures, the named colour's channel pattern dominates the shape's pixels
    rng = np.random.default_rng(0)
    for colour, channel in (("red", 0), ("green", 1), ("blue", 2)):
        means = np.zeros(3)
        for _ in range(8):
            pixels = np.asarray(render("circle", colour, rng, size=32), dtype=np.float64).reshape(-1, 3)
            saturation = pixels.max(axis=1) - pixels.min(axis=1)
            means += pixels[saturation > 80].mean(axis=0)
        assert int(np.argmax(means)) == channel, colour


def test_render_errors() -> None:
    with pytest.raises(ConfigurationError, match="size"):
        render("circle", "red", 0, size=8)
    with pytest.raises(ConfigurationError, match="rng"):
        render("circle", "red", "seed", size=32)  # type: ignore[arg-type]


def test_generate_dataset_is_deterministic() -> None:
    first = generate_dataset(30, seed=11, size=32)
    again = generate_dataset(30, seed=11, size=32)
    other = generate_dataset(30, seed=12, size=32)
    assert [(s.shape, s.colour, s.lang, s.caption) for s in first] == [
        (s.shape, s.colour, s.lang, s.caption) for s in again
    ]
    assert all(
        np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(first, again, strict=True)
    )
    assert [s.caption for s in first] != [s.caption for s in other]


def test_generate_dataset_contents() -> None:
    samples = generate_dataset(48, seed=0, size=24)
    assert len(samples) == 48
    # balanced: every class twice
    assert sorted(s.label for s in samples) == sorted(list(range(len(CLASSES))) * 2)
    for sample in samples:
        assert sample.image.mode == "RGB"
        assert sample.image.size == (24, 24)
        assert sample.caption == caption(sample.shape, sample.colour, sample.lang, sample.template)
        assert CLASSES[sample.label] == (sample.shape, sample.colour)
    assert len({s.lang for s in samples}) >= 5
    assert generate_dataset(0) == []
    only = generate_dataset(10, seed=0, size=16, languages=["ar"])
    assert {s.lang for s in only} == {"ar"}


def test_generate_dataset_errors() -> None:
    with pytest.raises(ConfigurationError):
        generate_dataset(-1)
    with pytest.raises(ConfigurationError, match="unknown language"):
        generate_dataset(2, languages=["en", "xx"])
    with pytest.raises(ConfigurationError, match="empty"):
        generate_dataset(2, languages=[])


def test_write_image_folder(tmp_path: Path) -> None:
    written = write_image_folder(tmp_path / "pictures", per_class=2, seed=3, size=40)
    assert len(written) == 2 * len(CLASSES)
    names = sorted(path.name for path, _, _ in written)
    assert names == sorted(p.name for p in (tmp_path / "pictures").iterdir())
    assert "red_circle_001.png" in names
    assert "purple_star_000.png" in names
    for path, shape, colour in written:
        assert path.name.startswith(f"{colour}_{shape}_")
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.mode == "RGB"
            assert image.size == (40, 40)
    again = write_image_folder(tmp_path / "again", per_class=2, seed=3, size=40)
    assert all(a.read_bytes() == b.read_bytes() for (a, _, _), (b, _, _) in zip(written, again, strict=True))
    with pytest.raises(ConfigurationError):
        write_image_folder(tmp_path / "bad", per_class=-1)
