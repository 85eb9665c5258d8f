"""SiglipEmbeddings (integrations/langchain/embeddings.py): vectors equal the core's, async off the
loop, stock langchain_chroma round trip."""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from langchain_chroma import Chroma
from PIL import Image

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.images import ImageInput
from siglip_retriever.errors import ConfigurationError, ImageLoadError, InputTypeError
from siglip_retriever.integrations.langchain import SiglipEmbeddings
from tests.helpers import RecordingEncoder, assert_close, assert_core_errors, chroma_client, colour_pictures

COLOURS = ("red", "green", "blue")
TEXTS = ["a red circle", "un carré bleu", "ein grünes Dreieck", "赤い丸の写真"]


@pytest.fixture
def image_paths(tmp_path: Path) -> list[str]:
    return [str(path) for path in colour_pictures(tmp_path, COLOURS, size=(40, 36), widen=8)]


@pytest.fixture
def embeddings(tiny_encoder: SiglipEncoder) -> SiglipEmbeddings:
    return SiglipEmbeddings(encoder=tiny_encoder)


@pytest.fixture
def store(embeddings: SiglipEmbeddings, tmp_path: Path) -> Chroma:
    return Chroma(
        collection_name="photos",
        embedding_function=embeddings,
        client=chroma_client(tmp_path / "chroma"),
        collection_metadata={"hnsw:space": "cosine"},
    )


def test_vectors_equal_the_core_encoder(
    embeddings: SiglipEmbeddings, tiny_encoder: SiglipEncoder, image_paths: list[str]
) -> None:
    documents = embeddings.embed_documents(TEXTS)
    assert isinstance(documents, list)
    assert all(isinstance(v, list) and isinstance(v[0], float) for v in documents)
    assert_close(documents, tiny_encoder.encode_texts(TEXTS))
    assert_close(embeddings.embed_query(TEXTS[1]), tiny_encoder.encode_texts([TEXTS[1]])[0])
    assert_close(embeddings.embed_image(image_paths), tiny_encoder.encode_images(image_paths))


def test_embed_image_accepts_every_core_input(
    embeddings: SiglipEmbeddings, tiny_encoder: SiglipEncoder, image_paths: list[str]
) -> None:
    raw = Path(image_paths[0]).read_bytes()
    picture = Image.open(image_paths[0]).convert("RGB")
    inputs: list[ImageInput] = [
        image_paths[0],
        Path(image_paths[0]),
        raw,
        io.BytesIO(raw),
        picture,
        np.asarray(picture),
        "data:image/png;base64," + base64.b64encode(raw).decode(),
    ]
    vectors = embeddings.embed_image(inputs)
    assert len(vectors) == len(inputs)
    expected = tiny_encoder.encode_images([image_paths[0]])[0]
    for vector in vectors:
        assert_close(vector, expected)


async def test_async_methods_run_off_the_event_loop(tiny_siglip_dir: Path, image_paths: list[str]) -> None:
    encoder = RecordingEncoder(tiny_siglip_dir, device="cpu")
    embeddings = SiglipEmbeddings(encoder=encoder)
    loop_thread = threading.get_ident()
    documents, query, images = await asyncio.gather(
        embeddings.aembed_documents(TEXTS),
        embeddings.aembed_query("a blue square"),
        embeddings.aembed_image(image_paths),
    )
    assert len(encoder.threads) == 3
    assert loop_thread not in encoder.threads
    assert_close(documents, embeddings.embed_documents(TEXTS))
    assert_close(query, embeddings.embed_query("a blue square"))
    assert_close(images, embeddings.embed_image(image_paths))


def test_options_build_an_encoder_that_shares_the_loaded_model(
    tiny_siglip_dir: Path, tiny_encoder: SiglipEncoder
) -> None:
    built = SiglipEmbeddings(model=tiny_siglip_dir, device="cpu", batch_size=2)
    assert built.model == str(tiny_siglip_dir)
    assert built.batch_size == 2
    assert built.encoder is not tiny_encoder
    assert built.encoder.model is tiny_encoder.model

    adopted = SiglipEmbeddings(encoder=tiny_encoder)
    assert adopted.encoder is tiny_encoder
    assert (adopted.model, adopted.device, adopted.dtype) == (tiny_encoder.model_id, "cpu", "float32")
    assert adopted.batch_size == tiny_encoder.batch_size
    assert SiglipEmbeddings.model_fields["batch_size"].description

    with pytest.raises(ConfigurationError, match="either encoder= or model="):
        SiglipEmbeddings(encoder=tiny_encoder, model=tiny_siglip_dir)
    with pytest.raises(InputTypeError, match="SiglipEncoder"):
        SiglipEmbeddings(encoder="not an encoder")


