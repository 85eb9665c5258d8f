"""Text inputs made safe for tokenizers, hashes and storage."""

from __future__ import annotations

import re

__all__ = ["encodable_text"]


_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD.

    Python holds the undecodable bytes of a file name (``surrogateescape``) as lone surrogates
    (``"caf\\udce9"``), which no tokenizer accepts and UTF-8 cannot encode.

    Example:
        >>> encodable_text("caf\\udce9") == "caf\\ufffd"
        True
    """
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)
