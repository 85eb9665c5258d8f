"""Every metadata key this package writes, named once: on a store's entries, and on its collection
(the record of the model that built it); and which entry keys are internal bookkeeping.

An entry's metadata holds the caller's own keys beside these:

- ``kind`` (:data:`KIND`): ``"image"``, ``"text"`` or ``"video"`` (a video's moment; searched as
  a picture: :data:`VISUAL_KINDS`) (every entry);
- ``uri`` (:data:`URI`): an image's primary file (the first of ``paths``);
- ``mtime_ns`` (:data:`MTIME`), ``file_size`` (:data:`SIZE`): that file's modification time in
  nanoseconds and its size in bytes;
- ``paths`` (:data:`PATHS`): every file holding the image's bytes, as JSON text (internal);
- ``facts`` (:data:`FACTS`): the version of the facts recorded, :data:`FACTS_VERSION` (internal);
- ``phash`` (:data:`PHASH`): the picture's perceptual hash, 16 hex digits;
- ``width``, ``height`` (:data:`WIDTH`, :data:`HEIGHT`): its size in pixels, after EXIF orientation;
- ``taken`` (:data:`TAKEN`): when it was taken (EXIF), as ISO 8601 text;
- ``sensor_width``, ``sensor_height`` (:data:`SENSOR_WIDTH`, :data:`SENSOR_HEIGHT`): a camera RAW
  file's sensor size in pixels (``width`` and ``height`` are those of the picture read: its
  embedded preview, or its sensor data developed);
- ``ocr`` (:data:`OCR`): what read the picture's words (an OCR engine and its version, or
  ``"pdf text layer"``), once they were read, even when it found none; the words themselves are
  in the store's words collection (:mod:`siglip_retriever.store.words`);
- ``text_probability`` (:data:`TEXT_PROBABILITY`): how likely the picture carries text, as
  ``ocr="auto"`` judged it (recorded when indexing looked, read or not).

The entries of a PDF (a rendered page, or a figure embedded in one) also hold, as LangChain's PDF
loaders and LlamaIndex's readers write them:

- ``source`` (:data:`SOURCE`): the PDF's path (also its ``uri``);
- ``page`` (:data:`PAGE`): the page's number, from 1; ``page_label`` (:data:`PAGE_LABEL`): the
  label the PDF gives it (``"iv"``), else the number as text;
- ``part`` (:data:`PART`): ``"page"`` or ``"figure"``; ``figure`` (:data:`FIGURE`): a figure's
  number on its page, from 1;
- ``failed_pages`` (:data:`FAILED_PAGES`): the pages of the PDF that could not be read, with
  their reasons, as JSON text (internal: indexing reports them again while the file is unchanged).

The entries of a video (one per moment: a scene, with one frame embedded) also hold:

- ``source`` (:data:`SOURCE`): the video's path (also its ``uri``);
- ``start``, ``end`` (:data:`START`, :data:`END`): the moment's span in seconds; ``frame``
  (:data:`FRAME`): the time of the frame embedded; ``moment`` (:data:`MOMENT`): its number in the
  video, from 1;
- the record of the video: ``duration`` (:data:`DURATION`, seconds), ``codec`` (:data:`CODEC`),
  ``width`` and ``height`` (as shown, rotation applied), ``rotation`` (:data:`ROTATION`,
  degrees); the frame's fingerprint is ``phash``;
- ``failed_spans`` (:data:`FAILED_SPANS`): the parts of the video that could not be read, with
  their reasons, as JSON text (internal, as ``failed_pages``).

The collection's metadata records the model that built it under the ``RECORD_*`` keys
(:class:`~siglip_retriever.store.collection.ModelRecord`).

:data:`INTERNAL_KEYS` are the ones meaningless to a user of results: ``facts`` (a version number
that tells indexing to record newer facts), the JSON text of ``paths`` (results carry the list
of paths instead: :meth:`~siglip_retriever.search.hits.SearchHit.result_metadata`) and
``failed_pages`` (what the index report says). A PDF entry's ``source``, ``page``,
``page_label``, ``part`` and ``figure``, and ``ocr`` and ``text_probability``, are what a reader
of results cites, links (``#page=N``) and filters by (``where={"part": "page"}``), so results
keep them. The file's
time and size, the fingerprint and the picture's size and date are facts a user can read, sort
and filter by (``where={"file_size": {"$gt": 1000000}}``), so results keep them.

The caption a document shows (``caption``) is the caller's key, not this package's: its default
name is :data:`~siglip_retriever.search.hits.DEFAULT_CAPTION_KEY`. The keys a search adds to
results (``rank``, ``similarity``, ``duplicates``...) are not stored: the search layer names them
(:data:`~siglip_retriever.search.hits.RESULT_KEYS`). The files inside ``paths``
are read and written by :mod:`siglip_retriever.store.files`, the picture's facts by
:mod:`siglip_retriever.store.facts`. The key strings are the on-disk format: stores written by
earlier versions read the same.

Example:
    >>> from siglip_retriever.store.metadata import FACTS, INTERNAL_KEYS, KIND, public_metadata
    >>> sorted(INTERNAL_KEYS)
    ['facts', 'failed_pages', 'failed_spans', 'paths']
    >>> public_metadata({KIND: "image", FACTS: 3, "album": "2019"})
    {'kind': 'image', 'album': '2019'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "CODEC",
    "DURATION",
    "END",
    "FACTS",
    "FACTS_VERSION",
    "FAILED_PAGES",
    "FAILED_SPANS",
    "FIGURE",
    "FRAME",
    "HEIGHT",
    "INTERNAL_KEYS",
    "KIND",
    "MOMENT",
    "MTIME",
    "OCR",
    "PAGE",
    "PAGE_LABEL",
    "PART",
    "PATHS",
    "PHASH",
    "RECORD_DIM",
    "RECORD_LOGIT_BIAS",
    "RECORD_LOGIT_SCALE",
    "RECORD_MODEL",
    "RECORD_OCR",
    "RECORD_SCORE_KIND",
    "RECORD_VERSION",
    "RESERVED_KEYS",
    "ROTATION",
    "SENSOR_HEIGHT",
    "SENSOR_WIDTH",
    "SIZE",
    "SOURCE",
    "START",
    "TAKEN",
    "TEXT_PROBABILITY",
    "URI",
    "VISUAL_KINDS",
    "WIDTH",
    "public_metadata",
]

# -- an entry's keys ---------------------------------------------------------------------------

KIND = "kind"
"""``"image"``, ``"text"`` or ``"video"`` (a moment of a video): every entry this package writes
has it."""

VISUAL_KINDS = ("image", "video")
"""The kinds searched as pictures (``kind="image"`` of a search): a moment of a video is a frame."""

URI = "uri"
"""An image's primary file (an absolute path or a URI), also chromadb's ``uris`` of the entry."""

MTIME = "mtime_ns"
"""The primary file's modification time, in nanoseconds since the epoch."""

