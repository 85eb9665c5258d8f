"""Videos read as moments with the real PyAV, on the corpus of ``tests/videos.py``: scenes and
their spans, pictures the demo model names, rotation, cost, truncated and bad files, frames."""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.demo.captions import CLASSES
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.video import (
    FRAME_SIDE,
    VideoFailure,
    VideoInfo,
    VideoMoment,
    VideoStats,
    probe_video,
    read_video,
    video_frame,
)
from siglip_retriever.errors import ConfigurationError, ImageLoadError, MissingDependencyError, VideoError
from tests import videos
from tests.videos import Clip, Scene, VideoCorpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> VideoCorpus:
    return videos.write_video_corpus(tmp_path_factory.mktemp("videos"))


@pytest.fixture(scope="module")
def demo() -> SiglipEncoder:
    return SiglipEncoder("demo")


def read(path: Path, **options: object) -> tuple[VideoInfo, list[VideoMoment], list[VideoFailure]]:
    info, *rest = read_video(path, **options)  # type: ignore[arg-type]
    assert isinstance(info, VideoInfo)
    moments = [item for item in rest if isinstance(item, VideoMoment)]
    failures = [item for item in rest if isinstance(item, VideoFailure)]
    assert len(moments) + len(failures) == len(rest)
    assert rest[: len(moments)] == moments  # the failure, if any, comes last
    return info, moments, failures


def overlap(moment: VideoMoment, scene: Scene) -> float:
    return min(moment.end, scene.end) - max(moment.start, scene.start)


def check_moments(moments: list[VideoMoment], clip: Clip, scenes: tuple[Scene, ...] | None = None) -> None:
    """One moment per scene, in order, each overlapping its scene for most of it, back to back."""
    scenes = clip.scenes if scenes is None else scenes
    assert [moment.index for moment in moments] == list(range(1, len(scenes) + 1))
    for moment, scene in zip(moments, scenes, strict=True):
        assert overlap(moment, scene) >= 0.5 * (scene.end - scene.start), (moment, scene)
        assert abs(moment.start - scene.start) <= 1.0
        assert moment.start <= moment.frame < moment.end
        assert scene.start < moment.frame < scene.end  # the picture is inside the scene
    assert moments[0].start == 0.0
    assert all(one.end == other.start for one, other in itertools.pairwise(moments))


def named(encoder: SiglipEncoder, pictures: list[Image.Image]) -> list[str]:
    """The demo class caption each picture matches best, of all 24."""
    captions = [Scene(shape, colour, 0, 0).caption for shape, colour in CLASSES]
    probabilities = encoder.probabilities(encoder.encode_texts(captions), encoder.encode_images(pictures))
    return [captions[int(best)] for best in probabilities.argmax(axis=0)]


