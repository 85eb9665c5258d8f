"""LangChain's standard retriever suite against SiglipImageRetriever (integrations/langchain/retriever.py),
on a tiny local SigLIP and a store of five pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.integrations.langchain import SiglipImageRetriever
from siglip_retriever.store import MultimodalStore
from tests.helpers import StandardSuite, colour_pictures


@pytest.fixture(scope="module")
def image_store(tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory) -> MultimodalStore:
    folder = tmp_path_factory.mktemp("standard-images")
    colour_pictures(folder, ("red", "green", "blue", "yellow", "purple"), size=(32, 32), widen=4)
    store = MultimodalStore(folder / "db", encoder=tiny_encoder)
    store.index_folder(folder)
    return store


class TestSiglipImageRetrieverStandard(StandardSuite, RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[SiglipImageRetriever]:
        return SiglipImageRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": self.fixture("image_store")}

    @property
    def retriever_query_example(self) -> str:
        return "una foto de un cuadrado rojo"


def test_image_store_fixture_holds_five_images(image_store: MultimodalStore) -> None:
    """The retriever suite asks for 3 results: the store must hold more images than that."""
    assert image_store.count(kind="image") == 5
    assert all(Path(item.uri or "").is_file() for item in image_store.get())  # type: ignore[union-attr]
