"""The web app's OpenAI-compatible routes: ``POST /v1/embeddings`` and ``GET /v1/models``.

Any program that speaks OpenAI's embeddings API (OpenAI's own clients, LangChain's
``OpenAIEmbeddings``, LlamaIndex, or ``curl`` from any language) gets SigLIP's vectors from a
running server, texts and pictures in one space:

- ``input`` is a string or a list of them (at most ``max_inputs``). A ``data:image/...;base64,``
  URI is a picture, decoded within the server's limits (``max_upload_bytes``, ``max_pixels``, the
  decoding slots) as an upload is. An ``http(s)://`` URL is a picture too where the store's
  encoder was given a URL policy (``SiglipEncoder(allow_urls=...)``: off by default, as in the
  library); then it is fetched under that policy, within ``max_upload_bytes``. Otherwise a URL,
  like anything else, is text.
- ``model`` is the loaded model's name or :data:`~siglip_retriever.app.openai_schemas.MODEL_ALIAS`
  (``"siglip"``); another name is ``404 model_not_found``, as at OpenAI.
- ``encoding_format`` is ``"float"`` or ``"base64"`` (little-endian float32, which OpenAI's
  Python client asks for by default); ``dimensions`` may only be the model's own vector size.
- ``usage`` counts the tokens the text tower read for each text (its tokenizer's, truncated at the
  model's text length, padding not counted) and, for each picture, the patches the image tower
  read (196 for a 224-pixel SigLIP with 16-pixel patches).

The vectors are the ones :class:`~siglip_retriever.encoding.encoder.SiglipEncoder` gives,
L2-normalised, made through the service's batching queue
(:meth:`~siglip_retriever.app.service.SearchService.encode_texts`), in forward passes shared with
concurrent searches and other embeddings requests.

Errors have OpenAI's shape (:meth:`~siglip_retriever.app.errors.ApiError.openai_body`): a field
OpenAI's API does not have is ``400 unknown_parameter``, and FastAPI's own checks of the body are
described in this module's words (:func:`request_problem`).

Example (over the bundled demo model):
    >>> from fastapi.testclient import TestClient
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.app import create_app
    >>> app = create_app(MultimodalStore.in_memory(model="demo"))
    >>> client = TestClient(app, base_url="http://127.0.0.1")
    >>> answer = client.post("/v1/embeddings", json={"input": ["un chat", "a dog"], "model": "siglip"}).json()
    >>> [len(item["embedding"]) for item in answer["data"]], answer["model"], answer["usage"]["total_tokens"]
    ([96, 96], 'demo', 13)
    >>> client.post("/v1/embeddings", json={"input": "un chat", "model": "gpt-4"}).json()["error"]["code"]
    'model_not_found'
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import re
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from siglip_retriever.app.errors import ApiError, describe_problem
from siglip_retriever.app.framework import (
    APIRoute,
    APIRouter,
    JSONResponse,
    Request,
    RequestValidationError,
    Response,
    UploadFile,
)
from siglip_retriever.app.openai_schemas import (
    EMBEDDINGS_RESPONSES,
    MODEL_ALIAS,
    MODELS_RESPONSES,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ModelCard,
    ModelList,
)
from siglip_retriever.app.service import SearchService, ServiceDep
from siglip_retriever.errors import ImageLoadError

if TYPE_CHECKING:
    import numpy.typing as npt

    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.preparing import PreparedImage

__all__ = ["OpenAIRoute", "embedding_inputs", "request_problem", "router"]

_STARTED = int(time.time())
_OWNER = "siglip-retriever"
_FIELDS = ", ".join(EmbeddingsRequest.model_fields)
_DATA_IMAGE = re.compile(r"data:image/[A-Za-z0-9.+-]+(?:;[A-Za-z0-9.+-]+=[^;,]*)*;base64,(?P<data>.*)", re.S)
_HTTP_URL = re.compile(r"https?://", re.I)
_WORDS = {
    "int_type": "must be a whole number",
    "string_type": "must be text",
    "literal_error": "must be {expected}",
}


def request_problem(problems: Sequence[Any]) -> ApiError:
    """The first of FastAPI's failed checks of an embeddings request, as OpenAI's ``400``.

    Example:
        >>> from siglip_retriever.app.routes.openai import request_problem
        >>> error = request_problem([{"type": "extra_forbidden", "loc": ("body", "temperature")}])
        >>> error.code, error.param
        ('unknown_parameter', 'temperature')
        >>> request_problem([{"type": "string_type", "loc": ("body", "input", "list[str]", 0)}]).code
        'invalid_input'
    """
    first: dict[str, Any] = dict(problems[0]) if problems else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = location[0] if location else None
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return ApiError(400, "invalid_json", "the body is not valid JSON; send a JSON object")
    if param is None or param.isdigit():
        return ApiError(
            400,
            "invalid_request",
            'send a JSON object such as {"input": ["a text", "data:image/png;base64,..."], '
            f'"model": "{MODEL_ALIAS}"}} (Content-Type: application/json)',
        )
    if kind == "extra_forbidden":
        return ApiError(
            400,
            "unknown_parameter",
            f"unrecognized request argument supplied: {param[:100]}; this server takes {_FIELDS}",
            param=param[:100],
        )
    if kind == "missing":
        return ApiError(400, "missing_required_parameter", f"{param} is required", param=param)
    if param == "input":
        return ApiError(
            400,
            "invalid_input",
            "input must be a text or a list of texts (pictures as data:image/...;base64, URIs); "
            "token arrays are not accepted, since the model has its own tokenizer (with LangChain's "
            "OpenAIEmbeddings, set check_embedding_ctx_length=False)",
            param=param,
        )
    words = _WORDS.get(kind)
    message = f"{param} {words.format(**(first.get('ctx') or {}))}" if words else describe_problem(first)
    return ApiError(400, "invalid_value", message, param=param)


class OpenAIRoute(APIRoute):
    """A route whose failed request checks are :func:`request_problem`'s ``400``, in OpenAI's shape.

    Example:
        >>> from siglip_retriever.app.routes.openai import OpenAIRoute, router
        >>> all(isinstance(route, OpenAIRoute) for route in router.routes)
        True
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, with its validation errors told in this API's words."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise request_problem(exc.errors()) from None

        return answer


