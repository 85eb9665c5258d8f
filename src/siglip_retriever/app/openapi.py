"""The web app's OpenAPI document, told the truth: with every limit of the server's :class:`~.limits.Limits`.

FastAPI writes the document from the routes' signatures, which do not know the limits a server
was started with; :func:`install` makes the app's ``/openapi.json`` carry them, so that a client
(or a fuzzer) reading it knows exactly which requests the server accepts:

- ``q``: 1 to ``max_query_chars`` characters, one of them not white space (:data:`NOT_BLANK
  <siglip_retriever.app.schemas.NOT_BLANK>`);
- ``k``: 1 to ``max_k``, and so is ``fetch_k`` (diverse searches);
- ``labels``: 1 to ``max_labels`` fields of 1 to ``max_label_chars`` characters, not blank;
- ``template``: up to ``max_labels`` fields of at most ``max_label_chars`` characters, each with
  exactly one ``{}`` (:data:`TEMPLATE_PATTERN <siglip_retriever.app.schemas.TEMPLATE_PATTERN>`);
- ``image``: a required picture file, of one of :data:`PICTURE_TYPES` (the form's ``encoding``),
  not empty (an empty part is no picture: the server answers it ``422 missing_image``);
- ``POST /v1/embeddings``: 1 to ``max_inputs`` inputs, the names ``model`` may take (the loaded
  model's and its alias) and the one size ``dimensions`` may ask for (the model's), written again
  when the store's model changes; OpenAI's ``400`` in place of FastAPI's ``422``.

Example (what :func:`install` does to the document FastAPI writes; ``create_app`` installs it):
    >>> from siglip_retriever.app.limits import Limits
    >>> k = {"name": "k", "schema": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}
    >>> document = {"paths": {"/api/search": {"get": {"parameters": [k]}}}}
    >>> with_limits(document, Limits(max_k=20)) is document
    True
    >>> k["schema"]
    {'type': 'integer', 'minimum': 1, 'maximum': 20}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from siglip_retriever.app.errors import OPENAI_PREFIX
from siglip_retriever.app.openai_schemas import MODEL_ALIAS
from siglip_retriever.app.schemas import NOT_BLANK, TEMPLATE_PATTERN

if TYPE_CHECKING:
    from fastapi import FastAPI

    from siglip_retriever.app.limits import Limits

__all__ = ["PICTURE_TYPES", "install", "with_limits", "with_model"]

PICTURE_TYPES = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/avif",
    "image/heic",
    "image/heif",
    "image/gif",
    "image/bmp",
    "image/tiff",
)
"""The media types an uploaded ``image`` may have (the server reads the format from the bytes)."""
_PICTURE = {"contentType": ", ".join(PICTURE_TYPES)}
_TEXT = {"contentType": "text/plain; charset=utf-8"}


def install(app: FastAPI, limits: Limits) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json`` and ``/docs``) declare ``limits`` and the
    model of ``app.state.store``; the document is written again when that model changes."""
    written = app.openapi
    made_for: list[tuple[str, int] | None] = [None]

    def openapi() -> dict[str, Any]:
        store = getattr(app.state, "store", None)
        model = (store.model_name, store.encoder.dim) if store is not None else None
        if app.openapi_schema is None or made_for[0] != model:
            app.openapi_schema = None  # FastAPI's own openapi() writes it again
            document = with_limits(written(), limits)
            app.openapi_schema = with_model(document, *model) if model is not None else document
            made_for[0] = model
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_limits(document: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """``document`` (FastAPI's OpenAPI dict) with the limits written into its parameters and
    request bodies; changed in place and returned."""
    schemas = document.get("components", {}).get("schemas", {})
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            if path.startswith(OPENAI_PREFIX):  # OpenAI's API answers 400, never FastAPI's 422
                operation.get("responses", {}).pop("422", None)
            form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
            if form is not None:  # the media types of the required parts: the picture's, plain text
                body = schemas[form["schema"]["$ref"].rsplit("/", 1)[-1]]
                form["encoding"] = {name: _PICTURE if name == "image" else _TEXT for name in body["required"]}
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                _drop_null(schema)  # a query string cannot say null: an optional parameter is left out
                schema.update(_parameter_limits(parameter["name"], limits))
    for schema in document.get("components", {}).get("schemas", {}).values():
        if schema.get("title", "").startswith("Body_"):
            for name, field in schema.get("properties", {}).items():
                field.update(_field_limits(name, field, limits))
    embeddings = schemas.get("EmbeddingsRequest")
    if embeddings is not None:
        for variant in embeddings["properties"]["input"].get("anyOf", []):
            if variant.get("type") == "array":
                variant.update(minItems=1, maxItems=limits.max_inputs)
    if "HTTPValidationError" not in str(document.get("paths", {})):  # FastAPI's 422, answered by none
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
    return document


def with_model(document: dict[str, Any], name: str, dim: int) -> dict[str, Any]:
    """``document`` with the names ``model`` may take (``name`` and the alias) and the size
    ``dimensions`` may ask for (``dim``) in the embeddings request, and the names in
    ``GET /v1/models/{model}``; changed in place and returned.

    Example:
        >>> request = {"properties": {"model": {"type": "string"}, "dimensions": {}}}
        >>> document = {"components": {"schemas": {"EmbeddingsRequest": request}}}
        >>> fields = with_model(document, "demo", 64)["components"]["schemas"]["EmbeddingsRequest"]
        >>> fields = fields["properties"]
        >>> fields["model"]["enum"], fields["dimensions"]["anyOf"][0]
        (['demo', 'siglip'], {'type': 'integer', 'enum': [64]})
    """
    names = list(dict.fromkeys([name, MODEL_ALIAS]))
    request = document.get("components", {}).get("schemas", {}).get("EmbeddingsRequest")
    if request is not None:
        fields = request["properties"]
        fields["model"]["enum"] = names
        fields["dimensions"].pop("type", None)
        fields["dimensions"]["anyOf"] = [{"type": "integer", "enum": [dim]}, {"type": "null"}]
    one_model = document.get("paths", {}).get(f"{OPENAI_PREFIX}models/{{model}}", {}).get("get")
    if one_model is not None:
        for parameter in one_model.get("parameters", []):
            if parameter["name"] == "model":
                parameter["schema"]["enum"] = names
    return document


def _drop_null(schema: dict[str, Any]) -> None:
    """``anyOf: [X, {type: null}]`` becomes X, in place."""
    variants = [v for v in schema.get("anyOf", []) if v.get("type") != "null"]
    if len(variants) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update(variants[0])


def _parameter_limits(name: str, limits: Limits) -> dict[str, Any]:
    if name == "q":
        return {"minLength": 1, "maxLength": limits.max_query_chars, "pattern": NOT_BLANK}
    if name in ("k", "fetch_k"):
        return {"minimum": 1, "maximum": limits.max_k}
    return {}


def _field_limits(name: str, field: dict[str, Any], limits: Limits) -> dict[str, Any]:
    text = {"type": "string", "maxLength": limits.max_label_chars}
    if name == "labels":
        items = {**text, "minLength": 1, "pattern": NOT_BLANK}
        return {"type": "array", "items": items, "minItems": 1, "maxItems": limits.max_labels}
    if name == "image":  # a file part, or a part without a filename: the same picture's bytes
        field.pop("anyOf", None)
        return {"type": "string", "contentMediaType": "image/*", "minLength": 1}
    if name == "template":
        field.pop("anyOf", None)
        items = {**text, "minLength": 2, "pattern": TEMPLATE_PATTERN}
        return {"type": "array", "items": items, "maxItems": limits.max_labels}
    return {}
