"""Diverse results in the framework adapters (integrations/langchain/vectorstore.py, retriever.py,
integrations/llama_index/retriever.py): MMR picks as langchain_core's on the same candidates,
lambda_mult=1 as the plain search, as_retriever(search_type="mmr"), async, options and errors,
and collapse_duplicates (one result per group of copies).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from langchain_core.vectorstores.utils import maximal_marginal_relevance as langchain_mmr
from llama_index.core.schema import QueryBundle

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.integrations.langchain import SiglipImageRetriever, SiglipVectorStore
from siglip_retriever.integrations.llama_index import SiglipImageNodeRetriever
from siglip_retriever.search.diversity import DUPLICATES_KEY
from siglip_retriever.store import MultimodalStore
from tests.copies import smooth_picture, store_copies
from tests.helpers import random_pictures

TEXTS = [f"{adjective} {thing}" for adjective in ("a red", "un bleu", "ein grün") for thing in "abcdefg"]


@pytest.fixture
def vectors(tiny_encoder: SiglipEncoder, tmp_path: Path) -> SiglipVectorStore:
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection=f"mmr_{tmp_path.name}")
    vectors = SiglipVectorStore(store)
    vectors.add_texts(TEXTS, [{"n": n, "half": n % 2} for n in range(len(TEXTS))])
    vectors.add_images(random_pictures(12, seed=5), metadatas=[{"n": n} for n in range(12)])
    return vectors


@pytest.fixture
def copies(tiny_encoder: SiglipEncoder, tmp_path: Path) -> tuple[MultimodalStore, dict[str, int]]:
    """A store of 8 pictures with 2 copies each and 4 without a hash; id -> its group."""
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection=f"copies_{tmp_path.name}")
    groups = store_copies(store)
    return store, {key: n for n, group in enumerate(groups) for key in group}


@pytest.mark.parametrize(("fetch_k", "lambda_mult"), [(20, 0.5), (10, 0.0), (21, 0.25), (6, 0.9)])
def test_mmr_picks_what_langchain_core_picks(
    vectors: SiglipVectorStore, fetch_k: int, lambda_mult: float
) -> None:
    query = vectors.embeddings.embed_query("a red b")
    candidates = vectors.store.query(query, k=fetch_k, kind="text", include_vectors=True)
    expected = [
        candidates[n][0].id
        for n in langchain_mmr(
            np.asarray(query),
            [item.vector.tolist() for item, _ in candidates],  # type: ignore[union-attr]
            lambda_mult=lambda_mult,
            k=5,
        )
    ]
    found = vectors.max_marginal_relevance_search("a red b", k=5, fetch_k=fetch_k, lambda_mult=lambda_mult)
    assert [doc.id for doc in found] == expected
    by_vector = vectors.max_marginal_relevance_search_by_vector(
        query, k=5, fetch_k=fetch_k, lambda_mult=lambda_mult
    )
    assert [doc.id for doc in by_vector] == expected


def test_mmr_with_lambda_mult_1_is_the_similarity_search(vectors: SiglipVectorStore) -> None:
    for k in (1, 4, 9):
        plain = vectors.similarity_search("un bleu c", k=k)
        assert vectors.max_marginal_relevance_search("un bleu c", k=k, lambda_mult=1.0) == plain
    images = vectors.similarity_search("x", k=5, kind="image")
    assert vectors.max_marginal_relevance_search("x", k=5, lambda_mult=1, kind="image") == images


def test_as_retriever_mmr_and_async(vectors: SiglipVectorStore) -> None:
    options = {"k": 4, "fetch_k": 12, "lambda_mult": 0.2, "filter": {"half": 1}}
    expected = vectors.max_marginal_relevance_search("ein grün d", **options)  # type: ignore[arg-type]
    assert all(doc.metadata["half"] == 1 for doc in expected) and len(expected) == 4
    retriever = vectors.as_retriever(search_type="mmr", search_kwargs=options)
    assert retriever.invoke("ein grün d") == expected
    assert asyncio.run(retriever.ainvoke("ein grün d")) == expected
    assert asyncio.run(vectors.amax_marginal_relevance_search("ein grün d", **options)) == expected  # type: ignore[arg-type]
    query = vectors.embeddings.embed_query("ein grün d")
    by_vector = asyncio.run(vectors.amax_marginal_relevance_search_by_vector(query, **options))  # type: ignore[arg-type]
    assert [doc.id for doc in by_vector] == [doc.id for doc in expected]
    plain = vectors.similarity_search("ein grün d", k=4, filter={"half": 1})
    assert [doc.id for doc in expected] != [doc.id for doc in plain]  # lambda 0.2 changed them
    images = vectors.max_marginal_relevance_search("x", k=3, kind="image", lambda_mult=0.0)
    scores = {doc.id: doc.metadata for doc in vectors.similarity_search("x", k=12, kind="image")}
    for doc in images:  # their true scores
        assert doc.metadata["similarity"] == scores[doc.id]["similarity"]
        assert doc.metadata["probability"] == scores[doc.id]["probability"] is not None


def test_mmr_errors(vectors: SiglipVectorStore) -> None:
    with pytest.raises(ConfigurationError, match=r"fetch_k \(3\) must be at least k \(4\)"):
        vectors.max_marginal_relevance_search("a", k=4, fetch_k=3)
    with pytest.raises(ConfigurationError, match="lambda_mult"):
        vectors.max_marginal_relevance_search("a", lambda_mult=-0.1)
    with pytest.raises(ConfigurationError, match="unknown options"):
        vectors.max_marginal_relevance_search("a", top_k=3)
    with pytest.raises(ConfigurationError, match="add diverse=True"):
        vectors.similarity_search("a", fetch_k=30)


def test_vector_store_collapses_duplicates(copies: tuple[MultimodalStore, dict[str, int]]) -> None:
    store, group_of = copies
    vectors = SiglipVectorStore(store, kind="image")
    for docs in (
        vectors.similarity_search("a picture", k=10, collapse_duplicates=True),
        vectors.max_marginal_relevance_search("a picture", k=10, collapse_duplicates=True),
        vectors.as_retriever(search_kwargs={"k": 10, "collapse_duplicates": True}).invoke("a picture"),
    ):
        groups = [group_of.get(str(doc.id), doc.id) for doc in docs]
        assert len(docs) == 10 and len(set(groups)) == 10
        for doc in docs:
            assert {group_of[d] for d in doc.metadata[DUPLICATES_KEY]} <= {group_of.get(str(doc.id))}
    assert len(vectors.similarity_search("a picture", k=10)) == 10  # without: copies side by side


def test_image_retriever_fields_and_per_call_options(copies: tuple[MultimodalStore, dict[str, int]]) -> None:
    store, group_of = copies
    plain = SiglipImageRetriever(store=store, k=6)
    diverse = SiglipImageRetriever(store=store, k=6, diverse=True, fetch_k=20, lambda_mult=0.0)
    expected = plain.search.text_to_images("a picture", k=6, diverse=True, fetch_k=20, lambda_mult=0.0)
    assert [doc.id for doc in diverse.invoke("a picture")] == [hit.id for hit in expected]
    assert [doc.id for doc in plain.invoke("a picture", diverse=True, fetch_k=20, lambda_mult=0.0)] == [
        hit.id for hit in expected
    ]
    assert diverse.invoke("a picture", diverse=False) == plain.invoke("a picture")
    assert diverse.invoke("a picture", lambda_mult=1.0) == plain.invoke("a picture")
    collapsed = SiglipImageRetriever(store=store, k=10, collapse_duplicates=True).invoke("a picture")
    assert len({group_of.get(str(doc.id), doc.id) for doc in collapsed}) == 10
    assert all(DUPLICATES_KEY in doc.metadata for doc in collapsed)
    assert len(plain.invoke("a picture", collapse_duplicates=True, k=10)) == 10
    with pytest.raises(ConfigurationError, match="lambda_mult must be a number between 0 and 1"):
        SiglipImageRetriever(store=store, diverse=True, lambda_mult=2.0)
    with pytest.raises(ConfigurationError, match="fetch_k must be a positive integer"):
        SiglipImageRetriever(store=store, diverse=True, fetch_k=0)
    with pytest.raises(ConfigurationError, match="add diverse=True"):
        plain.invoke("a picture", fetch_k=30)
    with pytest.raises(ConfigurationError, match=r"fetch_k \(5\) must be at least k \(6\)"):
        plain.invoke("a picture", diverse=True, fetch_k=5)


def test_llama_index_retriever_diverse_and_collapsed(
    copies: tuple[MultimodalStore, dict[str, int]], tmp_path: Path
) -> None:
    store, group_of = copies
    retriever = SiglipImageNodeRetriever(store, k=5, diverse=True, fetch_k=15, lambda_mult=0.1)
    expected = retriever.search.text_to_images("a picture")
    assert [hit.id for hit in expected] != [
        hit.id for hit in retriever.search.text_to_images("a picture", diverse=False)
    ]
    nodes = retriever.retrieve("a picture")
    assert [node.node.node_id for node in nodes] == [hit.id for hit in expected]
    assert [node.score for node in nodes] == [hit.probability for hit in expected]  # true scores
    collapsed = SiglipImageNodeRetriever(store, k=10, collapse_duplicates=True)
    nodes = collapsed.retrieve("a picture")
    assert len({group_of.get(node.node.node_id, node.node.node_id) for node in nodes}) == 10
    smooth_picture(0).save(tmp_path / "query.png")  # stored as img-0-64: left out as the query itself
    similar = collapsed.retrieve(QueryBundle("", image_path=str(tmp_path / "query.png")))
    ids = [node.node.node_id for node in similar]
    assert len(ids) == 10 and "img-0-64" not in ids
    assert len({group_of.get(key, key) for key in ids}) == 10
    assert all(DUPLICATES_KEY in node.node.metadata for node in similar)
    with pytest.raises(ConfigurationError, match="lambda_mult"):
        SiglipImageNodeRetriever(store, lambda_mult=3.0)
