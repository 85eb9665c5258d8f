"""Feeding the model during indexing: who reads, hashes, decodes and preprocesses each file.

Indexing asks for each changed file as a :class:`ReadFile`: read and hashed, and decoded,
fingerprinted and preprocessed unless its picture is already stored (:func:`read_file`, the
per-file step). Where that step runs is the run's :class:`FeedChoice`:

- ``"threads"``: the encoder's decode threads. They win where the GIL is not the limit: with the
  model on the CPU (it needs the cores itself) or on a machine of two cores.
- ``"processes"``: a :class:`~siglip_retriever.encoding.processes.PreparerPool` of worker
  processes, one per core but one, returning the model inputs through shared memory. It wins on
  an accelerator with more cores, where every picture's few milliseconds under the GIL would
  otherwise cap the run at a few hundred pictures a second. A worker that dies (a decoder crash
  on a hostile file) fails its file only; the run goes on.

With the model on CUDA and the ``gpu`` extra, JPEG files are decoded on the model's GPU
(:mod:`siglip_retriever.encoding.gpu_jpeg`, ``gpu_jpeg`` of :func:`choose_feed`): the workers
only read and hash them, and :meth:`Feeder.finish` prepares a chunk of them at once on the
device; other formats, and the JPEGs the GPU decoder refuses, are decoded on the CPU as before.

:func:`choose_feed` makes the choice (``decode="auto"``) or follows the caller's; ``index -v``
prints its :meth:`FeedChoice.line`. Worker processes start the way ``multiprocessing`` starts
them (a fork server), so a script that indexes with them keeps its work under
``if __name__ == "__main__":``; if they cannot start, the run decodes with threads and the
report's choice says why.

Example:
    >>> from siglip_retriever import SiglipEncoder
    >>> from siglip_retriever.store.feeding import choose_feed
    >>> encoder = SiglipEncoder("demo", device="cpu")
    >>> choose_feed(encoder, cores=16).line()
    'decoding: 2 threads (the model is on the CPU: threads win here)'
    >>> choose_feed(encoder, cores=16, requested="processes").line()
    'decoding: 15 worker processes (asked for; the model is on the CPU, 16 cores)'
"""

from __future__ import annotations

import os
from collections.abc import Collection
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from siglip_retriever.encoding.gpu_jpeg import GpuJpegPreparer, choose_gpu_jpeg
from siglip_retriever.errors import ConfigurationError, ImageLoadError, MissingDependencyError
from siglip_retriever.store.facts import PictureFacts, exif_taken, prepare_picture
from siglip_retriever.store.fingerprints import rgb_fingerprint
from siglip_retriever.store.plan import FileFacts, read_and_hash

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage
    from siglip_retriever.encoding.processes import PreparerPool

__all__ = [
    "DECODE_CHOICES",
    "PROCESSES_FROM",
    "FeedChoice",
    "Feeder",
    "ReadFile",
    "choose_feed",
    "read_file",
    "read_step",
]

DECODE_CHOICES = ("auto", "threads", "processes")
"""The values of ``decode=`` (and ``index --decode``)."""

Kind = Literal["threads", "processes"]

PROCESSES_FROM = 64
"""Files to read from which ``decode="auto"`` starts worker processes (where they win): starting
them takes seconds, which a few files do not repay."""

_JPEG = b"\xff\xd8\xff"  # how a JPEG file starts


