"""What a CPU can do when fine-tuning the base SigLIP: seconds per step and peak memory by mode.

Run: ``python benchmarks/finetune_cpu.py`` (about 10 minutes on 2 busy cores; ``--modes all,lora``
runs less). The model is ``run.py``'s base checkpoint (``SiglipConfig`` defaults:
ViT-B/16 at 224 px, a 12-layer text tower, 64 tokens; random weights, saved and loaded as a
checkpoint directory; see ``workloads.checkpoint``). The pairs are 64 generated pictures (224 to
640 px, a coloured shape on a coloured ground) with short English captions, written once to
``benchmarks/.cache/finetune-pairs/pairs.csv``; ``finetune`` holds 20 % of them out for its
before/after scores and trains on the other 51.

For each of ``train="all"``, ``"last"`` (``--layers``, 2 by default) and ``"lora"``, the public
``finetune`` runs on the CPU with ``--batch-size`` 32 twice, each time in a fresh child process
(so that its peak RSS, the report's ``peak_memory_mib``, is that run's alone): once for 1 step
and once for ``--steps`` (3 by default). Both runs load the model, score the held-out pairs
before and after and save the checkpoint, so the difference of their times over ``steps - 1`` is
the time of one optimisation step (the batch's pictures and captions, forward and backward
through both towers, clipping and the AdamW update) without those fixed costs, which are printed
apart (the 1-step run less one step). A child imports everything before the clock starts. The
table gives each mode's trainable/total parameters, seconds per step, the peak memory of the
longer run and the ratios to ``all`` measured in the same invocation; ``--json FILE`` writes the
figures too. The load average is printed with them: on a shared machine, rerun when it is high.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import workloads

MODES = ("all", "last", "lora")
PICTURES = 64
PAIRS_DIR = workloads.CACHE / "finetune-pairs"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the pairs ---------------------------------------------------------------------------------


def _picture(path: Path, seed: int) -> str:
    """Write one picture (a shape on a ground, with grain); returns its caption."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    names = list(workloads.COLOURS)
    ground, colour = (names[int(i)] for i in rng.choice(len(names), 2, replace=False))
    shape = workloads.SHAPES[int(rng.integers(len(workloads.SHAPES)))]
    width, height = (int(v) for v in rng.integers(224, 641, 2))
    image = Image.new("RGB", (width, height), workloads.COLOURS[ground])
    side = int(min(width, height) * rng.uniform(0.3, 0.7))
    left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    box = (left, top, left + side, top + side)
    workloads.draw_shape(ImageDraw.Draw(image), shape, box, workloads.COLOURS[colour])
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-10, 11, (height, width, 1), dtype=np.int16)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, format="JPEG", quality=90)
    thing = f"{colour} stripes" if shape == "stripes" else _a(f"{colour} {shape}")
    return f"{thing} on {_a(ground)} background"


def _a(words: str) -> str:
    return f"an {words}" if words[0] in "aeiou" else f"a {words}"


def pairs_file(count: int = PICTURES, root: Path = PAIRS_DIR) -> Path:
    """``pairs.csv`` (image, caption, language) of ``count`` generated pictures, written once."""
    out = root / "pairs.csv"
    if out.is_file():
        with out.open(newline="") as handle:
            if sum(1 for _ in csv.DictReader(handle)) == count:
                return out
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        name = f"picture-{index:03d}.jpg"
        rows.append({"image": name, "caption": _picture(root / name, index), "language": "en"})
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "caption", "language"])
        writer.writeheader()
        writer.writerows(rows)
    return out


# -- the child ---------------------------------------------------------------------------------


def child(mode: str, model: Path, pairs: Path, steps: int, layers: int, batch_size: int) -> dict[str, Any]:
    """Fine-tune for ``steps`` in this (fresh) process; the run's figures."""
    import peft  # imported before the clock starts, as the rest
    import torch
    import transformers
    from transformers import SiglipModel  # noqa: F401

    import siglip_retriever.encoding.loading  # noqa: F401
    from siglip_retriever.tuning import FinetuneConfig, finetune

    config = FinetuneConfig(
        train=mode, layers=layers, batch_size=batch_size, steps=steps, device="cpu", seed=0
    )
    with tempfile.TemporaryDirectory(prefix="siglip-finetune-bench-") as scratch:
        report = finetune(pairs, Path(scratch) / "tuned", model=str(model), config=config, progress=False)
    log(f"  {mode}: {steps} step(s) in {report.seconds:.1f} s, peak {report.peak_memory_mib:,.0f} MiB")
    return {
        "mode": mode,
        "steps": report.steps,
        "seconds": report.seconds,
        "peak_memory_mib": report.peak_memory_mib,
        "vm_hwm_mib": workloads.memory_mib(),
        "parameters": list(report.parameters),
        "losses": report.losses,
        "training_images": report.training["images"],
        "held_out_images": report.held_out["images"],
        "load_average": os.getloadavg()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "threads": torch.get_num_threads(),
    }


