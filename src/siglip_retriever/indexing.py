"""Incremental folder indexing with a report of what happened to every file.

:func:`index_folder` scans a folder for image files, skips the ones whose path, size and
modification time are already in the store, embeds new and changed files in batches, and
optionally removes entries whose files are gone. Files that cannot be read are reported with their
reason and skipped; every good image is indexed. Ids are content hashes, so a rerun after an
interruption converges to the same store, and the same picture under two names is stored once.

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

import json
import os
import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ConfigurationError, ImageLoadError, StoreError
from siglip_retriever.store import KIND, MTIME, SIZE, URI, content_id

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import PreparedImage, SiglipEncoder
    from siglip_retriever.store import MultimodalStore

__all__ = [
    "IMAGE_EXTENSIONS",
    "FailedFile",
    "IndexReport",
    "IndexedFile",
    "index_files",
    "index_folder",
    "scan_folder",
]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
"""File extensions indexed by default (compared case-insensitively)."""

Status = Literal["added", "updated", "unchanged", "duplicate", "moved"]

_LOOKAHEAD = 2  # batches read and decoded ahead of the one in the model
_CPU_CHUNK = 8  # files decided and embedded at a time on a CPU


@dataclass(frozen=True)
class IndexedFile:
    """A file that is in the store after indexing, and what indexing did with it."""

    path: str
    id: str
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class FailedFile:
    """A file that could not be indexed, and why."""

    path: str
    reason: str


@dataclass
class IndexReport:
    """What :func:`index_folder` did: ``added``, ``updated``, ``skipped``, ``failed``, ``removed``.

    ``skipped`` holds files that needed no embedding: unchanged since the last run, or holding the
    same picture as another indexed file (``status == "duplicate"``).
    """

    folder: str
    added: list[IndexedFile] = field(default_factory=list)
    updated: list[IndexedFile] = field(default_factory=list)
    skipped: list[IndexedFile] = field(default_factory=list)
    failed: list[FailedFile] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def indexed(self) -> list[IndexedFile]:
        """Every file that is in the store now."""
        return self.added + self.updated + self.skipped

    @property
    def embedded(self) -> int:
        """How many files went through the model in this run."""
        return len(self.added) + len(self.updated)

    def summary(self) -> str:
        """One line: counts of each outcome and the embedding speed."""
        rate = f", {self.embedded / self.seconds:.1f} images/s" if self.seconds > 0 and self.embedded else ""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed, {len(self.removed)} removed in {self.seconds:.1f}s{rate}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the schema of ``siglip-retriever index --report``)."""
        data = asdict(self)
        data["summary"] = self.summary()
        return data

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the report as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")


def scan_folder(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = True,
    extensions: Iterable[str] | None = None,
) -> tuple[list[Path], list[FailedFile]]:
    """Image files under ``folder`` (sorted), and entries that could not be read while scanning.

    Broken symbolic links and unreadable sub-folders are reported, not raised.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigurationError(f"{root} is not a folder")
    wanted = _extensions(extensions)
    files: list[Path] = []
    failed: list[FailedFile] = []

    def on_error(error: OSError) -> None:
        where = _printable(str(error.filename or root))
        failed.append(FailedFile(where, f"cannot read folder: {error.strerror}"))

    walker: Iterator[tuple[str, list[str], list[str]]]
    if recursive:
        walker = os.walk(root, onerror=on_error)
    else:
        walker = iter([(str(root), [], [e.name for e in os.scandir(root) if not e.is_dir()])])
    for directory, subdirs, names in walker:
        subdirs.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if path.suffix.lower() not in wanted:
                continue
            if path.is_symlink() and not path.exists():
                failed.append(FailedFile(_printable(str(path)), "broken symbolic link"))
                continue
            if path.is_file():
                files.append(path)
    return files, failed


def index_folder(
    store: MultimodalStore,
    folder: str | os.PathLike[str],
    *,
    recursive: bool = True,
    extensions: Iterable[str] | None = None,
    remove_missing: bool = False,
    show_progress: bool = False,
) -> IndexReport:
    """Index the image files under ``folder`` into ``store``, incrementally.

    Args:
        store: the store to write to.
        folder: the folder to scan.
        recursive: descend into sub-folders.
        extensions: file extensions to index (default :data:`IMAGE_EXTENSIONS`).
        remove_missing: delete entries of files under ``folder`` that no longer exist.
        show_progress: a progress bar with images/s.

    Returns:
        An :class:`IndexReport`; files that cannot be read are in ``failed`` with their reason.
    """
    started = time.perf_counter()
    root = Path(folder).expanduser().resolve()
    files, failed = scan_folder(root, recursive=recursive, extensions=extensions)
    report = index_files(store, files, show_progress=show_progress)
    report.folder = _printable(str(root))
    report.failed = failed + report.failed
    if remove_missing:
        gone = _missing_entries(store, root, files, report.failed)
        if gone:
            try:
                store.delete(ids=sorted(set(gone.values())))
            except StoreError as exc:
                raise _stopped(exc, report) from exc
            report.removed = sorted(gone)
    report.seconds = time.perf_counter() - started
    return report


def _missing_entries(
    store: MultimodalStore, root: Path, files: list[Path], failed: list[FailedFile]
) -> dict[str, str]:
    """``uri -> id`` of the store's entries of files under ``root`` that are neither found nor failed."""
    present = {file_uri(p) for p in files} | {f.path for f in failed}
    prefix = _printable(str(root)) + os.sep
    return {
        uri: entry[0]
        for uri, entries in _known_files(store).items()
        for entry in entries
        if uri.startswith(prefix) and uri not in present
    }