def centre(picture: Image.Image) -> np.ndarray:
    width, height = picture.size
    box = (width // 3, height // 3, 2 * width // 3, 2 * height // 3)
    return np.asarray(picture.crop(box), dtype=np.float32).mean(axis=(0, 1))


# -- scenes and pictures ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["h264", "vp9", "rotated"])
def test_each_scene_is_a_moment_whose_picture_shows_its_shape(
    corpus: VideoCorpus, demo: SiglipEncoder, name: str
) -> None:
    clip: Clip = getattr(corpus, name)
    info, moments, failures = read(clip.path)
    assert (info.codec, (info.width, info.height), info.rotation) == (clip.codec, clip.size, clip.rotation)
    assert info.duration == pytest.approx(clip.duration, abs=0.3)
    assert info.fps == pytest.approx(4.0)
    assert failures == []
    check_moments(moments, clip)
    assert moments[-1].end == pytest.approx(clip.duration, abs=0.3)
    assert all(moment.picture.mode == "RGB" and moment.picture.size == clip.size for moment in moments)
    assert named(demo, [moment.picture for moment in moments]) == [scene.caption for scene in clip.scenes]


def test_hevc_and_scene_cuts_between_samples(tmp_path: Path) -> None:
    scenes = (
        Scene("circle", "blue", 0.0, 2.5),
        Scene("star", "red", 2.5, 6.0),
        Scene("square", "green", 6.0, 7.5),
    )
    clip = videos.write_shape_clip(tmp_path / "clip.mp4", scenes, codec="libx265")
    info, moments, _ = read(clip.path)
    assert info.codec == "hevc"
    check_moments(moments, clip)


def test_pictures_are_scaled_down_to_side_and_never_up(corpus: VideoCorpus) -> None:
    _, moments, _ = read(corpus.h264.path, side=100)
    assert {moment.picture.size for moment in moments} == {(100, 75)}
    _, moments, _ = read(corpus.rotated.path, side=160)
    assert {moment.picture.size for moment in moments} == {(120, 160)}
    _, moments, _ = read(corpus.h264.path, side=FRAME_SIDE * 4)
    assert {moment.picture.size for moment in moments} == {corpus.h264.size}


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_is_applied_so_pictures_are_upright(tmp_path: Path, rotation: int) -> None:
    upright = Image.new("RGB", (120, 160), (0, 0, 255))
    upright.paste((255, 0, 0), (0, 0, 120, 80))  # red on top, blue below, as shown
    clip = videos.write_picture_clip(tmp_path / f"turned{rotation}.mp4", upright, rotation=rotation)
    info, moments, _ = read(clip.path)
    assert (info.width, info.height, info.rotation) == (120, 160, rotation)  # as shown
    for picture in [moments[0].picture, video_frame(clip.path, 1.0)]:
        assert picture.size == (120, 160)
        top, bottom = picture.getpixel((60, 20)), picture.getpixel((60, 140))
        assert top[0] > 200 and top[2] < 60, top  # red is up
        assert bottom[2] > 200 and bottom[0] < 60, bottom
    assert probe_video(clip.path) == info


def test_a_static_hour_is_one_moment_from_keyframes_alone(corpus: VideoCorpus) -> None:
    stats = VideoStats()
    began = time.perf_counter()
    info, moments, failures = read(corpus.static.path, stats=stats)
    seconds = time.perf_counter() - began
    assert info.duration == 3600.0 and failures == []
    assert 1 <= len(moments) <= 3
    assert (moments[0].start, moments[-1].end) == (0.0, 3600.0)
    frames = 3600 * 2  # 2 frames a second, a keyframe every 2 seconds
    assert stats.keyframes_only
    assert stats.decoded_frames <= 3600 / 2 + 1 < frames
    assert stats.sampled_frames <= stats.decoded_frames
    assert seconds < 60  # a few seconds here; generous for a busy machine


def test_a_long_gop_is_decoded_in_order_and_sampled_once_a_second(tmp_path: Path) -> None:
    clip = videos.write_shape_clip(tmp_path / "long-gop.mp4", videos.H264_SCENES, gop_seconds=6.0)
    stats = VideoStats()
    _, moments, _ = read(clip.path, stats=stats)
    check_moments(moments, clip)
    assert not stats.keyframes_only
    assert stats.decoded_frames == 12 * 4  # every frame (x264 ultrafast: every frame is a reference)
    assert 11 <= stats.sampled_frames <= 13


def test_keyframes_only_samples_one_an_interval(corpus: VideoCorpus) -> None:
    stats = VideoStats()
    read(corpus.h264.path, stats=stats)
    assert stats.keyframes_only
    assert stats.decoded_frames == stats.sampled_frames == 12  # a keyframe a second, of 48 frames
    stats = VideoStats()
    _, moments, _ = read(corpus.h264.path, stats=stats, interval=2.0)
    assert stats.decoded_frames == 6
    check_moments(moments, corpus.h264)


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_truncated_video_keeps_its_moments_and_reports_the_rest(tmp_path: Path, suffix: str) -> None:
    clip = videos.write_truncated_clip(tmp_path / f"cut{suffix}")
    info, moments, failures = read(clip.path)
    assert info.duration == pytest.approx(12.0)
    readable = [scene for scene in clip.scenes if scene.start < failures[0].start]
    assert len(readable) == 3  # about 60 % of 12 s: the third scene is cut short
    check_moments(moments[:2], clip, clip.scenes[:2])
    assert moments[-1].end == failures[0].start
    [failure] = failures
    assert 6.0 < failure.start < 9.0 and failure.end == pytest.approx(12.0)
    assert "declares 12.0 s" in failure.reason and "truncated" in failure.reason
    for moment in moments:  # each moment's picture can be read again (thumbnails)
        assert video_frame(clip.path, moment.frame, side=FRAME_SIDE).size == moment.picture.size
    if suffix == ".mp4":  # its index lists frames past the cut: none of them decodes
        with pytest.raises(VideoError, match=r"no frame at 11\.00 s can be decoded"):
            video_frame(clip.path, 11.0)
    else:  # past what Matroska's cues reach: the last frame, as for any time past the end
        assert video_frame(clip.path, 11.0).size == moments[-1].picture.size


def test_the_corpus_truncated_clip(corpus: VideoCorpus) -> None:
    _, moments, failures = read(corpus.truncated.path)
    assert len(failures) == 1 and len(moments) == 3


def test_bad_files_raise_video_error_with_their_reason(corpus: VideoCorpus, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    still = tmp_path / "still.mov"
    Image.new("RGB", (32, 32), "red").save(still, format="PNG")
    cases = {
        corpus.fake: "not a video, or damaged",
        corpus.undecodable: "codec 'xyz1' cannot be decoded by the FFmpeg bundled with PyAV",
        tmp_path / "missing.mp4": "file not found",
        empty: "empty file (0 bytes)",
        tmp_path: "not a file",
        videos.write_audio_only(tmp_path / "sound.m4v"): "no video stream (an audio file?)",
        still: "a still picture (png_pipe), not a video",
    }
    for path, reason in cases.items():
        for read_it in (lambda p: list(read_video(p)), probe_video, lambda p: video_frame(p, 0.0)):
            with pytest.raises(VideoError) as caught:
                read_it(path)
            assert caught.value.source == str(path) and reason in caught.value.reason
            assert isinstance(caught.value, ImageLoadError)
            assert str(caught.value).startswith(f"cannot read video {path}: ")


def test_the_file_is_opened_on_the_first_next(tmp_path: Path) -> None:
    reader = read_video(tmp_path / "missing.mp4")  # nothing raised yet: a generator
    with pytest.raises(VideoError, match="file not found"):
        next(reader)


def test_bad_options_are_refused_at_the_call(corpus: VideoCorpus) -> None:
    for options in ({"side": 0}, {"side": 2.5}, {"side": True}, {"interval": 0}, {"interval": float("nan")}):
        with pytest.raises(ConfigurationError):
            read_video(corpus.h264.path, **options)  # type: ignore[arg-type]
    for time_, side in ((-1.0, None), (float("inf"), None), (1.0, 0)):
        with pytest.raises(ConfigurationError):
            video_frame(corpus.h264.path, time_, side=side)


def test_without_pyav_the_video_extra_is_named(monkeypatch: pytest.MonkeyPatch, corpus: VideoCorpus) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    for call in (lambda: read_video(corpus.h264.path), lambda: probe_video(corpus.h264.path)):
        with pytest.raises(
            MissingDependencyError, match=r"pip install 'siglip-retriever\[video\]'"
        ) as caught:
            call()
        assert caught.value.package == "av" and caught.value.extra == "video"
    with pytest.raises(MissingDependencyError, match="Reading videos needs the 'av' package"):
        video_frame(corpus.h264.path, 1.0)


# -- frames at a time ------------------------------------------------------------------------------


def test_video_frame_shows_the_scene_at_that_time(corpus: VideoCorpus) -> None:
    clip = corpus.h264
    _, moments, _ = read(clip.path)
    for moment in moments:
        again = video_frame(clip.path, moment.frame, side=FRAME_SIDE)
        assert again.size == moment.picture.size
        difference = np.abs(np.asarray(again, np.float32) - np.asarray(moment.picture, np.float32)).mean()
        assert difference < 1.0  # the same frame, decoded again
    for scene, moment in zip(clip.scenes, moments, strict=True):
        for at in (scene.start + 0.6, scene.end - 0.3):  # between keyframes too
            picture = video_frame(clip.path, at, side=64)
            assert max(picture.size) == 64
            assert np.abs(centre(picture) - centre(moment.picture)).max() < 25, (scene, at)
    last = video_frame(clip.path, 500.0)  # past the end: the last frame
    assert np.abs(centre(last) - centre(moments[-1].picture)).max() < 25
    assert video_frame(corpus.vp9.path, 4.2).size == corpus.vp9.size


def test_probe_video_reads_the_facts_of_each_readable_clip(corpus: VideoCorpus) -> None:
    for clip in (*corpus.shape_clips, corpus.static):
        info = probe_video(clip.path)
        assert info == next(read_video(clip.path))
        assert (info.width, info.height, info.codec) == (*clip.size, clip.codec)
