"""The web API under load: N concurrent clients against ``siglip-retriever serve`` in a child process.

Run: ``python benchmarks/api_load.py`` (about a minute: 20 s at 8 clients, 20 s at 32 clients,
plus building the store). Options: ``--seconds 20`` per level, ``--clients 8,32``, ``--images 300``.

It generates a few hundred small pictures (64-256 px, varied colours and shapes, JPEG and PNG),
indexes them with the bundled ``demo`` model into an on-disk store under ``benchmarks/.cache/``
(ignored by git), starts ``python -m siglip_retriever.cli --db STORE --model demo serve --port 0``
(127.0.0.1, a free port) in a child process, waits for ``/health`` and drives a mix of requests
(mostly text searches in several languages, then thumbnails, similar-to-stored, /health, the
picture, /api/info, and a few uploads to /api/similar and /api/classify) from N threads with one
``httpx.Client`` each, for a fixed time per level. For each level it prints requests/s,
p50/p95/p99 latency, the answers by status, and the server process's RSS before the run, after
each level and its peak (``VmHWM``). A ``503 busy`` (the server shedding load, by design) is
counted apart as "busy (503)", not as an error; any other 5xx (``503 store_unavailable``
included), a timeout or a connection error is an error, and the script then exits with status 1.
The load generator runs on the same machine as the server and takes part of its CPU.

``python benchmarks/api_load.py --batching`` (about 3 minutes: 20 s per level and mode, plus
building the base-size checkpoint once) compares the batching queue with one request at a time:
text searches only, each query unique (a number appended) so that no cache answers it, against a
store of 2,000 random vectors on a base-size SigLIP with random weights (``workloads.checkpoint``:
ViT-B/16 at 224 px, float32). Two servers run in child processes on 127.0.0.1, each over its own
copy of the store: ``lock`` encodes one request at a time (``Limits(max_batch=1)``, what the lock
around the model did), ``batched`` gathers up to 32 concurrent queries into one forward pass (the
default). At 1, 8 and 32 clients (``--clients``), the two modes take turns in four rounds of 5 s
(``--rounds``), so that a change in the machine's load falls on both; it prints each mode's
searches per second, p50/p95/p99 latency, 503 busy answers and errors, then a table and the ratio
at the most clients. ``--old COMMIT`` adds a third server, the ``serve`` of that commit's code
(checked out with ``git worktree`` under the temporary directory and removed after): with
``--old 6cbce33``, the last code with the lock around the model, which the lock held over the
whole search (the query's encoding, chromadb's query and the ranking).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import math
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import httpx
from PIL import Image, ImageDraw
from workloads import COLOURS, SHAPES, cpu_model, draw_shape, memory_mib

import siglip_retriever
from siglip_retriever import MultimodalStore

CACHE = Path(__file__).resolve().parent / ".cache"

WORDS: dict[str, tuple[str, str, str]] = {  # language: (template, colours, shapes), space-separated
    "en": (
        "a {c} {s}",
        "red green blue yellow orange purple black white teal pink",
        " ".join(SHAPES),
    ),
    "fr": (
        "{s} {c}",
        "rouge vert bleu jaune orange violet noir blanc turquoise rose",
        "cercle carré triangle rayures étoile",
    ),
    "de": (
        "{s} in {c}",
        "rot grün blau gelb orange lila schwarz weiß türkis rosa",
        "Kreis Quadrat Dreieck Streifen Stern",
    ),
    "es": (
        "{s} {c}",
        "rojo verde azul amarillo naranja morado negro blanco turquesa rosa",
        "círculo cuadrado triángulo rayas estrella",
    ),
    "ja": (
        "{c}の{s}",
        "赤 緑 青 黄色 オレンジ 紫 黒 白 ターコイズ ピンク",
        "丸 四角 三角 縞 星",
    ),
    "zh": (
        "{c}的{s}",
        "红色 绿色 蓝色 黄色 橙色 紫色 黑色 白色 青色 粉色",
        "圆 正方形 三角形 条纹 星星",
    ),
    "ru": (
        "{c} {s}",
        "красный зелёный синий жёлтый оранжевый фиолетовый чёрный белый бирюзовый розовый",
        "круг квадрат треугольник полосы звезда",
    ),
}
SENTENCES = (
    "a blue square on a white background",
    "a photo of a purple shape",
    "black and white stripes",
    "un carré bleu sur fond blanc",
    "ein gelber Stern auf schwarzem Grund",
    "una estrella amarilla en el cielo",
    "ציור של עיגול אדום",
    "دائرة حمراء",
    "pembe bir kare",
)


def text_queries() -> list[str]:
    """Several hundred queries: colour and shape in seven languages, and a few sentences."""
    queries = list(SENTENCES)
    for template, colours, shapes in WORDS.values():
        queries += [template.format(c=c, s=s) for c in colours.split() for s in shapes.split()]
    return queries


QUERIES = text_queries()
LABELS = (
    "red,green,blue,yellow",
    "circle,square,triangle,star,stripes",
    "un cercle,un carré,un triangle",
    "rot,grün,blau",
    "猫,犬,車,花",
)


def draw_picture(rng: random.Random) -> Image.Image:
    """A small picture: a background colour and one to four shapes of other colours."""
    width, height = rng.randint(64, 256), rng.randint(64, 256)
    names = list(COLOURS)
    picture = Image.new("RGB", (width, height), COLOURS[rng.choice(names)])
    pen = ImageDraw.Draw(picture)
    for _ in range(rng.randint(1, 4)):
        colour = COLOURS[rng.choice(names)]
        x0, y0 = rng.randint(0, width // 2), rng.randint(0, height // 2)
        x1, y1 = rng.randint(x0 + 8, width), rng.randint(y0 + 8, height)
        draw_shape(pen, rng.choice(SHAPES), (x0, y0, x1, y1), colour)
    return picture


def encoded(picture: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def build_store(root: Path, count: int) -> tuple[Path, list[str], float]:
    """``count`` generated pictures indexed by the demo model into ``root/store``: its path, ids, seconds."""
    folder = root / "pictures"
    folder.mkdir(parents=True)
    rng = random.Random(0)
    for i in range(count):
        fmt = "PNG" if i % 4 == 3 else "JPEG"
        suffix = "png" if fmt == "PNG" else "jpg"
        (folder / f"picture-{i:04d}.{suffix}").write_bytes(encoded(draw_picture(rng), fmt))
    start = time.perf_counter()
    store = MultimodalStore(root / "store", model="demo")
    try:
        store.index_folder(folder)
        ids = [item.id for item in store.get()]
    finally:
        store.close()
    return root / "store", ids, time.perf_counter() - start


# -- the server --------------------------------------------------------------------------------------


def mib(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.0f} MiB"


def serve_command(store: Path, model: str | None = "demo") -> list[str]:
    """``siglip-retriever --db STORE --model demo serve --port 0`` (127.0.0.1, a free port);
    ``model=None``: the store's own model."""
    cli = [sys.executable, "-m", "siglip_retriever.cli", "--db", str(store)]
    cli += ["--model", model] if model else []
    return [*cli, "serve", "--host", "127.0.0.1", "--port", "0"]


