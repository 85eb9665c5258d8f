"""The web API against outside clients, through FastAPI's TestClient (issue 19): hostile templates,
bounded decoding, a schema that says what the server does, no framework words, ETags.

The transport (Host forms, slow bodies, idle connections, HEAD and 405 on the wire) is tested on
a real server in tests/app/test_transport.py; the schemathesis run in tests/app/test_fuzz.py.
"""

from __future__ import annotations

import io
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from siglip_retriever import MultimodalStore, ZeroShotClassifier
from siglip_retriever.app import Limits, create_app
from siglip_retriever.app.schemas import NOT_BLANK, TEMPLATE_PATTERN
from siglip_retriever.app.service import has_text
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, InvalidTemplateError
from siglip_retriever.search.templates import fill_template, parse_template
from tests.helpers import colour_pictures, png_bytes, run_cli

BASE = "http://127.0.0.1"

HOSTILE_TEMPLATES = [
    "{}{}",
    "{x} {}",
    "{} {",
    "{0} {}",
    "{!r} {}",
    "{{}}{0:>100000001}",
    "{:>100000001}",
    "a photo of {label}",
    "no placeholder",
    "}{}",
    "{0[0]} {}",
    "{}.{}.{}",
]


class Env:
    """A store of three pictures on disk, an app over it with small decoding limits, a client."""

    def __init__(self, encoder: SiglipEncoder, root: Path) -> None:
        self.paths = colour_pictures(root / "photos", ("red", "green", "blue"))
        self.store = MultimodalStore.in_memory(encoder=encoder)
        self.store.index_folder(root / "photos")
        self.ids = {Path(item.uri or "").stem: item.id for item in self.store.get()}
        self.limits = Limits(max_concurrent_decodes=1, busy_wait_seconds=1, max_k=20)
        self.app = create_app(self.store, limits=self.limits)
        self.client = TestClient(self.app, base_url=BASE)


@pytest.fixture(scope="module")
def env(tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env(tiny_encoder, tmp_path_factory.mktemp("hardening"))


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert response.headers["x-content-type-options"] == "nosniff"  # the guard's headers too
    return body


def _classify(env: Env, template: str, labels: Any = "cat") -> Any:
    return env.client.post(
        "/api/classify",
        files={"image": ("red.png", env.paths[0].read_bytes(), "image/png")},
        data={"labels": labels, "template": template},
    )


# -- 1. templates are data ------------------------------------------------------------------------


@pytest.mark.parametrize("template", HOSTILE_TEMPLATES)
def test_every_hostile_template_is_a_clear_error_everywhere(
    env: Env, tiny_encoder: SiglipEncoder, tiny_siglip_dir: Path, template: str
) -> None:
    body = _error(_classify(env, template), 422, "invalid_template")
    assert "{}" in body["message"] and "Traceback" not in body["message"]
    with pytest.raises(InvalidTemplateError) as raised:
        ZeroShotClassifier(["cat"], templates=[template], encoder=tiny_encoder)
    assert isinstance(raised.value, ConfigurationError)
    picture = env.paths[0]
    result = run_cli(
        "--model", str(tiny_siglip_dir), "classify", str(picture), "--labels", "cat", "-t", template
    )
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: template"), result.output


def test_a_template_never_builds_text_longer_than_template_and_label() -> None:
    assert fill_template("{{}} {} {{", "cat") == "{} cat {"
    assert fill_template("{}", "x" * 200) == "x" * 200
    with pytest.raises(InvalidTemplateError, match=re.escape("the field '{0:>100000001}'")):
        parse_template("{{}}{0:>100000001}")
    with pytest.raises(InvalidTemplateError, match="not 42"):
        parse_template(42)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab {}:0!>x"), max_size=12))
def test_the_schema_pattern_and_the_parser_agree_on_templates(template: str) -> None:
    try:
        prefix, suffix = parse_template(template)
        accepted = True
    except InvalidTemplateError:
        accepted = False
    assert (re.fullmatch(TEMPLATE_PATTERN, template) is not None) == accepted, template
    if accepted:
        assert len(prefix) + len(suffix) <= len(template)


def test_the_not_blank_pattern_is_exactly_str_isspace() -> None:
    pattern = re.compile(NOT_BLANK)
    mismatched = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (pattern.search(chr(code)) is None) != chr(code).isspace()
    ]
    assert mismatched == []
    assert has_text(" a ") and not has_text("\u3000\n\x1c")


