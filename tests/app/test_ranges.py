"""Byte ranges of stored files (app/ranges.py, app/routes/images.py): ``206 Partial Content`` with the
right bytes for ``a-b``, ``a-`` and ``-n``, ``416`` past the end, the whole file for what is
ignored (several ranges, malformed, a stale ``If-Range``), ``HEAD``, ``304`` first; through
FastAPI's TestClient and through a real server on 127.0.0.1."""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import BackgroundServer, Limits, create_app
from siglip_retriever.app.middleware import RequestGuard
from siglip_retriever.app.ranges import FileAnswer
from siglip_retriever.encoding.encoder import SiglipEncoder

BASE = "http://127.0.0.1"


class Stored:
    """A store holding one large picture file (several of the response's chunks), and a client."""

    def __init__(self, encoder: SiglipEncoder, root: Path) -> None:
        folder = root / "photos"
        folder.mkdir()
        self.path = folder / "noise.png"
        pixels = np.random.default_rng(29).integers(0, 256, (300, 400, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(self.path)
        self.data = self.path.read_bytes()
        self.size = len(self.data)
        self.store = MultimodalStore.in_memory(encoder=encoder)
        self.store.index_folder(folder)
        ((self.id, _),) = list(self.store.iter_metadata({"kind": "image"}))
        self.app = create_app(self.store, limits=Limits())
        self.client = TestClient(self.app, base_url=BASE)
        self.url = f"/api/images/{self.id}/file"


@pytest.fixture(scope="module")
def stored(tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory) -> Stored:
    return Stored(tiny_encoder, tmp_path_factory.mktemp("ranges"))


def _partial(response: httpx.Response, first: int, last: int, stored: Stored) -> None:
    assert response.status_code == 206, response.text
    assert response.headers["content-range"] == f"bytes {first}-{last}/{stored.size}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "image/png"
    assert response.content == stored.data[first : last + 1]


def _whole(response: httpx.Response, stored: Stored) -> None:
    assert response.status_code == 200, response.text
    assert "content-range" not in response.headers
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == stored.data


def test_the_file_is_large_enough_to_span_chunks(stored: Stored) -> None:
    assert stored.size > 3 * FileAnswer.chunk_size


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-200000", 1000, 200000),  # across several chunks
        ("bytes=70000-", 70000, None),  # to the end
        ("bytes=-500", None, None),  # the last 500 bytes
        ("bytes=5-99999999", 5, None),  # an end past the file is cut to it
        ("bytes=-99999999", 0, None),  # a suffix longer than the file: all of it
        ("BYTES = 10 - 20", 10, 20),  # the unit in any case, spaces around
    ],
)
def test_one_range_is_206_with_its_bytes(
    stored: Stored, header: str, first: int | None, last: int | None
) -> None:
    end = stored.size - 1
    first = stored.size - 500 if first is None else first
    last = end if last is None else last
    response = stored.client.get(stored.url, headers={"range": header})
    _partial(response, first, last, stored)
    assert response.headers["etag"] == stored.client.get(stored.url).headers["etag"]
    assert "inline" in response.headers["content-disposition"]


def test_the_picture_route_serves_ranges_of_a_picture_file(stored: Stored) -> None:
    _partial(stored.client.get(f"/api/images/{stored.id}", headers={"range": "bytes=8-15"}), 8, 15, stored)


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0", "bytes={size}-", "bytes={size}-{size}"])
def test_a_range_past_the_end_is_416(stored: Stored, header: str) -> None:
    response = stored.client.get(stored.url, headers={"range": header.format(size=stored.size)})
    assert response.status_code == 416, response.text
    assert response.headers["content-range"] == f"bytes */{stored.size}"
    assert response.json()["error"] == "range_not_satisfiable"
    assert str(stored.size) in response.json()["message"]


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-9,20-29",  # several ranges: the whole file, as RFC 9110 allows
        "bytes=0-9, 5-",
        "bytes=20-10",  # last before first: malformed
        "bytes=abc-def",
        "bytes=-",
        "bytes=",
        "items=0-9",  # another unit
        "0-9",
        "bytes=0-9;x",
        "bytes=" + "9" * 40 + "-",  # a number too long to read
    ],
)
def test_what_is_ignored_gets_the_whole_file(stored: Stored, header: str) -> None:
    _whole(stored.client.get(stored.url, headers={"range": header}), stored)


