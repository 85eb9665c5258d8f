"""Incremental folder indexing: skip unchanged, re-embed changed, report failures, remove missing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError


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


@pytest.fixture
def embedded(tiny_encoder: SiglipEncoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the images that go through the (real) encoder; ``sum(embedded)`` is the total."""
    counts: list[int] = []
    real = tiny_encoder.encode_images

    def encode_images(images: Any, **kwargs: Any) -> Any:
        items = list(images)
        counts.append(len(items))
        return real(items, **kwargs)

    monkeypatch.setattr(tiny_encoder, "encode_images", encode_images)
    return counts


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
    import numpy as np

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
