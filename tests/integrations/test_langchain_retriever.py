"""SiglipImageRetriever (integrations/langchain/retriever.py): documents scored like the core Retriever,
per-call options, images attached as base64, async off the loop, and a real LCEL chain handing the
images to a chat model.

The tiny model is random: these tests check structure, ids and that scores equal the core
Retriever's, never that a ranking is semantically right.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import ConfigurableField, RunnableLambda
from PIL import Image
from pydantic import Field

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.integrations.langchain import SiglipImageRetriever, image_content_blocks
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store import MultimodalStore
from tests.helpers import RecordingEncoder, captioned_store, colour_pictures

COLOURS = ("red", "green", "blue", "yellow")
CAPTIONS = ["a red square", "un carré vert", "ein blaues Quadrat", "un cuadrado amarillo"]
TEXTS = ["a photo of a cat", "une photo d'un chien", "ein Foto von einem Vogel"]
QUERY = "un carré rouge"


class RecordingChatModel(BaseChatModel):
    """Stands in for a hosted multimodal chat model: records what it receives, answers 'ok'."""

    received: list[list[BaseMessage]] = Field(default_factory=list, description="Messages of each call.")

    @property
    def _llm_type(self) -> str:
        return "recording-chat"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        """Record the messages (``stop`` and the run manager, passed along, are not needed)."""
        self.received.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="ok"))])


@pytest.fixture
def image_paths(tmp_path: Path) -> list[str]:
    return [
        str(path.resolve()) for path in colour_pictures(tmp_path / "images", COLOURS, size=(32, 36), widen=4)
    ]


@pytest.fixture
def store(tiny_encoder: SiglipEncoder, tmp_path: Path, image_paths: list[str]) -> MultimodalStore:
    """The four captioned pictures and three texts."""
    return captioned_store(tmp_path / "db", tiny_encoder, image_paths, CAPTIONS, TEXTS)


def _ids(documents: Sequence[Document]) -> list[str | None]:
    return [doc.id for doc in documents]


def test_retriever_documents_match_the_core_retriever(store: MultimodalStore, image_paths: list[str]) -> None:
    retriever = SiglipImageRetriever(store=store, k=3)
    documents = retriever.invoke(QUERY)
    core = Retriever(store).text_to_images(QUERY, k=3)
    assert _ids(documents) == [hit.id for hit in core]
    for doc, hit in zip(documents, core, strict=True):
        assert doc.metadata["id"] == hit.id
        assert doc.metadata["uri"] == hit.uri
        assert doc.metadata["probability"] == pytest.approx(hit.probability, abs=1e-9)
        assert doc.metadata["similarity"] == pytest.approx(hit.similarity, abs=1e-6)
        assert doc.metadata["rank"] == hit.rank
        assert doc.page_content == CAPTIONS[image_paths.index(hit.uri or "")]
        assert "image_base64" not in doc.metadata


def test_retriever_per_call_options_and_threshold(store: MultimodalStore) -> None:
    retriever = SiglipImageRetriever(store=store)
    assert len(retriever.invoke(QUERY)) == 4
    assert len(retriever.invoke(QUERY, k=2)) == 2
    assert retriever.invoke(QUERY, min_probability=1.0) == []
    assert SiglipImageRetriever(store=store, min_probability=1.0).invoke(QUERY) == []
    probabilities = [doc.metadata["probability"] for doc in retriever.invoke(QUERY)]
    cut = sorted(probabilities)[1]
    kept = retriever.invoke(QUERY, min_probability=cut)
    assert [doc.metadata["probability"] for doc in kept] == [p for p in probabilities if p >= cut]
    only = retriever.invoke(QUERY, where={"caption": CAPTIONS[2]})
    assert [doc.page_content for doc in only] == [CAPTIONS[2]]
    assert len(retriever.bind(k=1).invoke(QUERY)) == 1
    configurable = retriever.configurable_fields(k=ConfigurableField(id="k"))
    assert len(configurable.with_config(configurable={"k": 3}).invoke(QUERY)) == 3
    with pytest.raises(ConfigurationError, match="k must be a positive integer, not 0"):
        SiglipImageRetriever(store=store, k=0)
    with pytest.raises(ConfigurationError, match=r"unknown search options \['top_k'\]"):
        retriever.invoke(QUERY, top_k=2)


def test_retriever_attaches_images_as_base64(store: MultimodalStore, tmp_path: Path) -> None:
    bmp = tmp_path / "grey.bmp"
    Image.new("RGB", (20, 20), "grey").save(bmp)
    store.add_images([bmp, Image.new("RGB", (20, 20), "white")], metadatas=[{"caption": "grey"}, None])
    documents = SiglipImageRetriever(store=store, k=6, include_image_base64=True).invoke(QUERY)
    assert len(documents) == 6
    for doc in documents:
        uri = doc.metadata["uri"]
        if uri is None:  # added from a PIL image: nothing on disk to send
            assert "image_base64" not in doc.metadata
            assert doc.page_content == doc.id
        elif uri.endswith(".png"):
            assert base64.b64decode(doc.metadata["image_base64"]) == Path(uri).read_bytes()
            assert doc.metadata["image_mime_type"] == "image/png"
        else:  # BMP is not a chat-model format: sent as PNG
            assert base64.b64decode(doc.metadata["image_base64"]).startswith(b"\x89PNG")
            assert doc.metadata["image_mime_type"] == "image/png"
    assert len(image_content_blocks(documents)) == 5
    plain = SiglipImageRetriever(store=store).invoke(QUERY, include_image_base64=False, k=6)
    assert image_content_blocks(plain) == []


async def test_retriever_async_runs_off_the_event_loop(
    tiny_siglip_dir: Path, image_paths: list[str], tmp_path: Path
) -> None:
    encoder = RecordingEncoder(tiny_siglip_dir, device="cpu")
    store = MultimodalStore(tmp_path / "db", encoder=encoder)
    store.add_images(image_paths)
    encoder.calls.clear()
    retriever = SiglipImageRetriever(store=store, include_image_base64=True)
    documents = await retriever.ainvoke(QUERY, k=2)
    assert len(encoder.threads) == 1
    assert encoder.threads[0] != threading.get_ident()
    assert documents == retriever.invoke(QUERY, k=2)
    assert await retriever.ainvoke(QUERY, min_probability=1.0) == []


def _to_messages(documents: list[Document]) -> list[BaseMessage]:
    captions = "; ".join(doc.page_content for doc in documents)
    content: list[str | dict[str, Any]] = [{"type": "text", "text": f"Describe these images: {captions}"}]
    return [HumanMessage(content=[*content, *image_content_blocks(documents)])]


async def test_retriever_feeds_images_to_a_chat_model_in_an_lcel_chain(
    store: MultimodalStore,
) -> None:
    retriever = SiglipImageRetriever(store=store, k=2, include_image_base64=True)
    model = RecordingChatModel()
    chain = retriever | RunnableLambda(_to_messages) | model
    answer = chain.invoke(QUERY)
    assert answer.content == "ok"
    await chain.ainvoke(QUERY)
    expected = retriever.invoke(QUERY)
    assert len(model.received) == 2
    for messages in model.received:
        assert len(messages) == 1
        blocks = messages[0].content
        assert isinstance(blocks, list)
        text, *images = blocks
        assert isinstance(text, dict)
        assert text["text"].endswith("; ".join(doc.page_content for doc in expected))
        assert [block["type"] for block in images if isinstance(block, dict)] == ["image", "image"]
        for block, doc in zip(images, expected, strict=True):
            assert isinstance(block, dict)
            assert base64.b64decode(block["base64"]) == Path(doc.metadata["uri"]).read_bytes()
            assert block["mime_type"] == "image/png"
    short = retriever.bind(k=1) | RunnableLambda(_to_messages) | model
    short.invoke(QUERY)
    assert len(model.received[-1][0].content) == 2  # one text block, one image
