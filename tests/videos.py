"""The test corpus of videos, written by the tests themselves with PyAV.

- clips whose scenes show the demo's shapes (:func:`siglip_retriever.demo.render`, scaled up to
  the clip's size) at known times, in H.264 (``.mp4``) and VP9 (``.webm``)
  (:func:`write_shape_clip`); each scene moves a little (a slow pan and faint noise), as a hand-held
  shot does, so that a reader must tell a cut from motion;
- a rotated clip: stored sideways with a display rotation, as phones write portrait videos;
- a truncated clip: a Matroska file cut at about 60 % of its bytes (:func:`write_truncated_clip`);
- a fake ``.mp4`` (words, not a video: :func:`write_fake_video`);
- a valid clip whose codec tag is patched to a fourcc no FFmpeg decoder knows
  (:func:`write_undecodable_clip`);
- an hour-long static shot, small and cheap to write (:func:`write_static_clip`);
- all of them in one folder: :func:`write_video_corpus`, which lists each clip's scenes as
  ``(shape, colour, start, end)`` (:class:`Scene`), so tests can check spans.

Every clip is small (320x240 at 4 frames a second, a keyframe a second): the whole corpus is
written in a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from siglip_retriever.demo import render


class Scene(NamedTuple):
    """A scene of a clip: the demo shape it shows, from ``start`` to ``end`` seconds."""

    shape: str
    colour: str
    start: float
    end: float

    @property
    def caption(self) -> str:
        """The English query that finds it with the demo model (``"a red circle"``)."""
        return f"a {self.colour} {self.shape}"


@dataclass(frozen=True)
class Clip:
    """A written clip: where, what it shows, and what a reader should find.

    ``codec`` is FFmpeg's decoder name; ``size`` is (width, height) as shown, after the display
    rotation; ``rotation`` the display rotation written (degrees counter-clockwise, as PyAV's
    ``set_display_rotation`` takes them); ``duration`` the seconds the container declares.
    """

    path: Path
    scenes: tuple[Scene, ...]
    codec: str
    size: tuple[int, int]
    duration: float
    rotation: int = 0


@dataclass(frozen=True)
class VideoCorpus:
    """The clips :func:`write_video_corpus` writes into ``folder``."""

    folder: Path
    h264: Clip  # shapes.mp4: four scenes, cuts on whole seconds
    vp9: Clip  # shapes.webm: four scenes, cuts between samples
    rotated: Clip  # portrait.mp4: stored 320x240 on its side, shown 240x320
    truncated: Clip  # truncated.mkv: its scenes as written; the file ends before the last ones
    fake: Path  # fake.mp4: words, not a video
    undecodable: Path  # undecodable.mp4: H.264 with its codec tag patched to UNKNOWN_FOURCC
    static: Clip  # static.mp4: an hour of one shot

    @property
    def shape_clips(self) -> tuple[Clip, ...]:
        """The readable clips whose scenes show different shapes."""
        return (self.h264, self.vp9, self.rotated)


def scenes_of(*specs: str) -> tuple[Scene, ...]:
    """Scenes back to back from 0 s, each given as ``"red circle 3"`` (colour, shape, seconds)."""
    found, start = [], 0.0
    for spec in specs:
        colour, shape, seconds = spec.split()
        found.append(Scene(shape, colour, start, start + float(seconds)))
        start += float(seconds)
    return tuple(found)


H264_SCENES = scenes_of("red circle 3", "blue square 3", "green triangle 3", "yellow star 3")
VP9_SCENES = scenes_of("purple star 3.5", "orange circle 3", "red square 3")  # cuts between samples
ROTATED_SCENES = scenes_of("blue triangle 3", "green circle 3")
TRUNCATED_SCENES = scenes_of("yellow square 3", "blue star 3", "purple circle 3", "red triangle 3")
STATIC_SCENE = ("star", "green")
PICTURE_SEEDS = (2, 4, 7, 12, 15)
"""The seeds scenes are drawn with (scene ``n`` of a clip: ``PICTURE_SEEDS[n % 5]``): the demo model
names every class of the demo drawn with them, at 4:3 and 3:4 (checked); some other seeds draw a
triangle it takes for a circle."""
UNKNOWN_FOURCC = b"xyz1"
"""The codec tag :func:`write_undecodable_clip` writes: no FFmpeg decoder knows it."""

_DECODERS = {"libx264": "h264", "libvpx-vp9": "vp9", "libx265": "hevc", "libsvtav1": "av1", "mpeg4": "mpeg4"}
_FAST = {
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
    "libsvtav1": {"preset": "12"},
}


def scene_picture(
    scene: Scene | tuple[str, str], size: tuple[int, int], seed: int = PICTURE_SEEDS[0]
) -> Image.Image:
    """The demo's picture of a scene's shape (drawn at 64 px as the demo draws them), scaled up
    to ``size`` (width, height)."""
    shape, colour = scene[0], scene[1]
    return render(shape, colour, np.random.default_rng(seed), size=64).resize(size, Image.Resampling.BICUBIC)


def _moving(picture: Image.Image, frames: int, seed: int) -> Iterator[np.ndarray]:
    """``frames`` frames of ``picture`` panning slowly (a pixel every other frame, at most 6)
    with faint noise: a hand-held shot, not a still."""
    pixels = np.asarray(picture, dtype=np.int16)
    rng = np.random.default_rng(seed)
    for n in range(frames):
        shift = min(n // 2, 6)
        moved = np.roll(pixels, (shift // 2, shift), axis=(0, 1))
        noise = rng.integers(-3, 4, size=moved.shape, dtype=np.int16)
        yield np.clip(moved + noise, 0, 255).astype(np.uint8)


def _frames(
    scenes: Sequence[Scene], stored: tuple[int, int], fps: int, rotation: int
) -> Iterator[np.ndarray]:
    """Every frame of the scenes, stored sideways when the clip is rotated (so that turning it by
    ``rotation`` degrees counter-clockwise shows it upright)."""
    shown = stored if rotation % 180 == 0 else (stored[1], stored[0])
    for number, scene in enumerate(scenes):
        first, last = round(scene.start * fps), round(scene.end * fps)
        picture = scene_picture(scene, shown, seed=PICTURE_SEEDS[number % len(PICTURE_SEEDS)])
        if rotation % 360:
            picture = picture.rotate(-rotation, expand=True)  # the display turns it back
        yield from _moving(picture, last - first, seed=number)


def _write(
    path: Path,
    frames: Iterator[np.ndarray],
    codec: str,
    stored: tuple[int, int],
    fps: int,
    gop_seconds: float,
    rotation: int = 0,
    options: dict[str, str] | None = None,
) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    faststart = {"movflags": "faststart"} if path.suffix in (".mp4", ".mov") else {}  # the index first
    with av.open(str(path), "w", options=faststart) as container:
        stream = container.add_stream(codec, rate=fps, options={**_FAST.get(codec, {}), **(options or {})})
        stream.width, stream.height = stored
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = max(1, round(gop_seconds * fps))
        if rotation % 360:
            stream.set_display_rotation(rotation)
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_shape_clip(
    path: str | Path,
    scenes: Sequence[Scene] = H264_SCENES,
    codec: str = "libx264",
    size: tuple[int, int] = (320, 240),
    fps: int = 4,
    rotation: int = 0,
    *,
    gop_seconds: float = 1.0,
    options: dict[str, str] | None = None,
) -> Clip:
    """A clip of ``scenes`` (back to back, from 0 s), each the demo picture of its shape, moving
    a little.

    Args:
        path: the file to write; its suffix picks the container (``.mp4``, ``.webm``, ``.mkv``).
        scenes: the scenes, in time order; each lasts ``end - start`` seconds.
        codec: PyAV's encoder name (``"libx264"``, ``"libvpx-vp9"``, ...).
        size: (width, height) of the clip as shown.
        fps: frames a second.
        rotation: a display rotation (degrees counter-clockwise): the frames are stored turned
            the other way, so the clip is upright only when a reader applies it.
        gop_seconds: the most seconds between keyframes.
        options: more encoder options.
    """
    path = Path(path)
    stored = size if rotation % 180 == 0 else (size[1], size[0])
    _write(path, _frames(scenes, stored, fps, rotation), codec, stored, fps, gop_seconds, rotation, options)
    duration = scenes[-1].end if scenes else 0.0
    return Clip(path, tuple(scenes), _DECODERS.get(codec, codec), size, duration, rotation % 360)


def write_picture_clip(
    path: str | Path, picture: Image.Image, seconds: int = 2, *, rotation: int = 0, fps: int = 4
) -> Clip:
    """A still H.264 clip of ``picture`` (as shown, upright), stored turned so that it is upright
    only when a reader applies the display ``rotation`` (degrees counter-clockwise)."""
    path = Path(path)
    stored = picture.rotate(-rotation, expand=True) if rotation % 360 else picture
    frames = (np.asarray(stored.convert("RGB")) for _ in range(seconds * fps))
    _write(path, frames, "libx264", stored.size, fps, 1.0, rotation)
    return Clip(path, (), "h264", picture.size, float(seconds), rotation % 360)


def write_truncated_clip(
    path: str | Path, scenes: Sequence[Scene] = TRUNCATED_SCENES, share: float = 0.6
) -> Clip:
    """An H.264 clip of ``scenes`` cut at ``share`` of its bytes: its header still declares the
    whole duration, its data stops part-way (a copy interrupted, a full card). ``.mkv`` or ``.mp4``
    (its index is written first, as "fast start" files have it, so the cut leaves it whole)."""
    path = Path(path)
    whole = path.with_name(path.stem + ".whole" + path.suffix)
    clip = write_shape_clip(whole, scenes)
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[: int(len(data) * share)])
    return Clip(path, clip.scenes, clip.codec, clip.size, clip.duration)


def write_fake_video(path: str | Path) -> Path:
    """A file with a video's name that holds words, not a video."""
    path = Path(path)
    path.write_text("These are holiday notes, not a video.\n" * 40, encoding="utf-8")
    return path