@dataclass(frozen=True)
class FeedChoice:
    """How a run decodes: ``kind`` (``"threads"`` or ``"processes"``), how many ``workers``,
    whether JPEGs are decoded on the model's GPU (``gpu_jpeg``), and why (``reason``).

    Example:
        >>> FeedChoice("processes", 15, False, "the model is on cuda:0, 16 cores").line()
        'decoding: 15 worker processes (the model is on cuda:0, 16 cores)'
    """

    kind: Kind
    workers: int
    gpu_jpeg: bool
    reason: str
    gpu_jpeg_reason: str = ""
    """Why JPEGs are (or are not) decoded on the GPU, in one line; empty for a model on the CPU."""

    def line(self) -> str:
        """One line for ``index -v``."""
        if self.kind == "processes":
            what = f"{self.workers} worker process{'es' * (self.workers != 1)}"
        elif self.workers:
            what = f"{self.workers} thread{'s' * (self.workers != 1)}"
        else:
            what = "the calling thread"
        jpeg = "; JPEGs on the GPU" if self.gpu_jpeg else ""
        return f"decoding: {what}{jpeg} ({self.reason})"


def choose_feed(
    encoder: SiglipEncoder,
    cores: int | None = None,
    requested: str | None = None,
    *,
    gpu_jpeg: bool | None = None,
    files: int | None = None,
) -> FeedChoice:
    """Threads or processes for ``encoder``'s model on a machine of ``cores`` cores (default: this
    one's), or what ``requested`` (``"threads"``, ``"processes"``; ``"auto"``/``None``: choose) says.

    Threads where they win (the model on the CPU, or 2 cores or fewer), else one worker process
    per core but one (the model's), at least two. JPEGs are decoded on the GPU when
    :func:`~siglip_retriever.encoding.gpu_jpeg.choose_gpu_jpeg` says it can (``gpu_jpeg``:
    ``None`` decides, ``False`` turns it off, ``True`` insists). Fewer than
    :data:`PROCESSES_FROM` ``files`` to read stay with threads: starting the workers would cost
    more than they save.

    Raises:
        ConfigurationError: ``requested`` is not one of :data:`DECODE_CHOICES`; ``gpu_jpeg=True``
            where it cannot run.
    """
    if requested not in (None, *DECODE_CHOICES):
        raise ConfigurationError(f"decode must be one of {', '.join(DECODE_CHOICES)}, not {requested!r}")
    choice = _workers(encoder, cores, requested)
    if (
        choice.kind == "processes"
        and requested != "processes"
        and files is not None
        and files < PROCESSES_FROM
    ):
        choice = FeedChoice(
            "threads", encoder.num_workers, False, f"{files} files: not worth starting processes"
        )
    if encoder.device == "cpu" and not gpu_jpeg:  # no need to ask: never on a CPU
        return choice
    on_gpu = choose_gpu_jpeg(encoder.device, requested=gpu_jpeg, preparer=encoder.image_preparer())
    return replace(choice, gpu_jpeg=on_gpu.use, gpu_jpeg_reason=on_gpu.reason)


def _workers(encoder: SiglipEncoder, cores: int | None, requested: str | None) -> FeedChoice:
    count = cores or os.cpu_count() or 1
    device = encoder.device
    on = "the model is on the CPU" if device == "cpu" else f"the model is on {device}"
    processes = max(2, count - 1)
    if requested == "processes":
        return FeedChoice("processes", processes, False, f"asked for; {on}, {count} cores")
    threads = encoder.num_workers
    if requested == "threads":
        return FeedChoice("threads", threads, False, f"asked for; {on}, {count} cores")
    if device == "cpu":
        return FeedChoice("threads", threads, False, f"{on}: threads win here")
    if count <= 2:
        return FeedChoice("threads", threads, False, f"{on}, {count} cores: threads win here")
    return FeedChoice("processes", processes, False, f"{on}, {count} cores")


