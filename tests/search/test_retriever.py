"""Retriever (search/retriever.py): text->images, image->images, image->texts, thresholds and
probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.encoding.encoder import SiglipEncoder
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
    vectors = [item.vector for item in store.get(ids=[h.id for h in hits], include_vectors=True)]
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


def test_default_thresholds_apply_to_their_own_direction_only(store: MultimodalStore) -> None:
    # a Retriever made for strict text search still finds similar images, and the reverse
    strict = Retriever(store, k=3, min_probability=1.0, min_similarity=-1.0)
    assert strict.text_to_images("a red square") == []
    assert len(strict.image_to_images(Image.new("RGB", (32, 32), "red"))) == 3
    similar_only = Retriever(store, k=3, min_similarity=1.0)
    assert len(similar_only.text_to_images("a red square")) == 3


def test_min_probability_on_a_clip_store_is_a_clear_error(tiny_clip_dir: Path) -> None:
    clip_store = MultimodalStore.in_memory(model=tiny_clip_dir, device="cpu")
    clip_store.add_images([Image.new("RGB", (32, 32), "red")])
    hits = Retriever(clip_store).text_to_images("a red square")
    assert len(hits) == 1 and hits[0].probability is None
    with pytest.raises(ConfigurationError, match="min_probability needs a sigmoid"):
        Retriever(clip_store).text_to_images("a red square", min_probability=0.5)
    with pytest.raises(ConfigurationError, match="min_probability needs a sigmoid"):
        Retriever(clip_store, min_probability=0.5).image_to_texts(Image.new("RGB", (32, 32), "red"))


def test_repeated_queries_are_answered_from_the_cache_until_a_write(
    tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MultimodalStore(tmp_path / "db", encoder=tiny_encoder)
    store.add_images([Image.new("RGB", (32, 32), c) for c in ("red", "blue")])
    assert store.sole_writer  # the embedded store holds its directory's lock
    asked: list[int] = []
    real_query = store.query

    def counting_query(*args: object, **kwargs: object) -> object:
        asked.append(1)
        return real_query(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "query", counting_query)
    counted: list[int] = []
    real_count = store.words_count

    def counting_words_count() -> int:
        counted.append(1)
        return real_count()

    monkeypatch.setattr(store, "words_count", counting_words_count)
    retriever = Retriever(store, k=2)
    first = retriever.text_to_images("a red square")
    again = retriever.text_to_images("a red square")
    assert again == first and len(asked) == 1
    assert len(counted) == 1  # whether the store holds words: asked once per generation
    assert again is not first  # a copy: changing the list does not change the cache
    again.clear()
    assert retriever.text_to_images("a red square") == first
    # another k, filter or threshold is another search
    retriever.text_to_images("a red square", k=1)
    retriever.text_to_images("a red square", where={"kind": "image"})
    retriever.text_to_images("a red square", min_probability=0.0)
    assert len(asked) == 4
    # a write through the store: the next search asks chromadb and sees the new entry
    store.add_images([Image.new("RGB", (32, 32), "green")])
    after = retriever.text_to_images("a red square", k=3)
    assert len(after) == 3 and len(asked) == 5
    store.delete(ids=[after[0].id])
    assert len(retriever.text_to_images("a red square", k=3)) == 2
    # turned off, every search asks
    uncached = Retriever(store, k=2, cache_size=0)
    uncached.text_to_images("a red square")
    uncached.text_to_images("a red square")
    assert len(asked) == 8
    with pytest.raises(ConfigurationError, match="cache_size"):
        Retriever(store, cache_size=-1)
    store.close()


def test_stores_other_writers_can_change_are_not_cached(tiny_encoder: SiglipEncoder) -> None:
    # a named in-memory collection is shared by every store object of this process that names it
    one = MultimodalStore.in_memory(encoder=tiny_encoder, collection="shared-cache-test")
    two = MultimodalStore.in_memory(encoder=tiny_encoder, collection="shared-cache-test")
    assert not one.sole_writer and MultimodalStore.in_memory(encoder=tiny_encoder).sole_writer
    retriever = Retriever(one, k=5)
    assert retriever.text_to_images("a red square") == []
    two.add_images([Image.new("RGB", (32, 32), "red")])
    assert len(retriever.text_to_images("a red square")) == 1
