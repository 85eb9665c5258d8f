"""Every file of an entry (store/plan.py, store/indexing.py): copies of a picture added, moved and
deleted between incremental runs keep each entry's ``paths`` right, and every run ends in the
store a clean run of the same folder makes; the facts of each picture (fingerprint, size, date)
are recorded while indexing, and older stores get them without embedding again."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.store.facts import picture_facts, picture_facts_of
from siglip_retriever.store.files import StoredFile, files_metadata, stored_files
from siglip_retriever.store.metadata import FACTS, KIND, PATHS, PHASH, TAKEN
from siglip_retriever.store.report import IndexReport
from tests.helpers import assert_same_store, photo_like, snapshot


def _save(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    photo_like(seed, (96, 64)).save(path)
    return path


def _files(store: MultimodalStore) -> dict[str, list[str]]:
    """Each entry's files, by the name of its primary file, as paths relative to the folder."""
    out = {}
    for item in store.get(where={KIND: "image"}):
        names = [f.path for f in stored_files(item.metadata)]
        assert item.uri == names[0]  # the primary is the entry's uri
        assert names == sorted(names)
        out[Path(names[0]).name] = names
    return out


def _picture_and_copy(encoder: SiglipEncoder, tmp_path: Path) -> tuple[Path, MultimodalStore, IndexReport]:
    """A folder holding ``a.png`` and its copy ``b.png``, indexed into a new store, and the report."""
    root = tmp_path / "photos"
    _save(root / "a.png", 1)
    shutil.copy(root / "a.png", root / "b.png")
    store = MultimodalStore.in_memory(encoder=encoder)
    return root, store, store.index_folder(root)


def _clean(encoder: SiglipEncoder, folder: Path) -> MultimodalStore:
    store = MultimodalStore.in_memory(encoder=encoder)
    store.index_folder(folder)
    return store


Step = Callable[[Path], None]


def _add_copies(root: Path) -> None:
    shutil.copy(root / "b.png", root / "0-copy-of-b.png")  # sorts first: the primary moves to it
    shutil.copy(root / "a.png", root / "sub" / "a2.png")
    shutil.copy(root / "a.png", root / "z-copy-of-a.png")


def _move_and_delete_copies(root: Path) -> None:
    (root / "z-copy-of-a.png").rename(root / "sub" / "moved.png")  # a copy moved
    (root / "a.png").unlink()  # the primary of a's entry deleted: sub/a2.png takes over
    (root / "b.png").unlink()  # one of two copies deleted


def _overwrite_a_copy(root: Path) -> None:
    _save(root / "sub" / "a2.png", 4)  # new picture: leaves a's entry, which keeps sub/moved.png


def _delete_the_last_copy(root: Path) -> None:
    (root / "sub" / "moved.png").unlink()  # a's picture is in no file now: its entry goes


STEPS: list[tuple[Step, dict[str, list[str]], int]] = [
    (
        _add_copies,
        {
            "0-copy-of-b.png": ["0-copy-of-b.png", "b.png"],
            "a.png": ["a.png", "sub/a2.png", "z-copy-of-a.png"],
            "c.png": ["sub/c.png"],
        },
        0,
    ),
    (
        _move_and_delete_copies,
        {
            "0-copy-of-b.png": ["0-copy-of-b.png"],
            "a2.png": ["sub/a2.png", "sub/moved.png"],
            "c.png": ["sub/c.png"],
        },
        0,
    ),
    (
        _overwrite_a_copy,
        {
            "0-copy-of-b.png": ["0-copy-of-b.png"],
            "a2.png": ["sub/a2.png"],
            "moved.png": ["sub/moved.png"],
            "c.png": ["sub/c.png"],
        },
        1,
    ),
    (
        _delete_the_last_copy,
        {"0-copy-of-b.png": ["0-copy-of-b.png"], "a2.png": ["sub/a2.png"], "c.png": ["sub/c.png"]},
        0,
    ),
]


def test_copies_added_moved_and_deleted_between_runs(
    tiny_encoder: SiglipEncoder, tmp_path: Path, embedded: list[int]
) -> None:
    root = tmp_path / "photos"
    for name, seed in (("a.png", 1), ("b.png", 2), ("sub/c.png", 3)):
        _save(root / name, seed)
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    assert len(store.index_folder(root).added) == 3

    def relative(files: dict[str, list[str]]) -> dict[str, list[str]]:
        prefix = str(root.resolve()) + "/"
        return {key: [p.removeprefix(prefix) for p in paths] for key, paths in files.items()}

    for step, expected, embeds in STEPS:
        step(root)
        before = sum(embedded)
        report = store.index_folder(root, remove_missing=True)
        assert sum(embedded) - before == embeds == report.embedded, step.__name__
        assert relative(_files(store)) == expected, step.__name__
        assert_same_store(snapshot(store), snapshot(_clean(tiny_encoder, root)))


