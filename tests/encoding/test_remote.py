"""Images from URLs (encoding/remote.py), against a real HTTP server on 127.0.0.1 started by the tests."""

from __future__ import annotations

import http.client
import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.images import load_image
from siglip_retriever.encoding.remote import UrlPolicy, looks_like_url, redact
from siglip_retriever.errors import (
    ConfigurationError,
    ImageLoadError,
    InputTypeError,
    RemoteImageError,
    UrlNotAllowedError,
)
from tests.helpers import free_port


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(48 * 32 * 3, dtype=np.uint8).reshape(32, 48, 3), "RGB").save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()


class _Handler(BaseHTTPRequestHandler):
    """Routes that each misbehave in one way."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, headers={"Location": location})

    def do_GET(self) -> None:  # one route per case
        path = self.path.split("?", 1)[0]
        server = self.server
        server.requests.append(self.path)  # type: ignore[attr-defined]
        if path == "/good.png":
            self._send(200, PNG, {"Content-Type": "image/png"})
        elif path == "/untyped":
            self._send(200, PNG)
        elif path == "/octet":
            self._send(200, PNG, {"Content-Type": "application/octet-stream"})
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200, PNG, {"Content-Type": "image/png"})
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            for byte in PNG[:40]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        elif path == "/huge-declared":
            self._send(200, b"", {"Content-Type": "image/png", "Content-Length": str(10**9)})
        elif path == "/huge-streamed":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()  # no length: the client must count
            for _ in range(64):
                self.wfile.write(PNG + b"\0" * 4096)
            self.close_connection = True
        elif path == "/html":
            self._send(200, b"<html><body><img src='/good.png'></body></html>", {"Content-Type": "text/html"})
        elif path == "/not-an-image":
            self._send(200, b"plain text served as an image", {"Content-Type": "image/jpeg"})
        elif path == "/empty":
            self._send(200, b"", {"Content-Type": "image/png"})
        elif path == "/missing":
            self._send(404, b"not found", {"Content-Type": "text/plain"})
        elif path == "/loop-a":
            self._redirect("/loop-b")
        elif path == "/loop-b":
            self._redirect("/loop-a", 301)
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            self._redirect(f"/chain/{left - 1}" if left else "/good.png", 307)
        elif path == "/relative":
            self._redirect("good.png?token=secret")
        elif path == "/to-file":
            self._redirect("file:///etc/passwd")
        elif path == "/to-ftp":
            self._redirect("ftp://127.0.0.1/x.png")
        elif path == "/to-localhost":
            port = server.server_address[1]
            self._redirect(f"http://localhost:{port}/good.png")
        elif path == "/no-location":
            self._send(302)
        else:
            self._send(500)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, ThreadingHTTPServer]]:
    """An HTTP server on 127.0.0.1 with the routes above; stopped after the module."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False  # type: ignore[attr-defined]
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def base(server: tuple[str, ThreadingHTTPServer]) -> str:
    return server[0]


POLICY = UrlPolicy(read_timeout=0.3, total_timeout=5, max_bytes=100_000, max_redirects=3)


def test_urls_are_off_by_default(base: str) -> None:
    with pytest.raises(UrlNotAllowedError, match="allow_urls=True") as info:
        load_image(f"{base}/good.png")
    assert isinstance(info.value, ImageLoadError)
    assert info.value.source == f"{base}/good.png"


@pytest.mark.parametrize("route", ["/good.png", "/untyped", "/octet", "/relative", "/chain/2"])
def test_a_good_image_loads(base: str, route: str) -> None:
    image = load_image(base + route, allow_urls=POLICY)
    assert image.size == (48, 32)
    assert np.array_equal(np.asarray(image), np.asarray(Image.open(io.BytesIO(PNG)).convert("RGB")))


def test_allow_urls_true_uses_the_default_policy(base: str) -> None:
    assert load_image(f"{base}/good.png", allow_urls=True).size == (48, 32)


def test_slow_server_times_out(base: str) -> None:
    started = time.monotonic()
    with pytest.raises(RemoteImageError, match=r"sent nothing for 0.3s .*read_timeout"):
        load_image(f"{base}/slow", allow_urls=POLICY)
    assert time.monotonic() - started < 1.4


def test_dripping_server_hits_the_total_deadline(base: str) -> None:
    policy = UrlPolicy(read_timeout=1, total_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(RemoteImageError, match=r"longer than 0.5s .*total_timeout"):
        load_image(f"{base}/drip", allow_urls=policy)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("route", ["/huge-declared", "/huge-streamed"])
def test_byte_limit(base: str, route: str) -> None:
    with pytest.raises(RemoteImageError, match=r"over the limit of 100,000 bytes .*max_bytes"):
        load_image(base + route, allow_urls=POLICY)


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ("/html", "sent text/html, not an image; give the address of the image itself"),
        ("/not-an-image", "a text file, not an image"),
        ("/empty", "empty reply"),
        ("/missing", "HTTP 404 Not Found"),
        ("/no-location", "redirect without a Location"),
    ],
)
def test_bad_replies(base: str, route: str, reason: str) -> None:
    with pytest.raises(RemoteImageError if route != "/not-an-image" else ImageLoadError, match=reason):
        load_image(base + route, allow_urls=POLICY)