def write_audio_only(path: str | Path, seconds: int = 1) -> Path:
    """A file with a video's name that holds only sound (AAC silence)."""
    import av

    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        for n in range(seconds * 16):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1000), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 16000, n * 1000
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_undecodable_clip(path: str | Path, fourcc: bytes = UNKNOWN_FOURCC) -> Path:
    """A valid H.264 ``.mp4`` whose sample description says ``fourcc`` instead of ``avc1``: the
    container reads, but FFmpeg knows no decoder for the codec (as for a camera's own codec)."""
    path = Path(path)
    write_shape_clip(path, H264_SCENES[:1])
    data = path.read_bytes()
    entry = data.find(b"avc1", data.find(b"stsd"))  # the sample entry (ftyp names avc1 as a brand too)
    if entry < 0 or len(fourcc) != 4:
        raise ValueError("expected an avc1 sample entry and a 4-byte fourcc")
    path.write_bytes(data[:entry] + fourcc + data[entry + 4 :])
    return path


def write_static_clip(
    path: str | Path,
    seconds: int = 3600,
    *,
    fps: int = 2,
    size: tuple[int, int] = (96, 72),
    gop_seconds: float = 2.0,
) -> Clip:
    """One unmoving shot of ``seconds`` (a camera on a tripod: faint sensor noise only), small
    and at a low frame rate so that an hour is written in a few seconds."""
    path = Path(path)
    scene = Scene(*STATIC_SCENE, 0.0, float(seconds))
    pixels = np.asarray(scene_picture(scene, size), dtype=np.int16)
    noises = [np.random.default_rng(n).integers(-2, 3, size=pixels.shape, dtype=np.int16) for n in range(8)]
    still = [np.clip(pixels + noise, 0, 255).astype(np.uint8) for noise in noises]
    frames = (still[n % len(still)] for n in range(seconds * fps))
    _write(path, frames, "libx264", size, fps, gop_seconds)
    return Clip(path, (scene,), "h264", size, float(seconds))


def write_video_corpus(folder: str | Path, *, static_seconds: int = 3600) -> VideoCorpus:
    """Every clip of the corpus in ``folder`` (created if missing); see the module's notes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return VideoCorpus(
        folder=folder,
        h264=write_shape_clip(folder / "shapes.mp4", H264_SCENES),
        vp9=write_shape_clip(folder / "shapes.webm", VP9_SCENES, codec="libvpx-vp9"),
        rotated=write_shape_clip(folder / "portrait.mp4", ROTATED_SCENES, size=(240, 320), rotation=90),
        truncated=write_truncated_clip(folder / "truncated.mkv"),
        fake=write_fake_video(folder / "fake.mp4"),
        undecodable=write_undecodable_clip(folder / "undecodable.mp4"),
        static=write_static_clip(folder / "static.mp4", static_seconds),
    )