class Server:
    """A server in a child process (``command``), which prints its URL on stdout once it listens."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.command = command
        self.log = log
        self._log_file = log.open("wb")
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **(env or {}))
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=self._log_file, env=env)
        self.url = ""
        self.peak_mib = 0.0
        self._found = threading.Event()
        threading.Thread(target=self._read_stdout, name="server-stdout", daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace")
            match = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if match and not self.url:
                self.url = match.group(0)
                self._found.set()

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Seconds until ``/health`` answers 200; raises if the server exits or takes too long."""
        start = time.perf_counter()
        deadline = time.monotonic() + timeout
        while not self._found.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; its log:\n{self.log_tail()}")
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        return time.perf_counter() - start
                except httpx.TransportError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"/health never answered 200; the server's log:\n{self.log_tail()}")
                time.sleep(0.1)

    def memory(self) -> float:
        """VmRSS now (MiB); ``peak_mib`` keeps the highest VmHWM seen, should the process end."""
        peak = memory_mib("VmHWM", self.process.pid)
        if not math.isnan(peak):
            self.peak_mib = max(self.peak_mib, peak)
        return memory_mib("VmRSS", self.process.pid)

    def log_tail(self, lines: int = 40) -> str:
        self._log_file.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        self._log_file.close()


# -- the load ----------------------------------------------------------------------------------------


