"""Memory readings of this process: its resident memory now, its kernel-counted peak, a sampler.

A child process reads its exact peak from the kernel (:func:`max_rss`); in-process, where the
peak of the whole session would say nothing about one model, :class:`RssSampler` samples
:func:`current_rss` every 5 ms, so a very short spike can be missed.

Example:
    >>> from siglip_retriever.compare.memory import RssSampler
    >>> with RssSampler() as sampler:
    ...     block = bytearray(8 * 2**20)
    >>> sampler.peak >= 0
    True
"""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["SAMPLE_SECONDS", "RssSampler", "current_rss", "max_rss"]

SAMPLE_SECONDS = 0.005
"""How often :class:`RssSampler` reads the resident memory."""


def current_rss() -> int | None:
    """This process's resident memory in bytes (Linux), else ``None``."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def max_rss() -> int | None:
    """The process's peak resident memory in bytes, as the kernel counts it (``None`` on Windows)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


class RssSampler:
    """Sample this process's RSS in a thread and keep the highest value (``peak``, in bytes).

    Example:
        >>> with RssSampler() as sampler:
        ...     pass
        >>> isinstance(sampler.peak, int)
        True
    """

    def __init__(self) -> None:
        self.peak = current_rss() or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, current_rss() or 0)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss() or 0)
