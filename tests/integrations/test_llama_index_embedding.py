"""SiglipEmbedding (integrations/llama_index/embedding.py): LlamaIndex MultiModalEmbedding over the
core, batched, in a real multimodal index."""

from __future__ import annotations

import base64
import io
import threading
from pathlib import Path

import chromadb
import pytest
from llama_index.core import Document, StorageContext
from llama_index.core.indices import MultiModalVectorStoreIndex
from llama_index.core.schema import ImageDocument, ImageNode
from llama_index.vector_stores.chroma import ChromaVectorStore

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError, ImageLoadError, InputTypeError
from siglip_retriever.integrations.llama_index import SiglipEmbedding
from tests.helpers import RecordingEncoder, assert_close, assert_core_errors, chroma_client, colour_pictures

COLOURS = ("red", "green", "blue", "yellow", "purple")
TEXTS = ["a red circle", "un carré bleu", "ein grünes Dreieck"]


@pytest.fixture
def image_paths(tmp_path: Path) -> list[str]:
    return [str(path) for path in colour_pictures(tmp_path, COLOURS, size=(32, 40), widen=4)]


@pytest.fixture
def recording(tiny_siglip_dir: Path) -> RecordingEncoder:
    return RecordingEncoder(tiny_siglip_dir, device="cpu")


@pytest.fixture
def embedding(tiny_encoder: SiglipEncoder) -> SiglipEmbedding:
    return SiglipEmbedding(encoder=tiny_encoder)


def test_vectors_equal_the_core_encoder(
    embedding: SiglipEmbedding, tiny_encoder: SiglipEncoder, image_paths: list[str]
) -> None:
    assert_close(embedding.get_text_embedding_batch(TEXTS), tiny_encoder.encode_texts(TEXTS))
    assert_close(embedding.get_text_embedding(TEXTS[0]), tiny_encoder.encode_texts(TEXTS[:1])[0])
    assert_close(embedding.get_query_embedding(TEXTS[1]), tiny_encoder.encode_texts(TEXTS[1:2])[0])
    expected = tiny_encoder.encode_images(image_paths)
    assert_close(embedding.get_image_embedding_batch(image_paths), expected)
    assert_close(embedding.get_image_embedding(image_paths[2]), expected[2])
    # ImageNode.resolve_image() gives BytesIO for base64 images: read like a path
    assert_close(embedding.get_image_embedding(io.BytesIO(Path(image_paths[3]).read_bytes())), expected[3])


async def test_async_variants_equal_sync_and_run_in_worker_threads(
    recording: RecordingEncoder, image_paths: list[str]
) -> None:
    embedding = SiglipEmbedding(encoder=recording, embed_batch_size=2)
    loop_thread = threading.get_ident()
    assert_close(await embedding.aget_query_embedding(TEXTS[0]), embedding.get_query_embedding(TEXTS[0]))
    assert_close(await embedding.aget_text_embedding(TEXTS[0]), embedding.get_text_embedding(TEXTS[0]))
    assert_close(await embedding.aget_text_embedding_batch(TEXTS), embedding.get_text_embedding_batch(TEXTS))
    assert_close(
        await embedding.aget_image_embedding(image_paths[0]), embedding.get_image_embedding(image_paths[0])
    )
    recording.calls.clear()
    vectors = await embedding.aget_image_embedding_batch(image_paths)
    assert_close(vectors, embedding.get_image_embedding_batch(image_paths))
    async_calls = recording.calls[:3]
    assert [(kind, n, size) for kind, n, size, _ in async_calls] == [("images", 2, 2)] * 2 + [
        ("images", 1, 2)
    ]
    assert all(thread != loop_thread for *_, thread in async_calls)


def test_embed_batch_size_is_honoured_for_texts_and_images(
    recording: RecordingEncoder, image_paths: list[str]
) -> None:
    embedding = SiglipEmbedding(encoder=recording, embed_batch_size=2)
    embedding.get_image_embedding_batch(image_paths)
    embedding.get_text_embedding_batch(TEXTS)
    # one forward pass per batch, not one per image as the base class would do
    assert [(kind, n, size) for kind, n, size, _ in recording.calls] == [
        ("images", 2, 2),
        ("images", 2, 2),
        ("images", 1, 2),
        ("texts", 2, 2),
        ("texts", 1, 2),
    ]


def test_constructor_options(tiny_siglip_dir: Path, tiny_encoder: SiglipEncoder) -> None:
    built = SiglipEmbedding(model=tiny_siglip_dir, device="cpu", batch_size=3)
    assert built.embed_batch_size == 3
    assert built.model == str(tiny_siglip_dir)
    assert built.model_name == tiny_encoder.model_id
    assert built.encoder.model is tiny_encoder.model
    assert SiglipEmbedding.class_name() == "SiglipEmbedding"
    assert SiglipEmbedding.model_fields["device"].description

    adopted = SiglipEmbedding(encoder=tiny_encoder)
    assert adopted.encoder is tiny_encoder
    assert adopted.embed_batch_size == tiny_encoder.batch_size
    assert (adopted.device, adopted.dtype) == ("cpu", "float32")

    with pytest.raises(ConfigurationError, match="either encoder= or device="):
        SiglipEmbedding(encoder=tiny_encoder, device="cpu")
    with pytest.raises(ConfigurationError, match="not both"):
        SiglipEmbedding(encoder=tiny_encoder, batch_size=2, embed_batch_size=4)


