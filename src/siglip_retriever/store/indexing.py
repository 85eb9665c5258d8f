"""Local incremental indexing: a folder's (or a list of) image, PDF and video files into a store.

:func:`index_folder` scans a folder for image, PDF and video files, skips the ones whose path,
size and modification time are already in the store, embeds new and changed files in batches (a
PDF's pages and figures: :mod:`siglip_retriever.store.pdfs`; a video's moments:
:mod:`siglip_retriever.store.videos`), reads the words of pictures as the OCR
setting says (:mod:`siglip_retriever.store.reading`), and optionally removes entries whose files
are gone. Files that cannot be read are reported with their
reason and skipped; every good image is indexed. Ids are content hashes, so a rerun after an
interruption converges to the same store, and the same picture under two names is stored once.
What to do with each file is decided by :mod:`siglip_retriever.store.plan`, as Ray indexing
decides it.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> folder = Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (32, 32), "red").save(folder / "red.png")
    >>> (folder / "notes.jpg").write_text("not an image")
    12
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> report = store.index_folder(folder)
    >>> len(report.added), len(report.failed)
    (1, 1)
    >>> len(store.index_folder(folder).skipped)  # nothing changed: nothing embedded
    1
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from siglip_retriever.errors import ImageLoadError, StoreError
from siglip_retriever.store.feeding import FeedChoice, Feeder, ReadFile, choose_feed
from siglip_retriever.store.pdfs import PdfIndexer, is_pdf
from siglip_retriever.store.plan import (
    BatchWriter,
    EntryFiles,
    FileFacts,
    KnownFiles,
    changed_files,
    decide,
    delete_missing,
    known_files,
    local_facts,
    local_prefix,
    outdated_facts,
    refresh_facts,
)
from siglip_retriever.store.reading import WordReader, picture_for_ocr, read_skipped, resolve_ocr
from siglip_retriever.store.report import IndexReport, stopped
from siglip_retriever.store.scanning import file_uri, printable, scan_folder
from siglip_retriever.store.videos import VideoIndexer, is_video

if TYPE_CHECKING:
    from siglip_retriever.encoding.preparing import PreparedImage
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["FolderOptions", "index_files", "index_folder", "progress_bar", "run_ocr"]

_LOOKAHEAD = 2  # batches read and decoded ahead of the one in the model
_CPU_CHUNK = 8  # files decided and embedded at a time on a CPU


class FolderOptions(TypedDict, total=False):
    """The options of :func:`index_folder`, for the methods that pass them on."""

    recursive: bool
    extensions: Iterable[str] | None
    remove_missing: bool
    show_progress: bool
    ocr: str | None
    decode: str
    gpu_jpeg: bool | None


def index_folder(
    store: MultimodalStore,
    folder: str | os.PathLike[str],
    *,
    recursive: bool = True,
    extensions: Iterable[str] | None = None,
    remove_missing: bool = False,
    show_progress: bool = False,
    ocr: str | None = None,
    decode: str = "auto",
    gpu_jpeg: bool | None = None,
) -> IndexReport:
    """Index the image and PDF files under ``folder`` into ``store``, incrementally.

    Args:
        store: the store to write to.
        folder: the folder to scan.
        recursive: descend into sub-folders.
        extensions: file extensions to index (default: images, and PDFs when the ``pdf`` extra
            is installed: :func:`~siglip_retriever.store.scanning.indexed_extensions`).
        decode: where files are decoded: ``"threads"``, ``"processes"`` (worker processes; a
            file whose worker dies fails alone), or ``"auto"``: processes when the model is on an
            accelerator and the machine has more than two cores, else threads (see
            :mod:`siglip_retriever.store.feeding`). ``report.feed`` says what was used.
        gpu_jpeg: decode JPEG files on the model's GPU (the ``gpu`` extra): ``None`` when it can
            (:func:`~siglip_retriever.encoding.gpu_jpeg.choose_gpu_jpeg`), ``False`` never,
            ``True`` or an error saying why it cannot.
        remove_missing: delete entries of files under ``folder`` that no longer exist.
        show_progress: a progress bar with images/s.
        ocr: which pictures' words to read: ``"auto"`` (those likely to carry text), ``"all"``,
            ``"off"``; ``None``: the store's last setting, else ``"auto"`` when the ``ocr`` extra
            is installed (see :mod:`siglip_retriever.store.reading`). A given one is remembered.

    Returns:
        An :class:`~siglip_retriever.store.report.IndexReport`; files that cannot be read are in
        ``failed`` with their reason, files of other extensions in ``ignored`` with what they are.

    Raises:
        StoreError: the store failed mid-run (a server gone); ``exc.report`` lists what landed.
        MissingDependencyError: ``ocr`` asks for OCR without the ``ocr`` extra.
    """
    started = time.perf_counter()
    root = Path(folder).expanduser().resolve()
    resolve_ocr(ocr, remembered=store.ocr_setting)  # a bad setting fails before the scan
    choose_feed(store.encoder, requested=decode, gpu_jpeg=gpu_jpeg)  # bad options fail before the scan
    scan = scan_folder(root, recursive=recursive, extensions=extensions, skip=store.path)
    report = index_files(
        store, scan.files, show_progress=show_progress, ocr=ocr, decode=decode, gpu_jpeg=gpu_jpeg
    )
    report.folder = printable(str(root))
    report.failed = scan.failed + report.failed
    report.ignored = scan.ignored
    if remove_missing:
        present = {file_uri(path) for path in scan.files} | {failure.path for failure in report.failed}
        try:
            report.removed = delete_missing(store, local_prefix(root), present)
        except StoreError as exc:
            raise stopped(exc, report) from exc
    report.seconds = time.perf_counter() - started
    return report


def run_ocr(store: MultimodalStore, ocr: str | None) -> WordReader:
    """The run's :class:`~siglip_retriever.store.reading.WordReader`: ``ocr`` resolved against
    the store's remembered setting, and remembered when given."""
    setting = resolve_ocr(ocr, remembered=store.ocr_setting)
    if ocr is not None:
        store.remember_ocr(setting)
    return WordReader(setting, store.encoder)


