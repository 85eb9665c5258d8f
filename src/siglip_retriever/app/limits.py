"""The web app's limits: what one request may ask of the server.

Each limit, when a request goes past it, is answered with its own 4xx JSON error (see
:mod:`siglip_retriever.app.api` for the codes): the upload size by the guard
(:mod:`siglip_retriever.app.middleware`), the others by the routes' service
(:mod:`siglip_retriever.app.service`). Never a crash or a silent truncation.

Example:
    >>> from siglip_retriever.app.limits import Limits
    >>> Limits().max_k
    100
    >>> Limits(max_upload_bytes=1024).upload_limit_text
    '1.0 KiB'
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields

from siglip_retriever.errors import ConfigurationError

__all__ = ["Limits", "default_decode_slots", "format_bytes"]


def default_decode_slots() -> int:
    """How many uploads or thumbnails are decoded at once by default: one per CPU core, 1 to 4.

    Decoding is CPU work, so more at once than there are cores only adds memory; 4 bounds the
    memory of large uploads on big machines, one decoded picture per slot (BENCHMARKS.md, "Web
    API: hostile requests", has the memory it took).

    Example:
        >>> from siglip_retriever.app.limits import default_decode_slots
        >>> 1 <= default_decode_slots() <= 4
        True
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores))


def format_bytes(count: int) -> str:
    """``1536`` -> ``'1.5 KiB'``: a byte count as people read it."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Limits:
    """What one request to the web app may ask for (each limit is described beside it).

    Raises:
        ConfigurationError: a limit that is not a positive integer.

    Example:
        >>> from siglip_retriever.app.limits import Limits
        >>> strict = Limits(max_upload_bytes=2_000_000, max_pixels=4_000_000, max_k=20)
        >>> strict.max_k, strict.max_query_chars
        (20, 500)
    """

    max_upload_bytes: int = 10 * 1024 * 1024
    """Largest request body (an uploaded image and its form fields); larger bodies get
    ``413 upload_too_large`` before they are read in full."""
    max_pixels: int = 50_000_000
    """Largest uploaded image, in pixels (width x height); larger images get
    ``413 too_many_pixels`` before they are decoded (a decompression-bomb guard). Also the largest
    stored picture a thumbnail is made from."""
    max_k: int = 100
    """Most hits one search may ask for; more gets ``422 k_too_large``."""
    max_query_chars: int = 500
    """Longest text query; longer gets ``422 query_too_long``."""
    max_labels: int = 50
    """Most labels one zero-shot request may give (``422 too_many_labels``)."""
    max_label_chars: int = 200
    """Longest label or template (``422 label_too_long``)."""
    max_inputs: int = 2048
    """Most texts and images one ``POST /v1/embeddings`` request may give, as OpenAI's API
    (``400 too_many_inputs``); LangChain's ``OpenAIEmbeddings`` sends at most 1,000 at once."""
    max_concurrent_decodes: int = dataclasses.field(default_factory=default_decode_slots)
    """Uploads and thumbnails decoded at the same time (default: one per CPU core, 1 to 4); more
    wait for a free slot, which bounds the server's memory under many large uploads at once."""
    busy_wait_seconds: int = 20
    """How long a request waits for a free decoding slot, or for the model, before ``503 busy``
    (with ``Retry-After``)."""
    max_batch: int = 32
    """Most texts or pictures of concurrent requests encoded in one forward pass of the model
    (:class:`~siglip_retriever.encoding.queue.EncodeQueue`); 1: one at a time, as a lock would."""
    batch_wait_ms: int = 3
    """Longest a request waits, when the model is idle, for others to share its forward pass."""
    body_timeout_seconds: int = 30
    """A request body must arrive in full within this many seconds, or the request gets
    ``408 request_timeout`` and its connection is closed (slow or stalled uploads)."""
    keep_alive_seconds: int = 5
    """A connection with no request in progress is closed after this many seconds: idle after a
    response, or opened without a complete request head (used by
    :mod:`siglip_retriever.app.server`)."""
    thumbnail_size: int = 256
    """The longer side of thumbnails, in pixels (16 to 1024)."""
    thumbnail_cache_bytes: int = 64 * 1024 * 1024
    """Memory kept for encoded thumbnails (least recently used go first)."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"Limits.{field.name} must be a positive integer, not {value!r}")
        if not 16 <= self.thumbnail_size <= 1024:
            raise ConfigurationError(
                f"Limits.thumbnail_size must be between 16 and 1024 pixels, not {self.thumbnail_size}"
            )

    @property
    def upload_limit_text(self) -> str:
        """The upload limit as people read it (``'10.0 MiB'``)."""
        return format_bytes(self.max_upload_bytes)

    def to_dict(self) -> dict[str, int]:
        """The limits as a JSON-ready dict (served by ``GET /api/info``)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}
