"""Data to teach the demo model a shape it never saw: crosses, with English captions.

:func:`write_pairs` draws pictures of the new shape in the demo's six colours ("a red cross"), and
some of the demo's own 24 classes beside them (so that fine-tuning keeps what the model knows),
into a folder with a ``pairs.csv`` that ``siglip-retriever finetune`` and ``compare`` read.
:func:`class_recall` scores a model on such pictures drawn with another seed: the share of class
captions whose best picture is of that class.

Example:
    >>> import tempfile
    >>> from siglip_retriever.demo.new_concept import write_pairs
    >>> pairs = write_pairs(tempfile.mkdtemp(), new_per_class=2, old_per_class=1, seed=1, size=32)
    >>> pairs.read_text().splitlines()[1].split(",")[1:]
    ['a red cross', 'en']
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from siglip_retriever.demo.captions import CLASSES, COLOURS, caption
from siglip_retriever.demo.pictures import render, render_new_shape

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder

__all__ = ["NEW_SHAPE", "class_recall", "write_pairs"]

NEW_SHAPE = "cross"
"""The shape the demo model is taught."""


def _new_caption(colour: str) -> str:
    return f"a {colour} {NEW_SHAPE}"


def write_pairs(
    folder: str | os.PathLike[str],
    *,
    new_per_class: int = 30,
    old_per_class: int = 4,
    seed: int = 0,
    size: int = 64,
    languages: Sequence[str] = ("en",),
) -> Path:
    """Draw crosses (``new_per_class`` of each colour) and the demo's classes (``old_per_class``
    each) into ``folder`` and write ``folder/pairs.csv``: each picture with its caption in each of
    ``languages`` (the crosses in English only: they have no names in the other languages).

    Returns:
        The pairs file.
    """
    root = Path(folder)
    (root / "pictures").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 11])
    rows: list[tuple[str, str, str]] = []
    for colour in COLOURS:
        for i in range(new_per_class):
            name = f"pictures/{colour}_{NEW_SHAPE}_{i}.png"
            render_new_shape(NEW_SHAPE, colour, rng, size=size).save(root / name)
            rows.append((name, _new_caption(colour), "en"))
    for shape, colour in CLASSES:
        for i in range(old_per_class):
            name = f"pictures/{colour}_{shape}_{i}.png"
            render(shape, colour, rng, size=size).save(root / name)
            rows.extend((name, caption(shape, colour, lang), lang) for lang in languages)
    pairs = root / "pairs.csv"
    with pairs.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption", "language"])
        writer.writerows(rows)
    return pairs


def class_recall(
    encoder: SiglipEncoder, *, seed: int, per_class: int = 4, size: int = 64
) -> dict[str, float]:
    """Text->image Recall@1 of class captions over a gallery of every class (crosses included),
    drawn with ``seed``: ``{"new": en R@1 of the crosses, "old/LANG": R@1 of the demo's classes in
    each language}``.
    """
    from siglip_retriever.demo.captions import LANGUAGES

    rng = np.random.default_rng([seed, 13])
    classes = [(NEW_SHAPE, colour) for colour in COLOURS] + list(CLASSES)
    pictures, labels = [], []
    for index, (shape, colour) in enumerate(classes):
        for _ in range(per_class):
            draw = render_new_shape if shape == NEW_SHAPE else render
            pictures.append(draw(shape, colour, rng, size=size))
            labels.append(index)
    gallery = encoder.encode_images(pictures)
    owner = np.asarray(labels)

    def recall(captions: list[str], targets: list[int]) -> float:
        best = np.argmax(encoder.encode_texts(captions) @ gallery.T, axis=1)
        return float(np.mean(owner[best] == np.asarray(targets)))

    result = {"new": recall([_new_caption(c) for c in COLOURS], list(range(len(COLOURS))))}
    old = range(len(COLOURS), len(classes))
    for lang in LANGUAGES:
        result[f"old/{lang}"] = recall([caption(*classes[i], lang) for i in old], list(old))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m siglip_retriever.demo.new_concept DIR [MODEL...]``: write ``DIR/train/pairs.csv``
    (crosses and the demo's classes, seed 0) and ``DIR/held-out/pairs.csv`` (seed 1, English and
    French); with checkpoints named, print their :func:`class_recall` on pictures of seed 2."""
    import json
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m siglip_retriever.demo.new_concept DIR [MODEL ...]", file=sys.stderr)
        return 2
    root = Path(args[0])
    train = write_pairs(root / "train", new_per_class=20, old_per_class=8, seed=0)
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
