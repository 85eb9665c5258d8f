"""Worker processes that decode and preprocess images, handing the arrays back through shared memory.

Threads decode well while the GIL is free, but each picture still holds it for a few
milliseconds (the processor, the fingerprint, metadata), so a thread-based pipeline tops out at a
few hundred pictures a second however many cores a host has. :class:`PreparerPool` runs the
per-picture step in worker processes instead, so that decoding scales with cores and the process
that runs the model only batches, runs it and writes.

- Workers start from the ``forkserver`` context (``spawn`` where there is none), never ``fork``:
  a forked copy of a process that has run torch inherits its thread pools in an unusable state.
  The fork server imports this module, the step's and the image processor's, once.
- Each worker owns ``depth`` shared-memory slots (allocated by the parent, sized for the
  checkpoint's model inputs from a probe picture, reused for every task). A worker writes a
  picture's arrays into the slot of its task and sends only the small results (the step's
  picklable extra, the sizes, where each array lies) through its pipe; the parent copies the
  arrays out of the slot into the :class:`~siglip_retriever.encoding.preparing.PreparedImage` it
  hands on, and the slot takes the worker's next task. Inputs larger than the slot (a
  variable-resolution processor's larger picture) come back as a pickled copy instead
  (:attr:`PreparerPool.pickled` counts them).
- Dispatch is the pool's own: at most ``depth`` tasks in flight per worker, the others wait in
  order. When a worker dies (a decoder's segfault on a hostile file, SIGKILL, the OOM killer),
  the task it was running fails with :class:`~siglip_retriever.errors.ImageLoadError` ("the
  decoder crashed on this file (worker process exited with signal 9)"), the task queued behind it
  goes to another worker, a new worker takes its place, and the pool goes on.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from siglip_retriever import SiglipEncoder
    >>> from siglip_retriever.encoding.processes import PreparerPool
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()))
    >>> path = Path(tempfile.mkdtemp()) / "red.png"
    >>> Image.new("RGB", (64, 48), "red").save(path)
    >>> with PreparerPool(encoder.image_preparer(), workers=1) as pool:
    ...     prepared, _ = pool.submit(str(path)).result()
    >>> (prepared.width, prepared.height), encoder.encode_images([prepared]).shape
    ((64, 48), (1, 32))
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing import connection
from multiprocessing.shared_memory import SharedMemory
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage
from siglip_retriever.errors import ConfigurationError, ImageLoadError

if TYPE_CHECKING:
    from multiprocessing.context import ForkServerContext, SpawnContext
    from multiprocessing.process import BaseProcess

__all__ = ["PoolResult", "PreparerPool", "Step", "prepare_step"]

PoolResult = tuple[PreparedImage | None, Any]
"""What a task gives: the prepared picture (``None`` when the step prepared none) and the step's
small picklable extra."""

Step = Callable[[ImagePreparer, Any, Any], PoolResult]
"""The per-task step run in a worker: ``step(preparer, state, task) -> (prepared, extra)``; a
module-level function (it is pickled by name)."""

_START_FAILURES = 3  # workers in a row that die before they are ready: the pool gives up
_ALIGN = 64  # bytes: where each array of a slot starts
_STOP_SECONDS = 5.0


def prepare_step(preparer: ImagePreparer, state: Any, task: Any) -> PoolResult:
    """The default step: ``preparer(task)`` (a path, bytes...), and no extra."""
    return preparer(task), None


@dataclass
class _Worker:
    """One worker process, its pipe, its slots, and the tasks sent to it (oldest first)."""

    process: BaseProcess
    conn: connection.Connection
    slots: list[int]
    ready: bool = False
    running: deque[tuple[int, int]] = field(default_factory=deque)  # (task id, slot)

    def free_slot(self) -> int:
        busy = {slot for _, slot in self.running}
        return next(slot for slot in self.slots if slot not in busy)


@dataclass
class _Task:
    future: Future[PoolResult]
    task: Any
    name: str


class PreparerPool:
    """Worker processes that run a per-picture step and hand its arrays back through shared memory.

    Args:
        preparer: the checkpoint's :class:`~siglip_retriever.encoding.preparing.ImagePreparer`
            (``encoder.image_preparer()``), sent to each worker once.
        workers: how many worker processes.
        step: what a worker does with a task (default :func:`prepare_step`: decode and preprocess
            it); it must be importable by name from a fresh interpreter.
        state: sent to each worker once, passed to every call of ``step`` (for example the
            content ids already stored, so that the step can skip decoding them).
        depth: tasks in flight per worker (one running, the others queued in its pipe); each
            has its own slot.
        context: ``"forkserver"`` (the default where the platform has it) or ``"spawn"``.

    :meth:`submit` returns a future of ``(prepared, extra)``; a task whose worker died fails with
    :class:`~siglip_retriever.errors.ImageLoadError`, an exception of the step is re-raised.
    Use it as a context manager (or call :meth:`close`): the workers stop and the shared memory
    is released. See the module's example.
    """

    def __init__(
        self,
        preparer: ImagePreparer,
        workers: int,
        *,
        step: Step = prepare_step,
        state: Any = None,
        depth: int = 2,
        context: str | None = None,
    ) -> None:
        if workers < 1 or depth < 1:
            raise ConfigurationError(
                f"a process pool needs workers >= 1 and depth >= 1, not {workers}, {depth}"
            )
        self.preparer, self.step, self.state, self.depth = preparer, step, state, depth
        self.pickled = 0
        """How many results came back as pickled copies (larger than a slot)."""
        self.replaced = 0
        """How many workers died and were replaced."""
        self.slot_size = _slot_size(preparer)
        self._context = _context(
            context, [__name__, step.__module__, type(preparer.image_processor).__module__]
        )
        self._slots = [SharedMemory(create=True, size=self.slot_size) for _ in range(workers * depth)]
        self._finalizer = weakref.finalize(self, _release, list(self._slots))
        self._lock = threading.Lock()
        self._tasks: dict[int, _Task] = {}
        self._waiting: deque[int] = deque()
        self._ids = itertools.count()
        self._closed = False
        self._broken = ""
        self._start_failures = 0
        self._wake_read, self._wake_write = os.pipe()
        self._workers = [self._start(list(range(n * depth, (n + 1) * depth))) for n in range(workers)]
        self._receiver = threading.Thread(target=self._receive, name="siglip-pool-receiver", daemon=True)
        self._receiver.start()

    # -- public --------------------------------------------------------------------------------

    @property
    def slot_names(self) -> list[str]:
        """The shared-memory blocks of the slots (the same for the pool's whole life)."""
        return [slot.name for slot in self._slots]

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids, now."""
        with self._lock:
            return [worker.process.pid or 0 for worker in self._workers]

    def running(self) -> dict[int, list[str]]:
        """``pid -> names of the tasks sent to it`` (the first is the one it runs), now."""
        with self._lock:
            return {
                worker.process.pid or 0: [self._tasks[task].name for task, _ in worker.running]
                for worker in self._workers
            }

    def submit(self, task: Any, *, name: str | None = None) -> Future[PoolResult]:
        """Run the step on ``task`` in a worker; ``name`` says which input a failure is about
        (default: ``str(task)``)."""
        future: Future[PoolResult] = Future()
        with self._lock:
            if self._closed or self._broken:
                raise ConfigurationError(self._broken or "this process pool is closed: make a new one")
            number = next(self._ids)
            self._tasks[number] = _Task(future, task, str(task) if name is None else name)
            self._waiting.append(number)
            self._dispatch()
        return future

    def close(self) -> None:
        """Stop the workers (tasks not done are cancelled) and release the shared memory."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for number in list(self._tasks):
                self._tasks.pop(number).future.cancel()
            self._waiting.clear()
            for worker in self._workers:
                _send(worker.conn, None)
        os.write(self._wake_write, b"x")
        self._receiver.join()
        for worker in self._workers:
            worker.process.join(_STOP_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        self._finalizer()

    def __enter__(self) -> PreparerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- workers -------------------------------------------------------------------------------

    def _start(self, slots: list[int]) -> _Worker:
        parent, child = self._context.Pipe()
        names = [self._slots[slot].name for slot in slots]
        process = self._context.Process(
            target=_work,
            args=(child, self.step, self.preparer, self.state, names, self.slot_size),
            name="siglip-preparer",
            daemon=True,
        )
        process.start()
        child.close()
        return _Worker(process, parent, slots)

    def _dispatch(self) -> None:
        """Send waiting tasks to ready workers with room, oldest first (the lock is held)."""
        for worker in self._workers:
            while self._waiting and worker.ready and len(worker.running) < self.depth:
                number = self._waiting.popleft()
                slot = worker.free_slot()
                worker.running.append((number, slot))
                _send(worker.conn, (number, slot - worker.slots[0], self._tasks[number].task))

    def _receive(self) -> None:
        """The receiver thread: results, ready workers and dead ones, until the pool closes."""
        while True:
            with self._lock:
                if self._closed:
                    return
                workers = list(self._workers)
            waits: list[Any] = [self._wake_read]
            for worker in workers:
                waits += [worker.conn, worker.process.sentinel]
            ready = connection.wait(waits)
            for worker in workers:
                if worker.conn in ready:
                    self._drain(worker)
                if worker.process.sentinel in ready:
                    self._buried(worker)

    def _drain(self, worker: _Worker) -> None:
        """Take every message a worker sent."""
        try:
            while worker.conn.poll():
                self._handle(worker, worker.conn.recv())
        except (EOFError, OSError):  # it died: its sentinel says so too
            return

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        with self._lock:
            if message[0] == "ready":
                worker.ready = True
                self._start_failures = 0
                self._dispatch()
                return
            number, outcome, payload = message
            _, slot = worker.running.popleft()
            task = self._tasks.pop(number, None)
            result = self._result(slot, payload) if task is not None and outcome == "ok" else None
            self._dispatch()
        if task is None:
            return
        if result is not None:
            task.future.set_result(result)
        else:
            task.future.set_exception(payload)

    def _result(self, slot: int, payload: tuple[Any, ...]) -> PoolResult:
        """The prepared picture (its arrays copied out of ``slot``) and the step's extra."""
        extra, picture, layout, pickled = payload
        if picture is None:
            return None, extra
        model_id, width, height = picture
        if pickled is not None:
            self.pickled += 1
            return PreparedImage(model_id, pickled, width, height), extra
        buffer = self._slots[slot].buf
        arrays = {
            key: np.ndarray(shape, dtype=np.dtype(dtype), buffer=buffer, offset=offset).copy()
            for key, dtype, shape, offset in layout
        }
        return PreparedImage(model_id, arrays, width, height), extra

    def _buried(self, worker: _Worker) -> None:
        """A worker died: fail the task it ran, requeue the ones behind it, start another."""
        self._drain(worker)  # what it finished before dying is good
        worker.process.join()
        code = worker.process.exitcode
        failed: _Task | None = None
        with self._lock:
            if self._closed or worker not in self._workers:
                return
            worker.conn.close()
            if worker.running:
                failed = self._tasks.pop(worker.running.popleft()[0], None)
                self._waiting.extendleft(reversed([number for number, _ in worker.running]))
            if not worker.ready:
                self._start_failures += 1
            if self._start_failures >= _START_FAILURES:
                self._give_up(code)
                return
            self._workers[self._workers.index(worker)] = self._start(worker.slots)
            self.replaced += 1
        if failed is not None:
            reason = f"the decoder crashed on this file (worker process {_exit_text(code)})"
            failed.future.set_exception(ImageLoadError(failed.name, reason))

    def _give_up(self, code: int | None) -> None:
        """Workers die as they start: fail everything waiting and refuse new tasks (lock held)."""
        self._broken = (
            f"worker processes die as they start ({_exit_text(code)}; a script that starts them "
            "keeps its work under if __name__ == '__main__':, see their output on stderr)"
        )
        self._workers = [worker for worker in self._workers if worker.process.is_alive()]
        for number in list(self._tasks):
            self._tasks.pop(number).future.set_exception(ConfigurationError(self._broken))
        self._waiting.clear()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f"exited with signal {-code}"
    return f"exited with code {code}"


def _send(conn: connection.Connection, message: Any) -> None:
    with contextlib.suppress(OSError, ValueError):  # a dead worker: its sentinel reports it
        conn.send(message)


def _release(slots: list[SharedMemory]) -> None:
    for slot in slots:
        slot.close()
        with contextlib.suppress(FileNotFoundError):
            slot.unlink()


def _context(name: str | None, preload: list[str]) -> ForkServerContext | SpawnContext:
    """The multiprocessing context workers start from; never ``fork``."""
    methods = multiprocessing.get_all_start_methods()
    chosen = name or ("forkserver" if "forkserver" in methods else "spawn")
    if chosen not in ("forkserver", "spawn") or chosen not in methods:
        raise ConfigurationError(f"worker processes start with forkserver or spawn here, not {chosen!r}")
    if chosen == "spawn":
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(sorted(set(preload)))  # imported once (no effect once it runs)
    return context


def _slot_size(preparer: ImagePreparer) -> int:
    """Bytes a slot holds: the model inputs of a probe picture, with room to spare."""
    from PIL import Image

    probe = preparer.preprocess(preparer.decode(Image.new("RGB", (640, 480), "gray")))
    needed = sum(_aligned(array.nbytes) for array in probe.inputs.values())
    return max(4096, needed + needed // 4)


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def _layout(
    slot: SharedMemory, inputs: dict[str, npt.NDArray[Any]]
) -> list[tuple[str, str, tuple[int, ...], int]] | None:
    """Write the arrays one after the other into ``slot``; where each lies, or ``None`` when they
    do not fit."""
    if sum(_aligned(array.nbytes) for array in inputs.values()) > slot.size:
        return None
    layout, offset = [], 0
    for key, array in inputs.items():
        target = np.ndarray(array.shape, dtype=array.dtype, buffer=slot.buf, offset=offset)
        target[...] = array
        layout.append((key, array.dtype.str, tuple(array.shape), offset))
        offset += _aligned(array.nbytes)
    return layout


def _work(
    conn: connection.Connection, step: Step, preparer: ImagePreparer, state: Any, names: list[str], size: int
) -> None:
    """A worker's life: attach its slots, say it is ready, run tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    slots = [SharedMemory(name) for name in names]
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            break
        if message is None:
            break
        number, slot, task = message
        try:
            prepared, extra = step(preparer, state, task)
            picture = layout = pickled = None
            if prepared is not None:
                picture = (prepared.model_id, prepared.width, prepared.height)
                layout = _layout(slots[slot], prepared.inputs)
                pickled = prepared.inputs if layout is None else None
            reply: tuple[Any, ...] = (number, "ok", (extra, picture, layout, pickled))
        except Exception as exc:
            reply = (number, "error", _portable(exc))
        conn.send(reply)
    for block in slots:
        block.close()


def _portable(exc: Exception) -> Exception:
    """``exc`` if it pickles, else a RuntimeError that says what it was."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
