"""Batching queue: concurrent encodes from many threads share one forward pass of the model.

A server answers many requests at once, each with one text or one picture to encode. One at a
time, each pays a whole forward pass and waits behind all the others; an :class:`EncodeQueue`
gathers the texts (or the prepared pictures) of the requests waiting at the same moment into one
forward pass of at most ``max_batch`` items. A pass of many items costs far less per item than
passes of one on a GPU; on a CPU, where each item's arithmetic stays the same, the gain is the
share of each pass's fixed costs and the larger matrix products (BENCHMARKS.md, batched requests).

Its rules:

- **One thread runs the model.** Callers block (or ``await``) until their own rows are ready; the
  queue's thread takes the oldest waiting request with every other request of the same kind
  (texts or images) and the same encoder, up to ``max_batch`` items, and runs them together.
  The thread starts with the first request and ends after half a minute without one.
- **The longest wait** is ``max_wait_ms``: a request that finds the model idle waits that long
  for company, then runs with whatever came. Under load nobody waits for it: requests gather
  while the previous forward pass runs.
- **Each request keeps its own result, error and timeout.** Inputs are checked, and pictures
  decoded, in the caller's thread, so a text that is not a string or a picture that cannot be
  read fails its own request before it is queued. If a batch fails as a whole, each of its
  requests is encoded on its own, so an error reaches only the request that caused it. A request
  still queued when its ``timeout`` runs out is dropped and its caller gets
  :class:`~siglip_retriever.errors.EncodeTimeoutError`; one whose forward pass has begun gets its
  rows. ``timeout`` bounds the wait of each part of a large request (see below).
- **The same vectors as unbatched** (to float rounding, 1e-5): SigLIP pads every text to its
  fixed length and pictures are prepared one by one, so a row does not depend on its neighbours.
- **A large request does not hold the model**: it is queued ``max_batch`` items at a time, and the
  requests that arrive meanwhile run between its parts.
- ``max_batch=1`` encodes one item at a time, in arrival order: what a lock around the model does.

Counters (:attr:`EncodeQueue.forward_passes`, :attr:`EncodeQueue.requests`,
:attr:`EncodeQueue.items`) say how well requests were batched.

Example:
    >>> import tempfile
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from siglip_retriever import SiglipEncoder
    >>> from siglip_retriever.encoding.queue import EncodeQueue
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()))
    >>> with EncodeQueue(encoder, max_wait_ms=200) as queue:
    ...     with ThreadPoolExecutor(4) as pool:
    ...         rows = list(pool.map(queue.encode_texts, [["a red circle"], ["un chat"], ["ein Hund"]]))
    ...     queue.requests, queue.forward_passes < queue.requests
    (3, True)
    >>> [row.shape for row in rows]
    [(1, 32), (1, 32), (1, 32)]
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.batching import batches, joined
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.images import ImageInput, image_list
from siglip_retriever.encoding.preparing import PreparedImage
from siglip_retriever.encoding.texts import text_list
from siglip_retriever.errors import ConfigurationError, EncodeQueueError, EncodeTimeoutError

__all__ = ["EncodeQueue"]

Vectors = npt.NDArray[np.float32]
_IDLE_SECONDS = 30.0  # the queue's thread ends after this long without a request
_Kind = Literal["text", "image"]


@dataclass(eq=False)
class _Request:
    """One caller's items, waiting for the queue's thread; ``future`` carries its rows or error."""

    kind: _Kind
    encoder: SiglipEncoder
    items: list[Any]
    future: Future[Vectors] = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)

    def joins(self, other: _Request) -> bool:
        """Whether this request may share ``other``'s forward pass."""
        return self.kind == other.kind and self.encoder is other.encoder


