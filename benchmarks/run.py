"""Throughput, latency and memory of siglip-retriever, measured as ratios within one run.

    python benchmarks/run.py            # full run (about 25 minutes on 2 cores); writes BENCHMARKS.md
    python benchmarks/run.py --quick    # smoke run (a few minutes); writes benchmarks/.cache/quick.md
    python benchmarks/run.py --device cuda --batch-size 64   # the GPU table
    python benchmarks/run.py --only h   # one section (here: feeding the model); --skip leaves some out

What is measured (see BENCHMARKS.md for the results and how to read them):

a. the floor: the model's forward pass alone, images/s on ready tensors;
b. ``index_folder`` end to end, from JPEG files into an embedded store, and its ratio to (a);
   (b0) the same with decoding in the calling thread (``num_workers=0``), for comparison;
c. the anchors' pattern on the same model and files (one image per forward pass, full decode,
   as LlamaIndex ClipEmbedding, LangChain OpenCLIPEmbeddings and Chroma's
   OpenCLIPEmbeddingFunction do), and our speed-up over it;
d. text query latency (embed + search) on a 100k-entry collection, fresh and repeated;
e. the int8 CPU mode: speed-up over float32 and fidelity (cosine, top-10 overlap); and
   ``index_folder`` at int8 against the int8 forward pass alone on the same images, already
   prepared, with float32 alongside (the ratio (b)/(a) is for int8 what it is for float32);
f. peak RSS while indexing 1,000 and 5,000 images (a smaller model, in child processes);
g. the time of ``import siglip_retriever`` and ``siglip-retriever --help``;
h. feeding the model (``benchmarks/feeding.py``): the machine's decode capacity (N processes that
   only decode), ``index_folder`` with a model that costs nothing as a share of it (threads and
   processes), the main process's CPU time per picture, the store's write rate; with
   ``--device cuda``, ``index_folder`` on the 12 MP mix against the model alone.

The machines are shared and noisy, so (a), (b), (b0) and (c) run in interleaved rounds and every
ratio is taken within a round; the table gives the median over rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import feeding
import workloads

ROOT = Path(__file__).resolve().parent.parent

QUERY_TEXTS = [
    "a photo of a red circle",
    "two cats sleeping on a sofa",
    "une photo d'un cercle rouge",
    "ein blaues Quadrat auf weißem Hintergrund",
    "una foto de un círculo rojo",
    "一张红色圆形的照片",
    "赤い丸の写真",
    "صورة دائرة حمراء",
    "фотография красного круга",
    "빨간 원의 사진",
    "a blue square on a white background",
    "a dog running on the beach at sunset",
    "un chat noir sur un canapé",
    "eine Katze im Schnee",
    "a bowl of fruit on a kitchen table",
    "a mountain lake in the morning",
    "una calle de noche con luces",
    "a child riding a bicycle",
    "un pont au-dessus d'une rivière",
    "a plate of pasta with tomatoes",
]


@dataclass
class Plan:
    """How much of everything a run does."""

    device: str
    batch_size: int
    n_large: int
    n_small: int
    rounds: int
    store_size: int
    fresh_queries: int
    repeats: int
    rss_counts: tuple[int, int]
    int8: bool
    rss: bool
    startup: bool
    quick: bool

    @classmethod
    def make(cls, args: argparse.Namespace, device: str) -> Plan:
        gpu = device.startswith("cuda")
        if args.quick:
            return cls(device, args.batch_size or (64 if gpu else 32), 4, 4, 1, 5_000, 5, 20, (200, 1000),
                       not gpu, True, True, True)  # fmt: skip
        n = 128 if gpu else 32
        return cls(device, args.batch_size or (64 if gpu else 32), n, n, 2 if gpu else 4, 100_000, 30, 100,
                   (1000, 5000), not gpu, not gpu, not gpu, False)  # fmt: skip


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    components: dict[str, float] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)
    queries: dict[str, Any] = field(default_factory=dict)
    int8: dict[str, Any] = field(default_factory=dict)
    rss: dict[str, Any] = field(default_factory=dict)
    startup: dict[str, Any] = field(default_factory=dict)
    feeding: dict[str, Any] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def quiet_libraries() -> None:
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*torchvision.*")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def best_ms(function: Callable[[], Any], repeat: int = 5) -> float:
    function()
    return min(timed(function) for _ in range(repeat)) * 1000


# -- machine -----------------------------------------------------------------------------------


def machine(device: str) -> dict[str, Any]:
    import PIL
    import torch
    import transformers

    from siglip_retriever.encoding.cpu import cpu_flags

    cpu = workloads.cpu_model()
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "pillow": PIL.__version__,
        "date": dt.date.today().isoformat(),
        # what decides int8's speed: fbgemm's kernels use VNNI where the CPU has it
        "cpu_flags": [flag for flag in CPU_FLAGS if flag in cpu_flags()],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "hypervisor": "hypervisor" in cpu_flags(),
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


SECTIONS = ("abc", "d", "e", "f", "g", "h")
"""The sections ``--skip`` and ``--only`` name; (h) is ``benchmarks/feeding.py``."""

CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")

AUTOGROUP = Path("/proc/self/autogroup")


def raise_priority() -> str:
    """Nice -10 for this session's autogroup (the unit Linux shares CPU time between); '' if refused."""
    try:
        AUTOGROUP.write_text("-10")
        return AUTOGROUP.read_text().strip()
    except OSError:
        return ""