def index_files(
    store: MultimodalStore,
    files: Iterable[str | os.PathLike[str]],
    *,
    show_progress: bool = False,
    ocr: str | None = None,
    decode: str = "auto",
    gpu_jpeg: bool | None = None,
) -> IndexReport:
    """Index image files (any extension but ``.pdf``) and PDF files incrementally, as
    :func:`index_folder` does for a folder (``ocr``, ``decode`` and ``gpu_jpeg`` as there)."""
    started = time.perf_counter()
    feed = choose_feed(store.encoder, requested=decode, gpu_jpeg=gpu_jpeg)
    words = run_ocr(store, ocr)
    paths = [Path(f).expanduser() for f in files]
    folder = os.path.commonpath([str(p.resolve().parent) for p in paths]) if paths else ""
    report = IndexReport(folder=printable(folder), ocr=words.setting, feed=feed)
    known = known_files(store)
    facts = local_facts(paths, report)
    documents = [file for file in facts if is_pdf(file.path)]
    videos = [file for file in facts if is_video(file.path)]
    facts = [file for file in facts if not is_pdf(file.path) and not is_video(file.path)]
    pending = changed_files(facts, known, report)
    if decode in (None, "auto"):  # a few files: not worth starting worker processes
        feed = choose_feed(store.encoder, requested=decode, gpu_jpeg=gpu_jpeg, files=len(pending))
        report.feed = feed

    bar = progress_bar(len(pending), show_progress)
    try:
        if pending:
            report.feed = _embed_changed(store, report, known, pending, feed, words, bar)
        report.refreshed = refresh_facts(store, outdated_facts(facts, known), submit=store.encoder.submit)
        read_skipped(store, report, known, facts, words)
        pdfs = PdfIndexer(store, report, known, words)
        for document in documents:
            pdfs.index(document)
        moments = VideoIndexer(store, report, known, words)
        for video in videos:
            moments.index(video)
    except StoreError as exc:  # a server gone, say: tell what landed
        report.seconds = time.perf_counter() - started
        raise stopped(exc, report) from exc
    finally:
        if bar is not None:
            bar.close()
    report.ocr_read, report.ocr_found = words.read_count, words.found_count
    report.seconds = time.perf_counter() - started
    return report