@dataclass
class Sample:
    route: str
    status: int  # 0: a connection error or a timeout
    seconds: float
    error: str = ""  # the exception's name, or the ``error`` code of a 4xx/5xx JSON body


@dataclass
class Workload:
    ids: list[str]
    uploads: list[bytes]
    rng: random.Random
    samples: list[Sample] = field(default_factory=list)

    # route name, weight (of 100)
    MIX = (
        ("search", 60),
        ("thumbnail", 14),
        ("similar_stored", 10),
        ("health", 5),
        ("image", 3),
        ("info", 2),
        ("similar_upload", 3),
        ("classify", 3),
    )

    def request(self, client: httpx.Client) -> None:
        route = self.rng.choices([r for r, _ in self.MIX], weights=[w for _, w in self.MIX])[0]
        rng = self.rng
        start = time.perf_counter()
        try:
            if route == "search":
                answer = client.get(
                    "/api/search", params={"q": rng.choice(QUERIES), "k": rng.choice((5, 10, 20))}
                )
            elif route == "thumbnail":
                answer = client.get(f"/api/images/{rng.choice(self.ids)}/thumbnail")
            elif route == "similar_stored":
                answer = client.get(f"/api/images/{rng.choice(self.ids)}/similar", params={"k": 10})
            elif route == "health":
                answer = client.get("/health")
            elif route == "image":
                answer = client.get(f"/api/images/{rng.choice(self.ids)}")
            elif route == "info":
                answer = client.get("/api/info")
            elif route == "similar_upload":
                files = {"image": ("upload.jpg", rng.choice(self.uploads), "image/jpeg")}
                answer = client.post("/api/similar", params={"k": 10}, files=files)
            else:
                files = {"image": ("upload.jpg", rng.choice(self.uploads), "image/jpeg")}
                answer = client.post("/api/classify", data={"labels": rng.choice(LABELS)}, files=files)
            answer.read()
            seconds = time.perf_counter() - start
            self.samples.append(Sample(route, answer.status_code, seconds, error_code(answer)))
        except httpx.TransportError as exc:
            self.samples.append(Sample(route, 0, time.perf_counter() - start, type(exc).__name__))


def error_code(answer: httpx.Response) -> str:
    """The ``error`` field of an error's JSON body (``busy``, ``not_found``...), else ``""``."""
    if answer.status_code < 400:
        return ""
    try:
        body = answer.json()
    except ValueError:
        return "not JSON"
    return str(body.get("error", "")) if isinstance(body, dict) else ""


class Client(Protocol):
    samples: list[Sample]

    def request(self, client: httpx.Client) -> None: ...


