"""The web app's REST API (app/api.py, app/routes/) through FastAPI's TestClient: every route, every
limit, path traversal."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import Limits, create_app
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.search.options import option_specs
from tests.helpers import png_bytes

SECRET = "TOP-SECRET-CONTENT-42"
BASE = "http://127.0.0.1"


def _png(size: tuple[int, int] = (40, 40), colour: str | tuple[int, int, int] = "red") -> bytes:
    return png_bytes(Image.new("RGB", size, colour))


def _photos(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    paths = {}
    for name in ("red", "green", "blue", "yellow"):
        pixels = np.clip(
            np.array(Image.new("RGB", (48, 40), name)).astype(int) + rng.integers(-30, 30, (40, 48, 3)),
            0,
            255,
        ).astype(np.uint8)
        paths[name] = folder / f"{name}.png"
        Image.fromarray(pixels).save(paths[name])
    paths["photo"] = folder / "photo.jpg"
    Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(paths["photo"], quality=90)
    return paths


class Env:
    """A store with pictures on disk, a secret file beside them, and a client of the app."""

    def __init__(self, encoder: SiglipEncoder, root: Path, limits: Limits | None = None) -> None:
        self.root = root
        self.paths = _photos(root / "photos")
        self.secret = root / "secret.txt"
        self.secret.write_text(SECRET)
        self.store = MultimodalStore.in_memory(encoder=encoder)
        self.store.index_folder(root / "photos")
        by_uri = {meta.get("uri"): item_id for item_id, meta in self.store.iter_metadata({"kind": "image"})}
        self.ids = {name: by_uri[str(path.resolve())] for name, path in self.paths.items()}
        (self.no_file_id,) = self.store.add_images([Image.new("RGB", (20, 20), "purple")])
        (self.text_id,) = self.store.add_texts(["a red square"])
        self.app = create_app(self.store, limits=limits)
        self.client = TestClient(self.app, base_url=BASE)


@pytest.fixture(scope="module")
def env(tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env(tiny_encoder, tmp_path_factory.mktemp("app"))


def _error(response: object, status: int, code: str) -> dict[str, object]:
    assert getattr(response, "status_code") == status, getattr(response, "text")  # noqa: B009
    assert getattr(response, "headers")["content-type"].startswith("application/json")  # noqa: B009
    body: dict[str, object] = getattr(response, "json")()  # noqa: B009
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


# -- service routes and the page ------------------------------------------------------------------


def test_health_and_info(env: Env) -> None:
    health = env.client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["model"] == env.store.model_name
    info = env.client.get("/api/info").json()
    assert info["images"] == 6
    assert info["texts"] == 1
    assert info["score_kind"] == "sigmoid"
    assert info["limits"] == Limits().to_dict()


def test_page_static_files_and_security_headers(env: Env) -> None:
    page = env.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for needle in ('id="query"', 'id="results"', 'id="tab-classify"', "static/app.js", "static/style.css"):
        assert needle in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    script = env.client.get("/static/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "api/search" in script.text
    assert "innerHTML" not in script.text  # results are built with textContent only
    css = env.client.get("/static/style.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]


def test_openapi_documents_every_route(env: Env) -> None:
    schema = env.client.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) >= {
        "/health",
        "/api/info",
        "/api/search",
        "/api/similar",
        "/api/classify",
        "/api/images/{image_id}",
        "/api/images/{image_id}/thumbnail",
        "/api/images/{image_id}/file",
        "/api/images/{image_id}/similar",
    }
    assert {p["name"] for p in paths["/api/search"]["get"]["parameters"]} == {
        "q",
        *(spec.name for spec in option_specs()),  # every search option, under its own name
    }
    assert "413" in paths["/api/similar"]["post"]["responses"]
    assert env.client.get("/docs").status_code == 200


def test_unknown_routes_and_methods_are_json_errors(env: Env) -> None:
    _error(env.client.get("/api/nothing"), 404, "not_found")
    _error(env.client.delete("/api/search"), 405, "method_not_allowed")


def test_host_header_must_name_this_machine(env: Env) -> None:
    _error(env.client.get("/health", headers={"host": "evil.example"}), 400, "invalid_host")
    _error(env.client.get("/api/search?q=x", headers={"host": "attacker.test:8765"}), 400, "invalid_host")
    assert env.client.get("/health", headers={"host": "localhost:8765"}).status_code == 200
    assert env.client.get("/health", headers={"host": "[::1]:8765"}).status_code == 200
    anywhere = TestClient(create_app(env.store, allowed_hosts=["*"]), base_url="http://photos.lan")
    assert anywhere.get("/health").status_code == 200


# -- text search ----------------------------------------------------------------------------------


def test_search_returns_hits_with_probabilities_and_urls(env: Env) -> None:
    response = env.client.get("/api/search", params={"q": "un cercle rouge", "k": 3})
    assert response.status_code == 200
    data = response.json()
    assert data["query"] == "un cercle rouge"
    assert data["score_kind"] == "sigmoid"
    assert data["model"] == env.store.model_name
    hits = data["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3]
    probabilities = [h["probability"] for h in hits]
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert probabilities == sorted(probabilities, reverse=True)
    with_file = [h for h in hits if h["name"]]
    assert with_file
    for hit in with_file:
        assert hit["image_url"] == f"/api/images/{hit['id']}"
        assert hit["thumbnail_url"] == f"/api/images/{hit['id']}/thumbnail"
        assert "uri" not in hit
        assert "uri" not in hit["metadata"] and "paths" not in hit["metadata"]
        assert hit["names"] and hit["names"][0] == hit["name"]
    assert str(env.root) not in response.text  # file paths are never disclosed


def test_search_in_any_language_and_threshold(env: Env) -> None:
    for query in ("红色的圆", "ein roter Kreis", "красный круг"):
        assert len(env.client.get("/api/search", params={"q": query, "k": 2}).json()["hits"]) == 2
    nothing = env.client.get("/api/search", params={"q": "a red circle", "min_probability": 1.0})
    assert nothing.status_code == 200
    assert nothing.json()["hits"] == []
    wrong = env.client.get("/api/search", params={"q": "x", "min_similarity": 0.5})
    assert "min_similarity applies to image-image" in _error(wrong, 422, "invalid_request")["message"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"q": "x", "k": 101}, 422, "k_too_large"),
        ({"q": "x", "k": 0}, 422, "invalid_request"),
        ({"q": "x", "k": "many"}, 422, "invalid_request"),
        ({"q": "x" * 501}, 422, "query_too_long"),
        ({"q": "   "}, 422, "empty_query"),
        ({"q": ""}, 422, "empty_query"),
        ({}, 422, "invalid_request"),
        ({"q": "x", "min_probability": 1.5}, 422, "invalid_request"),
        ({"q": "x", "min_probability": "high"}, 422, "invalid_request"),
    ],
)
def test_search_limits_are_clear_errors(env: Env, params: dict[str, object], status: int, code: str) -> None:
    body = _error(env.client.get("/api/search", params=params), status, code)
    if code == "k_too_large":
        assert body["limit"] == 100
        assert "100" in str(body["message"])
    if code == "query_too_long":
        assert body["limit"] == 500


def test_limits_are_configurable(env: Env) -> None:
    client = TestClient(create_app(env.store, limits=Limits(max_k=2, max_query_chars=5)), base_url=BASE)
    assert len(client.get("/api/search", params={"q": "rouge", "k": 2}).json()["hits"]) == 2
    assert _error(client.get("/api/search", params={"q": "x", "k": 3}), 422, "k_too_large")["limit"] == 2
    _error(client.get("/api/search", params={"q": "rouges"}), 422, "query_too_long")
    with pytest.raises(ConfigurationError, match="max_k"):
        Limits(max_k=0)
    with pytest.raises(ConfigurationError, match="thumbnail_size"):
        Limits(thumbnail_size=5000)


# -- search by image ------------------------------------------------------------------------------


def test_similar_to_an_upload_finds_the_same_picture_first(env: Env) -> None:
    data = env.paths["blue"].read_bytes()
    response = env.client.post(
        "/api/similar", params={"k": 3}, files={"image": ("mine.png", data, "image/png")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["score_kind"] == "cosine"
    assert body["query"] == "mine.png"
    assert len(body["hits"]) == 3
    first = body["hits"][0]
    assert first["id"] == env.ids["blue"]
    assert first["name"] == "blue.png"
    assert first["similarity"] == pytest.approx(1.0, abs=1e-4)
    assert all(h["probability"] is None for h in body["hits"])


def test_similar_to_a_stored_picture_leaves_it_out(env: Env) -> None:
    response = env.client.get(f"/api/images/{env.ids['red']}/similar", params={"k": 4})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert len(hits) == 4
    assert env.ids["red"] not in [h["id"] for h in hits]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4]
    similarities = [h["similarity"] for h in hits]
    assert similarities == sorted(similarities, reverse=True)
    strict = env.client.get(f"/api/images/{env.ids['red']}/similar", params={"min_similarity": 1.0})
    assert strict.json()["hits"] == []
    _error(env.client.get(f"/api/images/{env.ids['red']}/similar", params={"k": 500}), 422, "k_too_large")
    _error(env.client.get("/api/images/img-0000/similar"), 404, "not_found")
    _error(env.client.get(f"/api/images/{env.text_id}/similar"), 404, "not_found")


def _truncated_png() -> bytes:
    data = _png((200, 200), (10, 20, 30))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("name", "payload", "code"),
    [
        ("empty.png", b"", "invalid_image"),
        ("notes.png", b"this is a text file, not a picture", "invalid_image"),
        ("script.jpg", b"<script>alert(1)</script>", "invalid_image"),
        ("truncated.png", _truncated_png(), "invalid_image"),
        ("header-only.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20, "invalid_image"),
    ],
)
def test_broken_uploads_are_422(env: Env, name: str, payload: bytes, code: str) -> None:
    for route, extra in (("/api/similar", {}), ("/api/classify", {"labels": "cat, dog"})):
        response = env.client.post(route, files={"image": (name, payload, "image/png")}, data=extra)
        body = _error(response, 422, code)
        assert name in str(body["message"])


def test_missing_upload_is_422(env: Env) -> None:
    _error(env.client.post("/api/similar"), 422, "missing_image")
    _error(env.client.post("/api/classify", files={"labels": (None, "cat")}), 422, "missing_image")


def test_an_upload_that_is_not_multipart_is_415(env: Env) -> None:
    for route in ("/api/similar", "/api/classify"):
        body = _error(env.client.post(route, data={"labels": "cat"}), 415, "unsupported_media_type")
        assert "multipart/form-data" in str(body["message"])
        body = _error(env.client.post(route, json={"image": "x"}), 415, "unsupported_media_type")
        assert "application/json" in str(body["message"])


def test_oversized_upload_is_413_before_decoding(env: Env) -> None:
    client = TestClient(create_app(env.store, limits=Limits(max_upload_bytes=20_000)), base_url=BASE)
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    big = png_bytes(Image.fromarray(noise))
    assert len(big) > 20_000
    for route in ("/api/similar", "/api/classify"):
        response = client.post(route, files={"image": ("big.png", big, "image/png")})
        body = _error(response, 413, "upload_too_large")
        assert body["limit"] == 20_000
        assert "19.5 KiB" in str(body["message"])
    small = client.post("/api/similar", files={"image": ("small.png", _png(), "image/png")})
    assert small.status_code == 200


def test_too_many_pixels_is_413(env: Env) -> None:
    client = TestClient(create_app(env.store, limits=Limits(max_pixels=100_000)), base_url=BASE)
    huge = _png((1000, 1000), "white")  # compresses to a few kB: only the pixel count is too large
    assert len(huge) < 20_000
    for route in ("/api/similar", "/api/classify"):
        response = client.post(route, files={"image": ("huge.png", huge, "image/png")}, data={"labels": "x"})
        body = _error(response, 413, "too_many_pixels")
        assert body["limit"] == 100_000
        assert "1000x1000" in str(body["message"])
    assert client.post("/api/similar", files={"image": ("ok.png", _png((300, 300)))}).status_code == 200


def test_decompression_bomb_header_is_413(env: Env) -> None:
    # a PNG header claiming 100000 x 100000 pixels, far above Pillow's own bomb threshold
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
    response = env.client.post("/api/similar", files={"image": ("bomb.png", bomb, "image/png")})
    _error(response, 413, "too_many_pixels")


# -- zero-shot ------------------------------------------------------------------------------------


def test_classify_gives_every_label_a_probability(env: Env) -> None:
    response = env.client.post(
        "/api/classify",
        files={"image": ("red.png", env.paths["red"].read_bytes(), "image/png")},
        data={"labels": ["un cercle rouge", "a blue square", "一个绿色的三角形"], "template": "{}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["image"] == "red.png"
    assert body["score_kind"] == "sigmoid"
    assert body["templates"] == ["{}"]
    assert {e["label"] for e in body["labels"]} == {"un cercle rouge", "a blue square", "一个绿色的三角形"}
    probabilities = [e["probability"] for e in body["labels"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert body["top"] == body["labels"][0]["label"]
    repeated = env.client.post(
        "/api/classify",
        files={"image": ("red.png", env.paths["red"].read_bytes(), "image/png")},
        data={"labels": ["cat", "dog", " cat "]},
    )
    assert repeated.status_code == 200
    assert [e["label"] for e in repeated.json()["labels"]] in (
        ["cat", "dog"],
        ["dog", "cat"],
    )  # stripped, once
    assert repeated.json()["templates"] == ["a photo of {}."]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"labels": [f"label {i}" for i in range(51)]}, "too_many_labels"),
        ({"labels": "x" * 201}, "label_too_long"),
        ({"labels": "cat", "template": "a photo of " + "x" * 200 + " {}"}, "label_too_long"),
        ({"labels": ["cat", " \n\u3000"]}, "invalid_request"),
        ({}, "invalid_request"),
        ({"labels": "cat", "template": "no placeholder"}, "invalid_template"),
    ],
)
def test_classify_limits_are_clear_errors(env: Env, data: dict[str, object], code: str) -> None:
    response = env.client.post("/api/classify", files={"image": ("a.png", _png(), "image/png")}, data=data)
    _error(response, 422, code)


# -- serving stored pictures ----------------------------------------------------------------------


def test_image_route_serves_the_stored_file(env: Env) -> None:
    for name in ("red", "photo"):
        for suffix in ("", "/file"):  # a picture's file is the picture
            response = env.client.get(f"/api/images/{env.ids[name]}{suffix}")
            assert response.status_code == 200
            assert response.content == env.paths[name].read_bytes()
            assert response.headers["content-type"] == ("image/png" if name == "red" else "image/jpeg")
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "inline" in response.headers["content-disposition"]
            assert "object-src 'none'" in response.headers["content-security-policy"]


def test_thumbnail_is_small_cached_and_revalidated(env: Env) -> None:
    url = f"/api/images/{env.ids['photo']}/thumbnail"
    response = env.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert "max-age" in response.headers["cache-control"]
    etag = response.headers["etag"]
    thumb = Image.open(io.BytesIO(response.content))
    assert thumb.format == "JPEG"
    assert max(thumb.size) == 256
    assert thumb.size == (256, 192)
    assert len(response.content) < env.paths["photo"].stat().st_size
    assert env.client.get(url).headers["etag"] == etag
    not_modified = env.client.get(url, headers={"if-none-match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    small = Image.open(io.BytesIO(env.client.get(f"/api/images/{env.ids['red']}/thumbnail").content))
    assert small.size == (48, 40)  # small pictures are not enlarged
    assert len(env.app.state.thumbnails) >= 2


def test_entries_without_a_servable_file_are_404(env: Env) -> None:
    for image_id in (env.no_file_id, env.text_id, "img-" + "0" * 32, "x" * 600):
        for suffix in ("", "/thumbnail", "/file"):
            _error(env.client.get(f"/api/images/{image_id}{suffix}"), 404, "not_found")


def test_a_file_gone_or_replaced_since_indexing_is_not_served(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    local = Env(tiny_encoder, tmp_path)
    local.paths["green"].unlink()
    for suffix in ("", "/thumbnail", "/file", "/similar"):
        response = local.client.get(f"/api/images/{local.ids['green']}{suffix}")
        if suffix == "/similar":  # the stored vector still answers
            assert response.status_code == 200
        else:
            assert "gone" in str(_error(response, 404, "not_found")["message"])
    local.paths["yellow"].write_text(SECRET)  # the path now holds something else, not a picture
    for suffix in ("", "/thumbnail", "/file"):
        response = local.client.get(f"/api/images/{local.ids['yellow']}{suffix}")
        _error(response, 404, "not_found")
        assert SECRET not in response.text


def _traversal_paths(env: Env) -> list[str]:
    secret = str(env.secret)
    indexed = str(env.paths["red"].resolve())
    relative = "../secret.txt"
    attempts = [
        "../../../../etc/passwd",
        relative,
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "..%2fsecret.txt",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%2E%2E/%2E%2E/etc/passwd",
        "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "..%5C..%5Csecret.txt",
        "..\\..\\secret.txt",
        "%c0%ae%c0%ae%2fsecret.txt",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        quote(secret, safe=""),
        quote(indexed, safe=""),
        quote(secret, safe="/"),
        "C:%5CWindows%5Cwin.ini",
        "file%3A%2F%2F%2Fetc%2Fpasswd",
        f"{env.ids['red']}%2F..%2F..%2Fsecret.txt",
        f"{env.ids['red']}/../../secret.txt",
        "%00",
        "secret.txt%00.png",
    ]
    return [f"/api/images/{a}{s}" for a in attempts for s in ("", "/thumbnail", "/file")] + [
        "/static/../secret.txt",
        "/static/..%2F..%2F..%2Fsecret.txt",
        "/static/%2e%2e/%2e%2e/api.py",
        "/static/..%2Fapi.py",
        "/static/" + quote(secret, safe=""),
        "/" + quote(secret, safe=""),
    ]


def test_path_traversal_attempts_all_fail(env: Env) -> None:
    attempts = _traversal_paths(env)
    assert len(attempts) > 40
    for path in attempts:
        response = env.client.get(path)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert response.headers["content-type"].startswith("application/json"), path
        assert SECRET not in response.text, path
        assert "root:" not in response.text, path
        assert "def create_app" not in response.text, path
    # the real picture is reachable by id, and only by id
    assert env.client.get(f"/api/images/{env.ids['red']}").status_code == 200


def test_error_bodies_never_echo_file_paths(env: Env) -> None:
    response = env.client.get(f"/api/images/{quote(str(env.secret), safe='')}")
    body = json.dumps(response.json())
    assert str(env.root) not in body
