"""The OpenAI-compatible embeddings API (app/routes/openai.py) against real clients, on a real server.

A uvicorn server on 127.0.0.1 (started and stopped here) answers OpenAI's Python client and
LangChain's ``OpenAIEmbeddings`` with the vectors the library gives in-process
(``SiglipEncoder``, ``SiglipEmbeddings``), for texts and pictures sent as data URIs; its errors
have OpenAI's shape while the other routes keep theirs.
"""

from __future__ import annotations

import base64
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from langchain_openai import OpenAIEmbeddings
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import BackgroundServer, Limits, create_app
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.integrations.langchain import SiglipEmbeddings
from tests.helpers import assert_close, noisy_gradient, photo_like, png_bytes

TEXTS = ["a red circle", "un carré bleu", "ein grünes Dreieck", "红色的圆", "", "a " * 200]
"""Texts in several languages and scripts, an empty one, and one longer than the model reads."""
LIMITS = Limits(max_inputs=8, max_pixels=200_000, max_upload_bytes=256 * 1024)


def jpeg_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def data_uri(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


@pytest.fixture(scope="module")
def pictures() -> list[bytes]:
    """A photo-like JPEG, a noisy PNG and a small PNG: what clients send as data URIs."""
    return [
        jpeg_bytes(photo_like(3, (320, 240))),
        png_bytes(noisy_gradient(96, 64, seed=1)),
        png_bytes(Image.new("RGB", (24, 40), "teal")),
    ]


@pytest.fixture(scope="module")
def server(tiny_encoder: SiglipEncoder) -> Iterator[str]:
    """The base URL of a real server over an empty store of the tiny model (``.../v1``)."""
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    with BackgroundServer(create_app(store, limits=LIMITS)) as running:
        yield running.url + "v1"


@pytest.fixture(scope="module")
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server, api_key="unused", max_retries=0, timeout=60)


def test_the_openai_client_gets_the_encoders_text_vectors(
    client: openai.OpenAI, tiny_encoder: SiglipEncoder
) -> None:
    answer = client.embeddings.create(model="siglip", input=TEXTS)  # base64 on the wire, the client's default
    assert [item.index for item in answer.data] == list(range(len(TEXTS)))
    assert_close([item.embedding for item in answer.data], tiny_encoder.encode_texts(TEXTS), atol=1e-5)
    assert answer.model == tiny_encoder.preset.reference  # the model's name, not the alias
    tokens = tiny_encoder.count_tokens(TEXTS)
    assert tokens[-1] == tiny_encoder.text_length  # the long text is read up to the model's length
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == sum(tokens)


