"""The web app's picture routes: a stored picture, its file and its thumbnail, found by id in the store.

- ``GET /api/images/{id}``: the picture: its file, served from the path the store recorded for
  this id (never a path taken from the request), with its media type read from its content; for
  a PDF's page (or a figure in it) the page rendered (the figure's pixels) as PNG, read from the
  PDF's one page now; for a video's moment, its frame as PNG, read from the video now;
- ``GET /api/images/{id}/file``: the file as stored: the PDF of a PDF's page or figure
  (``application/pdf``; a hit's ``file_url`` opens it at its page with ``#page=N``), the video of
  a moment (``video/mp4``, ``video/webm``...; a hit's ``file_url`` plays its span with
  ``#t=start,end``), else the picture's own file;
- ``GET /api/images/{id}/thumbnail``: a small JPEG of the picture (a moment's frame), cached.

All carry a strong ``ETag`` (changing with the file's path, size and modification time, the
page, and the thumbnail size) and answer ``304 Not Modified`` to a matching ``If-None-Match``
(:func:`etag_matches`), without reading the file again. A file served as it is answers a
``Range`` with the one part it asks (``206``; ``416`` past the file's end), which is how browsers
seek in a video (:mod:`~siglip_retriever.app.ranges`).

An id the store does not hold, a text entry, an image stored without a file, and a file gone or
no longer a picture (or a PDF) are all ``404 not_found``.

Example:
    >>> from siglip_retriever.app.routes.images import router
    >>> [route.name for route in router.routes]
    ['image_file', 'stored_file', 'thumbnail']
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from siglip_retriever.app.framework import APIRouter, DecoratedCallable, FileResponse, Request, Response
from siglip_retriever.app.media import file_media_type, media_type, part_key
from siglip_retriever.app.ranges import serve_file
from siglip_retriever.app.schemas import ID_RESPONSES, RANGE_RESPONSES
from siglip_retriever.app.service import ServiceDep

__all__ = ["PDF_POLICY", "etag_matches", "router"]

PDF_POLICY = "default-src 'none'; object-src 'self'; frame-ancestors 'none'; base-uri 'none'"
"""The ``Content-Security-Policy`` of a served PDF: nothing runs or loads in it but the browser's
own PDF viewer (the app's policy, ``object-src 'none'``, would block that viewer)."""

router = APIRouter(tags=["images"])

_PARTIAL = "The one byte range a Range header asks of the file (Content-Range says which)."
_RANGE_HEADERS = {
    "Content-Range": {"description": "The bytes sent and the file's size.", "schema": {"type": "string"}},
    "Accept-Ranges": {"description": "bytes", "schema": {"type": "string"}},
}


def _picture_route(
    path: str, media_types: tuple[str, ...], description: str, response_class: type[Response]
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The decorator of a route answering a stored picture's bytes by id (``404`` documented; a
    file's route documents its byte ranges, ``206`` and ``416``, too)."""
    content: dict[str, dict[str, Any]] = {media_type: {} for media_type in media_types}
    responses: dict[int | str, dict[str, Any]] = {200: {"content": content, "description": description}}
    if response_class is FileResponse:
        responses[206] = {"content": content, "description": _PARTIAL, "headers": _RANGE_HEADERS}
        responses.update(RANGE_RESPONSES)
    return router.get(path, responses={**responses, **ID_RESPONSES}, response_class=response_class)


def _unless_unchanged(
    request: Request, etag: str, max_age: int, answer: Callable[[dict[str, str]], Response]
) -> Response:
    """``answer(headers)``, or ``304 Not Modified`` when the request's ``If-None-Match`` names
    ``etag``; the headers carry the ETag and how long a browser may keep the answer."""
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={max_age}"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return answer(headers)


@_picture_route(
    "/api/images/{image_id}",
    ("image/*",),
    "The picture: its file, or a PDF's page rendered (or its figure), or a video moment's frame, as PNG.",
    FileResponse,
)
def image_file(request: Request, service: ServiceDep, image_id: str) -> Response:
    """A stored picture, read from the path the store recorded for this id; for a PDF's page, the
    page rendered as PNG (a figure: its own pixels), read from the PDF now; for a video's
    moment, its frame as PNG."""
    item, path = service.stored_file(image_id)
    part = part_key(item.metadata)
    if part:
        return _unless_unchanged(
            request,
            _file_tag(path, part),
            3600,
            lambda headers: Response(service.rendered(item), media_type="image/png", headers=headers),
        )
    return _file_answer(request, path, media_type(path))


@_picture_route(
    "/api/images/{image_id}/file",
    ("application/pdf", "image/*", "video/*"),
    "The file as stored: a PDF for a PDF's page or figure (open it at #page=N), a video for a "
    "moment (play it from #t=start,end), else the picture.",
    FileResponse,
)
def stored_file(request: Request, service: ServiceDep, image_id: str) -> Response:
    """The file that holds a stored picture, as it is on disk: the PDF of a PDF's page or figure
    (a hit's ``file_url`` adds ``#page=N``, which PDF viewers open the page at), the video of a
    moment (``#t=start,end``: browsers play that span), else the picture's own file; read from
    the path the store recorded for this id, whole or the byte range asked (``Range``)."""
    item, path = service.stored_file(image_id)
    return _file_answer(request, path, file_media_type(item, path))


@_picture_route("/api/images/{image_id}/thumbnail", ("image/jpeg",), "A JPEG thumbnail.", Response)
def thumbnail(request: Request, service: ServiceDep, image_id: str) -> Response:
    """A small JPEG of a stored picture, PDF page or video moment's frame (cached; ETag and
    Cache-Control for browsers)."""
    thumb = service.thumbnail(image_id)
    return _unless_unchanged(
        request,
        thumb.etag,
        86400,
        lambda headers: Response(thumb.data, media_type=thumb.media_type, headers=headers),
    )


def _file_tag(path: Path, part: str = "", stat: os.stat_result | None = None) -> str:
    """A strong ETag of a file (its path, size and time) or of a picture read out of it."""
    stat = stat or path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}" + (f"|{part}" if part else "")
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


def _file_answer(request: Request, path: Path, media_type: str) -> Response:
    """A stored file, inline under its own name, whole or the one byte range the request asks
    (:mod:`~siglip_retriever.app.ranges`); a PDF with a policy that lets browsers' PDF viewers
    show it (the app's own policy forbids plugins)."""
    stat = path.stat()
    etag = _file_tag(path, stat=stat)
    extra = {"Content-Security-Policy": PDF_POLICY} if media_type == "application/pdf" else {}

    return _unless_unchanged(
        request,
        etag,
        3600,
        lambda headers: serve_file(
            request, path, stat, etag, media_type=media_type, headers={**headers, **extra}
        ),
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
