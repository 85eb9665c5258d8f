"""Synthetic multilingual data: pictures of coloured shapes and their captions.

Every picture shows one shape (:data:`SHAPES`) in one colour (:data:`COLOURS`), so there are
24 classes. Size, position, rotation, the exact hue, the background (plain, gradient, stripes,
checks or blotches in neutral tints) and pixel noise vary from picture to picture. Captions
exist in seven languages (:data:`LANGUAGES`), several templates each, with the grammar right:
gender agreement of adjectives and articles (``un cercle rouge`` / ``une étoile rouge``,
``ein roter Kreis`` / ``ein rotes Quadrat``, ``красный круг`` / ``красная звезда``,
``دائرة حمراء`` / ``مربع أحمر``), case (``фотография красного круга``, ``ein Foto von einem
roten Kreis``) and ``a`` / ``an`` in English.

Everything is deterministic: the same seed gives the same pictures and captions. Only numpy
and Pillow are used; no torch.

Example:
    >>> from siglip_retriever.demo.data import caption, generate_dataset, render
    >>> import numpy as np
    >>> caption("circle", "orange", "en")
    'an orange circle'
    >>> caption("star", "yellow", "ru", 1)
    'фотография жёлтой звезды'
    >>> render("square", "blue", np.random.default_rng(0), size=48).size
    (48, 48)
    >>> samples = generate_dataset(4, seed=1)
    >>> [s.caption for s in samples] == [s.caption for s in generate_dataset(4, seed=1)]
    True
"""

from __future__ import annotations

import colorsys
import os
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from siglip_retriever.errors import ConfigurationError

__all__ = [
    "CLASSES",
    "COLOURS",
    "LANGUAGES",
    "SHAPES",
    "Sample",
    "canonical_text",
    "caption",
    "caption_corpus",
    "class_captions",
    "generate_dataset",
    "num_templates",
    "render",
    "write_image_folder",
]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
"""The shapes a picture can show."""

COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
"""The colours a shape can have."""

CLASSES: tuple[tuple[str, str], ...] = tuple((shape, colour) for shape in SHAPES for colour in COLOURS)
"""Every ``(shape, colour)`` pair, in a fixed order; a class's index is its label."""

LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es", "zh", "ar", "ru")
"""Caption languages (ISO 639-1): English, French, German, Spanish, Chinese, Arabic, Russian."""

# -- captions -------------------------------------------------------------------------------------

_Template = Callable[[str, str], str]

# English
_EN_SHAPE = {"circle": "circle", "square": "square", "triangle": "triangle", "star": "star"}


def _en_a(colour: str) -> str:
    return f"an {colour}" if colour[0] in "aeiou" else f"a {colour}"


_EN: tuple[_Template, ...] = (
    lambda s, c: f"{_en_a(c)} {_EN_SHAPE[s]}",
    lambda s, c: f"a photo of {_en_a(c)} {_EN_SHAPE[s]}",
    lambda s, c: f"an image of {_en_a(c)} {_EN_SHAPE[s]}",
    lambda s, c: f"a drawing of {_en_a(c)} {_EN_SHAPE[s]}",
    lambda s, c: f"the {_EN_SHAPE[s]} is {c}",
    lambda s, c: f"there is {_en_a(c)} {_EN_SHAPE[s]}",
)

# French: noun, gender; adjective masculine, feminine
_FR_SHAPE = {
    "circle": ("cercle", "m"),
    "square": ("carré", "m"),
    "triangle": ("triangle", "m"),
    "star": ("étoile", "f"),
}
_FR_COLOUR = {
    "red": ("rouge", "rouge"),
    "green": ("vert", "verte"),
    "blue": ("bleu", "bleue"),
    "yellow": ("jaune", "jaune"),
    "purple": ("violet", "violette"),
    "orange": ("orange", "orange"),
}


def _fr(shape: str, colour: str) -> tuple[str, str, str, str]:
    """Noun, adjective, indefinite article and definite article (elided before a vowel)."""
    noun, gender = _FR_SHAPE[shape]
    adjective = _FR_COLOUR[colour][0 if gender == "m" else 1]
    indefinite = "un" if gender == "m" else "une"
    definite = "l'" if noun[0] in "aeéiou" else ("le " if gender == "m" else "la ")
    return noun, adjective, indefinite, definite


