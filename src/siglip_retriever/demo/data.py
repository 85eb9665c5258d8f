"""The demo data sets: captioned pictures of coloured shapes, and folders of picture files.

Built on :mod:`~siglip_retriever.demo.captions` (shapes, colours, languages, captions) and
:mod:`~siglip_retriever.demo.pictures` (drawing one picture); their names can be imported
from here as well. Everything is deterministic: the same seed gives the same pictures and
captions. Only numpy and Pillow are used; no torch.

Example:
    >>> from siglip_retriever.demo.data import caption, generate_dataset, render
    >>> import numpy as np
    >>> caption("circle", "orange", "en")
    'an orange circle'
    >>> render("square", "blue", np.random.default_rng(0), size=48).size
    (48, 48)
    >>> samples = generate_dataset(4, seed=1)
    >>> [s.caption for s in samples] == [s.caption for s in generate_dataset(4, seed=1)]
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from siglip_retriever.demo import captions, pictures

# re-exported: the names of captions and pictures, which lived here before they moved out
from siglip_retriever.demo.captions import *  # noqa: F403
from siglip_retriever.demo.captions import CLASSES, LANGUAGES, caption, num_templates
from siglip_retriever.demo.pictures import *  # noqa: F403
from siglip_retriever.demo.pictures import render
from siglip_retriever.errors import ConfigurationError

__all__ = [
    "Sample",
    "generate_dataset",
    "labelled_pictures",
    "write_image_folder",
    *captions.__all__,
    *pictures.__all__,
]


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

    Example:
        >>> sample = generate_dataset(1, seed=0, size=32)[0]
        >>> CLASSES[sample.label] == (sample.shape, sample.colour), sample.image.size
        (True, (32, 32))
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
        num_templates(lang)  # refuses an unknown language
    return langs


def labelled_pictures(
    per_class: int, seed: int, sizes: Sequence[int] = (64,)
) -> tuple[list[Image.Image], list[int]]:
    """``per_class`` pictures of every class, in class order, and their class labels.

    Each picture is drawn at a size picked at random from ``sizes``, then rendered, both from
    one generator seeded with ``seed``.

    Example:
        >>> pictures, labels = labelled_pictures(2, seed=0, sizes=(32, 48))
        >>> len(pictures), labels[:4], {p.size[0] for p in pictures} <= {32, 48}
        (48, [0, 0, 1, 1], True)
    """
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, (shape, colour) in enumerate(CLASSES):
        for _ in range(per_class):
            size = int(rng.choice(list(sizes)))
            images.append(render(shape, colour, rng, size=size))
            labels.append(label)
    return images, labels


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
