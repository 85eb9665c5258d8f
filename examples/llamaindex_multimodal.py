"""Multimodal retrieval in LlamaIndex: a MultiModalVectorStoreIndex on SigLIP and Chroma.

What it shows:

- ``SiglipEmbedding`` as both the text and the image embedding model of a LlamaIndex
  ``MultiModalVectorStoreIndex``, with its vectors kept in two Chroma collections
  (``ChromaVectorStore``, cosine space);
- text -> image retrieval (a query in any language the model knows) and image -> image retrieval;
- a query engine over the index (``RetrieverQueryEngine`` with ``multimodal=True``) that hands the
  retrieved pictures to a multimodal LLM as image blocks.

Scores are what LlamaIndex's ``ChromaVectorStore`` reports, ``exp(-cosine distance)``. For
SigLIP's calibrated probability as the score, use ``SiglipImageNodeRetriever`` (see the README).

Offline, the LLM is a small stand-in that answers with what it received (a hosted multimodal LLM,
such as ``llama_index.llms.openai.OpenAI(model="gpt-4o-mini")``, goes in its place).

Run it offline on the bundled demo model (pictures of coloured shapes are generated on the fly):

    python examples/llamaindex_multimodal.py --model demo --query "ein roter Kreis"

or on your own pictures with the multilingual SigLIP from the model hub:

    python examples/llamaindex_multimodal.py --images ~/Pictures --query "un chat sur un canapé"

Needs ``llama-index-core`` and ``llama-index-vector-stores-chroma``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import chromadb
from example_setup import options, picture_files, probe_picture, scratch_pictures
from llama_index.core import StorageContext
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    ImageBlock,
    LLMMetadata,
)
from llama_index.core.indices import MultiModalVectorStoreIndex
from llama_index.core.llms import CustomLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import ImageDocument
from llama_index.vector_stores.chroma import ChromaVectorStore

from siglip_retriever import SiglipEmbedding


class ReportingMultiModalLLM(CustomLLM):
    """Offline stand-in for a hosted multimodal LLM: it answers with what it was sent."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="reporting-fake", is_chat_model=True, context_window=128_000)

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        blocks = [block for message in messages for block in message.blocks if isinstance(block, ImageBlock)]
        prints = [hashlib.sha256(block.resolve_image().read()).hexdigest()[:12] for block in blocks]
        answer = f"I received {len(blocks)} images: " + ", ".join(f"sha256 {p}" for p in prints)
        return ChatResponse(message=ChatMessage(role="assistant", content=answer))

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="I received text only")

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        yield self.complete(prompt)


def main() -> None:
    parser = options(__doc__, k=(3, "pictures per search"))
    parser.add_argument("--query", default="un cercle rouge", help="text query, any language")
    parser.add_argument("--image", type=Path, help="query picture for image -> image search")
    args = parser.parse_args()

    with scratch_pictures(args.images) as (folder, _):
        paths = picture_files(folder)
        print(f"indexing {len(paths)} pictures from {folder}")

        # One SigLIP model embeds both the texts and the images: one shared vector space.
        embedding = SiglipEmbedding(model=args.model, device=args.device)
        client = chromadb.EphemeralClient(chromadb.Settings(anonymized_telemetry=False))
        cosine = {"hnsw:space": "cosine"}
        texts = ChromaVectorStore(chroma_collection=client.create_collection("texts", metadata=cosine))
        images = ChromaVectorStore(chroma_collection=client.create_collection("images", metadata=cosine))
        index = MultiModalVectorStoreIndex.from_documents(
            [ImageDocument(image_path=str(p), metadata={"file_name": p.name}) for p in paths],
            storage_context=StorageContext.from_defaults(vector_store=texts, image_store=images),
            embed_model=embedding,
            image_embed_model=embedding,
        )
        retriever = index.as_retriever(similarity_top_k=1, image_similarity_top_k=args.k)

        print(f"\ntext -> image: {args.query!r}")
        for rank, hit in enumerate(retriever.text_to_image_retrieve(args.query), start=1):
            print(f"  {rank}. {hit.node.metadata['file_name']} score={hit.score:.3f}")

        probe = probe_picture(args.image, paths)
        print(f"\nimage -> image: {probe.name}")
        hits = retriever.image_to_image_retrieve(str(probe))
        for rank, hit in enumerate(hits, start=1):
            name = hit.node.metadata["file_name"]
            note = "  (the query itself)" if name == probe.name else ""
            print(f"  {rank}. {name} score={hit.score:.3f}{note}")

        # The query engine retrieves as above, then sends the pictures to the LLM as image blocks.
        engine = RetrieverQueryEngine.from_args(retriever, llm=ReportingMultiModalLLM(), multimodal=True)
        response = engine.query(args.query)
        print(f"\nquery engine: {args.query!r}")
        print(f"  answer: {response}")
        for node in response.source_nodes:
            print(f"  source: {node.node.metadata['file_name']} score={node.score:.3f}")


if __name__ == "__main__":
    main()
