"""Index a list of folders, files and URIs with one engine: in this process, or on Ray.

:func:`index_paths` is the one place that chooses between the indexing engines: every folder goes
to :func:`~siglip_retriever.store.indexing.index_folder` (``engine="local"``) or to
:func:`~siglip_retriever.store.distributed.index_distributed` (``engine="ray"``, one Ray cluster
for all the paths), every single file to
:func:`~siglip_retriever.store.indexing.index_files` or Ray, and URIs (``s3://bucket/photos``,
``file:///data``) only to Ray. :func:`check_engine` refuses what an engine cannot do before any
store is opened. Ray is imported only by the Ray engine.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.errors import ConfigurationError
    >>> from siglip_retriever.store.engines import index_paths
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> folder = Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (32, 32), "red").save(folder / "red.png")
    >>> Image.new("RGB", (32, 32), "blue").save(folder / "blue.png")
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> reports = index_paths(store, [folder, folder / "red.png"])
    >>> [(len(r.added), len(r.skipped)) for r in reports]  # the file again: unchanged, skipped
    [(2, 0), (0, 1)]
    >>> try:
    ...     index_paths(store, ["s3://bucket/photos"])
    ... except ConfigurationError as exc:
    ...     print(exc)
    s3://bucket/photos is a URI; URIs need engine='ray' (local indexing reads paths)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.scanning import is_uri

if TYPE_CHECKING:
    from siglip_retriever.store.indexing import FolderOptions
    from siglip_retriever.store.report import IndexReport
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["ENGINES", "check_engine", "index_paths", "is_uri"]

ENGINES = ("local", "ray")
"""The indexing engines: ``"local"`` (in this process) and ``"ray"`` (on a Ray cluster)."""

if TYPE_CHECKING:
    PathOrUri = str | os.PathLike[str]
    OnReport = Callable[[PathOrUri, IndexReport], None]


def check_engine(
    engine: str, paths: Iterable[PathOrUri], *, ray_option: str = "engine='ray'", ocr: str | None = None
) -> None:
    """Refuse what ``engine`` cannot do with ``paths``, before any store is opened.

    Args:
        engine: one of :data:`ENGINES`.
        paths: the folders, files and URIs to index.
        ray_option: how the caller spells the choice of the Ray engine, for the messages
            (the command line says ``--engine ray``).
        ocr: the OCR setting asked for (``None``: none given).

    Raises:
        ConfigurationError: an unknown engine, a URI for the local engine (only Ray reads URIs),
            an unknown OCR setting, or OCR asked of the Ray engine (it reads no words yet).
        MissingDependencyError: the Ray engine without Ray installed, or OCR without rapidocr
            (the message names the extra).
    """
    if engine not in ENGINES:
        raise ConfigurationError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    from siglip_retriever.store.reading import resolve_ocr

    if engine == "ray" and ocr not in (None, "off"):
        resolve_ocr(ocr)  # an unknown setting is said as such
        raise ConfigurationError(
            f"the Ray engine does not read the words in pictures yet (ocr={ocr!r}): index with "
            f"{ray_option} and OCR off, then index the same paths here (the local engine) with OCR on: "
            "it reads the words of the stored pictures without embedding them again"
        )
    if ocr is not None:
        resolve_ocr(ocr)
    if engine == "ray":
        from siglip_retriever.store.distributed.cluster import require_ray

        require_ray(ray_option)
        return
    uris = [path for path in paths if is_uri(path)]
    if uris:
        raise ConfigurationError(f"{uris[0]} is a URI; URIs need {ray_option} (local indexing reads paths)")


def index_paths(
    store: MultimodalStore,
    paths: Sequence[PathOrUri],
    *,
    engine: str = "local",
    recursive: bool = True,
    extensions: Iterable[str] | None = None,
    remove_missing: bool = False,
    show_progress: bool = False,
    ray_address: str | None = None,
    num_workers: int = 1,
    cpus_per_worker: float = 1.0,
    num_cpus: int | None = None,
    dtype: str = "auto",
    ocr: str | None = None,
    decode: str = "auto",
    on_report: OnReport | None = None,
) -> list[IndexReport]:
    """Index each of ``paths`` (a folder, an image file, or with Ray a URI) into ``store``, incrementally.

    Args:
        store: the store to write to (a Chroma server for a Ray cluster of several machines).
        paths: folders, image files (any extension) and, for the Ray engine, URIs of either.
        engine: ``"local"`` (in this process) or ``"ray"`` (one Ray cluster for every path).
        recursive, extensions, remove_missing: for folders, as for
            :func:`~siglip_retriever.store.indexing.index_folder` (``extensions`` may also be one
            comma-separated string, ``"jpg,png"``).
        show_progress: a progress bar for each folder.
        ocr: which pictures' words the local engine reads (``"auto"``, ``"all"``, ``"off"``;
            ``None``: the store's last setting, else ``"auto"`` with the ``ocr`` extra), as for
            :func:`~siglip_retriever.store.indexing.index_folder`; the Ray engine reads none.
        decode: where the local engine decodes (``"auto"``, ``"threads"``, ``"processes"``), as
            for :func:`~siglip_retriever.store.indexing.index_folder`.
        ray_address, num_workers, cpus_per_worker, num_cpus, dtype: for the Ray engine, as for
            :func:`~siglip_retriever.store.distributed.index_distributed`.
        on_report: called with each path and its report as soon as that path is done.

    Returns:
        One :class:`~siglip_retriever.store.report.IndexReport` a path, in the order of ``paths``.

    Raises:
        ConfigurationError: see :func:`check_engine`; a bad option; no cluster at ``ray_address``.
        MissingDependencyError: the Ray engine without Ray installed.
        StoreError: the store failed mid-run; ``exc.report`` lists what landed.
    """
    check_engine(engine, paths, ocr=ocr)
    folders: FolderOptions = {
        "recursive": recursive,
        "extensions": extensions,
        "remove_missing": remove_missing,
        "show_progress": show_progress,
        "ocr": ocr,
        "decode": decode,
    }
    actors = _RayOptions(num_workers=num_workers, cpus_per_worker=cpus_per_worker, dtype=dtype)
    reports: list[IndexReport] = []
    with ExitStack() as stack:
        if engine == "ray":  # one cluster for every path
            from siglip_retriever.store.distributed.cluster import ray_cluster

            stack.enter_context(ray_cluster(ray_address, num_cpus=num_cpus))
        for path in paths:
            report = _index_path(store, path, engine, folders, actors)
            reports.append(report)
            if on_report is not None:
                on_report(path, report)
    return reports


class _RayOptions(TypedDict):
    """The Ray engine's model actors."""

    num_workers: int
    cpus_per_worker: float
    dtype: str


def _index_path(
    store: MultimodalStore, path: PathOrUri, engine: str, folders: FolderOptions, actors: _RayOptions
) -> IndexReport:
    """One folder, file or URI with ``engine``; Ray's cluster is already up."""
    if engine == "ray":
        from siglip_retriever.store.distributed import index_distributed

        return index_distributed(  # it reads no words (check_engine refused ocr="auto"/"all")
            store,
            path if is_uri(path) or Path(path).is_dir() else [path],
            recursive=folders.get("recursive", True),
            extensions=folders.get("extensions"),
            remove_missing=folders.get("remove_missing", False),
            show_progress=folders.get("show_progress", False),
            **actors,
        )
    if Path(path).is_dir():
        return store.index_folder(path, **folders)
    from siglip_retriever.store.indexing import index_files

    return index_files(store, [path], ocr=folders.get("ocr"), decode=folders.get("decode", "auto"))