def test_redirect_loop_is_named(base: str) -> None:
    with pytest.raises(RemoteImageError, match="redirect loop"):
        load_image(f"{base}/loop-a", allow_urls=POLICY)


def test_too_many_redirects(base: str) -> None:
    with pytest.raises(RemoteImageError, match="more than 3 redirects"):
        load_image(f"{base}/chain/3", allow_urls=POLICY)  # 4 redirects
    with pytest.raises(RemoteImageError, match="more than 0 redirects"):
        load_image(f"{base}/relative", allow_urls=UrlPolicy(max_redirects=0))


@pytest.mark.parametrize(("route", "scheme"), [("/to-file", "file"), ("/to-ftp", "ftp")])
def test_redirect_to_another_scheme_is_refused(base: str, route: str, scheme: str) -> None:
    with pytest.raises(UrlNotAllowedError, match=rf"redirected to {scheme}://.*only http:// and https://"):
        load_image(base + route, allow_urls=POLICY)


def test_host_allow_list(server: tuple[str, ThreadingHTTPServer]) -> None:
    base, httpd = server
    before = len(httpd.requests)  # type: ignore[attr-defined]
    with pytest.raises(UrlNotAllowedError, match=r"host '127\.0\.0\.1' is not in the allowed hosts"):
        load_image(f"{base}/good.png", allow_urls=UrlPolicy(allowed_hosts=("images.example.com",)))
    assert len(httpd.requests) == before  # type: ignore[attr-defined]  # refused before connecting
    allowed = UrlPolicy(allowed_hosts=("127.0.0.1",))
    assert load_image(f"{base}/good.png", allow_urls=allowed).size == (48, 32)
    with pytest.raises(UrlNotAllowedError, match=r"redirected to .*host 'localhost' is not in the allowed"):
        load_image(f"{base}/to-localhost", allow_urls=allowed)


def test_other_schemes_and_malformed_urls() -> None:
    for url, match in [
        ("file:///etc/hostname", "not file://; for a local file pass its path"),
        ("ftp://127.0.0.1/x.png", "not ftp://"),
        ("http:///nohost.png", "no host"),
        ("http://127.0.0.1:99999/x.png", "malformed URL"),
    ]:
        with pytest.raises(RemoteImageError, match=match):
            load_image(url, allow_urls=True)


def test_closed_port_is_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(RemoteImageError, match=r"fetch failed .*check the URL and the server"):
        load_image(f"http://127.0.0.1:{port}/x.png", allow_urls=True)


def test_connect_timeout_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that never answers the TCP handshake (a black hole) cannot be reached from tests: the
    connect step is made to time out instead, to check what the user is told."""

    def connect(self: http.client.HTTPConnection) -> None:
        raise TimeoutError("timed out")

    monkeypatch.setattr(http.client.HTTPConnection, "connect", connect)
    with pytest.raises(RemoteImageError, match=r"no connection to 127.0.0.1 within 0.25s"):
        load_image("http://127.0.0.1:9/x.png", allow_urls=UrlPolicy(connect_timeout=0.25))


def test_query_strings_stay_out_of_messages(base: str) -> None:
    with pytest.raises(RemoteImageError) as info:
        load_image(f"{base}/missing?X-Amz-Signature=secret", allow_urls=POLICY)
    assert "secret" not in str(info.value)
    assert redact("https://user:pw@example.com:8443/a.png?token=1#x") == "https://example.com:8443/a.png"


def test_encoder_fetches_only_when_allowed(tiny_siglip_dir: Path, base: str) -> None:
    url = f"{base}/good.png"
    refusing = SiglipEncoder(tiny_siglip_dir, device="cpu")
    with pytest.raises(UrlNotAllowedError):
        refusing.encode_images([url])
    fetching = SiglipEncoder(
        tiny_siglip_dir, device="cpu", allow_urls=UrlPolicy(allowed_hosts=("127.0.0.1",))
    )
    vectors = fetching.encode_images([url, PNG])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)
    with pytest.raises(InputTypeError, match="allow_urls must be a bool or a UrlPolicy"):
        SiglipEncoder(tiny_siglip_dir, device="cpu", allow_urls="yes")  # type: ignore[arg-type]


def test_policy_validation_and_matching() -> None:
    with pytest.raises(ConfigurationError, match="read_timeout must be a positive number"):
        UrlPolicy(read_timeout=0)
    with pytest.raises(ConfigurationError, match="not one string"):
        UrlPolicy(allowed_hosts="example.com")  # type: ignore[arg-type]
    policy = UrlPolicy(allowed_hosts=("Example.COM", "*.cdn.example.org"))
    assert policy.allows_host("example.com")
    assert not policy.allows_host("sub.example.com")
    assert policy.allows_host("a.b.cdn.example.org") and policy.allows_host("cdn.example.org")
    assert not policy.allows_host("evilcdn.example.org")
    assert looks_like_url(" https://x") and looks_like_url("s3://bucket/key")
    assert not looks_like_url("photos/cat.jpg") and not looks_like_url("C:\\photos\\cat.jpg")
