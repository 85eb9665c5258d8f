"""The words in a picture: its lines of text with their boxes and confidences, and how they were read.

:class:`PictureText` is what a picture says, whether OCR read it (:class:`OcrReader`) or a PDF's
text layer gave it; :class:`TextLine` is one line of it. Both are plain frozen dataclasses that
travel to the store as compact JSON (:meth:`PictureText.to_json`, :meth:`PictureText.from_json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["PictureText", "TextLine"]


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
