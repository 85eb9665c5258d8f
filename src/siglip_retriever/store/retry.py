"""Bounded retries, with backoff, of store calls that fail because a Chroma server is unreachable.

Only connection-level failures are retried (refused or reset connections, timeouts, a server
that closed the connection mid-reply: ``httpx.TransportError`` and Python's ``ConnectionError``).
Errors the server answers with (a bad filter, a missing collection) are raised at once. Every
call the store retries is idempotent: reads, ``upsert`` (same ids, same content), ``update`` and
``delete`` by id, so a write that reached the server before its reply was lost is harmless to
repeat. When the retries are spent, the error is a
:class:`~siglip_retriever.errors.ServerUnavailableError` naming the server and what to do.

Example:
    >>> from siglip_retriever.store.retry import RetryPolicy
    >>> calls = []
    >>> def flaky() -> str:
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionResetError("connection reset by peer")
    ...     return "answer"
    >>> RetryPolicy(retries=3, backoff=0).call(flaky, "count", "http://127.0.0.1:8000")
    'answer'
    >>> len(calls)
    3
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from siglip_retriever.errors import ConfigurationError, ServerUnavailableError

__all__ = ["RetryPolicy", "is_transient"]

T = TypeVar("T")

_MAX_PAUSE = 8.0  # seconds; the longest single wait between two tries


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the server could not be reached (worth trying again)."""
    if isinstance(exc, ConnectionError):
        return True
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx comes with chromadb
        return False
    return isinstance(exc, httpx.TransportError)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to repeat a call that could not reach the server.

    Args:
        retries: tries after the first one (``0``: no retry).
        backoff: seconds before the first retry; each following wait doubles (at most 8 s).
        sleep: how to wait (tests pass a fake).
    """

    retries: int = 3
    backoff: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigurationError(f"retries must be an integer >= 0, not {self.retries!r}")
        if self.backoff < 0:
            raise ConfigurationError(f"retry_backoff must be >= 0 seconds, not {self.backoff!r}")

    def pauses(self) -> list[float]:
        """The waits between tries, in seconds."""
        return [min(self.backoff * 2**n, _MAX_PAUSE) for n in range(self.retries)]

    def call(self, operation: Callable[[], T], what: str, location: str) -> T:
        """Run ``operation``, repeating it after transient failures; ``what`` names it in errors."""
        started = time.monotonic()
        pauses = self.pauses()
        for attempt in range(len(pauses) + 1):
            try:
                return operation()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt == len(pauses):
                    tries = f"{attempt + 1} tries in {time.monotonic() - started:.1f} s"
                    raise ServerUnavailableError(
                        f"the Chroma server at {location} did not answer ({what}: {exc}; {tries}). "
                        "Check that it is running (chroma run --host HOST --port PORT --path DIR) "
                        "and reachable, then try again"
                    ) from exc
                self.sleep(pauses[attempt])
        raise AssertionError("unreachable")  # pragma: no cover
