"""The web app's byte ranges: a stored file served whole, or the one part of it a ``Range`` asks for.

Browsers seek in a video by asking for parts of its file (``Range: bytes=a-b``, ``a-`` or
``-n``); :func:`requested_range` reads that header as RFC 9110 says, and :class:`FileAnswer`
serves the file as Starlette's ``FileResponse`` does (in chunks, never the whole file in
memory), whole (``200``) or the one range (``206 Partial Content`` with ``Content-Range``),
always with ``Accept-Ranges: bytes``:

- a range that starts past the file's end (or a suffix of no bytes) is unsatisfiable:
  ``416`` with ``Content-Range: bytes */<size>`` (:func:`unsatisfiable`);
- a header that is malformed, names another unit, or asks for several ranges is ignored and the
  whole file served (RFC 9110 allows a server to ignore any ``Range``), so no request makes the
  server assemble a ``multipart/byteranges`` answer;
- an ``If-Range`` that names neither the file's ETag (compared strongly) nor its
  ``Last-Modified`` date means the copy the browser holds is stale: the whole file (:func:`range_applies`);
- a ``HEAD`` (which the app's guard passes on as ``GET``, marking it :data:`HEAD_KEY`) gets the
  same headers and reads nothing of the file.

Example:
    >>> from siglip_retriever.app.ranges import requested_range
    >>> requested_range("bytes=0-99", 1000), requested_range("bytes=900-", 1000)
    ((0, 99), (900, 999))
    >>> requested_range("bytes=-100", 1000), requested_range("bytes=0-1,5-9", 1000)
    ((900, 999), None)
    >>> requested_range("bytes=1000-", 1000)
    Traceback (most recent call last):
    ...
    siglip_retriever.app.ranges.RangeNotSatisfiable: no byte of bytes=1000- is in a file of 1000 bytes
"""

from __future__ import annotations

import os
import re
from email.utils import formatdate
from pathlib import Path
from typing import Any

from siglip_retriever.app.errors import ApiError
from siglip_retriever.app.framework import FileResponse, Request
from siglip_retriever.app.middleware import HEAD_KEY, Receive, Scope, Send

__all__ = [
    "FileAnswer",
    "RangeNotSatisfiable",
    "range_applies",
    "requested_range",
    "serve_file",
    "unsatisfiable",
]

_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]{0,19})\s*-\s*([0-9]{0,19})\s*", re.IGNORECASE | re.ASCII)
"""One byte range (a longer number than 19 digits is not read: the whole file is served)."""
_RANGE_HEADERS = (b"range", b"if-range")


