"""Indexing video files: one entry per moment (a scene, with one frame embedded), incrementally by
the video's content hash.

An entry of a video has the id :func:`moment_id` (``vid-<sha256 of the video>-m3``), the kind
``"video"`` (searched as a picture), and metadata (:mod:`siglip_retriever.store.metadata`): its
file (the video), ``source`` (the video's path), ``start``, ``end`` and ``frame`` (seconds),
``moment`` (its number), the record of the video (``duration``, ``codec``, ``width``,
``height``, ``rotation``) and the frame's picture facts (its fingerprint).

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

import re
from pathlib import Path

from siglip_retriever.store.scanning import VIDEO_EXTENSIONS

__all__ = ["is_video", "moment_id", "parse_moment_id", "span_location"]

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
