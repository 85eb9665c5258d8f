"""SiglipVectorStore (integrations/langchain/vectorstore.py): scores equal the core's, kinds,
thresholds, async off the loop, and the same results from a real Chroma server.

The tiny model is random: these tests check structure, ids and that scores equal the core
Retriever's, never that a ranking is semantically right.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

import siglip_retriever
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.integrations.langchain import (
    SiglipEmbeddings,
    SiglipImageRetriever,
    SiglipVectorStore,
)
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store import MultimodalStore, content_id
from tests.helpers import RecordingEncoder, colour_pictures

COLOURS = ("red", "green", "blue", "yellow")
CAPTIONS = ["a red square", "un carré vert", "ein blaues Quadrat", "un cuadrado amarillo"]
TEXTS = ["a photo of a cat", "une photo d'un chien", "ein Foto von einem Vogel"]
QUERY = "un carré rouge"


@pytest.fixture
def image_paths(tmp_path: Path) -> list[str]:
    return [
        str(path.resolve()) for path in colour_pictures(tmp_path / "images", COLOURS, size=(32, 36), widen=4)
    ]


def _fill(store: MultimodalStore, image_paths: list[str]) -> SiglipVectorStore:
    vectors = SiglipVectorStore(store)
    vectors.add_images(image_paths, metadatas=[{"caption": c} for c in CAPTIONS])
    vectors.add_texts(TEXTS, [{"n": i} for i in range(len(TEXTS))])
    return vectors


@pytest.fixture
def store(tiny_encoder: SiglipEncoder, tmp_path: Path) -> MultimodalStore:
    return MultimodalStore(tmp_path / "db", encoder=tiny_encoder)


@pytest.fixture
def vectors(store: MultimodalStore, image_paths: list[str]) -> SiglipVectorStore:
    return _fill(store, image_paths)


def _ids(documents: Sequence[Document]) -> list[str | None]:
    return [doc.id for doc in documents]


# -- SiglipVectorStore ---------------------------------------------------------------------------


def test_texts_round_trip_as_added_and_are_what_text_queries_search(vectors: SiglipVectorStore) -> None:
    ids = [content_id("text", t) for t in TEXTS]
    documents = vectors.get_by_ids([ids[2], "missing", ids[0]])
    assert documents == [
        Document(id=ids[2], page_content=TEXTS[2], metadata={"n": 2}),
        Document(id=ids[0], page_content=TEXTS[0], metadata={"n": 0}),
    ]
    found = vectors.similarity_search(TEXTS[1], k=10)
    assert found[0] == Document(id=ids[1], page_content=TEXTS[1], metadata={"n": 1})
    assert sorted(_ids(found)) == sorted(ids)  # texts only: the four images are not documents


def test_add_documents_keeps_given_ids_and_hashes_the_others(store: MultimodalStore) -> None:
    vectors = SiglipVectorStore(store)
    docs = [Document(page_content="foo", id="mine"), Document(page_content="bar", metadata={"a": "b"})]
    ids = vectors.add_documents(docs)
    assert ids == ["mine", content_id("text", "bar")]
    assert vectors.add_texts(["bar"]) == [ids[1]]  # the same text again is stored once
    assert store.count() == 2


def test_scores_equal_the_core_retriever_and_store(vectors: SiglipVectorStore) -> None:
    store = vectors.store
    core = Retriever(store).text_to_images(QUERY, k=4)
    scored = vectors.similarity_search_with_score(QUERY, k=4, kind="image")
    assert _ids([doc for doc, _ in scored]) == [hit.id for hit in core]
    np.testing.assert_allclose([s for _, s in scored], [hit.similarity for hit in core], atol=1e-6)
    relevance = vectors.similarity_search_with_relevance_scores(QUERY, k=4, kind="image")
    assert _ids([doc for doc, _ in relevance]) == [hit.id for hit in core]
    np.testing.assert_allclose([r for _, r in relevance], [hit.probability for hit in core], atol=1e-9)
    # texts found by a text query: no calibrated probability, relevance is the clipped cosine
    expected = store.query(store.encoder.encode_query(QUERY), k=3, kind="text")
    text_relevance = vectors.similarity_search_with_relevance_scores(QUERY, k=3)
    assert _ids([doc for doc, _ in text_relevance]) == [item.id for item, _ in expected]
    np.testing.assert_allclose([r for _, r in text_relevance], [max(c, 0.0) for _, c in expected], atol=1e-6)


def test_image_documents_carry_caption_uri_and_kind(
    vectors: SiglipVectorStore, image_paths: list[str]
) -> None:
    documents = vectors.similarity_search(QUERY, k=10, kind="image")
    assert sorted(doc.metadata["uri"] for doc in documents) == sorted(image_paths)
    for doc in documents:
        assert doc.metadata["kind"] == "image"
        assert doc.page_content == CAPTIONS[image_paths.index(doc.metadata["uri"])]
    both = vectors.similarity_search(QUERY, k=10, kind="any")
    assert len(both) == len(COLOURS) + len(TEXTS)
    on_images = SiglipVectorStore(vectors.store, kind="image").similarity_search(QUERY, k=10)
    assert _ids(on_images) == _ids(documents)


def test_filters_and_bad_options(vectors: SiglipVectorStore) -> None:
    found = vectors.similarity_search(QUERY, k=10, filter={"n": {"$gte": 1}})
    assert sorted(doc.metadata["n"] for doc in found) == [1, 2]
    with pytest.raises(ConfigurationError, match="kind"):
        vectors.similarity_search(QUERY, kind="video")
    with pytest.raises(ConfigurationError, match="unknown options"):
        vectors.similarity_search(QUERY, fliter={"n": 1})
    with pytest.raises(ConfigurationError, match="kind"):
        SiglipVectorStore(vectors.store, kind="everything")  # type: ignore[arg-type]


def test_searches_by_image_and_by_vector(vectors: SiglipVectorStore, image_paths: list[str]) -> None:
    store = vectors.store
    vector = store.encoder.encode_images([image_paths[0]])[0]
    similar = vectors.similarity_search_by_image(image_paths[0], k=2)
    assert _ids(similar) == [item.id for item, _ in store.query(vector, k=2, kind="image")]
    assert similar[0].metadata["uri"] == image_paths[0]  # the image itself is the closest
    captions = vectors.similarity_search_by_image(image_paths[0], k=10, kind="text")
    assert sorted(doc.page_content for doc in captions) == sorted(TEXTS)
    by_vector = vectors.similarity_search_by_vector(vectors.embeddings.embed_query(QUERY), k=3)
    assert _ids(by_vector) == _ids(vectors.similarity_search(QUERY, k=3))


def test_as_retriever_takes_kind_k_and_threshold(vectors: SiglipVectorStore) -> None:
    images = vectors.as_retriever(search_kwargs={"kind": "image", "k": 3})
    assert [doc.metadata["kind"] for doc in images.invoke(QUERY)] == ["image"] * 3
    assert len(images.invoke(QUERY, k=1)) == 1
    strict = vectors.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"kind": "image", "score_threshold": 1.0}
    )
    assert strict.invoke(QUERY) == []
    lenient = vectors.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"kind": "image", "score_threshold": 0.0}
    )
    assert len(lenient.invoke(QUERY)) == 4


def test_delete(vectors: SiglipVectorStore) -> None:
    store = vectors.store
    first = content_id("text", TEXTS[0])
    assert vectors.delete([first, "never-added"]) is True
    assert vectors.get_by_ids([first]) == []
    vectors.delete(filter={"kind": "image"})
    assert store.count() == len(TEXTS) - 1
    with pytest.raises(ConfigurationError, match="filter"):
        vectors.delete()
    vectors.delete(filter={})
    assert store.count() == 0


def test_from_texts_on_disk_and_in_memory(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    embeddings = SiglipEmbeddings(encoder=tiny_encoder)
    on_disk = SiglipVectorStore.from_texts(TEXTS, embeddings, ids=["a", "b", "c"], path=tmp_path / "db")
    assert on_disk.store.encoder is tiny_encoder
    assert MultimodalStore(tmp_path / "db").count() == 3  # reopens with the model it was built with
    in_memory = SiglipVectorStore.from_texts(TEXTS, embeddings)
    assert _ids(in_memory.similarity_search(TEXTS[0], k=1)) == [content_id("text", TEXTS[0])]
    assert SiglipVectorStore.from_texts(TEXTS[:1], embeddings).store.count() == 1  # its own collection
    with pytest.raises(ConfigurationError, match="SiglipEmbeddings"):
        SiglipVectorStore.from_texts(TEXTS, DeterministicFakeEmbedding(size=6))


async def test_vector_store_async_runs_off_the_event_loop(
    tiny_siglip_dir: Path, image_paths: list[str], tmp_path: Path
) -> None:
    encoder = RecordingEncoder(tiny_siglip_dir, device="cpu")
    vectors = SiglipVectorStore(MultimodalStore(tmp_path / "db", encoder=encoder))
    ids = await vectors.aadd_texts(TEXTS)
    await vectors.aadd_images(image_paths)
    found = await vectors.asimilarity_search(QUERY, k=2)
    relevance = await vectors.asimilarity_search_with_relevance_scores(QUERY, k=2, kind="image")
    similar = await vectors.asimilarity_search_by_image(image_paths[1], k=2)
    assert encoder.threads
    assert threading.get_ident() not in encoder.threads
    assert _ids(found) == _ids(vectors.similarity_search(QUERY, k=2))
    assert relevance == vectors.similarity_search_with_relevance_scores(QUERY, k=2, kind="image")
    assert _ids(similar) == _ids(vectors.similarity_search_by_image(image_paths[1], k=2))
    assert _ids(await vectors.aget_by_ids(ids)) == ids


def test_package_exports_the_classes_lazily() -> None:
    assert siglip_retriever.SiglipVectorStore is SiglipVectorStore
    assert siglip_retriever.SiglipImageRetriever is SiglipImageRetriever
    assert {"SiglipVectorStore", "SiglipImageRetriever", "SiglipImageNodeRetriever"} <= set(
        siglip_retriever.__all__
    )


# -- a real Chroma server ------------------------------------------------------------------------


def test_server_store_gives_the_embedded_results(
    chroma_server: tuple[str, int],
    tiny_encoder: SiglipEncoder,
    store: MultimodalStore,
    image_paths: list[str],
) -> None:
    host, port = chroma_server
    collection = f"lc-{uuid.uuid4().hex}"
    remote = MultimodalStore.connect(host, port, encoder=tiny_encoder, collection=collection)
    try:
        served, embedded = _fill(remote, image_paths), _fill(store, image_paths)
        for kind in ("text", "image", "any"):
            a = served.similarity_search_with_score(QUERY, k=5, kind=kind)
            b = embedded.similarity_search_with_score(QUERY, k=5, kind=kind)
            assert [_without_scores(doc) for doc, _ in a] == [_without_scores(doc) for doc, _ in b]
            np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
            for (doc_a, _), (doc_b, _) in zip(a, b, strict=True):  # images carry their scores too
                for key in ("similarity", "probability"):
                    assert doc_a.metadata.get(key) == pytest.approx(doc_b.metadata.get(key), abs=1e-5)
        ids = [content_id("text", t) for t in TEXTS]
        assert served.get_by_ids(ids) == embedded.get_by_ids(ids)
        on_server = SiglipImageRetriever(store=remote, k=3, include_image_base64=True).invoke(QUERY)
        locally = SiglipImageRetriever(store=store, k=3, include_image_base64=True).invoke(QUERY)
        assert _ids(on_server) == _ids(locally)
        images = [d.metadata["image_base64"] for d in on_server]
        assert images == [d.metadata["image_base64"] for d in locally]
        np.testing.assert_allclose(
            [d.metadata["probability"] for d in on_server],
            [d.metadata["probability"] for d in locally],
            atol=1e-5,
        )
        served.delete(ids[:1])
        assert remote.count(kind="text") == len(TEXTS) - 1
    finally:
        remote.client.delete_collection(collection)


def _without_scores(doc: Document) -> Document:
    """The document with its score metadata left out (a server's floats differ in the last bits)."""
    kept = {key: value for key, value in doc.metadata.items() if key not in ("similarity", "probability")}
    return Document(id=doc.id, page_content=doc.page_content, metadata=kept)
