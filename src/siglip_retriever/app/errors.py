"""The web app's errors: :class:`ApiError` and the handlers that answer every failure as JSON.

Every error is ``{"error": "<code>", "message": "<what happened and what to do>"}``, with the
limit that was passed where there is one. :func:`add_error_handlers` makes a FastAPI app answer
so for its own :class:`ApiError`, for FastAPI's parameter checks (``invalid_request``), for
unknown routes and methods (``not_found``, ``method_not_allowed``) and for the package's own
exceptions (:class:`~siglip_retriever.errors.SiglipRetrieverError`: ``invalid_request``,
``store_unavailable`` or ``internal_error``).

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

from siglip_retriever.errors import (
    ConfigurationError,
    ImageLoadError,
    MissingDependencyError,
    ServerUnavailableError,
    SiglipRetrieverError,
)

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError("fastapi", "app", "The web app") from exc

__all__ = ["ApiError", "add_error_handlers", "not_found"]

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": message, ...}`` with an HTTP status.

    Example:
        >>> from siglip_retriever.app.errors import ApiError
        >>> error = ApiError(422, "k_too_large", "k is at most 100", limit=100)
        >>> error.status, error.body()["limit"]
        (422, 100)
    """

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the response."""
        return {"error": self.code, "message": self.message, **self.extra}

    def response(self) -> JSONResponse:
        """The error as a response."""
        return JSONResponse(self.body(), status_code=self.status)


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
    return exc.response()


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'body'))}: {e.get('msg')}"
        for e in exc.errors()
    )
    return ApiError(422, "invalid_request", problems or "invalid request").response()


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 404:
        message = "no such page, file or API route; the API is documented at /docs"
    return ApiError(exc.status_code, code, message).response()


async def _package_error(request: Request, exc: SiglipRetrieverError) -> JSONResponse:
    if isinstance(exc, (ConfigurationError, ImageLoadError)):
        return ApiError(422, "invalid_request", str(exc)).response()
    if isinstance(exc, ServerUnavailableError):
        return ApiError(503, "store_unavailable", str(exc)).response()
    logger.exception("request failed")
    return ApiError(500, "internal_error", str(exc)).response()
