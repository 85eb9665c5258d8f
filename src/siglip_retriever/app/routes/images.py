"""The web app's picture routes: a stored picture and its thumbnail, found by id in the store.

- ``GET /api/images/{id}``: the picture's file, served from the path the store recorded for
  this id (never a path taken from the request), with its media type read from its content;
- ``GET /api/images/{id}/thumbnail``: a small JPEG of it, cached, with an ``ETag`` so that
  browsers revalidate with ``If-None-Match`` and get ``304 Not Modified``.

An id the store does not hold, a text entry, an image stored without a file, and a file gone or
no longer a picture are all ``404 not_found``.

Example:
    >>> from siglip_retriever.app.routes.images import router
    >>> [route.name for route in router.routes]
    ['image_file', 'thumbnail']
"""

from __future__ import annotations

from siglip_retriever.app.schemas import ERROR_RESPONSES
from siglip_retriever.app.service import ServiceDep
from siglip_retriever.errors import MissingDependencyError

try:
    from fastapi import APIRouter, Request
    from fastapi.responses import FileResponse, Response
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError("fastapi", "app", "The web app") from exc

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/api/images/{image_id}",
    responses={200: {"content": {"image/*": {}}, "description": "The picture's file."}, **ERROR_RESPONSES},
    response_class=FileResponse,
    tags=["images"],
)
def image_file(service: ServiceDep, image_id: str) -> FileResponse:
    """A stored picture, read from the path the store recorded for this id."""
    path, media_type = service.picture(image_id)
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=3600"},
        filename=path.name,
        content_disposition_type="inline",
    )


@router.get(
    "/api/images/{image_id}/thumbnail",
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG thumbnail."}, **ERROR_RESPONSES},
    response_class=Response,
    tags=["images"],
)
def thumbnail(request: Request, service: ServiceDep, image_id: str) -> Response:
    """A small JPEG of a stored picture (cached; ETag and Cache-Control for browsers)."""
    thumb = service.thumbnail(image_id)
    headers = {"ETag": thumb.etag, "Cache-Control": "private, max-age=86400"}
    if thumb.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(thumb.data, media_type=thumb.media_type, headers=headers)
