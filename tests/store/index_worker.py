"""Child-process side of the reliability tests: index a folder, and die at a chosen point.

The tests run these functions in processes started by a ``multiprocessing`` fork server that
imported torch, transformers and chromadb once (``set_forkserver_preload([__name__])``), so a
child starts in well under a second instead of the 8 s a fresh interpreter needs here. Nothing in
the fork server has run a model or opened a chromadb client (neither survives a fork).

A kill point ``(operation, n, moment)`` sends SIGKILL to the child itself around its ``n``-th call
of one store operation (``"upsert"``, ``"delete"``, ``"update"``):

- ``"before"``: the call has not started;
- ``"half"`` (upsert only): the first half of the call's entries were written, then death;
- ``"after"``: the call returned, the next step of indexing has not begun;
- ``"during"``: a thread kills the process a fraction of a millisecond into the call, so the
  kill lands inside chromadb's write (sqlite, the vector index files) or right after it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import chromadb  # noqa: F401 - preloaded by the fork server
import torch  # noqa: F401 - preloaded by the fork server
import transformers

import siglip_retriever.encoding.encoder
import siglip_retriever.store

# transformers imports its model and processor classes lazily, on first use (6 s here): do it now,
# in the fork server, so that every child finds them imported
_ = (transformers.SiglipModel, transformers.SiglipImageProcessorPil, transformers.SiglipTokenizer)
_ = (transformers.AutoModel, transformers.AutoImageProcessor, transformers.AutoTokenizer)

KillPoint = tuple[str, int, str]


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _open_store(path: str, checkpoint: str, **options: Any) -> siglip_retriever.store.MultimodalStore:
    encoder = siglip_retriever.encoding.encoder.SiglipEncoder(checkpoint, device="cpu", batch_size=4)
    return siglip_retriever.store.MultimodalStore(path, encoder=encoder, **options)


def _with_kill_point(
    store: siglip_retriever.store.MultimodalStore,
    kill: KillPoint | None,
    progress: Connection | None,
) -> None:
    """Wrap the store's writes: count them, report them, and die at the kill point."""
    calls: Counter[str] = Counter()
    names = {"upsert": "upsert_vectors", "delete": "delete", "update": "update_file_facts"}

    def wrap(operation: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(ids: Any, *args: Any, **kwargs: Any) -> Any:
            calls[operation] += 1
            here = kill is not None and kill[:2] == (operation, calls[operation])
            moment = kill[2] if kill is not None and here else ""
            if moment == "before":
                _die()
            if moment == "half":
                half = len(ids) // 2
                real(ids[:half], args[0][:half], args[1][:half])
                _die()
            if moment == "during":
                threading.Timer(0.0003, _die).start()
            result = real(ids, *args, **kwargs)
            if moment == "after":
                _die()
            if progress is not None:
                progress.send((operation, calls[operation]))
            return result

        return call

    for operation, attribute in names.items():
        setattr(store, attribute, wrap(operation, getattr(store, attribute)))


def index_folder(
    store_path: str,
    folder: str,
    checkpoint: str,
    kill: KillPoint | None = None,
    progress: Connection | None = None,
    remove_missing: bool = False,
    lock_timeout: float | None = 0.0,
) -> None:
    """Index ``folder`` into the embedded store at ``store_path``, dying at ``kill`` if given."""
    store = _open_store(store_path, checkpoint, lock_timeout=lock_timeout)
    _with_kill_point(store, kill, progress)
    store.index_folder(folder, remove_missing=remove_missing)
    store.close()


def index_into_server(host: str, port: int, folder: str, checkpoint: str, collection: str) -> None:
    """Index ``folder`` into a Chroma server's collection (one of several concurrent writers)."""
    encoder = siglip_retriever.encoding.encoder.SiglipEncoder(checkpoint, device="cpu", batch_size=4)
    store = siglip_retriever.store.MultimodalStore.connect(host, port, encoder=encoder, collection=collection)
    report = store.index_folder(folder)
    if report.failed:
        raise RuntimeError(f"unexpected failures: {report.failed}")


def hold_store(store_path: str, checkpoint: str, ready: Connection, stop: Connection) -> None:
    """Open the store, say so, keep it open until told to stop, then write one text and close."""
    store = _open_store(store_path, checkpoint)
    ready.send(store.count())
    stop.recv()
    store.add_texts(["written by the first process before it closed the store"])
    store.close()


def open_store(store_path: str, checkpoint: str, lock_timeout: float | None, answer: Connection) -> None:
    """Try to open the store; send back its count, or the error's type and message."""
    try:
        store = _open_store(store_path, checkpoint, lock_timeout=lock_timeout)
    except Exception as exc:
        answer.send((type(exc).__name__, str(exc)))
        return
    store.add_texts([f"written by pid {os.getpid()}"])
    answer.send(("ok", str(store.count())))
    store.close()
