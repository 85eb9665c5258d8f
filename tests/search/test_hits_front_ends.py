"""Results carry no internal bookkeeping key (search/hits.py, store/metadata.py): a LangChain
document and a LlamaIndex node of a picture indexed from a folder show its facts and files, not
the store's own bookkeeping (``facts``, the JSON of ``paths``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from llama_index.core.schema import MetadataMode

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.integrations.langchain import SiglipImageRetriever, SiglipVectorStore
from siglip_retriever.integrations.llama_index import SiglipImageNodeRetriever
from siglip_retriever.store.metadata import FACTS, HEIGHT, INTERNAL_KEYS, MTIME, PATHS, PHASH, SIZE, WIDTH
from tests.helpers import photo_like


def _indexed(encoder: SiglipEncoder, tmp_path: Path) -> tuple[MultimodalStore, list[str]]:
    """A folder of two pictures, one of them in two files, indexed; the two files' paths."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo_like(1, (64, 48)).save(folder / "a.png")
    shutil.copy(folder / "a.png", folder / "b.png")
    photo_like(2, (48, 64)).save(folder / "c.png")
    store = MultimodalStore.in_memory(encoder=encoder)
    store.index_folder(folder)
    assert all(FACTS in item.metadata and PATHS in item.metadata for item in store.get())  # stored
    return store, [str((folder / name).resolve()) for name in ("a.png", "b.png")]


def _check(metadata: dict[str, Any], copies: list[str]) -> None:
    """What a result shows of an indexed picture: no internal key, its facts, its files as a list."""
    assert not INTERNAL_KEYS & (set(metadata) - {PATHS}), sorted(metadata)
    assert {MTIME, SIZE, PHASH, WIDTH, HEIGHT} <= set(metadata)
    assert isinstance(metadata[PATHS], list) and all(isinstance(path, str) for path in metadata[PATHS])
    if metadata["uri"] in copies:
        assert metadata[PATHS] == copies
    json.dumps(metadata)


def test_langchain_documents_carry_no_internal_key(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    store, copies = _indexed(tiny_encoder, tmp_path)
    documents = SiglipImageRetriever(store=store, k=2).invoke("a picture")
    documents += (
        SiglipVectorStore(store).as_retriever(search_kwargs={"kind": "image", "k": 2}).invoke("a photo")
    )
    assert len(documents) == 4
    for document in documents:
        _check(document.metadata, copies)
    by_id = SiglipVectorStore(store).get_by_ids([item.id for item in store.get()])  # no search
    assert len(by_id) == 2
    for document in by_id:
        _check({**document.metadata, "uri": document.metadata.get("uri")}, copies)


def test_llama_index_nodes_carry_no_internal_key(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    store, copies = _indexed(tiny_encoder, tmp_path)
    nodes = SiglipImageNodeRetriever(store, k=2).retrieve("a picture")
    assert len(nodes) == 2
    for node in nodes:
        _check(node.node.metadata, copies)
        shown_to_a_model = node.node.get_metadata_str(mode=MetadataMode.LLM)
        assert FACTS not in shown_to_a_model and MTIME not in shown_to_a_model


def test_hits_leave_internal_keys_out_of_both_forms(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    store, copies = _indexed(tiny_encoder, tmp_path)
    for hit in Retriever(store, k=2).text_to_images("a picture"):
        assert FACTS in hit.metadata  # the hit itself keeps what the store holds
        _check(hit.result_metadata(), copies)
        data = hit.to_dict()
        assert not INTERNAL_KEYS & set(data["metadata"]) and data["paths"] == hit.result_metadata()[PATHS]
    [item] = [item for item in store.get() if item.uri == copies[0]]
    assert item.result_metadata()[PATHS] == copies and FACTS not in item.result_metadata()
