"""Pictures stored beside resized copies of themselves (groups of duplicates by perceptual hash),
for the tests of diverse results and duplicate collapsing in every front-end."""

from __future__ import annotations

import numpy as np
from PIL import Image

from siglip_retriever.store import MultimodalStore
from siglip_retriever.store.fingerprints import fingerprint
from siglip_retriever.store.metadata import PHASH

SIZES = (64, 61, 58)
"""The sizes each picture is stored at: one group of 3 entries per picture."""


def smooth_picture(seed: int) -> Image.Image:
    """A smooth random picture (a few blobs of colour): its pHash survives resizing."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((64, 64), Image.Resampling.BICUBIC)


def store_copies(store: MultimodalStore, pictures: int = 8, unhashed: int = 4) -> list[set[str]]:
    """Store ``pictures`` pictures at each of :data:`SIZES` with their pHash (ids
    ``img-N-SIZE``), and ``unhashed`` more copies without one (``img-plain-N``); returns the
    groups of ids that are copies of one picture."""
    originals = [smooth_picture(seed) for seed in range(pictures)]
    groups: list[set[str]] = []
    ids, copies, metadatas = [], [], []
    for n, picture in enumerate(originals):
        group = set()
        for size in SIZES:
            copy = picture.resize((size, size))
            ids.append(f"img-{n}-{size}")
            copies.append(copy)
            metadatas.append({"kind": "image", PHASH: fingerprint(copy)})
            group.add(f"img-{n}-{size}")
        groups.append(group)
    for n in range(unhashed):
        ids.append(f"img-plain-{n}")
        copies.append(originals[n % pictures].resize((60, 60)))
        metadatas.append({"kind": "image"})
    store.upsert_vectors(ids, store.encoder.encode_images(copies), metadatas)
    return groups
