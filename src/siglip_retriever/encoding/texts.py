"""Text inputs made safe for tokenizers, hashes and storage."""

from __future__ import annotations

import re

from siglip_retriever.errors import InputTypeError

__all__ = ["encodable_text", "text_list"]


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


def text_list(texts: object, *, what: str = "encode_texts", hint: str = "") -> list[str]:
    """``texts`` as a list, after checking that it is a list of strings.

    Raises:
        InputTypeError: ``texts`` is one string, not iterable, or holds a non-string; the message
            names the position.

    Example:
        >>> text_list(("a", "b"))
        ['a', 'b']
        >>> text_list([1])
        Traceback (most recent call last):
        ...
        siglip_retriever.errors.InputTypeError: text 0 is int, not str; pass only strings
    """
    if isinstance(texts, str):
        raise InputTypeError(f"{what} takes a list of strings, not one string; wrap it in a list{hint}")
    try:
        result = list(texts)  # type: ignore[call-overload]
    except TypeError:
        raise InputTypeError(f"expected a list of strings, got {type(texts).__name__}") from None
    for i, text in enumerate(result):
        if not isinstance(text, str):
            raise InputTypeError(f"text {i} is {type(text).__name__}, not str; pass only strings")
    return result
