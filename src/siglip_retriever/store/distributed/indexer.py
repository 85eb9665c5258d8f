"""index_distributed: incremental indexing on a Ray cluster, with the outcome of local indexing.

PDF and video files are not indexed by Ray yet: a run lists them in the report's ``ignored``,
saying so (:data:`PDFS_LOCAL`, :data:`VIDEOS_LOCAL`); local indexing indexes them. Nor does Ray
read the words in pictures: its report's ``ocr`` is ``"off"``, and a local run with OCR on
(``index --ocr auto``) reads the words of the pictures Ray stored, without embedding them again.

Local files must be readable at the same path on the driver and on every node (a shared or
network filesystem); files on an object store or HDFS are given as URIs (``s3://bucket/photos``,
``gs://``, ``hdfs://``, ``file:///``) or with ``filesystem=``, read through pyarrow as Ray Data
reads them, and stored under their full URI. The model must load on every node (a preset, a hub
id, or a checkpoint directory present at the same path everywhere).

Example (needs a Ray cluster, so it is not run as a doctest)::

    from siglip_retriever import MultimodalStore
    from siglip_retriever.store.distributed import index_distributed

    store = MultimodalStore.connect("127.0.0.1", 8000, model="demo")
    report = index_distributed(store, "photos/", num_workers=2)
    print(report.summary())

    # an S3 prefix (credentials from the environment), or an explicit filesystem
    index_distributed(store, "s3://bucket/photos", ray_address="auto", num_workers=8)
    from pyarrow.fs import S3FileSystem
    s3 = S3FileSystem(region="eu-west-1", access_key="...", secret_key="...")
    index_distributed(store, "bucket/photos", filesystem=s3, ray_address="auto")
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.distributed.cluster import ray_cluster, require_ray
from siglip_retriever.store.distributed.filesystems import resolve_source
from siglip_retriever.store.distributed.plan import EmbedResult, HashedFile, PlannedBatch, plan_batches
from siglip_retriever.store.facts import PictureFacts, picture_facts_of
from siglip_retriever.store.indexing import progress_bar
from siglip_retriever.store.pdfs import is_pdf
from siglip_retriever.store.plan import (
    EntryFiles,
    FileFacts,
    changed_files,
    delete_missing,
    known_files,
    local_facts,
    local_prefix,
    outdated_facts,
    refresh_facts,
)
from siglip_retriever.store.report import IgnoredFile, IndexReport
from siglip_retriever.store.scanning import file_uri, scan_folder
from siglip_retriever.store.videos import is_video

if TYPE_CHECKING:
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["PDFS_LOCAL", "VIDEOS_LOCAL", "index_distributed"]

PDFS_LOCAL = "a PDF: PDFs are indexed by the local engine for now (index it without --engine ray)"
"""Why Ray indexing leaves a PDF out (in the report's ``ignored``)."""

VIDEOS_LOCAL = "a video: videos are indexed by the local engine for now (index it without --engine ray)"
"""Why Ray indexing leaves a video out (in the report's ``ignored``)."""


def index_distributed(
    store: MultimodalStore,
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    recursive: bool = True,
    extensions: Iterable[str] | None = None,
    remove_missing: bool = False,
    ray_address: str | None = None,
    num_cpus: int | None = None,
    num_workers: int = 1,
    batch_size: int | None = None,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float | None = None,
    dtype: str = "auto",
    show_progress: bool = False,
    filesystem: Any = None,
) -> IndexReport:
    """Index a folder (or a list of files) into ``store`` with Ray, incrementally.

    The driver scans and decides with :mod:`siglip_retriever.store.plan`, as local indexing does;
    Ray tasks read, hash, decode and preprocess; ``num_workers`` actors (one model each, one GPU
    each when the cluster has GPUs) embed; the driver writes each batch as it comes back. Ids,
    vectors, metadata and the report are those of local indexing with the same batch size. Where
    files and the model must be: see the module's docstring, which has examples too.

    Args:
        store: where to write; a Chroma server for a cluster (:meth:`MultimodalStore.connect`).
        source: a folder to scan, or a list of image files (any extension); local paths, or URIs
            (a folder or a file each), or paths on ``filesystem``.
        recursive, extensions, remove_missing: as for :func:`~siglip_retriever.store.indexing.index_folder`.
        ray_address: a running cluster (``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``).
            ``None`` starts a local cluster on 127.0.0.1 for this call (unless Ray is already
            initialised in this process: then that one is used).
        num_cpus: CPUs of a local cluster (default: every core).
        num_workers: model actors (each loads the model once).
        batch_size: pictures per forward pass and per decision batch (default: the store's).
        cpus_per_worker: CPUs each actor reserves (and torch threads on a CPU).
        gpus_per_worker: GPUs each actor reserves; ``None``: 1 when the cluster has GPUs, else 0.
        dtype: the actors' model type (``"auto"``: float16 on a GPU, float32 on a CPU).
        show_progress: a progress bar of embedded images.
        filesystem: a ``pyarrow.fs.FileSystem`` to read ``source`` from (``S3FileSystem(...)``
            with credentials, a ``SubTreeFileSystem``, ...), as Ray Data's ``filesystem=``;
            ``None``: local paths, or the filesystem a URI names (``FileSystem.from_uri``). It is
            pickled to the tasks that read.

    Returns:
        An :class:`~siglip_retriever.store.report.IndexReport`, as local indexing returns.

    Raises:
        MissingDependencyError: Ray is not installed (``pip install "siglip-retriever[ray]"``).
        ConfigurationError: a bad option, no cluster at ``ray_address``, or a cluster too small
            for the actors and the decoding tasks.
    """
    started = time.perf_counter()
    size = store.encoder.batch_size if batch_size is None else batch_size
    workers = _Workers.checked(num_workers, cpus_per_worker, gpus_per_worker, dtype, size)
    require_ray()  # before any scanning: a missing extra is the first thing to hear about

    scan = _scan(source, filesystem, recursive=recursive, extensions=extensions, skip=store.path)
    report = scan.report
    scan.files = _pictures_only(scan.files, report)
    known = known_files(store)
    pending = [HashedFile(file) for file in changed_files(scan.files, known, report)]
    if pending:
        fs = scan.filesystem
        with ray_cluster(ray_address, num_cpus=num_cpus) as ray:
            workers.resolve(ray)
            hashed = _hash(ray, pending, size, fs)
            entries = EntryFiles(known)
            entries.load(store, {f.key for f in hashed if f.key}, [f.file.path for f in hashed])
            batches = [hashed[start : start + size] for start in range(0, len(hashed), size)]
            plan = plan_batches(batches, entries=entries, exists=scan.exists)
            _embed_and_write(ray, store, plan, workers, report, show_progress, fs)
    outdated = outdated_facts(scan.files, known)
    reader = _facts_reader(store, scan.filesystem)
    report.refreshed = refresh_facts(store, outdated, reader, submit=store.encoder.submit)
    if remove_missing and scan.prefix is not None:
        report.removed = delete_missing(store, scan.prefix, scan.present | {f.path for f in report.failed})
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Scan:
    """What the driver found to index, before the store is consulted."""

    report: IndexReport  # the run's report, with the failures of the scan itself
    files: list[FileFacts]
    filesystem: Any = None  # where the tasks read; None: local paths
    exists: Callable[[str], bool] | None = None  # whether a stored uri's file is still there
    prefix: str | None = None  # the scanned folder's uri prefix (what remove_missing looks under)
    present: set[str] = field(default_factory=set)  # uris found under it


def _scan(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    filesystem: Any,
    *,
    recursive: bool,
    extensions: Iterable[str] | None,
    skip: Path | None,
) -> _Scan:
    """List ``source``: a URI or a path on ``filesystem``, a local folder, or a list of files; a
    folder's listing leaves out the folder ``skip`` (the store's own)."""
    remote = resolve_source(source, filesystem)
    if remote is not None:
        listed, failed, ignored, scanned = remote.scan(recursive=recursive, extensions=extensions, skip=skip)
        report = IndexReport(folder=remote.root_uri(), failed=list(failed), ignored=ignored)
        scan = _Scan(report, listed, remote.filesystem, remote.exists)
        if scanned:
            scan.prefix, scan.present = report.folder.rstrip("/") + "/", {f.path for f in listed}
        return scan
    prefix, present = None, set()
    if isinstance(source, (str, os.PathLike)) and Path(source).expanduser().is_dir():
        root = Path(source).expanduser().resolve()
        folder_scan = scan_folder(root, recursive=recursive, extensions=extensions, skip=skip)
        paths, failed, ignored = folder_scan.files, folder_scan.failed, folder_scan.ignored
        folder, prefix, present = str(root), local_prefix(root), {file_uri(path) for path in paths}
    elif isinstance(source, (str, os.PathLike)):
        raise ConfigurationError(f"{source} is not a folder; pass a folder or a list of files")
    else:
        paths, failed, ignored = [Path(f).expanduser() for f in source], [], []
        folder = _common_parent(paths)
    report = IndexReport(folder=folder, failed=list(failed), ignored=ignored)
    # the tasks read local files at their absolute path (the same on every node)
    files = [replace(f, location=str(Path(f.source).resolve())) for f in local_facts(paths, report)]
    return _Scan(report, files, prefix=prefix, present=present)


def _pictures_only(files: list[FileFacts], report: IndexReport) -> list[FileFacts]:
    """The files that are neither PDFs nor videos; those go to the report's ``ignored``
    (:data:`PDFS_LOCAL`, :data:`VIDEOS_LOCAL`)."""
    pictures = []
    for file in files:
        if is_pdf(file.path):
            report.ignored.append(IgnoredFile(file.path, PDFS_LOCAL))
        elif is_video(file.path):
            report.ignored.append(IgnoredFile(file.path, VIDEOS_LOCAL))
        else:
            pictures.append(file)
    return pictures


def _facts_reader(store: MultimodalStore, filesystem: Any) -> Callable[[FileFacts], PictureFacts] | None:
    """How to read a file's picture facts (decoded here, on the driver, as the store's model
    decodes it): local files by default, else through the pyarrow ``filesystem``."""
    if filesystem is None:
        return None
    preparer = store.encoder.image_preparer()

    def facts_of(file: FileFacts) -> PictureFacts:
        with filesystem.open_input_file(file.source) as handle:
            return picture_facts_of(preparer, handle.read())

    return facts_of


@dataclass
class _Workers:
    """How the model actors are set up."""

    count: int
    cpus: float
    gpus: float | None
    dtype: str
    batch_size: int

    @classmethod
    def checked(cls, count: int, cpus: float, gpus: float | None, dtype: str, batch_size: int) -> _Workers:
        """The actors' setup, after checking the options."""
        if not isinstance(count, int) or count < 1:
            raise ConfigurationError(f"num_workers must be a positive integer, not {count!r}")
        if cpus <= 0:
            raise ConfigurationError(f"cpus_per_worker must be positive, not {cpus!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, not {batch_size!r}")
        return cls(count, cpus, gpus, dtype, batch_size)

    def resolve(self, ray: Any) -> None:
        """Pick GPUs when the cluster has them; refuse a pool that leaves no CPU for decoding."""
        resources = ray.cluster_resources()
        if self.gpus is None:
            self.gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        cpus = float(resources.get("CPU", 0))
        if self.count * self.cpus + 1 > cpus:
            raise ConfigurationError(
                f"{self.count} workers x {self.cpus:g} CPUs leave no CPU for decoding on a cluster of "
                f"{cpus:g} CPUs; use fewer workers, a smaller cpus_per_worker (--cpus-per-worker), or "
                "a larger cluster"
            )


def _blocks(rows: int, size: int) -> int:
    return max(1, math.ceil(rows / size))


def _common_parent(files: list[Path]) -> str:
    return os.path.commonpath([str(p.resolve().parent) for p in files]) if files else ""


def _rows(files: Iterable[HashedFile]) -> list[dict[str, Any]]:
    """Rows for the tasks: the file's uri, and where to read it (a local path, or a path on the
    run's pyarrow filesystem)."""
    return [{"row": n, "path": f.file.source} for n, f in enumerate(files)]


def _hash(ray: Any, hashed: list[HashedFile], size: int, filesystem: Any = None) -> list[HashedFile]:
    """Read and hash the changed files in Ray tasks, filling in ``key`` and ``failure``."""
    from siglip_retriever.store.distributed.stages import hash_files

    rows = _rows(hashed)
    dataset = ray.data.from_items(rows, override_num_blocks=_blocks(len(rows), size))
    stage = dataset.map_batches(hash_files, batch_size=size, fn_kwargs={"filesystem": filesystem})
    for batch in stage.iter_batches(batch_size=None, batch_format="numpy"):
        for row, key, failure in zip(batch["row"], batch["key"], batch["failure"], strict=True):
            hashed[int(row)].key, hashed[int(row)].failure = str(key), str(failure)
    return hashed


def _embed_and_write(
    ray: Any,
    store: MultimodalStore,
    plan: list[PlannedBatch],
    workers: _Workers,
    report: IndexReport,
    show_progress: bool,
    filesystem: Any = None,
) -> None:
    """Decode (tasks) and embed (actors) the planned files; write each batch when it is complete."""
    from siglip_retriever.store.distributed.stages import EmbedWorker, prepare_files

    items = [
        {"row": f.row, "path": f.file.source, "key": f.key}
        for batch in plan
        for f in batch.files
        if f.row is not None
    ]
    results: dict[int, EmbedResult] = {}
    applied = 0

    def flush() -> None:
        nonlocal applied
        while applied < len(plan) and plan[applied].ready(results):
            plan[applied].apply(store, results, report)
            for row in plan[applied].embed_rows:  # later batches need only to know what failed
                results[row] = EmbedResult(None, failure=results[row].failure)
            applied += 1

    flush()
    if items:
        gpus = workers.gpus or 0.0
        size = workers.batch_size
        dataset = (
            ray.data.from_items(items, override_num_blocks=_blocks(len(items), size))
            .map_batches(
                prepare_files,
                batch_size=size,
                fn_kwargs={"preparer": store.encoder.image_preparer(), "filesystem": filesystem},
            )
            .map_batches(
                EmbedWorker,
                batch_size=size,
                compute=ray.data.ActorPoolStrategy(size=workers.count),
                num_cpus=workers.cpus,
                num_gpus=gpus,
                fn_constructor_kwargs={
                    "model": store.encoder.model_id,
                    "device": "cuda" if gpus > 0 else "cpu",
                    "dtype": workers.dtype,
                    "batch_size": size,
                    "threads": max(1, int(workers.cpus)),
                },
            )
        )
        bar = progress_bar(len(items), show_progress)
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                columns = (batch["row"], batch["vector"], batch["width"], batch["height"], batch["failure"])
                for n, (row, vector, width, height, failure) in enumerate(zip(*columns, strict=True)):
                    facts = {"phash": str(batch["phash"][n]), "taken": str(batch["taken"][n])}
                    results[int(row)] = EmbedResult(vector, int(width), int(height), str(failure), **facts)
                flush()
                if bar is not None:
                    bar.update(len(batch["row"]))
        finally:
            if bar is not None:
                bar.close()
    flush()
    if applied < len(plan):  # pragma: no cover - Ray returned fewer rows than it was given
        raise RuntimeError(f"Ray returned results for {len(results)} of {len(items)} files")
