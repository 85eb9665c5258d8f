"""LangChain's standard embeddings suites against SiglipEmbeddings (integrations/langchain/embeddings.py),
on a tiny local checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from siglip_retriever.integrations.langchain import MODEL_ENV, SiglipEmbeddings
from tests.helpers import StandardSuite


class _TinyCheckpoint(StandardSuite):
    """Points the suites' parameters at the session's tiny SigLIP checkpoint."""

    @property
    def checkpoint(self) -> Path:
        return Path(self.fixture("tiny_siglip_dir"))

    @property
    def embeddings_class(self) -> type[SiglipEmbeddings]:
        return SiglipEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": str(self.checkpoint), "device": "cpu", "batch_size": 4}


class TestSiglipEmbeddingsUnit(_TinyCheckpoint, EmbeddingsUnitTests):
    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        # the model comes from SIGLIP_RETRIEVER_MODEL when it is not passed
        return (
            {MODEL_ENV: str(self.checkpoint)},
            {"device": "cpu"},
            {"model": str(self.checkpoint), "device": "cpu"},
        )


class TestSiglipEmbeddingsIntegration(_TinyCheckpoint, EmbeddingsIntegrationTests):
    pass
