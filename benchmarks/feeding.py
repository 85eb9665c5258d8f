"""Feeding the model: how much of the machine's decoding ``index_folder`` turns into vectors.

    python benchmarks/feeding.py                 # 3 interleaved rounds; prints the table
    python benchmarks/feeding.py --quick         # a smoke run on a few files of each kind
    python benchmarks/feeding.py --device cuda   # on a GPU host: index_folder against the model
    python benchmarks/run.py --only h            # the same as run.py's section (h); writes BENCHMARKS.md

The pictures (made once into ``benchmarks/.cache/feeding``, ignored by git): 12 MP photo-like
JPEGs (``workloads.photo_folder``), 48 MP JPEGs (2x2 mosaics of those, 8000x6000, quality 90),
12 MP HEICs (pillow-heif, quality 50) and DNGs with a 12 MP JPEG preview (``tests/raws.py``; the
preview is what indexing reads). What runs, on each kind, in interleaved rounds:

1. the machine's decode capacity: N worker processes (N = the CPU count) that only read each file
   and decode it as the model needs it (``ImagePreparer.decode``: reduced-scale JPEG decoding,
   orientation, the checkpoint's resize to 224 px), pictures/s;
2. ``index_folder`` into a new embedded store with a model that costs nothing (:class:`FreeModel`:
   the base checkpoint's preprocessing, a forward pass that stacks the inputs and hands out fixed
   unit vectors), ``decode="threads"`` and ``decode="processes"``, as a share of (1) in the same
   round; on the 12 MP JPEGs also with the store's writes left out (what overlapping the writes
   with the next batch could gain at most);
3. the main process's CPU time per picture: ``getrusage(RUSAGE_SELF)`` (all its threads, chromadb's
   own included; worker processes excluded) around ``index_folder``, and the part spent inside
   the store's writes and lookups (the same counter around each call);
4. the store's write rate: ``MultimodalStore.upsert_vectors`` (what indexing calls) into an
   embedded chromadb, 768-d and the demo model's dimension, metadata as indexing writes it, at
   the batch sizes indexing uses; vectors/s and main-process CPU per vector;
5. with ``--device cuda``: ``index_folder`` of the 12 MP mix (half 12 MP, half 0.3 MP) with the
   real base model, ``decode`` auto / processes / threads, against the model alone on ready
   tensors and against the decode capacity. A host without CUDA is refused before anything runs.

The machines are shared and noisy: every share is taken within one round, and the tables give
medians over rounds. ``BENCHMARKS.md`` ("Feeding the model") says how to read them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # offline and quiet, as run.py runs
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import workloads

from siglip_retriever.encoding.encoder import SiglipEncoder

ROOT = Path(__file__).resolve().parent.parent
CACHE = workloads.CACHE / "feeding"
BATCH_SIZES = (8, 32, 64, 256)
"""What indexing writes at a time: a CPU chunk (8), the default batch (32), 64 on a GPU, and a
large batch."""
SMALL_RUN = 16
"""Pictures of the small run, whose main-process CPU, taken from the full run's, leaves the CPU
per picture beyond a run's fixed costs (the worker processes' start, the store's first reads)."""
WRITES = ("upsert_vectors", "update_file_facts", "delete", "set_words")
"""The store's methods that indexing writes through."""


@dataclass(frozen=True)
class Kind:
    """One kind of picture: its name, how the tables call it, and how many files a run uses."""

    name: str
    label: str
    count: int
    quick: int


