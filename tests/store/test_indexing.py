"""Incremental folder indexing (store/indexing.py): skip unchanged, re-embed changed, report failures,
remove missing; decode threads and chunked batches decide as a plain run does."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import PreparedImage, SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store import feeding, indexing
from siglip_retriever.store.facts import PictureFacts
from tests.helpers import random_pictures


def _folder(root: Path) -> Path:
    (root / "a" / "b").mkdir(parents=True)
    for colour in ["red", "green", "blue"]:
        Image.new("RGB", (40, 30), colour).save(root / f"{colour}.png")
        Image.new("RGB", (30, 40), colour).save(root / "a" / f"{colour}.JPG", format="JPEG")
    Image.new("RGB", (20, 20), "white").save(root / "a" / "b" / "deep.webp")
    (root / "notes.txt").write_text("not an image and not an image extension")
    (root / "fake.jpg").write_text("text named .jpg")
    (root / "page.png").write_text("<html></html>")
    (root / "empty.gif").write_bytes(b"")
    (root / "dangling.png").symlink_to(root / "nowhere.png")
    return root


def test_index_report_and_incremental_rerun(
    tiny_encoder: SiglipEncoder, embedded: list[int], tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "photos")
    store = MultimodalStore(tmp_path / "db", encoder=tiny_encoder)

    report = store.index_folder(folder)
    assert len(report.added) == 7  # 3 png + 3 jpg + 1 webp
    assert sum(embedded) == 7
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert set(failed) == {"fake.jpg", "page.png", "empty.gif", "dangling.png"}
    assert "not an image" in failed["fake.jpg"]
    assert "zero bytes" in failed["empty.gif"]
    assert "symbolic link" in failed["dangling.png"]
    assert store.count("image") == 7
    assert "7 added" in report.summary()

    # unchanged folder: nothing is embedded again
    again = store.index_folder(folder)
    assert sum(embedded) == 7
    assert again.embedded == 0
    assert len(again.skipped) == 7
    assert {f.status for f in again.skipped} == {"unchanged"}
    assert store.count() == 7

    # one file changes: only it is re-embedded, its old entry replaced
    old_id = next(f.id for f in report.added if f.path.endswith("green.png"))
    Image.new("RGB", (40, 30), "black").save(folder / "green.png")
    changed = store.index_folder(folder)
    assert sum(embedded) == 8
    assert [Path(f.path).name for f in changed.updated] == ["green.png"]
    assert store.count() == 7
    assert store.get(ids=[old_id]) == []

    # touching without changing content re-hashes but does not re-embed
    os.utime(folder / "red.png", ns=(1, 1))
    touched = store.index_folder(folder)
    assert sum(embedded) == 8
    assert touched.embedded == 0


def test_remove_missing_and_extensions(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "photos")
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="remove")
    store.index_folder(folder)
    (folder / "blue.png").unlink()
    kept = store.index_folder(folder)
    assert kept.removed == []
    assert store.count() == 7
    removed = store.index_folder(folder, remove_missing=True)
    assert [Path(p).name for p in removed.removed] == ["blue.png"]
    assert store.count() == 6

    only_png = MultimodalStore.in_memory(encoder=tiny_encoder, collection="png_only")
    report = only_png.index_folder(folder, extensions=["png"], recursive=False)
    assert sorted(Path(f.path).name for f in report.added) == ["green.png", "red.png"]
    with pytest.raises(ConfigurationError, match="extensions"):
        only_png.index_folder(folder, extensions=[])
    with pytest.raises(ConfigurationError, match="not a folder"):
        only_png.index_folder(folder / "red.png")


def test_duplicates_and_moves(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (20, 20), "red").save(folder / "one.png")
    (folder / "two.png").write_bytes((folder / "one.png").read_bytes())
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="dups")
    report = store.index_folder(folder)
    assert len(report.added) == 1
    assert [f.status for f in report.skipped] == ["duplicate"]
    assert store.count() == 1

    (folder / "one.png").unlink()
    (folder / "two.png").rename(folder / "three.png")
    moved = store.index_folder(folder)
    assert [f.status for f in moved.skipped] == ["moved"]
    assert store.get()[0].uri == str((folder / "three.png").resolve())  # type: ignore[union-attr]


def test_add_images_refuses_a_folder_and_index_folder_reports(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "photos")
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="folder")
    with pytest.raises(ConfigurationError, match=r"is a folder; add_images takes images.*index_folder"):
        store.add_images(folder)
    assert store.count() == 0
    assert len(store.index_folder(folder, extensions=["webp"]).added) == 1
    report = store.index_folder(folder)
    out = tmp_path / "report.json"
    report.write(out)
    data = json.loads(out.read_text())
    assert set(data) >= {"added", "updated", "skipped", "failed", "removed", "summary", "folder"}
    assert all(set(f) == {"path", "reason"} for f in data["failed"])


def test_interrupted_update_is_repaired(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    """A run killed between writing a changed file's new entry and deleting its old one."""
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (20, 20), "red").save(folder / "one.png")
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="repair")
    first = store.index_folder(folder)
    uri = first.added[0].path
    stale = {"uri": uri, "mtime_ns": 1, "file_size": 1, "kind": "image"}
    store.upsert_vectors(["img-stale"], np.ones((1, tiny_encoder.dim), dtype=np.float32), [stale])
    assert store.count() == 2
    repaired = store.index_folder(folder)
    assert repaired.embedded == 0
    assert [i.id for i in store.get()] == [first.added[0].id]  # type: ignore[union-attr]


