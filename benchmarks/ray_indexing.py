"""Images/s of distributed indexing on Ray (1, 2, ... model actors) against local ``index_folder``.

    python benchmarks/ray_indexing.py                          # demo model, 64 photos, 1 and 2 workers
    python benchmarks/ray_indexing.py --model base --images 48 # base-size SigLIP (random weights)
    python benchmarks/ray_indexing.py --ray-address auto --workers 1,2,4,8 --cpus-per-worker 4

Every run indexes the same folder of generated 640x480 JPEGs (``workloads.photo_folder``) into a
fresh collection of one Chroma server (``chroma run`` on 127.0.0.1, started here), end to end:
scan, hash, decode, embed, write. The Ray runs include starting the actors (one model load each)
and Ray Data's start-up, not ``ray.init``. A local Ray cluster gets every core; each actor gets
``min(--cpus-per-worker, (cores - 1) / workers)`` CPUs, so that one CPU is left for decoding.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads


def _chroma_server(data: Path) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    process = subprocess.Popen(
        [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("chroma server did not start") from None
            time.sleep(0.2)


def _model(name: str) -> str:
    return name if name == "demo" else str(workloads.checkpoint(name))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=["demo", "small", "base"], default="demo")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="comma-separated numbers of model actors")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cpus-per-worker", type=float, default=1.0)
    parser.add_argument("--ray-address", default=None, help="a running cluster (default: a local one)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    import ray

    from siglip_retriever import MultimodalStore
    from siglip_retriever.store.distributed import index_distributed

    folder = workloads.photo_folder(0, args.images)
    model = _model(args.model)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as data:
        server, port = _chroma_server(Path(data))
        try:
            if args.ray_address:
                ray.init(address=args.ray_address, log_to_driver=False)
            else:
                ray.init(num_cpus=cores, include_dashboard=False, _node_ip_address="127.0.0.1")
            ray.data.DataContext.get_current().enable_progress_bars = False
            cpus = int(ray.cluster_resources().get("CPU", cores))

            def store() -> Any:
                name = f"bench-{uuid.uuid4().hex[:8]}"
                return MultimodalStore.connect(
                    "127.0.0.1", port, model=model, collection=name, batch_size=args.batch_size
                )

            def local() -> float:
                target = store()
                report = target.index_folder(folder)
                return report.embedded / report.seconds

            def distributed(workers: int) -> float:
                target = store()
                share = min(args.cpus_per_worker, (cpus - 1) / workers)
                report = index_distributed(
                    target, folder, num_workers=workers, batch_size=args.batch_size, cpus_per_worker=share
                )
                return report.embedded / report.seconds

            counts = [int(w) for w in args.workers.split(",")]
            print(
                f"model={args.model} images={args.images} (640x480 JPEG) cpus={cpus} batch={args.batch_size}"
            )
            for round_ in range(args.rounds):
                line = [f"local index_folder {local():.2f} images/s"]
                line += [
                    f"ray {w} worker{'s' if w > 1 else ''} {distributed(w):.2f} images/s" for w in counts
                ]
                print(f"round {round_ + 1}: " + " | ".join(line), flush=True)
        finally:
            ray.shutdown()
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
