"""Reading the words in pictures at index time: the OCR setting of a run, which pictures to read,
and the reading of older entries.

The setting (``ocr=`` of indexing, ``index --ocr``) is one of :data:`OCR_SETTINGS`:

- ``"all"`` reads every picture;
- ``"auto"`` reads the pictures likely to carry text. Indexing has each picture's vector anyway:
  SigLIP's calibrated probability that a text-bearing prompt (:data:`TEXT_PROMPTS`: a
  screenshot, a slide, a page of text...) matches it is its ``text_probability``, and a picture
  at :data:`AUTO_THRESHOLD` or above is read. It costs one small matrix product a batch, so
  photos without text cost next to nothing; how well it chooses is the model's. So a run first
  checks the model (:meth:`WordReader.model_tells_text`: a rendered page of text must be judged
  text-bearing, a photo-like picture not): a checkpoint that never saw text in pictures (the
  tiny demo model, random test models) fails, and then ``auto`` reads only PDF pages without a
  text layer, and ``"all"`` reads the rest;
- ``"off"`` reads nothing.

A PDF page without a text layer (a scan) is read whenever OCR is on, ``auto`` included; a page
with a text layer never needs OCR. The setting a run is given is remembered by the store
(:meth:`~siglip_retriever.store.store.MultimodalStore.remember_ocr`); a run given none uses the
remembered one, else :func:`default_ocr`: ``"auto"`` when the ``ocr`` extra (rapidocr) is
installed, ``"off"`` otherwise (asking for ``"auto"`` or ``"all"`` without it is a
:class:`~siglip_retriever.errors.MissingDependencyError` naming the extra).

Each entry records what indexing did (:mod:`siglip_retriever.store.metadata`): ``ocr`` (the
engine, once read, even when it found nothing) and ``text_probability`` (when ``auto`` looked).
So an unchanged file is not read again, and a run with OCR turned on reads the older entries not
read yet (:func:`read_older`) without embedding them again.

Example:
    >>> from siglip_retriever.store.reading import resolve_ocr
    >>> resolve_ocr("off", remembered="all")
    'off'
    >>> resolve_ocr(None, remembered="off")
    'off'
"""

from __future__ import annotations

import importlib.util
import io
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.scores import cosine_matrix, sigmoid_probability, softmax_probability
from siglip_retriever.errors import ConfigurationError, ImageLoadError, MissingDependencyError
from siglip_retriever.store.metadata import OCR, TEXT_PROBABILITY
from siglip_retriever.store.report import FailedFile

if TYPE_CHECKING:
    from PIL import Image

    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.ocr import OcrReader, PictureText
    from siglip_retriever.store.plan import FileFacts, KnownFiles
    from siglip_retriever.store.report import IndexedFile, IndexReport
    from siglip_retriever.store.store import MultimodalStore

__all__ = [
    "AUTO_THRESHOLD",
    "OCR_SETTINGS",
    "PICTURE_PROMPTS",
    "TEXT_PROMPTS",
    "OcrSetting",
    "OcrState",
    "WordReader",
    "default_ocr",
    "ocr_state",
    "picture_for_ocr",
    "read_older",
    "read_skipped",
    "resolve_ocr",
    "unread_entries",
]

_OCR_SIDE = 2048  # a picture is read by OCR at most this long side (memory and time bounded)

OcrSetting = Literal["auto", "all", "off"]
"""A setting of OCR at index time."""

OCR_SETTINGS: tuple[OcrSetting, ...] = ("auto", "all", "off")
"""What indexing reads: pictures likely to carry text, every picture, none."""

OcrState = Literal["unread", "unlikely", "read"]
"""What an entry records of OCR: not looked at, judged without text by ``auto``, read."""

TEXT_PROMPTS: tuple[str, ...] = (
    "a screenshot",
    "a screenshot of an app",
    "a slide with words",
    "a presentation slide",
    "a page of text",
    "a scanned document",
    "a letter",
    "a receipt",
    "a sign with words",
    "a whiteboard with writing",
)
"""Prompts of pictures that carry text, for ``ocr="auto"``."""

PICTURE_PROMPTS: tuple[str, ...] = (
    "a photo",
    "a photo of a person",
    "a photo of an animal",
    "a photo of a landscape",
    "a photo of a thing",
    "a painting",
    "a drawing of a shape",
)
"""Prompts of pictures without text, the other side of ``auto``'s choice."""

