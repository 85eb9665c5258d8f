"""The worker processes (encoding/processes.py): arrays through reused shared memory, exactly the
thread path's; a worker killed mid-task fails that task only and is replaced; nothing leaks."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage
from siglip_retriever.encoding.processes import PreparerPool
from siglip_retriever.errors import ConfigurationError, ImageLoadError
from tests.helpers import photo_like, random_pictures


def held_step(preparer: ImagePreparer, state: Any, task: str) -> tuple[PreparedImage, str]:
    """A step that, for a task named ``*hold*``, says it started (a file beside ``state``) and
    then waits to be killed; other tasks are prepared as usual."""
    if "hold" in Path(task).name:
        Path(state, Path(task).name + ".started").write_text(str(os.getpid()))
        time.sleep(120)
    return preparer(task), Path(task).name


def big_step(preparer: ImagePreparer, state: Any, task: Any) -> tuple[PreparedImage, None]:
    """A step whose arrays do not fit a slot (as a variable-resolution processor's might not)."""
    arrays = {"pixel_values": np.arange(2_000_000, dtype=np.float32)}
    return PreparedImage(preparer.model_id, arrays, 1, 1), None


def _shm() -> set[str]:
    return set(os.listdir("/dev/shm"))


@pytest.fixture
def pictures(tmp_path: Path) -> list[Path]:
    """Twelve pictures of several sizes and formats (a 12-bit-wide JPEG large enough to be drafted)."""
    paths = []
    for n, picture in enumerate(random_pictures(6)):
        paths.append(tmp_path / f"random_{n}.png")
        picture.save(paths[-1])
    for n in range(6):
        paths.append(tmp_path / f"photo_{n}.jpg")
        photo_like(n, size=(900 + 40 * n, 600)).save(paths[-1], quality=90)
    return paths


@pytest.fixture(scope="module")
def siglip2_encoder(tiny_siglip2_dir: Path) -> SiglipEncoder:
    return SiglipEncoder(tiny_siglip2_dir, device="cpu")


@pytest.mark.parametrize("family", ["siglip", "siglip2"])
def test_arrays_equal_the_thread_path_through_reused_slots(
    family: str, tiny_encoder: SiglipEncoder, siglip2_encoder: SiglipEncoder, pictures: list[Path]
) -> None:
    encoder = tiny_encoder if family == "siglip" else siglip2_encoder
    preparer = encoder.image_preparer()
    with PreparerPool(preparer, workers=2) as pool:
        names = pool.slot_names
        assert len(names) == 4 and set(names) <= _shm()  # 2 workers, 2 tasks in flight each
        futures = [pool.submit(str(path)) for path in pictures * 2]  # more tasks than slots
        results = [future.result(timeout=120) for future in futures]
        assert pool.slot_names == names  # the same slots served all 24 tasks
        assert pool.pickled == 0  # every picture (SigLIP 2's padded patches too) fit its slot
    for (prepared, extra), path in zip(results, pictures * 2, strict=True):
        expected = preparer(str(path))  # the thread path's step
        assert extra is None and prepared is not None
        assert (prepared.width, prepared.height, prepared.model_id) == (
            expected.width,
            expected.height,
            expected.model_id,
        )
        assert prepared.inputs.keys() == expected.inputs.keys()
        for key, array in expected.inputs.items():
            assert prepared.inputs[key].dtype == array.dtype
            np.testing.assert_array_equal(prepared.inputs[key], array)
    assert not set(names) & _shm()  # the shared memory is released
    vectors = encoder.encode_images([prepared for prepared, _ in results[:4]])
    np.testing.assert_allclose(vectors, encoder.encode_images([str(p) for p in pictures[:4]]), atol=1e-6)


def test_a_killed_worker_fails_its_task_only_and_is_replaced(
    tiny_encoder: SiglipEncoder, pictures: list[Path], tmp_path: Path
) -> None:
    held = tmp_path / "hold_me.png"
    Image.new("RGB", (40, 30), "blue").save(held)
    tasks = [str(p) for p in pictures[:5]] + [str(held)] + [str(p) for p in pictures[5:]]
    with PreparerPool(tiny_encoder.image_preparer(), workers=2, step=held_step, state=str(tmp_path)) as pool:
        names = pool.slot_names
        futures = [pool.submit(task) for task in tasks]
        started = tmp_path / "hold_me.png.started"
        deadline = time.monotonic() + 120
        while not started.exists():
            assert time.monotonic() < deadline, "the held task never started"
            time.sleep(0.05)
        victim = int(started.read_text())
        assert pool.running()[victim][0] == str(held)  # the pool knows which file its worker held
        os.kill(victim, signal.SIGKILL)
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=120)[1])
            except ImageLoadError as exc:
                outcomes.append(exc)
        assert victim not in pool.pids and pool.replaced == 1
        assert pool.slot_names == names  # the new worker took over the dead one's slots
        assert pool.submit(str(pictures[0])).result(timeout=120)[1] == pictures[0].name  # it works
    failed = outcomes[5]
    assert isinstance(failed, ImageLoadError) and failed.source == str(held)
    assert failed.reason == "the decoder crashed on this file (worker process exited with signal 9)"
    assert outcomes[:5] + outcomes[6:] == [p.name for p in pictures]  # nothing else lost
    assert not set(names) & _shm()  # the shared memory is released


def test_step_errors_come_back_and_oversized_arrays_are_pickled(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    preparer = tiny_encoder.image_preparer()
    with PreparerPool(preparer, workers=1) as pool:
        with pytest.raises(ImageLoadError, match=r"broken\.jpg") as caught:
            pool.submit(str(broken)).result(timeout=120)
        assert "JPEG" in caught.value.reason or "image" in caught.value.reason
        pids = pool.pids
    assert all(not _alive(pid) for pid in pids)  # stopped with the pool
    with PreparerPool(preparer, workers=1, step=big_step) as pool:
        prepared, _ = pool.submit("anything").result(timeout=120)
        assert pool.pickled == 1
    assert prepared is not None
    np.testing.assert_array_equal(prepared.inputs["pixel_values"], np.arange(2_000_000, dtype=np.float32))
    with pytest.raises(ConfigurationError, match="closed"):
        pool.submit("late")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not status.exists() or status.read_text().split()[2] != "Z"


class DiesOnArrival:
    """State whose unpickling ends the worker process (exit code 3) before it is ready, as a
    worker that cannot start (a script without a main guard, a broken install) ends."""

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return os._exit, (3,)


def test_workers_that_die_as_they_start_fail_the_tasks_and_say_why(tiny_encoder: SiglipEncoder) -> None:
    with PreparerPool(tiny_encoder.image_preparer(), workers=2, state=DiesOnArrival()) as pool:
        future = pool.submit("anything")
        with pytest.raises(
            ConfigurationError, match=r"worker processes die as they start \(exited with code 3"
        ):
            future.result(timeout=120)
        with pytest.raises(ConfigurationError, match="if __name__ == '__main__'"):
            pool.submit("more")