class RangeNotSatisfiable(ValueError):
    """A ``Range`` whose bytes are all past the end of the file (answered ``416``).

    Args:
        header: the ``Range`` header.
        size: the file's size in bytes.

    Example:
        >>> from siglip_retriever.app.ranges import RangeNotSatisfiable
        >>> RangeNotSatisfiable("bytes=-0", 10).size
        10
    """

    def __init__(self, header: str, size: int) -> None:
        super().__init__(f"no byte of {header.strip()} is in a file of {size} bytes")
        self.size = size


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range a ``Range`` header asks of a file, as ``(first, last)`` (both included,
    ``last`` cut to the file's end); ``None`` to serve the whole file: no header, another unit,
    several ranges, or a malformed one (``b-a`` with ``b > a`` included).

    Args:
        header: the request's ``Range`` header, or ``None``.
        size: the file's size in bytes.

    Raises:
        RangeNotSatisfiable: the range starts at or past the end of the file, or is a suffix of
            no bytes (``-0``).

    Example:
        >>> from siglip_retriever.app.ranges import requested_range
        >>> requested_range("bytes=10-5000", 1000), requested_range("items=0-5", 1000)
        ((10, 999), None)
        >>> requested_range("bytes=-5000", 1000), requested_range("bytes=5-2", 1000)
        ((0, 999), None)
    """
    found = _RANGE.fullmatch(header or "")
    if found is None:
        return None
    first, last = found.group(1), found.group(2)
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header or "", size)
        return max(size - suffix, 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(header or "", size)
    return start, min(int(last), size - 1) if last else size - 1


def range_applies(if_range: str | None, etag: str, last_modified: str) -> bool:
    """Whether a ``Range`` is to be honoured under an ``If-Range`` header: there is none, or it
    names the file's strong ETag or its ``Last-Modified`` date exactly (a weak ETag never does).

    Example:
        >>> from siglip_retriever.app.ranges import range_applies
        >>> range_applies(None, '"a"', "d"), range_applies('"a"', '"a"', "d")
        (True, True)
        >>> range_applies('W/"a"', '"a"', "d"), range_applies('"b"', '"a"', "d")
        (False, False)
    """
    if if_range is None:
        return True
    value = if_range.strip()
    return not value.startswith("W/") and value in (etag, last_modified)


def unsatisfiable(size: int) -> ApiError:
    """The ``416 range_not_satisfiable`` error of a file of ``size`` bytes, with ``Content-Range:
    bytes */size`` as RFC 9110 asks.

    Example:
        >>> from siglip_retriever.app.ranges import unsatisfiable
        >>> error = unsatisfiable(1000)
        >>> error.status, error.headers["Content-Range"]
        (416, 'bytes */1000')
    """
    return ApiError(
        416,
        "range_not_satisfiable",
        f"the range asks for bytes past the end of the file, which has {size} bytes; "
        "ask for a range that starts before its end",
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )


class FileAnswer(FileResponse):
    """A file served whole, or the one byte range given (``206``), in chunks.

    Starlette's ``FileResponse`` serves the range; this class decides which: the request's own
    ``Range`` and ``If-Range`` never reach it, only ``part`` (already checked with
    :func:`requested_range` and :func:`range_applies`). A ``HEAD`` reads nothing of the file.

    Args:
        path: the file.
        part: the byte range to serve, ``(first, last)`` both included; ``None``: the whole file.
        stat_result: the file's ``os.stat``, taken when ``part`` was decided.
        **kwargs: as ``FileResponse`` takes them (``media_type``, ``headers``, ``filename``...).

    Example:
        >>> import os, tempfile
        >>> from fastapi import FastAPI
        >>> from fastapi.testclient import TestClient
        >>> from siglip_retriever.app.ranges import FileAnswer
        >>> path = tempfile.mkdtemp() + "/numbers.txt"
        >>> _ = open(path, "w").write("0123456789")
        >>> app = FastAPI()
        >>> _ = app.get("/n")(lambda: FileAnswer(path, part=(2, 4), stat_result=os.stat(path)))
        >>> answer = TestClient(app).get("/n", headers={"range": "bytes=0-0"})
        >>> answer.status_code, answer.text, answer.headers["content-range"]
        (206, '234', 'bytes 2-4/10')
    """

    def __init__(
        self, path: Path | str, *, part: tuple[int, int] | None, stat_result: os.stat_result, **kwargs: Any
    ) -> None:
        super().__init__(path, stat_result=stat_result, **kwargs)
        self.part = part

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the file: the range decided, never the one the request names itself."""
        headers = [(name, value) for name, value in scope["headers"] if name.lower() not in _RANGE_HEADERS]
        if self.part is not None:
            headers.append((b"range", f"bytes={self.part[0]}-{self.part[1]}".encode("latin-1")))
        method = "HEAD" if scope.get(HEAD_KEY) else scope.get("method", "GET")
        await super().__call__({**scope, "headers": headers, "method": method}, receive, send)


def serve_file(request: Request, path: Path, stat: os.stat_result, etag: str, **kwargs: Any) -> FileAnswer:
    """A stored file, inline under its own name, as ``request`` asks: whole, or the one byte range
    of its ``Range`` (unless its ``If-Range`` names another version of the file).

    Args:
        request: the request.
        path: the file.
        stat: its ``os.stat``, from which ``etag`` was made.
        etag: the file's strong ETag (the answer carries it in ``kwargs["headers"]``).
        **kwargs: ``media_type``, ``headers``, as ``FileResponse`` takes them.

    Raises:
        ApiError: ``416 range_not_satisfiable`` (:func:`unsatisfiable`).
    """
    part = None
    if range_applies(request.headers.get("if-range"), etag, formatdate(stat.st_mtime, usegmt=True)):
        try:
            part = requested_range(request.headers.get("range"), stat.st_size)
        except RangeNotSatisfiable:
            raise unsatisfiable(stat.st_size) from None
    return FileAnswer(
        path, part=part, stat_result=stat, filename=path.name, content_disposition_type="inline", **kwargs
    )