KINDS = (
    Kind("jpeg12", "JPEG 12 MP", 160, 8),
    Kind("jpeg48", "JPEG 48 MP", 24, 2),
    Kind("heic", "HEIC 12 MP", 12, 2),
    Kind("raw", "DNG, 12 MP JPEG preview", 48, 4),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def main_cpu() -> float:
    """CPU seconds of this process so far: all its threads, none of its children."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the pictures ------------------------------------------------------------------------------


def corpus(kind: Kind, count: int, photos: Path) -> Path:
    """The folder of ``count`` pictures of ``kind``, made once from the 12 MP ``photos`` (the
    folder of ``jpeg12``; ``done.json`` marks a folder complete)."""
    if kind.name == "jpeg12":
        return photos
    folder = CACHE / f"{kind.name}-{count}"
    if (folder / "done.json").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sources = [str(f) for f in picture_files(photos)]
    suffix, make = {
        "jpeg48": (".jpg", write_mosaic),
        "heic": (".heic", write_heic),
        "raw": (".dng", write_raw),
    }[kind.name]
    parts = 4 if kind.name == "jpeg48" else 1
    jobs = [
        (
            str(folder / f"picture-{i:04d}{suffix}"),
            [sources[(parts * i + j) % len(sources)] for j in range(parts)],
            i,
        )
        for i in range(count)
    ]
    log(f"  making {count} {kind.label} into {folder} (once)")
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        sizes = list(pool.map(make, jobs))
    (folder / "done.json").write_text(json.dumps({"files": count, "bytes": sum(sizes)}))
    return folder


Job = tuple[str, list[str], int]
"""Where a picture goes, the 12 MP photos it is made of, and its number."""


def write_mosaic(job: Job) -> int:
    """A 48 MP JPEG: four 12 MP photos side by side, each turned (quality 90, 4:2:0)."""
    from PIL import Image

    path, parts, number = job
    canvas = Image.new("RGB", (8000, 6000))
    for turn, (part, corner) in enumerate(
        zip(parts, ((0, 0), (4000, 0), (0, 3000), (4000, 3000)), strict=True)
    ):
        with Image.open(part) as photo:
            canvas.paste(photo.convert("RGB").transpose(Image.Transpose((number + turn) % 7)), corner)
    canvas.save(path, format="JPEG", quality=90)
    return Path(path).stat().st_size


def write_heic(job: Job) -> int:
    """A 12 MP HEIC of a photo (pillow-heif, quality 50: about 3 MB, a phone's size)."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    path, (source,), _ = job
    with Image.open(source) as photo:
        photo.convert("RGB").save(path, format="HEIF", quality=50, enc_params={"preset": "ultrafast"})
    return Path(path).stat().st_size


def write_raw(job: Job) -> int:
    """A DNG (``tests/raws.py``) whose full-size JPEG preview is a 12 MP photo, with a sensor image
    16 times smaller (as ``write_large_preview_dng`` makes them, from the benchmark's photos)."""
    from PIL import Image

    sys.path.insert(0, str(ROOT))
    from tests.raws import write_dng

    path, (source,), _ = job
    with Image.open(source) as photo:
        picture = photo.convert("RGB")
    sensor = picture.resize((picture.width // 32 * 2, picture.height // 32 * 2), Image.Resampling.BOX)
    return write_dng(path, picture, sensor=sensor).stat().st_size


def raw_missing() -> str:
    """Why RAW files cannot be measured here ('' when they can)."""
    import importlib.util

    if importlib.util.find_spec("rawpy") is None:
        return "rawpy is not installed (pip install 'siglip-retriever[raw]')"
    if importlib.util.find_spec("siglip_retriever.encoding.raw") is None:
        return "this commit reads no RAW files"
    return ""


def raw_read(encoder: SiglipEncoder, folder: Path) -> list[str]:
    """A note when the DNGs, given as bytes (as indexing gives them), are not read as camera RAW."""
    decoded = encoder.image_preparer().decode(picture_files(folder)[0].read_bytes())
    if getattr(decoded, "raw", None) is not None:
        return []
    return [
        "the DNGs, given as bytes as indexing gives them, were not read as camera RAW: Pillow decoded "
        "their first IFD (the preview, a JPEG-compressed TIFF strip) in full as a TIFF"
    ]


def picture_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".heic", ".dng"))


# -- (1) decode capacity -----------------------------------------------------------------------

_PREPARER: Any = None


def start_decoder(preparer: Any) -> None:
    global _PREPARER
    _PREPARER = preparer


def decode_file(path: str) -> int:
    """Read one file and decode it as the model needs it; nothing else."""
    return int(_PREPARER.decode(Path(path).read_bytes()).image.width)


class Capacity:
    """N worker processes that only read and decode, started (and warmed up) once."""

    def __init__(self, preparer: Any, workers: int) -> None:
        self.workers = workers
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=start_decoder, initargs=(preparer,)
        )

    def warm(self, files: Sequence[Path]) -> None:
        list(self.pool.map(decode_file, [str(files[i % len(files)]) for i in range(2 * self.workers)]))

    def rate(self, files: Sequence[Path]) -> float:
        """Pictures/s of the N processes over ``files``."""
        start = time.perf_counter()
        list(self.pool.map(decode_file, [str(f) for f in files]))
        return len(files) / (time.perf_counter() - start)

    def close(self) -> None:
        self.pool.shutdown()


def steps(encoder: SiglipEncoder, file: Path) -> dict[str, float]:
    """What one picture costs in one process, step by step, in ms (best of 5): the capacity's
    steps (read, decode and resize) and those ``index_folder`` adds (hash, fingerprint, the
    processor's normalisation)."""
    from siglip_retriever.store.fingerprints import rgb_fingerprint
    from siglip_retriever.store.plan import read_and_hash

    preparer = encoder.image_preparer()
    data = file.read_bytes()
    decoded = preparer.decode(data)

    def best(function: Callable[[], Any]) -> float:
        function()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        return min(times) * 1000

    read = best(file.read_bytes)
    return {
        "read": read,
        "hash": best(lambda: read_and_hash(file)) - read,
        "decode": best(lambda: preparer.decode(data)),
        "fingerprint": best(lambda: rgb_fingerprint(decoded.image)),
        "preprocess": best(lambda: preparer.preprocess(decoded)),
    }


# -- (2), (3) index_folder with a model that costs nothing -------------------------------------


class FreeModel(SiglipEncoder):
    """A :class:`SiglipEncoder` whose forward pass costs nothing.

    Everything before the model is the checkpoint's own (decoding for its 224 px input, its
    processor); the forward pass stacks the batch's inputs as the real one does and hands out
    distinct fixed unit vectors of the model's dimension.
    """

    def __init__(self, model: str | os.PathLike[str], **options: Any) -> None:
        super().__init__(model, device="cpu", **options)
        self.table = workloads.unit_vectors(4096, self.dim, seed=5)
        self.handed = 0

    def _forward_images(self, prepared: list[Any]) -> np.ndarray:
        for key in prepared[0].inputs:
            np.concatenate([np.asarray(image.inputs[key]) for image in prepared])
        rows = np.arange(self.handed, self.handed + len(prepared)) % len(self.table)
        self.handed += len(prepared)
        return self.table[rows]


@dataclass
class StoreMeter:
    """CPU seconds of this process spent inside the store's writes and lookups, counted with the
    same counter as the whole run; with ``writes=False`` the writes are left out (not made)."""

    writes: float = 0.0
    lookups: float = 0.0

    def attach(self, store: Any, *, writes: bool = True) -> None:
        for name in WRITES:
            setattr(store, name, self.metered(getattr(store, name), "writes", skip=not writes))
        store.lookup = self.metered(store.lookup, "lookups", skip=False)

    def metered(self, method: Callable[..., Any], what: str, *, skip: bool) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            before = main_cpu()
            try:
                return None if skip else method(*args, **kwargs)
            finally:
                setattr(self, what, getattr(self, what) + main_cpu() - before)

        return call


@dataclass
class IndexRun:
    """One ``index_folder``: pictures/s, and the main process's CPU ms per picture (all, in the
    store's writes, in its lookups)."""

    pictures: int
    rate: float
    cpu_ms: float
    write_ms: float
    lookup_ms: float
    feed: str


def index_run(
    encoder: SiglipEncoder, folder: Path, scratch: Path, decode: str, *, writes: bool = True
) -> IndexRun:
    from siglip_retriever.store import MultimodalStore
    from siglip_retriever.store.indexing import index_folder

    expected = len(picture_files(folder))
    path = Path(tempfile.mkdtemp(dir=scratch))
    try:
        store = MultimodalStore(path, encoder=encoder)
        meter = StoreMeter()
        meter.attach(store, writes=writes)
        cpu, start = main_cpu(), time.perf_counter()
        report = index_folder(store, folder, decode=decode, ocr="off")
        seconds, cpu = time.perf_counter() - start, main_cpu() - cpu
        if report.embedded != expected or report.failed:
            raise RuntimeError(f"index_folder embedded {report.embedded} of {expected}: {report.summary()}")
        per = 1000 / expected
        feed = report.feed.line() if getattr(report, "feed", None) is not None else decode
        return IndexRun(
            expected, expected / seconds, cpu * per, meter.writes * per, meter.lookups * per, feed
        )
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- (4) the store's write rate ----------------------------------------------------------------


def sample(folder: Path, count: int, scratch: Path) -> Path:
    """A new folder holding copies of the first ``count`` pictures of ``folder``."""
    out = Path(tempfile.mkdtemp(dir=scratch))
    for file in picture_files(folder)[:count]:
        shutil.copy(file, out)
    return out


def entry_template(encoder: SiglipEncoder, folder: Path, scratch: Path) -> tuple[str, dict[str, Any]]:
    """The id and metadata of one picture as indexing writes it (indexed for real, then read)."""
    from siglip_retriever.store import MultimodalStore

    store = MultimodalStore(Path(tempfile.mkdtemp(dir=scratch)), encoder=encoder)
    store.index_folder(sample(folder, 1, scratch), ocr="off")
    key, meta = next(store.iter_metadata())
    return key, dict(meta)


def entries(
    template: tuple[str, dict[str, Any]], count: int, tag: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """``count`` distinct ids and metadatas shaped like ``template`` (every file name made unique)."""
    key, meta = template
    name = next(Path(str(v)).name for k, v in meta.items() if k == "uri")
    ids = [f"{tag}{n:0{len(key) - len(tag)}x}" for n in range(count)]
    metas = [
        {k: v.replace(name, f"{n:06d}-{name}") if isinstance(v, str) else v for k, v in meta.items()}
        for n in range(count)
    ]
    return ids, metas


def write_rate(
    encoder: SiglipEncoder, template: tuple[str, dict[str, Any]], batch: int, count: int, scratch: Path
) -> dict[str, float]:
    """``count`` vectors written ``batch`` at a time into a new embedded store: vectors/s, and
    this process's CPU ms per vector (chromadb's threads included)."""
    from siglip_retriever.store import MultimodalStore

    path = Path(tempfile.mkdtemp(dir=scratch))
    try:
        store = MultimodalStore(path, encoder=encoder)
        ids, metas = entries(template, count, "w")
        vectors = workloads.unit_vectors(count, encoder.dim, seed=batch)
        cpu, start = main_cpu(), time.perf_counter()
        for first in range(0, count, batch):
            last = first + batch
            store.upsert_vectors(ids[first:last], vectors[first:last], metas[first:last])
        seconds, cpu = time.perf_counter() - start, main_cpu() - cpu
        if store.count() != count:
            raise RuntimeError(f"wrote {count} vectors, the store holds {store.count()}")
        return {"per_s": count / seconds, "cpu_ms": cpu / count * 1000}
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- the CPU run -------------------------------------------------------------------------------


@dataclass
class Plan:
    rounds: int
    kinds: list[str]
    quick: bool
    index: bool = True
    writes: bool = True
    write_count: int = 1024


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    steps: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per kind, :func:`steps` of its first picture."""
    entry_keys: list[str] = field(default_factory=list)
    """The metadata keys an indexed picture's entry holds (what the write runs write)."""
    loads: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def machine() -> dict[str, Any]:
    import PIL
    import pillow_heif
    import torch

    try:
        import chromadb

        chroma = chromadb.__version__
    except ImportError:  # pragma: no cover - a dependency
        chroma = "?"
    return {
        "cpu": workloads.cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pillow": PIL.__version__,
        "pillow_heif": pillow_heif.__version__,
        "chromadb": chroma,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def cpu_run(plan: Plan) -> Results:
    """(1) to (4) on a CPU host, in ``plan.rounds`` interleaved rounds."""
    results = Results(machine=machine(), plan=asdict(plan))
    results.loads.append(load_average())
    kinds = [k for k in KINDS if k.name in plan.kinds]
    if any(k.name == "raw" for k in kinds) and raw_missing():
        results.notes.append(f"RAW previews not measured: {raw_missing()}")
        kinds = [k for k in kinds if k.name != "raw"]
    log("the pictures (made once into benchmarks/.cache)")
    photos = workloads.photo_folder(KINDS[0].quick if plan.quick else KINDS[0].count, 0, seed=31)
    folders = {k.name: corpus(k, k.quick if plan.quick else k.count, photos) for k in kinds}
    for k in kinds:
        files = picture_files(folders[k.name])
        results.files[k.name] = {
            "label": k.label,
            "count": len(files),
            "mb": float(np.mean([f.stat().st_size for f in files])) / 1e6,
        }
    encoder = FreeModel(workloads.checkpoint("base"))
    demo = SiglipEncoder("demo", device="cpu")
    scratch = Path(tempfile.mkdtemp(prefix="siglip-feeding-"))
    capacity = Capacity(encoder.image_preparer(), os.cpu_count() or 1)
    try:
        first = photos
        capacity.warm(picture_files(first))
        template = entry_template(encoder, first, scratch)
        demo_template = entry_template(demo, first, scratch)
        results.entry_keys = sorted(template[1])
        if "raw" in folders:
            results.notes += raw_read(encoder, folders["raw"])
        results.steps = {name: steps(encoder, picture_files(folder)[0]) for name, folder in folders.items()}
        for decode in ("threads", "processes"):  # warm-up: first imports, the fork server
            index_run(encoder, sample(first, 2, scratch), scratch, decode)
        for number in range(plan.rounds):
            backwards = number % 2 == 1
            round_: dict[str, Any] = {}
            if plan.index:
                for k in reversed(kinds) if backwards else kinds:
                    round_[k.name] = index_round(encoder, capacity, k, folders[k.name], scratch, backwards)
                    results.loads.append(load_average())
            if plan.writes:
                round_["writes"] = write_round(
                    encoder, demo, template, demo_template, plan, scratch, backwards
                )
            results.rounds.append(round_)
            results.loads.append(load_average())
            log(f"round {number + 1} done (load average {results.loads[-1]})")
    finally:
        capacity.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def index_round(
    encoder: SiglipEncoder, capacity: Capacity, kind: Kind, folder: Path, scratch: Path, backwards: bool
) -> dict[str, Any]:
    """One round on one kind: capacity, threads, processes (and processes without writes)."""
    files = picture_files(folder)
    steps: dict[str, Callable[[], Any]] = {
        "capacity": lambda: capacity.rate(files),
        "threads": lambda: index_run(encoder, folder, scratch, "threads"),
        "processes": lambda: index_run(encoder, folder, scratch, "processes"),
    }
    if kind.name == "jpeg12":
        steps["no_writes"] = lambda: index_run(encoder, folder, scratch, "processes", writes=False)
        small = sample(folder, min(SMALL_RUN, len(files) // 2), scratch)
        steps["small"] = lambda: index_run(encoder, small, scratch, "processes")
    out: dict[str, Any] = {}
    for name in reversed(steps) if backwards else steps:
        value = steps[name]()
        out[name] = asdict(value) if isinstance(value, IndexRun) else value
    for name in ("threads", "processes", "no_writes", "small"):
        if name in out:
            out[name]["share"] = out[name]["rate"] / out["capacity"]
    if "small" in out:  # the main process's CPU per picture beyond what a run costs anyway
        big, small_run = out["processes"], out["small"]
        spent = big["cpu_ms"] * big["pictures"] - small_run["cpu_ms"] * small_run["pictures"]
        out["processes"]["marginal_ms"] = spent / (big["pictures"] - small_run["pictures"])
    log(
        f"  {kind.label}: capacity {out['capacity']:.1f}/s, "
        + ", ".join(
            f"{n} {out[n]['rate']:.1f}/s ({out[n]['share']:.2f}), {out[n]['cpu_ms']:.2f} ms CPU"
            for n in ("threads", "processes", "no_writes")
            if n in out
        )
    )
    return out


def write_round(
    encoder: SiglipEncoder,
    demo: SiglipEncoder,
    template: Any,
    demo_template: Any,
    plan: Plan,
    scratch: Path,
    backwards: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    configs = [(model, batch) for model in (encoder, demo) for batch in BATCH_SIZES]
    for model, batch in reversed(configs) if backwards else configs:
        shape = template if model is encoder else demo_template
        out[f"{model.dim}/{batch}"] = write_rate(model, shape, batch, plan.write_count, scratch)
    log("  writes: " + ", ".join(f"{k} {v['per_s']:.0f}/s" for k, v in out.items()))
    return out


# -- (5) with a device -------------------------------------------------------------------------


def require_cuda(device: str) -> None:
    """Refuse a device run on a host without CUDA, before anything is built or loaded."""
    import torch

    if not device.startswith("cuda"):
        raise SystemExit(f"feeding.py: --device takes cpu or cuda, not {device!r}")
    if not torch.cuda.is_available():
        raise SystemExit(
            "feeding.py --device cuda: this host has no CUDA device (torch.cuda.is_available() is "
            f"False; torch {torch.__version__}). Run it on a GPU host (benchmarks/gpu_check.sh), "
            "or leave out --device for the CPU measurements."
        )


def model_rate(encoder: SiglipEncoder, count: int) -> float:
    """Images/s of the model alone on a ready batch on the device, for at least one second."""
    import torch

    side, batch = encoder.image_size, encoder.batch_size
    dtype = next(encoder.model.parameters()).dtype
    pixels = torch.randn(batch, 3, side, side, device=encoder.device, dtype=dtype)
    done, start = 0, time.perf_counter()
    with torch.inference_mode():
        while done < count or time.perf_counter() - start < 1.0:
            encoder.model.get_image_features(pixel_values=pixels)
            done += batch
        if encoder.device.startswith("cuda"):
            torch.cuda.synchronize()
    return done / (time.perf_counter() - start)


def device_run(device: str, rounds: int, quick: bool) -> dict[str, Any]:
    """(5): the 12 MP mix, ``index_folder`` (auto, processes, threads) against the model alone and
    the decode capacity, with the real base model on ``device``."""
    require_cuda(device)
    import torch

    folder = workloads.photo_folder(*((32, 32) if quick else (256, 256)))
    files = workloads.image_files(folder)
    encoder = SiglipEncoder(workloads.checkpoint("base"), device=device, batch_size=64)
    scratch = Path(tempfile.mkdtemp(prefix="siglip-feeding-"))
    capacity = Capacity(encoder.image_preparer(), os.cpu_count() or 1)
    out: dict[str, Any] = {
        "machine": {**machine(), "gpu": torch.cuda.get_device_name(0)},
        "files": len(files),
        "rounds": [],
    }
    try:
        capacity.warm(files)
        model_rate(encoder, 256)
        for decode in ("auto", "processes", "threads"):
            index_run(encoder, sample(folder, 2, scratch), scratch, decode)
        for number in range(rounds):
            steps: dict[str, Callable[[], Any]] = {
                "model": lambda: model_rate(encoder, len(files)),
                "capacity": lambda: capacity.rate(files),
                **{
                    d: (lambda d=d: asdict(index_run(encoder, folder, scratch, d)))
                    for d in ("auto", "processes", "threads")
                },
            }
            values = {name: steps[name]() for name in (reversed(steps) if number % 2 else steps)}
            bound = min(values["model"], values["capacity"])
            for name in ("auto", "processes", "threads"):
                values[name]["share"] = values[name]["rate"] / bound
            out["rounds"].append(values)
            log(
                f"round {number + 1}: "
                + ", ".join(f"{k} {v['rate'] if isinstance(v, dict) else v:.0f}/s" for k, v in values.items())
            )
    finally:
        capacity.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return out


# -- report ------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def summarise(results: Results) -> dict[str, Any]:
    """Medians over rounds of every figure, and of every share (each taken within its round)."""
    out: dict[str, Any] = {}
    for name in results.files:
        runs = [r[name] for r in results.rounds if name in r]
        if not runs:
            continue
        kind: dict[str, Any] = {"capacity": median([r["capacity"] for r in runs])}
        for mode in ("threads", "processes", "no_writes", "small"):
            if mode in runs[0]:
                keys = ("pictures", "rate", "share", "cpu_ms", "write_ms", "lookup_ms", "marginal_ms")
                kind[mode] = {
                    key: median([r[mode][key] for r in runs]) for key in keys if key in runs[0][mode]
                }
                kind[mode]["shares"] = [r[mode]["share"] for r in runs]
                kind[mode]["feed"] = runs[0][mode]["feed"]
        out[name] = kind
    writes = [r["writes"] for r in results.rounds if "writes" in r]
    if writes:
        out["writes"] = {
            key: {m: median([w[key][m] for w in writes]) for m in ("per_s", "cpu_ms")} for key in writes[0]
        }
    return out


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def render(results: Results) -> str:
    """The markdown block of a CPU run: the machine, the tables, the goals."""
    mc, plan, s = results.machine, results.plan, summarise(results)
    loads = results.loads
    lines = [
        f"{mc['cpu']}, {mc['cores']} cores; Python {mc['python']}, torch {mc['torch']}, Pillow "
        f"{mc['pillow']}, pillow-heif {mc['pillow_heif']}, chromadb {mc['chromadb']}; {mc['date']}. "
        f"{plan['rounds']} interleaved round(s), medians; load average {min(loads):.1f}-{max(loads):.1f} "
        f"during the run{' (quick run)' if plan['quick'] else ''}.",
    ]
    kinds = [name for name in results.files if name in s]
    if kinds:
        lines += rate_table(results, s, kinds) + cpu_tables(results, s, kinds)
    if "writes" in s:
        lines += write_table(s, mc["cores"])
    lines += ["", *(f"Note: {note}" for note in results.notes)] if results.notes else []
    return "\n".join(lines + goals(s)) + "\n"


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table (after a blank line): the first column left-aligned, the others right."""
    rule = "| --- |" + " ---: |" * (len(head) - 1)
    return ["", "| " + " | ".join(head) + " |", rule, *("| " + " | ".join(row) + " |" for row in rows)]


def rate_table(results: Results, s: dict[str, Any], kinds: list[str]) -> list[str]:
    """Capacity, ``index_folder``'s rates and their shares of it, per kind."""
    head = [
        "pictures",
        "files, MB each",
        "decode capacity, N processes",
        "`index_folder` threads",
        "share",
        "`index_folder` processes",
        "share",
    ]
    rows = []
    for name in kinds:
        f, k = results.files[name], s[name]
        t, p = k["threads"], k["processes"]
        rows.append(
            [
                f["label"],
                f"{f['count']}, {fmt(f['mb'])}",
                f"{fmt(k['capacity'])}/s",
                f"{fmt(t['rate'])}/s",
                f"**{fmt(t['share'], 2)}**",
                f"{fmt(p['rate'])}/s",
                f"**{fmt(p['share'], 2)}**",
            ]
        )
    lines = table(head, rows)
    if "no_writes" in s.get("jpeg12", {}):
        n = s["jpeg12"]["no_writes"]
        lines += [
            "",
            f"JPEG 12 MP, processes, the store's writes left out: {fmt(n['rate'])}/s, share "
            f"{fmt(n['share'], 2)}; main process CPU {fmt(n['cpu_ms'], 2)} ms per picture.",
        ]
    shares = "; ".join(
        f"{results.files[name]['label']} "
        + ", ".join(fmt(v, 2) for v in s[name]["threads"]["shares"])
        + "; "
        + ", ".join(fmt(v, 2) for v in s[name]["processes"]["shares"])
        for name in kinds
    )
    feeds = sorted({s[n][m]["feed"] for n in kinds for m in ("threads", "processes")})
    lines += ["", f"Per-round shares (threads; processes): {shares}.", "", f"`index -v`: {'; '.join(feeds)}."]
    return lines


def cpu_tables(results: Results, s: dict[str, Any], kinds: list[str]) -> list[str]:
    """The main process's CPU per picture, split; and one picture's steps in one process."""
    rows = []
    for name in kinds:
        t, p = s[name]["threads"], s[name]["processes"]
        rest = p["cpu_ms"] - p["write_ms"] - p["lookup_ms"]
        rows.append(
            [
                results.files[name]["label"],
                fmt(t["cpu_ms"], 2),
                f"**{fmt(p['cpu_ms'], 2)}**",
                fmt(p["write_ms"], 2),
                fmt(p["lookup_ms"], 2),
                fmt(rest, 2),
            ]
        )
    head = [
        "main process CPU per picture, ms",
        "threads",
        "processes",
        "of which: store writes",
        "store lookups",
        "the rest",
    ]
    lines = table(head, rows)
    marginal = s.get("jpeg12", {}).get("processes", {}).get("marginal_ms")
    small = s.get("jpeg12", {}).get("small", {}).get("pictures", 0)
    if marginal is not None:
        lines += [
            "",
            f"JPEG 12 MP, processes, beyond a run's fixed costs (a run of {fmt(small, 0)} pictures taken "
            f"from it): {fmt(marginal, 2)} ms per picture.",
        ]
    rows = []
    for name in kinds:
        c = results.steps.get(name)
        if c is None:
            continue
        added = c["hash"] + c["fingerprint"] + c["preprocess"]
        rows.append(
            [
                results.files[name]["label"],
                *(fmt(c[key], 1) for key in ("read", "hash", "decode")),
                fmt(c["fingerprint"], 1),
                fmt(c["preprocess"], 1),
                f"{fmt(added, 1)} ms = {fmt(added / (c['read'] + c['decode']) * 100, 0)} %",
            ]
        )
    head = [
        "one picture, one process, best of 5, ms",
        "read",
        "+ hash",
        "decode and resize",
        "fingerprint",
        "normalise",
        "what `index_folder` adds to the capacity's steps",
    ]
    return lines + table(head, rows)


def write_table(s: dict[str, Any], cores: int) -> list[str]:
    """The store's write rates per dimension and batch size; a batch's write against its decoding."""
    w = s["writes"]
    dims = sorted({int(key.split("/")[0]) for key in w}, reverse=True)
    rows = [
        [f"{dim}-d: vectors/s (main process CPU ms per vector)"]
        + [f"{fmt(w[f'{dim}/{b}']['per_s'], 0)} ({fmt(w[f'{dim}/{b}']['cpu_ms'], 2)})" for b in BATCH_SIZES]
        for dim in dims
    ]
    lines = table(
        ["store writes (`upsert_vectors`, indexing's metadata)", *(f"batch {b}" for b in BATCH_SIZES)], rows
    )
    if "jpeg12" in s:
        batch = 32
        write = batch / w[f"{dims[0]}/{batch}"]["per_s"] * 1000
        decode = batch / s["jpeg12"]["capacity"] * 1000
        lines += [
            "",
            f"A batch of {batch} 12 MP JPEGs: written in {fmt(write, 0)} ms ({dims[0]}-d), decoded "
            f"in {fmt(decode, 0)} ms by the {cores} processes.",
        ]
    return lines


def goals(s: dict[str, Any]) -> list[str]:
    """The issue's goals on the 12 MP JPEGs, as measured."""
    if "jpeg12" not in s:
        return []
    k = s["jpeg12"]
    rows = [
        (
            f"`index_folder` >= 0.9 x decode capacity, {mode} (12 MP JPEG)",
            fmt(k[mode]["share"], 2),
            k[mode]["share"] >= 0.9,
        )
        for mode in ("threads", "processes")
    ]
    cpu = k["processes"]["cpu_ms"]
    rows.append(("main process CPU < 1 ms per picture (processes, 12 MP JPEG)", f"{fmt(cpu, 2)} ms", cpu < 1))
    if "marginal_ms" in k["processes"]:
        more = k["processes"]["marginal_ms"]
        rows.append(("the same, beyond a run's fixed costs", f"{fmt(more, 2)} ms", more < 1))
    return table(
        ["goal", "measured", ""],
        [[name, value, "**holds**" if ok else "**does not hold**"] for name, value, ok in rows],
    )


def render_device(out: dict[str, Any]) -> str:
    """The markdown block of a device run: the model, the capacity, ``index_folder``, the goals."""
    mc, rounds = out["machine"], out["rounds"]
    modes = ("auto", "processes", "threads")
    m = {
        name: median([r[name] if not isinstance(r[name], dict) else r[name]["rate"] for r in rounds])
        for name in rounds[0]
    }
    shares = {name: median([r[name]["share"] for r in rounds]) for name in modes}
    rows = [
        ["model alone, ready tensors on the device", fmt(m["model"], 0), ""],
        [f"decode capacity, {mc['cores']} processes", fmt(m["capacity"], 0), ""],
    ]
    rows += [
        [
            f"`index_folder`, decode={name} ({rounds[0][name]['feed']})",
            fmt(m[name], 0),
            f"**{fmt(shares[name], 2)}**",
        ]
        for name in modes
    ]
    lines = [
        f"{mc['gpu']} (host: {mc['cpu']}, {mc['cores']} cores); torch {mc['torch']}; {mc['date']}. "
        f"{out['files']} files of the 12 MP mix; {len(rounds)} interleaved round(s), medians.",
        *table(["measure", "images/s", "share of min(model, capacity)"], rows),
    ]
    best = max(modes, key=lambda name: m[name])
    gpu_jpeg = "JPEGs on the GPU" in rounds[0]["auto"]["feed"]
    checks = [
        (f"`index_folder` >= 0.5 x min(model, capacity) ({best})", fmt(shares[best], 2), shares[best] >= 0.5),
        (
            "`index_folder` >= 1,000 images/s with GPU JPEG decoding (auto)",
            f"{fmt(m['auto'], 0)}/s" + ("" if gpu_jpeg else " (no GPU JPEG decoding: see its line)"),
            gpu_jpeg and m["auto"] >= 1000,
        ),
    ]
    verdicts = [[name, value, "**holds**" if ok else "**does not hold**"] for name, value, ok in checks]
    return "\n".join(lines + table(["goal", "measured", ""], verdicts)) + "\n"


# -- main --------------------------------------------------------------------------------------


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few files of each kind, one round")
    parser.add_argument(
        "--device", default="cpu", help="cpu (default) or cuda: index_folder against the model"
    )
    parser.add_argument(
        "--rounds", type=int, default=0, help="interleaved rounds (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--kinds", default=",".join(k.name for k in KINDS), help="comma-separated: %(default)s"
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to leave out: index (1-3), writes (4)"
    )
    parser.add_argument("--json", type=Path, default=None, help="where the raw results go")
    return parser.parse_args(argv)


def plan_of(args: argparse.Namespace) -> Plan:
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    unknown = skip - {"index", "writes"}
    if unknown:
        raise SystemExit(f"feeding.py: --skip takes index and writes, not {', '.join(sorted(unknown))}")
    kinds = [name.strip() for name in args.kinds.split(",") if name.strip()]
    bad = set(kinds) - {k.name for k in KINDS}
    if bad:
        raise SystemExit(
            f"feeding.py: --kinds takes {', '.join(k.name for k in KINDS)}, not {', '.join(sorted(bad))}"
        )
    rounds = args.rounds or (1 if args.quick else 3)
    return Plan(
        rounds, kinds, args.quick, "index" not in skip, "writes" not in skip, 128 if args.quick else 1024
    )


def measure(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Run what ``args`` ask for: the markdown block and the raw results."""
    if args.device != "cpu":
        out = device_run(args.device, args.rounds or (1 if args.quick else 3), args.quick)
        return render_device(out), out
    results = cpu_run(plan_of(args))
    return render(results), asdict(results)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if args.device != "cpu":
        require_cuda(args.device)
    block, raw = measure(args)
    print()
    print(block)
    name = "feeding-quick" if args.quick else f"feeding-{'cpu' if args.device == 'cpu' else 'cuda'}"
    path = args.json or workloads.CACHE / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(raw, indent=2, default=str))
    (workloads.CACHE / f"{name}.md").write_text(block)
    log(f"wrote {path} and {workloads.CACHE / f'{name}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
