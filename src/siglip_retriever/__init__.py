"""SigLIP image and text embeddings for LangChain, LlamaIndex and Chroma.

Importing the package is cheap: torch, transformers and chromadb load only when a class that
needs them is first used.

Example:
    >>> import siglip_retriever
    >>> siglip_retriever.__version__ >= "0.1"
    True
    >>> sorted(siglip_retriever.PRESETS)[:3]
    ['base', 'clip', 'demo']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siglip_retriever import errors
from siglip_retriever._version import __version__
from siglip_retriever.encoding.presets import DEFAULT_MODEL, PRESETS, Preset, resolve_model
from siglip_retriever.errors import *  # noqa: F403 - every exception, as errors.__all__ names them
from siglip_retriever.lazy import lazy_exports

if TYPE_CHECKING:
    from siglip_retriever.compare import ComparisonResult, compare_models
    from siglip_retriever.encoding.backends import load_encoder
    from siglip_retriever.encoding.backends.open_clip import OpenClipEncoder
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.encoding.images import load_image
    from siglip_retriever.encoding.remote import UrlPolicy
    from siglip_retriever.integrations.chroma import SiglipEmbeddingFunction
    from siglip_retriever.integrations.langchain.embeddings import SiglipEmbeddings
    from siglip_retriever.integrations.langchain.retriever import SiglipImageRetriever
    from siglip_retriever.integrations.langchain.vectorstore import SiglipVectorStore
    from siglip_retriever.integrations.llama_index.embedding import SiglipEmbedding
    from siglip_retriever.integrations.llama_index.retriever import SiglipImageNodeRetriever
    from siglip_retriever.search.hits import SearchHit
    from siglip_retriever.search.options import SearchOptions
    from siglip_retriever.search.retriever import Retriever
    from siglip_retriever.search.zero_shot import Classification, ZeroShotClassifier
    from siglip_retriever.store.distributed.indexer import index_distributed
    from siglip_retriever.store.report import IndexReport
    from siglip_retriever.store.store import MultimodalStore
    from siglip_retriever.tuning import FinetuneConfig, FinetuneReport, finetune

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "Classification",
    "ComparisonResult",
    "FinetuneConfig",
    "FinetuneReport",
    "IndexReport",
    "MultimodalStore",
    "OpenClipEncoder",
    "Preset",
    "Retriever",
    "SearchHit",
    "SearchOptions",
    "SiglipEmbedding",
    "SiglipEmbeddingFunction",
    "SiglipEmbeddings",
    "SiglipEncoder",
    "SiglipImageNodeRetriever",
    "SiglipImageRetriever",
    "SiglipVectorStore",
    "UrlPolicy",
    "ZeroShotClassifier",
    "__version__",
    "compare_models",
    "finetune",
    "index_distributed",
    "load_encoder",
    "load_image",
    "resolve_model",
]
__all__ += errors.__all__

# public name -> module that defines it, imported on first access
_LAZY = {
    "SiglipEncoder": "siglip_retriever.encoding.encoder",
    "load_image": "siglip_retriever.encoding.images",
    "UrlPolicy": "siglip_retriever.encoding.remote",
    "load_encoder": "siglip_retriever.encoding.backends",
    "OpenClipEncoder": "siglip_retriever.encoding.backends.open_clip",
    "MultimodalStore": "siglip_retriever.store.store",
    "IndexReport": "siglip_retriever.store.report",
    "index_distributed": "siglip_retriever.store.distributed.indexer",
    "Retriever": "siglip_retriever.search.retriever",
    "SearchHit": "siglip_retriever.search.hits",
    "SearchOptions": "siglip_retriever.search.options",
    "ZeroShotClassifier": "siglip_retriever.search.zero_shot",
    "Classification": "siglip_retriever.search.zero_shot",
    "SiglipEmbeddings": "siglip_retriever.integrations.langchain.embeddings",
    "SiglipVectorStore": "siglip_retriever.integrations.langchain.vectorstore",
    "SiglipImageRetriever": "siglip_retriever.integrations.langchain.retriever",
    "SiglipEmbedding": "siglip_retriever.integrations.llama_index.embedding",
    "SiglipImageNodeRetriever": "siglip_retriever.integrations.llama_index.retriever",
    "SiglipEmbeddingFunction": "siglip_retriever.integrations.chroma",
    "compare_models": "siglip_retriever.compare",
    "ComparisonResult": "siglip_retriever.compare",
    "finetune": "siglip_retriever.tuning",
    "FinetuneConfig": "siglip_retriever.tuning",
    "FinetuneReport": "siglip_retriever.tuning",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
