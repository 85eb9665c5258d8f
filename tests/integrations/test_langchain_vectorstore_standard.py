"""LangChain's standard suites against SiglipVectorStore and SiglipImageRetriever (tiny local SigLIP).

The vector-store suite hands its store ``get_embeddings()`` (a 6-d fake by default). A
SiglipVectorStore embeds with its store's own SigLIP encoder, so ``get_embeddings`` returns
SiglipEmbeddings on the session's tiny encoder and the fixture builds the store on that encoder.
The suite's expectations still hold unchanged: its ranking assertions only need an exact text match
to come first (cosine 1), which any deterministic text encoder gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_tests.integration_tests import RetrieversIntegrationTests, VectorStoreIntegrationTests
from PIL import Image

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.integrations.langchain import SiglipEmbeddings, SiglipImageRetriever, SiglipVectorStore
from siglip_retriever.store import MultimodalStore


class TestSiglipVectorStoreStandard(VectorStoreIntegrationTests):
    encoder: SiglipEncoder

    @pytest.fixture(autouse=True)
    def _use_tiny_encoder(self, tiny_encoder: SiglipEncoder) -> None:
        self.encoder = tiny_encoder

    def get_embeddings(self) -> Embeddings:  # type: ignore[override]
        """The store's own embedding model: SigLIP (tiny, random), not the suite's fake."""
        return SiglipEmbeddings(encoder=self.encoder)

    @pytest.fixture
    def vectorstore(self) -> Iterator[SiglipVectorStore]:
        embeddings = self.get_embeddings()
        assert isinstance(embeddings, SiglipEmbeddings)
        store = MultimodalStore.in_memory(encoder=embeddings.encoder)  # a new, empty collection
        vectors = SiglipVectorStore(store)
        assert vectors.embeddings.encoder is embeddings.encoder
        try:
            yield vectors
        finally:
            store.client.delete_collection(store.collection_name)


@pytest.fixture(scope="module")
def image_store(tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory) -> MultimodalStore:
    folder = tmp_path_factory.mktemp("standard-images")
    for i, colour in enumerate(("red", "green", "blue", "yellow", "purple")):
        Image.new("RGB", (32 + 4 * i, 32), colour).save(folder / f"{colour}.png")
    store = MultimodalStore(folder / "db", encoder=tiny_encoder)
    store.index_folder(folder)
    return store


class TestSiglipImageRetrieverStandard(RetrieversIntegrationTests):
    store: MultimodalStore

    @pytest.fixture(autouse=True)
    def _use_image_store(self, image_store: MultimodalStore) -> None:
        self.store = image_store

    @property
    def retriever_constructor(self) -> type[SiglipImageRetriever]:
        return SiglipImageRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": self.store}

    @property
    def retriever_query_example(self) -> str:
        return "una foto de un cuadrado rojo"


def test_image_store_fixture_holds_five_images(image_store: MultimodalStore) -> None:
    """The retriever suite asks for 3 results: the store must hold more images than that."""
    assert image_store.count(kind="image") == 5
    assert all(Path(item.uri or "").is_file() for item in image_store.get())  # type: ignore[union-attr]