def test_if_range_names_the_version_the_range_is_of(stored: Stored) -> None:
    first = stored.client.get(stored.url)
    etag = first.headers["etag"]
    modified = formatdate(os.stat(stored.path).st_mtime, usegmt=True)
    assert first.headers["last-modified"] == modified
    for same in (etag, modified):
        _partial(
            stored.client.get(stored.url, headers={"range": "bytes=3-9", "if-range": same}), 3, 9, stored
        )
    stale = ['"another-version"', f"W/{etag}", "Mon, 01 Jan 2001 00:00:00 GMT"]
    for other in stale:
        _whole(stored.client.get(stored.url, headers={"range": "bytes=3-9", "if-range": other}), stored)
    # a stale If-Range and a range past the end: the whole file, not 416
    _whole(stored.client.get(stored.url, headers={"range": "bytes=99999999-", "if-range": stale[0]}), stored)


def test_if_none_match_is_answered_before_the_range(stored: Stored) -> None:
    etag = stored.client.get(stored.url).headers["etag"]
    response = stored.client.get(stored.url, headers={"range": "bytes=0-9", "if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_head_has_the_headers_of_get_and_no_body(stored: Stored) -> None:
    whole = stored.client.head(stored.url)
    assert whole.status_code == 200
    assert whole.headers["content-length"] == str(stored.size)
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.content == b""
    part = stored.client.head(stored.url, headers={"range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-19/{stored.size}"
    assert part.headers["content-length"] == "10"
    assert part.content == b""
    past = stored.client.head(stored.url, headers={"range": "bytes=99999999-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{stored.size}"


def test_head_reads_nothing_of_the_file(tmp_path: Path) -> None:
    """The guard passes a HEAD on as GET; the file's answer still reads nothing: here the file is
    gone after its stat, and HEAD answers from the stat alone while GET cannot."""
    path = tmp_path / "gone.bin"
    path.write_bytes(b"x" * 1000)
    stat = os.stat(path)
    path.unlink()
    app = FastAPI()
    app.get("/f")(lambda: FileAnswer(path, part=None, stat_result=stat, media_type="video/mp4"))
    app.get("/p")(lambda: FileAnswer(path, part=(0, 99), stat_result=stat, media_type="video/mp4"))
    guarded = RequestGuard(app, limits=Limits(), allowed_hosts=["127.0.0.1"])
    client = TestClient(guarded, base_url=BASE)  # an error reading the file would raise here
    head = client.head("/f")
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "1000", b"")
    partial = client.head("/p")
    assert (partial.status_code, partial.headers["content-range"]) == (206, "bytes 0-99/1000")
    with pytest.raises(FileNotFoundError):
        client.get("/f")


def test_a_real_server_streams_ranges(stored: Stored) -> None:
    """Over HTTP through uvicorn, as a browser asks while it seeks."""
    with BackgroundServer(stored.app) as server:
        url = server.url.rstrip("/") + stored.url
        with httpx.Client(timeout=10) as client:
            _partial(client.get(url, headers={"range": "bytes=65530-131080"}), 65530, 131080, stored)
            _partial(
                client.get(url, headers={"range": "bytes=-70000"}),
                stored.size - 70000,
                stored.size - 1,
                stored,
            )
            _whole(client.get(url, headers={"range": "bytes=0-1,4-5"}), stored)
            assert client.get(url, headers={"range": f"bytes={stored.size}-"}).status_code == 416
            head = client.head(url, headers={"range": "bytes=0-99"})
            assert (head.status_code, head.headers["content-length"], head.content) == (206, "100", b"")