_FR: tuple[_Template, ...] = (
    lambda s, c: "{2} {0} {1}".format(*_fr(s, c)),
    lambda s, c: "une photo d'{2} {0} {1}".format(*_fr(s, c)),
    lambda s, c: "une image d'{2} {0} {1}".format(*_fr(s, c)),
    lambda s, c: "un dessin d'{2} {0} {1}".format(*_fr(s, c)),
    lambda s, c: "{3}{0} est {1}".format(*_fr(s, c)),
    lambda s, c: "il y a {2} {0} {1}".format(*_fr(s, c)),
)

# German: noun (nominative, genitive), gender; adjective stem (attributive), predicative form
_DE_SHAPE = {
    "circle": ("Kreis", "Kreises", "m"),
    "square": ("Quadrat", "Quadrats", "n"),
    "triangle": ("Dreieck", "Dreiecks", "n"),
    "star": ("Stern", "Sterns", "m"),
}
_DE_COLOUR = {
    "red": ("rot", "rot"),
    "green": ("grün", "grün"),
    "blue": ("blau", "blau"),
    "yellow": ("gelb", "gelb"),
    "purple": ("violett", "violett"),
    "orange": ("orangefarben", "orange"),
}


def _de_nominative(shape: str, colour: str) -> str:
    """``ein roter Kreis`` / ``ein rotes Quadrat`` (mixed declension after ``ein``)."""
    noun, _, gender = _DE_SHAPE[shape]
    stem = _DE_COLOUR[colour][0]
    return f"ein {stem}{'er' if gender == 'm' else 'es'} {noun}"


def _de_dative(shape: str, colour: str) -> str:
    """``einem roten Kreis`` (masculine and neuter alike)."""
    return f"einem {_DE_COLOUR[colour][0]}en {_DE_SHAPE[shape][0]}"


def _de_genitive(shape: str, colour: str) -> str:
    """``eines roten Kreises``."""
    return f"eines {_DE_COLOUR[colour][0]}en {_DE_SHAPE[shape][1]}"


def _de_predicative(shape: str, colour: str) -> str:
    """``der Kreis ist rot`` / ``das Quadrat ist rot``."""
    noun, _, gender = _DE_SHAPE[shape]
    return f"{'der' if gender == 'm' else 'das'} {noun} ist {_DE_COLOUR[colour][1]}"


_DE: tuple[_Template, ...] = (
    _de_nominative,
    lambda s, c: f"ein Foto von {_de_dative(s, c)}",
    lambda s, c: f"ein Bild mit {_de_dative(s, c)}",
    lambda s, c: f"eine Zeichnung {_de_genitive(s, c)}",
    _de_predicative,
    lambda s, c: f"hier ist {_de_nominative(s, c)}",
)

# Spanish: noun, gender; adjective masculine, feminine
_ES_SHAPE = {
    "circle": ("círculo", "m"),
    "square": ("cuadrado", "m"),
    "triangle": ("triángulo", "m"),
    "star": ("estrella", "f"),
}
_ES_COLOUR = {
    "red": ("rojo", "roja"),
    "green": ("verde", "verde"),
    "blue": ("azul", "azul"),
    "yellow": ("amarillo", "amarilla"),
    "purple": ("morado", "morada"),
    "orange": ("naranja", "naranja"),
}


def _es(shape: str, colour: str) -> tuple[str, str, str, str]:
    """Noun, adjective, indefinite and definite article."""
    noun, gender = _ES_SHAPE[shape]
    masculine = gender == "m"
    adjective = _ES_COLOUR[colour][0 if masculine else 1]
    return noun, adjective, "un" if masculine else "una", "el" if masculine else "la"


_ES: tuple[_Template, ...] = (
    lambda s, c: "{2} {0} {1}".format(*_es(s, c)),
    lambda s, c: "una foto de {2} {0} {1}".format(*_es(s, c)),
    lambda s, c: "una imagen de {2} {0} {1}".format(*_es(s, c)),
    lambda s, c: "un dibujo de {2} {0} {1}".format(*_es(s, c)),
    lambda s, c: "{3} {0} es {1}".format(*_es(s, c)),
    lambda s, c: "hay {2} {0} {1}".format(*_es(s, c)),
)

