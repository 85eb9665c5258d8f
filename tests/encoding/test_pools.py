"""The decode threads (encoding/pools.py): below the model's priority, failures in input order, forks."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, ImageLoadError
from tests.helpers import random_pictures


@pytest.mark.parametrize("workers", [0, 2])
def test_first_failure_in_order_is_raised(tiny_siglip_dir: Path, tmp_path: Path, workers: int) -> None:
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=2, num_workers=workers)
    first, second = tmp_path / "first-bad.jpg", tmp_path / "second-bad.png"
    first.write_bytes(b"not a jpeg")
    second.write_bytes(b"not a png")
    items: list[Any] = [*random_pictures(3), first, *random_pictures(2), second]
    with pytest.raises(ImageLoadError, match=r"first-bad\.jpg"):
        encoder.encode_images(items)
    # the pool is still usable afterwards
    assert encoder.encode_images(random_pictures(5)).shape == (5, encoder.dim)


def test_worker_threads_run_below_the_model(tiny_siglip_dir: Path) -> None:
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", num_workers=2)

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    worker = encoder.submit(niceness).result()
    if sys.platform.startswith("linux"):
        assert worker > niceness()
    else:
        assert worker >= niceness()
    inline = SiglipEncoder(tiny_siglip_dir, device="cpu", num_workers=0)
    assert inline.submit(niceness).result() == niceness()
    with pytest.raises(ConfigurationError, match="num_workers"):
        SiglipEncoder(tiny_siglip_dir, device="cpu", num_workers=-1)


def _use_pool_in_child(queue: Any) -> None:
    from siglip_retriever.encoding.pools import decode_pool

    try:
        queue.put(decode_pool(2, low_priority=True).submit(pow, 6, 2).result(timeout=20))
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(repr(exc))


def test_decode_threads_work_in_a_forked_child(tiny_siglip_dir: Path) -> None:
    """A forked child gets pools of its own (the parent's threads do not exist there)."""
    import multiprocessing

    from siglip_retriever.encoding.pools import decode_pool

    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", num_workers=2)
    encoder.prepare_image(random_pictures(1)[0])
    assert decode_pool(2, low_priority=True).submit(pow, 6, 2).result() == 36  # the parent's pool runs
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_use_pool_in_child, args=(queue,))
    child.start()
    try:
        answer = queue.get(timeout=60)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert answer == 36