def test_the_openai_client_gets_the_encoders_image_vectors(
    client: openai.OpenAI, tiny_encoder: SiglipEncoder, pictures: list[bytes]
) -> None:
    uris = [data_uri(pictures[0], "image/jpeg"), data_uri(pictures[1], "image/png")]
    mixed = [uris[0], "a red circle", uris[1], data_uri(pictures[2], "image/png")]
    answer = client.embeddings.create(model="siglip", input=mixed, encoding_format="float")
    expected = [*tiny_encoder.encode_images(pictures[:1]), *tiny_encoder.encode_texts(["a red circle"])]
    expected += list(tiny_encoder.encode_images(pictures[1:]))
    assert_close([item.embedding for item in answer.data], expected, atol=1e-5)
    patches = 3 * (tiny_encoder.image_size // tiny_encoder.model.config.vision_config.patch_size) ** 2
    assert answer.usage.prompt_tokens == sum(tiny_encoder.count_tokens(["a red circle"])) + patches
    one = client.embeddings.create(model=tiny_encoder.preset.reference, input=uris[1])  # by its own name
    assert_close(one.data[0].embedding, tiny_encoder.encode_images([pictures[1]])[0], atol=1e-5)


def test_float_and_base64_are_the_same_vectors(server: str, tiny_encoder: SiglipEncoder) -> None:
    request = {"model": "siglip", "input": ["un chat", "a dog"]}
    floats = httpx.post(f"{server}/embeddings", json=request, timeout=60).json()
    packed = httpx.post(f"{server}/embeddings", json={**request, "encoding_format": "base64"}, timeout=60)
    assert packed.status_code == 200
    assert floats["object"] == packed.json()["object"] == "list"
    assert floats["data"][0]["object"] == "embedding"
    decoded = [np.frombuffer(base64.b64decode(item["embedding"]), "<f4") for item in packed.json()["data"]]
    assert_close(decoded, [item["embedding"] for item in floats["data"]], atol=0)
    assert_close(decoded, tiny_encoder.encode_texts(request["input"]), atol=1e-5)
    same_size = httpx.post(
        f"{server}/embeddings", json={**request, "dimensions": tiny_encoder.dim}, timeout=60
    )
    assert same_size.status_code == 200


def test_langchain_openai_embeddings_match_siglip_embeddings(
    server: str, tiny_encoder: SiglipEncoder, pictures: list[bytes], tmp_path: Path
) -> None:
    remote = OpenAIEmbeddings(
        base_url=server, api_key="unused", model="siglip", check_embedding_ctx_length=False, max_retries=0
    )  # type: ignore[call-arg]
    local = SiglipEmbeddings(encoder=tiny_encoder)
    documents = TEXTS[:4]
    assert_close(remote.embed_documents(documents), local.embed_documents(documents), atol=1e-5)
    assert_close(remote.embed_query("une photo de plage"), local.embed_query("une photo de plage"), atol=1e-5)
    path = tmp_path / "photo.jpg"
    path.write_bytes(pictures[0])
    assert_close(
        remote.embed_documents([data_uri(pictures[0], "image/jpeg")]),
        local.embed_image([str(path)]),
        atol=1e-5,
    )


def test_models_lists_the_loaded_model_and_its_alias(
    client: openai.OpenAI, tiny_encoder: SiglipEncoder
) -> None:
    names = [model.id for model in client.models.list()]
    assert names == [tiny_encoder.preset.reference, "siglip"]
    assert client.models.retrieve("siglip").owned_by == "siglip-retriever"
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("text-embedding-3-small")
    assert _error(raised.value)["code"] == "model_not_found"


def _error(exc: openai.APIStatusError) -> dict[str, Any]:
    """The ``error`` object of an error response, checked to have OpenAI's shape."""
    body = exc.response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    return error


@pytest.mark.parametrize(
    ("options", "status", "code", "param", "words"),
    [
        ({"model": "text-embedding-3-small"}, 404, "model_not_found", "model", "also called 'siglip'"),
        ({"dimensions": 16}, 400, "invalid_value", "dimensions", "cannot be shortened"),
        ({"extra_body": {"temperature": 0.5}}, 400, "unknown_parameter", "temperature", "unrecognized"),
        ({"input": ["x"] * 9}, 400, "too_many_inputs", "input", "the limit is 8"),
        ({"input": []}, 400, "invalid_input", "input", "empty list"),
        ({"input": [[1, 2, 3]]}, 400, "invalid_input", "input", "check_embedding_ctx_length=False"),
        ({"input": ["ok", "data:image/png;base64,@@@"]}, 400, "invalid_image", "input[1]", "base64"),
        ({"input": ["data:image/png;base64,aGVsbG8="]}, 400, "invalid_image", "input[0]", "not an image"),
        ({"input": ["data:image/png,raw"]}, 400, "invalid_image", "input[0]", "data:image/<type>;base64"),
        ({"encoding_format": "int8"}, 400, "invalid_value", "encoding_format", "'float' or 'base64'"),
    ],
)
def test_errors_have_openais_shape(
    client: openai.OpenAI,
    options: dict[str, Any],
    status: int,
    code: str,
    param: str,
    words: str,
) -> None:
    request = {"model": "siglip", "input": ["a red circle"], **options}
    with pytest.raises(openai.APIStatusError) as raised:
        client.embeddings.create(**request)
    assert raised.value.status_code == status
    error = _error(raised.value)
    assert (error["code"], error["param"]) == (code, param)
    assert words in error["message"]


def test_limits_and_transport_errors_have_openais_shape_too(server: str, pictures: list[bytes]) -> None:
    big = Image.new("RGB", (600, 400), "navy")  # 240,000 pixels, over the server's 200,000
    answer = httpx.post(
        f"{server}/embeddings",
        json={"model": "siglip", "input": [data_uri(png_bytes(big), "image/png")]},
        timeout=60,
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_many_pixels"
    assert answer.json()["error"]["param"] == "input[0]"
    too_big = httpx.post(
        f"{server}/embeddings", json={"model": "siglip", "input": ["x" * 300_000]}, timeout=60
    )  # over max_upload_bytes: refused by the guard, before the route
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "upload_too_large"
    not_json = httpx.post(
        f"{server}/embeddings", content=b"{input", headers={"content-type": "application/json"}
    )
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "invalid_json")
    wrong_method = httpx.get(f"{server}/embeddings")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert httpx.get(f"{server}/nothing").json()["error"]["type"] == "invalid_request_error"
    # the other routes keep the app's own shape
    app_error = httpx.get(server.removesuffix("v1") + "api/search", params={"q": "x", "k": 1000})
    assert app_error.json()["error"] == "k_too_large"


def test_a_url_is_text_unless_the_encoder_allows_urls(
    server: str, tiny_siglip_dir: Path, tiny_encoder: SiglipEncoder, pictures: list[bytes], tmp_path: Path
) -> None:
    (tmp_path / "photo.png").write_bytes(pictures[1])
    handler = _quiet_handler(tmp_path)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as files:
        threading.Thread(target=files.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{files.server_address[1]}/photo.png"
            request = {"model": "siglip", "input": [url, f"{url}?missing=1".replace("photo", "gone")]}
            as_text = httpx.post(f"{server}/embeddings", json=request, timeout=60).json()["data"]
            assert_close(
                [item["embedding"] for item in as_text],
                tiny_encoder.encode_texts(request["input"]),
                atol=1e-5,
            )
            fetching = SiglipEncoder(tiny_siglip_dir, device="cpu", allow_urls=True)
            store = MultimodalStore.in_memory(encoder=fetching)
            with BackgroundServer(create_app(store, limits=LIMITS)) as other:
                base = other.url + "v1/embeddings"
                fetched = httpx.post(base, json={"model": "siglip", "input": [url]}, timeout=60).json()
                assert_close(
                    fetched["data"][0]["embedding"], tiny_encoder.encode_images([pictures[1]])[0], atol=1e-5
                )
                gone = httpx.post(base, json=request, timeout=60)
        finally:
            files.shutdown()
    assert gone.status_code == 400
    error = gone.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_image", "input[1]")
    assert "missing=1" not in error["message"]  # a URL's query string may hold a token: never echoed


def _quiet_handler(folder: Path) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def test_the_openapi_document_declares_the_routes_and_the_model(
    server: str, tiny_encoder: SiglipEncoder
) -> None:
    document = httpx.get(server.removesuffix("v1") + "openapi.json").json()
    operation = document["paths"]["/v1/embeddings"]["post"]
    error_ref = {"$ref": "#/components/schemas/OpenAIErrorBody"}
    for path in ("/v1/embeddings", "/v1/models", "/v1/models/{model}"):
        for responses in (found["responses"] for found in document["paths"][path].values()):
            assert "422" not in responses
            assert {"200", "400", "404", "405", "408", "413"} <= set(responses), path
            assert "Allow" in responses["405"]["headers"]
            for status in set(responses) - {"200"}:
                assert responses[status]["content"]["application/json"]["schema"] == error_ref
    assert "503" in operation["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    request = document["components"]["schemas"]["EmbeddingsRequest"]
    assert request["additionalProperties"] is False
    assert request["properties"]["model"]["enum"] == [tiny_encoder.preset.reference, "siglip"]
    assert request["properties"]["dimensions"]["anyOf"][0]["enum"] == [tiny_encoder.dim]
    assert request["properties"]["input"]["anyOf"][1]["maxItems"] == LIMITS.max_inputs
    assert "get" in document["paths"]["/v1/models"]
