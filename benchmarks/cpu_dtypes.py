"""float32, bfloat16 and int8 on this CPU: forward speed, ``index_folder`` speed and fidelity.

Run: ``python benchmarks/cpu_dtypes.py --priority`` (about 4 minutes on 2 cores). The base
SigLIP of ``run.py`` (random weights) and its 64 photos; in each of ``--rounds`` interleaved
rounds, the forward pass on ready tensors (as ``run.py``'s (a)) and ``index_folder`` into a new
embedded store at each dtype, every ratio to float32 taken within its round; then the cosine of
each dtype's vectors to float32's for the 64 photos and 20 texts. Whether bfloat16 is fast on a
CPU depends on it: with AMX or AVX-512 BF16, oneDNN runs bfloat16 matrix products natively;
without, they are emulated and slower than float32.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

import run
import workloads

DTYPES = ("float32", "bfloat16", "int8")


def measure(rounds: int, batch_size: int) -> dict[str, Any]:
    from siglip_retriever.encoding.encoder import SiglipEncoder

    model = workloads.checkpoint("base")
    folder = workloads.photo_folder(32, 32)
    files = workloads.image_files(folder)
    encoders = {d: SiglipEncoder(model, device="cpu", dtype=d, batch_size=batch_size) for d in DTYPES}
    scratch = Path(tempfile.mkdtemp(prefix="siglip-dtypes-"))
    for encoder in encoders.values():  # warm-up
        run.forward_rate(encoder, 2, batch_size)
    table: list[dict[str, float]] = []
    for number in range(rounds):
        order = list(DTYPES) if number % 2 == 0 else list(reversed(DTYPES))
        rates: dict[str, float] = {}
        for dtype in order:
            rates[f"{dtype}_forward"] = run.forward_rate(encoders[dtype], len(files), batch_size)
            rates[f"{dtype}_index"] = run.index_rate(encoders[dtype], folder, scratch, len(files))
        table.append(rates)
        run.log(f"  round {number + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))
    out: dict[str, Any] = {"rounds": table, "images": len(files), "batch_size": batch_size}
    images = {d: encoders[d].encode_images(files) for d in DTYPES}
    texts = {d: encoders[d].encode_texts(run.QUERY_TEXTS) for d in DTYPES}
    for dtype in DTYPES:
        forward = [r[f"{dtype}_forward"] / r["float32_forward"] for r in table]
        index = [r[f"{dtype}_index"] / r["float32_index"] for r in table]
        own = [r[f"{dtype}_index"] / r[f"{dtype}_forward"] for r in table]
        out[dtype] = {
            "forward": statistics.median(r[f"{dtype}_forward"] for r in table),
            "index": statistics.median(r[f"{dtype}_index"] for r in table),
            "forward_vs_float32": statistics.median(forward),
            "forward_vs_float32_rounds": forward,
            "index_vs_float32": statistics.median(index),
            "index_over_forward": statistics.median(own),
            **run.fidelity(images["float32"], images[dtype], texts["float32"], texts[dtype]),
        }
    return out


def render(out: dict[str, Any]) -> str:
    lines = [
        "| dtype | forward, images/s | vs float32 (rounds) | `index_folder`, images/s | vs float32 "
        "| `index_folder` / forward | cosine to float32: images mean (min), texts mean |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for dtype in DTYPES:
        d = out[dtype]
        rounds = ", ".join(f"{r:.2f}" for r in d["forward_vs_float32_rounds"])
        lines.append(
            f"| {dtype} | {d['forward']:.2f} | {d['forward_vs_float32']:.2f}x ({rounds}) | {d['index']:.2f} "
            f"| {d['index_vs_float32']:.2f}x | {d['index_over_forward']:.2f} | {d['image_cosine_mean']:.4f} "
            f"({d['image_cosine_min']:.4f}), {d['text_cosine_mean']:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--priority", action="store_true", help="autogroup nice -10 (as run.py)")
    args = parser.parse_args()
    run.quiet_libraries()
    priority = run.raise_priority() if args.priority else ""
    info = run.machine("cpu")
    load_start = run.load_average()
    try:
        out = measure(args.rounds, args.batch_size)
    finally:
        if priority:
            run.restore_priority()
    print(
        f"\n{info['cpu']}, {info['cores']} cores; flags {', '.join(info['cpu_flags'])}; torch "
        f"{info['torch']} (CPU capability {info['torch_cpu_capability']}); {info['date']}; load average "
        f"{load_start} at the start, {run.load_average()} at the end{' (nice -10)' if priority else ''}; "
        f"{out['images']} photos, batch {out['batch_size']}, {args.rounds} interleaved rounds, medians.\n"
    )
    print(render(out))


if __name__ == "__main__":
    main()
