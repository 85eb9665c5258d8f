"""Indexing (store/indexing.py) killed with SIGKILL at many points, then run again, ends in the store
a clean run makes.

Each case indexes a folder in a child process (see ``tests/store/index_worker.py``) that kills itself
at a chosen point: before, half-way through, during or after one of the store's writes, or when
the parent decides from the child's progress. The parent then reruns the same indexing and
compares the store with one a single uninterrupted run made: the same ids, metadata, documents
and uris, vectors within 1e-6, no entry twice, nothing missing.
"""

from __future__ import annotations

import shutil
import signal
from multiprocessing.context import ForkServerContext
from pathlib import Path

import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.demo.data import write_image_folder
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.helpers import Snapshot, assert_same_store, snapshot
from tests.store import index_worker

pytestmark = pytest.mark.slow  # every case indexes in a child process and kills it


def _photos(folder: Path) -> Path:
    """24 demo pictures, copies of two (same content, two names), one in a sub-folder, one broken."""
    written = write_image_folder(folder, per_class=1, size=32)
    shutil.copy(written[0][0], folder / "copy_of_first.png")
    shutil.copy(written[1][0], folder / "copy_of_second.png")
    (folder / "sub").mkdir()
    Image.new("RGB", (20, 30), "purple").save(folder / "sub" / "deep.jpg", format="JPEG")
    (folder / "broken.jpg").write_text("not a picture")
    return folder


def _change(folder: Path) -> None:
    """Edit the folder between two runs: changed, new, renamed and deleted files, and copies
    added, moved and deleted (an entry's files change, its picture does not)."""
    files = sorted(folder.glob("*_000.png"))
    for n, path in enumerate(files[:4]):  # same name, new picture: 'updated'
        Image.new("RGB", (32, 32), (n * 40, 200, 17)).save(path)
    for n in range(5):  # new files
        Image.new("RGB", (24, 24), (3, n * 50, 90)).save(folder / f"new_{n}.png")
    for path in files[4:6]:  # renamed: 'moved', no new embedding
        path.rename(path.with_name("renamed_" + path.name))
    for path in files[6:9]:  # gone: removed with remove_missing=True
        path.unlink()
    shutil.copy(files[9], folder / "aa_copy.png")  # copies added: 'duplicate', the first one the primary
    shutil.copy(files[9], folder / "sub" / "copy.png")
    (folder / "copy_of_first.png").rename(folder / "sub" / "moved_copy.png")  # a copy moved
    (folder / "copy_of_second.png").unlink()  # one of two copies deleted


def _differs(got: Snapshot, clean: Snapshot) -> bool:
    try:
        assert_same_store(got, clean)
    except AssertionError:
        return True
    return False


def _clean_run(path: Path, folder: Path, encoder: SiglipEncoder, remove_missing: bool) -> Snapshot:
    with MultimodalStore(path, encoder=encoder) as store:
        store.index_folder(folder, remove_missing=remove_missing)
        return snapshot(store)


def _killed_run(
    context: ForkServerContext,
    store_path: Path,
    folder: Path,
    checkpoint: Path,
    kill: index_worker.KillPoint | None,
    *,
    kill_after_progress: int = 0,
    remove_missing: bool = False,
) -> None:
    """Run the indexing in a child and make sure it died by SIGKILL."""
    receiver, sender = context.Pipe(duplex=False)
    args = (str(store_path), str(folder), str(checkpoint), kill, sender if kill_after_progress else None)
    child = context.Process(target=index_worker.index_folder, args=(*args, remove_missing))
    child.start()
    sender.close()
    if kill_after_progress:  # the parent kills it: wherever the child is by then
        for _ in range(kill_after_progress):
            receiver.recv()
        child.kill()
    child.join(120)
    receiver.close()
    assert child.exitcode == -signal.SIGKILL, f"the child was not killed (exit code {child.exitcode})"


@pytest.fixture(scope="module")
def first_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _photos(tmp_path_factory.mktemp("crash") / "photos")


@pytest.fixture(scope="module")
def first_clean(
    first_folder: Path, tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory
) -> Snapshot:
    return _clean_run(tmp_path_factory.mktemp("clean") / "db", first_folder, tiny_encoder, False)


