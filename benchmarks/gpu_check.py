"""The GPU host's check of JPEG decoding on the GPU (issue 31): selection, fallback, fidelity, speed.

    bash benchmarks/gpu_check.sh                 # on a GPU host: the venv, the tests, then this
    python benchmarks/gpu_check.py [--photos 64] [--batch-size 64] [--rounds 3] [--out FILE]
    python benchmarks/gpu_check.py --cpu-stand-in --photos 4   # without a GPU: Pillow decodes

It installs nothing and needs a CUDA device (``torch.cuda``) and torchvision built for the
installed torch; without them it stops at once, saying which is missing. On the base-size SigLIP
(random weights, ``workloads.checkpoint("base")``) and ``--photos`` generated 12 MP JPEGs (every
fourth one turned by an EXIF orientation tag), it:

1. runs the selection (``choose_gpu_jpeg``): it must say "on";
2. checks the fallback with the real decoder: a PNG, a CMYK JPEG, a truncated JPEG and bytes that
   only start like a JPEG come back as ``None`` while the JPEGs beside them are prepared (a
   grayscale and a progressive JPEG are reported, either way);
3. measures the cosine between the vectors of GPU-prepared inputs and those of the CPU path
   (``encoder.encode_images`` on the same bytes): at least 0.999 is asserted;
4. measures images/s, best of ``--rounds``: GpuJpegPreparer.prepare + forward, the CPU path
   (decode threads, as ``index_folder`` uses them), prepare alone, the forward pass alone;
   and prints them as a table.

``--cpu-stand-in`` runs every step on the CPU with Pillow standing in for nvJPEG (the tests'
decoder): it checks this script and the cosine of the whole path on machines without a GPU; its
speeds say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import struct
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.encoding.test_gpu_jpeg: the Pillow stand-in decoder
sys.path.insert(0, str(Path(__file__).resolve().parent))

COSINE = 0.999


def cuda_problem() -> str | None:
    """Why this host cannot run the check on a GPU; ``None`` when it can."""
    import torch

    if not torch.cuda.is_available():
        build = f"torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none (a CPU build)'}"
        return f"torch.cuda.is_available() is False ({build}); run this on a GPU host"
    try:
        import torchvision.io  # noqa: F401
    except Exception as exc:  # missing, or built for another torch
        return f"torchvision does not import ({exc}); install siglip-retriever[gpu] with a CUDA torch"
    return None


def with_orientation(data: bytes, orientation: int) -> bytes:
    """A JPEG file with an EXIF orientation tag inserted after its start-of-image marker."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def photos(count: int) -> list[bytes]:
    """``count`` generated 12 MP JPEGs (``workloads.photo_folder``); every fourth one turned."""
    import workloads

    folder = workloads.photo_folder(count, 0, seed=31)
    files = sorted(folder.glob("*.jpg"))[:count]
    turns = (1, 6, 1, 1, 8, 1, 1, 1, 3, 1, 1, 1)
    return [
        with_orientation(path.read_bytes(), turns[i % 12]) if turns[i % 12] != 1 else path.read_bytes()
        for i, path in enumerate(files)
    ]


