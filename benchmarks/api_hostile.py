"""Hostile requests to the web API: how long a refused template takes, and what large uploads cost.

Run: ``python benchmarks/api_hostile.py`` (about a minute). It prints, in one run:

- for each template class that once gave a 500 or built a huge prompt (``{}{}``, ``{x} {}``,
  ``{} {``, ``{0} {}``, ``{!r} {}``, ``{{}}{0:>100000001}``), the time of its ``422
  invalid_template`` through the app (median of 5, ``TestClient``);
- the server's peak memory (``VmHWM`` of a child process serving the bundled demo model) before
  and after one, then four concurrent uploads of a 49-megapixel picture, as a PNG (no reduced
  decoding) and as a JPEG (decoded at reduced scale), with 1, 2 and 4 decoding slots: the memory
  one in-flight 50 MP upload costs, and the bound the slots put on many.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from PIL import Image
from workloads import cpu_model, memory_mib

TEMPLATES = ["{}{}", "{x} {}", "{} {", "{0} {}", "{!r} {}", "{{}}{0:>100000001}"]
SERVER = textwrap.dedent(
    """
    import sys, time
    from siglip_retriever import MultimodalStore
    from siglip_retriever.app import Limits, create_app
    from siglip_retriever.app.server import BackgroundServer
    store = MultimodalStore.in_memory(model="demo")
    store.add_images([sys.argv[1]])
    limits = Limits(max_concurrent_decodes=int(sys.argv[2]), busy_wait_seconds=120)
    server = BackgroundServer(create_app(store, limits=limits)).start()
    print(server.port, flush=True)
    while True:
        time.sleep(1)
    """
)


def template_times() -> None:
    from fastapi.testclient import TestClient

    from siglip_retriever import MultimodalStore
    from siglip_retriever.app import create_app

    store = MultimodalStore.in_memory(model="demo")
    client = TestClient(create_app(store), base_url="http://127.0.0.1")
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(picture, format="PNG")
    print("template                 status  code              median ms (5)")
    for template in TEMPLATES:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            answer = client.post(
                "/api/classify",
                files={"image": ("red.png", picture.getvalue(), "image/png")},
                data={"labels": "cat", "template": template},
            )
            times.append(1000 * (time.perf_counter() - started))
        code = answer.json()["error"]
        print(f"{template:24} {answer.status_code}     {code:17} {statistics.median(times):.1f}")


def upload_memory(slots: int, name: str, data: bytes, small: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(small), str(slots)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        assert child.stdout is not None
        url = f"http://127.0.0.1:{int(child.stdout.readline())}/api/similar"
        httpx.post(url, files={"image": ("small.png", small.read_bytes())}, timeout=60).raise_for_status()
        files = {"image": (name, data)}
        base = memory_mib("VmHWM", child.pid)
        started = time.perf_counter()
        httpx.post(url, files=files, timeout=300).raise_for_status()
        one, one_s = memory_mib("VmHWM", child.pid) - base, time.perf_counter() - started
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: httpx.post(url, files=files, timeout=300), range(4)))
        four, four_s = memory_mib("VmHWM", child.pid) - base, time.perf_counter() - started
        statuses = sorted({a.status_code for a in answers})
        print(
            f"{name:9} {len(data) / 1e6:5.1f} MB  slots {slots}  one: +{one:4.0f} MiB ({one_s:.1f} s)  "
            f"four at once: +{four:4.0f} MiB ({four_s:.1f} s)  statuses {statuses}  (base {base:.0f} MiB)"
        )
    finally:
        child.terminate()
        child.wait(timeout=30)


def main() -> None:
    cpu = cpu_model()
    print(f"python benchmarks/api_hostile.py  ({os.cpu_count()} CPUs, {cpu}, {time.strftime('%Y-%m-%d')})\n")
    template_times()
    print()
    picture = Image.effect_noise((7000, 7000), 8).convert("RGB")  # 49 MP with some grain, under 10 MB
    uploads = {}
    for fmt, name in (("PNG", "49mp.png"), ("JPEG", "49mp.jpg")):
        buffer = io.BytesIO()
        (Image.new("RGB", (7000, 7000), (200, 30, 30)) if fmt == "PNG" else picture).save(buffer, format=fmt)
        uploads[name] = buffer.getvalue()
    with tempfile.TemporaryDirectory() as folder:
        small = Path(folder) / "small.png"
        Image.new("RGB", (40, 40), "red").save(small)
        for name, data in uploads.items():
            for slots in (1, 2, 4):
                upload_memory(slots, name, data, small)


if __name__ == "__main__":
    main()
