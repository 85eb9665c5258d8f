"""The OpenAI-compatible API's request and response models: ``POST /v1/embeddings`` and ``GET /v1/models``.

The shapes are OpenAI's own (``object``, ``data[].embedding``, ``index``, ``model``, ``usage``;
a model card's ``id``, ``object``, ``created``, ``owned_by``; an error's ``{"error": {"message",
"type", "param", "code"}}``), so that OpenAI's clients, and the libraries built on them, read them
as they read OpenAI's. A request takes OpenAI's fields only: any other field is refused (``400
unknown_parameter``) rather than silently ignored. The routes are in
:mod:`siglip_retriever.app.routes.openai`; :mod:`siglip_retriever.app.openapi` writes the server's
model names, vector size and input limit into this request's schema.

Example:
    >>> from siglip_retriever.app.openai_schemas import EmbeddingsRequest
    >>> request = EmbeddingsRequest(input="un chat", model="siglip")
    >>> request.encoding_format, request.dimensions
    ('float', None)
    >>> EmbeddingsRequest(input=["a"], model="siglip", temperature=1)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for EmbeddingsRequest
    temperature
      Extra inputs are not permitted ...
"""

from __future__ import annotations

from typing import Any, Literal

from siglip_retriever.app.framework import ConfigDict, Field
from siglip_retriever.app.schemas import Schema

__all__ = [
    "EMBEDDINGS_RESPONSES",
    "MODELS_RESPONSES",
    "MODEL_ALIAS",
    "Embedding",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "ModelCard",
    "ModelList",
    "OpenAIError",
    "OpenAIErrorBody",
    "Usage",
]

MODEL_ALIAS = "siglip"
"""A name every server answers to, whatever model it has loaded, for clients configured once for
all servers; the model's own name (``GET /v1/models``) works too."""


class EmbeddingsRequest(Schema):
    """What to embed, OpenAI's request body: texts, and pictures as data URIs, in one vector space.

    Example:
        >>> from siglip_retriever.app.openai_schemas import EmbeddingsRequest
        >>> request = EmbeddingsRequest(input=["a red circle", "data:image/png;base64,iVBO"], model="siglip")
        >>> request.input[1][:11]
        'data:image/'
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    input: str | list[str] = Field(
        description="A text, or a list of them; a 'data:image/...;base64,' URI is a picture (an "
        "http(s) URL too, where the server allows URLs; otherwise a URL is text). Texts longer "
        "than the model's text length are truncated, as the model was trained. Token arrays are "
        "not accepted: the model has its own tokenizer."
    )
    model: str = Field(
        description=f"The loaded model's name (GET /v1/models), or '{MODEL_ALIAS}' for whichever "
        "model the server has loaded."
    )
    encoding_format: Literal["float", "base64"] = Field(
        default="float",
        description="'float': lists of numbers; 'base64': each vector's little-endian float32 bytes, "
        "base64-encoded (what OpenAI's Python client asks for).",
    )
    dimensions: int | None = Field(
        default=None,
        description="The vector size, if given: only the model's own is possible (SigLIP vectors "
        "cannot be shortened).",
    )
    user: str | None = Field(default=None, description="Accepted for compatibility, and ignored.")


class Embedding(Schema):
    """One input's vector, L2-normalised (compare with a dot product or cosine)."""

    object: Literal["embedding"] = "embedding"
    embedding: list[float] | str = Field(
        description="The vector: numbers, or base64 of little-endian float32 (encoding_format)."
    )
    index: int = Field(description="The input's position in the request.")


class Usage(Schema):
    """What the request cost: the tokens of the texts the text tower read, after truncation and
    without padding, plus for each picture the patches the image tower read."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(Schema):
    """The inputs' vectors, in the order of the inputs."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str = Field(description="The model that made the vectors (its name, not an alias).")
    usage: Usage


class ModelCard(Schema):
    """A model this server serves."""

    id: str = Field(description="The name to send as 'model'.")
    object: Literal["model"] = "model"
    created: int = Field(description="When the server started serving it (Unix time, seconds).")
    owned_by: str


class ModelList(Schema):
    """The models this server serves: the loaded one, and its alias."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIError(Schema):
    """What went wrong, in OpenAI's words."""

    message: str = Field(description="What happened and what to do about it.")
    type: str = Field(description="'invalid_request_error' for 4xx statuses, 'server_error' for 5xx.")
    param: str | None = Field(description="The request field at fault, if one is.")
    code: str | None = Field(description="A stable code, such as 'model_not_found' or 'too_many_inputs'.")


class OpenAIErrorBody(Schema):
    """Every error of the /v1 routes (OpenAI's shape)."""

    error: OpenAIError


def _errors(statuses: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each with :class:`OpenAIErrorBody`."""
    return {status: {"model": OpenAIErrorBody, "description": text} for status, text in statuses.items()}


MODELS_RESPONSES = _errors(
    {
        400: "The Host header names another machine, or a malformed Content-Length.",
        404: "No model of this name (model_not_found).",
        405: "Another method than those in the Allow header (method_not_allowed).",
        408: "The request body did not arrive in full in time (request_timeout).",
        413: "The request body is larger than max_upload_bytes (upload_too_large).",
    }
)
"""The errors of ``GET /v1/models`` (and of every /v1 route, before the route sees the request)."""
MODELS_RESPONSES[405]["headers"] = {
    "Allow": {"description": "The methods this path serves.", "schema": {"type": "string"}}
}

EMBEDDINGS_RESPONSES = {
    **MODELS_RESPONSES,
    **_errors(
        {
            400: "An invalid request: a field that is not OpenAI's (unknown_parameter), a value of "
            "the wrong type or out of range, dimensions other than the model's, more inputs than "
            "max_inputs (too_many_inputs), a picture that cannot be read (invalid_image), a body "
            "that is not JSON.",
            404: "The model is neither the loaded one nor its alias (model_not_found).",
            413: "The request body is larger than max_upload_bytes (upload_too_large), or a picture "
            "has more than max_pixels pixels (too_many_pixels).",
            503: "Every decoding slot stayed busy for busy_wait_seconds (busy, with Retry-After).",
        }
    ),
}
"""The errors of ``POST /v1/embeddings``."""