def _embed_changed(
    store: MultimodalStore,
    report: IndexReport,
    known: KnownFiles,
    pending: list[FileFacts],
    feed: FeedChoice,
    words: WordReader,
    bar: Any,
) -> FeedChoice:
    """Read, decide and embed the changed image files, batch after batch; the feed used.

    While the model embeds one batch, the feed's workers (threads or processes) read, hash,
    decode and preprocess the next ones. What to do with each file is still decided here, batch
    after batch, against the store as the previous batches left it, so the outcome is the same as
    one batch at a time.
    """
    encoder = store.encoder
    batch_size = encoder.batch_size
    batches = [pending[start : start + batch_size] for start in range(0, len(pending), batch_size)]
    entries = EntryFiles(known)
    stored = {entry.id for held in known.values() for entry in held}
    # on a CPU the model is as fast on 8 images as on 32: start it as soon as 8 are decoded
    chunk = min(batch_size, _CPU_CHUNK) if encoder.device == "cpu" else batch_size
    ahead: deque[list[Future[ReadFile]]] = deque()
    upcoming = iter(batches)
    with Feeder(encoder, feed, stored) as feeder:

        def top_up() -> None:
            while len(ahead) < _LOOKAHEAD:
                following = next(upcoming, None)
                if following is None:
                    return
                ahead.append([feeder.submit(file) for file in following])

        try:
            for batch in batches:
                top_up()
                current = ahead.popleft()
                top_up()  # the next batches are read and decoded while this one is in the model
                writer = BatchWriter(store, report, entries)
                _index_batch(writer, entries, current, chunk, words, feeder)
                if bar is not None:
                    bar.update(len(batch))
        finally:
            for futures in ahead:
                for future in futures:
                    future.cancel()
        return feeder.choice


def _index_batch(
    writer: BatchWriter,
    entries: EntryFiles,
    batch: list[Future[ReadFile]],
    chunk: int,
    words: WordReader,
    feeder: Feeder,
) -> None:
    """Decide what to do with one batch of files, in order, and write the batch's new pictures.

    The files' decisions and the model's forward passes go ``chunk`` files at a time, as soon as
    the worker threads have read them, so the model starts before the whole batch is decoded.
    The outcome is that of deciding the whole batch at once: every entry is looked up in the
    store once, and then followed through the run's decisions (``entries``); read
    failures are reported before decoding failures.
    """
    store = writer.store
    waiting: list[PreparedImage] = []
    sources: list[tuple[str, str]] = []  # (id, where to read the file) of each waiting picture
    for start in range(0, len(batch), chunk):
        read: list[ReadFile] = []
        for future in batch[start : start + chunk]:
            item = future.result()
            if item.failure:
                writer.unreadable(item.file.path, item.failure)
            else:
                read.append(item)
        feeder.finish(read)  # the JPEGs left to the GPU, if any
        entries.load(store, {r.key for r in read}, [r.file.path for r in read])
        for item in read:
            uri, key = item.file.path, item.key
            decision = decide(item.file, key, entries, writer.ids)
            if not writer.record(uri, key, decision):
                continue
            try:
                picture, facts = item.picture(feeder.preparer)
            except ImageLoadError as exc:
                writer.undecodable(uri, exc.reason, key)
                continue
            writer.embedded(uri, key, decision, facts)
            waiting.append(picture)
            sources.append((key, item.file.source))
        if len(waiting) >= chunk:
            _embed(writer, waiting, sources, words)
            waiting, sources = [], []
    if waiting:
        _embed(writer, waiting, sources, words)
    writer.commit()


def _embed(
    writer: BatchWriter, pictures: list[PreparedImage], sources: list[tuple[str, str]], words: WordReader
) -> None:
    """Embed pictures, and read the words of those the OCR setting wants read (from their files)."""
    vectors = writer.store.encoder.encode_images(pictures)
    extra = []
    for (key, source), (read, probability) in zip(sources, words.choose(vectors), strict=True):
        if read:
            try:
                writer.add_words(key, words.read(picture_for_ocr(source)))
            except ImageLoadError:  # it decoded for the model: a file changed since, say
                read = False
        extra.append(words.metadata(read, probability))
    writer.add_vectors(vectors, extra)


def progress_bar(total: int, show: bool) -> Any:
    """A tqdm bar of ``total`` images, or ``None`` when not shown (or nothing to do)."""
    if not show or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="indexing")
