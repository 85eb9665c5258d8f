"""Indexing video files: one entry per moment (a scene, with one frame embedded), incrementally by
the video's content hash.

An entry of a video has the id :func:`moment_id` (``vid-<sha256 of the video>-m3``), the kind
``"video"`` (searched as a picture), and metadata (:mod:`siglip_retriever.store.metadata`): its
file (the video), ``source`` (the video's path), ``start``, ``end`` and ``frame`` (seconds),
``moment`` (its number), the record of the video (``duration``, ``codec``, ``width``,
``height``, ``rotation``) and the frame's picture facts (its fingerprint).

What a run does with a video file is what it does with every file that becomes many entries
(:class:`~siglip_retriever.store.parts.PartsIndexer`): skipped while unchanged; joined when its
content is stored (the same video under two names is one set of moments with both paths);
else read moment by moment (:func:`~siglip_retriever.encoding.video.read_video`: one scene's
frame in memory at a time), embedded in batches, and written when the whole file is done; a
changed video replaces its moments, a removed one removes them (``remove_missing``). A file that
is not a video, or whose codec cannot be decoded, goes to the report's ``failed`` with its
reason; a video that stops being readable (truncated) keeps the moments before and reports the
rest (``clip.mp4#t=12,30``), again while the file is unchanged. The words in video frames are
not read (OCR reads pictures and PDF pages).

Example:
    >>> from siglip_retriever.store.videos import moment_id, parse_moment_id, span_location
    >>> moment_id("vid-" + "ab" * 16, 3)
    'vid-abababababababababababababababab-m3'
    >>> parse_moment_id(moment_id("vid-" + "ab" * 16, 3))
    ('vid-abababababababababababababababab', 3)
    >>> span_location("/videos/clip.mov", 42.0, 51.5)
    '/videos/clip.mov#t=42,51.5'
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ImageLoadError, MissingDependencyError
from siglip_retriever.store.facts import prepare_picture
from siglip_retriever.store.metadata import (
    CODEC,
    DURATION,
    END,
    FACTS,
    FACTS_VERSION,
    FAILED_SPANS,
    FRAME,
    HEIGHT,
    KIND,
    MOMENT,
    ROTATION,
    SOURCE,
    START,
    WIDTH,
)
from siglip_retriever.store.parts import PartsIndexer
from siglip_retriever.store.report import FailedFile, Status
from siglip_retriever.store.scanning import VIDEO_EXTENSIONS

if TYPE_CHECKING:
    from siglip_retriever.encoding.preparing import PreparedImage
    from siglip_retriever.encoding.video import VideoInfo, VideoMoment
    from siglip_retriever.store.plan import FileFacts

__all__ = ["VideoIndexer", "is_video", "moment_id", "parse_moment_id", "span_location"]

_ID = re.compile(r"^(vid-[0-9a-f]{32})-m(\d+)$")


def is_video(path: str | Path) -> bool:
    """Whether a file is indexed as a video (by its extension)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def moment_id(video_key: str, moment: int) -> str:
    """The id of a video's moment (``moment`` from 1)."""
    return f"{video_key}-m{moment}"


def parse_moment_id(entry_id: str) -> tuple[str, int] | None:
    """``(video content id, moment)`` of a moment's id; ``None`` for other ids."""
    match = _ID.match(entry_id)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def span_location(path: str, start: float, end: float | None) -> str:
    """How reports and links name a part of a video: a media fragment (``clip.mov#t=42,51.5``)."""
    return f"{path}#t={start:g}" + (f",{end:g}" if end is not None else "")