def _stores(tmp_path: Path) -> tuple[chromadb.Collection, chromadb.Collection, StorageContext]:
    client = chroma_client(tmp_path / "chroma")
    space = {"hnsw:space": "cosine"}
    texts = client.create_collection("texts", metadata=space)
    images = client.create_collection("images", metadata=space)
    context = StorageContext.from_defaults(
        vector_store=ChromaVectorStore(chroma_collection=texts),
        image_store=ChromaVectorStore(chroma_collection=images),
    )
    return texts, images, context


def test_multimodal_vector_store_index_over_chroma(
    recording: RecordingEncoder, tiny_encoder: SiglipEncoder, image_paths: list[str], tmp_path: Path
) -> None:
    embedding = SiglipEmbedding(encoder=recording, embed_batch_size=4)
    texts, images, context = _stores(tmp_path)
    documents = [
        ImageDocument(image_path=path, doc_id=colour, metadata={"colour": colour})
        for colour, path in zip(COLOURS, image_paths, strict=True)
    ] + [Document(text=text, doc_id=f"t{i}") for i, text in enumerate(TEXTS)]
    index = MultiModalVectorStoreIndex.from_documents(
        documents, storage_context=context, embed_model=embedding, image_embed_model=embedding
    )
    assert texts.count() == len(TEXTS)
    assert images.count() == len(COLOURS)
    image_calls = [(n, size) for kind, n, size, _ in recording.calls if kind == "images"]
    assert image_calls == [(4, 4), (1, 4)]  # batched, not one image per call

    # the image store holds our image vectors
    stored = images.get(include=["embeddings", "metadatas"])
    assert stored["metadatas"] is not None
    assert stored["embeddings"] is not None
    by_colour = {m["colour"]: v for m, v in zip(stored["metadatas"], list(stored["embeddings"]), strict=True)}
    assert_close([by_colour[c] for c in COLOURS], tiny_encoder.encode_images(image_paths))

    # text -> image
    retriever = index.as_retriever(similarity_top_k=2, image_similarity_top_k=3)
    hits = retriever.text_to_image_retrieve("a red square")
    assert len(hits) == 3
    assert all(isinstance(hit.node, ImageNode) for hit in hits)
    assert len({hit.node.ref_doc_id for hit in hits}) == 3
    assert {hit.node.ref_doc_id for hit in hits} <= set(COLOURS)
    query = tiny_encoder.encode_texts(["a red square"])[0]
    expected = {
        c: float(v @ query) for c, v in zip(COLOURS, tiny_encoder.encode_images(image_paths), strict=True)
    }
    assert [hit.node.ref_doc_id for hit in hits] == sorted(expected, key=expected.__getitem__, reverse=True)[
        :3
    ]

    # text -> text and image alike through retrieve(); image -> image finds the image itself
    both = retriever.retrieve(TEXTS[1])
    assert sum(isinstance(hit.node, ImageNode) for hit in both) == 3
    text_hits = [hit.node.ref_doc_id for hit in both if not isinstance(hit.node, ImageNode)]
    assert text_hits[0] == "t1"
    assert retriever.image_to_image_retrieve(image_paths[2])[0].node.ref_doc_id == COLOURS[2]


async def test_multimodal_index_async_build(
    embedding: SiglipEmbedding, image_paths: list[str], tmp_path: Path
) -> None:
    _, images, context = _stores(tmp_path)
    documents = [ImageDocument(image_path=path, metadata={"n": i}) for i, path in enumerate(image_paths)]
    index = MultiModalVectorStoreIndex.from_documents(
        documents, storage_context=context, embed_model=embedding, image_embed_model=embedding, use_async=True
    )
    assert images.count() == len(image_paths)
    hits = await index.as_retriever(image_similarity_top_k=2).atext_to_image_retrieve("a blue square")
    assert len(hits) == 2


def test_bad_input_raises_the_core_errors(
    embedding: SiglipEmbedding, image_paths: list[str], broken_png: str, tmp_path: Path
) -> None:
    assert_core_errors(
        embedding.get_text_embedding_batch,
        embedding.get_query_embedding,
        embedding.get_image_embedding_batch,
        image_paths[0],
        broken_png,
    )
    with pytest.raises(ImageLoadError, match=r"broken\.png"):
        embedding.get_image_embedding(broken_png)

    # ImageDocument checks image_path itself, so send the broken bytes inline (base64)
    inline = base64.b64encode(Path(broken_png).read_bytes()).decode()
    _, images, context = _stores(tmp_path)
    with pytest.raises(ImageLoadError, match="cannot load image file object"):
        MultiModalVectorStoreIndex.from_documents(
            [ImageDocument(image=inline, metadata={"n": 0})],
            storage_context=context,
            embed_model=embedding,
            image_embed_model=embedding,
        )
    assert images.count() == 0


async def test_async_bad_input_raises_the_core_errors(embedding: SiglipEmbedding, broken_png: str) -> None:
    with pytest.raises(InputTypeError):
        await embedding.aget_text_embedding_batch([None])
    with pytest.raises(ImageLoadError, match=r"broken\.png"):
        await embedding.aget_image_embedding_batch([broken_png])
