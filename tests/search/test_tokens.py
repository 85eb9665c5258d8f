"""Words for exact-word search in any language: folding, cutting, and the words as written."""

from __future__ import annotations

import pytest

from siglip_retriever.search.tokens import document_tokens, fold, matched_words, query_tokens, tokens


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("Résultats de l'ÉTÉ", "resultats de l'ete"),
        ("Straße", "strasse"),
        ("ＱＵＡＲＴＡＬ", "quartal"),  # full-width letters
        ("ﬁnance", "finance"),  # a ligature
        ("Ёлка", "елка"),
        ("Tiếng Việt", "tieng viet"),
        ("e\u0301te\u0301", "ete"),  # accents written as combining marks
        ("مُحَمَّد", "محمد"),  # Arabic vowel marks are accents
        ("İstanbul", "istanbul"),
    ],
)
def test_folding_ignores_case_accents_and_compatibility_forms(written: str, folded: str) -> None:
    assert fold(written) == folded


@pytest.mark.parametrize(
    "written",
    ["हिन्दी", "ภาษาไทย", "がっこう", "한국어"],  # vowel signs, Thai vowels, kana voicing, Hangul syllables
)
def test_marks_that_are_letters_stay(written: str) -> None:
    assert fold(written) == written


def test_scripts_without_spaces_are_cut_into_bigrams() -> None:
    assert query_tokens("营业收入") == ["营业", "业收", "收入"]
    assert query_tokens("売上報告書") == ["売上", "上報", "報告", "告書"]
    assert query_tokens("ภาษาไทย")[:2] == ["ภา", "าษ"]
    assert query_tokens("猫") == ["猫"]  # one character is itself
    assert query_tokens("Umsatz 2026 東京") == ["umsatz", "2026", "東京"]


def test_a_document_s_runs_give_their_characters_too() -> None:
    assert document_tokens("黑猫") == ["黑", "黑猫", "猫"]
    assert set(query_tokens("猫")) <= set(document_tokens("一只黑猫"))


def test_a_token_knows_where_it_is_written() -> None:
    text = "Die STRASSE, l'Été"
    assert [(t.text, text[t.start : t.end]) for t in tokens(text)] == [
        ("die", "Die"),
        ("strasse", "STRASSE"),
        ("l", "l"),
        ("ete", "Été"),
    ]
    word = "Maße"
    assert [(t.text, word[t.start : t.end]) for t in tokens(word)] == [("masse", "Maße")]  # ß is ss


def test_matched_words_are_written_as_the_picture_writes_them() -> None:
    text = "Quarterly REVENUE 2026\nRésultats de l'été\n本季度营业收入增长"
    assert matched_words(text, "revenue resultats") == ("REVENUE", "Résultats")
    assert matched_words(text, "营业收入") == ("营业收入",)  # its bigrams, one word again
    assert matched_words(text, "ete revenue") == ("REVENUE", "été")  # in the order written
    assert matched_words(text, "nothing here") == ()
    assert matched_words("Quartal, quartal!", "QUARTAL") == ("Quartal", "quartal")


def test_text_without_words_has_no_tokens() -> None:
    assert query_tokens("  --- !!! ") == [] and document_tokens("") == []
