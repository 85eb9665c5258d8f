"""Video files read as moments: scenes found by looking at a few frames, each with one picture.

:func:`read_video` turns a video into a :class:`VideoInfo` (duration, size as shown, codec,
rotation), then :class:`VideoMoment` objects in time order: one per scene, with its span in seconds
and a picture from inside it. :func:`probe_video` reads the facts alone; :func:`video_frame` the
frame shown at a given second (a thumbnail, a moment's picture read again).

Decoding costs little, so that an hour of 1080p does not decode every frame: the decoder runs on
threads, and one frame an ``interval`` is looked at. When keyframes come at least every two
intervals (phones write one every second or two; the first seconds' packets, listed without
decoding, say so), only keyframes are decoded. When they are rarer (an encoder's long default
GOP), every frame is decoded in order but those no frame refers to (``skip_frame="NONREF"``), and
one an interval is looked at. FFmpeg scales a sampled frame down before any numpy work: to a
32 x 32 thumbnail, and to ``side`` for the frame a scene keeps.

Scenes: a sample starts a new moment when its colours differ from the previous sample's by more
than :data:`CUT_DIFFERENCE` (a cut), or from the scene's first sample's by more than
:data:`DRIFT_DIFFERENCE` (a slow change that adds up): a static hour is one moment, a pan one.
A moment's picture is the scene's second sample (away from a fade or motion blur at the cut), or
its first in a scene of one sample; one scene's picture is held at a time. A moment ends where
the next starts; the last, where the readable video ends. Rotation metadata (phone videos) is
applied, as EXIF orientation is for photos: pictures are upright, sizes are as shown.

A file that cannot be read at all raises :class:`~siglip_retriever.errors.VideoError` with the
reason (an undecodable codec named); a video that stops being readable part-way (truncated) keeps
the moments before and yields a :class:`VideoFailure` for the rest. It needs PyAV (``av``, the
``video`` extra), whose wheels bundle FFmpeg; imported on first use.

Example:
    >>> import tempfile
    >>> import av
    >>> path = tempfile.mkdtemp() + "/two-scenes.mp4"
    >>> with av.open(path, "w") as out:
    ...     stream = out.add_stream("libx264", rate=2, options={"preset": "ultrafast"})
    ...     stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    ...     for colour in ["red"] * 6 + ["blue"] * 6:  # 3 seconds of red, then 3 of blue
    ...         out.mux(stream.encode(av.VideoFrame.from_image(Image.new("RGB", (64, 48), colour))))
    ...     out.mux(stream.encode(None))
    >>> info, *moments = read_video(path)
    >>> info.duration, info.codec, (info.width, info.height)
    (6.0, 'h264', (64, 48))
    >>> [(m.start, m.end, m.frame, [round(v / 255) for v in m.picture.getpixel((32, 24))]) for m in moments]
    [(0.0, 3.0, 1.0, [1, 0, 0]), (3.0, 6.0, 4.0, [0, 0, 1])]
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from siglip_retriever.errors import ConfigurationError, MissingDependencyError, VideoError

__all__ = [
    "CUT_DIFFERENCE",
    "DRIFT_DIFFERENCE",
    "FRAME_SIDE",
    "SAMPLE_SECONDS",
    "VideoFailure",
    "VideoInfo",
    "VideoMoment",
    "VideoStats",
    "probe_video",
    "read_video",
    "video_frame",
]

FRAME_SIDE = 512
"""The long side, in pixels, a moment's picture is scaled down to (never up): more than the
224-512 px a SigLIP checkpoint looks at, and small enough to hold one scene's picture at a time."""

SAMPLE_SECONDS = 1.0
"""How often, in seconds of video, the scene detector looks at a frame (keyframes may space it out
to twice this): a moment starts at the first sample after a cut; a shorter scene may be missed."""

CUT_DIFFERENCE = 12.0
"""A cut: how far the colours of two consecutive samples must be apart for a new moment to start:
the mean absolute difference (0-255) of their 32 x 32 thumbnails' values, sorted channel by
channel. Where things are does not count, so a pan or a person moving stays one scene while
another shot brings other colours: well above what noise or a second of fast motion move."""