# Chinese
_ZH_SHAPE = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "star": "星形"}
_ZH_COLOUR = {
    "red": "红色",
    "green": "绿色",
    "blue": "蓝色",
    "yellow": "黄色",
    "purple": "紫色",
    "orange": "橙色",
}
_ZH: tuple[_Template, ...] = (
    lambda s, c: f"一个{_ZH_COLOUR[c]}的{_ZH_SHAPE[s]}",
    lambda s, c: f"一张{_ZH_COLOUR[c]}{_ZH_SHAPE[s]}的照片",
    lambda s, c: f"一张{_ZH_COLOUR[c]}{_ZH_SHAPE[s]}的图片",
    lambda s, c: f"{_ZH_COLOUR[c]}的{_ZH_SHAPE[s]}",
    lambda s, c: f"这个{_ZH_SHAPE[s]}是{_ZH_COLOUR[c]}的",
    lambda s, c: f"图片里有一个{_ZH_COLOUR[c]}的{_ZH_SHAPE[s]}",
)

# Arabic: noun (indefinite), gender; adjective masculine, feminine
_AR_SHAPE = {
    "circle": ("دائرة", "f"),
    "square": ("مربع", "m"),
    "triangle": ("مثلث", "m"),
    "star": ("نجمة", "f"),
}
_AR_COLOUR = {
    "red": ("أحمر", "حمراء"),
    "green": ("أخضر", "خضراء"),
    "blue": ("أزرق", "زرقاء"),
    "yellow": ("أصفر", "صفراء"),
    "purple": ("بنفسجي", "بنفسجية"),
    "orange": ("برتقالي", "برتقالية"),
}


def _ar(shape: str, colour: str) -> tuple[str, str, str]:
    """Noun, agreeing adjective, and the demonstrative ``هذا`` / ``هذه``."""
    noun, gender = _AR_SHAPE[shape]
    masculine = gender == "m"
    return noun, _AR_COLOUR[colour][0 if masculine else 1], "هذا" if masculine else "هذه"


def _ar_phrase(shape: str, colour: str) -> str:
    """``دائرة حمراء`` / ``مربع أحمر``: an indefinite noun and its agreeing adjective."""
    noun, adjective, _ = _ar(shape, colour)
    return f"{noun} {adjective}"


_AR: tuple[_Template, ...] = (
    _ar_phrase,
    lambda s, c: f"صورة ل{_ar_phrase(s, c)}",
    lambda s, c: f"رسم ل{_ar_phrase(s, c)}",
    lambda s, c: f"{_ar(s, c)[2]} {_ar_phrase(s, c)}",
    lambda s, c: f"ال{_ar_phrase(s, c)}",
    lambda s, c: f"في الصورة {_ar_phrase(s, c)}",
)

# Russian: noun nominative, genitive, gender; adjective nominative m/f, genitive m/f
_RU_SHAPE = {
    "circle": ("круг", "круга", "m"),
    "square": ("квадрат", "квадрата", "m"),
    "triangle": ("треугольник", "треугольника", "m"),
    "star": ("звезда", "звезды", "f"),
}
_RU_COLOUR = {
    "red": ("красный", "красная", "красного", "красной"),
    "green": ("зелёный", "зелёная", "зелёного", "зелёной"),
    "blue": ("синий", "синяя", "синего", "синей"),
    "yellow": ("жёлтый", "жёлтая", "жёлтого", "жёлтой"),
    "purple": ("фиолетовый", "фиолетовая", "фиолетового", "фиолетовой"),
    "orange": ("оранжевый", "оранжевая", "оранжевого", "оранжевой"),
}


def _ru_nominative(shape: str, colour: str) -> str:
    noun, _, gender = _RU_SHAPE[shape]
    return f"{_RU_COLOUR[colour][0 if gender == 'm' else 1]} {noun}"


def _ru_genitive(shape: str, colour: str) -> str:
    _, noun, gender = _RU_SHAPE[shape]
    return f"{_RU_COLOUR[colour][2 if gender == 'm' else 3]} {noun}"