class EncodeQueue:
    """Encode the texts and pictures of concurrent callers in shared forward passes.

    Args:
        encoder: the encoder to run, or a function that returns the one to use now (called once
            per request, in the caller's thread: ``lambda: store.encoder`` follows a store whose
            model is swapped while it serves). Requests share a forward pass only with requests
            for the same encoder.
        max_batch: most items (texts or pictures) in one forward pass. A request with more is
            queued in parts of ``max_batch``, one after the other, so that the requests that come
            meanwhile run between its parts. ``1``: one item at a time, in arrival order, as a lock
            around the model does.
        max_wait_ms: longest a request waits for others to join its forward pass when the model
            is idle.

    Raises:
        ConfigurationError: ``max_batch`` below 1, or ``max_wait_ms`` negative.

    Example:
        >>> from PIL import Image
        >>> from siglip_retriever import SiglipEncoder
        >>> from siglip_retriever.encoding.queue import EncodeQueue
        >>> queue = EncodeQueue(SiglipEncoder("demo"), max_batch=16, max_wait_ms=2)
        >>> queue.encode_images([Image.new("RGB", (40, 30), "teal")]).shape
        (1, 96)
        >>> vector = queue.encode_query("a teal square")  # cached by the encoder, as encode_query is
        >>> bool(abs(vector - queue.encoder.encode_texts(["a teal square"])[0]).max() < 1e-5)
        True
        >>> queue.close()
        >>> queue.encode_texts(["too late"])
        Traceback (most recent call last):
        ...
        siglip_retriever.errors.EncodeQueueError: this encode queue is closed; encode with a new EncodeQueue
    """

    def __init__(
        self,
        encoder: SiglipEncoder | Callable[[], SiglipEncoder],
        *,
        max_batch: int = 32,
        max_wait_ms: float = 3.0,
    ) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ConfigurationError(f"max_batch must be a positive integer, not {max_batch!r}")
        if not isinstance(max_wait_ms, int | float) or not 0 <= max_wait_ms < math.inf:
            raise ConfigurationError(
                f"max_wait_ms must be a number of milliseconds >= 0, not {max_wait_ms!r}"
            )
        self._encoder = encoder
        self.max_batch = max_batch
        self.max_wait_ms = float(max_wait_ms)
        self.forward_passes = 0
        """Forward passes run so far."""
        self.requests = 0
        """Requests queued so far: one per call of an ``encode_*`` method with something to encode
        (one per part of ``max_batch`` items for a larger call)."""
        self.items = 0
        """Texts and pictures encoded so far."""
        self._pending: deque[_Request] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None  # started by the first request, ends when idle

    @property
    def encoder(self) -> SiglipEncoder:
        """The encoder a request made now is encoded with."""
        encoder = self._encoder
        return encoder if isinstance(encoder, SiglipEncoder) else encoder()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (no more requests are taken)."""
        return self._closed

    # -- the callers' side -------------------------------------------------------------------------

    def encode_texts(self, texts: Sequence[str], *, timeout: float | None = None) -> Vectors:
        """The ``(len(texts), dim)`` unit vectors of ``texts``, as :meth:`SiglipEncoder.encode_texts
        <siglip_retriever.encoding.encoder.SiglipEncoder.encode_texts>` gives them, once the forward
        pass they joined has run.

        Raises:
            InputTypeError: ``texts`` is not a list of strings (before anything is queued).
            EncodeTimeoutError: no forward pass took it within ``timeout`` seconds.
            EncodeQueueError: the queue is closed.
        """
        return self._encode("text", self.encoder, text_list(texts), timeout)

    def encode_query(self, text: str, *, timeout: float | None = None) -> Vectors:
        """The ``(dim,)`` vector of one query, from the encoder's query cache when it was asked
        before (:meth:`SiglipEncoder.encode_query
        <siglip_retriever.encoding.encoder.SiglipEncoder.encode_query>`), else through the queue."""
        encoder = self.encoder
        return encoder.encode_query(text, encode=lambda texts: self._encode("text", encoder, texts, timeout))

    def encode_images(
        self, images: Sequence[ImageInput | PreparedImage], *, timeout: float | None = None
    ) -> Vectors:
        """The ``(len(images), dim)`` unit vectors of ``images``: pictures the encoder prepared
        already (:meth:`SiglipEncoder.prepare_image
        <siglip_retriever.encoding.encoder.SiglipEncoder.prepare_image>`), or any image input,
        decoded and prepared here, in the calling thread, before it is queued.

        Raises:
            ImageLoadError: a picture cannot be read (nothing of this request is queued).
            ConfigurationError: a picture was prepared for another model.
            EncodeTimeoutError: no forward pass took it within ``timeout`` seconds.
            EncodeQueueError: the queue is closed.
        """
        encoder = self.encoder
        return self._encode("image", encoder, _prepared(encoder, images), timeout)

    async def aencode_texts(self, texts: Sequence[str], *, timeout: float | None = None) -> Vectors:
        """:meth:`encode_texts` for a coroutine: the event loop runs on while the batch waits."""
        return await self._aencode("text", self.encoder, text_list(texts), timeout)

    async def aencode_images(
        self, images: Sequence[ImageInput | PreparedImage], *, timeout: float | None = None
    ) -> Vectors:
        """:meth:`encode_images` for a coroutine; pictures not prepared yet are decoded in a worker
        thread, not on the event loop."""
        encoder = self.encoder
        items = image_list(images)
        if all(isinstance(item, PreparedImage) for item in items):
            prepared = _prepared(encoder, items)
        else:
            prepared = await asyncio.to_thread(_prepared, encoder, items)
        return await self._aencode("image", encoder, prepared, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Take no more requests, encode those already queued, and end the queue's thread (waiting
        up to ``timeout`` seconds for it). Closing twice is harmless."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> EncodeQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"EncodeQueue(max_batch={self.max_batch}, max_wait_ms={self.max_wait_ms:g}, "
            f"requests={self.requests}, forward_passes={self.forward_passes})"
        )

    def _encode(
        self, kind: _Kind, encoder: SiglipEncoder, items: list[Any], timeout: float | None
    ) -> Vectors:
        """The rows of ``items``, queued ``max_batch`` at a time: each part waits for the one before,
        so that the requests that came meanwhile run between them."""
        parts = batches(items, self.max_batch)
        return joined(
            (self._wait(self._submit(kind, encoder, part), timeout) for part in parts),
            dim=encoder.dim,
        )

    async def _aencode(
        self, kind: _Kind, encoder: SiglipEncoder, items: list[Any], timeout: float | None
    ) -> Vectors:
        rows = [
            await self._await(self._submit(kind, encoder, part), timeout)
            for part in batches(items, self.max_batch)
        ]
        return joined(rows, dim=encoder.dim)

    def _submit(self, kind: _Kind, encoder: SiglipEncoder, items: list[Any]) -> Future[Vectors]:
        request = _Request(kind, encoder, items)
        with self._ready:
            if self._closed:
                raise EncodeQueueError("this encode queue is closed; encode with a new EncodeQueue")
            self._pending.append(request)
            self.requests += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="siglip-encode-queue", daemon=True)
                self._thread.start()
            self._ready.notify()
        return request.future

    def _wait(self, future: Future[Vectors], timeout: float | None) -> Vectors:
        try:
            return future.result(timeout)
        except futures.TimeoutError:  # TimeoutError itself from Python 3.11
            if future.cancel():  # still queued: dropped
                raise _timed_out(timeout) from None
            return future.result()  # its forward pass is under way (or just done): its rows

    async def _await(self, future: Future[Vectors], timeout: float | None) -> Vectors:
        rows = asyncio.wrap_future(future)
        try:
            return await asyncio.wait_for(asyncio.shield(rows), timeout)
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            if future.cancel():
                raise _timed_out(timeout) from None
            return await rows

    # -- the queue's thread --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run_batch(batch)

    def _next_batch(self) -> list[_Request] | None:
        """The next requests to encode together (waiting for them); ``None`` once closed and drained,
        or after ``_IDLE_SECONDS`` without a request (the next request starts a new thread)."""
        with self._ready:
            while True:
                if not self._pending and not self._closed:
                    self._ready.wait(_IDLE_SECONDS)
                if not self._pending:  # closed and drained, or idle: the next request starts a thread
                    self._thread = None
                    return None
                first = self._pending[0]
                deadline = first.arrived + self.max_wait_ms / 1000
                while self._gathering(first):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._ready.wait(left)
                batch = self._take(first)
                if batch:
                    return batch

    def _gathering(self, first: _Request) -> bool:
        """Whether ``first``'s forward pass may wait for more requests: it has room, and nothing
        (closing, its caller giving up) says to run now."""
        if self._closed or first.future.cancelled():
            return False
        return sum(len(request.items) for request in self._pending if request.joins(first)) < self.max_batch

    def _take(self, first: _Request) -> list[_Request]:
        """Take ``first`` and the requests that join it, oldest first, up to ``max_batch`` items,
        out of the queue; requests whose callers gave up (timed out) are dropped."""
        taken: list[_Request] = []
        kept: deque[_Request] = deque()
        size = 0
        for request in self._pending:
            if request.future.cancelled():
                continue
            if request.joins(first) and (not taken or size + len(request.items) <= self.max_batch):
                if request.future.set_running_or_notify_cancel():
                    taken.append(request)
                    size += len(request.items)
            else:
                kept.append(request)
        self._pending = kept
        return taken

    def _run_batch(self, batch: list[_Request]) -> None:
        """One forward pass for the batch, each request's rows to its caller; if it fails, each
        request on its own, so that an error reaches only the request that caused it."""
        items = [item for request in batch for item in request.items]
        try:
            vectors = self._forward(batch[0], items)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            for request in batch:
                try:
                    request.future.set_result(self._forward(request, request.items))
                except Exception as alone:
                    request.future.set_exception(alone)
            return
        start = 0
        for request in batch:
            request.future.set_result(vectors[start : start + len(request.items)])
            start += len(request.items)

    def _forward(self, request: _Request, items: list[Any]) -> Vectors:
        """Encode ``items`` (of ``request``'s kind and encoder, at most ``max_batch``) in one forward pass."""
        encoder = request.encoder
        self.forward_passes += 1
        self.items += len(items)
        if request.kind == "text":
            return encoder.encode_texts(items, batch_size=len(items), show_progress=False)
        return encoder.encode_images(items, batch_size=len(items), show_progress=False)


def _prepared(encoder: SiglipEncoder, images: Sequence[ImageInput | PreparedImage]) -> list[PreparedImage]:
    """Each image decoded and prepared for ``encoder`` (a prepared one checked to be its model's)."""
    return [encoder.prepare_image(image) for image in image_list(images)]


def _timed_out(timeout: float | None) -> EncodeTimeoutError:
    return EncodeTimeoutError(
        f"no forward pass took the encode within {timeout or 0:g} s: the model is busy with other "
        "requests; send it again, or allow a longer timeout"
    )
