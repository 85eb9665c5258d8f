"""Searching video moments, on the video corpus (tests/videos.py) indexed with the bundled demo
model: each scene found by its words at the right time, a still of a scene found by its look, a
video's moments collapsed into its best one (``all_moments`` returns each), and the span in every
Python front-end (LangChain documents, LlamaIndex nodes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from llama_index.core.schema import QueryBundle

from siglip_retriever import (
    MultimodalStore,
    SiglipImageNodeRetriever,
    SiglipImageRetriever,
    SiglipVectorStore,
)
from siglip_retriever.search.retriever import Retriever
from tests.videos import Clip, VideoCorpus, scene_picture, write_video_corpus


@dataclass
class Indexed:
    corpus: VideoCorpus
    store: MultimodalStore
    retriever: Retriever


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    root = tmp_path_factory.mktemp("video-search")
    corpus = write_video_corpus(root / "videos")
    store = MultimodalStore(root / "db", model="demo")
    report = store.index_folder(corpus.folder, ocr="off")
    assert len(report.failed) == 3  # the fake, the undecodable and the truncated end
    yield Indexed(corpus, store, Retriever(store))
    store.close()


def _overlaps(start: float | None, end: float | None, scene_start: float, scene_end: float) -> bool:
    assert start is not None and end is not None
    return start < scene_end and scene_start < end


def _clips(corpus: VideoCorpus) -> list[tuple[Clip, int]]:
    return [(clip, n) for clip in corpus.shape_clips for n in range(len(clip.scenes))]


def test_each_scene_s_words_find_its_clip_at_that_time(indexed: Indexed) -> None:
    for clip, number in _clips(indexed.corpus):
        scene = clip.scenes[number]
        top = indexed.retriever.search_text(scene.caption, k=3)[0]
        assert top.uri == str(clip.path.resolve()), (scene, top.uri)
        assert top.entry_kind == "video" and top.kind == "image"
        assert _overlaps(top.start, top.end, scene.start, scene.end), (scene, top.start, top.end)


def test_a_still_of_a_scene_finds_that_scene(indexed: Indexed, tmp_path: Path) -> None:
    for clip, number in _clips(indexed.corpus):
        scene = clip.scenes[number]
        still = tmp_path / f"{clip.path.stem}-{number}.png"
        scene_picture(scene, clip.size, seed=number).save(still)  # the shot, as a photo of it
        top = indexed.retriever.search_image(still, k=3)[0]
        assert top.uri == str(clip.path.resolve()), (scene, top.uri)
        assert _overlaps(top.start, top.end, scene.start, scene.end), (scene, top.start, top.end)


def test_a_video_s_moments_collapse_into_its_best_one(indexed: Indexed) -> None:
    hits = indexed.retriever.search_text("a red circle", k=6)
    videos = [hit.uri for hit in hits if hit.entry_kind == "video"]
    assert len(videos) == len(set(videos)) == 5  # one hit per readable video (there are 5)
    best = hits[0]
    others = best.moments
    assert len(others) == len(indexed.corpus.h264.scenes) - 1  # the video's other moments, listed
    assert [moment["probability"] for moment in others] == sorted(
        (moment["probability"] for moment in others), reverse=True
    )
    assert all(moment["id"].startswith(best.id.rsplit("-m", 1)[0]) for moment in others)
    every = indexed.retriever.search_text("a red circle", k=6, all_moments=True)
    assert [hit.uri for hit in every].count(best.uri) > 1 and all(hit.moments == [] for hit in every)
    # an option like any other: as a default of the retriever, and in the JSON of a hit
    assert [
        hit.id for hit in Retriever(indexed.store, all_moments=True).search_text("a red circle", k=6)
    ] == [hit.id for hit in every]
    payload = best.to_dict()
    assert (
        payload["kind"] == "video"
        and payload["start"] == best.start
        and len(payload["moments"]) == len(others)
    )


def test_langchain_documents_carry_the_video_and_its_span(indexed: Indexed) -> None:
    clip, scene = indexed.corpus.h264, indexed.corpus.h264.scenes[1]
    for documents in (
        SiglipImageRetriever(store=indexed.store, k=2).invoke(scene.caption),
        SiglipVectorStore(indexed.store).similarity_search(scene.caption, k=2, kind="image"),
    ):
        top = documents[0]
        assert top.metadata["source"] == str(clip.path.resolve()) and top.metadata["kind"] == "video"
        assert _overlaps(top.metadata["start"], top.metadata["end"], scene.start, scene.end)
        assert top.metadata["frame"] >= top.metadata["start"]
        assert top.page_content.endswith(f"{clip.path.name} 0:03-0:06")
    with_picture = SiglipImageRetriever(store=indexed.store, k=1, include_image_base64=True).invoke(
        scene.caption
    )
    assert with_picture[0].metadata["image_mime_type"] == "image/png"  # the frame, not the video


def test_llama_index_nodes_carry_the_video_and_its_span(indexed: Indexed) -> None:
    clip, scene = indexed.corpus.vp9, indexed.corpus.vp9.scenes[2]
    node = SiglipImageNodeRetriever(indexed.store, k=1).retrieve(QueryBundle(scene.caption))[0].node
    assert node.metadata["source"] == str(clip.path.resolve()) and node.metadata["kind"] == "video"
    assert _overlaps(node.metadata["start"], node.metadata["end"], scene.start, scene.end)
    assert node.image and node.image_mimetype == "image/png"  # the frame travels with the node


def test_a_node_of_a_video_gone_from_disk_comes_back_without_its_picture(tmp_path: Path) -> None:
    from tests.videos import H264_SCENES, write_shape_clip

    clip = write_shape_clip(tmp_path / "videos" / "clip.mp4", H264_SCENES[:1])
    store = MultimodalStore.in_memory(model="demo")
    store.index_folder(clip.path.parent, ocr="off")
    clip.path.unlink()
    (found,) = SiglipImageNodeRetriever(store, k=1).retrieve(QueryBundle("a red circle"))
    assert found.node.metadata["start"] == 0.0 and not found.node.image
    assert "file not found" in found.node.metadata["image_error"]
