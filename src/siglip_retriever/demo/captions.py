"""Caption words and templates of the demo data: shapes, colours, languages, and their captions.

Every picture shows one shape (:data:`SHAPES`) in one colour (:data:`COLOURS`), so there are
24 classes (:data:`CLASSES`). Captions exist in seven languages (:data:`LANGUAGES`), six
templates each, with the grammar right: gender agreement of adjectives and articles
(``un cercle rouge`` / ``une étoile rouge``, ``ein roter Kreis`` / ``ein rotes Quadrat``,
``красный круг`` / ``красная звезда``, ``دائرة حمراء`` / ``مربع أحمر``), case
(``фотография красного круга``, ``ein Foto von einem roten Kreis``) and ``a`` / ``an`` in
English. No randomness and no libraries: the same arguments give the same caption.

Example:
    >>> from siglip_retriever.demo.captions import caption, class_captions
    >>> caption("circle", "orange", "en")
    'an orange circle'
    >>> caption("star", "yellow", "ru", 1)
    'фотография жёлтой звезды'
    >>> class_captions("fr")[-1]
    'une étoile orange'
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable

from siglip_retriever.errors import ConfigurationError

__all__ = [
    "CLASSES",
    "COLOURS",
    "LANGUAGES",
    "NEW_COLOURS",
    "SHAPES",
    "canonical_text",
    "caption",
    "caption_corpus",
    "check_class",
    "class_captions",
    "labelled_captions",
    "num_templates",
]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
"""The shapes a picture can show."""

COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
"""The colours a shape can have."""

NEW_COLOURS: tuple[str, ...] = ("cyan",)
"""Colours the demo model never saw, with English captions only: what fine-tuning can teach it
(:mod:`siglip_retriever.demo.new_concept`)."""

CLASSES: tuple[tuple[str, str], ...] = tuple((shape, colour) for shape in SHAPES for colour in COLOURS)
"""Every ``(shape, colour)`` pair, in a fixed order; a class's index is its label."""

LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es", "zh", "ar", "ru")
"""Caption languages (ISO 639-1): English, French, German, Spanish, Chinese, Arabic, Russian."""

# -- caption templates: (shape, colour) -> caption, six per language --------------------------------

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


def check_class(shape: str, colour: str) -> None:
    """Refuse a shape or colour the demo data does not have.

    Raises:
        ConfigurationError: ``shape`` is not in :data:`SHAPES` or ``colour`` not in :data:`COLOURS`.

    Example:
        >>> check_class("circle", "red")
    """
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

    Template 0 of every language is the bare noun phrase ("a red circle"). A colour of
    :data:`NEW_COLOURS` has English captions only.

    Raises:
        ConfigurationError: an unknown shape, colour or language, or a template index out of range.

    Example:
        >>> caption("square", "purple", "de", 1)
        'ein Foto von einem violetten Quadrat'
        >>> caption("star", "green", "es", 4)
        'la estrella es verde'
        >>> caption("circle", "red", "ar")
        'دائرة حمراء'
        >>> caption("star", "cyan", "en", 5)
        'there is a cyan star'
    """
    if colour in NEW_COLOURS and lang == "en":
        check_class(shape, COLOURS[0])
    else:
        check_class(shape, colour)
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
    return labelled_captions(languages)[0]


def labelled_captions(languages: Iterable[str] = LANGUAGES) -> tuple[list[str], list[int]]:
    """Every caption of every class, language and template, and its class label.

    Language by language, template by template, each template's captions in the order of
    :data:`CLASSES` (the order of :func:`caption_corpus`).

    Example:
        >>> texts, labels = labelled_captions(["en"])
        >>> texts[1], labels[1], texts[24], labels[24]
        ('a green circle', 1, 'a photo of a red circle', 0)
    """
    texts, labels = [], []
    for lang in languages:
        for template in range(num_templates(lang)):
            for label, (shape, colour) in enumerate(CLASSES):
                texts.append(caption(shape, colour, lang, template))
                labels.append(label)
    return texts, labels


def canonical_text(text: str) -> str:
    """A caption as SigLIP's tokenizer sees it: lower case, ASCII punctuation removed.

    Example:
        >>> canonical_text("Une photo d'une étoile!")
        'une photo dune étoile'
    """
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    return " ".join(text.split())