SIZE = "file_size"
"""The primary file's size in bytes."""

PATHS = "paths"
"""Every file holding the image's bytes, primary first, as JSON text (chromadb values are
scalars): :func:`siglip_retriever.store.files.stored_files` reads it."""

FACTS = "facts"
"""The version of the facts an indexed image records (:data:`FACTS_VERSION`)."""

FACTS_VERSION = 3
"""The current version of an indexed image's facts. Version 2: ``width`` and ``height`` are the
file's own size (before it, the size a large JPEG was decoded at). Version 3: the picture's
fingerprint (``phash``) and EXIF date (``taken``), and every file holding the picture
(``paths``), are recorded too. Entries of an older version are corrected by the next indexing
run, without embedding them again."""

PHASH = "phash"
"""The picture's perceptual hash (:func:`siglip_retriever.store.fingerprints.fingerprint`)."""

WIDTH = "width"
"""The picture's width in pixels, after EXIF orientation."""

HEIGHT = "height"
"""The picture's height in pixels, after EXIF orientation."""

TAKEN = "taken"
"""When the picture was taken (EXIF ``DateTimeOriginal``), as ISO 8601 text; absent when unknown."""

SENSOR_WIDTH = "sensor_width"
"""A camera RAW file's sensor width in pixels (its visible area, before orientation); RAW files only."""