DRIFT_DIFFERENCE = 20.0
"""A drift: how far from the colours of the scene's first sample a sample must be for a new moment
to start (a slow pan from the room to the window, a light turned off): change that never jumps
by a cut between two samples but adds up. Higher than a cut, so a shot that sways stays one."""

_SIGNATURE = 32  # the thumbnail's side: its colours stand for the frame's, blind to noise
_KEYFRAME_GAP = 2.0  # keyframes at least every this many intervals: decode keyframes only
_PROBE_SECONDS = 10.0  # how much of the video's start is listed to learn its keyframe spacing
_TRUNCATED = 1.0  # seconds missing from the declared end before the rest is reported unreadable
_SAME_TIME = 1e-3  # seconds: two timestamps this close are the same instant
_CUT_SHORT = "the file declares {:.1f} s: truncated, or copied in part"
_STILL_FORMATS = re.compile(r"(_pipe|image2|^apng|^webp)$")  # FFmpeg's demuxers for single pictures
_UNKNOWN_CODEC = re.compile(r"Video: (\w+) \((\w+) / 0x")  # FFmpeg's log of an undecodable stream
_TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


@dataclass(frozen=True)
class VideoInfo:
    """A video's facts, as a player shows it.

    Attributes:
        duration: seconds, as the file declares (or as far as its packets go when it declares
            none; 0.0 when even that is unknown).
        width: pixels across, as shown: after rotation.
        height: pixels down, as shown.
        codec: FFmpeg's name of the video codec (``"h264"``, ``"hevc"``, ``"vp9"``, ``"av1"``).
        rotation: degrees counter-clockwise the stored frames are turned to be upright (0, 90,
            180 or 270), from the display matrix; a phone held upright often writes 270.
        fps: frames a second (the stream's average), ``None`` when the file does not say.

    Example:
        >>> info = VideoInfo(12.5, 1080, 1920, "hevc", 270, 30.0)
        >>> info.width < info.height
        True
    """

    duration: float
    width: int
    height: int
    codec: str
    rotation: int
    fps: float | None


@dataclass(frozen=True)
class VideoMoment:
    """One scene of a video: its span and a picture from inside it.

    Attributes:
        index: the moment's number, from 1, in time order.
        start: seconds from the video's start where the scene begins (0 for the first).
        end: seconds where it ends: the next moment's start, or the end of the readable video.
        frame: the time of ``picture`` in seconds, ``start <= frame < end``.
        picture: the frame shown at ``frame``: RGB, upright, its long side at most the ``side``
            it was read with.

    Example:
        >>> from PIL import Image
        >>> moment = VideoMoment(2, 42.0, 51.0, 43.0, Image.new("RGB", (512, 288)))
        >>> moment.end - moment.start
        9.0
    """

    index: int
    start: float
    end: float
    frame: float
    picture: Image.Image


@dataclass(frozen=True)
class VideoFailure:
    """A part of a video that could not be read; the moments before it were read.

    Attributes:
        start: seconds where the unreadable part begins (where the readable data ends).
        end: seconds where it ends: the end the file declares, or ``None`` when unknown.
        reason: what went wrong, for reports.

    Example:
        >>> VideoFailure(7.8, 12.0, "the data ends at 7.8 s of the 12.0 s the file declares")
        VideoFailure(start=7.8, end=12.0, reason='the data ends at 7.8 s of the 12.0 s the file declares')
    """

    start: float
    end: float | None
    reason: str