def odd_files(jpeg: bytes) -> dict[str, bytes]:
    """Files the GPU path must leave to the CPU, and two it may or may not take."""
    from PIL import Image

    def saved(picture: Image.Image, **options: Any) -> bytes:
        buffer = io.BytesIO()
        picture.save(buffer, **options)
        return buffer.getvalue()

    picture = Image.open(io.BytesIO(jpeg)).convert("RGB").resize((800, 600))
    return {
        "PNG": saved(picture, format="PNG"),
        "CMYK JPEG": saved(picture.convert("CMYK"), format="JPEG"),
        "truncated JPEG": jpeg[: len(jpeg) // 3],
        "JPEG start, then zeros": b"\xff\xd8\xff" + bytes(4096),
        "grayscale JPEG": saved(picture.convert("L"), format="JPEG"),
        "progressive JPEG": saved(picture, format="JPEG", progressive=True),
    }


def check_fallback(gpu: Any, jpegs: Sequence[bytes]) -> dict[str, str]:
    """Odd files between JPEGs: the odd ones that must fall back do, their neighbours are prepared."""
    odd = odd_files(jpegs[0])
    names = list(odd)
    datas: list[bytes] = []
    for index, name in enumerate(names):
        datas += [jpegs[index % len(jpegs)], odd[name]]
    results = gpu.prepare(datas)
    outcome = {}
    for index, name in enumerate(names):
        neighbour, result = results[2 * index], results[2 * index + 1]
        assert neighbour is not None, f"the JPEG beside the {name} was not prepared"
        outcome[name] = "prepared by GpuJpegPreparer" if result is not None else "left to the CPU"
    for name in ("PNG", "CMYK JPEG", "truncated JPEG", "JPEG start, then zeros"):
        assert outcome[name] == "left to the CPU", f"the {name} was not left to the CPU"
    return outcome


def best(seconds: Callable[[], float], rounds: int) -> float:
    return min(seconds() for _ in range(rounds))


def timed(work: Callable[[], Any], sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    work()
    sync()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=64, help="generated 12 MP JPEGs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dtype", default="auto", help="the model's dtype (auto: float16 on CUDA)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--cpu-stand-in", action="store_true", help="no GPU: Pillow decodes on the CPU")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    args = parser.parse_args()

    import torch

    if not args.cpu_stand_in:
        problem = cuda_problem()
        if problem:
            print(f"no CUDA device: {problem}", file=sys.stderr)
            return 2
    import workloads

    from siglip_retriever import SiglipEncoder
    from siglip_retriever.encoding.gpu_jpeg import GpuJpegPreparer, choose_gpu_jpeg
    from siglip_retriever.encoding.images import image_size

    device = "cpu" if args.cpu_stand_in else args.device
    encoder = SiglipEncoder(
        workloads.checkpoint("base"), device=device, dtype=args.dtype, batch_size=args.batch_size
    )
    preparer = encoder.image_preparer()
    choice = choose_gpu_jpeg(encoder.device, preparer=preparer)
    print(f"1. selection: {choice.reason}")
    decode = None
    if args.cpu_stand_in:
        from tests.encoding.test_gpu_jpeg import PillowDecoder

        decode = PillowDecoder()
    elif not choice.use:
        print("GPU JPEG decoding is off on a CUDA host: see the reason above", file=sys.stderr)
        return 1
    gpu = GpuJpegPreparer(preparer, device, decode_batch=decode)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    datas = photos(args.photos)
    outcome = check_fallback(gpu, datas)
    print("2. fallback: " + "; ".join(f"{name}: {how}" for name, how in outcome.items()))

    results = gpu.prepare(datas)
    prepared = [result[0] for result in results if result is not None]
    assert len(prepared) == len(datas), (
        f"{len(datas) - len(prepared)} of the photos were not prepared on the GPU"
    )
    turned = sum(picture.width < picture.height for picture in prepared)
    for data, picture in zip(datas, prepared, strict=True):
        assert (picture.width, picture.height) == image_size(data), "a size differs from the CPU path's"
    print(f"   sizes after EXIF orientation as the CPU path reads them ({turned} turned upright)")
    on_gpu, on_cpu = encoder.encode_images(prepared), encoder.encode_images(datas)
    cosines = np.sum(on_gpu * on_cpu, axis=1)
    print(
        f"3. cosine, GPU-prepared vs CPU path, {len(datas)} 12 MP photos: "
        f"min {cosines.min():.6f}, mean {cosines.mean():.6f}"
    )
    assert cosines.min() >= COSINE, f"cosine {cosines.min():.6f} is under {COSINE}"

    size = args.batch_size

    def gpu_path() -> None:
        for start in range(0, len(datas), size):
            done = gpu.prepare(datas[start : start + size])
            encoder.encode_images([result[0] for result in done if result is not None])

    def prepare_only() -> None:
        for start in range(0, len(datas), size):
            gpu.prepare(datas[start : start + size])

    n = len(datas)
    rates = {
        "GpuJpegPreparer.prepare + forward": n / best(lambda: timed(gpu_path, sync), args.rounds),
        "CPU path (encode_images on the bytes, decode threads)": n
        / best(lambda: timed(lambda: encoder.encode_images(datas), sync), args.rounds),
        "GpuJpegPreparer.prepare alone": n / best(lambda: timed(prepare_only, sync), args.rounds),
        "forward alone (prepared inputs)": n
        / best(lambda: timed(lambda: encoder.encode_images(prepared), sync), args.rounds),
    }
    name = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "CPU"
    print(
        f"\n4. images/s, 12 MP JPEGs, base SigLIP ({encoder.dtype}), batch {size}, "
        f"best of {args.rounds}, {name}"
    )
    print("| path | images/s |\n|---|---|")
    for label, rate in rates.items():
        print(f"| {label} | {rate:,.1f} |")
    gain = (
        rates["GpuJpegPreparer.prepare + forward"]
        / rates["CPU path (encode_images on the bytes, decode threads)"]
    )
    print(f"\nGPU decoding over CPU decoding: {gain:.2f}x")
    if args.out:
        figures = {
            "device": name,
            "torch": torch.__version__,
            "photos": n,
            "batch_size": size,
            "dtype": encoder.dtype,
            "selection": choice.reason,
            "fallback": outcome,
            "cosine_min": float(cosines.min()),
            "cosine_mean": float(cosines.mean()),
            "images_per_second": rates,
            "stand_in": args.cpu_stand_in,
        }
        args.out.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
