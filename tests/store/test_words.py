"""The words of pictures in the store (store/words.py): a second chromadb collection beside the
store's, on real chromadb (in memory, embedded on disk, a real Chroma server)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.ocr import PictureText, TextLine
from siglip_retriever.errors import ConfigurationError, InputTypeError
from siglip_retriever.store.words import words_collection_name

BOX = ((0.0, 0.0), (120.0, 0.0), (120.0, 20.0), (0.0, 20.0))


def said(*lines: str, engine: str = "rapidocr 3.10.0 (test)", confidence: float = 0.9) -> PictureText:
    return PictureText(tuple(TextLine(line, BOX, confidence) for line in lines), engine)


def _pictures(store: MultimodalStore, colours: tuple[str, ...] = ("red", "green", "blue")) -> list[str]:
    return store.add_images([Image.new("RGB", (32, 32), colour) for colour in colours])


def test_set_words_round_trip(tiny_encoder: SiglipEncoder) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    red, green, blue = _pictures(store)
    store.set_words(
        [red, green], [said("Quarterly revenue 2026", "Umsatz pro Quartal"), said("季度收入")], source="ocr"
    )
    assert store.words_count() == 2
    found = store.words([red, green, blue, "img-missing"])
    assert set(found) == {red, green}  # entries without words are left out
    assert found[red].text == "Quarterly revenue 2026\nUmsatz pro Quartal"
    assert found[red].engine == "rapidocr 3.10.0 (test)"
    assert found[red].lines[0].box == BOX and found[red].lines[0].confidence == 0.9
    assert dict(store.iter_words()) == {red: found[red].text, green: "季度收入"}
    # the words' own metadata: engine, lines, source, mean confidence
    words = store.client.get_collection(words_collection_name(store.collection_name))
    meta = words.get(ids=[red], include=["metadatas"])["metadatas"][0]
    assert meta["source"] == "ocr" and meta["engine"] == "rapidocr 3.10.0 (test)"
    assert meta["confidence"] == pytest.approx(0.9)
    assert PictureText.from_json(meta["lines"]) == found[red]
    # the store's own collection is unchanged: one entry a picture, no words in it
    assert store.count() == 3 and store.get([red])[0].text is None


def test_words_are_embedded_by_the_text_tower(tiny_encoder: SiglipEncoder) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    ids = _pictures(store)
    texts = ["Quarterly revenue", "un cercle rouge", "Привет мир"]
    store.set_words(ids, [said(t) for t in texts], source="pdf")
    words = store.client.get_collection(words_collection_name(store.collection_name))
    stored = words.get(ids=ids, include=["embeddings"])
    vectors = dict(zip(stored["ids"], stored["embeddings"], strict=True))
    expected = tiny_encoder.encode_texts(texts)
    for key, vector in zip(ids, expected, strict=True):
        np.testing.assert_allclose(vectors[key], vector, atol=1e-5)
    for key, text in zip(ids, texts, strict=True):
        hits = store.query_words(tiny_encoder.encode_query(text), k=2)
        assert hits[0][0] == key and hits[0][1] == pytest.approx(1.0, abs=1e-4)
        assert len(hits) == 2 and hits[0][1] >= hits[1][1]
    assert [key for key, _ in store.query_words(expected[0], k=10)] != []  # k above the count is fine
    assert len(store.query_words(expected[0], k=10)) == 3
    only_pdf = store.query_words(expected[1], k=3, where={"source": "pdf"})
    assert only_pdf[0][0] == ids[1]
    assert store.query_words(expected[1], k=3, where={"source": "ocr"}) == []


def test_empty_text_deletes_words_and_the_last_of_an_id_wins(tiny_encoder: SiglipEncoder) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    red, green, _ = _pictures(store)
    store.set_words([red, green], [said("first"), said("kept")], source="ocr")
    store.set_words([red], [PictureText((), "rapidocr")], source="ocr")
    assert store.words([red, green]).keys() == {green}
    store.set_words([green, green], [said("one"), said("two")], source="ocr")
    assert store.words([green])[green].text == "two"
    store.set_words([green], [said("   ")], source="ocr")  # blank is empty too
    assert store.words_count() == 0
    assert store.query_words(tiny_encoder.encode_query("kept"), k=3) == []


def test_deleting_entries_deletes_their_words(tiny_encoder: SiglipEncoder) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    red, green, blue = store.add_images(
        [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")],
        metadatas=[{"album": "a"}, {"album": "b"}, {"album": "b"}],
    )
    store.set_words([red, green, blue], [said("r"), said("g"), said("b")], source="ocr")
    store.delete(ids=[red])
    assert set(store.words([red, green, blue])) == {green, blue}
    store.delete(where={"album": "b"})
    assert store.words_count() == 0 and store.count() == 0
    again = _pictures(store)
    store.set_words(again, [said("x"), said("y"), said("z")], source="ocr")
    store.add_texts(["a caption"])
    store.delete(where={})
    assert store.count() == 0 and store.words_count() == 0


def test_generation_moves_on_writes_to_the_words(tiny_encoder: SiglipEncoder) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    (red,) = _pictures(store, ("red",))
    before = store.generation
    store.set_words([red], [said("words")], source="ocr")
    assert store.generation > before
    before = store.generation
    store.words([red]), store.words_count(), list(store.iter_words())
    store.query_words(tiny_encoder.encode_query("words"), k=1)
    assert store.generation == before  # reads do not move it
    store.set_words([red], [said("")], source="ocr")
    assert store.generation > before


def test_bad_arguments_are_clear_errors(tiny_encoder: SiglipEncoder) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    with pytest.raises(ConfigurationError, match="2 texts for 1 entry ids"):
        store.set_words(["img-1"], [said("a"), said("b")], source="ocr")
    with pytest.raises(ConfigurationError, match="source must be one of ocr, pdf"):
        store.set_words(["img-1"], [said("a")], source="scan")
    with pytest.raises(InputTypeError, match="list of entry ids"):
        store.set_words("img-1", [said("a")], source="ocr")
    with pytest.raises(ConfigurationError, match="k must be a positive integer"):
        store.query_words(tiny_encoder.encode_query("a"), k=0)
    with pytest.raises(ConfigurationError, match="query vector has 3 values"):
        store.query_words([0.1, 0.2, 0.3], k=1)


def test_words_collection_uses_the_siglip_embedding_function(tiny_encoder: SiglipEncoder) -> None:
    """Never chromadb's default one (it downloads a model): queries by text go through SigLIP."""
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    (red,) = _pictures(store, ("red",))
    store.set_words([red], [said("un cercle rouge")], source="ocr")
    words = store.client.get_collection(words_collection_name(store.collection_name))
    assert words.configuration["embedding_function"].name() == "siglip_retriever"
    assert words.configuration["hnsw"]["space"] == "cosine"
    assert words.metadata["siglip_model"] == store.model_name
    found = words.query(query_texts=["un cercle rouge"], n_results=1, include=["distances"])
    assert found["ids"][0] == [red] and found["distances"][0][0] == pytest.approx(0.0, abs=1e-4)