def index_files(
    store: MultimodalStore, files: Iterable[str | os.PathLike[str]], *, show_progress: bool = False
) -> IndexReport:
    """Index image files (any extension) incrementally, as :func:`index_folder` does for a folder."""
    started = time.perf_counter()
    paths = [Path(f).expanduser() for f in files]
    folder = os.path.commonpath([str(p.resolve().parent) for p in paths]) if paths else ""
    report = IndexReport(folder=_printable(folder))
    known = _known_files(store)
    pending = _changed_files(paths, known, report)

    bar = _progress(len(pending), show_progress)
    batch_size = store.encoder.batch_size
    batches = [pending[start : start + batch_size] for start in range(0, len(pending), batch_size)]
    # While the model embeds one batch, worker threads read, hash, decode and preprocess the next
    # ones. What to do with each file is still decided here, batch after batch, against the store
    # as the previous batches left it, so the outcome is the same as one batch at a time.
    encoder = store.encoder
    stored = {entry[0] for entries in known.values() for entry in entries}
    # on a CPU the model is as fast on 8 images as on 32: start it as soon as 8 are decoded
    chunk = min(batch_size, _CPU_CHUNK) if encoder.device == "cpu" else batch_size
    ahead: deque[list[Future[_ReadFile]]] = deque()
    upcoming = iter(batches)

    def top_up() -> None:
        while len(ahead) < _LOOKAHEAD:
            following = next(upcoming, None)
            if following is None:
                return
            ahead.append([encoder.submit(_read_file, encoder, p, s, stored) for p, s in following])

    try:
        for batch in batches:
            top_up()
            current = ahead.popleft()
            top_up()  # the next batches are read and decoded while this one is in the model
            _index_batch(store, current, known, report, chunk)
            if bar is not None:
                bar.update(len(batch))
    except StoreError as exc:  # a server gone, say: tell what landed
        report.seconds = time.perf_counter() - started
        raise _stopped(exc, report) from exc
    finally:
        for futures in ahead:
            for future in futures:
                future.cancel()
        if bar is not None:
            bar.close()
    report.seconds = time.perf_counter() - started
    return report


def _changed_files(
    paths: Iterable[Path], known: dict[str, list[tuple[str, int, int]]], report: IndexReport
) -> list[tuple[Path, os.stat_result]]:
    """The files that need reading; unchanged ones go to ``report.skipped``, unreadable to ``failed``."""
    pending: list[tuple[Path, os.stat_result]] = []
    for path in paths:
        uri = file_uri(path)
        try:
            stat = path.stat()
        except OSError as exc:
            report.failed.append(FailedFile(uri, f"cannot read file: {exc.strerror}"))
            continue
        entries = known.get(uri, [])
        # one entry with the same size and time: unchanged. Several entries for one path (a run
        # interrupted between writing a changed file and deleting its old entry) are re-checked.
        if len(entries) == 1 and entries[0][1:] == (stat.st_mtime_ns, stat.st_size):
            report.skipped.append(IndexedFile(uri, entries[0][0], "unchanged"))
        else:
            pending.append((path, stat))
    return pending


