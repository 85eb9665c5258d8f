"""Data to teach the demo model a colour it never saw: cyan, with English captions.

:func:`write_pairs` draws the demo's four shapes in the new colour ("a cyan star", "the circle is
cyan", in the six English caption templates), and some of the demo's own 24 classes beside them
(so that fine-tuning keeps what the model knows), into a folder with a ``pairs.csv`` that
``siglip-retriever finetune`` and ``compare`` read. :func:`class_recall` scores a model on such
pictures drawn with another seed: the share of class captions (every template) whose best picture
is of that class.

Example:
    >>> import tempfile
    >>> from siglip_retriever.demo.new_concept import write_pairs
    >>> pairs = write_pairs(tempfile.mkdtemp(), new_per_class=2, old_per_class=1, seed=1, size=32)
    >>> pairs.read_text().splitlines()[1].split(",")[1:]
    ['a cyan circle', 'en']
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from siglip_retriever.demo.captions import CLASSES, NEW_COLOURS, SHAPES, caption, num_templates
from siglip_retriever.demo.pictures import render_new_colour

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder

__all__ = ["NEW_COLOUR", "class_recall", "write_pairs"]

NEW_COLOUR = NEW_COLOURS[0]
"""The colour the demo model is taught."""


def write_pairs(
    folder: str | os.PathLike[str],
    *,
    new_per_class: int = 20,
    old_per_class: int = 8,
    seed: int = 0,
    size: int = 64,
    languages: Sequence[str] = ("en",),
) -> Path:
    """Draw each shape in the new colour (``new_per_class`` of each) and the demo's classes
    (``old_per_class`` each) into ``folder`` and write ``folder/pairs.csv``: each picture with one
    caption in each of ``languages`` (the new colour in English only: it has no name in the others),
    the caption templates taken in turn.

    Returns:
        The pairs file.
    """
    root = Path(folder)
    (root / "pictures").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 11])
    rows: list[tuple[str, str, str]] = []
    classes = [(shape, NEW_COLOUR, new_per_class) for shape in SHAPES]
    classes += [(shape, colour, old_per_class) for shape, colour in CLASSES]
    for shape, colour, count in classes:
        for i in range(count):
            name = f"pictures/{colour}_{shape}_{i}.png"
            render_new_colour(shape, colour, rng, size=size).save(root / name)
            for lang in ("en",) if colour == NEW_COLOUR else languages:
                rows.append((name, caption(shape, colour, lang, i % num_templates(lang)), lang))
    pairs = root / "pairs.csv"
    with pairs.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption", "language"])
        writer.writerows(rows)
    return pairs


def class_recall(
    encoder: SiglipEncoder, *, seed: int, per_class: int = 4, size: int = 64
) -> dict[str, float]:
    """Text->image Recall@1 of class captions (every template) over a gallery of every class (the
    new colour's included), drawn with ``seed``: ``{"new": en R@1 of the new colour's classes,
    "old/LANG": R@1 of the demo's classes in each language}``.
    """
    from siglip_retriever.demo.captions import LANGUAGES

    rng = np.random.default_rng([seed, 13])
    classes = [(shape, NEW_COLOUR) for shape in SHAPES] + list(CLASSES)
    pictures, labels = [], []
    for index, (shape, colour) in enumerate(classes):
        for _ in range(per_class):
            pictures.append(render_new_colour(shape, colour, rng, size=size))
            labels.append(index)
    gallery = encoder.encode_images(pictures)
    owner = np.asarray(labels)

    def recall(targets: range, lang: str) -> float:
        queries = [(i, t) for i in targets for t in range(num_templates(lang))]
        texts = [caption(*classes[i], lang, t) for i, t in queries]
        best = np.argmax(encoder.encode_texts(texts) @ gallery.T, axis=1)
        return float(np.mean(owner[best] == np.asarray([i for i, _ in queries])))

    result = {"new": recall(range(len(SHAPES)), "en")}
    for lang in LANGUAGES:
        result[f"old/{lang}"] = recall(range(len(SHAPES), len(classes)), lang)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m siglip_retriever.demo.new_concept DIR [MODEL...]``: write ``DIR/train/pairs.csv``
    (the new colour and the demo's classes, seed 0) and ``DIR/held-out/pairs.csv`` (seed 1, English and
    French); with checkpoints named, print their :func:`class_recall` on pictures of seed 2."""
    import json
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m siglip_retriever.demo.new_concept DIR [MODEL ...]", file=sys.stderr)
        return 2
    root = Path(args[0])
    train = write_pairs(root / "train", seed=0)
    held = write_pairs(root / "held-out", new_per_class=3, old_per_class=1, seed=1, languages=("en", "fr"))
    print(f"training pairs: {train}\nheld-out pairs: {held}")
    if len(args) > 1:
        from siglip_retriever.encoding.encoder import SiglipEncoder

        for model in args[1:]:
            scores = class_recall(SiglipEncoder(model), seed=2)
            print(model, json.dumps({k: round(v, 2) for k, v in scores.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