AUTO_THRESHOLD = 0.1
"""``ocr="auto"`` reads a picture whose ``text_probability`` (SigLIP's calibrated probability
that a text-bearing prompt matches it) is at least this: low, since a missed picture is never
read while a needless read costs one OCR. For CLIP-style models (softmax scores) the picture is
read when the text-bearing prompts take at least half of a softmax over both sets of prompts."""

_SHARE = 0.5
_PROMPTS: weakref.WeakKeyDictionary[Any, npt.NDArray[np.float32]] = weakref.WeakKeyDictionary()
_TRUSTED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()  # per encoder


def default_ocr() -> OcrSetting:
    """``"auto"`` when rapidocr (the ``ocr`` extra) is installed, else ``"off"``."""
    return "auto" if importlib.util.find_spec("rapidocr") is not None else "off"


def resolve_ocr(ocr: str | None, *, remembered: str | None = None) -> OcrSetting:
    """The OCR setting of a run: the one given, else the store's ``remembered`` one, else
    :func:`default_ocr`.

    Raises:
        ConfigurationError: an unknown setting.
        MissingDependencyError: ``"auto"`` or ``"all"`` given without rapidocr installed.
    """
    chosen = ocr if ocr is not None else remembered
    if chosen is None:
        return default_ocr()
    for setting in OCR_SETTINGS:
        if chosen == setting:
            if setting != "off" and importlib.util.find_spec("rapidocr") is None:
                if ocr is None:  # remembered, and the extra is gone since: nothing to read with
                    return "off"
                raise MissingDependencyError("rapidocr", "ocr", "Reading the words in pictures")
            return setting
    raise ConfigurationError(f"ocr must be one of {', '.join(OCR_SETTINGS)}, not {chosen!r}")


def ocr_state(metadata: Mapping[str, Any] | None) -> OcrState:
    """What an entry's metadata records of OCR.

    Example:
        >>> ocr_state({"ocr": "rapidocr 3.10.0"}), ocr_state({"text_probability": 0.1}), ocr_state({})
        ('read', 'unlikely', 'unread')
    """
    meta = metadata or {}
    if meta.get(OCR):
        return "read"
    return "unlikely" if TEXT_PROBABILITY in meta else "unread"


