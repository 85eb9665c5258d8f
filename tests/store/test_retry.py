"""A Chroma server that is down, goes away mid-run, or restarts (store/retry.py): clear errors,
retries, reruns.

Each test starts its own ``chroma run`` on 127.0.0.1 (a free port, a data directory under
tmp_path) so that it can kill it and start it again on the same port and data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ServerUnavailableError
from siglip_retriever.store.retry import RetryPolicy
from tests.helpers import ChromaServer, assert_same_store, colour_pictures, free_port, snapshot


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    (tmp_path / "server").mkdir()
    chroma = ChromaServer(tmp_path / "server")
    chroma.start()
    try:
        yield chroma
    finally:
        chroma.kill()


def _photos(folder: Path, count: int = 20) -> Path:
    colours = [(i * 12, 255 - i * 12, 60) for i in range(count)]
    colour_pictures(folder, colours, size=(24, 24), name="p{i:02d}.png")
    return folder


def _connect(port: int, encoder: SiglipEncoder, **options: Any) -> MultimodalStore:
    return MultimodalStore.connect("127.0.0.1", port, encoder=encoder, collection="outage", **options)


def test_no_server_is_a_clear_error(tiny_encoder: SiglipEncoder) -> None:
    port = free_port()
    with pytest.raises(ServerUnavailableError) as info:
        _connect(port, tiny_encoder)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "chroma run --host" in str(info.value)


def test_server_killed_mid_run_then_restarted_and_rerun(
    server: ChromaServer, tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _photos(tmp_path / "photos")  # 20 pictures: 5 batches of 4
    store = _connect(server.port, tiny_encoder, retries=2, retry_backoff=0.05)
    written: list[int] = []
    upsert = store.upsert_vectors

    def upsert_then_kill_server(*args: Any, **kwargs: Any) -> None:
        upsert(*args, **kwargs)
        written.append(len(args[0]))
        if len(written) == 2:  # the server dies once two batches have landed
            server.kill()

    monkeypatch.setattr(store, "upsert_vectors", upsert_then_kill_server)
    with pytest.raises(ServerUnavailableError) as info:
        store.index_folder(folder)
    message = str(info.value)
    assert f"127.0.0.1:{server.port}" in message and "3 tries" in message
    assert "8 files were written before this" in message and "Run the same indexing again" in message
    report = info.value.report
    assert report is not None and len(report.added) == 8 and not report.failed

    server.start()  # same port, same data
    rerun = _connect(server.port, tiny_encoder)
    assert sorted(item.id for item in rerun.get()) == sorted(entry.id for entry in report.added)
    finished = rerun.index_folder(folder)
    assert (len(finished.added), len(finished.skipped)) == (12, 8)
    with MultimodalStore(tmp_path / "clean", encoder=tiny_encoder) as clean:
        clean.index_folder(folder)
        assert_same_store(snapshot(rerun), snapshot(clean))
    assert store.count() == 20  # the first store's client reconnects to the restarted server


def test_server_restart_within_the_retries_is_invisible(
    server: ChromaServer, tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _photos(tmp_path / "photos", count=8)
    store = _connect(server.port, tiny_encoder)
    upsert = store.upsert_vectors
    waits: list[float] = []

    def restart_while_waiting(seconds: float) -> None:  # the first wait: the server comes back
        waits.append(seconds)
        if len(waits) == 1:
            server.start()

    def kill_then_upsert(*args: Any, **kwargs: Any) -> None:
        if not waits:
            server.kill()
        upsert(*args, **kwargs)

    store.retry = RetryPolicy(retries=3, backoff=0.05, sleep=restart_while_waiting)
    monkeypatch.setattr(store, "upsert_vectors", kill_then_upsert)
    report = store.index_folder(folder)
    assert len(report.added) == 8 and waits == [0.05]
    assert store.count() == 8


def test_transient_errors_are_retried_and_others_are_not(
    tiny_encoder: SiglipEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder, retries=2, retry_backoff=0)
    store.add_texts(["one"])
    real_count = store.collection.count
    calls: list[str] = []

    def flaky_count() -> int:
        calls.append("count")
        if len(calls) <= 2:
            raise httpx.ConnectError("connection refused")
        return int(real_count())

    monkeypatch.setattr(store.collection, "count", flaky_count)
    assert store.count() == 1 and len(calls) == 3

    def broken_count() -> int:
        calls.append("broken")
        raise ValueError("a bad request is not retried")

    monkeypatch.setattr(store.collection, "count", broken_count)
    with pytest.raises(ValueError, match="not retried"):
        store.count()
    assert calls.count("broken") == 1

    def down() -> int:
        raise httpx.ReadError("server closed the connection")

    monkeypatch.setattr(store.collection, "count", down)
    with pytest.raises(ServerUnavailableError, match=r"did not answer \(count: server closed.*3 tries"):
        store.count()


def test_retry_options_are_checked(tiny_encoder: SiglipEncoder) -> None:
    from siglip_retriever.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="retries"):
        MultimodalStore.in_memory(encoder=tiny_encoder, retries=-1)
    with pytest.raises(ConfigurationError, match="retry_backoff"):
        MultimodalStore.in_memory(encoder=tiny_encoder, retry_backoff=-0.5)