class VideoIndexer(PartsIndexer):
    """One indexing run's video files (see the module's notes); its arguments are those of
    :class:`~siglip_retriever.store.parts.PartsIndexer` (the words of video frames are not read).

    Example:
        >>> key = "vid-" + "ab" * 16
        >>> VideoIndexer.key_of(moment_id(key, 2)) == key, VideoIndexer.key_of("img-1")
        (True, None)
    """

    prefix = "vid"

    @staticmethod
    def key_of(entry_id: str) -> str | None:
        """The video's content id of a moment's entry."""
        parsed = parse_moment_id(entry_id)
        return parsed[0] if parsed is not None else None

    def location(self, path: str, entry_id: str, metadata: dict[str, Any]) -> str:
        """``clip.mp4#t=42,51.5``: the moment's span (a media fragment, as players open it)."""
        start, end = metadata.get(START), metadata.get(END)
        if not isinstance(start, int | float):
            return path
        return span_location(path, float(start), float(end) if isinstance(end, int | float) else None)

    def order(self, entry_id: str) -> tuple[int, ...]:
        """The moment's number."""
        parsed = parse_moment_id(entry_id)
        return (parsed[1] if parsed is not None else 0,)

    def recorded_failures(self, path: str, metadata: dict[str, Any]) -> list[FailedFile]:
        """The parts that could not be read when the video was indexed (``failed_spans``)."""
        return [
            FailedFile(span_location(path, float(start), end), f"{reason} (as when the file was indexed)")
            for start, end, reason in json.loads(str(metadata.get(FAILED_SPANS) or "[]"))
        ]

    def read_stored(self, file: FileFacts, key: str, metas: dict[str, dict[str, Any]]) -> None:
        """Nothing: the words in video frames are not read."""

    def embed(self, file: FileFacts, key: str, status: Status) -> None:
        """Read a video moment by moment, embed the moments' frames in batches, and write its
        entries when the whole file is read; a file that cannot be read goes to ``failed``."""
        from siglip_retriever.encoding.video import VideoFailure, VideoInfo, read_video

        encoder = self.store.encoder
        preparer = encoder.image_preparer()
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        vectors: list[npt.NDArray[np.float32]] = []
        pending: list[PreparedImage] = []
        failures: list[tuple[float, float | None, str]] = []
        info: VideoInfo | None = None
        try:
            for item in read_video(file.source):
                if isinstance(item, VideoInfo):
                    info = item
                elif isinstance(item, VideoFailure):
                    failures.append((item.start, item.end, item.reason))
                    self.report.failed.append(
                        FailedFile(span_location(file.path, item.start, item.end), item.reason)
                    )
                elif info is not None:
                    prepared, facts = prepare_picture(preparer, item.picture)
                    ids.append(moment_id(key, item.index))
                    metas.append({**facts.metadata(), **_moment_metadata(file.path, info, item)})
                    pending.append(prepared)
                    if len(pending) >= encoder.batch_size:
                        vectors.append(encoder.encode_images(pending))
                        pending = []
        except (ImageLoadError, MissingDependencyError) as exc:  # VideoError: the whole file
            reason = exc.reason if isinstance(exc, ImageLoadError) else str(exc)
            self.report.failed.append(FailedFile(file.path, reason))
            return
        if pending:
            vectors.append(encoder.encode_images(pending))
        if not ids and not failures:
            self.report.failed.append(FailedFile(file.path, "no frame could be read"))
        failed = {FAILED_SPANS: json.dumps(failures, ensure_ascii=False)} if failures else {}
        self.write(file, status, ids, vectors, [{**meta, **failed} for meta in metas])


def _moment_metadata(path: str, info: VideoInfo, moment: VideoMoment) -> dict[str, Any]:
    """A moment's own keys and the record of its video (its size as shown, not the frame's)."""
    return {
        KIND: "video",
        FACTS: FACTS_VERSION,
        SOURCE: path,
        START: round(moment.start, 3),
        END: round(moment.end, 3),
        FRAME: round(moment.frame, 3),
        MOMENT: moment.index,
        DURATION: round(info.duration, 3),
        CODEC: info.codec,
        WIDTH: info.width,
        HEIGHT: info.height,
        ROTATION: info.rotation,
    }
