"""The web app's transport on a real uvicorn server on 127.0.0.1 (issue 19): exact Host forms, HEAD
and 405 on the wire, stalled bodies and idle connections dropped without holding other clients up,
and concurrent large uploads within a memory bound (the server in a child process).
"""

from __future__ import annotations

import concurrent.futures
import http.client
import io
import select
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import BackgroundServer, Limits, create_app
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.helpers import colour_pictures


@pytest.fixture(scope="module")
def server(
    tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int, str]]:
    """A server with short body and keep-alive limits: its host, port, and a stored picture's id."""
    root = tmp_path_factory.mktemp("transport")
    colour_pictures(root / "photos", ("red", "green"))
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(root / "photos")
    limits = Limits(body_timeout_seconds=3, keep_alive_seconds=1)
    with BackgroundServer(create_app(store, limits=limits)) as running:
        yield running.host, running.port, store.get()[0].id


def _request(
    host: str, port: int, method: str, target: str, headers: dict[str, str]
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes ``sock`` (reading and discarding what it sends), or ``None``."""
    sock.settimeout(seconds)
    started = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("localhost", 200),
        ("LOCALHOST.:{port}", 200),
        ("[::1]:{port}", 200),
        ("127.0.0.1:{port}@evil.example", 400),
        ("localhost:{port}/evil", 400),
        ("127.0.0.1:abc", 400),
        ("127.0.0.1:{port}:{port}", 400),
        ("evil.example#@127.0.0.1", 400),
        ("127.0.0.1 evil.example", 400),
        ("::1", 400),
        ("", 400),
    ],
)
def test_only_exact_host_names_pass(server: tuple[str, int, str], host: str, status: int) -> None:
    address, port, _ = server
    response = _request(address, port, "GET", "/health", {"Host": host.format(port=port)})
    assert response.status == status, host


def test_head_and_405_on_the_wire(server: tuple[str, int, str]) -> None:
    address, port, image_id = server
    base = f"http://{address}:{port}"
    for path in (
        "/health",
        f"/api/images/{image_id}",
        f"/api/images/{image_id}/thumbnail",
        "/static/style.css",
    ):
        got, head = httpx.get(base + path), httpx.head(base + path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-length"] == got.headers["content-length"]
        assert head.headers.get("etag") == got.headers.get("etag")
    for method, path, allow in [("PUT", "/health", "GET, HEAD"), ("GET", "/api/classify", "POST")]:
        refused = httpx.request(method, base + path)
        assert refused.status_code == 405 and refused.headers["allow"] == allow
        assert refused.json()["error"] == "method_not_allowed"


def test_a_stalled_body_is_dropped_without_holding_up_others(server: tuple[str, int, str]) -> None:
    address, port, _ = server
    stalled = socket.create_connection((address, port))
    head = f"POST /api/similar HTTP/1.1\r\nHost: {address}:{port}\r\nContent-Length: 100000\r\n"
    stalled.sendall(f"{head}Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n".encode())
    started = time.monotonic()
    for _ in range(5):  # others are answered while the upload stalls
        assert httpx.get(f"http://{address}:{port}/health").status_code == 200
    waiting, _, _ = select.select([stalled], [], [], 0)
    assert not waiting, "the stalled upload was answered before the others"
    stalled.settimeout(10)
    answer = stalled.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 408"), answer
    assert "request_timeout" in answer and "connection: close" in answer.lower()
    assert _closed_within(stalled, 5) is not None
    assert time.monotonic() - started < 10  # the 3 s set here, and some slack
    stalled.close()


def test_idle_connections_are_closed(server: tuple[str, int, str]) -> None:
    address, port, _ = server
    silent = socket.create_connection((address, port))  # never says anything
    assert _closed_within(silent, 10) is not None
    trickling = socket.create_connection((address, port))  # a request head one byte at a time
    trickling.settimeout(10)
    started = time.monotonic()
    try:
        for byte in b"GET /health HTTP/1.1\r\nX-Slow: " + b"x" * 100:
            trickling.sendall(bytes([byte]))
            time.sleep(0.1)
            if time.monotonic() - started > 5:
                break
    except OSError:  # closed while still sending: what should happen
        pass
    assert _closed_within(trickling, 10) is not None
    assert time.monotonic() - started < 8
    kept = socket.create_connection((address, port))
    kept.sendall(f"GET /health HTTP/1.1\r\nHost: {address}:{port}\r\n\r\n".encode())
    assert kept.recv(65536).startswith(b"HTTP/1.1 200")
    assert _closed_within(kept, 10) is not None  # idle past its keep-alive after the answer
    for sock in (silent, trickling, kept):
        sock.close()


_SERVER = textwrap.dedent(
    """
    import sys, time
    from siglip_retriever import MultimodalStore
    from siglip_retriever.app import Limits, create_app
    from siglip_retriever.app.server import BackgroundServer
    store = MultimodalStore.in_memory(model=sys.argv[1])
    store.add_images([sys.argv[2]])
    server = BackgroundServer(create_app(store)).start()  # the default decoding slots: 1 to 4
    print(server.port, flush=True)
    while True:
        time.sleep(1)
    """
)


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc (Linux)")
def test_four_concurrent_49_megapixel_uploads_stay_under_a_gigabyte(
    tiny_siglip_dir: Path, tmp_path: Path
) -> None:
    upload = io.BytesIO()
    Image.new("RGB", (7000, 7000), (200, 30, 30)).save(upload, format="PNG")  # 49 MP, 143 KB
    small = tmp_path / "red.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(small)
    child = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(tiny_siglip_dir), str(small)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        url = f"http://127.0.0.1:{port}/api/similar"
        files = {"image": ("big.png", upload.getvalue(), "image/png")}
        assert (
            httpx.post(url, files={"image": ("red.png", small.read_bytes())}, timeout=60).status_code == 200
        )
        before = _peak_mib(child.pid)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: httpx.post(url, files=files, timeout=120), range(4)))
        rise = _peak_mib(child.pid) - before
        print(f"peak memory before {before:.0f} MiB, rise with 4 concurrent 49 MP uploads {rise:.0f} MiB")
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        assert rise < 1024
    finally:
        child.terminate()
        child.wait(timeout=30)
