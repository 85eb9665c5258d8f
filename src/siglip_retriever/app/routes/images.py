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
from collections.abc import Callable

from siglip_retriever.app.framework import APIRouter, DecoratedCallable, FileResponse, Request, Response
from siglip_retriever.app.schemas import ID_RESPONSES
from siglip_retriever.app.service import ServiceDep

__all__ = ["etag_matches", "router"]

router = APIRouter(tags=["images"])


def _picture_route(
    path: str, media_type: str, description: str, response_class: type[Response]
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The decorator of a route answering a stored picture's bytes by id (``404`` documented)."""
    answer = {"content": {media_type: {}}, "description": description}
    return router.get(path, responses={200: answer, **ID_RESPONSES}, response_class=response_class)


def _unless_unchanged(
    request: Request, etag: str, max_age: int, answer: Callable[[dict[str, str]], Response]
) -> Response:
    """``answer(headers)``, or ``304 Not Modified`` when the request's ``If-None-Match`` names
    ``etag``; the headers carry the ETag and how long a browser may keep the answer."""
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={max_age}"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return answer(headers)


@_picture_route("/api/images/{image_id}", "image/*", "The picture's file.", FileResponse)
def image_file(request: Request, service: ServiceDep, image_id: str) -> Response:
    """A stored picture, read from the path the store recorded for this id."""
    path = service.stored_file(image_id)
    stat = path.stat()
    tag = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    return _unless_unchanged(
        request,
        f'"{tag}"',
        3600,
        lambda headers: FileResponse(
            path,
            media_type=service.media_type(path),
            headers=headers,
            filename=path.name,
            content_disposition_type="inline",
        ),
    )


@_picture_route("/api/images/{image_id}/thumbnail", "image/jpeg", "A JPEG thumbnail.", Response)
def thumbnail(request: Request, service: ServiceDep, image_id: str) -> Response:
    """A small JPEG of a stored picture (cached; ETag and Cache-Control for browsers)."""
    thumb = service.thumbnail(image_id)
    return _unless_unchanged(
        request,
        thumb.etag,
        86400,
        lambda headers: Response(thumb.data, media_type=thumb.media_type, headers=headers),
    )


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