@dataclass
class VideoStats:
    """What :func:`read_video` did to read a video, filled in as it reads (benchmarks, ``-v``).

    Attributes:
        decoded_frames: frames the decoder produced.
        sampled_frames: frames the scene detector looked at (one an interval, at most).
        keyframes_only: whether only keyframes were decoded (they were dense enough).

    Example:
        >>> stats = VideoStats()
        >>> stats.decoded_frames, stats.keyframes_only
        (0, False)
    """

    decoded_frames: int = 0
    sampled_frames: int = 0
    keyframes_only: bool = False


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """A video's facts (duration, size as shown, codec, rotation, frame rate); it decodes one frame.

    Raises:
        VideoError: the file is missing or empty, not a video (or damaged), has no video stream,
            or its codec cannot be decoded by the bundled FFmpeg (the reason names the codec).
        MissingDependencyError: PyAV (the ``video`` extra) is not installed.

    Example:
        >>> probe_video("missing.mp4")
        Traceback (most recent call last):
        ...
        siglip_retriever.errors.VideoError: cannot read video missing.mp4: file not found
    """
    av = _import_av()
    source = Path(path)
    container, stream = _open(av, source)
    try:
        duration = _duration(av, container, stream, source)
        first = next(_decoded(av, container, stream, source), None)
        if first is None:
            raise VideoError(str(source), "no frame of its video stream can be decoded")
        return _info(stream, first, duration or 0.0)
    finally:
        container.close()


def read_video(
    path: str | os.PathLike[str],
    *,
    side: int = FRAME_SIDE,
    interval: float = SAMPLE_SECONDS,
    stats: VideoStats | None = None,
) -> Iterator[VideoInfo | VideoMoment | VideoFailure]:
    """The video's facts, then its moments in time order (see the module's notes).

    Args:
        path: the video file.
        side: the long side of a moment's picture, in pixels (smaller videos keep their size).
        interval: seconds between the frames the scene detector looks at.
        stats: filled in with what was decoded, when given.

    Yields:
        First the :class:`VideoInfo`; then one :class:`VideoMoment` per scene; and a
        :class:`VideoFailure` last when the video stops being readable before its declared end.

    Raises:
        VideoError: the file cannot be read at all, as :func:`probe_video` says. The file is
            opened on the first ``next()``, so this comes from there, before any moment.
        ConfigurationError: ``side`` or ``interval`` is not positive (at the call).
        MissingDependencyError: PyAV (the ``video`` extra) is not installed (at the call).
    """
    _check_side(side)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval < math.inf:
        raise ConfigurationError(f"interval must be a positive number of seconds, not {interval!r}")
    return _read(_import_av(), Path(path), side, float(interval), stats or VideoStats())


def video_frame(path: str | os.PathLike[str], time: float, *, side: int | None = None) -> Image.Image:
    """The frame shown at ``time`` seconds: RGB, upright, its long side at most ``side`` pixels
    (``None``: the video's own size). A time past the end gives the last frame. It seeks to the
    keyframe before ``time`` and decodes forward from there.

    Raises:
        VideoError: the file cannot be read (as :func:`probe_video` says), or no frame at
            ``time`` can be decoded.
        ConfigurationError: ``time`` is negative or not a number, or ``side`` below 1.
        MissingDependencyError: PyAV (the ``video`` extra) is not installed.

    Example:
        >>> video_frame("missing.webm", 3.0)
        Traceback (most recent call last):
        ...
        siglip_retriever.errors.VideoError: cannot read video missing.webm: file not found
    """
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not 0 <= time < math.inf:
        raise ConfigurationError(f"time must be a number of seconds from 0, not {time!r}")
    if side is not None:
        _check_side(side)
    av = _import_av()
    source = Path(path)
    container, stream = _open(av, source)
    try:
        origin = _origin(container, stream)
        if time > 0:
            _seek(av, container, stream, path, int((time + origin) / stream.time_base))
        shown = None
        try:
            for frame in _decoded(av, container, stream, source):
                if shown is not None and frame.time is not None and frame.time - origin > time + _SAME_TIME:
                    break
                shown = frame
        except VideoError:
            if shown is None:  # a damaged part after the frame shown at `time` does not matter
                raise
        if shown is None:
            raise VideoError(str(source), f"no frame at {time:.2f} s can be decoded")
        return _picture(shown, side)
    finally:
        container.close()


# -- opening -------------------------------------------------------------------------------------


