"""The threads that decode images while the model runs: one shared pool per size and priority.

Decoding (PIL) releases the GIL, so worker threads read and preprocess the next images while the
model embeds the current ones. On a CPU the threads run at a lower priority than the caller, so
the forward pass keeps the cores and decoding fills the gaps. Pools are shared by every encoder
of the process and started afresh in a forked child.

Example:
    >>> from siglip_retriever.encoding.pools import decode_pool, submit
    >>> pool = decode_pool(2, low_priority=True)
    >>> decode_pool(2, low_priority=True) is pool, submit(pool, sum, [1, 2]).result()
    (True, 3)
    >>> submit(None, sum, [1, 2]).result()  # no pool: run now, in this thread
    3
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["decode_pool", "default_workers", "submit"]

_T = TypeVar("_T")

_CPU_DECODE_NICENESS = 19
"""How much lower than the caller's priority decode threads run when the model is on the CPU (19:
the lowest): the forward pass keeps the cores, decoding fills the gaps and catches up when the
model waits. +19 rather than +10: fbgemm's int8 kernels lose most when a decode thread preempts
one of their threads (BENCHMARKS.md, int8)."""


def default_workers(device: str) -> int:
    """Decode threads for a model on ``device``: 2 on a CPU, one per core (2 to 16) on a GPU."""
    cores = os.cpu_count() or 1
    if device == "cpu":
        return min(2, cores)
    return max(2, min(16, cores))


_POOLS: dict[tuple[int, bool], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools() -> None:
    """In a forked child the parent's threads do not exist: start new pools there."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _lower_priority() -> None:
    """Run the calling (worker) thread at a lower priority, where the OS allows it (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(
                os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + _CPU_DECODE_NICENESS)
            )
        except OSError:  # pragma: no cover - a sandbox may refuse it; decoding works regardless
            pass


def decode_pool(workers: int, *, low_priority: bool) -> ThreadPoolExecutor:
    """One pool of decode threads per (size, priority), shared by every encoder in the process."""
    key = (workers, low_priority)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = ThreadPoolExecutor(
                max_workers=workers,
                thread_name_prefix="siglip-decode",
                initializer=_lower_priority if low_priority else None,
            )
            _POOLS[key] = pool
        return pool


def submit(pool: ThreadPoolExecutor | None, function: Callable[..., _T], *args: Any) -> Future[_T]:
    """Run ``function(*args)`` in ``pool``, or now in this thread when ``pool`` is ``None``.

    Either way the result (or the exception) comes from the returned future.
    """
    if pool is not None:
        return pool.submit(function, *args)
    future: Future[_T] = Future()
    try:
        future.set_result(function(*args))
    except Exception as exc:  # handed to whoever asks for the result, as a pool does
        future.set_exception(exc)
    return future
