"""The words in a picture: reading them (OCR), and its lines of text with their boxes and confidences.

:class:`PictureText` is what a picture says, whether OCR read it (:class:`OcrReader`) or a PDF's
text layer gave it; :class:`TextLine` is one line of it. Both are plain frozen dataclasses that
travel to the store as compact JSON (:meth:`PictureText.to_json`, :meth:`PictureText.from_json`).

:class:`OcrReader` reads them with ``rapidocr`` (the ``ocr`` extra): PP-OCR detection and
recognition models shipped inside its wheel, run by ONNX Runtime, offline. rapidocr is imported
and its models loaded on the first read, not before.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError, MissingDependencyError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["OcrReader", "PictureText", "TextLine"]


@dataclass(frozen=True)
class TextLine:
    """One line of text in a picture.

    Attributes:
        text: the line's words, as read.
        box: the corners ``(x, y)`` of the line's box in the picture's pixels (four, clockwise
            from the top left, for OCR and text layers alike).
        confidence: how sure the reader is of the line, from 0 to 1 (1 for a PDF's text layer).

    Example:
        >>> line = TextLine("Hello", ((0, 0), (50, 0), (50, 12), (0, 12)), 0.98)
        >>> line.text
        'Hello'
    """

    text: str
    box: tuple[tuple[float, float], ...]
    confidence: float


@dataclass(frozen=True)
class PictureText:
    """What a picture says: its lines, and the engine that read them.

    Attributes:
        lines: the lines in reading order.
        engine: what read them, with its version and models (``"rapidocr 3.10.0 (...)"``), or
            ``"pdf text layer"`` for the text a PDF page carries.

    Example:
        >>> words = PictureText(
        ...     (TextLine("Quarterly revenue 2026", ((10, 5), (200, 5), (200, 30), (10, 30)), 0.9912),),
        ...     "pdf text layer",
        ... )
        >>> words.text
        'Quarterly revenue 2026'
        >>> import json
        >>> json.loads(words.to_json())["lines"][0]["box"]
        [[10, 5], [200, 5], [200, 30], [10, 30]]
        >>> PictureText.from_json(words.to_json()).lines[0].confidence
        0.991
    """

    lines: tuple[TextLine, ...]
    engine: str

    @property
    def text(self) -> str:
        """The lines' text joined with newlines (``""`` when the picture says nothing)."""
        return "\n".join(line.text for line in self.lines)

    def to_json(self) -> str:
        """Compact JSON of the engine and the lines: boxes rounded to whole pixels, confidences to
        three digits (what the store keeps)."""
        lines = [
            {
                "text": line.text,
                "box": [[round(x), round(y)] for x, y in line.box],
                "confidence": round(float(line.confidence), 3),
            }
            for line in self.lines
        ]
        return json.dumps({"engine": self.engine, "lines": lines}, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str) -> PictureText:
        """The :class:`PictureText` that :meth:`to_json` wrote."""
        parsed = json.loads(data)
        lines = tuple(
            TextLine(
                str(line["text"]),
                tuple((float(x), float(y)) for x, y in line["box"]),
                float(line["confidence"]),
            )
            for line in parsed["lines"]
        )
        return cls(lines, str(parsed["engine"]))


class OcrReader:
    """Reads the words in a picture (rapidocr, PP-OCR models shipped in its wheel, offline).

    rapidocr is imported and its models loaded on the first :meth:`read` (or :attr:`engine`), so
    making a reader costs nothing. One reader may be shared by threads: reads take turns (ONNX
    Runtime already spreads one read over the cores). rapidocr's INFO logging is silenced; its
    warnings still show.

    Lines without a letter or a digit are left out: the models read a round shape as "●" and a
    star as "★" in photos without any text.

    Args:
        min_confidence: lines read with a lower confidence (0 to 1) are left out.

    Raises:
        ConfigurationError: ``min_confidence`` outside 0..1.
        MissingDependencyError: on the first read, when rapidocr (the ``ocr`` extra) is missing.

    Example:
        >>> from PIL import Image, ImageDraw
        >>> slide = Image.new("RGB", (480, 120), "white")
        >>> ImageDraw.Draw(slide).text((20, 40), "Quarterly revenue 2026", fill="black", font_size=32)
        >>> reader = OcrReader()
        >>> reader.read(slide).text
        'Quarterly revenue 2026'
    """

    def __init__(self, *, min_confidence: float = 0.5) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigurationError(f"min_confidence must be between 0 and 1, not {min_confidence}")
        self.min_confidence = min_confidence
        self._lock = threading.Lock()
        self._ocr: Any = None
        self._engine = ""

    @property
    def engine(self) -> str:
        """What reads: rapidocr's version and its detection and recognition models, e.g.
        ``"rapidocr 3.10.0 (PP-OCRv6 det small, rec small)"`` (loads rapidocr when not yet)."""
        self._load()
        return self._engine

    def read(self, picture: Image.Image) -> PictureText:
        """The lines of text in ``picture``, in rapidocr's reading order (top to bottom), with
        their boxes in the picture's pixels; no lines when it says nothing."""
        ocr = self._load()
        rgb = picture if picture.mode == "RGB" else picture.convert("RGB")
        with self._lock:
            result = ocr(rgb)
        texts = getattr(result, "txts", None) or ()
        scores = getattr(result, "scores", None) or ()
        boxes = getattr(result, "boxes", None)
        lines = tuple(
            TextLine(text.strip(), tuple((float(x), float(y)) for x, y in box), float(score))
            for text, score, box in zip(texts, scores, boxes if boxes is not None else (), strict=False)
            if score >= self.min_confidence and any(char.isalnum() for char in text)
        )
        return PictureText(lines, self._engine)

    def _load(self) -> Any:
        with self._lock:
            if self._ocr is None:
                self._ocr, self._engine = _load_rapidocr(self.min_confidence)
            return self._ocr


def _load_rapidocr(min_confidence: float) -> tuple[Any, str]:
    """rapidocr's engine, quiet, and the name of what it runs."""
    try:
        import rapidocr
    except ImportError as exc:
        raise MissingDependencyError("rapidocr", "ocr", "Reading the words in pictures") from exc
    from importlib.metadata import version

    # rapidocr sets its logger ("RapidOCR") to this level, and logs at INFO on every model load
    ocr = rapidocr.RapidOCR(params={"Global.log_level": "warning", "Global.text_score": min_confidence})
    det, rec = _model(ocr.cfg.Det), _model(ocr.cfg.Rec)
    rec_version = "" if rec[0] == det[0] else f"{rec[0]} "
    return ocr, f"rapidocr {version('rapidocr')} ({det[0]} det {det[1]}, {rec_version}rec {rec[1]})"


def _model(section: Any) -> tuple[str, str]:
    """The version and size of a model in rapidocr's config (enums there), as text."""
    version, size = section["ocr_version"], section["model_type"]
    return str(getattr(version, "value", version)), str(getattr(size, "value", size))