@dataclass
class ReadFile:
    """One file as the per-file step left it: read and hashed, and decoded when it will be needed.

    Example:
        >>> item = ReadFile(FileFacts("/p/a.png", 10, 1), failure="empty file (zero bytes)")
        >>> item.key, item.prepared is None
        ('', True)
    """

    file: FileFacts
    key: str = ""
    failure: str = ""
    """Could not be read (or its decoder crashed): the reason."""
    data: bytes | None = None
    """Kept when the file was not decoded ahead (a worker process sends none, but a JPEG's for
    the GPU)."""
    on_gpu: bool = False
    """A JPEG left to :meth:`Feeder.finish`, with its ``data``."""
    prepared: PreparedImage | None = None
    facts: PictureFacts | None = None
    """With ``prepared``: what the entry records of the picture."""
    decode_failure: str = ""
    """Could not be decoded: the reason (reported only if it was needed)."""

    def picture(self, preparer: ImagePreparer) -> tuple[PreparedImage, PictureFacts]:
        """The decoded picture and its facts: from the step, or decoded now if it skipped it
        (read again from the file when its bytes were not kept, and checked against its id).

        Raises:
            ImageLoadError: it cannot be decoded, or the file changed since it was read.
        """
        if self.decode_failure:
            raise ImageLoadError(self.file.path, self.decode_failure)
        if self.prepared is not None and self.facts is not None:
            return self.prepared, self.facts
        data = self.data
        if data is None:
            data, key, failure = read_and_hash(Path(self.file.source))
            if failure or key != self.key:
                raise ImageLoadError(
                    self.file.path, failure or "the file changed while it was indexed: index again"
                )
        try:
            return prepare_picture(preparer, data)
        except MissingDependencyError as exc:  # a camera RAW without the raw extra, say
            raise ImageLoadError(self.file.path, str(exc)) from exc


def read_file(
    preparer: ImagePreparer, stored: Collection[str], file: FileFacts, gpu_jpeg: bool = False
) -> ReadFile:
    """The per-file step: read and hash ``file``; decode, fingerprint and preprocess it unless its
    content id is in ``stored`` (most likely touched or moved: decoded later only if needed), or
    it is a JPEG and ``gpu_jpeg`` leaves it to the GPU."""
    data, key, failure = read_and_hash(Path(file.source))
    if failure:
        return ReadFile(file, failure=failure)
    if key in stored:
        return ReadFile(file, key, data=data)
    if gpu_jpeg and data.startswith(_JPEG):
        return ReadFile(file, key, data=data, on_gpu=True)
    return _decoded(preparer, ReadFile(file, key, data=data))


def _decoded(preparer: ImagePreparer, item: ReadFile) -> ReadFile:
    """``item`` with its picture prepared on the CPU (or why it cannot be), its bytes dropped."""
    data, item.data, item.on_gpu = item.data or b"", None, False
    try:
        item.prepared, item.facts = prepare_picture(preparer, data)
    except ImageLoadError as exc:
        item.decode_failure = exc.reason
    except MissingDependencyError as exc:  # a camera RAW without the raw extra, say: this file only
        item.decode_failure = str(exc)
    return item


def read_step(
    preparer: ImagePreparer, state: tuple[Collection[str], bool], file: FileFacts
) -> tuple[Any, ReadFile]:
    """:func:`read_file` as a worker process runs it (``state``: the stored ids, and whether
    JPEGs go to the GPU): the picture apart (its arrays go through shared memory), the rest
    without the file's bytes but a JPEG's for the GPU."""
    stored, gpu_jpeg = state
    item = read_file(preparer, stored, file, gpu_jpeg)
    prepared, item.prepared = item.prepared, None
    if not item.on_gpu:
        item.data = None
    return prepared, item


