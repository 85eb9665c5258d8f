"""The web app's errors: :class:`ApiError` and the handlers that answer every failure as JSON.

Every error is ``{"error": "<code>", "message": "<what happened and what to do>"}``, with the
limit that was passed where there is one. :func:`add_error_handlers` makes a FastAPI app answer
so for its own :class:`ApiError`, for FastAPI's parameter checks (``invalid_request``), for
unknown routes and methods (``not_found``, ``method_not_allowed``) and for the package's own
exceptions (:class:`~siglip_retriever.errors.SiglipRetrieverError`: ``invalid_template``, ``k_too_large``,
``invalid_request``, ``store_unavailable`` or ``internal_error``).

No framework message reaches a client: a parameter that fails FastAPI's checks is described in
this module's own words (:func:`describe_problem`), a body that is not valid multipart is ``422
invalid_request``, and a ``405`` keeps its ``Allow`` header.

Under ``/v1/`` (:data:`OPENAI_PREFIX`, the OpenAI-compatible embeddings API) every error has
OpenAI's shape instead, ``{"error": {"message", "type", "param", "code"}}`` (:meth:`ApiError.openai_body`),
and ``422`` is ``400`` as there: OpenAI's clients read their errors from it.

Example:
    >>> from fastapi import FastAPI
    >>> from fastapi.testclient import TestClient
    >>> from siglip_retriever.app.errors import ApiError, add_error_handlers
    >>> app = FastAPI()
    >>> @app.get("/teapot")
    ... def teapot() -> None:
    ...     raise ApiError(418, "teapot", "this server brews tea")
    >>> add_error_handlers(app)
    >>> client = TestClient(app)
    >>> client.get("/teapot").json()
    {'error': 'teapot', 'message': 'this server brews tea'}
    >>> client.get("/coffee").json()["error"]
    'not_found'
"""

from __future__ import annotations

import logging
from typing import Any

from siglip_retriever.app.framework import (
    FastAPI,
    JSONResponse,
    Request,
    RequestValidationError,
    StarletteHTTPException,
)
from siglip_retriever.errors import (
    ConfigurationError,
    ImageLoadError,
    InvalidTemplateError,
    LimitExceededError,
    ServerUnavailableError,
    SiglipRetrieverError,
)

__all__ = ["OPENAI_PREFIX", "ApiError", "add_error_handlers", "describe_problem", "not_found"]