@dataclass(frozen=True)
class _Decision:
    """What to do with one read file: embed it, or record it as skipped (and maybe touch its entry)."""

    status: Status
    meta: dict[str, Any]  # the file's facts (uri, mtime, size)
    previous: list[str]  # ids of this path's older pictures, to delete
    detail: str = ""
    embed: bool = False
    touch: bool = False  # update the stored entry's file facts (same picture, touched or moved)


def _decide(
    uri: str,
    mtime_ns: int,
    size: int,
    key: str,
    known: dict[str, list[tuple[str, int, int]]],
    stored_uri: dict[str, Any],
    batch_ids: Container[str],
    exists: Callable[[str], bool] | None = None,
) -> _Decision:
    """Decide one file against the store (``stored_uri``: id -> uri) and the batch's new ids.

    ``exists`` tells whether the file a stored uri names is still there (a path by default).
    """
    file_meta = {URI: uri, MTIME: int(mtime_ns), SIZE: int(size)}
    previous = [entry[0] for entry in known.get(uri, []) if entry[0] != key]  # this path's older pictures
    if key in stored_uri:
        other = stored_uri[key]
        if other == uri or other is None or not (exists or _path_exists)(str(other)):
            # same picture: only the file's facts changed (touched, or moved here)
            status: Status = "unchanged" if other == uri else "moved"
            return _Decision(status, file_meta, previous, touch=True)
        return _Decision("duplicate", file_meta, previous, f"same picture as {other}")
    if key in batch_ids:
        return _Decision("duplicate", file_meta, previous, "same picture as another file")
    return _Decision("updated" if previous else "added", file_meta, previous, embed=True)


def _path_exists(path: str) -> bool:
    return Path(path).exists()


@dataclass
class _ReadFile:
    """One file as a worker thread left it: read and hashed, and decoded when it will be needed."""

    uri: str
    stat: os.stat_result
    key: str = ""
    failure: str = ""  # could not be read: the reason
    data: bytes | None = None  # kept when the file was not decoded ahead
    prepared: PreparedImage | None = None
    decode_failure: str = ""  # could not be decoded: the reason (reported only if it was needed)


def _read_file(encoder: SiglipEncoder, path: Path, stat: os.stat_result, stored: set[str]) -> _ReadFile:
    """Read and hash one file; decode and preprocess it unless its picture is already stored."""
    uri = file_uri(path)
    data, key, failure = _read_and_hash(path)
    if failure:
        return _ReadFile(uri, stat, failure=failure)
    if key in stored:  # most likely touched or moved: no decoding unless it turns out needed
        return _ReadFile(uri, stat, key, data=data)
    try:
        return _ReadFile(uri, stat, key, prepared=encoder.prepare_image(data))
    except ImageLoadError as exc:
        return _ReadFile(uri, stat, key, decode_failure=exc.reason)