router = APIRouter(prefix="/v1", route_class=OpenAIRoute, tags=["OpenAI-compatible"])


@router.post("/embeddings", response_model=EmbeddingsResponse, responses=EMBEDDINGS_RESPONSES)
def embeddings(body: EmbeddingsRequest, service: ServiceDep) -> JSONResponse:
    """Vectors of texts and pictures (data URIs), as OpenAI's embeddings API answers."""
    encoder = service.store.encoder
    name = _model_named(service, body.model)
    if body.dimensions is not None and body.dimensions != encoder.dim:
        raise ApiError(
            400,
            "invalid_value",
            f"dimensions must be {encoder.dim}, this model's vector size, or left out: SigLIP "
            "vectors cannot be shortened",
            param="dimensions",
        )
    texts, pictures = embedding_inputs(service, body.input)
    vectors, tokens = _encode(service, encoder, texts, pictures)
    data = [
        {"object": "embedding", "embedding": _encoded(vectors[index], body.encoding_format), "index": index}
        for index in range(len(vectors))
    ]
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": name, "usage": usage})


@router.get("/models", response_model=ModelList, responses=MODELS_RESPONSES)
def models(service: ServiceDep) -> dict[str, Any]:
    """The loaded model, and its alias: the names ``model`` may take."""
    return {"object": "list", "data": [_card(name) for name in _names(service)]}


@router.get("/models/{model:path}", response_model=ModelCard, responses=MODELS_RESPONSES)
def model(model: str, service: ServiceDep) -> dict[str, Any]:
    """One model, by the name ``model`` takes."""
    _model_named(service, model)
    return _card(model)


def _names(service: SearchService) -> list[str]:
    return list(dict.fromkeys([service.store.model_name, MODEL_ALIAS]))


def _card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _STARTED, "owned_by": _OWNER}


def _model_named(service: SearchService, model: str) -> str:
    """The loaded model's name, if ``model`` names it or is the alias; ``404 model_not_found`` else."""
    name = service.store.model_name
    if model not in (name, MODEL_ALIAS):
        shown = model if len(model) <= 100 else model[:97] + "..."
        raise ApiError(
            404,
            "model_not_found",
            f"the model {shown!r} is not served here; this server serves {name!r}, also called "
            f"{MODEL_ALIAS!r} (GET /v1/models lists them)",
            param="model",
        )
    return name


