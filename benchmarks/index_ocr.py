"""What OCR at index time costs indexing: photos without text and screenshots with ``--ocr auto``
against ``off`` (and ``all``), and a 200-page PDF (time and peak memory).

Run: ``python benchmarks/index_ocr.py`` (a few minutes on 2 cores; ``--quick`` for a smoke run;
``--model`` another checkpoint, default the bundled demo model). Each run indexes a folder into a
fresh in-memory store in a child process (the model loaded and warmed up before the clock starts),
and prints Markdown tables:

1. index throughput: photos without text (photo-like JPEGs, ``tests.helpers.photo_like``; with
   ``--photos DIR`` the pictures of a folder of your own) and screenshots/slides
   (``tests.documents``), each with ``ocr="off"``, ``"auto"`` and ``"all"``: the median wall time
   of ``--repeat`` runs, pictures per second, how many pictures OCR read, and auto's cost against
   off;
2. auto's choice: of the text-bearing pictures and of the photos, how many ``auto`` read (its
   recall and its false reads) with this model, whether the model passes auto's check
   (:meth:`~siglip_retriever.store.reading.WordReader.model_tells_text`) and what the check costs;
3. a long PDF (``--pages``, a figure every 10 pages, ``tests.documents.write_long_pdf``): indexing
   time, pages per second, and the peak RSS of the child against one indexing a PDF a tenth as
   long (memory does not grow with the pages); medians of ``--repeat`` runs.

Name the CPU (``lscpu``) and the model with every figure; the machines are shared and drift.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.documents: the tests' corpus

SETTINGS = ("off", "auto", "all")


def child(folder: str, model: str, ocr: str) -> dict[str, float]:
    """Index ``folder`` once in this process (the model warmed up first); the figures as a dict."""
    from siglip_retriever import MultimodalStore, SiglipEncoder
    from siglip_retriever.store.reading import WordReader

    encoder = SiglipEncoder(model, device="cpu")
    pictures = [path for path in sorted(Path(folder).iterdir()) if path.suffix.lower() != ".pdf"]
    if pictures:
        encoder.encode_images([str(pictures[0])])
    check = time.perf_counter()
    trusted = WordReader("auto", encoder).model_tells_text()  # once a process: kept for the run
    check = time.perf_counter() - check
    if ocr == "all":
        from siglip_retriever.encoding.ocr import OcrReader

        OcrReader().engine  # noqa: B018 - rapidocr loaded before the clock starts
    store = MultimodalStore.in_memory(encoder=encoder)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    report = store.index_folder(folder, ocr=ocr)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    entries = len(report.added)
    read = {Path(item.path).name.split("#")[0] for item in report.added}
    return {
        "seconds": seconds,
        "entries": entries,
        "files": len(read),
        "ocr_read": report.ocr_read,
        "ocr_found": report.ocr_found,
        "failed": len(report.failed),
        "rss_before_mib": before / 1024,
        "rss_peak_mib": peak / 1024,
        "check_seconds": check,
        "trusted": trusted,
        "judge_ms_per_1000": judging(encoder),
    }


def judging(encoder: object) -> float:
    """Milliseconds ``auto`` spends judging 1,000 pictures by their vectors (what a model that
    passes the check costs a picture): the median of 5."""
    import numpy as np

    from siglip_retriever.store.reading import WordReader

    words = WordReader("auto", encoder)  # type: ignore[arg-type]
    vectors = np.random.default_rng(0).normal(size=(1000, words.encoder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        words.text_probabilities(vectors)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run_child(folder: Path, model: str, ocr: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(folder), "--model", model, "--ocr", ocr]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_photos(folder: Path, count: int, size: tuple[int, int]) -> Path:
    from tests.helpers import photo_like

    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(count):
        photo_like(seed, size).save(folder / f"photo_{seed:03d}.jpg", quality=90)
    return folder


def write_screens(folder: Path, count: int) -> Path:
    from tests.documents import SLIDES, picture_of

    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        item = SLIDES[n % len(SLIDES)]
        picture_of(item, seed=n).save(folder / f"{item.kind}_{n:03d}_{item.name}.png")
    return folder


def throughput(name: str, folder: Path, model: str, repeat: int, settings: tuple[str, ...]) -> list[str]:
    rows = []
    medians: dict[str, float] = {}
    every: dict[str, list[dict[str, float]]] = {ocr: [] for ocr in settings}
    for _ in range(repeat):  # the settings interleaved: a busy spell of the machine hits them all
        for ocr in settings:
            every[ocr].append(run_child(folder, model, ocr))
    for ocr in settings:
        runs = every[ocr]
        seconds = statistics.median(run["seconds"] for run in runs)
        medians[ocr] = seconds
        files = runs[0]["files"]
        cost = "" if ocr == "off" else f"{100 * (seconds / medians['off'] - 1):+.0f} %"
        rows.append(
            f"| {name} | {ocr} | {files} | {seconds:.2f} | {files / seconds:.1f} | "
            f"{runs[0]['ocr_read']} ({runs[0]['ocr_found']} with words) | {cost} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--ocr", default="off", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="demo", help="checkpoint (default: the bundled demo model)")
    parser.add_argument("--quick", action="store_true", help="small folders, one run each")
    parser.add_argument("--repeat", type=int, default=5, help="runs per setting (the median is shown)")
    parser.add_argument("--photos", type=Path, help="a folder of your own photos without text")
    parser.add_argument("--pages", type=int, default=200, help="pages of the long PDF")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.model, args.ocr)))
        return
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        photos = args.photos or write_photos(root / "photos", 8 if args.quick else 160, (1600, 1200))
        screens = write_screens(root / "screens", 4 if args.quick else 12)
        print(f"model: {args.model}; {repeat} run(s) per setting, the median shown\n")
        print("| folder | --ocr | files | seconds | files/s | read by OCR | cost vs off |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for row in throughput("photos without text", photos, args.model, repeat, SETTINGS[:2]):
            print(row)
        for row in throughput("screenshots and slides", screens, args.model, repeat, SETTINGS):
            print(row)
        auto_photos = run_child(photos, args.model, "auto")
        auto_screens = run_child(screens, args.model, "auto")
        print(
            f"\nauto's choice with {args.model}: read {auto_screens['ocr_read']} of "
            f"{auto_screens['files']} screenshots and slides (recall), "
            f"{auto_photos['ocr_read']} of {auto_photos['files']} photos (false reads); the model "
            f"{'passes' if auto_photos['trusted'] else 'fails'} auto's check (a page of text judged "
            f"text-bearing, a photo-like picture not), which costs {auto_photos['check_seconds']:.2f} s "
            "once a process (not in the times above); judging 1,000 pictures by their vectors costs "
            f"{auto_photos['judge_ms_per_1000']:.1f} ms (what a model that passes the check adds)\n"
        )
        from tests.documents import write_long_pdf

        pages = 20 if args.quick else args.pages
        short = max(1, pages // 10)
        (root / "long").mkdir()
        (root / "short").mkdir()
        write_long_pdf(root / "long" / "long.pdf", pages=pages)
        write_long_pdf(root / "short" / "short.pdf", pages=short)
        print("| PDF | --ocr | entries | seconds | pages/s | peak RSS (MiB) | RSS before (MiB) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, folder in (
            (f"{short} pages", root / "short"),
            (f"{pages} pages", root / "long"),
        ):
            runs = {
                ocr: [run_child(folder, args.model, ocr) for _ in range(repeat)] for ocr in ("off", "auto")
            }
            for ocr, done in runs.items():
                run = {key: statistics.median(r[key] for r in done) for key in ("seconds", "rss_peak_mib")}
                run["entries"], run["rss_before_mib"] = done[0]["entries"], done[0]["rss_before_mib"]
                count = pages if folder.name == "long" else short
                print(
                    f"| {name} | {ocr} | {run['entries']} | {run['seconds']:.1f} | "
                    f"{count / run['seconds']:.1f} | {run['rss_peak_mib']:.0f} | "
                    f"{run['rss_before_mib']:.0f} |"
                )


if __name__ == "__main__":
    main()