def restore_priority() -> None:
    with contextlib.suppress(OSError):
        AUTOGROUP.write_text("0")


def load_average() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


# -- components --------------------------------------------------------------------------------


def components(encoder: Any, files: list[Path]) -> dict[str, float]:
    """Per-image costs of the steps around the model, in ms (best of 5, one thread)."""
    from PIL import Image

    from siglip_retriever.encoding.images import load_image

    large = next(f for f in files if f.stem.endswith("large"))
    small = next(f for f in files if f.stem.endswith("small"))
    big = large.read_bytes()
    picture = load_image(big, target_size=224)
    full = Image.open(io.BytesIO(big)).convert("RGB")
    processor = encoder._loaded.image_processor
    return {
        "read_12mp_ms": best_ms(large.read_bytes),
        "sha256_12mp_ms": best_ms(lambda: hashlib.sha256(big).digest()),
        "decode_full_12mp_ms": best_ms(lambda: Image.open(io.BytesIO(big)).convert("RGB"), 3),
        "resize_full_12mp_ms": best_ms(lambda: processor(images=[full], return_tensors="np"), 3),
        "decode_draft_12mp_ms": best_ms(lambda: load_image(big, target_size=224)),
        "preprocess_draft_12mp_ms": best_ms(lambda: processor(images=[picture], return_tensors="np")),
        "decode_0.3mp_ms": best_ms(lambda: load_image(small.read_bytes(), target_size=224)),
    }


# -- a, b, c: throughput -----------------------------------------------------------------------


def forward_rate(encoder: Any, count: int, batch_size: int) -> float:
    """(a) images/s of the model alone, on tensors already on the device in the model's dtype."""
    import torch

    loaded = encoder._loaded
    side = encoder.image_size
    x = torch.randn(batch_size, 3, side, side).to(loaded.device, getattr(torch, loaded.input_dtype))
    sync(encoder.device)
    # a GPU runs the whole set in a fraction of a second: repeat it for at least one second
    least = 1.0 if encoder.device.startswith("cuda") else 0.0
    done = 0
    start = time.perf_counter()
    with torch.inference_mode():
        while done == 0 or time.perf_counter() - start < least:
            for first in range(0, count, batch_size):
                loaded.model.get_image_features(pixel_values=x[: min(batch_size, count - first)])
            done += count
            sync(encoder.device)
    return done / (time.perf_counter() - start)


def index_rate(encoder: Any, folder: Path, scratch: Path, expected: int) -> float:
    """(b) images/s of ``index_folder`` into a new embedded store."""
    from siglip_retriever.store import MultimodalStore

    path = Path(tempfile.mkdtemp(dir=scratch))
    try:
        store = MultimodalStore(path, encoder=encoder)
        start = time.perf_counter()
        report = store.index_folder(folder)
        seconds = time.perf_counter() - start
        if report.embedded != expected or report.failed:
            raise RuntimeError(f"index_folder embedded {report.embedded} of {expected}: {report.summary()}")
        return report.embedded / seconds
    finally:
        shutil.rmtree(path, ignore_errors=True)


