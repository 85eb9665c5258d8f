"""What reading videos as moments costs: seconds per minute of video, decoded frames, moments per
minute and peak memory, for phone-like H.264 at 1080p and 4K, and indexing them with a model.

Run: ``python benchmarks/video.py`` (about 5-8 minutes on 2 cores, most of it writing the 4K
minute; ``--quick`` for a smoke run of 12 seconds a clip; ``--repeat`` runs a figure, the median
shown; ``--model`` another checkpoint, default the bundled demo model; ``--no-index`` to time the
reader alone). It writes one minute of each clip with PyAV (libx264 ``superfast``, no B-frames,
30 frames a second), then reads each in a child process (its peak RSS is the reading's):

- ``1080p`` and ``4K``: a phone's home video, a keyframe every second, a shot every 3 seconds
  panning slowly over a photo-like picture (``tests.helpers.photo_like``);
- ``1080p long GOP``: one 10-second pan with x264's default GOP (a keyframe every 250 frames,
  or at a scene cut): too rare to sample a second, so the reader decodes every frame in order;
- ``talking head``: 1080p, one shot: a still background and a head that sways and talks;
- ``action``: 1080p, a cut every 2 seconds, fast pans.

To keep writing cheap, each clip is a few seconds encoded once and repeated (its packets copied
with shifted times): every chunk starts at a keyframe, so decoding it costs what a minute
encoded in one go costs.

Two tables: :func:`~siglip_retriever.encoding.video.read_video` alone (seconds per minute of
video, frames decoded of the minute's frames, moments per minute, peak RSS of the child), then
``MultimodalStore.index_folder`` of each clip into an in-memory store (the model loaded and
warmed up before the clock starts): seconds per minute and entries.

Name the CPU and the model with every figure; the machines are shared and drift.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers: photo-like pictures
sys.path.insert(0, str(Path(__file__).resolve().parent))  # workloads: cpu_model

FPS = 30


@dataclass(frozen=True)
class Spec:
    """A clip to write: its size, its shots (picture seed, seconds, pan in pixels a frame) in the
    chunk that repeats, and its keyframe spacing in frames (``None``: x264's default)."""

    name: str
    size: tuple[int, int]
    shots: tuple[tuple[int, float, int], ...]
    gop: int | None = FPS
    talking: bool = False


HOME = ((1, 3.0, 2), (2, 3.0, 2))
SPECS = (
    Spec("1080p", (1920, 1080), HOME),
    Spec("1080p long GOP", (1920, 1080), ((1, 10.0, 2),), gop=None),
    Spec("4K", (3840, 2160), HOME),
    Spec("talking head", (1920, 1080), ((3, 10.0, 0),), talking=True),
    Spec("action", (1920, 1080), tuple((10 + n, 2.0, 12) for n in range(5))),
)


def background(seed: int, size: tuple[int, int], margin: int) -> np.ndarray:
    """A photo-like picture ``margin`` pixels larger than ``size`` each way, softened as a phone's
    denoising does, so that its keyframes weigh about what a phone's do (4K: drawn at half size
    and scaled up, its noise softened at that scale)."""
    from tests.helpers import photo_like

    width, height = size[0] + margin, size[1] + margin
    scale = 1 if width <= 2600 else 2
    picture = photo_like(seed, (width // scale, height // scale))
    picture = picture.filter(ImageFilter.GaussianBlur(0.8)).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(picture)


def shot_frames(spec: Spec, seed: int, seconds: float, pan: int) -> Iterator[np.ndarray]:
    """The frames of one shot: a pan over its picture (back and forth), or a talking head."""
    width, height = spec.size
    margin = 256 * width // 1920
    picture = background(seed, spec.size, margin)
    for n in range(round(seconds * FPS)):
        offset = (n * pan) % (2 * margin)
        offset = offset if offset <= margin else 2 * margin - offset
        frame = picture[offset // 2 : offset // 2 + height, offset : offset + width]
        if spec.talking:
            frame = talking_head(frame, n)
        yield np.ascontiguousarray(frame)


def talking_head(frame: np.ndarray, n: int) -> np.ndarray:
    """A head and shoulders in front of ``frame``, swaying and talking (frame ``n``)."""
    height, width = frame.shape[:2]
    picture = Image.fromarray(frame)
    pen = ImageDraw.Draw(picture)
    sway = int(width * 0.01 * np.sin(2 * np.pi * n / (4 * FPS)))
    cx, cy, r = width // 2 + sway, height // 2, height // 5
    pen.ellipse((cx - 2 * r, cy + r, cx + 2 * r, cy + 4 * r), fill=(40, 50, 90))  # shoulders
    pen.ellipse((cx - r, cy - int(1.3 * r), cx + r, cy + int(1.3 * r)), fill=(224, 172, 140))
    mouth = int(r * 0.15 * (1 + np.sin(2 * np.pi * n / 7)))
    pen.rectangle((cx - r // 3, cy + r // 2, cx + r // 3, cy + r // 2 + mouth + 2), fill=(110, 30, 40))
    return np.asarray(picture)


def write_chunk(spec: Spec, path: Path) -> float:
    """The clip's repeating chunk, encoded once; returns its seconds."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": "superfast"})
        stream.width, stream.height, stream.pix_fmt = *spec.size, "yuv420p"
        stream.codec_context.max_b_frames = 0  # no frame reordering: chunks join with plain times
        if spec.gop is not None:
            stream.codec_context.gop_size = spec.gop
        for seed, seconds, pan in spec.shots:
            for pixels in shot_frames(spec, seed, seconds, pan):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode(None))
    return sum(seconds for _, seconds, _ in spec.shots)


def write_clip(spec: Spec, path: Path, seconds: float) -> None:
    """``seconds`` of the clip: its chunk's packets repeated with shifted times."""
    import av

    chunk = path.with_suffix(".chunk.mp4")
    length = write_chunk(spec, chunk)
    with av.open(str(chunk)) as source, av.open(str(path), "w") as out:
        given = source.streams.video[0]
        stream = out.add_stream_from_template(given)
        shift = round(length / given.time_base)
        for turn in range(max(1, round(seconds / length))):
            source.seek(0, stream=given)
            for packet in source.demux(given):
                if packet.dts is None:
                    continue
                packet.pts, packet.dts = packet.pts + turn * shift, packet.dts + turn * shift
                packet.stream = stream
                out.mux(packet)
    chunk.unlink()


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: Linux's VmHWM, which starts afresh at exec
    (``ru_maxrss`` would carry the parent's peak into a child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_read(path: str) -> dict[str, float]:
    """Read ``path`` once in this process; the figures as a dict."""
    from siglip_retriever.encoding.video import VideoFailure, VideoInfo, VideoMoment, VideoStats, read_video

    stats = VideoStats()
    before = peak_rss_mib()
    start = time.perf_counter()
    items = list(read_video(path, stats=stats))
    seconds = time.perf_counter() - start
    info = next(item for item in items if isinstance(item, VideoInfo))
    return {
        "seconds": seconds,
        "duration": info.duration,
        "fps": info.fps or 0.0,
        "moments": sum(isinstance(item, VideoMoment) for item in items),
        "failures": sum(isinstance(item, VideoFailure) for item in items),
        "decoded": stats.decoded_frames,
        "sampled": stats.sampled_frames,
        "keyframes_only": stats.keyframes_only,
        "rss_before_mib": before,
        "rss_peak_mib": peak_rss_mib(),
    }


def child_index(folder: str, model: str) -> dict[str, float]:
    """Index ``folder`` (one clip) into a fresh in-memory store, the model warmed up first."""
    from siglip_retriever import MultimodalStore, SiglipEncoder

    encoder = SiglipEncoder(model, device="cpu")
    encoder.encode_images([Image.new("RGB", (64, 64))])
    store = MultimodalStore.in_memory(encoder=encoder)
    before = peak_rss_mib()
    start = time.perf_counter()
    report = store.index_folder(folder, ocr="off")
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "entries": len(report.added),
        "failed": len(report.failed),
        "rss_before_mib": before,
        "rss_peak_mib": peak_rss_mib(),
    }


def run_child(*arguments: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *arguments], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def weight(path: Path) -> tuple[float, float]:
    """The clip's bit rate (Mbit/s) and its keyframes' mean size (KiB)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        sizes = [(packet.size, packet.is_keyframe) for packet in container.demux(stream) if packet.size]
        seconds = float(container.duration or 1) / 1_000_000
    keyframes = [size for size, key in sizes if key]
    return sum(size for size, _ in sizes) * 8 / seconds / 1e6, sum(keyframes) / len(keyframes) / 1024


def reading_table(clips: dict[str, Path], repeat: int) -> None:
    print(
        "| clip | Mbit/s, keyframe KiB | mode | s per min | frames decoded per min (of) | moments per min |",
        end="",
    )
    print(" peak RSS MiB |\n| --- | --- | --- | --- | --- | --- | --- |")
    for name, path in clips.items():
        runs = [run_child("read", str(path)) for _ in range(repeat)]
        first, minutes = runs[0], runs[0]["duration"] / 60
        mode = "keyframes only" if first["keyframes_only"] else "every frame in order"
        every = round(first["duration"] * first["fps"])
        rate, keyframe = weight(path)
        print(
            f"| {name} | {rate:.1f}, {keyframe:.0f} | {mode} | {median_of(runs, 'seconds') / minutes:.2f} | "
            f"{first['decoded'] / minutes:.0f} ({every / minutes:.0f}) | {first['moments'] / minutes:.1f} | "
            f"{median_of(runs, 'rss_peak_mib'):.0f} (at start: {first['rss_before_mib']:.0f}) |"
        )


def indexing_table(clips: dict[str, Path], model: str, repeat: int, minutes: float) -> None:
    print("\n| clip | index s per min of video | entries | peak RSS (MiB) |")
    print("| --- | --- | --- | --- |")
    for name, path in clips.items():
        runs = [run_child("index", str(path.parent), "--model", model) for _ in range(repeat)]
        print(
            f"| {name} | {median_of(runs, 'seconds') / minutes:.2f} | {runs[0]['entries']:.0f} "
            f"({runs[0]['failed']:.0f} failed) | {median_of(runs, 'rss_peak_mib'):.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="demo", help="checkpoint (default: the bundled demo model)")
    parser.add_argument("--quick", action="store_true", help="12 seconds a clip, one run each")
    parser.add_argument("--repeat", type=int, default=3, help="runs a figure (the median is shown)")
    parser.add_argument("--no-index", action="store_true", help="time the reader alone")
    parser.add_argument("--clips", help="the clips to measure, by name, comma-separated (default: all)")
    args = parser.parse_args()
    if args.child:
        kind, target = args.child[:2]
        print(json.dumps(child_read(target) if kind == "read" else child_index(target, args.model)))
        return
    from workloads import cpu_model

    seconds, repeat = (12.0, 1) if args.quick else (60.0, args.repeat)
    with tempfile.TemporaryDirectory() as scratch:
        clips: dict[str, Path] = {}
        began = time.perf_counter()
        chosen = args.clips.split(",") if args.clips else [spec.name for spec in SPECS]
        for spec in (spec for spec in SPECS if spec.name in chosen):
            folder = Path(scratch) / spec.name.replace(" ", "-")
            folder.mkdir()
            clips[spec.name] = folder / "clip.mp4"
            write_clip(spec, clips[spec.name], seconds)
        written = time.perf_counter() - began
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"CPU: {cpu_model()} ({os.cpu_count()} CPUs, load {load}); model: {args.model}; ", end="")
        print(f"{repeat} run(s) a figure, the median")
        print(f"clips: {seconds:.0f} s each, H.264 at {FPS} frames a second, written in {written:.0f} s\n")
        reading_table(clips, repeat)
        if not args.no_index:
            indexing_table(clips, args.model, repeat, seconds / 60)


if __name__ == "__main__":
    main()
