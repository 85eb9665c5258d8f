"""The pairs a fine-tuning run learns from: read, checked line by line, decoded once, split, batched.

The file is the one ``compare`` reads (:mod:`siglip_retriever.compare.datasets`): CSV with a header
or JSON Lines, columns ``image``, ``caption`` and optionally ``language``; an image may have several
captions and a caption several images. :func:`read_pairs` checks every line and reports all that
are wrong at once, with their line numbers (an unknown column, no image path, an empty caption, an
image file that does not exist); a picture that exists but cannot be read is skipped with its
reason, with its pairs, and the run goes on.

:func:`split_by_image` holds out a share of the images (all their pairs) for scoring;
:func:`batch_for_step` draws the batch of a step from the seed and the step alone, so a resumed
run sees exactly the batches an uninterrupted one would.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from siglip_retriever.tuning.data import read_pairs
    >>> folder = Path(tempfile.mkdtemp())
    >>> for colour in ("red", "blue"):
    ...     Image.new("RGB", (16, 16), colour).save(folder / f"{colour}.png")
    >>> rows = ["image,caption", "red.png,a red square", "blue.png,a blue square"]
    >>> _ = (folder / "pairs.csv").write_text("\\n".join(rows))
    >>> data = read_pairs(folder / "pairs.csv", image_size=16)
    >>> len(data.pictures), [pair.caption for pair in data.pairs]
    (2, ['a red square', 'a blue square'])
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siglip_retriever.compare.datasets import (
    CAPTION_KEYS,
    IMAGE_KEYS,
    LANGUAGE_KEYS,
    UNDETERMINED,
    read_rows,
    row_field,
)
from siglip_retriever.encoding.images import decode_image
from siglip_retriever.errors import ConfigurationError, ImageLoadError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "Batch",
    "Pair",
    "TrainingPairs",
    "augment",
    "batch_for_step",
    "describe",
    "read_pairs",
    "split_by_image",
]

_KNOWN_COLUMNS = frozenset((*IMAGE_KEYS, *CAPTION_KEYS, *LANGUAGE_KEYS))
_MAX_LISTED = 10


@dataclass(frozen=True)
class Pair:
    """One caption of one picture.

    Attributes:
        image: the index of the picture in :attr:`TrainingPairs.images`.
        caption: the caption.
        language: its language (``und`` when not given).
        line: its line in the pairs file.
    """

    image: int
    caption: str
    language: str
    line: int


@dataclass
class TrainingPairs:
    """Pictures, decoded once, and their captions.

    Attributes:
        images: the pictures' paths.
        pictures: the decoded pictures (RGB, made small as
            :func:`~siglip_retriever.encoding.images.load_image` does for ``target_size``).
        pairs: every caption, pointing to its picture.
        skipped: ``(path, reason)`` of the pictures that could not be read (their pairs are left out).
        source: the pairs file.
    """

    images: list[str]
    pictures: list[Image.Image]
    pairs: list[Pair]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""

    @property
    def languages(self) -> list[str]:
        """The captions' languages, sorted."""
        return sorted({pair.language for pair in self.pairs})

    @cached_property
    def captions_of(self) -> list[list[int]]:
        """For each picture, the indices of its pairs (computed once: every step reads it)."""
        owned: list[list[int]] = [[] for _ in self.images]
        for index, pair in enumerate(self.pairs):
            owned[pair.image].append(index)
        return owned

    @cached_property
    def pictures_of(self) -> dict[str, frozenset[int]]:
        """For each caption text, the pictures it describes (computed once)."""
        found: dict[str, set[int]] = defaultdict(set)
        for pair in self.pairs:
            found[pair.caption].add(pair.image)
        return {text: frozenset(images) for text, images in found.items()}

    def subset(self, images: list[int]) -> TrainingPairs:
        """The pictures at ``images`` and their pairs."""
        new_index = {old: new for new, old in enumerate(images)}
        pairs = [
            Pair(new_index[p.image], p.caption, p.language, p.line)
            for p in self.pairs
            if p.image in new_index
        ]
        return TrainingPairs(
            [self.images[i] for i in images], [self.pictures[i] for i in images], pairs, [], self.source
        )


