"""An offline evaluation set: the demo model's synthetic shapes, as pairs and as class folders.

The pictures are drawn with a seed the bundled ``demo`` model never saw (the walkthrough's), so
``siglip-retriever compare --models demo,...`` can run end to end with no data and no network.
Every picture sits in the folder of its class (``red_circle/``), with a ``labels.json`` that
names every class in every language. The first picture of each class also gets one caption in
each of the seven demo languages (templates vary from class to class): a caption names a class,
so two captioned pictures of one class could not be told apart and Recall@1 could not pass 1/2.

Example:
    >>> import tempfile
    >>> from siglip_retriever.compare.datasets import load_classes, load_pairs
    >>> from siglip_retriever.compare.sample import write_demo_dataset
    >>> pairs_file, class_folder = write_demo_dataset(tempfile.mkdtemp(), per_class=1, size=32)
    >>> len(load_pairs(pairs_file).captions), len(load_classes(class_folder).languages)
    (168, 7)
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

__all__ = ["DEMO_SEED", "write_demo_dataset"]

DEMO_SEED = 20231127
"""The pictures' seed: the walkthrough's held-out seed, not one the demo model was trained on."""


def write_demo_dataset(
    folder: str | os.PathLike[str],
    *,
    per_class: int = 2,
    size: int = 64,
    seed: int = DEMO_SEED,
) -> tuple[Path, Path]:
    """Write ``per_class`` pictures of each of the 24 shape-colour classes, with captions.

    Returns:
        ``(pairs_file, class_folder)``: ``folder/pairs.csv`` (image, caption, language: the
        first picture of each class, 24 images x 7 languages) and ``folder/classes`` (one
        sub-folder per class with ``per_class`` pictures, and ``labels.json``).
    """
    import numpy as np

    from siglip_retriever.demo.captions import CLASSES, LANGUAGES, caption, num_templates
    from siglip_retriever.demo.pictures import render

    root = Path(folder).expanduser().resolve()
    classes = root / "classes"
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str]] = []
    labels: dict[str, dict[str, str]] = {}
    for shape, colour in CLASSES:
        name = f"{colour}_{shape}"
        labels[name] = {lang: caption(shape, colour, lang, 0) for lang in LANGUAGES}
        (classes / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image = classes / name / f"{name}_{index:03d}.png"
            render(shape, colour, rng, size=size).save(image, format="PNG")
            if index > 0:
                continue
            relative = image.relative_to(root).as_posix()
            for lang in LANGUAGES:
                template = (index + len(rows)) % num_templates(lang)
                rows.append((relative, caption(shape, colour, lang, template), lang))
    (classes / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1), encoding="utf-8")
    pairs = root / "pairs.csv"
    with pairs.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption", "language"])
        writer.writerows(rows)
    return pairs, classes
