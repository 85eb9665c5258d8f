"""The held-out gallery and caption queries the demo-model tests share.

The gallery's pictures are drawn with a seed the training never used, so what the tests
measure on them is held out.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from siglip_retriever import SiglipEncoder
from siglip_retriever.demo.captions import labelled_captions
from siglip_retriever.demo.data import labelled_pictures

HELD_OUT_SEED = 90_210
PER_CLASS = 4

Labelled = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]
"""Vectors and the class label of each."""


@functools.cache
def held_out_gallery(
    encoder: SiglipEncoder, *, seed: int = HELD_OUT_SEED, per_class: int = PER_CLASS
) -> Labelled:
    """``per_class`` pictures of each of the 24 classes (48, 64 or 96 px): vectors and labels.

    Encoded once per encoder (and seed and count), however many tests ask.
    """
    images, labels = labelled_pictures(per_class, seed, sizes=(48, 64, 96))
    return encoder.encode_images(images), np.array(labels)


def caption_queries(encoder: SiglipEncoder, lang: str) -> Labelled:
    """Every class caption of every template in ``lang``: vectors and class labels."""
    texts, labels = labelled_captions([lang])
    return encoder.encode_texts(texts), np.array(labels)