def test_stock_langchain_chroma_add_images_and_search(
    store: Chroma, tiny_encoder: SiglipEncoder, image_paths: list[str]
) -> None:
    ids = store.add_images(image_paths, metadatas=[{"colour": c} for c in COLOURS], ids=list(COLOURS))
    assert ids == list(COLOURS)
    stored = store.get(include=["embeddings", "metadatas"])
    by_id = dict(zip(stored["ids"], stored["embeddings"], strict=True))
    assert_close([by_id[c] for c in COLOURS], tiny_encoder.encode_images(image_paths))
    assert sorted(m["colour"] for m in stored["metadatas"]) == sorted(COLOURS)

    # text -> image: every image comes back, each once, with its id and metadata
    hits = store.similarity_search_with_score("a red square", k=3)
    assert sorted(str(doc.id) for doc, _ in hits) == sorted(COLOURS)
    assert all(doc.metadata["colour"] == doc.id for doc, _ in hits)
    query = tiny_encoder.encode_texts(["a red square"])[0]
    images = tiny_encoder.encode_images(image_paths)
    for doc, distance in hits:  # cosine distance, computed from our vectors
        assert distance == pytest.approx(1 - float(images[COLOURS.index(doc.id)] @ query), abs=1e-5)

    # image -> image: an image is its own nearest neighbour. (langchain_chroma 1.1's
    # similarity_search_by_image_with_relevance_score passes [[vector]] and fails with any
    # embeddings, so only similarity_search_by_image is exercised here.)
    for colour, path in zip(COLOURS, image_paths, strict=True):
        assert [doc.id for doc in store.similarity_search_by_image(path, k=1)] == [colour]
    ranked = store.similarity_search_by_image(image_paths[1], k=3)
    assert ranked[0].id == "green"
    assert sorted(str(doc.id) for doc in ranked) == sorted(COLOURS)


def test_texts_and_images_share_one_collection(
    store: Chroma, tiny_encoder: SiglipEncoder, image_paths: list[str]
) -> None:
    store.add_images(image_paths, ids=list(COLOURS))
    store.add_texts(TEXTS, ids=[f"t{i}" for i in range(len(TEXTS))])
    assert len(store.get()["ids"]) == len(COLOURS) + len(TEXTS)
    hits = store.similarity_search_by_vector(tiny_encoder.encode_texts([TEXTS[2]])[0].tolist(), k=1)
    assert [doc.id for doc in hits] == ["t2"]
    assert hits[0].page_content == TEXTS[2]


def test_bad_input_raises_the_core_errors(
    embeddings: SiglipEmbeddings, store: Chroma, image_paths: list[str], broken_jpeg: str
) -> None:
    assert_core_errors(
        embeddings.embed_documents,
        embeddings.embed_query,
        embeddings.embed_image,
        image_paths[0],
        broken_jpeg,
    )

    # the same errors through langchain_chroma, and nothing half-written
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        store.add_images([image_paths[0], broken_jpeg])
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        store.similarity_search_by_image(broken_jpeg)
    with pytest.raises(InputTypeError, match="text 0 is NoneType"):
        store.add_texts([None])  # type: ignore[list-item]
    assert store.get()["ids"] == []


async def test_async_bad_input_raises_the_core_errors(embeddings: SiglipEmbeddings, broken_jpeg: str) -> None:
    with pytest.raises(InputTypeError):
        await embeddings.aembed_documents([None])
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        await embeddings.aembed_image([broken_jpeg])


def test_package_exports_adapters_lazily() -> None:
    code = (
        "import sys, siglip_retriever as s\n"
        "heavy = ('torch', 'transformers', 'chromadb', 'langchain_core', 'llama_index')\n"
        "assert not [m for m in heavy if m in sys.modules], sorted(sys.modules)\n"
        "assert {'SiglipEmbeddings', 'SiglipEmbedding', 'SiglipEmbeddingFunction'} <= set(s.__all__)\n"
        "from siglip_retriever.integrations.langchain import SiglipEmbeddings\n"
        "assert s.SiglipEmbeddings is SiglipEmbeddings\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