_RU: tuple[_Template, ...] = (
    _ru_nominative,
    lambda s, c: f"фотография {_ru_genitive(s, c)}",
    lambda s, c: f"изображение {_ru_genitive(s, c)}",
    lambda s, c: f"рисунок {_ru_genitive(s, c)}",
    lambda s, c: f"это {_ru_nominative(s, c)}",
    lambda s, c: f"на картинке {_ru_nominative(s, c)}",
)

_TEMPLATES: dict[str, tuple[_Template, ...]] = {
    "en": _EN,
    "fr": _FR,
    "de": _DE,
    "es": _ES,
    "zh": _ZH,
    "ar": _AR,
    "ru": _RU,
}


def _check_class(shape: str, colour: str) -> None:
    if shape not in SHAPES:
        raise ConfigurationError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    if colour not in COLOURS:
        raise ConfigurationError(f"unknown colour {colour!r}; choose one of {', '.join(COLOURS)}")


def _templates(lang: str) -> tuple[_Template, ...]:
    templates = _TEMPLATES.get(lang)
    if templates is None:
        raise ConfigurationError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return templates


def num_templates(lang: str) -> int:
    """How many caption templates ``lang`` has.

    Example:
        >>> num_templates("de")
        6
    """
    return len(_templates(lang))


def caption(shape: str, colour: str, lang: str = "en", template_index: int = 0) -> str:
    """Caption a ``colour`` ``shape`` in ``lang`` with template ``template_index``.

    Template 0 of every language is the bare noun phrase ("a red circle").

    Raises:
        ConfigurationError: an unknown shape, colour or language, or a template index out of range.

    Example:
        >>> caption("square", "purple", "de", 1)
        'ein Foto von einem violetten Quadrat'
        >>> caption("star", "green", "es", 4)
        'la estrella es verde'
        >>> caption("circle", "red", "ar")
        'دائرة حمراء'
    """
    _check_class(shape, colour)
    templates = _templates(lang)
    if not 0 <= template_index < len(templates):
        raise ConfigurationError(
            f"template_index must be between 0 and {len(templates) - 1} for {lang!r}, not {template_index}"
        )
    return templates[template_index](shape, colour)


def class_captions(lang: str = "en", template_index: int = 0) -> list[str]:
    """One caption per class, in the order of :data:`CLASSES`.

    Example:
        >>> class_captions("zh")[:2]
        ['一个红色的圆形', '一个绿色的圆形']
    """
    return [caption(shape, colour, lang, template_index) for shape, colour in CLASSES]


def caption_corpus(languages: Iterable[str] = LANGUAGES) -> list[str]:
    """Every caption of every class, language and template (for training a tokenizer).

    Example:
        >>> len(caption_corpus())
        1008
    """
    return [
        caption(shape, colour, lang, t)
        for lang in languages
        for t in range(num_templates(lang))
        for shape, colour in CLASSES
    ]


def canonical_text(text: str) -> str:
    """A caption as SigLIP's tokenizer sees it: lower case, ASCII punctuation removed.

    Example:
        >>> canonical_text("Une photo d'une étoile!")
        'une photo dune étoile'
    """
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    return " ".join(text.split())


# -- pictures -------------------------------------------------------------------------------------

# hue centre (degrees), hue jitter, value range
_HUES: dict[str, tuple[float, float, tuple[float, float]]] = {
    "red": (0.0, 7.0, (0.7, 1.0)),
    "orange": (28.0, 5.0, (0.88, 1.0)),
    "yellow": (55.0, 5.0, (0.85, 1.0)),
    "green": (122.0, 18.0, (0.5, 0.95)),
    "blue": (222.0, 14.0, (0.6, 1.0)),
    "purple": (282.0, 12.0, (0.5, 0.95)),
}
_BACKGROUNDS = ("plain", "gradient", "stripes", "checks", "blotches")
_SUPERSAMPLE = 4


def _shape_rgb(colour: str, rng: np.random.Generator) -> np.ndarray:
    centre, jitter, (low, high) = _HUES[colour]
    hue = ((centre + rng.uniform(-jitter, jitter)) % 360.0) / 360.0
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.7, 1.0), rng.uniform(low, high))
    return np.array(rgb, dtype=np.float32)


