"""The web app on a real uvicorn server on 127.0.0.1 (app/server.py): raw request paths, streamed uploads.

The ``serve`` command that starts it is tested in tests/cli/test_serve.py.
"""

from __future__ import annotations

import http.client
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import BackgroundServer, Limits, create_app
from siglip_retriever.app.server import allowed_hosts_for
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.helpers import colour_pictures

SECRET = "SERVER-SECRET-7"


@pytest.fixture(scope="module")
def served(
    tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("served")
    colour_pictures(root / "photos", ("red", "green", "blue"))
    (root / "secret.txt").write_text(SECRET)
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(root / "photos")
    app = create_app(store, limits=Limits(max_upload_bytes=64 * 1024))
    with BackgroundServer(app) as server:
        assert server.url.startswith("http://127.0.0.1:")
        yield server.url, root


def _raw_get(url: str, target: str) -> tuple[int, str, str]:
    """Send ``target`` exactly as written (no client-side normalisation of ``..``)."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", f"{host}:{port}")
        connection.endheaders()
        response = connection.getresponse()
        return (
            response.status,
            response.getheader("content-type") or "",
            response.read().decode(errors="replace"),
        )
    finally:
        connection.close()


def test_real_server_answers_on_loopback(served: tuple[str, Path]) -> None:
    url, _ = served
    health = httpx.get(url + "health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    hits = httpx.get(url + "api/search", params={"q": "un carré vert", "k": 2}, timeout=30).json()["hits"]
    assert len(hits) == 2
    thumb = httpx.get(url + hits[0]["thumbnail_url"].lstrip("/"), timeout=10)
    assert thumb.status_code == 200
    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    page = httpx.get(url, timeout=10)
    assert "SigLIP image search" in page.text


@pytest.mark.parametrize(
    "target",
    [
        "/api/images/../../../../../../etc/passwd",
        "/api/images/../../secret.txt",
        "/api/images/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/images/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/api/images/%2e%2e%2f%2e%2e%2fsecret.txt/thumbnail",
        "/api/images/%252e%252e%252fsecret.txt",
        "/api/images/..\\..\\secret.txt",
        "/api/images//etc/passwd",
        "/api/images/%2Fetc%2Fpasswd",
        "/static/../../../../../../etc/passwd",
        "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/../../../../etc/passwd",
        "//etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_raw_traversal_paths_fail_on_the_real_server(served: tuple[str, Path], target: str) -> None:
    url, root = served
    status, content_type, body = _raw_get(url, target)
    assert status in (400, 404), (target, status)
    assert "root:" not in body
    assert SECRET not in body
    if status == 404:
        assert content_type.startswith("application/json"), target
    absolute = "/api/images/" + str(root / "secret.txt")
    status, _, body = _raw_get(url, absolute)
    assert status == 404
    assert SECRET not in body


def test_streamed_upload_over_the_limit_is_413(served: tuple[str, Path]) -> None:
    url, _ = served

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts what arrives
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="image"; filename="big.png"\r\n\r\n'
        for _ in range(40):
            yield b"\x00" * 4096
        yield b"\r\n--xyz--\r\n"

    response = httpx.post(
        url + "api/similar",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=xyz"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "upload_too_large"
    declared = httpx.post(url + "api/similar", files={"image": ("big.bin", b"\x01" * 100_000)}, timeout=30)
    assert declared.status_code == 413
    assert declared.json()["limit"] == 64 * 1024


def test_upload_within_the_limit_works_on_the_real_server(served: tuple[str, Path]) -> None:
    url, root = served
    data = (root / "photos" / "red.png").read_bytes()
    response = httpx.post(url + "api/similar", files={"image": ("red.png", data, "image/png")}, timeout=30)
    assert response.status_code == 200
    assert response.json()["hits"][0]["name"] == "red.png"
    classified = httpx.post(
        url + "api/classify",
        files={"image": ("red.png", data, "image/png")},
        data={"labels": ["rouge", "vert"]},
        timeout=30,
    )
    assert classified.status_code == 200
    assert {e["label"] for e in classified.json()["labels"]} == {"rouge", "vert"}


def test_allowed_hosts_follow_the_bind_address() -> None:
    assert allowed_hosts_for("127.0.0.1") == ["127.0.0.1", "localhost", "::1"]
    assert allowed_hosts_for("0.0.0.0") == ["*"]
    assert allowed_hosts_for("::") == ["*"]
    assert allowed_hosts_for("10.0.0.5") == ["127.0.0.1", "localhost", "::1", "10.0.0.5"]


def test_background_server_stops(tiny_encoder: SiglipEncoder) -> None:
    server = BackgroundServer(create_app(MultimodalStore.in_memory(encoder=tiny_encoder))).start()
    url = server.url
    assert httpx.get(url + "health", timeout=10).status_code == 200
    server.stop()
    time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "health", timeout=2)
