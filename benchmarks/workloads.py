"""What the benchmarks run on: base-size SigLIP checkpoints with random weights, generated photos.

Weights do not change speed, so a randomly initialised ``SiglipModel`` with the released
architecture (``SiglipConfig`` defaults: ViT-B/16 at 224 px, a 12-layer text tower, 64 tokens)
stands in for ``google/siglip-base-patch16-224``. It is saved with the package's own
``save_checkpoint`` and loaded back through ``from_pretrained(directory)``, as a hub checkpoint is.

Photos are generated JPEGs with the entropy of real ones: a smooth random scene, mid-scale detail
and per-pixel grain, saved at quality 90 with 4:2:0 chroma subsampling, as phone cameras do. A
12 MP (4000x3000) photo comes out at about 3.9 MB, a 0.3 MP (640x480) one at about 0.1 MB.
Everything is cached under ``benchmarks/.cache`` (ignored by git); delete it to rebuild.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from PIL import ImageDraw

CACHE = Path(__file__).resolve().parent / ".cache"

ModelSize = Literal["base", "small"]

LARGE = (4000, 3000)  # 12 MP, a phone photo
SMALL = (640, 480)  # 0.3 MP, a web picture
THUMB = (320, 240)  # for the memory run, which needs thousands of files

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 40),
    "orange": (245, 140, 20),
    "purple": (140, 40, 170),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
    "teal": (20, 150, 150),
    "pink": (240, 120, 180),
}
"""The named colours of the generated shape pictures (``api_load.py``, ``finetune_cpu.py``)."""
SHAPES = ("circle", "square", "triangle", "stripes", "star")
"""The shapes :func:`draw_shape` draws."""


def checkpoint(size: ModelSize, root: Path = CACHE) -> Path:
    """A SigLIP checkpoint directory with random weights, built once and cached.

    ``base``: ``SiglipConfig`` defaults (ViT-B/16, 224 px, ~200 M parameters with the released
    vocabulary; the test tokenizer's small vocabulary leaves the speed unchanged).
    ``small``: the same layout, 224 px and 16 px patches, 4 layers of width 256 (for the memory
    run, where the base model would take most of an hour for 5,000 images on 2 cores).
    """
    import torch
    from transformers import SiglipConfig, SiglipModel

    from siglip_retriever.tiny import SAMPLE_CORPUS, save_checkpoint, train_sentencepiece

    out = root / "models" / f"siglip-{size}"
    if (out / "model.safetensors").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    tokenizer_file = train_sentencepiece(SAMPLE_CORPUS, out)
    import sentencepiece as spm

    vocab = spm.SentencePieceProcessor(model_file=str(tokenizer_file)).get_piece_size()
    text: dict[str, Any] = {
        "vocab_size": vocab,
        "max_position_embeddings": 64,
        "pad_token_id": 1,
        "bos_token_id": None,
        "eos_token_id": 1,
    }
    vision: dict[str, Any] = {}
    if size == "small":
        tower = {"hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4}
        text.update(tower, num_attention_heads=4)
        vision.update(tower, num_attention_heads=4, image_size=224, patch_size=16)
    torch.manual_seed(0)
    model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
    save_checkpoint(model, tokenizer_file, out)
    return out


def _photo(args: tuple[Path, tuple[int, int], int, int]) -> int:
    """Write one generated photo; returns its size in bytes."""
    from PIL import Image

    path, (width, height), seed, quality = args
    rng = np.random.default_rng(seed)
    scene = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    detail = Image.fromarray(
        rng.integers(0, 256, (max(1, height // 40), max(1, width // 40), 3), dtype=np.uint8)
    ).resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(scene, dtype=np.int16) * 3 // 4 + np.asarray(detail, dtype=np.int16) // 4
    pixels += rng.integers(-12, 13, (height, width, 1), dtype=np.int16)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    image.save(path, format="JPEG", quality=quality)
    return path.stat().st_size


def photo_folder(
    n_large: int, n_small: int, *, seed: int = 0, root: Path = CACHE, thumbs: bool = False
) -> Path:
    """A folder of ``n_large`` 12 MP and ``n_small`` 0.3 MP JPEGs, interleaved by name.

    With ``thumbs`` the small ones are 320x240 and there are no large ones (memory runs).
    Every file has its own content, so none is skipped as a duplicate.
    """
    name = f"thumbs-{n_small}-{seed}" if thumbs else f"photos-{n_large}-{n_small}-{seed}"
    folder = root / name
    done = folder / "done.json"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    jobs: list[tuple[Path, tuple[int, int], int, int]] = []
    for index, kind in enumerate(_interleave(n_large, n_small)):
        size = LARGE if kind == "large" else (THUMB if thumbs else SMALL)
        jobs.append((folder / f"photo-{index:05d}-{kind}.jpg", size, seed * 1_000_003 + index, 90))
    workers = max(1, min(16, os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        written = list(pool.map(_photo, jobs, chunksize=max(1, len(jobs) // (workers * 8))))
    done.write_text(json.dumps({"files": len(jobs), "bytes": int(sum(written))}))
    return folder


def _interleave(n_large: int, n_small: int) -> list[str]:
    """large/small alternating as far as both last, so every batch holds the same mix."""
    order: list[str] = []
    large, small = n_large, n_small
    while large or small:
        if large and (not small or large * (n_small or 1) >= small * (n_large or 1)):
            order.append("large")
            large -= 1
        else:
            order.append("small")
            small -= 1
    return order


def image_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jpg"))


def file_sizes(files: list[Path]) -> dict[str, float]:
    """Mean file size in MB of the large and the small photos."""
    out: dict[str, float] = {}
    for kind in ("large", "small"):
        sizes = [f.stat().st_size for f in files if f.stem.endswith(kind)]
        if sizes:
            out[kind] = float(np.mean(sizes)) / 1e6
    return out


def unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def draw_shape(
    pen: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], colour: tuple[int, int, int]
) -> None:
    """One of :data:`SHAPES` inside ``box`` (left, top, right, bottom); stripes are vertical bars."""
    x0, y0, x1, y1 = box
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    elif shape == "triangle":
        pen.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour)
    elif shape == "stripes":
        bar = max(2, (x1 - x0) // 8)
        for x in range(x0, x1, 2 * bar):
            pen.rectangle((x, y0, min(x + bar, x1), y1), fill=colour)
    else:  # a five-pointed star
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, min(x1 - x0, y1 - y0) / 2
        points = []
        for i in range(10):
            radius = r if i % 2 == 0 else r / 2.5
            angle = i * math.pi / 5
            points.append((cx + radius * math.sin(angle), cy - radius * math.cos(angle)))
        pen.polygon(points, fill=colour)


def memory_mib(field: str = "VmHWM", pid: int | str = "self") -> float:
    """A process's memory from ``/proc/PID/status``, in MiB: ``VmHWM``, its peak resident memory
    (which starts afresh at ``exec``, where ``ru_maxrss`` would carry a parent's size over the
    fork), or ``VmRSS``, its resident memory now. NaN once the process is gone, or off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
