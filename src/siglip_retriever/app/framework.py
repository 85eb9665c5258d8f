"""The web framework the app is built on (FastAPI, Starlette, pydantic), imported in one place.

Every module of the app takes these names from here, so a missing ``app`` extra is one clear
:class:`~siglip_retriever.errors.MissingDependencyError` that names the extra, wherever the app is
first touched (``siglip_retriever.app.create_app``, a route module, ``siglip-retriever serve``).

Example:
    >>> from siglip_retriever.app.framework import APIRouter
    >>> APIRouter().routes
    []
"""

from __future__ import annotations

from siglip_retriever.errors import MissingDependencyError

try:
    from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.routing import APIRoute
    from fastapi.staticfiles import StaticFiles
    from fastapi.types import DecoratedCallable
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError("fastapi", "app", "The web app") from exc

__all__ = [
    "APIRoute",
    "APIRouter",
    "BaseModel",
    "ConfigDict",
    "DecoratedCallable",
    "Depends",
    "FastAPI",
    "Field",
    "File",
    "FileResponse",
    "Form",
    "JSONResponse",
    "Query",
    "Request",
    "RequestValidationError",
    "Response",
    "StarletteHTTPException",
    "StaticFiles",
    "UploadFile",
]
