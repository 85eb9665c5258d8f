"""The same pixels, the same vector: how far apart the input kinds of one picture land.

Run: ``python benchmarks/input_kinds.py`` (about half a minute; ``--quick`` leaves out 7000x7000).
On the bundled demo model it prints, for PNG pictures of 40x40, 300x200, 600x800 and 7000x7000
(colour gradients under random noise, ``tests.helpers.noisy_gradient``):

- the largest absolute difference between the vectors of any two input kinds (a PIL image, a
  ``str`` path, a ``Path``, bytes, a file object, a numpy array, a data URI, bare base64), and
  the pair that gives it;
- the largest difference between the PIL image's vector and the model card's (the processor on
  the PIL image, ``padding="max_length"``, the model's ``image_embeds``);

then, for JPEG files (quality 90), the cosine of the file's vector to that of the PIL image of its
pixels decoded in full: exact below twice the model's input side, where the file is decoded at
full size; decoded at reduced scale (``Image.draft``) above it, for the same noisy gradients and
for photo-like pictures (``tests.helpers.photo_like``).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoModel, AutoProcessor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers: the same pictures as the tests

from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.helpers import image_input_kinds, noisy_gradient, photo_like

KINDS = ["PIL", "str", "Path", "bytes", "file", "numpy", "data URI", "base64"]


def model_card_vector(encoder: SiglipEncoder, picture: Image.Image) -> np.ndarray:
    """The vector of the model card's usage: the processor on the PIL image, then the model."""
    model = AutoModel.from_pretrained(encoder.model_id).eval()
    processor = AutoProcessor.from_pretrained(encoder.model_id)
    inputs = processor(text=[""], images=[picture], padding="max_length", return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).image_embeds[0].numpy()


def input_kinds_row(encoder: SiglipEncoder, size: tuple[int, int]) -> str:
    picture = noisy_gradient(*size)
    with tempfile.TemporaryDirectory() as folder:
        inputs = image_input_kinds(picture, Path(folder))
        start = time.perf_counter()
        vectors = encoder.encode_images(inputs)
        seconds = time.perf_counter() - start
    gaps = np.abs(vectors[:, None, :] - vectors[None, :, :]).max(axis=-1)
    i, j = np.unravel_index(int(gaps.argmax()), gaps.shape)
    pair = f"{KINDS[i]} ~ {KINDS[j]}" if gaps[i, j] else "(all equal)"
    card = float(np.abs(vectors[0] - model_card_vector(encoder, picture)).max())
    cosine = float((vectors @ vectors.T).min())
    name = f"{size[0]}x{size[1]}"
    return f"{name:>10}  {gaps[i, j]:12.2e}  {pair:>16}  {cosine:10.7f}  {card:12.2e}  {seconds:7.2f}"


def jpeg_row(encoder: SiglipEncoder, kind: str, picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    with Image.open(io.BytesIO(buffer.getvalue())) as file:
        pixels = file.convert("RGB")
    from_file, from_pixels = encoder.encode_images([buffer.getvalue(), pixels])
    drafted = min(picture.size) >= 2 * encoder.image_size
    name = f"{picture.size[0]}x{picture.size[1]}"
    cosine, gap = float(from_file @ from_pixels), float(np.abs(from_file - from_pixels).max())
    return f"{kind:>14}  {name:>10}  {'reduced' if drafted else 'full':>8}  {cosine:9.5f}  {gap:10.2e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the 7000x7000 picture")
    quick = parser.parse_args().quick
    encoder = SiglipEncoder("demo", device="cpu")
    sizes = [(40, 40), (300, 200), (600, 800)] + ([] if quick else [(7000, 7000)])
    print(f"demo model ({encoder.image_size} px), {len(KINDS)} input kinds: {', '.join(KINDS)}")
    print("   picture  largest diff           between  least cos  PIL ~ card  seconds")
    for size in sizes:
        print(input_kinds_row(encoder, size))
    print("\nJPEG (quality 90): the file against the PIL image of its pixels decoded in full")
    print("       picture        size  decoded    cosine    max diff")
    for size in sizes:
        print(jpeg_row(encoder, "noisy gradient", noisy_gradient(*size)))
    for size in [(300, 200), (600, 800), (1600, 1200), (4000, 3000)]:
        print(jpeg_row(encoder, "photo-like", photo_like(3, size)))


if __name__ == "__main__":
    main()
