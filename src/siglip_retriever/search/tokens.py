"""Words for exact-word search, in any language: text folded and cut into tokens, with where each
token sits in the text as written.

Folding makes matching case- and accent-insensitive: every character is case-folded
(``str.casefold``: ``ß`` is ``ss``), decomposed (NFKD: the ligature ``ﬁ`` is ``fi``, full-width
``Ａ`` is ``A``) and stripped of the accents of alphabets that write them as marks (Latin, Greek,
Cyrillic, Armenian, Hebrew, Arabic: ``é`` is ``e``, ``й`` is ``и``), then recomposed (NFC, so
Hangul syllables stay syllables). Marks that are letters' vowels (Devanagari, Thai, the kana
voicing marks) are kept.

Cutting: scripts that put spaces between words are cut into words (runs of letters, digits and
their marks). Scripts written without spaces (Han, Hiragana, Katakana, Hangul, Thai, Lao, Khmer,
Myanmar) are cut into overlapping character bigrams, as Lucene's ``CJKBigramFilter`` cuts them, so
that a word of any length is found inside a longer run without a dictionary; a document's runs
also give their single characters (:func:`document_tokens`), so a one-character query finds them.

Each :class:`Token` keeps its span in the text as written, so that the words a query matched can
be shown as the picture writes them (:func:`matched_words`).

Example:
    >>> from siglip_retriever.search.tokens import fold, matched_words, query_tokens
    >>> fold("Chiffre d'Affaires Été")
    "chiffre d'affaires ete"
    >>> query_tokens("营业收入 Straße")
    ['营业', '业收', '收入', 'strasse']
    >>> matched_words("Umsatz pro QUARTAL\\n本季度营业收入增长", "quartal 营业收入")
    ('QUARTAL', '营业收入')
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass

__all__ = ["Token", "document_tokens", "fold", "matched_words", "query_tokens", "tokens"]

# scripts written without spaces between words: cut into character bigrams
_UNSPACED: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables, jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFFDC),  # half-width Katakana and Hangul
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)
_ACCENTED_BELOW = 0x0800  # marks on Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic letters are accents
_ACCENTED_EXTRA = (0x1E00, 0x1FFF)  # Latin extended additional (Vietnamese), Greek extended


@dataclass(frozen=True)
class Token:
    """One token of a text: its folded form and its span in the text as written.

    Attributes:
        text: the folded token (what is matched).
        start: index of its first character in the text as written.
        end: index after its last character.

    Example:
        >>> from siglip_retriever.search.tokens import tokens
        >>> tokens("Ça va")[0]
        Token(text='ca', start=0, end=2)
    """

    text: str
    start: int
    end: int


def fold(text: str) -> str:
    """``text`` case-folded, with accents stripped and compatibility forms unified (see the
    module's docstring).

    Example:
        >>> from siglip_retriever.search.tokens import fold
        >>> fold("ＱＵＡＲＴＡＬ Ёлка ﬁn")
        'quartal елка fin'
    """
    return "".join(_folded(text)[0])


def _folded(text: str) -> tuple[list[str], list[int]]:
    """The folded characters of ``text`` and, for each, the index of the character written."""
    chars: list[str] = []
    origin: list[int] = []
    base = 0  # the code point of the last letter that is not a mark
    for index, char in enumerate(text):
        pieces = []
        for part in unicodedata.normalize("NFKD", char.casefold()):
            if unicodedata.combining(part) and _is_accent(base):
                continue
            if not unicodedata.combining(part):
                base = ord(part)
            pieces.append(part)
        for part in unicodedata.normalize("NFC", "".join(pieces)):
            chars.append(part)
            origin.append(index)
    return chars, origin


def _is_accent(base: int) -> bool:
    return base < _ACCENTED_BELOW or _ACCENTED_EXTRA[0] <= base <= _ACCENTED_EXTRA[1]


def _unspaced(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSPACED)


def _word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def _runs(chars: list[str]) -> Iterable[tuple[bool, int, int]]:
    """``(unspaced, start, end)`` of each run of word characters in folded ``chars``."""
    start = None
    unspaced = False
    for index, char in enumerate([*chars, " "]):
        is_word = _word_char(char)
        kind = _unspaced(char) if is_word else False
        if start is not None and is_word and unicodedata.combining(char):
            continue  # a mark belongs to the run of its letter
        if start is not None and (not is_word or kind != unspaced):
            yield unspaced, start, index
            start = None
        if is_word and start is None:
            start, unspaced = index, kind


def _units(chars: list[str], start: int, end: int) -> list[tuple[int, int]]:
    """The characters of an unspaced run, each with the marks that follow it."""
    units: list[tuple[int, int]] = []
    for index in range(start, end):
        if units and unicodedata.combining(chars[index]):
            units[-1] = (units[-1][0], index + 1)
        else:
            units.append((index, index + 1))
    return units


def _tokens(text: str, *, unigrams: bool) -> list[Token]:
    chars, origin = _folded(text)

    def token(start: int, end: int) -> Token:
        return Token("".join(chars[start:end]), origin[start], origin[end - 1] + 1)

    found: list[Token] = []
    for unspaced, start, end in _runs(chars):
        if not unspaced:
            found.append(token(start, end))
            continue
        units = _units(chars, start, end)
        if len(units) == 1 or unigrams:
            found += [token(a, b) for a, b in units]
        found += [token(first[0], second[1]) for first, second in itertools.pairwise(units)]
    return sorted(found, key=lambda item: (item.start, item.end))


def tokens(text: str) -> list[Token]:
    """The tokens of ``text`` as a query cuts it: words, and bigrams of unspaced runs (a run of
    one character is that character), in the order written.

    Example:
        >>> from siglip_retriever.search.tokens import tokens
        >>> [token.text for token in tokens("Ärger im 東京都")]
        ['arger', 'im', '東京', '京都']
    """
    return _tokens(text, unigrams=False)


def query_tokens(text: str) -> list[str]:
    """The folded tokens of a query, in order (repeats kept: BM25 counts them)."""
    return [token.text for token in tokens(text)]


def document_tokens(text: str) -> list[str]:
    """The folded tokens of a text to be searched: a query's tokens and, for unspaced runs, their
    single characters too (so that a one-character query finds them).

    Example:
        >>> from siglip_retriever.search.tokens import document_tokens
        >>> document_tokens("黑猫 cat")
        ['黑', '黑猫', '猫', 'cat']
    """
    return [token.text for token in _tokens(text, unigrams=True)]


def matched_words(text: str, query: str | Collection[str]) -> tuple[str, ...]:
    """The words of ``text`` that a query matched, as ``text`` writes them, in the order written,
    each once; the bigrams of an unspaced run that match one after another are one word.

    Args:
        text: the text searched (a picture's words).
        query: the query, or its folded tokens.

    Example:
        >>> from siglip_retriever.search.tokens import matched_words
        >>> matched_words("Chiffre d'affaires\\nUMSATZ pro Quartal", "umsatz CHIFFRE")
        ('Chiffre', 'UMSATZ')
    """
    wanted = set(query_tokens(query) if isinstance(query, str) else query)
    spans: list[list[int]] = []
    for token in _tokens(text, unigrams=True):
        if token.text not in wanted:
            continue
        if spans and token.start < spans[-1][1]:  # overlapping bigrams: one word
            spans[-1][1] = max(spans[-1][1], token.end)
        else:
            spans.append([token.start, token.end])
    return tuple(dict.fromkeys(text[start:end] for start, end in spans))