def test_a_copy_moved_without_remove_missing_leaves_its_old_path(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    root, store, first = _picture_and_copy(tiny_encoder, tmp_path)
    assert [f.status for f in first.skipped] == ["duplicate"]
    assert first.skipped[0].detail == "same picture as another file"
    (root / "b.png").rename(root / "c.png")
    report = store.index_folder(root)  # no remove_missing: the gone b.png is dropped as c.png joins
    assert [(Path(f.path).name, f.status) for f in report.skipped] == [
        ("a.png", "unchanged"),
        ("c.png", "duplicate"),
    ]
    assert report.skipped[1].detail == f"same picture as {(root / 'a.png').resolve()}"
    assert [Path(p).name for p in next(iter(_files(store).values()))] == ["a.png", "c.png"]
    (root / "a.png").rename(root / "d.png")
    (root / "c.png").unlink()
    assert [f.status for f in store.index_folder(root).skipped] == ["moved"]
    assert [Path(p).name for p in next(iter(_files(store).values()))] == ["d.png"]


def test_the_same_path_in_two_entries_is_repaired(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    """A run killed between writing a changed file's new entry and updating the old one leaves the
    path in both: the next run keeps it in the new one only, and the old one keeps its other file."""
    root, store, first = _picture_and_copy(tiny_encoder, tmp_path)
    old = first.added[0].id
    _save(root / "b.png", 2)
    store.index_folder(root)
    stale = store.get([old])[0].metadata
    both = [StoredFile(str((root / n).resolve()), 1, 1) for n in ("a.png", "b.png")]
    store.update_file_facts([old], [files_metadata(both)])  # b.png in both entries again
    assert len(store.index_folder(root).skipped) == 2
    assert store.get([old])[0].metadata[PATHS] == stale[PATHS]
    assert_same_store(snapshot(store), snapshot(_clean(tiny_encoder, root)))


def _jpeg_with_exif(path: Path, seed: int, date: str | None, orientation: int = 1) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    if date:
        exif.get_ifd(0x8769)[0x9003] = date
    path.parent.mkdir(parents=True, exist_ok=True)
    photo_like(seed, (120, 80)).save(path, "JPEG", quality=90, exif=exif.tobytes())


def test_indexing_records_each_pictures_facts(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    _jpeg_with_exif(root / "turned.jpg", 1, "2019:07:14 16:02:11", orientation=6)
    _save(root / "plain.png", 2)
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(root)
    items = {Path(i.uri or "").name: i for i in store.get()}
    preparer = tiny_encoder.image_preparer()
    for name, item in items.items():
        assert picture_facts(item.metadata) == picture_facts_of(preparer, root / name), name
    turned = picture_facts(items["turned.jpg"].metadata)
    assert (turned.width, turned.height, turned.taken) == (80, 120, "2019-07-14T16:02:11")
    assert TAKEN not in items["plain.png"].metadata  # no EXIF date: no key


def test_add_images_records_facts_and_keeps_the_other_files(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    root, store, _ = _picture_and_copy(tiny_encoder, tmp_path)
    [key] = store.add_images([root / "b.png"])
    assert [Path(f.path).name for f in stored_files(store.get([key])[0].metadata)] == ["a.png", "b.png"]
    [key] = store.add_images([(root / "a.png").read_bytes()])  # the same content, from bytes
    assert [Path(f.path).name for f in stored_files(store.get([key])[0].metadata)] == ["a.png", "b.png"]
    [other] = store.add_images([photo_like(5, (64, 48))])
    facts = picture_facts(store.get([other])[0].metadata)
    assert (facts.width, facts.height, facts.taken) == (64, 48, None) and facts.phash is not None
    assert stored_files(store.get([other])[0].metadata) == []


def test_an_older_store_gets_facts_and_paths_without_embedding(
    tiny_encoder: SiglipEncoder, tmp_path: Path, embedded: list[int]
) -> None:
    """Entries written before version 3 (no fingerprint, date or paths; a copy not recorded) are
    completed by the next run: each file decoded once, nothing embedded."""
    root = tmp_path / "photos"
    _jpeg_with_exif(root / "dated.jpg", 1, "2020:02:29 12:00:00")
    _save(root / "a.png", 2)
    (root / "sub").mkdir()
    shutil.copy(root / "a.png", root / "sub" / "copy.png")
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(root)
    for item in store.get():  # as version 2 left them: the uri alone
        old = {PHASH: None, TAKEN: None, PATHS: None, FACTS: 2}
        store.collection.update(ids=[item.id], metadatas=[old])
    assert all(PHASH not in i.metadata and PATHS not in i.metadata for i in store.get())
    before = sum(embedded)
    report = store.index_folder(root)
    assert sum(embedded) == before and report.embedded == 0
    assert report.refreshed == 2
    assert_same_store(snapshot(store), snapshot(_clean(tiny_encoder, root)))
    assert store.index_folder(root).refreshed == 0  # once only


def test_a_broken_paths_value_is_read_as_the_uri(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    _save(root / "a.png", 1)
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    [added] = store.index_folder(root).added
    store.collection.update(ids=[added.id], metadatas=[{PATHS: "[{not json"}])
    assert [f.path for f in stored_files(store.get([added.id])[0].metadata)] == [added.path]
    report = store.index_folder(root)
    assert [f.status for f in report.skipped] == ["unchanged"] and report.embedded == 0


def test_a_picture_added_from_bytes_takes_its_files_when_indexed(
    tiny_encoder: SiglipEncoder, tmp_path: Path, embedded: list[int]
) -> None:
    """An entry from no file gets the files holding its picture, in whatever batch they come."""
    root = tmp_path / "photos"
    _save(root / "a.png", 1)
    for n in range(5):  # the tiny encoder's batches are 4 files: the copy comes in the second
        _save(root / f"b{n}.png", 10 + n)
    shutil.copy(root / "a.png", root / "z-copy.png")
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    [key] = store.add_images([(root / "a.png").read_bytes()])
    assert stored_files(store.get([key])[0].metadata) == []
    before = sum(embedded)
    report = store.index_folder(root)
    assert sum(embedded) - before == 5 == report.embedded
    statuses = {Path(f.path).name: f.status for f in report.skipped}
    assert statuses == {"a.png": "moved", "z-copy.png": "duplicate"}
    assert [Path(f.path).name for f in stored_files(store.get([key])[0].metadata)] == ["a.png", "z-copy.png"]
