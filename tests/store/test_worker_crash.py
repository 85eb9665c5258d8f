"""A decoder that crashes its worker process (store/feeding.py, encoding/processes.py): the run
finishes, that file is reported failed with the reason, every other file is indexed, and a rerun
retries only it. And the indexing process itself killed mid-run with worker processes: they go
with it, and a rerun ends in the store a clean run makes.

The crash is real: :class:`CrashingPreparer`, importable by the worker processes, sends SIGKILL to
its own process when it is given a file that starts with :data:`HOSTILE`, as a decoder's
segfault on a hostile file would end it. It reaches the workers the way every preparer does,
through ``encoder.image_preparer()``, which the tests replace.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.demo.data import write_image_folder
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.images import DecodedImage, ImageInput
from siglip_retriever.encoding.preparing import ImagePreparer
from tests.helpers import assert_same_store, snapshot

HOSTILE = b"\xff\xd8crash the decoder"
"""The first bytes of a file that kills the process decoding it (a JPEG's start, then a marker)."""

CRASH_REASON = "the decoder crashed on this file (worker process exited with signal 9)"


@dataclass(frozen=True)
class CrashingPreparer(ImagePreparer):
    """An :class:`ImagePreparer` whose decoder dies (SIGKILL) on a file that starts with :data:`HOSTILE`."""

    def decode(self, image: ImageInput) -> DecodedImage:
        if isinstance(image, bytes) and image.startswith(HOSTILE):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().decode(image)


def crashing(encoder: SiglipEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``encoder``'s preparer a :class:`CrashingPreparer`."""
    real = encoder.image_preparer()
    preparer = CrashingPreparer(*[getattr(real, field.name) for field in fields(real)])
    monkeypatch.setattr(encoder, "image_preparer", lambda: preparer)


def _folder(folder: Path) -> Path:
    """Eight pictures, a hostile file among them, and a broken one."""
    write_image_folder(folder, per_class=1, size=32)
    for path in sorted(folder.glob("*.png"))[8:]:
        path.unlink()
    (folder / "d_hostile.jpg").write_bytes(HOSTILE + bytes(range(256)) * 4)
    Image.new("RGB", (20, 30), "purple").save(folder / "z_last.jpg", format="JPEG")
    (folder / "broken.jpg").write_text("not a picture")
    return folder


def test_a_file_that_kills_its_worker_fails_alone(
    tiny_siglip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path / "photos")
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=4)
    crashing(encoder, monkeypatch)
    store = MultimodalStore(tmp_path / "db", encoder=encoder)
    report = store.index_folder(folder, decode="processes", ocr="off")
    assert report.feed is not None and report.feed.kind == "processes"
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert failed["d_hostile.jpg"] == CRASH_REASON
    assert set(failed) == {"d_hostile.jpg", "broken.jpg"}
    assert len(report.added) == 9  # every other picture: the 8 and the one after the crash
    assert store.count("image") == 9

    again = store.index_folder(folder, decode="processes", ocr="off")
    assert not again.added and not again.updated and len(again.skipped) == 9
    assert {Path(f.path).name: f.reason for f in again.failed} == failed  # retried, crashed again
    (folder / "d_hostile.jpg").unlink()
    Image.new("RGB", (24, 24), "teal").save(folder / "d_hostile.jpg", format="JPEG")  # fixed
    fixed = store.index_folder(folder, decode="processes", ocr="off")
    assert [Path(f.path).name for f in fixed.added] == ["d_hostile.jpg"]
    assert [Path(f.path).name for f in fixed.failed] == ["broken.jpg"]


def _index_and_die(store_path: str, folder: str, checkpoint: str, pids: Connection) -> None:
    """Child: index with worker processes, and die right after the first batch is written."""
    encoder = SiglipEncoder(checkpoint, device="cpu", batch_size=4)
    store = MultimodalStore(store_path, encoder=encoder)
    real = store.upsert_vectors

    def upsert_then_die(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        pids.send([child.pid for child in multiprocessing.active_children()])
        os.kill(os.getpid(), signal.SIGKILL)
        return result

    store.upsert_vectors = upsert_then_die  # type: ignore[method-assign]
    store.index_folder(folder, decode="processes", ocr="off")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return True
    return state == "Z"


@pytest.mark.slow  # a child process loads the model and starts its own workers
def test_indexing_killed_with_its_workers_then_rerun_equals_clean_run(
    tiny_siglip_dir: Path, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "photos")
    (folder / "d_hostile.jpg").unlink()
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    db = tmp_path / "killed"
    child = context.Process(target=_index_and_die, args=(str(db), str(folder), str(tiny_siglip_dir), sender))
    child.start()
    workers = receiver.recv()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    assert len(workers) >= 2
    deadline = time.monotonic() + 60
    while not all(_gone(pid) for pid in workers):  # they see their pipe close, and leave
        assert time.monotonic() < deadline, "worker processes outlived the indexing process"
        time.sleep(0.1)
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=4)
    with MultimodalStore(db, encoder=encoder) as store:
        assert 0 < store.count("image") < 9  # killed half-way
        store.index_folder(folder, decode="processes", ocr="off")
        got = snapshot(store)
    with MultimodalStore(tmp_path / "clean", encoder=encoder) as store:
        store.index_folder(folder, decode="threads", ocr="off")
        assert_same_store(got, snapshot(store))