class Feeder:
    """Where a run's files are read and decoded, as its :class:`FeedChoice` says.

    Args:
        encoder: the run's encoder (its preparer, its decode threads).
        choice: from :func:`choose_feed`.
        stored: content ids already stored: those files are read and hashed, not decoded.

    :meth:`submit` gives a future of each file's :class:`ReadFile`. With processes, a file whose
    worker died is a :class:`ReadFile` with ``failure`` (the decoder crashed on it); worker
    processes that cannot start leave the rest of the run to threads, and :attr:`choice` says
    so. Close it (or use it as a context manager) to stop the workers.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from siglip_retriever import SiglipEncoder
        >>> encoder = SiglipEncoder("demo", device="cpu")
        >>> path = Path(tempfile.mkdtemp()) / "empty.png"
        >>> path.write_bytes(b"")
        0
        >>> with Feeder(encoder, choose_feed(encoder), stored=set()) as feeder:
        ...     feeder.submit(FileFacts(str(path), 0, 0)).result().failure
        'empty file (zero bytes)'
    """

    def __init__(self, encoder: SiglipEncoder, choice: FeedChoice, stored: Collection[str]) -> None:
        self.encoder = encoder
        self.choice = choice
        self.stored = frozenset(stored)
        self.preparer = encoder.image_preparer()
        self.gpu = GpuJpegPreparer(self.preparer, encoder.device) if choice.gpu_jpeg else None
        """What prepares JPEGs on the model's GPU (``None``: off)."""
        self._pool: PreparerPool | None = None
        if choice.kind == "processes":
            from siglip_retriever.encoding.processes import PreparerPool

            state = (self.stored, choice.gpu_jpeg)
            self._pool = PreparerPool(self.preparer, choice.workers, step=read_step, state=state)

    @property
    def pool(self) -> PreparerPool | None:
        """The worker processes (``None``: threads)."""
        return self._pool

    def submit(self, file: FileFacts) -> Future[ReadFile]:
        """Read ``file`` (and decode it when needed) in the chosen workers."""
        if self._pool is None:
            return self.encoder.submit(read_file, self.preparer, self.stored, file, self.gpu is not None)
        try:
            future = self._pool.submit(file, name=file.path)
        except ConfigurationError as exc:  # the workers could not start
            self._to_threads(str(exc))
            return self.submit(file)
        result: Future[ReadFile] = Future()
        future.add_done_callback(lambda done: self._settle(done, result, file))
        return result

    def _settle(self, done: Future[Any], result: Future[ReadFile], file: FileFacts) -> None:
        """A worker process's outcome as a :class:`ReadFile` (in the pool's receiver thread)."""
        if done.cancelled():
            result.cancel()
            return
        error = done.exception()
        if error is None:
            prepared, item = done.result()
            item.prepared = prepared
            result.set_result(item)
        elif isinstance(error, ImageLoadError):  # its worker died on it
            result.set_result(ReadFile(file, failure=error.reason))
        elif isinstance(error, ConfigurationError):  # no worker could start: threads read it
            self._to_threads(str(error))
            threaded = self.encoder.submit(read_file, self.preparer, self.stored, file, self.gpu is not None)
            threaded.add_done_callback(lambda again: _copy_outcome(again, result))
        else:
            result.set_exception(error)

    def finish(self, items: list[ReadFile]) -> None:
        """Prepare the JPEGs among ``items`` that the workers left to the GPU, in one go; those
        it does not take are decoded on the CPU (in the decode threads)."""
        waiting = [item for item in items if item.on_gpu]
        if not waiting:
            return
        datas = [item.data or b"" for item in waiting]
        results = self.gpu.prepare(datas) if self.gpu is not None else [None] * len(waiting)
        refused = []
        for item, result in zip(waiting, results, strict=True):
            if result is None:
                refused.append(item)
                continue
            prepared, info = result
            taken = exif_taken(info.exif)
            item.facts = PictureFacts(rgb_fingerprint(info.thumbnail), info.width, info.height, taken)
            item.prepared, item.data, item.on_gpu = prepared, None, False
        for future in [self.encoder.submit(_decoded, self.preparer, item) for item in refused]:
            future.result()

    def _to_threads(self, why: str) -> None:
        if self.choice.kind == "threads":
            return
        threads = self.encoder.num_workers
        self.choice = replace(self.choice, kind="threads", workers=threads, reason=f"threads instead: {why}")

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> Feeder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _copy_outcome(source: Future[ReadFile], target: Future[ReadFile]) -> None:
    error = source.exception()
    if error is None:
        target.set_result(source.result())
    else:
        target.set_exception(error)