# -- decode threads and chunked batches: the same outcome as a plain run --------------------------


def _photo_folder(root: Path) -> Path:
    root.mkdir()
    for i, picture in enumerate(random_pictures(13, seed=2)):
        picture.save(root / f"img{i:02d}.jpg", format="JPEG", quality=90)
    # the same picture under another name, in a later batch: a duplicate either way
    (root / "zz-copy-of-img01.jpg").write_bytes((root / "img01.jpg").read_bytes())
    (root / "img05-broken.jpg").write_bytes(b"broken")
    (root / "img09-empty.png").write_bytes(b"")
    return root


def _outcome(report: Any) -> dict[str, Any]:
    return {
        "added": sorted((Path(f.path).name, f.id, f.status, f.detail) for f in report.added),
        "skipped": sorted((Path(f.path).name, f.id, f.status) for f in report.skipped),
        "failed": [(Path(f.path).name, f.reason) for f in report.failed],
    }


def test_index_folder_with_and_without_workers_agree(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    folder = _photo_folder(tmp_path / "photos")
    reports, stores = [], []
    for workers in (0, 3):
        encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=4, num_workers=workers)
        store = MultimodalStore.in_memory(encoder=encoder)
        reports.append(store.index_folder(folder))
        stores.append(store)
    assert _outcome(reports[0]) == _outcome(reports[1])
    assert len(reports[1].added) == 13 and len(reports[1].failed) == 2
    ids = sorted(f.id for f in reports[0].added)
    items0, items1 = stores[0].get(ids, include_vectors=True), stores[1].get(ids, include_vectors=True)
    assert [(i.id, i.uri, i.metadata) for i in items0] == [(i.id, i.uri, i.metadata) for i in items1]
    np.testing.assert_allclose([i.vector for i in items0], [i.vector for i in items1], atol=1e-6)


