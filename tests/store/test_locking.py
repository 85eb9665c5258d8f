"""Several processes on one store (store/locking.py).

An embedded store is open in one process at a time (chromadb 1.5.9's embedded client loses
vectors when two processes have one directory open; see siglip_retriever.store.locking): a second
process fails at once with StoreBusyError, or waits with ``lock_timeout``, and the store stays
whole. On a Chroma server, writers in several processes all land.
"""

from __future__ import annotations

import gc
import multiprocessing
import shutil
from multiprocessing.context import ForkServerContext
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from siglip_retriever import MultimodalStore
from siglip_retriever.cli import main
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, StoreBusyError, StoreError
from siglip_retriever.store.locking import LOCK_FILE, acquire
from tests.helpers import assert_same_store, chroma_client, colour_pictures, snapshot
from tests.store import index_worker


def _folders(root: Path, count: int, per_folder: int = 6) -> list[Path]:
    """``count`` folders of distinct pictures."""
    folders = []
    for n in range(count):
        folder = root / f"photos{n}"
        colours = [(n * 60, i * 20, 128) for i in range(per_folder)]
        colour_pictures(folder, colours, size=(24, 24), name="p{i}.png")
        folders.append(folder)
    return folders


def _open_in_child(
    context: ForkServerContext, db: Path, checkpoint: Path, lock_timeout: float | None
) -> tuple[multiprocessing.process.BaseProcess, object]:
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=index_worker.open_store, args=(str(db), str(checkpoint), lock_timeout, sender)
    )
    child.start()
    sender.close()
    return child, receiver


@pytest.mark.slow
def test_second_process_fails_at_once_or_waits(
    forkserver: ForkServerContext, tiny_siglip_dir: Path, tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    db = tmp_path / "db"
    MultimodalStore(db, encoder=tiny_encoder).close()
    ready_in, ready_out = forkserver.Pipe(duplex=False)
    stop_in, stop_out = forkserver.Pipe(duplex=False)
    holder = forkserver.Process(
        target=index_worker.hold_store, args=(str(db), str(tiny_siglip_dir), ready_out, stop_in)
    )
    holder.start()
    assert ready_in.recv() == 0  # the first process has the store open

    refused, answer = _open_in_child(forkserver, db, tiny_siglip_dir, 0)  # the default: fail at once
    kind, message = answer.recv()  # type: ignore[attr-defined]
    refused.join(60)
    assert kind == "StoreBusyError"
    assert str(db) in message and f"pid {holder.pid}" in message
    assert "lock_timeout" in message and "Chroma server" in message

    with pytest.raises(StoreBusyError, match=r"waited 0\.2 s"):  # this process, with a bounded wait
        MultimodalStore(db, encoder=tiny_encoder, lock_timeout=0.2)
    cli = CliRunner().invoke(main, ["--db", str(db), "--device", "cpu", "index", str(tmp_path)])
    assert cli.exit_code == 1
    assert cli.stderr.startswith(f"error: the store at {db} is open in another process (pid {holder.pid}")

    waiter, answer = _open_in_child(forkserver, db, tiny_siglip_dir, None)  # waits as long as it takes
    stop_out.send("stop")  # the holder writes one text, closes the store, and ends
    holder.join(60)
    assert holder.exitcode == 0
    assert answer.recv() == ("ok", "2")  # type: ignore[attr-defined]  # saw the holder's text, added its own
    waiter.join(60)
    with MultimodalStore(db, encoder=tiny_encoder) as store:
        items = store.get(include_vectors=True)
        assert len(items) == 2 and np.stack([i.vector for i in items]).shape == (2, tiny_encoder.dim)


@pytest.mark.slow
def test_two_processes_indexing_one_embedded_store_both_land(
    forkserver: ForkServerContext, tiny_siglip_dir: Path, tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    """Started together with lock_timeout=None, the two runs take turns and both complete."""
    folders = _folders(tmp_path, 2)
    db = tmp_path / "db"
    children = [
        forkserver.Process(
            target=index_worker.index_folder,
            args=(str(db), str(folder), str(tiny_siglip_dir)),
            kwargs={"lock_timeout": None},
        )
        for folder in folders
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0]
    with MultimodalStore(tmp_path / "clean", encoder=tiny_encoder) as clean:
        for folder in folders:
            clean.index_folder(folder)
        expected = snapshot(clean)
    with MultimodalStore(db, encoder=tiny_encoder) as store:
        assert_same_store(snapshot(store), expected)


@pytest.mark.slow
def test_lock_is_per_process_and_ends_with_close_or_garbage_collection(
    forkserver: ForkServerContext, tiny_siglip_dir: Path, tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    db = tmp_path / "db"
    first = MultimodalStore(db, encoder=tiny_encoder)
    second = MultimodalStore(db, encoder=tiny_encoder)  # same process: shared, not refused
    second.add_texts(["shared"])
    assert first.count() == 1
    assert (db / LOCK_FILE).exists()
    first.close()
    with pytest.raises(StoreError, match="is closed"):
        first.count()
    assert "closed" in repr(first)
    child, answer = _open_in_child(forkserver, db, tiny_siglip_dir, 0)
    assert answer.recv()[0] == "StoreBusyError"  # type: ignore[attr-defined]  # second still has it
    child.join(60)
    del second
    gc.collect()  # a store nobody refers to is closed by the garbage collector
    child, answer = _open_in_child(forkserver, db, tiny_siglip_dir, 0)
    assert answer.recv() == ("ok", "2")  # type: ignore[attr-defined]
    child.join(60)


def test_store_opened_on_a_user_persistent_client_is_locked_too(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    client = chroma_client(tmp_path / "db")
    store = MultimodalStore(None, client=client, encoder=tiny_encoder)
    assert (tmp_path / "db" / LOCK_FILE).exists()
    store.close()
    client.heartbeat()  # a client the store did not open is not closed with it


def test_lock_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="lock_timeout"):
        acquire(tmp_path, timeout=-1)
    lease = acquire(tmp_path, timeout=None)
    lease.release()
    lease.release()  # twice is harmless
    assert "pid " in (tmp_path / LOCK_FILE).read_text()


@pytest.mark.slow
def test_three_processes_index_into_one_server_collection(
    forkserver: ForkServerContext,
    chroma_server: tuple[str, int],
    tiny_siglip_dir: Path,
    tiny_encoder: SiglipEncoder,
    tmp_path: Path,
) -> None:
    host, port = chroma_server
    folders = _folders(tmp_path, 3, per_folder=10)
    children = [
        forkserver.Process(
            target=index_worker.index_into_server,
            args=(host, port, str(folder), str(tiny_siglip_dir), "three-writers"),
        )
        for folder in folders
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0, 0]
    with MultimodalStore(tmp_path / "clean", encoder=tiny_encoder) as clean:
        for folder in folders:
            clean.index_folder(folder)
        expected = snapshot(clean)
    store = MultimodalStore.connect(host, port, encoder=tiny_encoder, collection="three-writers")
    assert store.count() == 30
    assert_same_store(snapshot(store), expected)
    shutil.rmtree(tmp_path / "clean")
