"""The web app's picture routes: a stored picture and its thumbnail, found by id in the store.

- ``GET /api/images/{id}``: the picture's file, served from the path the store recorded for
  this id (never a path taken from the request), with its media type read from its content;
- ``GET /api/images/{id}/thumbnail``: a small JPEG of it, cached.

Both carry a strong ``ETag`` (changing with the file's path, size and modification time, and
the thumbnail size) and answer ``304 Not Modified`` to a matching ``If-None-Match``
(:func:`etag_matches`), without reading the file again.

An id the store does not hold, a text entry, an image stored without a file, and a file gone or
no longer a picture are all ``404 not_found``.

Example:
    >>> from siglip_retriever.app.routes.images import router
    >>> [route.name for route in router.routes]
    ['image_file', 'thumbnail']
"""

from __future__ import annotations

import hashlib

from siglip_retriever.app.schemas import ID_RESPONSES
from siglip_retriever.app.service import ServiceDep
from siglip_retriever.errors import MissingDependencyError

try:
    from fastapi import APIRouter, Request
    from fastapi.responses import FileResponse, Response
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError("fastapi", "app", "The web app") from exc

__all__ = ["etag_matches", "router"]

router = APIRouter()


@router.get(
    "/api/images/{image_id}",
    responses={200: {"content": {"image/*": {}}, "description": "The picture's file."}, **ID_RESPONSES},
    response_class=FileResponse,
    tags=["images"],
)
def image_file(request: Request, service: ServiceDep, image_id: str) -> Response:
    """A stored picture, read from the path the store recorded for this id."""
    path = service.stored_file(image_id)
    stat = path.stat()
    tag = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    headers = {"ETag": f'"{tag}"', "Cache-Control": "private, max-age=3600"}
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        path,
        media_type=service.media_type(path),
        headers=headers,
        filename=path.name,
        content_disposition_type="inline",
    )


@router.get(
    "/api/images/{image_id}/thumbnail",
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG thumbnail."}, **ID_RESPONSES},
    response_class=Response,
    tags=["images"],
)
def thumbnail(request: Request, service: ServiceDep, image_id: str) -> Response:
    """A small JPEG of a stored picture (cached; ETag and Cache-Control for browsers)."""
    thumb = service.thumbnail(image_id)
    headers = {"ETag": thumb.etag, "Cache-Control": "private, max-age=86400"}
    if etag_matches(request.headers.get("if-none-match"), thumb.etag):
        return Response(status_code=304, headers=headers)
    return Response(thumb.data, media_type=thumb.media_type, headers=headers)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (or is ``*``), compared weakly as
    RFC 9110 says for this header.

    Example:
        >>> from siglip_retriever.app.routes.images import etag_matches
        >>> etag_matches('"a", W/"b"', '"b"'), etag_matches("*", '"b"'), etag_matches('"ab"', '"b"')
        (True, True, False)
    """
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or etag.removeprefix("W/") in (tag.removeprefix("W/") for tag in tags)
