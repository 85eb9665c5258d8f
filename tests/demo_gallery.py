"""The held-out gallery the demo-model tests share: pictures drawn with a seed training never used."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from siglip_retriever import SiglipEncoder
from siglip_retriever.demo.data import CLASSES, render

HELD_OUT_SEED = 90_210
PER_CLASS = 4


def held_out_gallery(
    encoder: SiglipEncoder, *, seed: int = HELD_OUT_SEED, per_class: int = PER_CLASS
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """``per_class`` pictures of each of the 24 classes (48, 64 or 96 px): vectors and labels."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, (shape, colour) in enumerate(CLASSES):
        for _ in range(per_class):
            images.append(render(shape, colour, rng, size=int(rng.choice([48, 64, 96]))))
            labels.append(label)
    return encoder.encode_images(images), np.array(labels)
