"""Every front-end searches through the one search layer (search/): same hits, same keys, one cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import QueryBundle

from siglip_retriever import MultimodalStore, Retriever, SiglipImageNodeRetriever, SiglipImageRetriever
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.integrations.langchain import SiglipVectorStore
from siglip_retriever.search import RESULT_KEYS
from tests.helpers import colour_pictures

QUERY = "un carré rouge"


@pytest.fixture
def store(tiny_encoder: SiglipEncoder, tmp_path: Path) -> MultimodalStore:
    paths = [str(path) for path in colour_pictures(tmp_path, ("red", "green", "blue", "yellow"))]
    store = MultimodalStore.in_memory(encoder=tiny_encoder)  # no other writer: results are cached
    store.add_images(paths, metadatas=[{"caption": f"a {Path(p).stem} square"} for p in paths])
    store.add_texts(["a red square", "un cercle bleu"])
    return store


def _count_queries(store: MultimodalStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the nearest-neighbour queries that reach chromadb."""
    calls = [0]
    real: Callable[..., Any] = store.collection.query

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(store.collection, "query", counted)
    return calls


def test_a_repeated_langchain_query_is_answered_from_the_cache(
    store: MultimodalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever = SiglipImageRetriever(store=store, k=3)
    calls = _count_queries(store, monkeypatch)
    first = retriever.invoke(QUERY)
    assert calls[0] == 1
    assert retriever.invoke(QUERY) == first
    assert calls[0] == 1  # the second time chromadb was not asked
    retriever.invoke(QUERY, k=2)  # another question: asked
    assert calls[0] == 2
    store.add_texts(["a write empties the cache"])
    retriever.invoke(QUERY)
    assert calls[0] == 3


def test_a_repeated_llama_index_query_is_answered_from_the_cache(
    store: MultimodalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever = SiglipImageNodeRetriever(store, k=3)
    calls = _count_queries(store, monkeypatch)
    first = retriever.retrieve(QUERY)
    assert [n.node.node_id for n in retriever.retrieve(QUERY)] == [n.node.node_id for n in first]
    assert calls[0] == 1
    similar = QueryBundle(query_str="", image_path=str(first[0].node.image_path))
    retriever.retrieve(similar)
    retriever.retrieve(similar)
    assert calls[0] == 2


def test_a_repeated_vector_store_query_is_answered_from_the_cache(
    store: MultimodalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = SiglipVectorStore(store, kind="image")
    calls = _count_queries(store, monkeypatch)
    assert vectors.similarity_search(QUERY, k=2) == vectors.similarity_search(QUERY, k=2)
    assert calls[0] == 1


def test_every_front_end_carries_the_hits_keys_and_values(store: MultimodalStore) -> None:
    hits = Retriever(store).text_to_images(QUERY, k=3)
    assert set(RESULT_KEYS) <= set(hits[0].result_metadata())
    documents = SiglipImageRetriever(store=store, k=3).invoke(QUERY)
    nodes = SiglipImageNodeRetriever(store, k=3).retrieve(QUERY)
    found = SiglipVectorStore(store).similarity_search(QUERY, k=3, kind="image")
    for hit, document, node, vector_document in zip(hits, documents, nodes, found, strict=True):
        expected = hit.result_metadata()
        for key in RESULT_KEYS:
            assert document.metadata[key] == expected[key], key
            assert node.node.metadata[key] == expected[key], key
            assert vector_document.metadata[key] == pytest.approx(expected[key]), key
        assert node.score == hit.probability
        assert document.page_content == vector_document.page_content == hit.content()


def test_options_mean_the_same_everywhere(store: MultimodalStore) -> None:
    """where/filter, min_probability and caption_key give the same results in every front-end."""
    where = {"caption": {"$in": ["a red square", "a blue square"]}}
    top = Retriever(store).text_to_images(QUERY, k=4, where=where)
    cut = (top[0].probability or 0.0) - 1e-9  # keeps the best hit only... or the tied ones
    expected = [h.id for h in Retriever(store).text_to_images(QUERY, k=4, where=where, min_probability=cut)]
    langchain = SiglipImageRetriever(store=store, k=4, where=where, min_probability=cut)
    assert [d.id for d in langchain.invoke(QUERY)] == expected
    llama = SiglipImageNodeRetriever(store, k=4, where=where, min_probability=cut)
    assert [n.node.node_id for n in llama.retrieve(QUERY)] == expected
    vectors = SiglipVectorStore(store, kind="image")
    assert [
        d.id for d in vectors.similarity_search(QUERY, k=4, filter=where, min_probability=cut)
    ] == expected

    captions = SiglipImageRetriever(store=store, k=1, caption_key="missing").invoke(QUERY)
    assert captions[0].page_content == captions[0].metadata["uri"]
    nodes = SiglipImageNodeRetriever(store, k=1, caption_key="missing").retrieve(QUERY)
    assert nodes[0].node.text == ""
    assert (
        SiglipVectorStore(store, kind="image", caption_key="missing")
        .similarity_search(QUERY, k=1)[0]
        .page_content
        == captions[0].metadata["uri"]
    )


def test_thresholds_that_cannot_apply_are_clear_errors(store: MultimodalStore) -> None:
    from siglip_retriever.errors import ConfigurationError

    vectors = SiglipVectorStore(store)  # texts for a text query: no image-text pair
    with pytest.raises(ConfigurationError, match="min_probability applies to image-text pairs"):
        vectors.similarity_search(QUERY, min_probability=0.5)
    with pytest.raises(ConfigurationError, match="min_similarity applies to image-image and text-text"):
        vectors.similarity_search(QUERY, kind="image", min_similarity=0.5)
    assert len(vectors.similarity_search(QUERY, kind="any", min_similarity=-1.0, min_probability=0.0)) == 4