def _neutral(rng: np.random.Generator, level: float) -> np.ndarray:
    """A grey of brightness ``level``, faintly tinted."""
    rgb = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.12), level)
    return np.array(rgb, dtype=np.float32)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    kind = _BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))]
    first = _neutral(rng, rng.uniform(0.05, 1.0))
    second = _neutral(rng, float(np.clip(rng.normal(0.5, 0.3), 0.0, 1.0)))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == "plain":
        weight = np.zeros((size, size), dtype=np.float32)
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        proj = xx * np.cos(angle) + yy * np.sin(angle)
        weight = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
    elif kind == "stripes":
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(0.08, 0.25)
        proj = xx * np.cos(angle) + yy * np.sin(angle)
        weight = ((proj / period) % 1.0 < 0.5).astype(np.float32) * rng.uniform(0.2, 0.6)
    elif kind == "checks":
        cells = int(rng.integers(3, 9))
        weight = ((np.floor(xx * cells) + np.floor(yy * cells)) % 2).astype(np.float32) * rng.uniform(
            0.2, 0.6
        )
    else:  # blotches: smooth low-frequency noise
        coarse = rng.uniform(0, 255, size=(4, 4)).astype(np.uint8)
        smooth = Image.fromarray(coarse, mode="L").resize((size, size), Image.Resampling.BICUBIC)
        weight = np.asarray(smooth, dtype=np.float32) / 255.0
    weight = weight[..., None]
    return first * (1.0 - weight) + second * weight


def _outline(shape: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    """Polygon vertices of a square, triangle or five-pointed star."""
    if shape == "square":
        half = radius * 0.8
        corners = [(-half, -half), (half, -half), (half, half), (-half, half)]
    elif shape == "triangle":
        corners = [
            (radius * np.cos(a), radius * np.sin(a))
            for a in (-np.pi / 2 + k * 2 * np.pi / 3 for k in range(3))
        ]
    else:  # star
        inner = radius * 0.45
        corners = [
            ((radius if k % 2 == 0 else inner) * np.cos(a), (radius if k % 2 == 0 else inner) * np.sin(a))
            for k, a in enumerate(-np.pi / 2 + k * np.pi / 5 for k in range(10))
        ]
    cos, sin = np.cos(angle), np.sin(angle)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in corners]


def _shape_mask(shape: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """An anti-aliased coverage mask (0..1) of one shape at a random size, place and angle."""
    big = size * _SUPERSAMPLE
    radius = rng.uniform(0.22, 0.42) * big
    margin = radius * 1.02
    cx, cy = rng.uniform(margin, big - margin, size=2)
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    if shape == "circle":
        r = radius * 0.9
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    else:
        spread = {"square": np.pi / 15, "triangle": np.pi / 6, "star": np.pi / 5}[shape]
        draw.polygon(_outline(shape, cx, cy, radius, rng.uniform(-spread, spread)), fill=255)
    small = mask.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)[..., None] / 255.0


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ConfigurationError(f"rng must be a numpy Generator, an int seed or None, not {type(rng).__name__}")