# -- 2. bounded decoding --------------------------------------------------------------------------


def test_uploads_wait_for_a_decoding_slot_then_get_503_with_retry_after(env: Env) -> None:
    service = env.app.state.service
    picture = {"image": ("red.png", env.paths[0].read_bytes(), "image/png")}
    assert service.decode_slots.acquire(timeout=5)  # every slot taken (there is one)
    try:
        busy = env.client.post("/api/similar", files=picture)
        body = _error(busy, 503, "busy")
        assert busy.headers["retry-after"] == "5"
        assert "decoding 1 pictures" in body["message"]
        released = threading.Timer(0.2, service.decode_slots.release)
        released.start()
        waited = env.client.post("/api/similar", files=picture)  # the slot frees up within the wait
        released.join()
        assert waited.status_code == 200, waited.text
    finally:
        if service.decode_slots.acquire(blocking=False):
            service.decode_slots.release()
    assert env.client.get(f"/api/images/{env.ids['green']}/thumbnail").status_code == 200


def test_an_upload_is_decoded_to_the_models_input_size(env: Env) -> None:
    big = Image.new("RGB", (3000, 2000), "red")
    response = env.client.post("/api/similar", files={"image": ("big.png", png_bytes(big), "image/png")})
    assert response.status_code == 200, response.text
    assert response.json()["hits"][0]["name"] == "red.png"
    prepared = env.store.encoder.prepare_image(png_bytes(big))
    assert (prepared.width, prepared.height) == (3000, 2000)  # the picture's own size is kept


# -- 3. a schema that tells the truth -------------------------------------------------------------


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_the_schema_declares_every_limit(env: Env) -> None:
    document = env.client.get("/openapi.json").json()
    search = {p["name"]: p for p in document["paths"]["/api/search"]["get"]["parameters"]}
    assert search["q"]["required"] is True
    assert search["q"]["schema"].items() >= {"minLength": 1, "maxLength": 500, "pattern": NOT_BLANK}.items()
    assert search["min_probability"]["schema"] == {
        "type": "number",
        "minimum": 0.0,
        "maximum": 1.0,
        "description": search["min_probability"]["schema"]["description"],
        "title": "Min Probability",
    }
    for path, _method, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "k":
                assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, 20), path
    schemas = document["components"]["schemas"]
    classify = schemas["Body_classify_api_classify_post"]
    assert sorted(classify["required"]) == ["image", "labels"]
    labels = classify["properties"]["labels"]
    assert (labels["minItems"], labels["maxItems"], labels["items"]["maxLength"]) == (1, 50, 200)
    assert classify["properties"]["template"]["items"]["pattern"] == TEMPLATE_PATTERN
    assert schemas["Body_similar_api_similar_post"]["required"] == ["image"]