OPENAI_PREFIX = "/v1/"
"""The paths of the OpenAI-compatible API: their errors are answered in OpenAI's shape."""

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": message, ...}`` with an HTTP status.

    Args:
        status: the HTTP status.
        code: the stable error code (``"error"`` in the body).
        message: what happened and what to do.
        headers: response headers (``Retry-After``, ``Allow``, ``Connection``).
        param: the request field at fault, where one is (OpenAI's ``param``).
        extra: more body fields, such as ``limit``.

    Example:
        >>> from siglip_retriever.app.errors import ApiError
        >>> error = ApiError(422, "k_too_large", "k is at most 100", limit=100)
        >>> error.status, error.body()["limit"]
        (422, 100)
        >>> error.response("/v1/embeddings").status_code  # OpenAI's status for an invalid request
        400
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.param = param
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the response."""
        return {"error": self.code, "message": self.message, **self.extra}

    def openai_body(self) -> dict[str, Any]:
        """The JSON body in OpenAI's error shape, for the ``/v1`` routes.

        Example:
            >>> from siglip_retriever.app.errors import ApiError
            >>> error = ApiError(404, "model_not_found", "no model 'x'", param="model").openai_body()["error"]
            >>> error["type"], error["param"], error["code"]
            ('invalid_request_error', 'model', 'model_not_found')
        """
        kind = "server_error" if self.status >= 500 else "invalid_request_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}

    def response(self, path: str = "") -> JSONResponse:
        """The error as a response to a request for ``path``: in OpenAI's shape, and ``422`` as
        ``400``, under :data:`OPENAI_PREFIX`."""
        if path.startswith(OPENAI_PREFIX):
            status = 400 if self.status == 422 else self.status
            return JSONResponse(self.openai_body(), status_code=status, headers=self.headers or None)
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers or None)


def not_found(message: str = "no image with this id in the store") -> ApiError:
    """A ``404 not_found`` error.

    Example:
        >>> from siglip_retriever.app.errors import not_found
        >>> not_found().body()
        {'error': 'not_found', 'message': 'no image with this id in the store'}
    """
    return ApiError(404, "not_found", message)


def add_error_handlers(app: FastAPI) -> None:
    """Make ``app`` answer every error as JSON (see the module's docstring).

    Args:
        app: the application to configure.
    """
    app.exception_handler(ApiError)(_api_error)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(StarletteHTTPException)(_http)
    app.exception_handler(SiglipRetrieverError)(_package_error)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return exc.response(request.url.path)


def describe_problem(problem: dict[str, Any]) -> str:
    """One failed parameter check (an entry of pydantic's ``errors()``), in this API's own words.

    Example:
        >>> from siglip_retriever.app.errors import describe_problem
        >>> describe_problem({"type": "missing", "loc": ("query", "q")})
        'q is required'
        >>> describe_problem({"type": "less_than_equal", "loc": ("query", "k"), "ctx": {"le": 1.0}})
        'k must be at most 1.0'
        >>> describe_problem({"type": "something_new", "loc": ("body", "image"), "msg": "internal words"})
        'image has an invalid value'
    """
    location = [
        str(part) for part in problem.get("loc", ()) if part not in ("query", "body", "path", "header")
    ]
    name = location[0] if location else "the request"
    if len(location) > 1:
        name = f"{name} (value {location[1]})" if location[1].isdigit() else ".".join(location)
    kind = str(problem.get("type", ""))
    bounds = problem.get("ctx") or {}
    words = {
        "missing": "is required",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "finite_number": "must be a finite number",
        "string_type": "must be text",
        "list_type": "must be a list",
        "bool_parsing": "must be true or false",
        "greater_than_equal": f"must be at least {bounds.get('ge')}",
        "greater_than": f"must be more than {bounds.get('gt')}",
        "less_than_equal": f"must be at most {bounds.get('le')}",
        "less_than": f"must be less than {bounds.get('lt')}",
        "string_too_long": f"must have at most {bounds.get('max_length')} characters",
        "string_too_short": f"must have at least {bounds.get('min_length')} characters",
    }
    if kind in ("value_error", "is_instance_of", "model_attributes_type") or "upload" in kind.lower():
        return f"{name} must be a file (multipart/form-data with a filename)"
    return f"{name} {words.get(kind, 'has an invalid value')}"


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = list(exc.errors())
    if any(p.get("type") == "missing" and tuple(p.get("loc", ()))[-1:] == ("image",) for p in problems):
        return ApiError(
            422, "missing_image", "send an image file in the multipart form field 'image'"
        ).response()
    message = "; ".join(dict.fromkeys(describe_problem(p) for p in problems)) or "invalid request"
    return ApiError(422, "invalid_request", message).response(request.url.path)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _http_error(request, exc).response(request.url.path)


def _http_error(request: Request, exc: StarletteHTTPException) -> ApiError:
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return not_found("no such page, file or API route; the API is documented at /docs")
    if exc.status_code == 405:
        allowed = headers.get("Allow") or headers.get("allow") or "GET, HEAD"  # static files name none
        return ApiError(
            405,
            "method_not_allowed",
            f"{request.method} is not served here; use {allowed}",
            headers={"Allow": allowed},
        )
    if exc.status_code == 400:  # the framework could not parse the body (a malformed multipart form)
        return ApiError(
            422,
            "invalid_request",
            "the request body is not a valid multipart/form-data form; send the image as a file "
            "field (curl -F 'image=@photo.jpg')",
        )
    return ApiError(exc.status_code, "http_error", "the request cannot be answered")


async def _package_error(request: Request, exc: SiglipRetrieverError) -> JSONResponse:
    return _package_api_error(exc).response(request.url.path)


def _package_api_error(exc: SiglipRetrieverError) -> ApiError:
    if isinstance(exc, InvalidTemplateError):
        return ApiError(422, "invalid_template", str(exc))
    if isinstance(exc, LimitExceededError):
        return ApiError(422, "k_too_large", str(exc), limit=exc.limit)
    if isinstance(exc, (ConfigurationError, ImageLoadError)):
        return ApiError(422, "invalid_request", str(exc))
    if isinstance(exc, ServerUnavailableError):
        return ApiError(503, "store_unavailable", str(exc))
    logger.exception("request failed")
    return ApiError(500, "internal_error", str(exc))