def test_touched_files_are_not_decoded_again(
    tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _photo_folder(tmp_path / "photos")
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    first = store.index_folder(folder)
    for path in folder.iterdir():
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    calls: list[int] = []
    real = feeding.prepare_picture

    def prepare_picture(preparer: Any, image: Any) -> tuple[PreparedImage, PictureFacts]:
        calls.append(1)
        return real(preparer, image)

    monkeypatch.setattr(feeding, "prepare_picture", prepare_picture)
    again = store.index_folder(folder)
    assert not again.added and not again.updated
    # the copy is one of its entry's files now: touched, it is unchanged like the others
    assert {f.status for f in again.skipped} == {"unchanged"}
    assert len(again.skipped) == len(first.skipped) + len(first.added)
    assert [(f.path, f.reason) for f in again.failed] == [(f.path, f.reason) for f in first.failed]
    # only the broken file, whose content is in no entry, is decoded (and fails again)
    assert len(calls) == 1


@pytest.mark.parametrize("workers", [0, 2])
def test_chunked_decisions_match_whole_batch_decisions(
    tiny_siglip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """On a CPU a batch of 16 is decided and embedded 8 files at a time: same outcome as all at once."""

    def run(chunk: int, root: Path) -> list[dict[str, Any]]:
        monkeypatch.setattr(indexing, "_CPU_CHUNK", chunk)
        root.mkdir()
        folder = _photo_folder(root / "photos")
        original = folder / "img03.jpg"
        encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=16, num_workers=workers)
        store = MultimodalStore.in_memory(encoder=encoder)
        outcomes = [_outcome(store.index_folder(folder))]
        # img03 moves to two new names, one in the first chunk of the batch and one in the second
        data = original.read_bytes()
        original.unlink()
        (folder / "a-moved.jpg").write_bytes(data)
        (folder / "img11-moved-too.jpg").write_bytes(data)
        (folder / "img00.jpg").write_bytes((folder / "img12.jpg").read_bytes())  # changed content
        outcomes.append(_outcome(store.index_folder(folder, remove_missing=True)))
        items = store.get(where={"kind": "image"})
        assert isinstance(items, list)
        outcomes.append({"entries": sorted((i.id, Path(i.uri or "").name) for i in items)})
        return outcomes

    whole = run(10**6, tmp_path / "whole")
    chunked = run(8, tmp_path / "chunked")
    assert chunked == whole
    moved = {name: status for name, _, status in chunked[1]["skipped"]}
    assert moved["a-moved.jpg"] == "moved"
    assert moved["img00.jpg"] == "duplicate"  # now the same picture as img12


def test_a_store_inside_the_folder_it_indexes_is_never_scanned(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    """A store made inside the folder it indexes (``siglip-store`` in the photos folder): its own
    files are neither indexed nor reported, whether it was opened by path or by a chromadb client."""
    import chromadb

    from siglip_retriever.store.clients import chroma_settings
    from siglip_retriever.store.scanning import scan_folder

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    Image.new("RGB", (40, 30), "red").save(photos / "red.png")
    Image.new("RGB", (30, 40), "blue").save(photos / "sub" / "blue.png")
    with MultimodalStore(photos / "siglip-store", encoder=tiny_encoder) as store:
        assert store.path is not None
        Image.new("RGB", (20, 20), "green").save(store.path / "not-mine.png")  # even a picture
        own = {path.suffix for path in store.path.rglob("*") if path.is_file()}
        assert {".sqlite3", ".lock", ".png"} <= own  # what a scan of the folder used to report
        report = store.index_folder(photos)
        assert sorted(Path(f.path).name for f in report.added) == ["blue.png", "red.png"]
        assert report.ignored == [] and report.failed == []
        assert store.index_folder(store.path).added == []  # the store's folder itself: nothing
        assert len(scan_folder(photos).files) == 3  # the scan itself skips only what it is told to
    client = chromadb.PersistentClient(path=str(photos / "siglip-store"), settings=chroma_settings())
    with MultimodalStore(None, client=client, encoder=tiny_encoder) as store:
        assert store.path == (photos / "siglip-store").resolve()
        report = store.index_folder(photos, remove_missing=True)
        assert [f.status for f in report.skipped] == ["unchanged", "unchanged"] and report.ignored == []
        assert report.removed == [] and store.count() == 2
    non_recursive = scan_folder(photos, recursive=False, skip=photos / "siglip-store")
    assert [p.name for p in non_recursive.files] == ["red.png"] and non_recursive.ignored == []