def test_the_schema_declares_every_error_with_its_body(env: Env) -> None:
    document = env.client.get("/openapi.json").json()
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    assert set(document["components"]["schemas"]["ErrorBody"]["properties"]) == {"error", "message", "limit"}
    for path, method, operation in _operations(document):
        if path.startswith("/v1/"):  # OpenAI's error shape: tests/app/test_openai_api.py
            continue
        responses = operation["responses"]
        expected = {"400", "405", "408", "413"}
        if path != "/health" and path != "/api/info":
            expected |= {"422", "503"}
        if "{image_id}" in path:
            expected.add("404")
        if method == "post":
            expected |= {"415"}
            assert "Retry-After" in responses["503"]["headers"]
        assert expected <= set(responses), (path, sorted(responses))
        assert "Allow" in responses["405"]["headers"]
        for status in expected:
            assert responses[status]["content"]["application/json"]["schema"] == error_ref, (path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_no_framework_message_reaches_a_client(env: Env) -> None:
    answers = [
        env.client.post("/api/similar", files={"image": (None, "just text")}),  # a field, not a file
        env.client.get("/api/search", params={"q": "cat", "k": "abc"}),
        env.client.get("/api/search", params={"q": "cat", "min_probability": "2"}),
        env.client.get("/api/search"),
        env.client.post("/api/classify", files={"image": ("a.png", png_bytes(Image.new("RGB", (8, 8))))}),
    ]
    for answer in answers:
        body = _error(answer, 422, answer.json()["error"])
        assert body["error"] in ("invalid_request", "missing_image", "invalid_image"), body
        for framework_words in (
            "Expected UploadFile",
            "<class",
            "Input should",
            "Field required",
            "pydantic",
        ):
            assert framework_words not in body["message"], body
    messages = [answer.json()["message"] for answer in answers]
    assert messages[0] == "upload is not an image, or is in a format Pillow cannot read"
    assert messages[1] == "k must be a whole number"
    assert messages[2] == "min_probability must be a number between 0 and 1, not 2.0"  # the search layer's
    assert messages[3] == "q is required"
    assert messages[4] == "labels is required"


def test_a_picture_sent_without_a_filename_is_read_too(env: Env) -> None:
    for path in env.paths:  # RFC 7578 makes the filename optional; Starlette then gives text
        answer = env.client.post("/api/similar", files={"image": (None, path.read_bytes(), "image/png")})
        assert answer.status_code == 200, answer.text
        assert answer.json()["hits"][0]["name"] == path.name
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(jpeg, format="JPEG")
    answer = env.client.post(
        "/api/classify", files={"image": (None, jpeg.getvalue()), "labels": (None, "rouge")}
    )
    assert answer.status_code == 200 and answer.json()["image"] == "upload"


@pytest.mark.parametrize(
    "body",
    [
        b"garbage",
        b"--xyz\r\nBadHeader\r\n\r\nx\r\n--xyz--\r\n",
        b"--xyz\r\nContent-Type: a/b\r\n\r\nx\r\n--xyz--\r\n",
    ],
)
def test_malformed_multipart_is_422_invalid_request(env: Env, body: bytes) -> None:
    for route in ("/api/similar", "/api/classify"):
        response = env.client.post(
            route, content=body, headers={"content-type": "multipart/form-data; boundary=xyz"}
        )
        answer = _error(response, 422, "invalid_request")
        assert "not a valid multipart/form-data form" in answer["message"]


def test_405_names_the_allowed_methods_and_head_is_served(env: Env) -> None:
    for path, allowed in [
        ("/health", "GET, HEAD"),
        ("/api/similar", "POST"),
        ("/static/app.js", "GET, HEAD"),
    ]:
        response = env.client.request("DELETE", path)
        _error(response, 405, "method_not_allowed")
        assert response.headers["allow"] == allowed, path
    for path in ("/health", "/", "/static/app.js", f"/api/images/{env.ids['red']}"):
        got, head = env.client.get(path), env.client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"], path
        assert head.headers["content-type"] == got.headers["content-type"], path


# -- 4. caching -----------------------------------------------------------------------------------


def test_stored_images_carry_an_etag_and_answer_304(env: Env, tmp_path: Path) -> None:
    url = f"/api/images/{env.ids['blue']}"
    first = env.client.get(url)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"')
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = env.client.get(url, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b"" and again.headers["etag"] == etag
    assert env.client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert env.client.get(f"/api/images/{env.ids['green']}").headers["etag"] != etag
    Image.new("RGB", (41, 40), "blue").save(env.paths[2])  # the file changes: so does its tag
    changed = env.client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
