"""A phone's folder: every photo format indexed and found, every other file reported with what it
is, and each picture's own size recorded (old stores corrected without embedding again)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from siglip_retriever import MultimodalStore
from siglip_retriever.demo.pictures import render
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.store.metadata import FACTS, FACTS_VERSION, HEIGHT, WIDTH
from siglip_retriever.store.report import IndexReport
from tests.helpers import half_and_half, run_cli, save_photo
from tests.videos import Scene, write_shape_clip

# (file, shape, colour): one picture in each format a phone, a camera or the web gives
PICTURES = [
    ("IMG_0001.HEIC", "circle", "red"),
    ("IMG_0002.avif", "square", "blue"),
    ("scan.tif", "triangle", "green"),
    ("web.webp", "star", "yellow"),
    ("old.bmp", "circle", "purple"),
    ("anim.gif", "square", "orange"),
    ("IMG_0003.JPG", "star", "blue"),
]
VIDEO = ("IMG_0004.MOV", "triangle", "red")
"""A phone video (one scene): indexed as its moments when the video extra is installed."""
OTHERS = {
    "drawing.svg": "SVG (vector) drawing",
    "IMG_0001.xmp": "XMP sidecar",
    "IMG_0002.AAE": "Apple Photos edit",
    "P1000001.RAW": "camera RAW",  # .raw is read only when asked for (.nef and the like are indexed)
    "notes.txt": "extension .txt is not indexed",
}


def _phone_folder(root: Path) -> Path:
    root.mkdir()
    for seed, (name, shape, colour) in enumerate(PICTURES):
        turned = 6 if name.endswith(("HEIC", "JPG")) else 1  # held on its side
        save_photo(root / name, render(shape, colour, seed, size=96), orientation=turned)
    (root / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')
    write_shape_clip(root / VIDEO[0], [Scene(VIDEO[1], VIDEO[2], 0.0, 3.0)], size=(96, 96))
    for name in OTHERS:
        if not (root / name).exists():
            (root / name).write_bytes(b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 32)
    return root


def test_a_phone_folder_is_indexed_found_and_reported(tmp_path: Path) -> None:
    photos, db, report_file = _phone_folder(tmp_path / "photos"), tmp_path / "db", tmp_path / "report.json"
    result = run_cli("--model", "demo", "--db", str(db), "index", str(photos), "--report", str(report_file))
    assert result.exit_code == 0, result.output
    assert f"{len(PICTURES) + 1} added, 0 updated, 0 skipped, 0 failed" in result.output  # and a moment
    assert f"ignored {len(OTHERS)} files: " in result.output
    for extension in (".svg", ".xmp", ".aae", ".raw", ".txt"):
        assert f"{extension} 1" in result.output

    (report,) = json.loads(report_file.read_text(encoding="utf-8"))
    reasons = {Path(item["path"]).name: item["reason"] for item in report["ignored"]}
    assert set(reasons) == set(OTHERS)
    for name, words in OTHERS.items():
        assert words in reasons[name], (name, reasons[name])
    assert ".mov" not in report["ignored_by_extension"]

    for name, shape, colour in [*PICTURES, VIDEO]:  # each picture is the best hit for what it shows
        query = f"a {colour} {shape}".replace("a orange", "an orange")
        found = run_cli("--model", "demo", "--db", str(db), "search", query, "-k", "1", "--json")
        assert found.exit_code == 0, found.output
        (hit,) = json.loads(found.output)["hits"]
        assert Path(hit["uri"]).name == name, (query, hit["uri"])
        assert (hit["metadata"]["width"], hit["metadata"]["height"]) == (96, 96)
        assert hit["kind"] == ("video" if name == VIDEO[0] else "image")


def test_the_json_output_lists_ignored_files(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    photos = _phone_folder(tmp_path / "photos")
    result = run_cli(
        "--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db"), "index", str(photos), "--json"
    )
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    assert {Path(item["path"]).name for item in report["ignored"]} == set(OTHERS)
    assert f"ignored {len(OTHERS)} files" in report["summary"]


def test_ignored_files_in_the_python_report(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    photos = _phone_folder(tmp_path / "photos")
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="ignored")
    report = store.index_folder(photos, extensions=["heic", "avif"])
    assert sorted(Path(f.path).name for f in report.added) == ["IMG_0001.HEIC", "IMG_0002.avif"]
    reasons = {Path(f.path).name: f.reason for f in report.ignored}
    assert "is not among those asked for (.avif, .heic)" in reasons["web.webp"]
    assert "SVG (vector) drawing" in reasons["drawing.svg"]
    assert report.ignored_by_extension()[".jpg"] == 1
    assert report.failed == []


def _sizes(store: MultimodalStore) -> dict[str, tuple[int, int]]:
    return {Path(i.uri or "").name: (i.metadata["width"], i.metadata["height"]) for i in store.get()}


def _true_size_folder(root: Path) -> dict[str, tuple[int, int]]:
    """Files whose decoded size differs from their own: large and EXIF-turned JPEGs, HEIC."""
    root.mkdir()
    save_photo(root / "large.jpg", half_and_half(1600, 1200))
    save_photo(root / "turned.jpg", half_and_half(1600, 1200), orientation=6)
    save_photo(root / "small.jpg", half_and_half(320, 320))
    save_photo(root / "phone.heic", half_and_half(640, 480), orientation=6)
    return {
        "large.jpg": (1600, 1200),
        "turned.jpg": (1200, 1600),
        "small.jpg": (320, 320),
        "phone.heic": (480, 640),
    }


def test_recorded_sizes_are_the_files_own(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    expected = _true_size_folder(tmp_path / "photos")
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="sizes")
    store.index_folder(tmp_path / "photos")
    assert _sizes(store) == expected
    assert all(item.metadata[FACTS] == FACTS_VERSION for item in store.get())

    added = MultimodalStore.in_memory(encoder=tiny_encoder, collection="sizes_added")
    added.add_images([tmp_path / "photos" / name for name in expected])
    assert _sizes(added) == expected


def test_an_old_store_is_corrected_without_embedding_again(
    tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _true_size_folder(tmp_path / "photos")
    store = MultimodalStore(tmp_path / "db", encoder=tiny_encoder)
    store.index_folder(tmp_path / "photos")
    before = {item.id: item.vector for item in store.get(include_vectors=True)}
    # as version 0.2 left it: the decoded size (40x30 for a 1600x1200 JPEG), no facts version
    for item in store.get():
        store.collection.update(ids=[item.id], metadatas=[{WIDTH: 40, HEIGHT: 30, FACTS: None}])
    assert set(_sizes(store).values()) == {(40, 30)}

    def no_model(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nothing is embedded again")

    monkeypatch.setattr(tiny_encoder, "encode_images", no_model)
    report: IndexReport = store.index_folder(tmp_path / "photos")
    assert report.refreshed == 4
    assert len(report.skipped) == 4
    assert "4 older entries completed (picture facts, files)" in report.summary()
    assert _sizes(store) == expected
    after = store.get(include_vectors=True)
    assert all(np.array_equal(before[item.id], item.vector) for item in after)
    assert store.index_folder(tmp_path / "photos").refreshed == 0  # once only


def test_a_touched_old_entry_is_corrected_by_the_next_run(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    path = save_photo(folder / "big.jpg", half_and_half(1600, 1200))
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="touched")
    store.index_folder(folder)
    (item,) = store.get()
    store.collection.update(ids=[item.id], metadatas=[{WIDTH: 40, HEIGHT: 30, FACTS: None}])
    path.touch()  # a touched file keeps its entry (and its facts' version) ...
    assert store.index_folder(folder).skipped[0].status == "unchanged"
    assert store.index_folder(folder).refreshed == 1  # ... until the next run corrects it
    assert _sizes(store)["big.jpg"] == (1600, 1200)
