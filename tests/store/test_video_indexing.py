"""Video files in indexing (store/videos.py): one entry per moment, incremental by the video's
content hash, bad files reported with their reason; on real chromadb with the tiny model and real
videos written with PyAV (tests/videos.py)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.store.indexing import index_files
from siglip_retriever.store.pictures import entry_picture
from siglip_retriever.store.report import IndexReport
from siglip_retriever.store.scanning import scan_folder
from siglip_retriever.store.videos import parse_moment_id
from tests.videos import (
    H264_SCENES,
    VP9_SCENES,
    Clip,
    write_fake_video,
    write_shape_clip,
    write_static_clip,
    write_truncated_clip,
    write_undecodable_clip,
)


def _store(encoder: SiglipEncoder) -> MultimodalStore:
    return MultimodalStore.in_memory(encoder=encoder)


def _moments(store: MultimodalStore, path: Path) -> list[dict]:
    """The metadata of the moments whose files include ``path``, in time order."""
    wanted = str(path.resolve())
    found = [
        item.metadata
        for item in store.get()
        if item.metadata.get("kind") == "video"
        and any(entry["path"] == wanted for entry in json.loads(item.metadata["paths"]))
    ]
    return sorted(found, key=lambda meta: meta["start"])


def _overlaps(start: float, end: float, scene_start: float, scene_end: float) -> bool:
    return start < scene_end and scene_start < end


def _scene_of(clip: Clip, meta: dict) -> int:
    """The scene a moment's frame falls in."""
    return next(n for n, scene in enumerate(clip.scenes) if scene.start <= meta["frame"] < scene.end)