def embedding_inputs(
    service: SearchService, given: str | list[str]
) -> tuple[dict[int, str], dict[int, PreparedImage]]:
    """The request's texts and its pictures, decoded, each by its position in ``input``.

    Raises:
        ApiError: no input, more than ``max_inputs``, or a picture that cannot be read or is over
            the limits (``param`` names its position: ``input[3]``).
    """
    inputs = [given] if isinstance(given, str) else given
    limit = service.limits.max_inputs
    if not inputs:
        raise ApiError(400, "invalid_input", "input is an empty list; send at least one text", param="input")
    if len(inputs) > limit:
        raise ApiError(
            400,
            "too_many_inputs",
            f"{len(inputs)} inputs; the limit is {limit} a request: send them in several requests",
            param="input",
            limit=limit,
        )
    policy = service.store.encoder.url_policy
    texts: dict[int, str] = {}
    pictures: dict[int, PreparedImage] = {}
    for index, text in enumerate(inputs):
        if text[:11].lower() == "data:image/":
            pictures[index] = _picture(service, index, _data_uri(text, index))
        elif policy is not None and _HTTP_URL.match(text):
            pictures[index] = _picture(service, index, _fetched(service, text, index))
        else:
            texts[index] = text
    return texts, pictures


def _data_uri(text: str, index: int) -> bytes:
    """The bytes of a ``data:image/...;base64,`` URI."""
    name = f"input[{index}]"
    match = _DATA_IMAGE.fullmatch(text)
    if match is None:
        raise ApiError(
            400,
            "invalid_image",
            f"{name} starts like a picture but is not a 'data:image/<type>;base64,<data>' URI",
            param=name,
        )
    try:
        return base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_image", f"{name}'s data is not valid base64", param=name) from None


def _fetched(service: SearchService, url: str, index: int) -> bytes:
    """The bytes at ``url``, fetched under the encoder's URL policy and within ``max_upload_bytes``."""
    policy = service.store.encoder.url_policy
    assert policy is not None  # only called when URLs are allowed
    bounded = dataclasses.replace(policy, max_bytes=min(policy.max_bytes, service.limits.max_upload_bytes))
    try:
        return bounded.fetch(url)
    except ImageLoadError as exc:
        raise ApiError(400, "invalid_image", f"input[{index}]: {exc}", param=f"input[{index}]") from None


def _picture(service: SearchService, index: int, data: bytes) -> PreparedImage:
    """A picture's bytes, decoded in a decoding slot within the pixel limit; its errors name its
    position in ``input``."""
    name = f"input[{index}]"
    try:
        prepared, _ = service.decode_upload(UploadFile(io.BytesIO(data), filename=name))
    except ApiError as exc:
        raise ApiError(
            exc.status, exc.code, exc.message, headers=exc.headers, param=name, **exc.extra
        ) from None
    return prepared


def _encode(
    service: SearchService,
    encoder: SiglipEncoder,
    texts: dict[int, str],
    pictures: dict[int, PreparedImage],
) -> tuple[list[npt.NDArray[np.float32]], int]:
    """Each input's vector, in the order of the inputs, and the tokens read (texts' tokens and
    pictures' patches). Through the service's batching queue, in forward passes shared with
    concurrent requests; a long request is queued part by part, so that searches run between."""
    rows: dict[int, npt.NDArray[np.float32]] = {}
    if texts:
        rows.update(zip(texts, service.encode_texts(list(texts.values())), strict=True))
    if pictures:
        rows.update(zip(pictures, service.encode_images(list(pictures.values())), strict=True))
    tokens = sum(encoder.count_tokens(list(texts.values()))) if texts else 0
    tokens += sum(_patches(encoder, picture) for picture in pictures.values())
    return [rows[index] for index in range(len(rows))], tokens


def _patches(encoder: SiglipEncoder, picture: PreparedImage) -> int:
    """The patches the image tower reads of ``picture``: its pixel mask's (SigLIP 2), or its
    side over the patch size, squared."""
    mask = picture.inputs.get("pixel_attention_mask")
    if mask is not None:
        return int(np.asarray(mask).sum())
    patch = int(encoder.model.config.vision_config.patch_size)
    height, width = picture.inputs["pixel_values"].shape[-2:]
    return int(height // patch) * int(width // patch)


def _encoded(vector: npt.NDArray[np.float32], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(value) for value in vector]