def render(
    shape: str, colour: str, rng: np.random.Generator | int | None = None, size: int = 64
) -> Image.Image:
    """Draw one ``colour`` ``shape`` on a random neutral background, with pixel noise.

    Args:
        shape: one of :data:`SHAPES`.
        colour: one of :data:`COLOURS`.
        rng: the random generator that decides size, position, angle, hue, background and
            noise (or an int seed). The same generator state gives the same picture.
        size: the side of the square picture in pixels (at least 16).

    Returns:
        An RGB PIL image of ``size`` x ``size`` pixels.

    Raises:
        ConfigurationError: an unknown shape or colour, a bad ``rng`` or a ``size`` below 16.

    Example:
        >>> import numpy as np
        >>> image = render("star", "red", np.random.default_rng(7), size=32)
        >>> image.mode, image.size
        ('RGB', (32, 32))
    """
    _check_class(shape, colour)
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise ConfigurationError(f"size must be an integer of at least 16 pixels, not {size!r}")
    generator = _as_rng(rng)
    size = int(size)
    background = _background(size, generator)
    mask = _shape_mask(shape, size, generator)
    fill = _shape_rgb(colour, generator)
    # a faint light gradient across the shape, so it is not perfectly flat
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    light = 1.0 + generator.uniform(-0.08, 0.08) * (xx - 0.5) + generator.uniform(-0.08, 0.08) * (yy - 0.5)
    picture = background * (1.0 - mask) + np.clip(fill * light[..., None], 0.0, 1.0) * mask
    noise = generator.normal(0.0, generator.uniform(0.0, 0.05), size=picture.shape).astype(np.float32)
    pixels = np.clip((picture + noise) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


# -- data sets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One picture with one of its captions.

    Attributes:
        image: the RGB picture.
        shape: the shape it shows (one of :data:`SHAPES`).
        colour: the shape's colour (one of :data:`COLOURS`).
        lang: the caption's language (one of :data:`LANGUAGES`).
        template: the caption template's index in that language.
        caption: the caption.
    """

    image: Image.Image
    shape: str
    colour: str
    lang: str
    template: int
    caption: str

    @property
    def label(self) -> int:
        """The class index: the position of ``(shape, colour)`` in :data:`CLASSES`."""
        return CLASSES.index((self.shape, self.colour))


def _balanced_labels(n: int, rng: np.random.Generator) -> list[int]:
    """``n`` class indices, as balanced as ``n`` allows, in random order."""
    labels = np.arange(n) % len(CLASSES)
    return [int(i) for i in rng.permutation(labels)]


def _check_languages(languages: Sequence[str]) -> tuple[str, ...]:
    langs = tuple(languages)
    if not langs:
        raise ConfigurationError("languages is empty; pass at least one of " + ", ".join(LANGUAGES))
    for lang in langs:
        _templates(lang)
    return langs


def generate_dataset(
    n: int,
    seed: int = 0,
    *,
    size: int = 64,
    languages: Sequence[str] = LANGUAGES,
) -> list[Sample]:
    """Generate ``n`` captioned pictures, classes balanced, languages and templates at random.

    Args:
        n: how many samples.
        seed: the random seed; the same seed gives the same samples.
        size: the pictures' side in pixels.
        languages: the caption languages to draw from.

    Raises:
        ConfigurationError: a negative ``n``, an unknown language or a bad ``size``.

    Example:
        >>> samples = generate_dataset(24, seed=3, size=32, languages=["fr", "ru"])
        >>> sorted({s.lang for s in samples})
        ['fr', 'ru']
        >>> len({(s.shape, s.colour) for s in samples})
        24
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigurationError(f"n must be a non-negative integer, not {n!r}")
    langs = _check_languages(languages)
    rng = np.random.default_rng(seed)
    samples = []
    for label in _balanced_labels(int(n), rng):
        shape, colour = CLASSES[label]
        lang = langs[int(rng.integers(len(langs)))]
        template = int(rng.integers(num_templates(lang)))
        image = render(shape, colour, rng, size=size)
        samples.append(Sample(image, shape, colour, lang, template, caption(shape, colour, lang, template)))
    return samples


def write_image_folder(
    folder: str | os.PathLike[str],
    per_class: int = 2,
    seed: int = 0,
    *,
    size: int = 64,
) -> list[tuple[Path, str, str]]:
    """Write ``per_class`` PNG pictures of every class into ``folder``.

    Files are named ``{colour}_{shape}_{index:03d}.png`` (``red_circle_003.png``), so a folder
    of pictures can be searched and the answers checked by file name.

    Args:
        folder: where to write; created if missing.
        per_class: pictures per class (24 classes).
        seed: the random seed; the same seed writes the same pictures.
        size: the pictures' side in pixels.

    Returns:
        ``(path, shape, colour)`` of every written picture, in class order.

    Raises:
        ConfigurationError: ``per_class`` is negative or ``size`` is too small.

    Example:
        >>> import tempfile
        >>> written = write_image_folder(tempfile.mkdtemp(), per_class=1, seed=0, size=32)
        >>> len(written), written[0][0].name
        (24, 'red_circle_000.png')
    """
    if not isinstance(per_class, (int, np.integer)) or per_class < 0:
        raise ConfigurationError(f"per_class must be a non-negative integer, not {per_class!r}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    for shape, colour in CLASSES:
        for index in range(int(per_class)):
            path = out / f"{colour}_{shape}_{index:03d}.png"
            render(shape, colour, rng, size=size).save(path, format="PNG")
            written.append((path, shape, colour))
    return written