def _check_side(side: int) -> None:
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise ConfigurationError(f"side must be a positive whole number of pixels, not {side!r}")


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise MissingDependencyError("av", "video", "Reading videos") from exc
    return av


def _open(av: Any, path: Path) -> tuple[Any, Any]:
    """The opened container and its video stream, or :class:`VideoError` saying why not."""
    name = str(path)
    try:
        if not path.is_file():
            raise VideoError(name, "file not found" if not path.exists() else "not a file")
        if path.stat().st_size == 0:
            raise VideoError(name, "empty file (0 bytes)")
        container = av.open(name, metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise VideoError(name, f"not a video, or damaged (FFmpeg: {_reason(exc)})") from None
    except OSError as exc:
        raise VideoError(name, f"cannot be read ({exc.strerror or exc})") from None
    try:
        return container, _video_stream(av, container, path)
    except BaseException:
        container.close()
        raise


def _video_stream(av: Any, container: Any, path: Path) -> Any:
    """The first video stream that is not a cover picture, with a decoder that can read it."""
    name, kind = str(path), container.format.name
    if _STILL_FORMATS.search(kind):
        raise VideoError(name, f"a still picture ({kind}), not a video")
    cover = av.stream.Disposition.attached_pic
    streams = [stream for stream in container.streams.video if not stream.disposition & cover]
    if not streams:
        raise VideoError(name, "no video stream (an audio file?)")
    stream = streams[0]
    if stream.codec_context is None:
        raise VideoError(name, f"{_codec_named(av, path)} cannot be decoded by the FFmpeg bundled with PyAV")
    return stream


def _codec_named(av: Any, path: Path) -> str:
    """The undecodable codec as FFmpeg's warning on opening the file names it (``"codec 'xyz1'"``;
    PyAV gives none for a stream without a decoder): the file is opened again, warnings captured."""
    level, skip = av.logging.get_level(), av.logging.get_skip_repeated()
    try:
        av.logging.set_skip_repeated(False)  # the same file's warning, asked for again
        if level is None or level < av.logging.WARNING:
            av.logging.set_level(av.logging.WARNING)
        with av.logging.Capture(local=True) as logs, av.open(str(path), metadata_errors="ignore"):
            pass
    except av.FFmpegError:
        logs = []
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(skip)
    for _, _, message in logs:
        found = _UNKNOWN_CODEC.search(message)
        if found:
            codec, tag = found.groups()
            return f"codec '{tag}'" if codec == "none" else f"codec '{codec}' ('{tag}')"
    return "its codec"


def _origin(container: Any, stream: Any) -> float:
    """The seconds of the file's first timestamp, which times are counted from (as players do)."""
    if container.start_time is not None:
        return float(container.start_time) / 1_000_000
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _info(stream: Any, first: Any, duration: float) -> VideoInfo:
    """The video's facts; ``first`` is a decoded frame (its display matrix says the rotation)."""
    rotation = round(first.rotation / 90) * 90 % 360
    width, height = first.width, first.height
    if rotation in (90, 270):
        width, height = height, width
    rate = stream.average_rate or stream.guessed_rate
    codec = stream.codec_context.codec.canonical_name or stream.codec_context.name
    return VideoInfo(round(duration, 6), width, height, codec, rotation, float(rate) if rate else None)


def _duration(av: Any, container: Any, stream: Any, path: Path) -> float | None:
    """The duration the file declares for its video (else the container's; else how far its packets
    go, listed, not decoded, and the file rewound; ``None`` when they cannot be listed)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    origin, end = _origin(container, stream), None
    try:
        for packet in container.demux(stream):
            end = max(end or 0.0, _packet_times(packet, origin)[1] or 0.0)
    except av.FFmpegError:
        pass  # a damaged tail: as far as the packets went
    _seek(av, container, stream, path, stream.start_time or 0)
    return end


def _seek(av: Any, container: Any, stream: Any, path: str | os.PathLike[str], offset: int) -> None:
    """To the keyframe at or before ``offset`` (in the stream's time base)."""
    try:
        container.seek(offset, stream=stream, backward=True)
    except av.FFmpegError as exc:
        raise VideoError(str(path), f"cannot seek in it (FFmpeg: {_reason(exc)})") from None


# -- decoding ------------------------------------------------------------------------------------


def _decoded(av: Any, container: Any, stream: Any, path: Path) -> Iterator[Any]:
    """The stream's frames in order, every one (for :func:`probe_video` and :func:`video_frame`);
    on an FFmpeg error, the frames the decoder still holds, then :class:`VideoError`."""
    context = stream.codec_context
    context.thread_type = "AUTO"
    try:
        for packet in container.demux(stream):
            yield from context.decode(packet)
        return
    except av.FFmpegError as exc:
        reason = _reason(exc)
    with contextlib.suppress(av.FFmpegError):
        yield from context.decode(None)
    raise VideoError(str(path), f"cannot be decoded (FFmpeg: {reason})")


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc).strip().rstrip(".")


def _packet_times(packet: Any, origin: float) -> tuple[float | None, float | None]:
    """Seconds where a packet's frame starts and ends (``None`` when it carries no time)."""
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None or packet.time_base is None:
        return None, None
    start = float(stamp * packet.time_base) - origin
    return start, start + float((packet.duration or 0) * packet.time_base)


def _picture(frame: Any, side: int | None) -> Image.Image:
    """The frame as an upright RGB picture, scaled down by FFmpeg to a long side of ``side``."""
    width, height = frame.width, frame.height
    scale = 1.0 if side is None else min(1.0, side / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    picture = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="AREA").to_image()
    turn = _TURNS.get(round(frame.rotation / 90) * 90 % 360)
    return picture.transpose(turn) if turn is not None else picture


def _signature(frame: Any) -> Any:
    """The frame's colours: its 32 x 32 thumbnail (area-averaged by FFmpeg), each channel's values
    sorted (float32 numpy, ``(1024, 3)``)."""
    import numpy as np

    small = frame.reformat(width=_SIGNATURE, height=_SIGNATURE, format="rgb24", interpolation="AREA")
    return np.sort(small.to_ndarray().astype(np.float32).reshape(-1, 3), axis=0)


def _difference(one: Any, other: Any) -> float:
    return float(abs(one - other).mean())


def _dense_keyframes(av: Any, container: Any, stream: Any, path: Path, interval: float) -> bool:
    """Whether keyframes come at least every ``_KEYFRAME_GAP`` intervals in the video's first
    seconds: its packets are listed (not decoded), then the file is rewound."""
    origin, limit = _origin(container, stream), _KEYFRAME_GAP * interval
    keyframes: list[float] = []
    end = 0.0
    try:
        for packet in container.demux(stream):
            start = _packet_times(packet, origin)[0]
            if start is not None:
                keyframes += [start] if packet.is_keyframe else []
                end = max(end, start)
                if start > max(_PROBE_SECONDS, 2 * limit):
                    break
    except av.FFmpegError:
        pass  # a damaged start: judged on what was listed; the reading reports the damage
    _seek(av, container, stream, path, stream.start_time or 0)
    gaps = [later - earlier for earlier, later in itertools.pairwise(keyframes)]
    return bool(keyframes) and max([keyframes[0], end - keyframes[-1], *gaps]) <= limit + _SAME_TIME


class _Sampler:
    """The frames the scene detector looks at, decoded at reduced cost; it keeps how far the
    packets went and the error that stopped them."""

    def __init__(self, av: Any, container: Any, stream: Any, interval: float, stats: VideoStats) -> None:
        self.av, self.container, self.stream, self.stats = av, container, stream, stats
        self.interval, self.origin = interval, _origin(container, stream)
        self.reached = 0.0  # seconds: the end of the last packet read
        self.error: str | None = None

    def samples(self) -> Iterator[tuple[float, Any]]:
        """``(seconds, frame)`` about one an interval, in time order, until the packets end or fail."""
        context, keyframes_only = self.stream.codec_context, self.stats.keyframes_only
        context.thread_type = "AUTO"
        context.skip_frame = "NONKEY" if keyframes_only else "NONREF"
        # the next sample's time; a keyframe a bit early will do, a frame decoded in order not
        due, slack = -math.inf, self.interval / 4 if keyframes_only else _SAME_TIME
        try:
            for packet in self._packets():
                if packet is not None:
                    start, end = _packet_times(packet, self.origin)
                    self.reached = max(self.reached, end if end is not None else self.reached)
                if keyframes_only and packet is not None and packet.size:  # the packets choose
                    if not packet.is_keyframe or (start is not None and start < due - slack):
                        continue  # never decoded
                    due = due if start is None else start + self.interval
                for frame in context.decode(packet):
                    self.stats.decoded_frames += 1
                    time = max(0.0, frame.time - self.origin if frame.time is not None else self.reached)
                    if not keyframes_only:  # the frames choose
                        if time < due - slack:
                            continue
                        due = time + self.interval
                    self.stats.sampled_frames += 1
                    yield time, frame
        except self.av.FFmpegError as exc:
            self.error = _reason(exc)

    def _packets(self) -> Iterator[Any]:
        """The stream's packets; after an FFmpeg error (kept), ``None``: the decoder gives what it holds."""
        try:
            yield from self.container.demux(self.stream)
        except self.av.FFmpegError as exc:
            self.error = _reason(exc)
            yield None

    def failure(self, declared: float | None) -> VideoFailure | None:
        """The unreadable rest of the video, if the packets failed or stopped before the end."""
        end = declared if declared is not None and declared > self.reached else None
        if self.error is None and (end is None or end - self.reached <= _TRUNCATED):
            return None
        why = f"FFmpeg: {self.error}" if self.error else _CUT_SHORT.format(end)
        return VideoFailure(self.reached, end, f"unreadable from {self.reached:.1f} s ({why})")


def _scenes(
    samples: Iterator[tuple[float, Any]], side: int
) -> Iterator[tuple[float, float | None, float, Image.Image]]:
    """``(start, end, frame, picture)`` of each scene, yielded when the next one starts (``end``
    is its start), the last when the samples end (``end`` is ``None``). A scene holds its first
    sample's frame until its second sample gives the picture (a one-sample scene's is its first)."""
    start = frame = 0.0
    first = last = held = picture = None
    for time, sample in samples:
        signature = _signature(sample)
        cut = first is None or _difference(signature, last) > CUT_DIFFERENCE
        if not cut and _difference(signature, first) <= DRIFT_DIFFERENCE:  # no drift either
            last = signature
            if picture is None:
                picture, frame, held = _picture(sample, side), time, None
            continue
        if first is not None:
            yield start, time, frame, picture if picture is not None else _picture(held, side)
        start = time if first is not None else 0.0
        first, last, held, frame, picture = signature, signature, sample, time, None
    if first is not None:
        yield start, None, frame, picture if picture is not None else _picture(held, side)


def _read(
    av: Any, path: Path, side: int, interval: float, stats: VideoStats
) -> Iterator[VideoInfo | VideoMoment | VideoFailure]:
    container, stream = _open(av, path)
    try:
        declared = _duration(av, container, stream, path)
        stats.keyframes_only = _dense_keyframes(av, container, stream, path, interval)
        sampler = _Sampler(av, container, stream, interval, stats)
        samples = sampler.samples()
        first = next(samples, None)
        if first is None:
            raise VideoError(str(path), f"no frame can be decoded (FFmpeg: {sampler.error or 'no frames'})")
        yield _info(stream, first[1], declared if declared is not None else sampler.reached)
        scenes = _scenes(itertools.chain([first], samples), side)
        for index, (start, end, frame, picture) in enumerate(scenes, start=1):
            if end is None:  # the last scene: it ends where the readable video ends
                truncated = sampler.failure(declared) is not None or declared is None
                end = max(sampler.reached if truncated else declared or 0.0, frame + _SAME_TIME)
            yield VideoMoment(index, start, end, frame, picture)
        failure = sampler.failure(declared)
        if failure is not None:
            yield failure
    finally:
        container.close()
