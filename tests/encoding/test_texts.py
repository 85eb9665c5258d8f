"""Texts (encoding/texts.py) through the encoder and the three framework adapters: odd texts give unit
vectors, no crash; wrong types are InputTypeError (a TypeError) naming the bad item's position.

The property tests at the end: whatever goes into ``encode_texts`` and ``encode_query``, they
raise :class:`InputTypeError` or return unit vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import InputTypeError

ODD_TEXTS = {
    "empty": "",
    "space": " ",
    "whitespace": " \t\n\r\u00a0\u3000 ",
    "10k characters": "a red circle, " * 715,
    "10k without spaces": "x" * 10_000,
    "latin": "Ünïcödé façade, smørrebrød, Ærøskøbing",
    "greek": "ένας κόκκινος κύκλος",
    "cyrillic": "красный круг",
    "arabic (rtl)": "دائرة حمراء",
    "hebrew (rtl)": "עיגול אדום",
    "devanagari": "एक लाल वृत्त",
    "thai": "วงกลมสีแดง",
    "chinese": "一个红色的圆形",
    "japanese": "赤い丸",
    "korean": "빨간 원",
    "tamil": "சிவப்பு வட்டம்",
    "georgian": "წითელი წრე",
    "ethiopic": "ቀይ ክብ",
    "runic and hieroglyphs (outside the BMP)": "ᚱᚢᚾ 𓀀𓁐 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "emoji": "🐱🔴⭕ 👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽",
    "combining marks": "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "control characters": "\x00\x01\x07\x08\x1b[31mred\x1b[0m\x7f\x85",
    "zero-width and bidi controls": "\u200b\u200c\u200d\u2060\ufeff\u202e\u2066red\u2069",
    "private use and noncharacters": "\ue000\uf8ff\ufdd0\ufffe\U0010ffff",
    "lone surrogates": "caf\udce9 \ud800",
    "replacement character": "\ufffd\ufffd",
    "html and markdown": "<b>red</b> **circle** [x](http://e.com)",
}


def _check(vectors: Any, count: int, dim: int) -> None:
    array = np.asarray(vectors, dtype=np.float64)
    assert array.shape == (count, dim)
    assert np.isfinite(array).all()
    np.testing.assert_allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-4)


@pytest.fixture(scope="module")
def adapters(tiny_encoder: SiglipEncoder) -> dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]]:
    """name -> (embed a list of texts, embed one query) for the encoder and every adapter."""
    from siglip_retriever.integrations.chroma import SiglipEmbeddingFunction
    from siglip_retriever.integrations.langchain import SiglipEmbeddings
    from siglip_retriever.integrations.llama_index import SiglipEmbedding

    langchain = SiglipEmbeddings(encoder=tiny_encoder)
    llama = SiglipEmbedding(encoder=tiny_encoder)
    chroma = SiglipEmbeddingFunction(encoder=tiny_encoder)
    return {
        "encoder": (tiny_encoder.encode_texts, tiny_encoder.encode_query),
        "langchain": (langchain.embed_documents, langchain.embed_query),
        "llama_index": (llama.get_text_embedding_batch, llama.get_query_embedding),
        "chroma": (chroma, lambda text: chroma.embed_query([text])[0]),
    }


ADAPTERS = ["encoder", "langchain", "llama_index", "chroma"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_odd_texts_give_unit_vectors(
    adapters: dict[str, Any], tiny_encoder: SiglipEncoder, adapter: str
) -> None:
    embed_texts, embed_query = adapters[adapter]
    texts = list(ODD_TEXTS.values())
    _check(embed_texts(texts), len(texts), tiny_encoder.dim)
    for name, text in ODD_TEXTS.items():
        vector = embed_query(text)
        _check([vector], 1, tiny_encoder.dim)
        # a query and a document of the same text are the same vector
        np.testing.assert_allclose(vector, tiny_encoder.encode_texts([text])[0], atol=1e-5, err_msg=name)


def test_empty_text_is_an_ordinary_vector(tiny_encoder: SiglipEncoder) -> None:
    """Documented: an empty text is encoded (only padding goes into the model), not refused."""
    vectors = tiny_encoder.encode_texts(["", "", "a red circle"])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)
    assert float(vectors[0] @ vectors[2]) < 0.9999  # not the vector of every other text


def test_lone_surrogates_become_replacement_characters(tiny_encoder: SiglipEncoder) -> None:
    vectors = tiny_encoder.encode_texts(["caf\udce9", "caf\ufffd"])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


def test_long_text_is_truncated_not_refused(tiny_encoder: SiglipEncoder) -> None:
    head = "a red circle " * tiny_encoder.text_length
    vectors = tiny_encoder.encode_texts([head, head + "and then a lot more " * 500])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


BAD_ITEMS = [None, 42, 3.5, b"bytes", ["nested"], {"a": 1}, object()]


@pytest.mark.parametrize("bad", BAD_ITEMS, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_non_strings_name_their_position(adapters: dict[str, Any], adapter: str, bad: object) -> None:
    embed_texts, embed_query = adapters[adapter]
    with pytest.raises(TypeError, match=rf"\b2 is {type(bad).__name__}\b") as info:
        embed_texts(["fine", "also fine", bad, "fine again"])
    assert isinstance(info.value, InputTypeError)
    with pytest.raises(InputTypeError, match=type(bad).__name__):
        embed_query(bad)


def test_single_string_instead_of_list(tiny_encoder: SiglipEncoder) -> None:
    with pytest.raises(InputTypeError, match="not one string"):
        tiny_encoder.encode_texts("a red circle")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="expected a list of strings, got NoneType"):
        tiny_encoder.encode_texts(None)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="expected a list of strings, got int"):
        tiny_encoder.encode_texts(7)  # type: ignore[arg-type]


# -- properties ---------------------------------------------------------------------------------

TEXT_ITEMS = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Cf", "Zs", "So", "Mn"]), max_size=40),
    st.sampled_from(["", " ", "\n", "\x00", "a" * 10_000]),
)
NOT_TEXTS = st.one_of(
    st.none(), st.integers(), st.floats(), st.binary(max_size=5), st.lists(st.text(max_size=3), max_size=2)
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(TEXT_ITEMS, NOT_TEXTS), max_size=5))
def test_encode_texts_any_list(tiny_encoder: SiglipEncoder, items: list[Any]) -> None:
    bad = [i for i, item in enumerate(items) if not isinstance(item, str)]
    if bad:
        with pytest.raises(InputTypeError, match=rf"text {bad[0]} is "):
            tiny_encoder.encode_texts(items)
        return
    vectors = tiny_encoder.encode_texts(items)
    assert vectors.shape == (len(items), tiny_encoder.dim)
    assert np.isfinite(vectors).all()
    if items:
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(TEXT_ITEMS, NOT_TEXTS))
def test_encode_query_any_value(tiny_encoder: SiglipEncoder, value: Any) -> None:
    if not isinstance(value, str):
        with pytest.raises(InputTypeError, match="a query must be a str"):
            tiny_encoder.encode_query(value)
        return
    vector = tiny_encoder.encode_query(value)
    assert vector.shape == (tiny_encoder.dim,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