FIRST_RUN_KILLS: list[tuple[index_worker.KillPoint | None, int]] = [
    (("upsert", 1, "before"), 0),  # nothing written yet
    (("upsert", 3, "half"), 0),  # half of one batch written
    (("upsert", 2, "during"), 0),  # inside chromadb's write
    (("upsert", 5, "after"), 0),  # between two batches
    (None, 3),  # the parent kills it after it reported 3 writes
]


@pytest.mark.parametrize(("kill", "after_progress"), FIRST_RUN_KILLS)
def test_first_run_killed_then_rerun_equals_clean_run(
    kill: index_worker.KillPoint | None,
    after_progress: int,
    forkserver: ForkServerContext,
    first_folder: Path,
    first_clean: Snapshot,
    tiny_siglip_dir: Path,
    tiny_encoder: SiglipEncoder,
    tmp_path: Path,
) -> None:
    db = tmp_path / "db"
    _killed_run(forkserver, db, first_folder, tiny_siglip_dir, kill, kill_after_progress=after_progress)
    with MultimodalStore(db, encoder=tiny_encoder) as store:
        landed = store.count()
        assert landed < len(first_clean)  # killed before the end
        assert landed == 0 if kill == ("upsert", 1, "before") else landed > 0
        report = store.index_folder(first_folder)
        assert len(report.added) == len(first_clean) - landed  # the rerun embeds only what is missing
        assert_same_store(snapshot(store), first_clean)


@pytest.fixture(scope="module")
def changed(
    tmp_path_factory: pytest.TempPathFactory, tiny_encoder: SiglipEncoder
) -> tuple[Path, Path, Snapshot]:
    """A store indexed from a folder, the folder changed since, and a clean run of the changed folder."""
    root = tmp_path_factory.mktemp("changed")
    folder = _photos(root / "photos")
    with MultimodalStore(root / "before", encoder=tiny_encoder) as store:
        store.index_folder(folder)
    _change(folder)
    return root / "before", folder, _clean_run(root / "clean", folder, tiny_encoder, True)


SECOND_RUN_KILLS: list[tuple[index_worker.KillPoint | None, int]] = [
    (("upsert", 1, "after"), 0),  # a changed file's new entry written, its old one not deleted
    (("update", 1, "after"), 0),  # a renamed file's entry moved, nothing else
    (("delete", 1, "before"), 0),  # the changed files' old entries still there
    (("delete", 2, "before"), 0),  # everything indexed, the removed files not yet deleted
    (("delete", 1, "during"), 0),
    (None, 2),
]


@pytest.mark.parametrize(("kill", "after_progress"), SECOND_RUN_KILLS)
def test_incremental_run_killed_then_rerun_equals_clean_run(
    kill: index_worker.KillPoint | None,
    after_progress: int,
    forkserver: ForkServerContext,
    changed: tuple[Path, Path, Snapshot],
    tiny_siglip_dir: Path,
    tiny_encoder: SiglipEncoder,
    tmp_path: Path,
) -> None:
    before, folder, clean = changed
    db = tmp_path / "db"
    shutil.copytree(before, db)
    _killed_run(
        forkserver, db, folder, tiny_siglip_dir, kill, kill_after_progress=after_progress, remove_missing=True
    )
    with MultimodalStore(db, encoder=tiny_encoder) as store:
        assert _differs(snapshot(store), clean)  # killed before the end
        store.index_folder(folder, remove_missing=True)
        assert_same_store(snapshot(store), clean)


def test_uninterrupted_incremental_run_equals_clean_run(
    changed: tuple[Path, Path, Snapshot], tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    """The baseline the killed runs are held to: incremental and clean runs agree."""
    before, folder, clean = changed
    shutil.copytree(before, tmp_path / "db")
    with MultimodalStore(tmp_path / "db", encoder=tiny_encoder) as store:
        report = store.index_folder(folder, remove_missing=True)
        # removed: the 3 deleted files (the gone names of the moved and deleted copies left their
        # entries when another file of the same picture was indexed)
        assert (len(report.updated), len(report.removed)) == (4, 3)
        assert {f.status for f in report.skipped} >= {"moved", "unchanged", "duplicate"}
        assert_same_store(snapshot(store), clean)
