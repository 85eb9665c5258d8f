"""LangChain's standard vector-store suite against SiglipVectorStore (integrations/langchain/vectorstore.py),
on a tiny local SigLIP.

The vector-store suite hands its store ``get_embeddings()`` (a 6-d fake by default). A
SiglipVectorStore embeds with its store's own SigLIP encoder, so ``get_embeddings`` returns
SiglipEmbeddings on the session's tiny encoder and the fixture builds the store on that encoder.
The suite's expectations still hold unchanged: its ranking assertions only need an exact text match
to come first (cosine 1), which any deterministic text encoder gives.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.embeddings import Embeddings
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from siglip_retriever.integrations.langchain import SiglipEmbeddings, SiglipVectorStore
from siglip_retriever.store import MultimodalStore
from tests.helpers import StandardSuite


class TestSiglipVectorStoreStandard(StandardSuite, VectorStoreIntegrationTests):
    def get_embeddings(self) -> Embeddings:  # type: ignore[override]
        """The store's own embedding model: SigLIP (tiny, random), not the suite's fake."""
        return SiglipEmbeddings(encoder=self.fixture("tiny_encoder"))

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
