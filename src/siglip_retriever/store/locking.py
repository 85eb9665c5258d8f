"""One process at a time in an embedded store: an advisory lock file in the store's directory.

chromadb's embedded client (``PersistentClient``) keeps each collection's vector index in memory
and writes it back to the directory. With chromadb 1.5.9, two processes that have the same
directory open, even when one of them only reads, overwrite each other's index files: both runs
report success, the entry count is right, and afterwards ``get(include=["embeddings"])`` fails
with "Error getting embedding" for entries of the other process (see docs/guides/reliability.md).

So a :class:`~siglip_retriever.MultimodalStore` on a directory holds an exclusive lock on
``<directory>/siglip-retriever.lock`` (``fcntl.flock``) from the moment it opens the directory until
it is closed. Stores in one process share the lock (chromadb shares one client per directory in a
process, which is safe). The operating system drops the lock when the process ends in any way,
``kill -9`` included, so a crashed run never leaves a stale lock behind. The lock file holds the
holder's process id and command line, for the error message of the next process.

Example:
    >>> import tempfile
    >>> from siglip_retriever.store.locking import acquire
    >>> directory = tempfile.mkdtemp()
    >>> lease = acquire(directory, timeout=0)
    >>> again = acquire(directory, timeout=0)  # the same process: shared, not refused
    >>> lease.release(); again.release()
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from siglip_retriever.errors import ConfigurationError, StoreBusyError

__all__ = ["LOCK_FILE", "StoreLease", "acquire"]

LOCK_FILE = "siglip-retriever.lock"
"""The lock file's name inside an embedded store's directory (never delete it while in use)."""


@dataclass
class _Held:
    fd: int
    users: int = 0


_HELD: dict[Path, _Held] = {}
_GUARD = threading.Lock()


@dataclass
class StoreLease:
    """One store's share of this process's lock on a directory; :meth:`release` it once done."""

    directory: Path
    _released: bool = field(default=False, repr=False)

    def release(self) -> None:
        """Give back this share; the lock itself goes when the process's last share does."""
        with _GUARD:
            if self._released:
                return
            self._released = True
            held = _HELD.get(self.directory)
            if held is None:  # forgotten in a forked child
                return
            held.users -= 1
            if held.users == 0:
                del _HELD[self.directory]
                _unlock(held.fd)
                os.close(held.fd)


def acquire(directory: str | os.PathLike[str], timeout: float | None = 0.0) -> StoreLease:
    """Lock ``directory`` for this process, waiting up to ``timeout`` seconds for another one.

    Args:
        directory: an embedded store's directory (it must exist).
        timeout: seconds to wait while another process holds the directory; ``0`` fails at once,
            ``None`` waits as long as it takes.

    Raises:
        StoreBusyError: another process still held the directory when the time was up.
    """
    if timeout is not None and timeout < 0:
        raise ConfigurationError(f"lock_timeout must be >= 0 seconds or None, not {timeout!r}")
    path = Path(directory).resolve()
    lock_path = path / LOCK_FILE
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.02
    fd: int | None = None
    try:
        while True:
            # the guard is held only to look and try, never while waiting: other threads can open
            # other stores meanwhile, and one that gets this directory's lock shares it with us
            with _GUARD:
                held = _HELD.get(path)
                if held is None:
                    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644) if fd is None else fd
                    if _try_lock(fd):
                        _write_holder(fd)
                        held, fd = _Held(fd), None  # the registry owns the descriptor now
                        _HELD[path] = held
                if held is not None:
                    held.users += 1
                    return StoreLease(path)
            if deadline is not None and time.monotonic() >= deadline:
                raise StoreBusyError(_busy_message(path, lock_path, timeout))
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)
    finally:
        if fd is not None:
            os.close(fd)


def _write_holder(fd: int) -> None:
    """Write who holds the lock into the lock file, for the message of a process that waits."""
    holder = f"pid {os.getpid()}: {' '.join([os.path.basename(sys.argv[0]), *sys.argv[1:]])[:300]}\n"
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, holder.encode("utf-8", "replace"))


def _busy_message(directory: Path, lock_path: Path, timeout: float | None) -> str:
    try:
        holder = lock_path.read_text(encoding="utf-8", errors="replace").strip() or "unknown"
    except OSError:
        holder = "unknown"
    waited = f" (waited {timeout:g} s)" if timeout else ""
    return (
        f"the store at {directory} is open in another process ({holder}){waited}. chromadb's "
        "embedded store is safe for one process at a time: wait for that process to finish or "
        "close it, pass lock_timeout=SECONDS to wait for it, or use a Chroma server "
        "(MultimodalStore.connect) for several processes at once"
    )


if sys.platform == "win32":  # pragma: no cover - not tested here
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _forget_in_child() -> None:
    """A forked child is another process: the parent's lock is not the child's to use or drop."""
    global _GUARD
    for held in _HELD.values():
        os.close(held.fd)  # the parent's lock stays: it still has its own descriptor
    _HELD.clear()
    _GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