def anchor_rate(encoder: Any, files: list[Path], scratch: Path) -> float:
    """(c) the anchors' pattern: open, fully decode, preprocess, one forward per image, then add."""
    import chromadb
    import torch
    from PIL import Image

    loaded = encoder._loaded
    dtype = getattr(torch, loaded.input_dtype)
    path = Path(tempfile.mkdtemp(dir=scratch))
    try:
        client = chromadb.PersistentClient(str(path), settings=chromadb.Settings(anonymized_telemetry=False))
        collection = client.create_collection(
            "anchors", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        start = time.perf_counter()
        vectors = []
        for file in files:
            image = Image.open(file).convert("RGB")
            pixels = loaded.image_processor(images=image, return_tensors="pt")["pixel_values"]
            with torch.no_grad():
                output = loaded.model.get_image_features(pixel_values=pixels.to(loaded.device, dtype))
                features = output if isinstance(output, torch.Tensor) else output.pooler_output
                features = features / features.norm(dim=-1, keepdim=True)
            vectors.append(features.float().cpu().numpy()[0])
        collection.add(
            ids=[f"img-{i}" for i in range(len(files))],
            embeddings=np.stack(vectors),
            uris=[str(f) for f in files],
        )
        return len(files) / (time.perf_counter() - start)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def throughput(plan: Plan, encoder: Any, serial: Any, files: list[Path], folder: Path, scratch: Path) -> dict:
    count = len(files)
    forward_rate(encoder, min(2, count), plan.batch_size)  # warm-up
    anchor_rate(encoder, files[:1], scratch)
    steps: dict[str, Callable[[], float]] = {
        "a": lambda: forward_rate(encoder, count, plan.batch_size),
        "b": lambda: index_rate(encoder, folder, scratch, count),
        "b0": lambda: index_rate(serial, folder, scratch, count),
        "c": lambda: anchor_rate(encoder, files, scratch),
    }
    rounds: list[dict[str, float]] = []
    for number in range(plan.rounds):
        order = list(steps) if number % 2 == 0 else list(reversed(steps))
        rates = {}
        for name in order:
            rates[name] = steps[name]()
            log(f"  round {number + 1}: ({name}) {rates[name]:.2f} images/s")
        rounds.append(rates)
    ratio_ba = [r["b"] / r["a"] for r in rounds]
    ratio_b0a = [r["b0"] / r["a"] for r in rounds]
    speedup = [r["b"] / r["c"] for r in rounds]
    return {
        "images": count,
        "batch_size": plan.batch_size,
        "rounds": rounds,
        "a": statistics.median(r["a"] for r in rounds),
        "b": statistics.median(r["b"] for r in rounds),
        "b0": statistics.median(r["b0"] for r in rounds),
        "c": statistics.median(r["c"] for r in rounds),
        "b_over_a": statistics.median(ratio_ba),
        "b0_over_a": statistics.median(ratio_b0a),
        "speedup_over_anchor": statistics.median(speedup),
        "b_best_over_a_best": max(r["b"] for r in rounds) / max(r["a"] for r in rounds),
        "b_over_a_rounds": ratio_ba,
        "speedup_rounds": speedup,
    }


# -- d: queries --------------------------------------------------------------------------------


def latencies(function: Callable[[], Any], count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        function()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def queries(plan: Plan, encoder: Any, scratch: Path) -> dict[str, Any]:
    from siglip_retriever.search.retriever import Retriever
    from siglip_retriever.store import MultimodalStore

    path = Path(tempfile.mkdtemp(dir=scratch))
    store = MultimodalStore(path, encoder=encoder)
    count, dim = plan.store_size, encoder.dim
    vectors = workloads.unit_vectors(count, dim, seed=1)
    step = 5000
    start = time.perf_counter()
    for first in range(0, count, step):
        last = min(count, first + step)
        ids = [f"img-{i:032x}" for i in range(first, last)]
        metas = [
            {"kind": "image", "uri": f"/photos/{i:06d}.jpg", "mtime_ns": i, "file_size": 100_000 + i}
            for i in range(first, last)
        ]
        store.upsert_vectors(ids, vectors[first:last], metas)
    write_seconds = time.perf_counter() - start
    log(f"  wrote {count} vectors in {write_seconds:.1f}s")
    retriever = Retriever(store, k=10)
    texts = [f"{QUERY_TEXTS[i % len(QUERY_TEXTS)]} #{i}" for i in range(4 * plan.fresh_queries + 4)]
    fresh = iter(texts)
    retriever.text_to_images(next(fresh))  # warm-up
    encoder.encode_texts([next(fresh)])
    query_vector = np.asarray(encoder.encode_texts([next(fresh)])[0])
    fresh_total = latencies(lambda: retriever.text_to_images(next(fresh)), plan.fresh_queries)
    text_forward = latencies(lambda: encoder.encode_texts([next(fresh)]), plan.fresh_queries)
    search = latencies(lambda: store.query(query_vector, k=10, kind="image"), plan.fresh_queries)
    repeated_text = texts[0]
    retriever.text_to_images(repeated_text)
    repeated = latencies(lambda: retriever.text_to_images(repeated_text), plan.repeats)
    cached_vector = latencies(lambda: encoder.encode_query(repeated_text), plan.repeats)
    collection = store.collection
    q = query_vector.reshape(1, -1)
    include = ["metadatas", "documents", "distances"]
    count_ms = latencies(collection.count, 20)
    unfiltered = latencies(lambda: collection.query(query_embeddings=q, n_results=10, include=include), 30)
    filtered = latencies(
        lambda: collection.query(query_embeddings=q, n_results=10, where={"kind": "image"}, include=include),
        min(30, plan.fresh_queries),
    )
    shutil.rmtree(path, ignore_errors=True)
    return {
        "entries": count,
        "dim": dim,
        "write_per_s": count / write_seconds,
        "fresh_total": summary(fresh_total),
        "text_forward": summary(text_forward),
        "search": summary(search),
        "repeated": summary(repeated),
        "cached_vector": summary(cached_vector),
        "chroma_count": summary(count_ms),
        "chroma_unfiltered": summary(unfiltered),
        "chroma_where_kind": summary(filtered),
    }


# -- e: int8 -----------------------------------------------------------------------------------


def fidelity(
    images: np.ndarray, other_images: np.ndarray, texts: np.ndarray, other_texts: np.ndarray
) -> dict[str, float]:
    """How close another model's (or dtype's) vectors are to the reference's, for the same images
    and texts: the mean and lowest cosine of the images, the mean cosine of the texts."""
    image_cosine = np.sum(images * other_images, axis=1)
    return {
        "image_cosine_mean": float(image_cosine.mean()),
        "image_cosine_min": float(image_cosine.min()),
        "text_cosine_mean": float(np.sum(texts * other_texts, axis=1).mean()),
    }


def int8_mode(
    plan: Plan, encoder: Any, files: list[Path], folder: Path, scratch: Path, indexing: bool
) -> dict[str, Any]:
    from siglip_retriever.encoding.encoder import SiglipEncoder

    start = time.perf_counter()
    quantized = SiglipEncoder(encoder.model_id, device="cpu", dtype="int8", batch_size=plan.batch_size)
    load_seconds = time.perf_counter() - start
    count = min(len(files), 2 * plan.batch_size)
    forward_rate(quantized, 2, plan.batch_size)
    speedups: list[float] = []
    rates32: list[float] = []
    rates8: list[float] = []
    for number in range(plan.rounds):
        pair = [(encoder, rates32), (quantized, rates8)]
        for model, rates in pair if number % 2 == 0 else reversed(pair):
            rates.append(forward_rate(model, count, plan.batch_size))
        speedups.append(rates8[-1] / rates32[-1])
        log(f"  round {number + 1}: float32 {rates32[-1]:.2f}, int8 {rates8[-1]:.2f} images/s")
    gallery32 = encoder.encode_images(files)
    gallery8 = quantized.encode_images(files)
    texts32 = encoder.encode_texts(QUERY_TEXTS)
    texts8 = quantized.encode_texts(QUERY_TEXTS)
    k = min(10, len(files) - 1)

    def top(queries: np.ndarray, gallery: np.ndarray, exclude_self: bool = False) -> list[set[int]]:
        scores = queries @ gallery.T
        if exclude_self:
            np.fill_diagonal(scores, -np.inf)
        return [set(np.argsort(-row, kind="stable")[:k].tolist()) for row in scores]

    text_overlap = [
        len(a & b) / k for a, b in zip(top(texts32, gallery32), top(texts8, gallery8), strict=True)
    ]
    image_overlap = [
        len(a & b) / k
        for a, b in zip(top(gallery32, gallery32, True), top(gallery8, gallery8, True), strict=True)
    ]
    out = {
        "load_and_quantize_s": load_seconds,
        "speedup": statistics.median(speedups),
        "speedup_rounds": speedups,
        "float32": statistics.median(rates32),
        "int8": statistics.median(rates8),
        **fidelity(gallery32, gallery8, texts32, texts8),
        "top10_overlap_text": float(np.mean(text_overlap)),
        "top10_overlap_image": float(np.mean(image_overlap)),
        "gallery": len(files),
        "k": k,
    }
    if indexing:
        log("(e) index_folder at int8 and float32 against the forward pass on prepared images")
        out["indexing"] = int8_indexing(plan, encoder, quantized, files, folder, scratch)
    return out


def prepared_rate(encoder: Any, prepared: list[Any], batch_size: int) -> float:
    """images/s of ``encode_images`` on images already decoded and preprocessed: the forward pass."""
    start = time.perf_counter()
    encoder.encode_images(prepared, batch_size=batch_size)
    return len(prepared) / (time.perf_counter() - start)


def int8_indexing(
    plan: Plan, encoder: Any, quantized: Any, files: list[Path], folder: Path, scratch: Path
) -> dict[str, Any]:
    """``index_folder`` at int8 (and float32) over the forward pass alone, within each round.

    The floor here is ``encode_images`` on the same photos already prepared (decoded and
    preprocessed before the clock starts), at the encoder's batch size; the int8 floor is also
    taken at batch 8, the chunk ``index_folder`` embeds at a time on a CPU, to tell the cost of
    the smaller chunks from the cost of decoding beside a faster model, and int8 indexing with
    ``num_workers=0`` (decoding in the calling thread) to tell what the overlap gains.
    """
    from siglip_retriever.encoding.encoder import SiglipEncoder

    serial = SiglipEncoder(
        quantized.model_id, device="cpu", dtype="int8", batch_size=plan.batch_size, num_workers=0
    )
    count = len(files)
    prepared = [encoder.prepare_image(file) for file in files]  # one model id: valid for both
    size = plan.batch_size
    prepared_rate(quantized, prepared[:8], size)  # warm-up
    index_rate(quantized, folder, scratch, count)
    steps: dict[str, Callable[[], float]] = {
        "int8_forward": lambda: prepared_rate(quantized, prepared, size),
        "int8_forward_8": lambda: prepared_rate(quantized, prepared, min(8, size)),
        "int8_index": lambda: index_rate(quantized, folder, scratch, count),
        "int8_index_serial": lambda: index_rate(serial, folder, scratch, count),
        "float32_forward": lambda: prepared_rate(encoder, prepared, size),
        "float32_index": lambda: index_rate(encoder, folder, scratch, count),
    }
    rounds: list[dict[str, float]] = []
    for number in range(plan.rounds):
        order = list(steps) if number % 2 == 0 else list(reversed(steps))
        rates = {name: steps[name]() for name in order}
        rounds.append(rates)
        log(f"  round {number + 1}: " + ", ".join(f"{name} {rates[name]:.2f}" for name in steps))
    out: dict[str, Any] = {"images": count, "batch_size": size, "rounds": rounds}
    for name in steps:
        out[name] = statistics.median(r[name] for r in rounds)
    for dtype in ("int8", "float32"):
        ratios = [r[f"{dtype}_index"] / r[f"{dtype}_forward"] for r in rounds]
        out[f"{dtype}_ratio"] = statistics.median(ratios)
        out[f"{dtype}_ratio_rounds"] = ratios
    ratios = [r["int8_index_serial"] / r["int8_forward"] for r in rounds]
    out["int8_serial_ratio"], out["int8_serial_ratio_rounds"] = statistics.median(ratios), ratios
    out["int8_index_speedup"] = statistics.median(r["int8_index"] / r["float32_index"] for r in rounds)
    return out


# -- f: memory ---------------------------------------------------------------------------------


def rss_child(folder: Path, model: Path, batch_size: int) -> None:
    """Runs in a child process: index ``folder`` into a new store, print peak RSS as JSON.

    The peak is the kernel's high-water mark of this process's memory (``VmHWM``), which starts
    afresh at ``exec`` (``ru_maxrss`` would carry the parent's size over the fork).
    """
    quiet_libraries()
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.store import MultimodalStore

    encoder = SiglipEncoder(model, device="cpu", batch_size=batch_size)
    encoder.encode_images([next(folder.glob("*.jpg"))])
    with tempfile.TemporaryDirectory() as path:
        store = MultimodalStore(path, encoder=encoder)
        before = workloads.memory_mib("VmRSS")
        start = time.perf_counter()
        report = store.index_folder(folder)
        seconds = time.perf_counter() - start
        print(
            json.dumps(
                {
                    "images": report.embedded,
                    "seconds": seconds,
                    "rss_before_mb": before,
                    "rss_after_mb": workloads.memory_mib("VmRSS"),
                    "peak_rss_mb": workloads.memory_mib("VmHWM"),
                }
            )
        )


def memory(plan: Plan) -> dict[str, Any]:
    model = workloads.checkpoint("small")
    out: dict[str, Any] = {"model": "small SigLIP (4 layers of width 256, ViT /16 at 224 px)"}
    for count in plan.rss_counts:
        folder = workloads.photo_folder(0, count, thumbs=True)
        command = [sys.executable, __file__, "--rss-child", str(folder), "--rss-model", str(model)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            raise RuntimeError(f"memory run failed: {done.stderr[-2000:]}")
        out[str(count)] = json.loads(lines[-1])
        log(f"  {count} images: peak RSS {out[str(count)]['peak_rss_mb']:.0f} MB")
    small, large = (out[str(c)]["peak_rss_mb"] for c in plan.rss_counts)
    out["growth"] = large / small - 1
    return out


# -- g: start-up -------------------------------------------------------------------------------


def startup() -> dict[str, Any]:
    python = sys.executable
    script = shutil.which("siglip-retriever") or str(Path(python).with_name("siglip-retriever"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def run(command: list[str]) -> float:
        return timed(lambda: subprocess.run(command, check=True, capture_output=True, env=env))

    def median_of(command: list[str], n: int = 7) -> float:
        run(command)
        return statistics.median(run(command) for _ in range(n))

    probe = (
        "import sys, siglip_retriever; "
        "print(sorted({'torch', 'transformers', 'chromadb'} & set(sys.modules)))"
    )
    heavy = subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True, env=env)
    return {
        "python_s": median_of([python, "-c", "pass"]),
        "import_s": median_of([python, "-c", "import siglip_retriever"]),
        "help_s": median_of([script, "--help"]) if Path(script).exists() else None,
        "heavy_modules_on_import": heavy.stdout.strip(),
    }


# -- report ------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def verdict(ok: bool) -> str:
    return "**holds**" if ok else "**does not hold**"


def render(results: Results, title: str) -> str:
    t, q, e, m, s = results.throughput, results.queries, results.int8, results.rss, results.startup
    p, mc = results.plan, results.machine
    gpu = str(p["device"]).startswith("cuda")
    flags = ", ".join(mc.get("cpu_flags", [])) or "none of " + ", ".join(CPU_FLAGS)
    lines = [
        f"### {title}",
        "",
        f"{mc.get('gpu', mc['cpu'])}"
        + (
            f" (host: {mc['cores']} CPU cores)"
            if gpu
            else f"{' (virtual machine)' if mc.get('hypervisor') else ''}, {mc['cores']} cores; "
            f"flags {flags}; torch CPU capability {mc.get('torch_cpu_capability', '?')}"
        )
        + f"; Python {mc['python']}, torch {mc['torch']}, transformers {mc['transformers']}, "
        f"Pillow {mc['pillow']}; {mc['date']}. Load average {results.machine['load_start']} at the start, "
        f"{results.machine['load_end']} at the end{' (quick run)' if p['quick'] else ''}"
        + (" (run at autogroup nice -10)" if results.machine.get("priority") else "")
        + ".",
        "",
        f"Model: SigLIP ViT-B/16 at 224 px, random weights, {results.machine['dtype']}, "
        f"batch {p['batch_size']}. "
        f"Files: {p['n_large'] + p['n_small']} JPEGs, half 12 MP (4000x3000, "
        f"{fmt(results.files['large'], 1)} MB each), half 0.3 MP (640x480, "
        f"{fmt(results.files['small'], 2)} MB), interleaved. "
        f"{p['rounds']} interleaved round(s); medians.",
        "",
        "| | measure | result |",
        "| --- | --- | --- |",
    ]
    if t:
        lines += [
            f"| a | model forward alone, ready tensors on the device (the floor) | {fmt(t['a'])} images/s |",
            f"| b | `index_folder`, files to embedded store, decode overlapped with the model | "
            f"{fmt(t['b'])} images/s = **{fmt(t['b_over_a'])} x (a)** |",
            f"| b0 | the same, decoding in the calling thread (`num_workers=0`) | "
            f"{fmt(t['b0'])} images/s = {fmt(t['b0_over_a'])} x (a) |",
            f"| c | anchors' pattern: full decode, one image per forward, then one add | "
            f"{fmt(t['c'])} images/s; (b) is **{fmt(t['speedup_over_anchor'])}x** faster |",
        ]
    if q:
        n = f"{q['entries'] // 1000}k"
        lines += [
            f"| d | text query, embed + search, {n} entries, p50 / p95 | "
            f"{fmt(q['fresh_total']['p50'], 1)} / {fmt(q['fresh_total']['p95'], 1)} ms |",
            f"| d | of which the text forward pass, p50 / p95 | "
            f"{fmt(q['text_forward']['p50'], 1)} / {fmt(q['text_forward']['p95'], 1)} ms |",
            f"| d | of which the search (`store.query`, kind filter), p50 / p95 | "
            f"{fmt(q['search']['p50'], 1)} / {fmt(q['search']['p95'], 1)} ms |",
            f"| d | repeated query (answered by the `Retriever`'s result cache), p50 / p95 | "
            f"{fmt(q['repeated']['p50'], 3)} / {fmt(q['repeated']['p95'], 3)} ms |",
            f"| d | cached query vector alone (`encode_query`), p50 | "
            f"{fmt(q['cached_vector']['p50'] * 1000, 1)} µs |",
            f"| d | chromadb: `count()` / query unfiltered / query with `where={{kind: image}}`, p50 | "
            f"{fmt(q['chroma_count']['p50'], 2)} / {fmt(q['chroma_unfiltered']['p50'], 2)} / "
            f"{fmt(q['chroma_where_kind']['p50'], 1)} ms |",
            f"| d | bulk write (`upsert_vectors`, chunks of 5,000) | {q['write_per_s']:.0f} vectors/s |",
        ]
    if e:
        lines += [
            f"| e | int8 (dynamic, Linear layers) vs float32 forward | "
            f"{fmt(e['int8'])} vs {fmt(e['float32'])} "
            f"images/s = **{fmt(e['speedup'])}x** |",
            f"| e | int8 fidelity: mean (min) cosine to float32, images | {e['image_cosine_mean']:.4f} "
            f"({e['image_cosine_min']:.4f}); texts {e['text_cosine_mean']:.4f} |",
            f"| e | int8 top-{e['k']} overlap with float32 over {e['gallery']} images | "
            f"{e['top10_overlap_text']:.2f} (text queries), {e['top10_overlap_image']:.2f} (image queries) |",
        ]
        if "indexing" in e:
            ei = e["indexing"]
            lines += [
                f"| e | int8 `index_folder` vs int8 forward alone on the same prepared images (batch "
                f"{ei['batch_size']}; at batch 8: {fmt(ei['int8_forward_8'])}) | {fmt(ei['int8_index'])} vs "
                f"{fmt(ei['int8_forward'])} images/s = **{fmt(ei['int8_ratio'])} x** |",
                f"| e | float32, the same | {fmt(ei['float32_index'])} vs {fmt(ei['float32_forward'])} "
                f"images/s = {fmt(ei['float32_ratio'])} x; int8 indexes "
                f"{fmt(ei['int8_index_speedup'])}x faster than float32 |",
            ]
            if "int8_index_serial" in ei:
                lines.append(
                    f"| e | int8 `index_folder` decoding in the calling thread (`num_workers=0`) | "
                    f"{fmt(ei['int8_index_serial'])} images/s = {fmt(ei['int8_serial_ratio'])} x "
                    "the int8 forward |"
                )
    if m:
        a, b = (m[str(c)] for c in p["rss_counts"])
        lines.append(
            f"| f | peak RSS indexing {a['images']:,} vs {b['images']:,} small JPEGs ({m['model']}) | "
            f"{a['peak_rss_mb']:.0f} vs {b['peak_rss_mb']:.0f} MB: **{m['growth'] * 100:+.1f}%** "
            f"(RSS before indexing {a['rss_before_mb']:.0f} MB; {b['images'] / b['seconds']:.0f} images/s) |"
        )
    if s:
        help_text = f"{fmt(s['help_s'])} s" if s["help_s"] is not None else "n/a"
        lines.append(
            f"| g | `import siglip_retriever` / `siglip-retriever --help` (bare `python -c pass`) | "
            f"{fmt(s['import_s'])} s / {help_text} ({fmt(s['python_s'])} s); heavy modules after import: "
            f"{s['heavy_modules_on_import']} |"
        )
    c = results.components
    lines += [
        "",
        "Per-image costs around the model (one thread, best of 5): "
        f"12 MP file read {fmt(c['read_12mp_ms'], 1)} ms, SHA-256 {fmt(c['sha256_12mp_ms'], 1)} ms; "
        f"full decode {fmt(c['decode_full_12mp_ms'], 0)} ms + preprocessing the full-size picture "
        f"{fmt(c['resize_full_12mp_ms'], 0)} ms (the anchors' path) vs draft decode "
        f"{fmt(c['decode_draft_12mp_ms'], 0)} ms + preprocessing {fmt(c['preprocess_draft_12mp_ms'], 1)} ms "
        f"(ours); a 0.3 MP file {fmt(c['decode_0.3mp_ms'], 1)} ms."
        + (
            f" Per-round ratios (b)/(a): {', '.join(fmt(r) for r in t['b_over_a_rounds'])} "
            f"(best rounds' rates: {fmt(t['b_best_over_a_best'])}); "
            f"speed-ups over (c): {', '.join(fmt(r) for r in t['speedup_rounds'])}."
            if t
            else ""
        )
        + (f" int8/float32 forward per round: {', '.join(fmt(r) for r in e['speedup_rounds'])}." if e else "")
        + (
            " int8 `index_folder`/forward per round: "
            f"{', '.join(fmt(r) for r in e['indexing']['int8_ratio_rounds'])}; float32: "
            f"{', '.join(fmt(r) for r in e['indexing']['float32_ratio_rounds'])}."
            if e and "indexing" in e
            else ""
        ),
        "",
        "Goals:",
        "",
        "| goal | measured | |",
        "| --- | --- | --- |",
    ]
    goals: list[tuple[str, str, bool | None]] = []
    if t:
        goals += [
            ("(b)/(a) >= 0.9", fmt(t["b_over_a"]), t["b_over_a"] >= 0.9),
            (
                "(c) speed-up >= 1.3x on the 12 MP mix",
                f"{fmt(t['speedup_over_anchor'])}x",
                t["speedup_over_anchor"] >= 1.3,
            ),
        ]
    if q:
        beyond = q["fresh_total"]["p50"] - q["text_forward"]["p50"]
        goals += [
            ("(d) repeated query p50 < 2 ms", f"{fmt(q['repeated']['p50'], 3)} ms", q["repeated"]["p50"] < 2),
            (
                f"(d) search on {q['entries'] // 1000}k < 15 ms beyond the text forward",
                f"search p50 {fmt(q['search']['p50'], 1)} ms (query - forward p50s: {fmt(beyond, 1)} ms)",
                q["search"]["p50"] < 15,
            ),
        ]
    if e:
        goals.append(
            (
                "(e) int8 >= 1.4x at mean cosine >= 0.99",
                f"{fmt(e['speedup'])}x at {e['image_cosine_mean']:.4f}",
                e["speedup"] >= 1.4 and e["image_cosine_mean"] >= 0.99,
            )
        )
        if "indexing" in e:
            goals.append(
                (
                    "(e) int8 `index_folder` >= 0.9 x int8 forward alone",
                    fmt(e["indexing"]["int8_ratio"]),
                    e["indexing"]["int8_ratio"] >= 0.9,
                )
            )
    if m:
        goals.append(
            (
                "(f) peak RSS flat within 10% (1k vs 5k)",
                f"{m['growth'] * 100:+.1f}%",
                abs(m["growth"]) <= 0.10,
            )
        )
    if s and s["help_s"] is not None:
        goals.append(("(g) `--help` < 0.5 s", f"{fmt(s['help_s'])} s", s["help_s"] < 0.5))
    lines += [f"| {name} | {value} | {verdict(bool(ok))} |" for name, value, ok in goals]
    return "\n".join(lines) + "\n"


def write_block(out: Path, tag: str, block: str) -> None:
    """Replace the ``tag`` block of ``out`` (between its markers), keeping the rest of the file."""
    start, end = f"<!-- results:{tag}:start -->", f"<!-- results:{tag}:end -->"
    text = out.read_text(encoding="utf-8") if out.exists() else "# Benchmarks\n\n"
    new = f"{start}\n{block}{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + new + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    out.write_text(text, encoding="utf-8")


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (a few minutes)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--batch-size", type=int, default=0, help="default: 32 on CPU, 64 on a GPU")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to update")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument("--store-size", type=int, default=0, help="entries of the query collection")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated sections to skip: abc,d,e,f,g,h; e-index skips only (e)'s index_folder rows",
    )
    parser.add_argument("--only", default="", help="comma-separated sections to run, the others skipped")
    parser.add_argument(
        "--priority",
        action="store_true",
        help="run this session's scheduling group at nice -10 (Linux autogroup, root only) so that "
        "other work on a shared machine disturbs the timings less",
    )
    parser.add_argument("--rss-child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rss-model", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child is not None:
        rss_child(args.rss_child, args.rss_model, 32)
        return 0

    quiet_libraries()
    import torch

    from siglip_retriever.encoding.encoder import SiglipEncoder

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    plan = Plan.make(args, device)
    plan.store_size = args.store_size or plan.store_size
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.only:
        skip |= set(SECTIONS) - {s.strip() for s in args.only.split(",")}
    core = [name for name in SECTIONS[:-1] if name not in skip]  # all but (h) need the base model here
    if device.startswith("cuda") and "h" not in skip:
        feeding.require_cuda(device)  # before anything is built
    results = Results(plan=asdict(plan))
    results.machine = machine(device)
    results.machine["load_start"] = load_average()
    results.machine["priority"] = raise_priority() if args.priority else ""
    started = time.perf_counter()

    scratch = Path(tempfile.mkdtemp(prefix="siglip-bench-"))
    try:
        if core:
            log("building the base checkpoint and the photos (cached after the first run)")
            model = workloads.checkpoint("base")
            folder = workloads.photo_folder(plan.n_large, plan.n_small)
            files = workloads.image_files(folder)
            results.files = workloads.file_sizes(files)
            encoder = SiglipEncoder(model, device=device, batch_size=plan.batch_size)
            serial = SiglipEncoder(model, device=device, batch_size=plan.batch_size, num_workers=0)
            results.machine["dtype"] = encoder.dtype
            log("components")
            results.components = components(encoder, files)
        if "abc" not in skip:
            log("(a) forward, (b) index_folder, (b0) without overlap, (c) anchors' pattern")
            results.throughput = throughput(plan, encoder, serial, files, folder, scratch)
        if "d" not in skip:
            log(f"(d) queries on {plan.store_size} entries")
            results.queries = queries(plan, encoder, scratch)
        if plan.int8 and "e" not in skip:
            log("(e) int8")
            results.int8 = int8_mode(plan, encoder, files, folder, scratch, "e-index" not in skip)
        if plan.rss and "f" not in skip:
            log("(f) peak RSS")
            results.rss = memory(plan)
        if plan.startup and "g" not in skip:
            log("(g) start-up")
            results.startup = startup()
        if "h" not in skip:
            log("(h) feeding the model")
            options = ["--device", device] + ["--quick"] * plan.quick
            feeding_block, results.feeding = feeding.measure(feeding.arguments(options))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if results.machine["priority"]:
            restore_priority()
    results.machine["load_end"] = load_average()
    results.machine["minutes"] = round((time.perf_counter() - started) / 60, 1)

    title = ("GPU" if device.startswith("cuda") else "CPU") + (" (quick run)" if plan.quick else "")
    out = args.out or (workloads.CACHE / "quick.md" if plan.quick else ROOT / "BENCHMARKS.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = "cuda" if device.startswith("cuda") else "cpu"
    if core:
        block = render(results, title)
        print()
        print(block)
        write_block(out, tag, block)
    if results.feeding:
        print()
        print(feeding_block)
        write_block(out, f"feeding-{tag}", feeding_block)
    raw = args.json or workloads.CACHE / f"results-{'cuda' if device.startswith('cuda') else 'cpu'}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(asdict(results), indent=2, default=str))
    log(f"wrote {out} and {raw} in {results.machine['minutes']} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
