"""Retriever: text->images, image->images, image->texts, thresholds and probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, InputTypeError


@pytest.fixture
def store(tiny_encoder: SiglipEncoder, tmp_path: Path) -> MultimodalStore:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(8):
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.png")
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection=f"retrieval_{tmp_path.name}")
    store.index_folder(folder)
    store.add_images([Image.new("RGB", (32, 32), "red")], metadatas=[{"colour": "red"}])
    store.add_texts(
        ["a red square", "un carré bleu", "ein grüner Kreis"], metadatas=[{"lang": lang} for lang in "efg"]
    )
    return store


def test_text_to_images_probabilities_match_the_encoder(store: MultimodalStore) -> None:
    hits = Retriever(store, k=5).text_to_images("a red square")
    assert len(hits) == 5
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(h.kind == "image" for h in hits)
    assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
    query = store.encoder.encode_texts(["a red square"])
    _, vectors = store.get(ids=[h.id for h in hits], include_vectors=True)  # type: ignore[misc]
    expected = store.encoder.probabilities(query, vectors)[0]
    np.testing.assert_allclose([h.probability for h in hits], expected, rtol=1e-4, atol=1e-9)
    assert all(h.score == h.probability for h in hits)
    file_hit = next(h for h in hits if h.uri is not None)
    assert Path(file_hit.uri).exists()  # type: ignore[arg-type]
    assert file_hit.to_dict()["uri"] == file_hit.uri


def test_min_probability_can_leave_nothing(store: MultimodalStore) -> None:
    retriever = Retriever(store, k=9)
    everything = retriever.text_to_images("a red square")
    assert len(everything) == 9
    best = everything[0].probability
    assert best is not None
    assert len(retriever.text_to_images("a red square", min_probability=best)) >= 1
    assert retriever.text_to_images("a red square", min_probability=min(1.0, best * 1.5 + 1e-6)) == []
    strict = Retriever(store, k=9, min_probability=1.0)
    assert strict.text_to_images("a red square") == []


def test_where_filters(store: MultimodalStore) -> None:
    retriever = Retriever(store, k=10)
    hits = retriever.text_to_images("anything", where={"colour": "red"})
    assert [h.metadata["colour"] for h in hits] == ["red"]
    texts = retriever.image_to_texts(Image.new("RGB", (32, 32), "red"), where={"lang": "f"})
    assert [h.text for h in texts] == ["un carré bleu"]


def test_image_to_texts(store: MultimodalStore) -> None:
    hits = Retriever(store, k=3).image_to_texts(Image.new("RGB", (32, 32), "red"))
    assert sorted(h.text for h in hits) == sorted(["a red square", "un carré bleu", "ein grüner Kreis"])  # type: ignore[type-var]
    assert all(h.kind == "text" and h.probability is not None for h in hits)


def test_image_to_images_excludes_itself(store: MultimodalStore, tmp_path: Path) -> None:
    query = tmp_path / "imgs" / "img3.png"
    hits = Retriever(store, k=3).image_to_images(query)
    assert len(hits) == 3
    assert all(h.uri != str(query.resolve()) for h in hits)
    assert all(h.probability is None and h.score == h.similarity for h in hits)
    with_self = Retriever(store, k=3).image_to_images(query, exclude_self=False)
    assert with_self[0].uri == str(query.resolve())
    assert with_self[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert Retriever(store).image_to_images(query, min_similarity=1.0) == []
    # search() dispatches on the query's kind
    assert Retriever(store, k=2).search(str(query))[0].kind == "image"
    assert Retriever(store, k=2).search("a red square")[0].probability is not None


def test_bad_arguments(store: MultimodalStore) -> None:
    retriever = Retriever(store)
    with pytest.raises(ConfigurationError, match="empty"):
        retriever.text_to_images("   ")
    with pytest.raises(InputTypeError):
        retriever.text_to_images(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="k must be"):
        retriever.text_to_images("x", k=0)
    with pytest.raises(ConfigurationError, match="min_probability"):
        retriever.text_to_images("x", min_probability=1.5)
    with pytest.raises(ConfigurationError, match="min_similarity"):
        Retriever(store, min_similarity=-2)


def test_empty_store_finds_nothing(tiny_encoder: SiglipEncoder) -> None:
    empty = MultimodalStore.in_memory(encoder=tiny_encoder, collection="empty")
    assert Retriever(empty).text_to_images("a red square") == []