class WordReader:
    """One run's reading of words: which pictures to read (:meth:`choose`), and the reading.

    Args:
        setting: ``"auto"``, ``"all"`` or ``"off"``.
        encoder: the store's encoder (its text tower embeds the prompts of ``auto``).
        reader: the OCR reader (default: an :class:`~siglip_retriever.encoding.ocr.OcrReader`,
            made when first needed).

    Example:
        >>> import tempfile
        >>> from siglip_retriever import SiglipEncoder
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> words = WordReader("off", SiglipEncoder(build_checkpoint(tempfile.mkdtemp())))
        >>> words.on, words.choose([[1.0] + [0.0] * 31])
        (False, [(False, None)])
    """

    def __init__(self, setting: OcrSetting, encoder: SiglipEncoder, reader: OcrReader | None = None) -> None:
        self.setting = setting
        self.encoder = encoder
        self._reader = reader
        self._prompts: npt.NDArray[np.float32] | None = _PROMPTS.get(encoder)
        self._trusted: bool | None = _TRUSTED.get(encoder)
        self.read_count = 0
        """Pictures read by OCR so far."""
        self.found_count = 0
        """Of those, the ones that carried words."""

    @property
    def on(self) -> bool:
        """Whether this run reads any picture."""
        return self.setting != "off"

    def text_probabilities(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """How likely each picture (by its vector) carries text: for SigLIP, the highest
        calibrated probability that a text-bearing prompt matches it; for CLIP (softmax
        scores), the share of the text-bearing prompts in a softmax over every prompt."""
        if self._prompts is None:
            self._prompts = _PROMPTS[self.encoder] = self.encoder.encode_texts(
                [*TEXT_PROMPTS, *PICTURE_PROMPTS]
            )
        cosines = cosine_matrix(self._prompts, vectors)
        encoder = self.encoder
        if encoder.score_kind == "softmax":
            shares = softmax_probability(cosines, logit_scale=encoder.logit_scale, axis=0)
            return np.asarray(shares[: len(TEXT_PROMPTS)].sum(axis=0), dtype=np.float64)
        texts = cosines[: len(TEXT_PROMPTS)]
        probabilities = sigmoid_probability(
            texts, logit_scale=encoder.logit_scale, logit_bias=encoder.logit_bias
        )
        return np.asarray(probabilities.max(axis=0), dtype=np.float64)

    def choose(
        self, vectors: npt.ArrayLike, *, scans: Sequence[bool] | None = None
    ) -> list[tuple[bool, float | None]]:
        """For each picture (by its vector): whether to read it, and its ``text_probability``
        (``None`` unless ``auto`` judged it). ``scans`` marks PDF pages without a text layer,
        read whenever OCR is on."""
        array = np.asarray(vectors, dtype=np.float32)
        count = len(np.atleast_2d(array)) if array.size else 0
        scanned = list(scans) if scans is not None else [False] * count
        if self.setting == "off":
            return [(False, None)] * count
        if self.setting == "all":
            return [(True, None)] * count
        if not self.model_tells_text():  # its judgement means nothing: scans only, nothing recorded
            return [(scan, None) for scan in scanned]
        shares = self.text_probabilities(array) if count else np.zeros(0)
        threshold = self.threshold
        return [
            (bool(scan or share >= threshold), round(float(share), 4))
            for share, scan in zip(shares, scanned, strict=True)
        ]

    @property
    def threshold(self) -> float:
        """The ``text_probability`` from which ``auto`` reads a picture."""
        return _SHARE if self.encoder.score_kind == "softmax" else AUTO_THRESHOLD

    def model_tells_text(self) -> bool:
        """Whether ``auto`` can trust the model's judgement: it must put a rendered page of text at
        :attr:`threshold` or above, and a photo-like picture without text below it (checked once a
        encoder in a process). A model that never saw text in pictures (the demo model, random test
        models) fails, and then ``auto`` reads only the pages without a text layer."""
        if self._trusted is None:
            page, photo = self.text_probabilities(self.encoder.encode_images(list(_probe_pictures())))
            self._trusted = _TRUSTED[self.encoder] = bool(page >= self.threshold > photo)
        return self._trusted

    @property
    def engine(self) -> str:
        """What reads (rapidocr's version and models)."""
        return self.reader().engine

    def reader(self) -> OcrReader:
        """The OCR reader (made, not loaded, on the first call)."""
        if self._reader is None:
            from siglip_retriever.encoding.ocr import OcrReader

            self._reader = OcrReader()
        return self._reader

    def read(self, picture: Image.Image) -> PictureText:
        """The words in ``picture``, counted."""
        words = self.reader().read(picture)
        self.read_count += 1
        self.found_count += bool(words.text.strip())
        return words

    def metadata(self, read: bool, probability: float | None) -> dict[str, Any]:
        """What an entry records of this: ``ocr`` when read, ``text_probability`` when judged."""
        meta: dict[str, Any] = {OCR: self.engine} if read else {}
        if probability is not None:
            meta[TEXT_PROBABILITY] = probability
        return meta


def _probe_pictures() -> tuple[Image.Image, Image.Image]:
    """A page of text (black words on white) and a photo-like picture without text (smooth colour
    fields and noise), for :meth:`WordReader.model_tells_text`."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", (448, 448), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=22)
    lines = ("Quarterly report", "Revenue grew in every region", "and costs fell by a tenth.", "Page 2 of 14")
    for row in range(12):
        draw.text((28, 24 + 34 * row), lines[row % len(lines)], fill="black", font=font)
    y, x = np.mgrid[0:448, 0:448] / 448.0
    fields = np.stack([0.5 + 0.3 * np.sin(3 * x + 1), 0.5 + 0.3 * np.cos(2 * y), 0.4 + 0.3 * x * y], axis=-1)
    noise = np.random.default_rng(0).normal(0.0, 0.04, fields.shape)
    photo = Image.fromarray((np.clip(fields + noise, 0, 1) * 255).astype(np.uint8), "RGB")
    return page, photo


def picture_for_ocr(source: str | Path | bytes) -> Image.Image:
    """A picture file decoded for OCR: EXIF orientation applied, RGB, its long side at most
    :data:`_OCR_SIDE` (large JPEGs decoded smaller at once).

    Raises:
        ImageLoadError: it cannot be decoded.
    """
    from PIL import Image, ImageOps

    from siglip_retriever.encoding.images import enable_plugins

    enable_plugins()
    name = "bytes" if isinstance(source, bytes) else str(source)
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as opened:
            opened.draft("RGB", (_OCR_SIDE, _OCR_SIDE))
            picture = ImageOps.exif_transpose(opened).convert("RGB")
    except Exception as exc:  # Pillow raises many kinds: each is the file's problem
        raise ImageLoadError(name, f"cannot be decoded for OCR ({exc})") from exc
    picture.thumbnail((_OCR_SIDE, _OCR_SIDE))
    return picture


def unread_entries(
    skipped: Iterable[IndexedFile], known: KnownFiles, sources: Mapping[str, str]
) -> list[tuple[str, str, OcrState]]:
    """``(id, where to read the file, OCR state)`` of each skipped file's entry (one per entry),
    for :func:`read_older`; ``sources`` maps a path as reported
    to where it is read (:attr:`~siglip_retriever.store.plan.FileFacts.source`)."""
    states = {entry.id: entry.ocr for held in known.values() for entry in held}
    found: dict[str, tuple[str, str, OcrState]] = {}
    for item in skipped:
        if item.id not in found and item.path in sources:
            found[item.id] = (item.id, sources[item.path], states.get(item.id, "unread"))
    return list(found.values())


def read_skipped(
    store: MultimodalStore, report: IndexReport, known: KnownFiles, facts: list[FileFacts], words: WordReader
) -> None:
    """Read the words of the skipped files' entries that no run has read (OCR turned on for a
    store indexed without it), without embedding them again."""
    if not words.on:
        return
    embedded = {item.id for item in report.added + report.updated}
    skipped = [item for item in report.skipped if item.id not in embedded]
    sources = {file.path: file.source for file in facts}
    paths: dict[str, str] = {source: path for path, source in sources.items()}
    failed = report.failed.append
    read_older(
        store,
        unread_entries(skipped, known, sources),
        words,
        on_failure=lambda source, reason: failed(FailedFile(paths.get(source) or source, reason)),
    )


def read_older(
    store: MultimodalStore,
    entries: Iterable[tuple[str, str, OcrState]],
    words: WordReader,
    on_failure: Callable[[str, str], object] | None = None,
) -> int:
    """Read the words of stored pictures that this setting wants read and no run has read, from
    their files, without embedding them again: ``entries`` are ``(id, path, state)`` of unchanged
    image files. Returns how many entries were completed.

    ``auto`` judges an entry it has not judged by its stored vector; ``all`` reads every entry
    not read. A file that cannot be decoded is passed to ``on_failure(path, reason)`` and its
    entry left as it is.
    """
    if not words.on or (words.setting == "auto" and not words.model_tells_text()):
        return 0  # auto with a model it cannot trust reads no picture file, only scanned pages
    wanted = [
        (key, path, state)
        for key, path, state in entries
        if state != "read" and (words.setting == "all" or state == "unread")
    ]
    done = 0
    for start in range(0, len(wanted), words.encoder.batch_size * 8):
        chunk = wanted[start : start + words.encoder.batch_size * 8]
        items = {item.id: item for item in store.get([key for key, _, _ in chunk], include_vectors=True)}
        present = [(key, path) for key, path, _ in chunk if key in items and items[key].vector is not None]
        if not present:
            continue
        vectors = np.stack([items[key].vector for key, _ in present])  # type: ignore[misc]
        ids, metas, read_ids, texts = [], [], [], []
        for (key, path), (read, probability) in zip(present, words.choose(vectors), strict=True):
            meta = words.metadata(False, probability)
            if read:
                try:
                    text = words.read(picture_for_ocr(path))
                except ImageLoadError as exc:
                    if on_failure is not None:
                        on_failure(path, exc.reason)
                    continue
                read_ids.append(key)
                texts.append(text)
                meta = words.metadata(True, probability)
            if meta:
                ids.append(key)
                metas.append(meta)
        store.set_words(read_ids, texts, source="ocr")  # the words first: a crash re-reads
        store.update_metadata(ids, metas)
        done += len(ids)
    return done