SENSOR_HEIGHT = "sensor_height"
"""A camera RAW file's sensor height in pixels (its visible area, before orientation); RAW files only."""

OCR = "ocr"
"""What read the picture's words (:attr:`~siglip_retriever.encoding.ocr.PictureText.engine`):
present once they were read (then indexing does not read them again), even when there were none."""

TEXT_PROBABILITY = "text_probability"
"""How likely the picture carries text (0 to 1), as ``ocr="auto"`` judges it: recorded when
indexing looked, so that it does not look again."""

SOURCE = "source"
"""A PDF entry's file (its path, as LangChain's PDF loaders write ``source``)."""

PAGE = "page"
"""A PDF entry's page number, from 1."""

PAGE_LABEL = "page_label"
"""A PDF entry's page label (``"iv"``, ``"A-3"``), else the page number as text."""

PART = "part"
"""What of a PDF an entry is: ``"page"`` (the page rendered) or ``"figure"`` (a picture on it)."""

FIGURE = "figure"
"""A figure's number on its page, from 1 (figure entries only)."""

FAILED_PAGES = "failed_pages"
"""The pages of an entry's PDF that could not be read, as JSON ``[[page, reason], ...]`` (only
when there are some)."""

START = "start"
"""A video moment's start, in seconds from the video's start."""

END = "end"
"""A video moment's end, in seconds (the next moment's start, or the end of the video)."""

FRAME = "frame"
"""The time, in seconds, of the frame a video moment's vector was made from."""

MOMENT = "moment"
"""A video moment's number in its video, from 1."""

DURATION = "duration"
"""A video's duration in seconds (on each of its moments)."""

CODEC = "codec"
"""A video's codec, as FFmpeg names it (``"h264"``, ``"hevc"``, ``"vp9"``, ``"av1"``)."""

ROTATION = "rotation"
"""The rotation applied to a video's frames to show them upright, in degrees counter-clockwise
(phone videos record it in their display matrix)."""

FAILED_SPANS = "failed_spans"
"""The parts of an entry's video that could not be read, as JSON ``[[start, end, reason], ...]``
(only when there are some)."""

RESERVED_KEYS = frozenset(
    {KIND, URI, MTIME, SIZE, PATHS, FACTS, OCR, TEXT_PROBABILITY, PART, FAILED_PAGES, FAILED_SPANS}
)
"""Keys the caller's metadata may not use (the picture's facts, written on images only, may be
set on texts; ``source``, ``page`` and ``page_label`` too, as LangChain documents carry them)."""

INTERNAL_KEYS = frozenset({FACTS, PATHS, FAILED_PAGES, FAILED_SPANS})
"""Bookkeeping keys that results leave out: meaningless to their reader (``paths`` comes back as
the list of paths, not its JSON)."""

# -- the collection's keys: the record of the model that built it -------------------------------

RECORD_MODEL = "siglip_model"
"""A name that loads the model again (preset name, hub id or directory)."""

RECORD_DIM = "siglip_dim"
"""The size of its vectors."""

RECORD_LOGIT_SCALE = "siglip_logit_scale"
"""The multiplier of cosine similarities in its probabilities."""

RECORD_LOGIT_BIAS = "siglip_logit_bias"
"""SigLIP's bias (0 for CLIP)."""

RECORD_SCORE_KIND = "siglip_score_kind"
"""``"sigmoid"`` (SigLIP) or ``"softmax"`` (CLIP)."""

RECORD_VERSION = "siglip_retriever_version"
"""The version of this package that made the collection."""

RECORD_OCR = "siglip_ocr"
"""On the words collection (:mod:`siglip_retriever.store.words`): the OCR setting of the store's
last indexing run (``"auto"``, ``"all"`` or ``"off"``), the next run's when it is given none."""


def public_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """An entry's metadata without its :data:`INTERNAL_KEYS`: what results show of it."""
    return {key: value for key, value in (metadata or {}).items() if key not in INTERNAL_KEYS}