def test_a_video_becomes_one_entry_per_scene(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    clip = write_shape_clip(tmp_path / "videos" / "clip.mp4", H264_SCENES)
    store = _store(tiny_encoder)
    report = store.index_folder(tmp_path / "videos", ocr="off")
    assert report.failed == [] and report.ignored == []
    moments = _moments(store, clip.path)
    assert len(moments) == len(H264_SCENES)  # one per scene: the pan inside a scene is no cut
    path = str(clip.path.resolve())
    for meta, scene in zip(moments, H264_SCENES, strict=True):
        assert meta["kind"] == "video" and meta["uri"] == path and meta["source"] == path
        assert abs(meta["start"] - scene.start) <= 1.0 and abs(meta["end"] - scene.end) <= 1.0
        assert meta["start"] <= meta["frame"] < meta["end"] and scene.start <= meta["frame"] < scene.end
        assert meta["duration"] == pytest.approx(12.0, abs=0.5) and meta["codec"] == "h264"
        assert (meta["width"], meta["height"], meta["rotation"]) == (320, 240, 0)
        assert len(meta["phash"]) == 16
    assert [meta["moment"] for meta in moments] == [1, 2, 3, 4]
    assert moments[0]["start"] == 0.0 and moments[-1]["end"] == pytest.approx(12.0, abs=0.5)
    names = sorted(Path(item.path).name for item in report.added)
    assert names[0] == "clip.mp4#t=0,3"  # the report names each moment's span
    ids = [item.id for item in report.added]
    assert all(parse_moment_id(entry) is not None for entry in ids)
    # searched as pictures: a moment is kind "image" to searches, "video" as stored
    assert {item.kind for item in store.get(ids)} == {"image"}
    assert store.count("image") == store.count(where={"kind": "video"}) == len(ids)


def test_a_moment_s_picture_is_its_frame(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    clip = write_shape_clip(tmp_path / "videos" / "clip.webm", VP9_SCENES, codec="libvpx-vp9")
    store = _store(tiny_encoder)
    store.index_folder(tmp_path / "videos", ocr="off")
    moments = _moments(store, clip.path)
    assert len(moments) == len(VP9_SCENES)
    colours = {"purple": (128, 0, 128), "orange": (255, 165, 0), "red": (255, 0, 0)}
    for meta in moments:
        picture = entry_picture(meta, side=160)
        assert max(picture.size) == 160 and picture.mode == "RGB"
        scene = clip.scenes[_scene_of(clip, meta)]
        # the shape's colour is in the frame shown (the demo draws it in its hue, with noise)
        distance = np.abs(np.asarray(picture, dtype=np.int32) - np.array(colours[scene.colour])).sum(axis=2)
        assert int((distance < 150).sum()) > 50, scene


def _two_scenes(encoder: SiglipEncoder, folder: Path) -> tuple[Clip, MultimodalStore, IndexReport]:
    """A clip of two scenes in ``folder``, indexed into a new store."""
    clip = write_shape_clip(folder / "clip.mp4", H264_SCENES[:2])
    store = _store(encoder)
    return clip, store, store.index_folder(folder, ocr="off")


def test_unchanged_videos_are_skipped_and_moved_ones_joined(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    clip, store, first = _two_scenes(tiny_encoder, folder)
    again = store.index_folder(folder, ocr="off")
    assert first.added and again.added == [] and again.updated == []
    assert {item.status for item in again.skipped} == {"unchanged"}
    assert sorted(item.id for item in again.skipped) == sorted(item.id for item in first.added)
    # the same video twice under two names: one set of moments with both paths
    shutil.copy(clip.path, folder / "copy of clip.mp4")
    copied = store.index_folder(folder, ocr="off")
    assert copied.added == [] and {item.status for item in copied.skipped} >= {"duplicate"}
    for meta in _moments(store, clip.path):
        paths = [entry["path"] for entry in json.loads(meta["paths"])]
        assert paths == sorted([str(clip.path.resolve()), str((folder / "copy of clip.mp4").resolve())])
    assert store.count() == 2
    # a move keeps the moments, with the new path only
    (folder / "copy of clip.mp4").unlink()
    os.rename(clip.path, folder / "moved.mp4")
    moved = store.index_folder(folder, ocr="off", remove_missing=True)
    assert moved.added == [] and store.count() == 2
    assert [json.loads(meta["paths"])[0]["path"] for meta in _moments(store, folder / "moved.mp4")] == [
        str((folder / "moved.mp4").resolve())
    ] * 2


def test_a_changed_video_replaces_its_moments_and_a_removed_one_removes_them(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    clip, store, first = _two_scenes(tiny_encoder, folder)
    old = {item.id for item in first.added}
    write_shape_clip(clip.path, H264_SCENES)  # edited: four scenes now
    stat = clip.path.stat()
    os.utime(clip.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = store.index_folder(folder, ocr="off")
    new = {item.id for item in changed.updated}
    assert len(new) == 4 and not new & old
    assert {item.id for item in store.get()} == new  # the old moments are gone
    clip.path.unlink()
    removed = store.index_folder(folder, ocr="off", remove_missing=True)
    assert removed.removed == [str(clip.path.resolve())] and store.count() == 0


def test_bad_videos_are_reported_and_the_rest_indexed(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    good = write_shape_clip(folder / "good.mp4", H264_SCENES[:2])
    truncated = write_truncated_clip(folder / "truncated.mkv")
    write_fake_video(folder / "fake.mp4")
    write_undecodable_clip(folder / "undecodable.mp4")
    (folder / "empty.mov").write_bytes(b"")
    store = _store(tiny_encoder)
    report = store.index_folder(folder, ocr="off")
    failed = {Path(item.path).name: item.reason for item in report.failed}
    span = next(name for name in failed if name.startswith("truncated.mkv#t="))
    assert set(failed) == {"fake.mp4", "undecodable.mp4", "empty.mov", span}
    assert "not a video" in failed["fake.mp4"]
    assert "'xyz1'" in failed["undecodable.mp4"] and "cannot be decoded" in failed["undecodable.mp4"]
    assert "empty" in failed["empty.mov"]
    assert "truncated" in failed[span]
    start = float(span.split("=")[1].split(",")[0])
    assert 3.0 <= start < truncated.duration  # the readable part was indexed, the rest reported
    kept = _moments(store, truncated.path)
    assert kept and all(meta["end"] <= start + 1e-6 for meta in kept)
    assert len(_moments(store, good.path)) == 2
    # unchanged, the truncated video's lost part is reported again (nothing skipped in silence)
    again = store.index_folder(folder, ocr="off")
    assert any(
        item.path.endswith(span) and "as when the file was indexed" in item.reason for item in again.failed
    )


def test_an_hour_of_one_shot_is_a_handful_of_moments(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    clip = write_static_clip(tmp_path / "videos" / "tripod.mp4", seconds=3600)
    store = _store(tiny_encoder)
    report = store.index_folder(tmp_path / "videos", ocr="off")
    assert report.failed == []
    moments = _moments(store, clip.path)
    assert 1 <= len(moments) <= 5
    assert moments[0]["start"] == 0.0 and moments[-1]["end"] == pytest.approx(3600, abs=3)


def test_rotation_is_applied(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    clip = write_shape_clip(
        tmp_path / "videos" / "portrait.mp4", H264_SCENES[:1], size=(240, 320), rotation=90
    )
    store = _store(tiny_encoder)
    store.index_folder(tmp_path / "videos", ocr="off")
    (meta,) = _moments(store, clip.path)
    assert (meta["width"], meta["height"], meta["rotation"]) == (240, 320, 90)
    assert entry_picture(meta).size[0] < entry_picture(meta).size[1]  # upright: portrait


def test_without_the_video_extra_videos_are_ignored_with_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clip.mov").write_bytes(b"\x00" * 16)
    (tmp_path / "red.png").write_bytes(b"\x00" * 16)
    monkeypatch.setitem(sys.modules, "av", None)
    scan = scan_folder(tmp_path)
    assert [path.name for path in scan.files] == ["red.png"]
    assert [(Path(item.path).name, item.reason) for item in scan.ignored] == [
        (
            "clip.mov",
            "a video: install the video extra (pip install 'siglip-retriever[video]') to index its moments",
        )
    ]
    report = IndexReport(str(tmp_path), ignored=scan.ignored)
    assert report.summary().endswith("ignored 1 file: .mov 1")


def test_a_video_given_by_name_without_the_extra_names_the_extra(
    tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = write_shape_clip(tmp_path / "clip.mp4", H264_SCENES[:1])
    monkeypatch.setitem(sys.modules, "av", None)
    report = index_files(_store(tiny_encoder), [clip.path], ocr="off")
    assert [Path(item.path).name for item in report.failed] == ["clip.mp4"]
    assert "pip install 'siglip-retriever[video]'" in report.failed[0].reason and report.added == []