def read_pairs(path: str | os.PathLike[str], *, image_size: int) -> TrainingPairs:
    """Read, check and decode a pairs file (see the module's docstring).

    Args:
        path: a CSV or JSON Lines file; image paths are relative to its folder.
        image_size: the model's input size: pictures are kept at least twice as large.

    Raises:
        ConfigurationError: the file is missing or empty, or lines are wrong (all of them listed,
            with their numbers), or no picture could be read.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigurationError(f"pairs file {file} does not exist")
    rows = read_rows(file)
    problems: list[str] = []
    unknown = sorted({key for _, row in rows for key in row if key not in _KNOWN_COLUMNS})
    if unknown:
        problems.append(
            f"{file}: unknown column(s) {', '.join(repr(u) for u in unknown)}; the columns are image, "
            "caption and (optionally) language"
        )
    base = file.resolve().parent
    images: list[str] = []
    index: dict[str, int] = {}
    entries: list[tuple[int, str, str, int]] = []
    for line, row in rows:
        image, caption = row_field(row, IMAGE_KEYS), row_field(row, CAPTION_KEYS)
        if not image:
            problems.append(f"{file}:{line}: no image path")
            continue
        if not caption:
            problems.append(f"{file}:{line}: the caption is empty")
            continue
        resolved = str((base / Path(image).expanduser()).resolve())
        if resolved not in index:
            if not Path(resolved).is_file():
                problems.append(f"{file}:{line}: the image {image} does not exist")
                continue
            index[resolved] = len(images)
            images.append(resolved)
        entries.append((index[resolved], caption, row_field(row, LANGUAGE_KEYS) or UNDETERMINED, line))
    if problems:
        listed = "\n  ".join(problems[:_MAX_LISTED])
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise ConfigurationError(f"{len(problems)} problem(s) in the pairs file:\n  {listed}{more}")
    if not entries:
        raise ConfigurationError(f"{file} holds no image-caption pair")
    return _decoded(images, entries, image_size, str(file))


def _decoded(
    images: list[str], entries: list[tuple[int, str, str, int]], image_size: int, source: str
) -> TrainingPairs:
    """Decode every picture once; skip the unreadable ones with their reasons."""
    pictures: list[Image.Image] = []
    kept: dict[int, int] = {}
    skipped: list[tuple[str, str]] = []
    for old, path in enumerate(images):
        try:
            pictures.append(decode_image(path, target_size=image_size).image)
        except ImageLoadError as exc:
            skipped.append((path, exc.reason))
            continue
        kept[old] = len(pictures) - 1
    if not pictures:
        raise ConfigurationError(f"no picture named in {source} could be read: {skipped[0][1]}")
    pairs = [Pair(kept[i], caption, language, line) for i, caption, language, line in entries if i in kept]
    return TrainingPairs([images[i] for i in kept], pictures, pairs, skipped, source)


def split_by_image(data: TrainingPairs, share: float, seed: int) -> tuple[TrainingPairs, TrainingPairs]:
    """``(training, held_out)``: a random ``share`` of the pictures (at least one), with all their
    pairs, held out; the same for the same seed.

    Raises:
        ConfigurationError: fewer than 3 pictures (2 to train on, 1 to score).
    """
    count = len(data.images)
    if count < 3:
        raise ConfigurationError(f"{count} picture(s) is too few to fine-tune and score; give at least 3")
    order = np.random.default_rng([seed, 7]).permutation(count)
    held = max(1, min(count - 2, round(share * count)))
    return data.subset(sorted(int(i) for i in order[held:])), data.subset(
        sorted(int(i) for i in order[:held])
    )


@dataclass(frozen=True)
class Batch:
    """The pictures and captions of one step, and which of their pairs match.

    Attributes:
        images: picture indices (distinct).
        captions: one caption for each picture.
        positives: ``positives[i][j]``: caption ``j`` describes picture ``i`` (its own, or an
            identical caption of another picture).
        crops: for each picture, its augmentation: ``(left, top, right, bottom)`` as shares of the
            picture's size, and whether it is flipped.
    """

    images: list[int]
    captions: list[str]
    positives: np.ndarray
    crops: list[tuple[tuple[float, float, float, float], bool]]


def batch_for_step(
    data: TrainingPairs, step: int, *, batch_size: int, seed: int, crop_scale: float, flip: bool
) -> Batch:
    """The batch of ``step``: from the seed and the step alone (see the module's docstring).

    Each epoch is a new order of the pictures; a batch takes the next ``batch_size`` of them
    (fewer when there are fewer pictures), each with one of its captions drawn at random.
    """
    count = len(data.images)
    size = min(batch_size, count)
    per_epoch = max(1, count // size)
    epoch, slot = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(count)
    images = [int(i) for i in order[slot * size : (slot + 1) * size]]
    rng = np.random.default_rng([seed, epoch, slot, 1])
    owned, by_caption = data.captions_of, data.pictures_of
    captions = [data.pairs[owned[i][int(rng.integers(len(owned[i])))]].caption for i in images]
    positives = np.array([[image in by_caption[text] for text in captions] for image in images], dtype=bool)
    positives |= np.eye(len(images), dtype=bool)
    crops = [_crop(rng, crop_scale, flip) for _ in images]
    return Batch(images, captions, positives, crops)


def _crop(
    rng: np.random.Generator, scale: float, flip: bool
) -> tuple[tuple[float, float, float, float], bool]:
    """A random resized crop (area share in ``[scale, 1]``, aspect ratio 3/4 to 4/3) and a flip."""
    area = rng.uniform(scale, 1.0)
    ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    width, height = min(1.0, math.sqrt(area * ratio)), min(1.0, math.sqrt(area / ratio))
    left, top = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
    flipped = bool(flip and rng.random() < 0.5)
    return (left, top, left + width, top + height), flipped


def augment(picture: Image.Image, crop: tuple[tuple[float, float, float, float], bool]) -> Image.Image:
    """``picture`` cropped (and flipped) as :class:`Batch` says; the model's processor resizes it."""
    from PIL import Image as PILImage

    (left, top, right, bottom), flipped = crop
    width, height = picture.size
    box = (
        round(left * width),
        round(top * height),
        max(1, round(right * width)),
        max(1, round(bottom * height)),
    )
    cropped = picture.crop(box)
    return cropped.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT) if flipped else cropped


def describe(data: TrainingPairs) -> dict[str, Any]:
    """What a set of pairs holds, for the report."""
    return {
        "images": len(data.images),
        "pairs": len(data.pairs),
        "languages": data.languages,
        "skipped": [{"image": path, "reason": reason} for path, reason in data.skipped],
    }