def _read_and_hash(path: Path) -> tuple[bytes, str, str]:
    """The file's bytes and content id, or ``(b"", "", reason)`` when it cannot be indexed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return b"", "", f"cannot read file: {exc.strerror or exc}"
    if not data:
        return b"", "", "empty file (zero bytes)"
    return data, content_id("image", data), ""


def _index_batch(
    store: MultimodalStore,
    batch: list[Future[_ReadFile]],
    known: dict[str, list[tuple[str, int, int]]],
    report: IndexReport,
    chunk: int,
) -> None:
    """Decide what to do with one batch of files, in order, and write the batch's new pictures.

    The files' decisions and the model's forward passes go ``chunk`` files at a time, as soon as
    the worker threads have read them, so the model starts before the whole batch is decoded.
    The outcome is that of deciding the whole batch at once: every id is looked up in the store
    once, before this batch changes it; read failures are reported before decoding failures.
    The batch's files go into ``report`` once its writes are done, so that a report of a run that
    stopped half-way (:func:`_stopped`) lists only files that are in the store.
    """
    done = IndexReport(report.folder)
    stored_uri: dict[str, Any] = {}
    looked_up: set[str] = set()
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    replaced: list[str] = []
    waiting: list[PreparedImage] = []
    vectors: list[npt.NDArray[np.float32]] = []
    undecodable: list[FailedFile] = []
    for start in range(0, len(batch), chunk):
        read: list[_ReadFile] = []
        for future in batch[start : start + chunk]:
            item = future.result()
            if item.failure:
                done.failed.append(FailedFile(item.uri, item.failure))
            else:
                read.append(item)
        new_keys = sorted({r.key for r in read} - looked_up)
        if new_keys:
            for i, m in store._existing_ids(new_keys).items():
                stored_uri[i] = m.get(URI)
            looked_up.update(new_keys)

        for item in read:
            uri, key = item.uri, item.key
            decision = _decide(uri, item.stat.st_mtime_ns, item.stat.st_size, key, known, stored_uri, ids)
            replaced.extend(decision.previous)
            if decision.touch:
                store._update_files([key], [decision.meta])
            if not decision.embed:
                done.skipped.append(IndexedFile(uri, key, decision.status, decision.detail))
                continue
            try:
                picture = _prepared(store.encoder, item)
            except ImageLoadError as exc:
                undecodable.append(FailedFile(uri, exc.reason))
                continue
            ids.append(key)
            waiting.append(picture)
            metas.append({**decision.meta, KIND: "image", "width": picture.width, "height": picture.height})
            outcome = done.updated if decision.status == "updated" else done.added
            outcome.append(IndexedFile(uri, key, decision.status))
        if len(waiting) >= chunk:
            vectors.append(store.encoder.encode_images(waiting))
            waiting = []
    if waiting:
        vectors.append(store.encoder.encode_images(waiting))
    done.failed.extend(undecodable)
    if ids:
        store._upsert(ids, np.concatenate(vectors), metas)
    if replaced:
        store.delete(ids=replaced)
    for name in ("added", "updated", "skipped", "failed"):
        getattr(report, name).extend(getattr(done, name))


def _stopped(exc: StoreError, report: IndexReport) -> StoreError:
    """``exc`` again, saying what was written before it and carrying ``report`` (see StoreError)."""
    written = len(report.added) + len(report.updated)
    message = (
        f"{exc}. Indexing stopped: {written} files were written before this ({len(report.added)} "
        f"added, {len(report.updated)} updated) and {len(report.skipped)} were already stored; "
        "the error's .report lists them. Run the same indexing again to finish: what is stored is "
        "skipped, nothing is stored twice"
    )
    try:
        stopped = type(exc)(message)
    except TypeError:  # an error class with another signature: keep it as it is
        stopped = exc
    stopped.report = report
    return stopped


def _prepared(encoder: SiglipEncoder, item: _ReadFile) -> PreparedImage:
    """The file's decoded picture: from the worker thread, or decoded now if it skipped it."""
    if item.decode_failure:
        raise ImageLoadError(item.uri, item.decode_failure)
    if item.prepared is not None:
        return item.prepared
    return encoder.prepare_image(item.data or b"")


def _known_files(store: MultimodalStore) -> dict[str, list[tuple[str, int, int]]]:
    """uri -> [(id, mtime_ns, size)] of every image entry that came from a file."""
    known: dict[str, list[tuple[str, int, int]]] = {}
    for item_id, meta in store.iter_metadata(where={KIND: "image"}):
        uri = (meta or {}).get(URI)
        if uri:
            entry = (item_id, int(meta.get(MTIME, -1)), int(meta.get(SIZE, -1)))
            known.setdefault(str(uri), []).append(entry)
    return known


def file_uri(path: str | os.PathLike[str]) -> str:
    """The absolute path of a file, as the store and the reports keep it.

    A name that is not valid UTF-8 (Python holds its odd bytes as lone surrogates, which neither
    chromadb nor JSON accept) has those bytes written as ``\\xNN``: ``caf\\xe9.png``.
    """
    return _printable(str(Path(path).resolve()))


def _printable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


def _extensions(extensions: Iterable[str] | None) -> frozenset[str]:
    if extensions is None:
        return IMAGE_EXTENSIONS
    if isinstance(extensions, str):
        extensions = extensions.split(",")
    result = frozenset("." + e.strip().lower().lstrip(".") for e in extensions if e.strip())
    if not result:
        raise ConfigurationError("extensions is empty; give at least one, such as ['jpg', 'png']")
    return result


def _progress(total: int, show: bool) -> Any:
    if not show or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="indexing")