def test_embedded_store_keeps_words_and_the_ocr_setting(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    with MultimodalStore(tmp_path / "db", encoder=tiny_encoder) as store:
        (red,) = _pictures(store, ("red",))
        store.set_words([red], [said("Rechnung Nr. 42")], source="ocr")
        assert store.ocr_setting is None
        store.remember_ocr("all")
        assert store.ocr_setting == "all"
    with MultimodalStore(tmp_path / "db", device="cpu") as again:
        assert again.words([red])[red].text == "Rechnung Nr. 42"
        assert again.ocr_setting == "all"
        assert again.collection.metadata["siglip_model"] == again.model_name  # the record kept
        again.remember_ocr("off")
    with MultimodalStore(tmp_path / "db", device="cpu") as third:
        assert third.ocr_setting == "off" and third.words_count() == 1


def test_server_store_keeps_words(chroma_server: tuple[str, int], tiny_encoder: SiglipEncoder) -> None:
    host, port = chroma_server
    store = MultimodalStore.connect(host, port, encoder=tiny_encoder, collection="words_test")
    red, green = _pictures(store, ("red", "green"))
    store.set_words([red, green], [said("Quarterly revenue"), said("chiffre d'affaires")], source="ocr")
    store.remember_ocr("auto")
    again = MultimodalStore.connect(host, port, collection="words_test", device="cpu")
    assert again.words_count() == 2 and again.ocr_setting == "auto"
    hits = again.query_words(tiny_encoder.encode_query("chiffre d'affaires"), k=1)
    assert hits[0][0] == green
    again.delete(ids=[green])
    assert dict(store.iter_words()) == {red: "Quarterly revenue"}


def test_a_store_dropped_without_close_can_be_opened_again_at_once(
    tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    """The words hold no reference back to their store: dropping the last reference to a store
    ends its directory's lock at once, not at the garbage collector's next cycle."""
    import gc

    store = MultimodalStore(tmp_path / "db", encoder=tiny_encoder)
    (red,) = _pictures(store, ("red",))
    store.set_words([red], [said("Rechnung")], source="ocr")
    gc.disable()
    try:
        del store
        again = MultimodalStore(tmp_path / "db", encoder=tiny_encoder)  # StoreBusyError if still locked
        assert again.words([red])[red].text == "Rechnung"
        again.close()
    finally:
        gc.enable()
