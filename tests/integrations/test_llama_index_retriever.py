"""SiglipImageNodeRetriever (integrations/llama_index/retriever.py): ImageNodes scored like the core
Retriever, text->image and image->image, async off the loop, and inside a LlamaIndex
RetrieverQueryEngine (MockLLM).

The tiny model is random: these tests check structure, ids and scores, not semantic rankings.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import ImageNode, NodeWithScore, QueryBundle
from PIL import Image

import siglip_retriever
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.integrations.llama_index import SiglipImageNodeRetriever
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store import MultimodalStore
from tests.helpers import RecordingEncoder, captioned_store, colour_pictures

COLOURS = ("red", "green", "blue", "yellow", "purple")
CAPTIONS = ["a red square", "un carré vert", "ein blaues Quadrat", "un cuadrado amarillo", "un viola"]
QUERY = "ein rotes Quadrat"


@pytest.fixture
def image_paths(tmp_path: Path) -> list[str]:
    return [str(path.resolve()) for path in colour_pictures(tmp_path, COLOURS, size=(32, 36), widen=4)]


@pytest.fixture
def store(tiny_encoder: SiglipEncoder, tmp_path: Path, image_paths: list[str]) -> MultimodalStore:
    """The five captioned pictures and a text."""
    return captioned_store(
        tmp_path / "db", tiny_encoder, image_paths, CAPTIONS, ["a caption that is not an image"]
    )


def _check_nodes(nodes: list[NodeWithScore], image_paths: list[str]) -> None:
    for hit in nodes:
        assert isinstance(hit, NodeWithScore)
        assert isinstance(hit.node, ImageNode)
        assert hit.node.image_path in image_paths
        assert hit.node.text == CAPTIONS[image_paths.index(hit.node.image_path or "")]


def test_text_query_gives_image_nodes_scored_by_probability(
    store: MultimodalStore, image_paths: list[str]
) -> None:
    nodes = SiglipImageNodeRetriever(store, k=3).retrieve(QUERY)
    core = Retriever(store).text_to_images(QUERY, k=3)
    assert [hit.node.node_id for hit in nodes] == [hit.id for hit in core]
    assert [hit.score for hit in nodes] == pytest.approx([hit.probability for hit in core], abs=1e-9)
    _check_nodes(nodes, image_paths)
    for hit, expected in zip(nodes, core, strict=True):
        assert hit.node.metadata["similarity"] == pytest.approx(expected.similarity, abs=1e-6)
        assert hit.node.metadata["probability"] == hit.score
    public = SiglipImageNodeRetriever(store, k=3).text_to_image_retrieve(QUERY)
    assert [hit.node.node_id for hit in public] == [hit.node.node_id for hit in nodes]


def test_image_query_gives_similar_images_scored_by_cosine(
    store: MultimodalStore, image_paths: list[str]
) -> None:
    retriever = SiglipImageNodeRetriever(store, k=2)
    nodes = retriever.retrieve(QueryBundle(query_str="", image_path=image_paths[0]))
    core = Retriever(store).image_to_images(image_paths[0], k=2)
    assert [hit.node.node_id for hit in nodes] == [hit.id for hit in core]
    assert [hit.score for hit in nodes] == pytest.approx([hit.similarity for hit in core], abs=1e-6)
    assert all(hit.node.metadata["probability"] is None for hit in nodes)
    assert image_paths[0] not in [hit.node.image_path for hit in nodes]  # the query itself is left out
    _check_nodes(nodes, image_paths)
    assert retriever.image_to_image_retrieve(image_paths[0]) == nodes
    keep_self = SiglipImageNodeRetriever(store, k=1, exclude_self=False)
    with_self = keep_self.image_to_image_retrieve(image_paths[0])
    assert with_self[0].node.image_path == image_paths[0]
    assert with_self[0].score == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ConfigurationError, match="image_path"):
        retriever.image_to_image_retrieve(QueryBundle(query_str="no image"))


def test_thresholds_and_filters(store: MultimodalStore) -> None:
    assert SiglipImageNodeRetriever(store, min_probability=1.0).retrieve(QUERY) == []
    assert SiglipImageNodeRetriever(store, min_probability=0.0).retrieve(QUERY) != []
    filtered = SiglipImageNodeRetriever(store, where={"caption": CAPTIONS[3]}).retrieve(QUERY)
    assert [hit.node.text for hit in filtered] == [CAPTIONS[3]]
    with pytest.raises(ConfigurationError):
        SiglipImageNodeRetriever(store, k=0)


async def test_async_runs_off_the_event_loop(
    tiny_siglip_dir: Path, tmp_path: Path, image_paths: list[str]
) -> None:
    encoder = RecordingEncoder(tiny_siglip_dir, device="cpu")
    store = captioned_store(tmp_path / "async-db", encoder, image_paths, CAPTIONS)
    encoder.calls.clear()
    retriever = SiglipImageNodeRetriever(store, k=2)
    text_nodes = await retriever.aretrieve(QUERY)
    image_nodes = await retriever.aretrieve(QueryBundle(query_str="", image_path=image_paths[1]))
    public_text = await retriever.atext_to_image_retrieve(QUERY)
    public_image = await retriever.aimage_to_image_retrieve(image_paths[1])
    assert len(encoder.threads) == 4
    assert threading.get_ident() not in encoder.threads
    assert text_nodes == public_text == retriever.retrieve(QUERY)
    assert image_nodes == public_image == retriever.image_to_image_retrieve(image_paths[1])


def test_in_a_query_engine(store: MultimodalStore, image_paths: list[str]) -> None:
    retriever = SiglipImageNodeRetriever(store, k=2)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = engine.query(QUERY)
    expected = retriever.retrieve(QUERY)
    assert [hit.node.node_id for hit in response.source_nodes] == [hit.node.node_id for hit in expected]
    _check_nodes(response.source_nodes, image_paths)
    # MockLLM answers with its prompt: the captions reached the LLM as context, file stats did not
    for hit in expected:
        assert hit.node.text in str(response)
    assert "mtime_ns" not in str(response)
    assert QUERY in str(response)


def test_package_exports_the_class_lazily() -> None:
    assert siglip_retriever.SiglipImageNodeRetriever is SiglipImageNodeRetriever


def test_pictures_without_files_or_captions_stay_distinct_nodes(tiny_encoder: SiglipEncoder) -> None:
    """llama-index-core up to 0.14.10 drops retrieved nodes with equal hashes, and hashes an
    ImageNode by its caption and file alone: the nodes' hashes must name the entries."""
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    pictures = [Image.new("RGB", (40, 40), colour) for colour in ("red", "green", "blue", "yellow")]
    store.add_images(pictures)  # from memory: no file, no caption
    nodes = SiglipImageNodeRetriever(store, k=4).retrieve("a picture")
    assert len(nodes) == 4
    assert len({node.node.hash for node in nodes}) == 4
    assert all(isinstance(node.node, ImageNode) and node.node.image_path is None for node in nodes)