def run_level(url: str, workloads: Sequence[Client], seconds: float) -> tuple[list[Sample], float]:
    """One thread with an ``httpx.Client`` per workload, for ``seconds``: the samples, the wall time."""
    clients = len(workloads)
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def work(workload: Workload) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=url, timeout=60.0, limits=limits) as client:
            barrier.wait()
            while time.perf_counter() < deadline[0]:
                workload.request(client)

    threads = [threading.Thread(target=work, args=(w,), name=f"client-{i}") for i, w in enumerate(workloads)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    deadline[0] = start + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    return [s for w in workloads for s in w.samples], time.perf_counter() - start


def percentile_ms(sorted_seconds: list[float], q: float) -> float:
    if not sorted_seconds:
        return float("nan")
    return 1000 * sorted_seconds[min(len(sorted_seconds) - 1, int(len(sorted_seconds) * q))]


@dataclass
class Summary:
    clients: int
    requests: int
    wall: float
    served: int
    busy: int
    errors: Counter[str]
    other_4xx: Counter[str]
    p50: float
    p95: float
    p99: float
    by_route: dict[str, tuple[int, float, float]]

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def summarise(clients: int, samples: list[Sample], wall: float) -> Summary:
    """Latency over the requests the server answered (any status but 503 busy); busy and errors apart.

    ``503 busy`` is the server shedding load, as designed: counted apart, not an error. Any other
    5xx (``500 internal_error``, ``503 store_unavailable``...) and every connection error or
    timeout is an error.
    """
    errors: Counter[str] = Counter()
    other_4xx: Counter[str] = Counter()
    busy = 0
    answered: list[Sample] = []
    for sample in samples:
        if sample.status == 0:
            errors[sample.error or "connection error"] += 1
        elif sample.status == 503 and sample.error == "busy":
            busy += 1
        elif sample.status >= 500:
            errors[f"{sample.status} {sample.error}".strip()] += 1
        else:
            answered.append(sample)
            if 400 <= sample.status < 500:
                other_4xx[f"{sample.route} {sample.status} {sample.error}".strip()] += 1
    times = sorted(s.seconds for s in answered)
    by_route: dict[str, tuple[int, float, float]] = {}
    for route, _ in Workload.MIX:
        route_times = sorted(s.seconds for s in answered if s.route == route)
        by_route[route] = (
            len(route_times),
            percentile_ms(route_times, 0.5),
            percentile_ms(route_times, 0.95),
        )
    return Summary(
        clients,
        len(samples),
        wall,
        len(answered),
        busy,
        errors,
        other_4xx,
        percentile_ms(times, 0.5),
        percentile_ms(times, 0.95),
        percentile_ms(times, 0.99),
        by_route,
    )


def code_state() -> str:
    """Where the server's code comes from: this checkout's commit and its changed files under ``src/``."""
    root = Path(__file__).resolve().parent.parent
    package = Path(siglip_retriever.__file__).resolve().parent
    if not package.is_relative_to(root / "src"):
        return f"siglip_retriever {siglip_retriever.__version__} from {package}"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    if not changed:
        return f"git {head}, src/ as committed"
    diff = subprocess.run(["git", "diff", "HEAD", "--", "src"], cwd=root, capture_output=True, check=False)
    digest = hashlib.sha1(diff.stdout).hexdigest()[:10]
    names = ", ".join(line[3:].removeprefix("src/siglip_retriever/") for line in changed)
    return f"git {head} + {len(changed)} changed files under src/ (tracked diff sha1 {digest}: {names})"


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def warm_up(url: str, ids: list[str], uploads: list[bytes]) -> None:
    """Each route once, so that first-call costs (tokenizer, classifier, caches) stay out of the levels."""
    workload = Workload(ids, uploads, random.Random(7))
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for _ in range(60):
            workload.request(client)
    failed = [s for s in workload.samples if s.status == 0 or s.status >= 500]
    if failed:
        print(f"warm-up: {len(failed)} of {len(workload.samples)} requests failed: {failed[:3]}")


def report(summary: Summary, rss: float | None) -> None:
    rate, served = summary.requests / summary.wall, summary.served / summary.wall
    errors = f"errors {summary.error_count}" + (f" {dict(summary.errors)}" if summary.errors else "")
    print(
        f"\n{summary.clients} clients: {summary.requests} requests in {summary.wall:.1f} s = "
        f"{rate:.1f} req/s "
        f"({served:.1f} req/s answered, not busy); latency p50 {summary.p50:.1f} ms, "
        f"p95 {summary.p95:.1f} ms, p99 {summary.p99:.1f} ms; busy (503) {summary.busy}; {errors}; "
        f"other 4xx {dict(summary.other_4xx) or 0}; server RSS after: {mib(rss)}; "
        f"load average {load_average()}"
    )
    for route, (count, p50, p95) in summary.by_route.items():
        print(f"  {route:<15} {count:>6}  p50 {p50:8.1f} ms  p95 {p95:8.1f} ms")


def print_machine() -> None:
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print(
        f"machine: {os.cpu_count()} CPUs, {cpu_model()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, httpx {httpx.__version__}; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average {load_average()}"
    )
    print(f"code: {code_state()}")


def run_mix(args: argparse.Namespace) -> int:
    """The mixed workload against ``serve`` with the demo model, at each level of ``--clients``."""
    levels = [int(c) for c in (args.clients or "8,32").split(",") if c.strip()]
    print_machine()
    CACHE.mkdir(exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    failed = False
    with tempfile.TemporaryDirectory(prefix="api-load-", dir=CACHE) as tmp:
        root = Path(tmp)
        store, ids, index_seconds = build_store(root, args.images)
        print(f"store: {len(ids)} pictures (64-256 px, JPEG and PNG), demo model, on disk; ", end="")
        print(f"indexed in {index_seconds:.1f} s")
        rng = random.Random(1)
        uploads = [encoded(draw_picture(rng)) for _ in range(16)]
        server = Server(serve_command(store), root / "server.log")
        try:
            try:
                ready = server.wait_ready()
            except RuntimeError as exc:
                print(f"FAILED: {exc}")
                return 1
            print(f"server: pid {server.process.pid} at {server.url}, /health 200 after {ready:.1f} s")
            print(f"server RSS at start: {mib(server.memory())}")
            warm_up(server.url, ids, uploads)
            before = server.memory()
            print(f"server RSS after warm-up (before the run): {mib(before)}")
            mix = ", ".join(f"{route} {weight}%" for route, weight in Workload.MIX)
            print(f"mix: {mix}; {len(QUERIES)} text queries; {args.seconds:g} s per level")
            summaries: list[tuple[Summary, float | None]] = []
            for clients in levels:
                workloads = [
                    Workload(ids, uploads, random.Random(1000 * clients + i)) for i in range(clients)
                ]
                samples, wall = run_level(server.url, workloads, args.seconds)
                summary = summarise(clients, samples, wall)
                summaries.append((summary, server.memory()))
                report(*summaries[-1])
                if server.process.poll() is not None:
                    print(f"the server exited with {server.process.returncode} during the level")
                    break
            after = ", ".join(f"after {s.clients} clients {mib(rss)}" for s, rss in summaries)
            server.memory()
            peak = mib(server.peak_mib or None)
            print(f"\nserver RSS: before {mib(before)}, {after}; peak (VmHWM) {peak}")
            for (a, _), (b, _) in itertools.pairwise(summaries):
                gain = (b.requests / b.wall) / (a.requests / a.wall)
                print(
                    f"{b.clients} vs {a.clients} clients: req/s x{gain:.2f}, "
                    f"p50 x{b.p50 / a.p50:.2f}, p95 x{b.p95 / a.p95:.2f}, p99 x{b.p99 / a.p99:.2f}"
                )
            failed = any(s.error_count for s, _ in summaries) or server.process.poll() is not None
            log = server.log_tail()
            if failed or "Traceback" in log or "ERROR" in log:
                print(f"\nthe server's log (tail):\n{log}")
        finally:
            server.stop()
    print("FAILED: 5xx or connection errors (see above)" if failed else "no errors")
    return 1 if failed else 0


# -- batching against the lock: text searches on a base-size model ----------------------------------

MODES = {"lock": 1, "batched": 32}
"""The server's ``Limits.max_batch`` in each mode: 1 encodes one request at a time, in arrival order
(what the lock around the model did before the batching queue); 32 is the default."""


def vector_store(root: Path, count: int) -> tuple[Path, str]:
    """A store on the base-size checkpoint holding ``count`` random unit vectors as pictures (text
    searches need vectors to rank, not files): its path and the checkpoint's."""
    from workloads import checkpoint, unit_vectors

    model = checkpoint("base")
    store = MultimodalStore(root / "store", model=str(model))
    try:
        vectors = unit_vectors(count, store.encoder.dim, seed=0)
        ids = [f"picture-{i:05d}" for i in range(count)]
        store.upsert_vectors(ids, vectors, [{"kind": "image", "name": name} for name in ids])
    finally:
        store.close()
    return root / "store", str(model)


class TextSearches:
    """One client's text searches: a query of :data:`QUERIES` with a number that makes it unique, so
    that neither the encoder's query cache nor the result cache answers it: each one is encoded."""

    numbers = itertools.count()

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.samples: list[Sample] = []

    def request(self, client: httpx.Client) -> None:
        query = f"{self.rng.choice(QUERIES)} {next(self.numbers)}"
        start = time.perf_counter()
        try:
            answer = client.get("/api/search", params={"q": query, "k": 10})
            answer.read()
            sample = Sample("search", answer.status_code, time.perf_counter() - start, error_code(answer))
        except httpx.TransportError as exc:
            sample = Sample("search", 0, time.perf_counter() - start, type(exc).__name__)
        self.samples.append(sample)


def search_levels(
    servers: dict[str, Server], clients: int, seconds: float, rounds: int
) -> dict[str, Summary]:
    """Each mode's text searches at ``clients``: ``rounds`` rounds of ``seconds / rounds`` each, the
    modes taking turns (so that a change in the machine's load falls on both), summed per mode."""
    samples: dict[str, list[Sample]] = {mode: [] for mode in servers}
    walls = dict.fromkeys(servers, 0.0)
    for turn in range(rounds):
        order = list(servers) if turn % 2 == 0 else list(reversed(servers))
        for mode in order:
            workloads = [TextSearches(random.Random(1000 * turn + 100 * clients + i)) for i in range(clients)]
            found, wall = run_level(servers[mode].url, workloads, seconds / rounds)
            samples[mode] += found
            walls[mode] += wall
    return {mode: summarise(clients, samples[mode], walls[mode]) for mode in servers}


def level_line(mode: str, summary: Summary, rss: float) -> str:
    rate = summary.served / summary.wall
    errors = f"errors {summary.error_count} {dict(summary.errors)}" if summary.errors else "no errors"
    return (
        f"{mode:>7}, {summary.clients:>2} clients: {summary.served} searches answered in "
        f"{summary.wall:.1f} s = {rate:.1f}/s; p50 {summary.p50:.0f} ms, p95 {summary.p95:.0f} "
        f"ms, p99 {summary.p99:.0f} ms; {errors}; busy (503) {summary.busy}; server RSS {mib(rss)}; "
        f"load average {load_average()}"
    )


def batching_table(levels: list[int], results: dict[tuple[str, int], Summary]) -> None:
    """The table: per level and server, answered searches per second, p50 and p99 (over the
    answered ones) and ``503 busy`` answers, and the batched server's figures over each."""
    modes = list(dict.fromkeys(mode for mode, _ in results))
    print(
        "\n| clients | server | searches/s | p50 ms | p99 ms | 503 busy | batched searches/s over this "
        "| batched p99 over this |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for clients in levels:
        batched = results["batched", clients]
        for mode in modes:
            this = results[mode, clients]
            rate = this.served / this.wall
            print(
                f"| {clients} | {mode} | {rate:.1f} | {this.p50:.0f} | {this.p99:.0f} | {this.busy} | "
                f"x{batched.served / batched.wall / rate:.2f} | x{batched.p99 / this.p99:.2f} |"
            )
    top = max(levels)
    batched = results["batched", top]
    for mode in modes[:-1]:
        this = results[mode, top]
        ratio = (batched.served / batched.wall) / (this.served / this.wall)
        met = ratio >= 2 and batched.p99 <= this.p99 and batched.busy <= this.busy
        print(
            f"at {top} clients, batched against {mode}: x{ratio:.2f} the searches per second, p99 "
            f"{batched.p99:.0f} ms against {this.p99:.0f} ms, {batched.busy} against {this.busy} 503 busy "
            f"(goal: at least x2 at an equal or better p99: {'met' if met else 'NOT met'})"
        )


def start_servers(root: Path, store: Path, old: str | None) -> dict[str, Server]:
    """A server per mode, each over its own copy of the store (an embedded store is open in one
    process at a time); with ``old``, first the ``serve`` of that git commit (its ``src/``, checked
    out beside this one): the old lock itself."""
    servers: dict[str, Server] = {}
    if old:
        checkout = root / "old-checkout"
        repo = Path(__file__).resolve().parent.parent
        subprocess.run(["git", "worktree", "add", "--detach", str(checkout), old], cwd=repo, check=True)
        shutil.copytree(store, root / "old")
        env = {"PYTHONPATH": str(checkout / "src")}
        servers[f"old ({old})"] = Server(serve_command(root / "old", model=None), root / "old.log", env=env)
    for mode, max_batch in MODES.items():
        shutil.copytree(store, root / mode)
        command = [sys.executable, __file__, "--serve", str(root / mode), "--max-batch", str(max_batch)]
        servers[mode] = Server(command, root / f"{mode}.log")
    return servers


def run_batching(args: argparse.Namespace) -> int:
    """Text searches at each level of ``--clients``, against a server in each mode of :data:`MODES`
    (and the old code's, with ``--old``)."""
    levels = [int(c) for c in (args.clients or "1,8,32").split(",") if c.strip()]
    print_machine()
    CACHE.mkdir(exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results: dict[tuple[str, int], Summary] = {}
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="api-batching-", dir=CACHE) as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        store, model = vector_store(root, args.entries)
        print(f"store: {args.entries} random vectors as pictures, base-size SigLIP ({model}: ViT-B/16 at ")
        print(f"  224 px, random weights, float32); built in {time.perf_counter() - start:.1f} s")
        try:
            servers = start_servers(root, store, args.old)
            for mode, server in servers.items():
                ready = server.wait_ready()
                with httpx.Client(base_url=server.url, timeout=60.0) as client:
                    for n in range(5):  # the first searches load the tokenizer and warm the caches
                        client.get("/api/search", params={"q": f"warm-up {n}", "k": 10}).raise_for_status()
                print(f"server {mode}: {server.url}, ready after {ready:.1f} s")
            print(
                f"{args.seconds:g} s per level and server, in {args.rounds} rounds taking turns; one "
                "httpx.Client per client thread, k=10"
            )
            for clients in levels:
                for mode, summary in search_levels(servers, clients, args.seconds, args.rounds).items():
                    results[mode, clients] = summary
                    print(level_line(mode, summary, servers[mode].memory()))
        except RuntimeError as exc:
            print(f"FAILED: {exc}")
            return 1
        finally:
            for server in servers.values():
                server.stop()
            if args.old:
                repo = Path(__file__).resolve().parent.parent
                subprocess.run(["git", "worktree", "remove", "--force", str(root / "old-checkout")], cwd=repo)
    batching_table(levels, results)
    failed = any(s.error_count for s in results.values())
    print("FAILED: 5xx or connection errors (see above)" if failed else "no errors")
    return 1 if failed else 0


def serve_store(store_path: str, max_batch: int) -> None:
    """The server of one mode (run in the child process): the web app over the store, batching at
    most ``max_batch`` texts per forward pass; prints its URL once it listens."""
    from siglip_retriever.app.limits import Limits
    from siglip_retriever.app.server import serve

    store = MultimodalStore(store_path)
    serve(store, host="127.0.0.1", port=0, limits=Limits(max_batch=max_batch), on_started=print)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--batching",
        action="store_true",
        help="text searches on a base-size model, batched against one request at a time",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each level (20)")
    parser.add_argument("--clients", help="clients per level, comma-separated (8,32; --batching: 1,8,32)")
    parser.add_argument("--images", type=int, default=300, help="pictures in the store (300)")
    parser.add_argument("--entries", type=int, default=2000, help="--batching: vectors in the store (2000)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="--batching: rounds per level, the modes taking turns (4)"
    )
    parser.add_argument(
        "--old",
        metavar="COMMIT",
        help="--batching: also a server of this git commit's code (checked out beside), e.g. the last "
        "one with the lock around the model",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the child: serve this store
    parser.add_argument("--max-batch", type=int, default=32, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_store(args.serve, args.max_batch)
        return 0
    return run_batching(args) if args.batching else run_mix(args)


if __name__ == "__main__":
    sys.exit(main())