def run_child(mode: str, steps: int, args: argparse.Namespace, model: Path, pairs: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--model",
        str(model),
        "--pairs",
        str(pairs),
        "--steps",
        str(steps),
        "--layers",
        str(args.layers),
        "--batch-size",
        str(args.batch_size),
    ]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} child ({steps} steps) failed (exit {done.returncode}); see above")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def prepare_model() -> Path:
    """The base checkpoint, built in a child (so this process stays small) when not cached."""
    out = workloads.CACHE / "models" / "siglip-base"
    if not (out / "model.safetensors").exists():
        log("building the base checkpoint (once; cached in benchmarks/.cache)")
        code = "import workloads; workloads.checkpoint('base')"
        subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent, check=True)
    return out


# -- the table ---------------------------------------------------------------------------------


def summarise(one: dict[str, Any], many: dict[str, Any]) -> dict[str, Any]:
    per_step = (many["seconds"] - one["seconds"]) / (many["steps"] - one["steps"])
    return {
        "mode": many["mode"],
        "trainable": many["parameters"][0],
        "total": many["parameters"][1],
        "seconds_per_step": per_step,
        "fixed_seconds": one["seconds"] - per_step,
        "peak_memory_mib": many["peak_memory_mib"],
        "peak_one_step_mib": one["peak_memory_mib"],
        "load_average": [one["load_average"], many["load_average"]],
        "losses": many["losses"],
    }


def machine(child_info: dict[str, Any]) -> dict[str, Any]:
    cpu = workloads.cpu_model()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": child_info["torch"],
        "transformers": child_info["transformers"],
        "peft": child_info["peft"],
        "torch_threads": child_info["threads"],
        "python": platform.python_version(),
        "date": dt.date.today().isoformat(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
    }


def millions(count: int) -> str:
    return f"{count / 1e6:.1f} M" if count >= 1e5 else f"{count / 1e6:.2f} M"


def table(rows: list[dict[str, Any]]) -> str:
    reference = next((row for row in rows if row["mode"] == "all"), None)
    lines = [
        "| mode | trainable / total parameters | seconds per step | peak memory | "
        "time vs all | memory vs all |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        share = row["trainable"] / row["total"]
        if reference is not None:
            time_ratio = f"{row['seconds_per_step'] / reference['seconds_per_step']:.2f}x"
            memory_ratio = f"{row['peak_memory_mib'] / reference['peak_memory_mib']:.2f}x"
        else:
            time_ratio = memory_ratio = "-"
        lines.append(
            f"| `{row['mode']}` | {millions(row['trainable'])} / {millions(row['total'])} ({share:.1%}) | "
            f"{row['seconds_per_step']:.1f} s | {row['peak_memory_mib']:,.0f} MiB | "
            f"{time_ratio} | {memory_ratio} |"
        )
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: all, last, lora")
    parser.add_argument("--steps", type=int, default=3, help="steps of the longer run (at least 2)")
    parser.add_argument("--layers", type=int, default=2, help="layers of each tower that train with last")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child(args.child, args.model, args.pairs, args.steps, args.layers, args.batch_size)
        print(json.dumps(result))
        return 0
    if args.steps < 2:
        parser.error("--steps must be at least 2 (the time of a step is the 1-step run's less)")
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown or not modes:
        parser.error(f"--modes takes {', '.join(MODES)}, not {args.modes!r}")
    model, pairs = prepare_model(), pairs_file()
    (model / "model.safetensors").read_bytes()  # into the page cache, so no child reads it cold
    log(f"{len(modes)} mode(s), 1 and {args.steps} steps each, batch {args.batch_size}; pairs in {pairs}")
    results: list[dict[str, Any]] = []
    rows = []
    for mode in modes:
        log(f"{mode}: a child process for 1 step, another for {args.steps}")
        one, many = (run_child(mode, steps, args, model, pairs) for steps in (1, args.steps))
        results += [one, many]
        rows.append(summarise(one, many))
    info = machine(results[0])
    first = results[0]
    print(
        f"\nFine-tuning the base SigLIP on the CPU: batch {args.batch_size}, "
        f"{first['training_images']} training and {first['held_out_images']} held-out pictures, "
        f"seconds per step = (t[{args.steps} steps] - t[1 step]) / {args.steps - 1}\n"
    )
    print(table(rows))
    print()
    for row in rows:
        print(
            f"{row['mode']}: fixed cost (load, score before/after, save) {row['fixed_seconds']:.1f} s; "
            f"peak of the 1-step run {row['peak_one_step_mib']:,.0f} MiB; load average "
            f"{row['load_average'][0]:.1f}, {row['load_average'][1]:.1f}; "
            f"losses {', '.join(f'{loss:.3f}' for loss in row['losses'])}"
        )
    print(
        f"\nmachine: {info['cores']} CPUs, {info['cpu']}; torch {info['torch']} ({info['torch_threads']} "
        f"threads), transformers {info['transformers']}, peft {info['peft']}, Python {info['python']}; "
        f"{info['date']}, load average at the end {info['load_average']:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows, "children": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
